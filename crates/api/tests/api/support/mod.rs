//! An in-process cloud for API tests: the real identity service and
//! Network API over a real SQLite file or a real PostgreSQL database.

#![allow(dead_code)]

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use neutrino_api::{AppState, NetworkConfig, network_router};
use neutrino_identity::{BootstrapParams, CatalogConfig, Identity, IdentityConfig};
use neutrino_store::Db;
use serde_json::{Value, json};
use tower::ServiceExt;

pub struct Cloud {
    pub backend: &'static str,
    pub app: Router,
    pub identity_app: Router,
    pub identity: Identity,
    pub db: Db,
    /// Tokens: cloud admin, two members of different projects, a reader in alice's project.
    pub admin: String,
    pub alice: String,
    pub bob: String,
    pub reader: String,
    pub alice_project: String,
    pub bob_project: String,
    /// Where the database lives, for starting a second API server on it.
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

const SECRET: &[u8] = b"test-secret-test-secret-test-sec";

fn identity_for(db: Db) -> Identity {
    Identity::new(
        db,
        IdentityConfig::new(
            SECRET.to_vec(),
            CatalogConfig {
                region: "RegionOne".into(),
                identity_url: "http://127.0.0.1:5000/v3".into(),
                network_url: "http://127.0.0.1:9696/".into(),
                load_balancer_url: None,
                key_manager_url: None,
                infra_url: None,
            },
        ),
    )
}

pub fn config() -> NetworkConfig {
    NetworkConfig {
        vlan_ranges: vec![("physnet1".into(), 100, 199)],
        tunnel_id_range: (1, 1000),
        ..NetworkConfig::default()
    }
}

async fn build(
    db: Db,
    url: String,
    backend: &'static str,
    dir: Option<tempfile::TempDir>,
    cfg: NetworkConfig,
) -> Cloud {
    db.migrate().await.expect("migrations apply");
    let identity = identity_for(db.clone());
    identity
        .bootstrap(&BootstrapParams {
            admin_password: "secret".into(),
            ..BootstrapParams::default()
        })
        .await
        .expect("bootstrap");
    let admin = identity
        .issue_token_for_tests("admin", "secret", "admin")
        .await
        .expect("admin token");
    let identity_app = identity.router();
    let mut cloud = Cloud {
        backend,
        app: network_router(AppState::new(db.clone(), identity.clone(), cfg)),
        identity_app,
        identity,
        db,
        admin,
        alice: String::new(),
        bob: String::new(),
        reader: String::new(),
        alice_project: String::new(),
        bob_project: String::new(),
        url,
        _dir: dir,
    };
    cloud.alice_project = cloud.add_user("alice", "alpha", "member", None).await;
    cloud.bob_project = cloud.add_user("bob", "beta", "member", None).await;
    let alpha = cloud.alice_project.clone();
    cloud.add_user("rita", "alpha", "reader", Some(alpha)).await;
    cloud.alice = cloud
        .identity
        .issue_token_for_tests("alice", "pw-alice", "alpha")
        .await
        .expect("alice token");
    cloud.bob = cloud
        .identity
        .issue_token_for_tests("bob", "pw-bob", "beta")
        .await
        .expect("bob token");
    cloud.reader = cloud
        .identity
        .issue_token_for_tests("rita", "pw-rita", "alpha")
        .await
        .expect("reader token");
    cloud
}

pub async fn sqlite_with(cfg: NetworkConfig) -> Cloud {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = neutrino_testkit::sqlite_url(dir.path());
    let db = Db::connect(&url).await.expect("sqlite");
    build(db, url, "sqlite", Some(dir), cfg).await
}

pub async fn postgres_with(cfg: NetworkConfig) -> Option<Cloud> {
    let url = neutrino_testkit::postgres_database_or_skip()
        .await
        .expect("postgres configured but unusable")?;
    let db = Db::connect(&url).await.expect("postgres");
    Some(build(db, url, "postgres", None, cfg).await)
}

/// The same cloud on every backend available to this run.
pub async fn backends() -> Vec<Cloud> {
    backends_with(config()).await
}

pub async fn backends_with(cfg: NetworkConfig) -> Vec<Cloud> {
    let mut out = vec![sqlite_with(cfg.clone()).await];
    if let Some(pg) = postgres_with(cfg).await {
        out.push(pg);
    }
    out
}

pub async fn send(app: &Router, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Value) {
    let resp = app.clone().oneshot(req).await.expect("router never fails");
    let status = resp.status();
    let headers = resp.headers().clone();
    (status, headers, json_body(resp).await)
}

/// A response's body as JSON; a body that is not JSON as `{"raw": text}`.
pub async fn json_body(resp: axum::response::Response) -> Value {
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .expect("body");
    if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| json!({"raw": String::from_utf8_lossy(&bytes)}))
    }
}

