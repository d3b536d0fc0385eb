//! Revocation across API servers: two `Identity` instances, each with its
//! own validation cache and its own connection pool, over one database (a
//! SQLite file, and a PostgreSQL database when configured). A change made
//! through one is in force on the other at once, caching on: there is no
//! revocation window.

mod common;

use axum::http::{Method, StatusCode};
use common::{ADMIN_PASSWORD, Harness, password_auth};
use neutrino_identity::Identity;
use neutrino_store::Db;
use serde_json::json;

/// Two servers over one database: `a` bootstrapped, `b` a fresh
/// connection to the same URL.
struct Pair {
    a: Harness,
    b: Identity,
    b_db: Db,
    _dir: Option<tempfile::TempDir>,
}

async fn pairs() -> Vec<Pair> {
    let dir = tempfile::tempdir().unwrap();
    let mut urls = vec![(
        format!("sqlite://{}", dir.path().join("id.db").display()),
        Some(dir),
    )];
    if let Some(url) = neutrino_testkit::postgres_database_or_skip()
        .await
        .expect("test PostgreSQL database")
    {
        urls.push((url, None));
    }
    let mut out = Vec::new();
    for (url, dir) in urls {
        let db = Db::connect(&url).await.expect("connect");
        db.migrate().await.expect("migrations");
        let a = Harness::new(db, common::config()).await;
        let b_db = Db::connect(&url).await.expect("second connection");
        let b = Identity::new(b_db.clone(), common::config());
        out.push(Pair {
            a,
            b,
            b_db,
            _dir: dir,
        });
    }
    out
}

impl Pair {
    async fn close(self) {
        self.b_db.close().await;
        self.a.db.close().await;
    }
}

/// Both servers accept `token` (and so have it cached).
async fn valid_on_both(p: &Pair, token: &str) {
    for _ in 0..2 {
        p.a.identity.validate(token).await.unwrap();
        p.b.validate(token).await.unwrap();
    }
}

