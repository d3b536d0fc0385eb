//! Issuing, validating, revoking and forging tokens.

mod common;

use axum::http::{Method, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{ADMIN_PASSWORD, Harness, IDENTITY_URL, password_auth, role_names};
use neutrino_identity::{Identity, IdentityConfig};
use serde_json::json;

on_every_backend!(
    discovery,
    password_auth_by_name_and_by_id,
    project_scope_by_id_and_domain_scope,
    unscoped_and_default_project_scope,
    wrong_password_and_missing_token_are_401,
    token_round_trip,
    revocation,
    forged_tokens_fail,
    assigned_role_shows_with_implied_roles,
    removed_role_or_deleted_user_invalidates_token,
    token_method_rescopes,
    password_change_revokes_tokens,
    only_owner_or_admin_may_validate,
    malformed_auth_requests,
    auth_listings,
);

async fn discovery(h: &Harness) {
    let r = h.call(Method::GET, "/", None, None).await;
    assert_eq!(r.status, StatusCode::MULTIPLE_CHOICES);
    let v = &r.body["versions"]["values"][0];
    assert_eq!(v["id"], "v3.14");
    assert_eq!(v["status"], "stable");
    assert_eq!(v["links"][0]["href"], "http://127.0.0.1:9696/identity/v3/");
    assert_eq!(
        v["media-types"][0]["type"],
        "application/vnd.openstack.identity-v3+json"
    );
    for path in ["/v3", "/v3/"] {
        let body = h
            .call(Method::GET, path, None, None)
            .await
            .expect(StatusCode::OK);
        assert_eq!(body["version"]["id"], "v3.14");
        assert_eq!(body["version"]["links"][0]["rel"], "self");
    }
    let r = h.get("/v3/no-such-thing", &h.admin).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body["error"]["title"], "Not Found");
}

async fn password_auth_by_name_and_by_id(h: &Harness) {
    let r = h
        .auth(password_auth("admin", ADMIN_PASSWORD, Some("admin")))
        .await;
    let token = r.subject_token();
    let body = r.expect(StatusCode::CREATED);
    let t = &body["token"];
    assert_eq!(t["methods"], json!(["password"]));
    assert_eq!(t["user"]["id"], h.boot.admin_user_id.as_str());
    assert_eq!(t["user"]["name"], "admin");
    assert_eq!(
        t["user"]["domain"],
        json!({"id": "default", "name": "Default"})
    );
    assert!(t["user"]["password_expires_at"].is_null());
    assert_eq!(t["project"]["id"], h.boot.admin_project_id.as_str());
    assert_eq!(t["project"]["domain"]["name"], "Default");
    assert_eq!(t["is_domain"], false);
    assert_eq!(t["audit_ids"].as_array().unwrap().len(), 1);
    assert!(t["expires_at"].as_str().unwrap().ends_with(".000000Z"));
    assert_eq!(role_names(&body), ["admin", "manager", "member", "reader"]);
    let types: Vec<&str> = t["catalog"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["identity", "network", "load-balancer"]);
    let net = &t["catalog"][1];
    assert_eq!(net["name"], "neutron");
    assert_eq!(net["endpoints"].as_array().unwrap().len(), 3);
    assert_eq!(net["endpoints"][0]["url"], "http://127.0.0.1:9696");
    assert_eq!(net["endpoints"][0]["region_id"], "RegionOne");

    let ctx = h.identity.validate(&token).await.unwrap();
    assert_eq!(ctx.user_name, "admin");
    assert_eq!(ctx.project_name.as_deref(), Some("admin"));
    assert!(ctx.is_admin() && ctx.can_write() && ctx.has_role("reader"));

    // By user id, with a domain given by id, and ?nocatalog.
    let auth = json!({
        "identity": {"methods": ["password"],
                     "password": {"user": {"id": h.boot.admin_user_id, "password": ADMIN_PASSWORD}}},
        "scope": {"project": {"name": "admin", "domain": {"id": "default"}}},
    });
    let r = h
        .call(
            Method::POST,
            "/v3/auth/tokens?nocatalog",
            None,
            Some(json!({"auth": auth})),
        )
        .await;
    let body = r.expect(StatusCode::CREATED);
    assert!(body["token"].get("catalog").is_none());
    assert_eq!(
        body["token"]["project"]["id"],
        h.boot.admin_project_id.as_str()
    );
}