pub fn request(
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Request<Body> {
    let mut b = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "127.0.0.1:9696");
    if let Some(t) = token {
        b = b.header("x-auth-token", t);
    }
    match body {
        Some(v) => b
            .header("content-type", "application/json")
            .body(Body::from(v.to_string()))
            .expect("request"),
        None => b.body(Body::empty()).expect("request"),
    }
}

impl Cloud {
    /// Another API server over the same database (its own pools), as a
    /// second replica of `neutrino serve` would be.
    pub async fn replica(&self) -> Router {
        let db = Db::connect(&self.url).await.expect("second connection");
        let identity = identity_for(db.clone());
        network_router(AppState::new(db, identity, config()))
    }

    /// Calls the Network API.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let (s, _, b) = send(&self.app, request(method, path, Some(token), body)).await;
        (s.as_u16(), b)
    }

    pub async fn identity_call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let (s, _, b) = send(
            &self.identity_app,
            request(method, path, Some(&self.admin), body),
        )
        .await;
        (s.as_u16(), b)
    }

    /// Creates a user with a role in a project (created if needed); returns the project id.
    pub async fn add_user(
        &self,
        user: &str,
        project: &str,
        role: &str,
        project_id: Option<String>,
    ) -> String {
        let project_id = match project_id {
            Some(p) => p,
            None => {
                let (s, b) = self
                    .identity_call(
                        "POST",
                        "/v3/projects",
                        Some(json!({"project": {"name": project, "domain_id": "default"}})),
                    )
                    .await;
                assert_eq!(s, 201, "create project: {b}");
                b["project"]["id"].as_str().expect("project id").to_string()
            }
        };
        let (s, b) = self
            .identity_call(
                "POST",
                "/v3/users",
                Some(json!({"user": {"name": user, "password": format!("pw-{user}"), "domain_id": "default"}})),
            )
            .await;
        assert_eq!(s, 201, "create user: {b}");
        let user_id = b["user"]["id"].as_str().expect("user id").to_string();
        let (_, roles) = self
            .identity_call("GET", &format!("/v3/roles?name={role}"), None)
            .await;
        let role_id = roles["roles"][0]["id"]
            .as_str()
            .expect("role exists")
            .to_string();
        let (s, b) = self
            .identity_call(
                "PUT",
                &format!("/v3/projects/{project_id}/users/{user_id}/roles/{role_id}"),
                None,
            )
            .await;
        assert_eq!(s, 204, "assign role: {b}");
        project_id
    }

    /// POSTs and returns the created object, asserting 201.
    pub async fn create(&self, token: &str, resource: &str, body: Value) -> Value {
        let (s, b) = self
            .call(
                "POST",
                &format!("/v2.0/{resource}s"),
                token,
                Some(json!({resource: body})),
            )
            .await;
        assert_eq!(s, 201, "[{}] create {resource} failed: {b}", self.backend);
        b[resource].clone()
    }

    pub async fn network(&self, token: &str, name: &str) -> Value {
        self.create(token, "network", json!({"name": name})).await
    }

    pub async fn subnet(&self, token: &str, net: &Value, cidr: &str, extra: Value) -> Value {
        let mut body = json!({"network_id": net["id"], "cidr": cidr, "ip_version": if cidr.contains(':') { 6 } else { 4 }});
        if let Value::Object(m) = extra {
            for (k, v) in m {
                body[k] = v;
            }
        }
        self.create(token, "subnet", body).await
    }

    /// Rows in a table, to prove a rejected request stored nothing.
    pub async fn count(&self, table: &str) -> i64 {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        neutrino_store::dispatch!(self.db.read(), c => sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql)).fetch_one(c).await)
            .expect("count")
    }
}

/// Asserts a NeutronError body of the given status and type.
pub fn assert_error(status: u16, body: &Value, want_status: u16, want_type: &str) {
    assert_eq!(status, want_status, "unexpected status; body: {body}");
    assert_eq!(
        body["NeutronError"]["type"], want_type,
        "unexpected error type; body: {body}"
    );
    assert!(
        body["NeutronError"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "error message missing: {body}"
    );
    assert_eq!(
        body["NeutronError"]["detail"], "",
        "detail must be an empty string: {body}"
    );
}