async fn refused_on_both(p: &Pair, token: &str, what: &str) {
    let backend = p.a.backend;
    assert!(
        p.a.identity.validate(token).await.is_err(),
        "{what}: server A still accepts the token ({backend})"
    );
    assert!(
        p.b.validate(token).await.is_err(),
        "{what}: server B still accepts the token ({backend})"
    );
    // Keystone's own answer to the revoked token is a 401 too.
    let r =
        p.a.call_with(
            Method::GET,
            "/v3/auth/tokens",
            Some(&p.a.admin),
            None,
            &[("x-subject-token", token)],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{what}: {}", r.body);
}

/// The admin's password change (PATCH) and the self-service change (POST
/// .../password) each revoke every token of that user at once, on both
/// servers, in the same second the tokens were issued; the new password
/// works and other users' tokens survive.
#[tokio::test]
async fn password_change_revokes_on_every_server_at_once() {
    for p in pairs().await {
        let h = &p.a;
        let (user, _, old) = h.user_with_role("ivy", "member").await;
        let (_, _, bystander) = h.user_with_role("jack", "member").await;
        valid_on_both(&p, &old).await;
        valid_on_both(&p, &bystander).await;

        // Admin sets a new password.
        h.patch(
            &format!("/v3/users/{user}"),
            &h.admin,
            json!({"user": {"password": "second"}}),
        )
        .await
        .expect(StatusCode::OK);
        refused_on_both(&p, &old, "PATCH password").await;
        h.auth(password_auth("ivy", "pw", Some("ivy-project")))
            .await
            .expect(StatusCode::UNAUTHORIZED);
        let second = h.login("ivy", "second", "ivy-project").await;
        valid_on_both(&p, &second).await;

        // Self-service change through server B's router.
        let b = Harness {
            backend: h.backend,
            db: p.b_db.clone(),
            identity: p.b.clone(),
            router: p.b.router(),
            boot: h.boot.clone(),
            admin: h.admin.clone(),
        };
        b.call(
            Method::POST,
            &format!("/v3/users/{user}/password"),
            None,
            Some(json!({"user": {"original_password": "second", "password": "third"}})),
        )
        .await
        .expect(StatusCode::NO_CONTENT);
        refused_on_both(&p, &second, "self-service change").await;
        let third = h.login("ivy", "third", "ivy-project").await;
        valid_on_both(&p, &third).await;

        // Another user and the admin are not affected.
        valid_on_both(&p, &bystander).await;
        valid_on_both(&p, &h.admin).await;
        p.close().await;
    }
}

/// A token exchanged from one issued before the password change (token
/// method) is revoked with it, even though it was issued later.
#[tokio::test]
async fn rescoped_token_dies_with_its_origin() {
    for p in pairs().await {
        let h = &p.a;
        let (user, _, _) = h.user_with_role("kim", "member").await;
        let unscoped = h
            .auth(password_auth("kim", "pw", None))
            .await
            .subject_token();
        h.patch(
            &format!("/v3/users/{user}"),
            &h.admin,
            json!({"user": {"password": "new"}}),
        )
        .await
        .expect(StatusCode::OK);
        // The origin is refused, so nothing can be derived from it.
        let r = h
            .auth(json!({
                "identity": {"methods": ["token"], "token": {"id": unscoped}},
                "scope": {"project": {"name": "kim-project", "domain": {"id": "default"}}},
            }))
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", h.backend);
        p.close().await;
    }
}

/// Disabling a user revokes its tokens for good (as Keystone does):
/// enabling it again does not bring them back. Role removal, token
/// revocation and project disable made through one server are in force on
/// the other at once.
#[tokio::test]
async fn other_revocations_reach_every_server_at_once() {
    for p in pairs().await {
        let h = &p.a;
        let (user, project, token) = h.user_with_role("lou", "member").await;
        valid_on_both(&p, &token).await;
        for enabled in [false, true] {
            h.patch(
                &format!("/v3/users/{user}"),
                &h.admin,
                json!({"user": {"enabled": enabled}}),
            )
            .await
            .expect(StatusCode::OK);
            refused_on_both(&p, &token, &format!("enabled={enabled}")).await;
        }
        let token = h.login("lou", "pw", "lou-project").await;
        valid_on_both(&p, &token).await;

        // Role removal through B.
        let member = h.role_id("member").await;
        let b_router = p.b.router();
        let req = axum::http::Request::delete(format!(
            "/v3/projects/{project}/users/{user}/roles/{member}"
        ))
        .header("x-auth-token", &h.admin)
        .body(axum::body::Body::empty())
        .unwrap();
        let resp = tower::ServiceExt::oneshot(b_router, req).await.unwrap();
        assert_eq!(resp.status(), StatusCode::NO_CONTENT);
        refused_on_both(&p, &token, "role removed").await;

        // Explicit revocation (DELETE /v3/auth/tokens) through A.
        let (_, project, token) = h.user_with_role("max", "member").await;
        valid_on_both(&p, &token).await;
        h.call_with(
            Method::DELETE,
            "/v3/auth/tokens",
            Some(&h.admin),
            None,
            &[("x-subject-token", &token)],
        )
        .await
        .expect(StatusCode::NO_CONTENT);
        refused_on_both(&p, &token, "token revoked").await;

        // Project disabled.
        let token = h.login("max", "pw", "max-project").await;
        valid_on_both(&p, &token).await;
        h.patch(
            &format!("/v3/projects/{project}"),
            &h.admin,
            json!({"project": {"enabled": false}}),
        )
        .await
        .expect(StatusCode::OK);
        refused_on_both(&p, &token, "project disabled").await;

        valid_on_both(&p, &h.admin).await;
        let admin = h.login("admin", ADMIN_PASSWORD, "admin").await;
        valid_on_both(&p, &admin).await;
        p.close().await;
    }
}