async fn project_scope_by_id_and_domain_scope(h: &Harness) {
    let (user, project, _) = h.user_with_role("alice", "member").await;
    let auth = json!({
        "identity": {"methods": ["password"],
                     "password": {"user": {"name": "alice", "domain": {"id": "default"}, "password": "pw"}}},
        "scope": {"project": {"id": project}},
    });
    let r = h.auth(auth).await;
    let token = r.subject_token();
    let body = r.expect(StatusCode::CREATED);
    assert_eq!(role_names(&body), ["member", "reader"]);
    let ctx = h.identity.validate(&token).await.unwrap();
    assert_eq!(ctx.project_id.as_deref(), Some(project.as_str()));
    assert!(!ctx.is_admin() && ctx.can_write());

    // Domain scope needs a role on the domain.
    let domain_auth = json!({
        "identity": {"methods": ["password"],
                     "password": {"user": {"id": user, "password": "pw"}}},
        "scope": {"domain": {"name": "Default"}},
    });
    h.auth(domain_auth.clone())
        .await
        .expect(StatusCode::UNAUTHORIZED);
    let reader = h.role_id("reader").await;
    h.put(
        &format!("/v3/domains/default/users/{user}/roles/{reader}"),
        &h.admin,
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    let r = h.auth(domain_auth).await;
    let token = r.subject_token();
    let body = r.expect(StatusCode::CREATED);
    assert_eq!(
        body["token"]["domain"],
        json!({"id": "default", "name": "Default"})
    );
    assert!(body["token"].get("project").is_none());
    assert_eq!(role_names(&body), ["reader"]);
    let ctx = h.identity.validate(&token).await.unwrap();
    assert_eq!(ctx.domain_id.as_deref(), Some("default"));
    assert_eq!(ctx.project_id, None);
    assert!(!ctx.can_write());

    // A project the user has no role on.
    let other = h.create_project("not-alices").await;
    let auth = json!({
        "identity": {"methods": ["password"], "password": {"user": {"id": user, "password": "pw"}}},
        "scope": {"project": {"id": other}},
    });
    h.auth(auth).await.expect(StatusCode::UNAUTHORIZED);
}

async fn unscoped_and_default_project_scope(h: &Harness) {
    let (user, project, _) = h.user_with_role("bob", "member").await;
    let mut auth = password_auth("bob", "pw", None);
    let body = h.auth(auth.clone()).await.expect(StatusCode::CREATED);
    for key in ["project", "domain", "roles", "catalog"] {
        assert!(body["token"].get(key).is_none(), "unscoped token has {key}");
    }
    // With a default project, a request without scope gets that project...
    h.patch(
        &format!("/v3/users/{user}"),
        &h.admin,
        json!({"user": {"default_project_id": project}}),
    )
    .await
    .expect(StatusCode::OK);
    let body = h.auth(auth.clone()).await.expect(StatusCode::CREATED);
    assert_eq!(body["token"]["project"]["id"], project.as_str());
    // ...unless it explicitly asks for an unscoped token.
    auth["scope"] = json!("unscoped");
    let body = h.auth(auth).await.expect(StatusCode::CREATED);
    assert!(body["token"].get("project").is_none());
}

async fn wrong_password_and_missing_token_are_401(h: &Harness) {
    for auth in [
        password_auth("admin", "wrong", Some("admin")),
        password_auth("nobody", ADMIN_PASSWORD, Some("admin")),
    ] {
        let r = h.auth(auth).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            r.headers["www-authenticate"],
            format!("Keystone uri=\"{IDENTITY_URL}\"").as_str()
        );
        assert_eq!(r.body["error"]["code"], 401);
        assert_eq!(r.body["error"]["title"], "Unauthorized");
        assert!(r.headers.get("x-subject-token").is_none());
    }
    let r = h.call(Method::GET, "/v3/users", None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.headers.contains_key("www-authenticate"));
    let r = h.get("/v3/users", "garbage").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // Disabled users cannot log in.
    let user = h.create_user("carol", "pw").await;
    h.patch(
        &format!("/v3/users/{user}"),
        &h.admin,
        json!({"user": {"enabled": false}}),
    )
    .await
    .expect(StatusCode::OK);
    h.auth(password_auth("carol", "pw", None))
        .await
        .expect(StatusCode::UNAUTHORIZED);
    // Unsupported methods.
    let auth = json!({"identity": {"methods": ["totp"], "totp": {}}});
    h.auth(auth).await.expect(StatusCode::UNAUTHORIZED);
}

