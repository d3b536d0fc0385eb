//! An in-process cloud for key-manager tests: the real identity service
//! and the key manager's router over a real SQLite file or a real
//! PostgreSQL database, mounted under `/key-manager` as beside the
//! Network API.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use neutrino_identity::{BootstrapParams, CatalogConfig, Identity, IdentityConfig};
use neutrino_key_manager::{KmConfig, KmState, router};
use neutrino_store::Db;
use serde_json::{Value, json};
use tower::ServiceExt;

pub const PREFIX: &str = "/key-manager";
pub const PUBLIC: &str = "http://127.0.0.1:9696/key-manager";
pub const SECRETS: &str = "/key-manager/v1/secrets";
pub const CONTAINERS: &str = "/key-manager/v1/containers";

pub struct Cloud {
    pub backend: &'static str,
    pub db: Db,
    pub identity: Identity,
    identity_app: Router,
    pub km: Router,
    /// Tokens, all project-scoped: the cloud admin (project admin);
    /// alice and amy, members of alpha; rita, a reader of alpha; bob, a
    /// member of beta.
    pub admin: String,
    pub alice: String,
    pub amy: String,
    pub rita: String,
    pub bob: String,
    pub alpha: String,
    pub beta: String,
    pub alice_id: String,
    pub amy_id: String,
    pub bob_id: String,
    _dir: Option<tempfile::TempDir>,
}

const SECRET: &[u8] = b"test-secret-test-secret-test-sec";

/// Every test user's password, and an argon2id hash of it at the
/// cheapest parameters: the identity service checks a hash by the
/// parameters it carries, and its own cost most of a cloud's set-up.
const PASSWORD: &str = "test-password";
const CHEAP_HASH: &str =
    "$argon2id$v=19$m=8,t=1,p=1$U+YeAmrW33ThGKfFXNJwQg$jq36Tsf1twgiBS76fnykevI8yPMJ0eK1hAavSbl2g/U";

/// Runs one statement on the writer.
pub async fn exec(db: &Db, sql: &str) {
    let mut tx = db.begin().await.expect("begin");
    let owned = sql.to_string();
    neutrino_store::dispatch!(tx.conn(), c => sqlx::query(sqlx::AssertSqlSafe(owned)).execute(&mut *c).await.map(|_| ()))
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    tx.commit().await.expect("commit");
}

/// Rows of a table (optionally with a `WHERE` clause in `from`).
pub async fn rows(db: &Db, from: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) FROM {from}");
    neutrino_store::dispatch!(db.read(), c => sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql)).fetch_one(c).await)
        .expect("count")
}

pub fn km_config() -> KmConfig {
    KmConfig {
        public_url: PUBLIC.into(),
        prefix: PREFIX.into(),
        identity_url: "http://127.0.0.1:5000/v3".into(),
    }
}

async fn build(db: Db, backend: &'static str, dir: Option<tempfile::TempDir>) -> Cloud {
    db.migrate().await.expect("migrations apply");
    let identity = Identity::new(
        db.clone(),
        IdentityConfig::new(
            SECRET.to_vec(),
            CatalogConfig {
                region: "RegionOne".into(),
                identity_url: "http://127.0.0.1:5000/v3".into(),
                network_url: "http://127.0.0.1:9696/".into(),
                load_balancer_url: None,
                key_manager_url: Some(PUBLIC.into()),
                infra_url: None,
            },
        ),
    );
    identity
        .bootstrap(&BootstrapParams {
            admin_password: PASSWORD.into(),
            ..BootstrapParams::default()
        })
        .await
        .expect("bootstrap");
    exec(
        &db,
        &format!("UPDATE identity_users SET password_hash = '{CHEAP_HASH}' WHERE name = 'admin'"),
    )
    .await;
    let admin = identity
        .issue_token_for_tests("admin", PASSWORD, "admin")
        .await
        .expect("admin token");
    let km = router(KmState::new(db.clone(), identity.clone(), km_config()));
    let mut cloud = Cloud {
        backend,
        db,
        km,
        identity_app: identity.router(),
        identity,
        admin,
        alice: String::new(),
        amy: String::new(),
        rita: String::new(),
        bob: String::new(),
        alpha: String::new(),
        beta: String::new(),
        alice_id: String::new(),
        amy_id: String::new(),
        bob_id: String::new(),
        _dir: dir,
    };
    let alpha = cloud.project("alpha").await;
    let beta = cloud.project("beta").await;
    let member = cloud.role_id("member").await;
    let reader = cloud.role_id("reader").await;
    let (alice, alice_id) = cloud.user("alice", &alpha, "alpha", &member).await;
    cloud.alice = alice;
    cloud.alice_id = alice_id;
    (cloud.amy, cloud.amy_id) = cloud.user("amy", &alpha, "alpha", &member).await;
    cloud.rita = cloud.user("rita", &alpha, "alpha", &reader).await.0;
    (cloud.bob, cloud.bob_id) = cloud.user("bob", &beta, "beta", &member).await;
    cloud.alpha = alpha;
    cloud.beta = beta;
    cloud
}

pub async fn sqlite() -> Cloud {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = neutrino_testkit::sqlite_url(dir.path());
    let db = Db::connect(&url).await.expect("sqlite");
    build(db, "sqlite", Some(dir)).await
}

