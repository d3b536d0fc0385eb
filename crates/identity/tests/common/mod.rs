//! Test harness: a bootstrapped identity service on SQLite and, when a test
//! PostgreSQL server is configured, on PostgreSQL too; requests go through
//! `identity.router()` in-process.

#![allow(dead_code)]

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use neutrino_identity::{
    BootstrapOutcome, BootstrapParams, CatalogConfig, Identity, IdentityConfig,
};
use neutrino_store::Db;
use serde_json::{Value, json};
use tower::ServiceExt;

pub const ADMIN_PASSWORD: &str = "s3cret-admin";
pub const IDENTITY_URL: &str = "http://127.0.0.1:9696/identity/v3";
pub const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

pub fn config() -> IdentityConfig {
    IdentityConfig {
        token_secret: SECRET.to_vec(),
        token_ttl_secs: 3600,
        cache_ttl_secs: 5,
        catalog: CatalogConfig {
            region: "RegionOne".into(),
            identity_url: IDENTITY_URL.into(),
            network_url: "http://127.0.0.1:9696".into(),
            load_balancer_url: Some("http://127.0.0.1:9876".into()),
            key_manager_url: None,
            infra_url: None,
        },
    }
}

pub struct Harness {
    pub backend: &'static str,
    pub db: Db,
    pub identity: Identity,
    pub router: Router,
    pub boot: BootstrapOutcome,
    /// Admin, scoped to the admin project.
    pub admin: String,
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Resp {
    pub fn subject_token(&self) -> String {
        self.headers
            .get("x-subject-token")
            .expect("X-Subject-Token header")
            .to_str()
            .unwrap()
            .to_owned()
    }

    #[track_caller]
    pub fn expect(self, status: StatusCode) -> Value {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.body
        );
        self.body
    }
}

/// The SQLite database, and a PostgreSQL one when configured. A configured
/// but unreachable server is an error, never a silent skip.
pub async fn databases() -> Vec<Db> {
    let mut out = Vec::new();
    let sqlite = Db::connect("sqlite::memory:").await.expect("sqlite");
    sqlite.migrate().await.expect("sqlite migrations");
    out.push(sqlite);
    if let Some(url) = neutrino_testkit::postgres_database_or_skip()
        .await
        .expect("test PostgreSQL database")
    {
        let pg = Db::connect(&url)
            .await
            .expect("connect to test PostgreSQL database");
        pg.migrate().await.expect("postgres migrations");
        out.push(pg);
    }
    out
}

pub async fn harnesses() -> Vec<Harness> {
    harnesses_with(config()).await
}

pub async fn harnesses_with(config: IdentityConfig) -> Vec<Harness> {
    let mut out = Vec::new();
    for db in databases().await {
        out.push(Harness::new(db, config.clone()).await);
    }
    out
}

impl Harness {
    pub async fn new(db: Db, config: IdentityConfig) -> Harness {
        let identity = Identity::new(db.clone(), config);
        let boot = identity
            .bootstrap(&BootstrapParams {
                admin_password: ADMIN_PASSWORD.into(),
                ..Default::default()
            })
            .await
            .expect("bootstrap");
        let admin = identity
            .issue_token_for_tests("admin", ADMIN_PASSWORD, "admin")
            .await
            .expect("admin token");
        Harness {
            backend: db.backend_name(),
            router: identity.router(),
            db,
            identity,
            boot,
            admin,
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        self.call_with(method, path, token, body, &[]).await
    }

    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header("x-auth-token", t);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let body = match body {
            Some(v) => {
                req = req.header("content-type", "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        self.send(req.body(body).unwrap()).await
    }

    pub async fn send(&self, req: Request<Body>) -> Resp {
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Resp {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Resp {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Resp {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Resp {
        self.call(Method::PATCH, path, Some(token), Some(body))
            .await
    }

    pub async fn put(&self, path: &str, token: &str) -> Resp {
        self.call(Method::PUT, path, Some(token), None).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Resp {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    /// POST /v3/auth/tokens with a raw `auth` object.
    pub async fn auth(&self, auth: Value) -> Resp {
        self.call(
            Method::POST,
            "/v3/auth/tokens",
            None,
            Some(json!({"auth": auth})),
        )
        .await
    }

    /// Password auth by user name in the default domain, project-scoped by
    /// name; returns the token.
    pub async fn login(&self, user: &str, password: &str, project: &str) -> String {
        let r = self
            .auth(password_auth(user, password, Some(project)))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "login {user}: {}", r.body);
        r.subject_token()
    }

    pub async fn create_project(&self, name: &str) -> String {
        let body = self
            .post(
                "/v3/projects",
                &self.admin,
                json!({"project": {"name": name, "domain_id": "default"}}),
            )
            .await
            .expect(StatusCode::CREATED);
        body["project"]["id"].as_str().unwrap().to_owned()
    }

    pub async fn create_user(&self, name: &str, password: &str) -> String {
        let body = self
            .post(
                "/v3/users",
                &self.admin,
                json!({"user": {"name": name, "password": password, "domain_id": "default"}}),
            )
            .await
            .expect(StatusCode::CREATED);
        body["user"]["id"].as_str().unwrap().to_owned()
    }

    pub async fn role_id(&self, name: &str) -> String {
        let body = self
            .get(&format!("/v3/roles?name={name}"), &self.admin)
            .await
            .expect(StatusCode::OK);
        body["roles"][0]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("role {name}: {body}"))
            .to_owned()
    }

    pub async fn grant(&self, project: &str, user: &str, role: &str) {
        let role = self.role_id(role).await;
        self.put(
            &format!("/v3/projects/{project}/users/{user}/roles/{role}"),
            &self.admin,
        )
        .await
        .expect(StatusCode::NO_CONTENT);
    }

    /// A new user holding `role` on a new project; returns (user id,
    /// project id, token).
    pub async fn user_with_role(&self, name: &str, role: &str) -> (String, String, String) {
        let project = self.create_project(&format!("{name}-project")).await;
        let user = self.create_user(name, "pw").await;
        self.grant(&project, &user, role).await;
        let token = self.login(name, "pw", &format!("{name}-project")).await;
        (user, project, token)
    }
}

pub fn password_auth(user: &str, password: &str, project: Option<&str>) -> Value {
    let mut auth = json!({
        "identity": {
            "methods": ["password"],
            "password": {"user": {"name": user, "domain": {"name": "Default"}, "password": password}},
        },
    });
    if let Some(p) = project {
        auth["scope"] = json!({"project": {"name": p, "domain": {"name": "Default"}}});
    }
    auth
}

pub fn role_names(token_body: &Value) -> Vec<String> {
    let mut names: Vec<String> = token_body["token"]["roles"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|r| r["name"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Runs each named `async fn(&Harness)` as a test on every backend.
#[macro_export]
macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        mod on_every_backend {
            $(
                #[tokio::test]
                async fn $name() {
                    for h in $crate::common::harnesses().await {
                        eprintln!("-- {} on {}", stringify!($name), h.backend);
                        super::$name(&h).await;
                        h.db.close().await;
                    }
                }
            )*
        }
    };
}