async fn token_round_trip(h: &Harness) {
    let r = h
        .auth(password_auth("admin", ADMIN_PASSWORD, Some("admin")))
        .await;
    let token = r.subject_token();
    let issued = r.expect(StatusCode::CREATED);
    let r = h
        .call_with(
            Method::GET,
            "/v3/auth/tokens",
            Some(&h.admin),
            None,
            &[("x-subject-token", &token)],
        )
        .await;
    assert_eq!(r.subject_token(), token);
    let validated = r.expect(StatusCode::OK);
    assert_eq!(validated, issued);
    let r = h
        .call_with(
            Method::HEAD,
            "/v3/auth/tokens",
            Some(&h.admin),
            None,
            &[("x-subject-token", &token)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.is_null());
    // The subject validating itself.
    h.call_with(
        Method::GET,
        "/v3/auth/tokens",
        Some(&token),
        None,
        &[("x-subject-token", &token)],
    )
    .await
    .expect(StatusCode::OK);
    // Unknown subject: 404.
    let r = h
        .call_with(
            Method::HEAD,
            "/v3/auth/tokens",
            Some(&h.admin),
            None,
            &[("x-subject-token", "nope")],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = h
        .call_with(
            Method::GET,
            "/v3/auth/tokens",
            Some(&h.admin),
            None,
            &[("x-subject-token", "nope")],
        )
        .await;
    assert_eq!(r.body["error"]["code"], 404);

    // Another server with the same secret accepts the token; one with
    // another secret does not.
    let twin = Identity::new(h.db.clone(), common::config());
    assert_eq!(
        twin.validate(&token).await.unwrap().user_id,
        h.boot.admin_user_id
    );
    let stranger = Identity::new(
        h.db.clone(),
        IdentityConfig {
            token_secret: b"another".to_vec(),
            ..common::config()
        },
    );
    assert!(stranger.validate(&token).await.is_err());
}

async fn revocation(h: &Harness) {
    let token = h.login("admin", ADMIN_PASSWORD, "admin").await;
    h.identity.validate(&token).await.unwrap();
    let r = h
        .call_with(
            Method::DELETE,
            "/v3/auth/tokens",
            Some(&h.admin),
            None,
            &[("x-subject-token", &token)],
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(h.identity.validate(&token).await.is_err());
    let r = h
        .call_with(
            Method::GET,
            "/v3/auth/tokens",
            Some(&h.admin),
            None,
            &[("x-subject-token", &token)],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    h.get("/v3/users", &token)
        .await
        .expect(StatusCode::UNAUTHORIZED);
    // Other tokens of the same user are unaffected.
    h.identity.validate(&h.admin).await.unwrap();
    // A server that had not cached the token sees the revocation too.
    let twin = Identity::new(h.db.clone(), common::config());
    assert!(twin.validate(&token).await.is_err());
    // Pruning keeps unexpired revocations.
    assert_eq!(h.identity.prune_revocations().await.unwrap(), 0);
    assert!(twin.validate(&token).await.is_err());
}

async fn forged_tokens_fail(h: &Harness) {
    let token = h.login("admin", ADMIN_PASSWORD, "admin").await;
    let raw = URL_SAFE_NO_PAD.decode(&token).unwrap();
    for i in [0, 10, raw.len() / 2, raw.len() - 1] {
        let mut forged = raw.clone();
        forged[i] ^= 0x01;
        let forged = URL_SAFE_NO_PAD.encode(&forged);
        assert!(
            h.identity.validate(&forged).await.is_err(),
            "flipped byte {i} accepted"
        );
        h.get("/v3/users", &forged)
            .await
            .expect(StatusCode::UNAUTHORIZED);
    }
    // A payload rewritten to another user, re-signed with a guessed key.
    let mut chars: Vec<char> = token.chars().collect();
    let last = chars.len() - 1;
    chars[last] = if chars[last] == 'A' { 'B' } else { 'A' };
    let tampered: String = chars.into_iter().collect();
    assert!(h.identity.validate(&tampered).await.is_err());
    assert!(h.identity.validate("").await.is_err());
    assert!(
        h.identity
            .validate(&token[..token.len() - 1])
            .await
            .is_err()
    );
}

async fn assigned_role_shows_with_implied_roles(h: &Harness) {
    let project = h.create_project("p-roles").await;
    let user = h.create_user("dave", "pw").await;
    h.auth(password_auth("dave", "pw", Some("p-roles")))
        .await
        .expect(StatusCode::UNAUTHORIZED);
    h.grant(&project, &user, "member").await;
    let body = h
        .auth(password_auth("dave", "pw", Some("p-roles")))
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(role_names(&body), ["member", "reader"]);
    h.grant(&project, &user, "admin").await;
    let r = h.auth(password_auth("dave", "pw", Some("p-roles"))).await;
    let token = r.subject_token();
    let body = r.expect(StatusCode::CREATED);
    assert_eq!(role_names(&body), ["admin", "manager", "member", "reader"]);
    // Assigned roles come first, implied ones after, none twice.
    let ctx = h.identity.validate(&token).await.unwrap();
    assert_eq!(&ctx.roles[..2], ["admin", "member"]);
    assert_eq!(ctx.roles.len(), 4);
    // A custom role with its own implication.
    let r = h
        .post("/v3/roles", &h.admin, json!({"role": {"name": "auditor"}}))
        .await
        .expect(StatusCode::CREATED);
    let auditor = r["role"]["id"].as_str().unwrap().to_owned();
    let reader = h.role_id("reader").await;
    h.put(&format!("/v3/roles/{auditor}/implies/{reader}"), &h.admin)
        .await
        .expect(StatusCode::CREATED);
    let (_, _, token) = h.user_with_role("erin", "auditor").await;
    let ctx = h.identity.validate(&token).await.unwrap();
    assert_eq!(ctx.roles, ["auditor", "reader"]);
}

async fn removed_role_or_deleted_user_invalidates_token(h: &Harness) {
    let (user, project, token) = h.user_with_role("frank", "member").await;
    assert!(h.identity.validate(&token).await.unwrap().can_write());
    let member = h.role_id("member").await;
    h.delete(
        &format!("/v3/projects/{project}/users/{user}/roles/{member}"),
        &h.admin,
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    // No role left on the project: the token is no longer valid.
    assert!(h.identity.validate(&token).await.is_err());

    let (user, _, token) = h.user_with_role("grace", "reader").await;
    h.identity.validate(&token).await.unwrap();
    h.delete(&format!("/v3/users/{user}"), &h.admin)
        .await
        .expect(StatusCode::NO_CONTENT);
    assert!(h.identity.validate(&token).await.is_err());

    let (_, project, token) = h.user_with_role("heidi", "member").await;
    h.identity.validate(&token).await.unwrap();
    h.delete(&format!("/v3/projects/{project}"), &h.admin)
        .await
        .expect(StatusCode::NO_CONTENT);
    assert!(h.identity.validate(&token).await.is_err());
}

async fn token_method_rescopes(h: &Harness) {
    let unscoped = h.auth(password_auth("admin", ADMIN_PASSWORD, None)).await;
    let first = unscoped.subject_token();
    let first_body = unscoped.expect(StatusCode::CREATED);
    let auth = json!({
        "identity": {"methods": ["token"], "token": {"id": first}},
        "scope": {"project": {"id": h.boot.admin_project_id}},
    });
    let r = h.auth(auth).await;
    let second = r.subject_token();
    let body = r.expect(StatusCode::CREATED);
    assert_eq!(body["token"]["methods"], json!(["token"]));
    assert_eq!(body["token"]["project"]["name"], "admin");
    assert_eq!(
        body["token"]["expires_at"],
        first_body["token"]["expires_at"]
    );
    let audit = body["token"]["audit_ids"].as_array().unwrap();
    assert_eq!(audit.len(), 2);
    assert_eq!(audit[1], first_body["token"]["audit_ids"][0]);
    // Revoking the original revokes what was derived from it.
    h.call_with(
        Method::DELETE,
        "/v3/auth/tokens",
        Some(&h.admin),
        None,
        &[("x-subject-token", &first)],
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    assert!(h.identity.validate(&second).await.is_err());
}

async fn password_change_revokes_tokens(h: &Harness) {
    let (user, _, token) = h.user_with_role("ivan", "member").await;
    // Self-service change needs the original password.
    let r = h
        .call(
            Method::POST,
            &format!("/v3/users/{user}/password"),
            None,
            Some(json!({"user": {"original_password": "bad", "password": "new-pw"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    h.identity.validate(&token).await.unwrap();
    // No sleep: a change in the second the token was issued revokes it.
    let r = h
        .call(
            Method::POST,
            &format!("/v3/users/{user}/password"),
            None,
            Some(json!({"user": {"original_password": "pw", "password": "new-pw"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(h.identity.validate(&token).await.is_err());
    h.auth(password_auth("ivan", "pw", Some("ivan-project")))
        .await
        .expect(StatusCode::UNAUTHORIZED);
    let token = h.login("ivan", "new-pw", "ivan-project").await;
    h.identity.validate(&token).await.unwrap();
}

async fn only_owner_or_admin_may_validate(h: &Harness) {
    let (_, _, alice) = h.user_with_role("judy", "member").await;
    let (_, _, bob) = h.user_with_role("mallory", "member").await;
    let r = h
        .call_with(
            Method::GET,
            "/v3/auth/tokens",
            Some(&bob),
            None,
            &[("x-subject-token", &alice)],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = h
        .call_with(
            Method::DELETE,
            "/v3/auth/tokens",
            Some(&bob),
            None,
            &[("x-subject-token", &alice)],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    h.identity.validate(&alice).await.unwrap();
    // Users may revoke their own tokens.
    let r = h
        .call_with(
            Method::DELETE,
            "/v3/auth/tokens",
            Some(&alice),
            None,
            &[("x-subject-token", &alice)],
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(h.identity.validate(&alice).await.is_err());
}

async fn malformed_auth_requests(h: &Harness) {
    let r = h
        .send(
            axum::http::Request::post("/v3/auth/tokens")
                .header("content-type", "application/json")
                .body(axum::body::Body::from("{not json"))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["error"]["title"], "Bad Request");
    h.call(Method::POST, "/v3/auth/tokens", None, Some(json!({})))
        .await
        .expect(StatusCode::BAD_REQUEST);
    // A user name needs a domain.
    let auth = json!({"identity": {"methods": ["password"],
                                   "password": {"user": {"name": "admin", "password": ADMIN_PASSWORD}}}});
    h.auth(auth).await.expect(StatusCode::BAD_REQUEST);
    let auth = json!({"identity": {"methods": []}});
    h.auth(auth).await.expect(StatusCode::BAD_REQUEST);
}

async fn auth_listings(h: &Harness) {
    let (_, project, token) = h.user_with_role("kim", "member").await;
    let body = h
        .get("/v3/auth/projects", &token)
        .await
        .expect(StatusCode::OK);
    let ids: Vec<&str> = body["projects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [project.as_str()]);
    assert!(
        body["links"]["self"]
            .as_str()
            .unwrap()
            .ends_with("/identity/v3/auth/projects")
    );
    let body = h
        .get("/v3/auth/domains", &token)
        .await
        .expect(StatusCode::OK);
    assert_eq!(body["domains"], json!([]));
    let body = h
        .get("/v3/auth/catalog", &token)
        .await
        .expect(StatusCode::OK);
    assert_eq!(body["catalog"].as_array().unwrap().len(), 3);
    let body = h
        .get("/v3/auth/system", &h.admin)
        .await
        .expect(StatusCode::OK);
    assert_eq!(body["system"], json!([{"all": true}]));
}

#[tokio::test]
async fn expiry() {
    // Expiry has whole-second precision, so a 1 s lifetime issued late in
    // a second can be over before the first check: 2 s leaves at least 1.
    let config = IdentityConfig {
        token_ttl_secs: 2,
        ..common::config()
    };
    for h in common::harnesses_with(config).await {
        let token = h.login("admin", ADMIN_PASSWORD, "admin").await;
        let ctx = h.identity.validate(&token).await.unwrap();
        assert!(ctx.expires_at.ends_with(".000000Z"));
        tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
        // Cached or not, an expired token is refused.
        assert!(h.identity.validate(&token).await.is_err(), "{}", h.backend);
        let r = h
            .call_with(
                Method::GET,
                "/v3/auth/tokens",
                Some(&token),
                None,
                &[("x-subject-token", &token)],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        h.db.close().await;
    }
}

/// A change made through another server is seen here at the next
/// validation, although this server has the token cached: the cache is
/// only trusted while the database's `identity_epoch` is unchanged.
#[tokio::test]
async fn no_cache_window_across_servers() {
    let config = IdentityConfig {
        cache_ttl_secs: 3600,
        ..common::config()
    };
    for h in common::harnesses_with(config.clone()).await {
        let (user, project, token) = h.user_with_role("lee", "member").await;
        assert!(h.identity.validate(&token).await.unwrap().can_write());
        let other = Identity::new(h.db.clone(), config.clone());
        let other_router = other.router();
        let member = h.role_id("member").await;
        let req = axum::http::Request::delete(format!(
            "/v3/projects/{project}/users/{user}/roles/{member}"
        ))
        .header("x-auth-token", &h.admin)
        .body(axum::body::Body::empty())
        .unwrap();
        let resp = tower::ServiceExt::oneshot(other_router, req).await.unwrap();
        assert_eq!(resp.status(), StatusCode::NO_CONTENT);
        assert!(other.validate(&token).await.is_err());
        assert!(h.identity.validate(&token).await.is_err(), "{}", h.backend);
        h.db.close().await;
    }
}

#[tokio::test]
async fn bootstrap_is_idempotent_and_updates_the_password() {
    for db in common::databases().await {
        let h = Harness::new(db, common::config()).await;
        assert!(h.boot.created_admin);
        let params = neutrino_identity::BootstrapParams {
            admin_password: ADMIN_PASSWORD.into(),
            ..Default::default()
        };
        let again = h.identity.bootstrap(&params).await.unwrap();
        assert!(!again.created_admin);
        assert_eq!(again.admin_user_id, h.boot.admin_user_id);
        assert_eq!(again.admin_project_id, h.boot.admin_project_id);
        assert_eq!(again.service_project_id, h.boot.service_project_id);
        assert_eq!(again.member_role_id, h.boot.member_role_id);
        // Same password: existing tokens survive.
        h.identity.validate(&h.admin).await.unwrap();
        let body = h.get("/v3/roles", &h.admin).await.expect(StatusCode::OK);
        let mut names: Vec<&str> = body["roles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        names.sort();
        assert!(
            names.starts_with(&["admin", "load-balancer_admin"]),
            "{names:?}"
        );
        for n in ["member", "reader", "manager", "service"] {
            assert_eq!(
                names.iter().filter(|x| **x == n).count(),
                1,
                "{n} in {names:?}"
            );
        }
        let body = h
            .get("/v3/projects?name=service", &h.admin)
            .await
            .expect(StatusCode::OK);
        assert_eq!(
            body["projects"][0]["id"],
            h.boot.service_project_id.as_str()
        );

        let params = neutrino_identity::BootstrapParams {
            admin_password: "changed".into(),
            ..Default::default()
        };
        h.identity.bootstrap(&params).await.unwrap();
        assert!(
            h.identity
                .issue_token_for_tests("admin", ADMIN_PASSWORD, "admin")
                .await
                .is_err()
        );
        assert!(h.identity.validate(&h.admin).await.is_err());
        let token = h
            .identity
            .issue_token_for_tests("admin", "changed", "admin")
            .await
            .unwrap();
        assert!(h.identity.validate(&token).await.unwrap().is_admin());
        h.db.close().await;
    }
}

/// The network API serves Keystone under a prefix on its own port.
#[tokio::test]
async fn works_nested_under_a_prefix() {
    use tower::ServiceExt;
    let db = common::databases().await.remove(0);
    let h = Harness::new(db, common::config()).await;
    let app = axum::Router::new().nest("/identity", h.identity.router());
    let send = |req: axum::http::Request<axum::body::Body>| {
        let app = app.clone();
        async move {
            let resp = app.oneshot(req).await.unwrap();
            let status = resp.status();
            let headers = resp.headers().clone();
            let bytes = http_body_util::BodyExt::collect(resp.into_body())
                .await
                .unwrap()
                .to_bytes();
            (
                status,
                headers,
                serde_json::from_slice::<serde_json::Value>(&bytes).unwrap_or_default(),
            )
        }
    };
    let get = |path: &str| {
        axum::http::Request::get(path)
            .body(axum::body::Body::empty())
            .unwrap()
    };
    let (status, _, body) = send(get("/identity")).await;
    assert_eq!(status, StatusCode::MULTIPLE_CHOICES);
    assert_eq!(
        body["versions"]["values"][0]["links"][0]["href"],
        "http://127.0.0.1:9696/identity/v3/"
    );
    let (status, _, _) = send(get("/identity/v3/")).await;
    assert_eq!(status, StatusCode::OK);
    let req = axum::http::Request::post("/identity/v3/auth/tokens")
        .body(axum::body::Body::from(
            json!({"auth": password_auth("admin", ADMIN_PASSWORD, Some("admin"))}).to_string(),
        ))
        .unwrap();
    let (status, headers, _) = send(req).await;
    assert_eq!(status, StatusCode::CREATED);
    let token = headers["x-subject-token"].to_str().unwrap().to_owned();
    let req = axum::http::Request::get("/identity/v3/projects?name=admin")
        .header("x-auth-token", &token)
        .body(axum::body::Body::empty())
        .unwrap();
    let (status, _, body) = send(req).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["links"]["self"],
        "http://127.0.0.1:9696/identity/v3/projects?name=admin"
    );
    let (status, headers, _) = send(get("/identity/v3/users")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(headers.contains_key("www-authenticate"));
    let (status, _, body) = send(get("/identity/v3/nothing-here")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], 404);
    h.db.close().await;
}