pub async fn postgres() -> Option<Cloud> {
    let url = neutrino_testkit::postgres_database_or_skip()
        .await
        .expect("postgres configured but unusable")?;
    let db = Db::connect(&url).await.expect("postgres");
    Some(build(db, "postgres", None).await)
}

/// The same cloud on every backend available to this run.
pub async fn backends() -> Vec<Cloud> {
    let mut out = vec![sqlite().await];
    out.extend(postgres().await);
    out
}

#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// The body as JSON (`{"raw": text}` when it is not JSON).
    pub body: Value,
    pub bytes: Vec<u8>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A request: `headers` as given, `body` as is.
pub async fn call(
    app: &Router,
    method: &str,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Answer {
    let mut b = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "127.0.0.1:9696");
    if let Some(t) = token {
        b = b.header("x-auth-token", t);
    }
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let resp = app
        .clone()
        .oneshot(b.body(Body::from(body)).expect("request"))
        .await
        .expect("router never fails");
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .expect("body")
        .to_vec();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| json!({"raw": String::from_utf8_lossy(&bytes)}))
    };
    Answer {
        status,
        headers,
        body,
        bytes,
    }
}

pub async fn get(app: &Router, path: &str, token: &str) -> Answer {
    call(app, "GET", path, Some(token), &[], Vec::new()).await
}

pub async fn post(app: &Router, path: &str, token: &str, body: Value) -> Answer {
    call(
        app,
        "POST",
        path,
        Some(token),
        &[("content-type", "application/json")],
        body.to_string().into_bytes(),
    )
    .await
}

pub async fn delete(app: &Router, path: &str, token: &str) -> Answer {
    call(app, "DELETE", path, Some(token), &[], Vec::new()).await
}

/// Asserts a Barbican error: status and the whole body.
#[track_caller]
pub fn barbican_error(a: &Answer, status: u16, description: Option<&str>) {
    let title = match status {
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        409 => "Conflict",
        413 => "Request Entity Too Large",
        415 => "Unsupported Media Type",
        _ => panic!("no title for {status}"),
    };
    assert_eq!(
        (a.status.as_u16(), &a.body),
        (
            status,
            &json!({"code": status, "title": title, "description": description})
        ),
    );
}

/// The id at the end of a ref.
pub fn id_of(r: &Value) -> String {
    r.as_str()
        .expect("ref")
        .rsplit('/')
        .next()
        .expect("id")
        .to_string()
}

impl Cloud {
    /// Stores a text secret as `token`; returns its ref.
    pub async fn text_secret(&self, token: &str, name: &str, payload: &str) -> String {
        let a = post(
            &self.km,
            SECRETS,
            token,
            json!({"name": name, "payload": payload, "payload_content_type": "text/plain"}),
        )
        .await;
        assert_eq!(a.status, 201, "{}: {}", self.backend, a.body);
        a.body["secret_ref"].as_str().expect("ref").to_string()
    }

    /// The path of a ref on this router.
    pub fn path(&self, r: &str) -> String {
        r.strip_prefix("http://127.0.0.1:9696")
            .expect("a ref of this service")
            .to_string()
    }

    pub async fn secrets_stored(&self) -> i64 {
        rows(&self.db, "km_secrets").await
    }

    pub async fn containers_stored(&self) -> i64 {
        rows(&self.db, "km_containers").await + rows(&self.db, "km_container_secrets").await
    }

    async fn identity_call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let mut b = Request::builder()
            .method(method)
            .uri(path)
            .header("x-auth-token", &self.admin);
        let req = match body {
            Some(v) => b
                .header("content-type", "application/json")
                .body(Body::from(v.to_string())),
            None => {
                b = b.header("content-length", "0");
                b.body(Body::empty())
            }
        }
        .expect("request");
        let resp = self
            .identity_app
            .clone()
            .oneshot(req)
            .await
            .expect("identity answers");
        assert!(
            resp.status().is_success(),
            "{method} {path}: {}",
            resp.status()
        );
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .expect("body");
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    }

    async fn project(&self, name: &str) -> String {
        let b = self
            .identity_call(
                "POST",
                "/v3/projects",
                Some(json!({"project": {"name": name, "domain_id": "default"}})),
            )
            .await;
        b["project"]["id"].as_str().expect("project id").to_string()
    }

    async fn role_id(&self, name: &str) -> String {
        let b = self
            .identity_call("GET", &format!("/v3/roles?name={name}"), None)
            .await;
        b["roles"][0]["id"]
            .as_str()
            .expect("role exists")
            .to_string()
    }

    /// Creates a user with one role in a project; returns its token and id.
    async fn user(
        &self,
        name: &str,
        project_id: &str,
        project: &str,
        role_id: &str,
    ) -> (String, String) {
        let b = self
            .identity_call(
                "POST",
                "/v3/users",
                Some(json!({"user": {"name": name, "domain_id": "default"}})),
            )
            .await;
        let user_id = b["user"]["id"].as_str().expect("user id").to_string();
        exec(
            &self.db,
            &format!(
                "UPDATE identity_users SET password_hash = '{CHEAP_HASH}' WHERE id = '{user_id}'"
            ),
        )
        .await;
        self.identity_call(
            "PUT",
            &format!("/v3/projects/{project_id}/users/{user_id}/roles/{role_id}"),
            None,
        )
        .await;
        let token = self
            .identity
            .issue_token_for_tests(name, PASSWORD, project)
            .await
            .expect("token");
        (token, user_id)
    }
}
