//! NUL bytes and invalid UTF-8 (issue 10, defect 4): Keystone's 400 body on
//! both backends, before anything reaches the store, and nothing stored.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::{ADMIN_PASSWORD, Harness, password_auth};
use serde_json::{Value, json};

on_every_backend!(
    nul_in_token_request_is_400_without_authentication,
    nul_in_admin_bodies_is_400_and_stores_nothing,
    nul_and_invalid_utf8_in_urls_are_400,
);

#[track_caller]
fn assert_bad_request(h: &Harness, what: &str, status: StatusCode, body: &Value) {
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "[{}] {what}: {body}",
        h.backend
    );
    assert_eq!(body["error"]["code"], 400, "[{}] {what}: {body}", h.backend);
    assert_eq!(
        body["error"]["title"], "Bad Request",
        "[{}] {what}: {body}",
        h.backend
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "[{}] {what}: {body}",
        h.backend
    );
}

async fn rows(h: &Harness, table: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) FROM {table}");
    neutrino_store::dispatch!(h.db.read(), c => sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql)).fetch_one(c).await)
        .expect("count")
}

async fn nul_in_token_request_is_400_without_authentication(h: &Harness) {
    let cases = [
        password_auth("ad\u{0}min", ADMIN_PASSWORD, Some("admin")),
        password_auth("admin", "pw\u{0}", Some("admin")),
        password_auth("admin", ADMIN_PASSWORD, Some("adm\u{0}in")),
        json!({"identity": {"methods": ["password"],
               "password": {"user": {"id": "\u{0}", "password": "x"}}}}),
        json!({"identity": {"methods": ["password"],
               "password": {"user": {"name": "admin", "domain": {"id": "def\u{0}ault"}, "password": "x"}}}}),
        json!({"identity": {"methods": ["token"], "token": {"id": "\u{0}"}}}),
    ];
    for auth in cases {
        let r = h.auth(auth.clone()).await;
        assert_bad_request(h, &auth.to_string(), r.status, &r.body);
    }
}

async fn nul_in_admin_bodies_is_400_and_stores_nothing(h: &Harness) {
    let tables = [
        "identity_users",
        "identity_projects",
        "identity_domains",
        "identity_roles",
    ];
    let mut before = Vec::new();
    for t in tables {
        before.push(rows(h, t).await);
    }
    let cases = [
        (
            "/v3/users",
            json!({"user": {"name": "u\u{0}", "password": "p", "domain_id": "default"}}),
        ),
        (
            "/v3/users",
            json!({"user": {"name": "u", "password": "p\u{0}", "domain_id": "default"}}),
        ),
        (
            "/v3/projects",
            json!({"project": {"name": "p\u{0}", "domain_id": "default"}}),
        ),
        (
            "/v3/projects",
            json!({"project": {"name": "p", "domain_id": "default", "tags": ["\u{0}"]}}),
        ),
        (
            "/v3/domains",
            json!({"domain": {"name": "d", "description": "\u{0}"}}),
        ),
        ("/v3/roles", json!({"role": {"name": "r\u{0}"}})),
    ];
    for (path, body) in cases {
        let r = h.post(path, &h.admin, body.clone()).await;
        assert_bad_request(h, &format!("POST {path} {body}"), r.status, &r.body);
    }
    let mut after = Vec::new();
    for t in tables {
        after.push(rows(h, t).await);
    }
    assert_eq!(
        after, before,
        "[{}] a refused request stored something",
        h.backend
    );
}

async fn nul_and_invalid_utf8_in_urls_are_400(h: &Harness) {
    for path in [
        "/v3/users/%00",
        "/v3/users/%ff",
        "/v3/projects/a%00b",
        "/v3/domains/%c3%28",
        "/v3/users?name=%00",
        "/v3/projects?name=%ff",
        "/v3/roles?name=a%00",
    ] {
        let req = Request::builder()
            .method(Method::GET)
            .uri(path)
            .header("x-auth-token", &h.admin)
            .body(Body::empty())
            .unwrap();
        let r = h.send(req).await;
        assert_bad_request(h, path, r.status, &r.body);
    }
}
