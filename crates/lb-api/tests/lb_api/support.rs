//! An in-process cloud for Load-balancer API tests: the real identity
//! service and the Load-balancer API router over a real SQLite file or a
//! real PostgreSQL database.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use neutrino_identity::{BootstrapParams, CatalogConfig, Identity, IdentityConfig};
use neutrino_lb_api::{LbConfig, LbState, router};
use neutrino_store::Db;
use serde_json::{Value, json};
use tower::ServiceExt;

pub struct Cloud {
    pub backend: &'static str,
    pub db: Db,
    pub identity: Identity,
    identity_app: Router,
    /// The Network API on the same database (networks for VIPs and
    /// members are made through it, as a user would).
    pub net: Router,
    /// The flow worker with the noop backend, as `serve` runs it.
    pub controller: neutrino_lbaas::Controller,
    _stop: tokio::sync::watch::Sender<bool>,
    /// Tokens, all scoped to a project: the cloud admin; alice, a member
    /// of alpha; rita, a reader of alpha; olga, who holds only the legacy
    /// `load-balancer_observer` role in alpha.
    pub admin: String,
    pub alice: String,
    pub rita: String,
    pub olga: String,
    /// The id of alice's project.
    pub alpha: String,
    _dir: Option<tempfile::TempDir>,
}

const SECRET: &[u8] = b"test-secret-test-secret-test-sec";

/// Every test user's password, and an argon2id hash of it at the
/// cheapest parameters (m=8 KiB, t=1, p=1). The identity service checks a
/// hash by the parameters it carries; its own (m=7 MiB, t=5) cost tens of
/// milliseconds a hash and a check, eight of them per cloud: most of a
/// cloud's set-up. So the users' stored hashes are swapped for this one.
const PASSWORD: &str = "test-password";
const CHEAP_HASH: &str =
    "$argon2id$v=19$m=8,t=1,p=1$U+YeAmrW33ThGKfFXNJwQg$jq36Tsf1twgiBS76fnykevI8yPMJ0eK1hAavSbl2g/U";

async fn cheap_password(db: &Db, user_id: &str) {
    crate::fixtures::exec(
        db,
        &format!("UPDATE identity_users SET password_hash = '{CHEAP_HASH}' WHERE id = '{user_id}'"),
    )
    .await;
}

/// The host the peer was recorded at, so version links compare equal.
pub const HOST: &str = "127.0.0.1:9876";

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
                load_balancer_url: Some(format!("http://{HOST}")),
                key_manager_url: None,
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
    crate::fixtures::exec(
        &db,
        &format!("UPDATE identity_users SET password_hash = '{CHEAP_HASH}' WHERE name = 'admin'"),
    )
    .await;
    let admin = identity
        .issue_token_for_tests("admin", PASSWORD, "admin")
        .await
        .expect("admin token");
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut worker = neutrino_lbaas::engine::WorkerConfig::new(format!("test-{}", uuid_like()));
    worker.poll = std::time::Duration::from_millis(50);
    let (controller, _) = neutrino_lbaas::controller::start(
        db.clone(),
        std::sync::Arc::new(neutrino_lbaas::backend::noop::NoopBackend),
        worker,
        stopped,
    );
    let net = neutrino_api::network_router(neutrino_api::AppState::new(
        db.clone(),
        identity.clone(),
        neutrino_api::NetworkConfig::default(),
    ));
    let mut cloud = Cloud {
        backend,
        db,
        net,
        controller,
        _stop: stop,
        identity_app: identity.router(),
        identity,
        admin,
        alice: String::new(),
        rita: String::new(),
        olga: String::new(),
        alpha: String::new(),
        _dir: dir,
    };
    let alpha = cloud.project("alpha").await;
    // Bootstrap creates Octavia's legacy roles along with the defaults.
    let observer = cloud.role_id("load-balancer_observer").await;
    let member = cloud.role_id("member").await;
    let reader = cloud.role_id("reader").await;
    cloud.alice = cloud.user("alice", &alpha, "alpha", &member).await;
    cloud.rita = cloud.user("rita", &alpha, "alpha", &reader).await;
    cloud.olga = cloud.user("olga", &alpha, "alpha", &observer).await;
    cloud.alpha = alpha;
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

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

fn uuid_like() -> String {
    format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    )
}

pub async fn send(app: &Router, method: &str, path: &str, token: Option<&str>) -> Answer {
    call(app, method, path, token, None).await
}

/// A request with a JSON body.
pub async fn send_json(
    app: &Router,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> Answer {
    call(app, method, path, token, Some(body)).await
}

async fn call(
    app: &Router,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Answer {
    match body {
        Some(v) => {
            send_raw(
                app,
                method,
                path,
                token,
                Some("application/json"),
                v.to_string(),
            )
            .await
        }
        None => send_raw(app, method, path, token, None, String::new()).await,
    }
}

/// A request whose body and `Content-Type` are given as is. An answer
/// that is not JSON comes back as `{"raw": text}`.
pub async fn send_raw(
    app: &Router,
    method: &str,
    path: &str,
    token: Option<&str>,
    content_type: Option<&str>,
    body: String,
) -> Answer {
    let mut b = Request::builder()
        .method(method)
        .uri(path)
        .header("host", HOST);
    if let Some(t) = token {
        b = b.header("x-auth-token", t);
    }
    if let Some(ct) = content_type {
        b = b.header("content-type", ct);
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
        .expect("body");
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
    }
}

impl Cloud {
    /// The Load-balancer API on this cloud's database.
    pub fn lb(&self, config: LbConfig) -> Router {
        router(LbState::new(
            self.db.clone(),
            self.identity.clone(),
            config,
            self.controller.clone(),
            neutrino_api::NetworkConfig::default().mac_prefix,
        ))
    }

    /// A second API server on the same database, with its own flow
    /// worker (another instance name), as `serve` next to `serve` runs.
    pub fn second_server(&self, config: LbConfig) -> Router {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let mut worker =
            neutrino_lbaas::engine::WorkerConfig::new(format!("test2-{}", uuid_like()));
        worker.poll = std::time::Duration::from_millis(50);
        let (controller, _) = neutrino_lbaas::controller::start(
            self.db.clone(),
            std::sync::Arc::new(neutrino_lbaas::backend::noop::NoopBackend),
            worker,
            stopped,
        );
        // The worker stops when the test's runtime ends.
        std::mem::forget(stop);
        router(LbState::new(
            self.db.clone(),
            self.identity.clone(),
            config,
            controller,
            neutrino_api::NetworkConfig::default().mac_prefix,
        ))
    }

    /// A network with one IPv4 subnet (`cidr`) made through the Network
    /// API with `token`; returns (network id, subnet id).
    pub async fn network(&self, token: &str, cidr: &str) -> (String, String) {
        network_on(&self.net, token, cidr).await
    }

    /// Polls `path` until its `key` object's provisioning status is
    /// `want` (or it is gone, for `want` "DELETED"); panics after 10 s.
    pub async fn wait_for(&self, app: &Router, path: &str, key: &str, want: &str) -> Value {
        for _ in 0..400 {
            let a = send(app, "GET", path, Some(&self.admin)).await;
            if want == "DELETED" && a.status == 404 {
                return a.body;
            }
            if a.body[key]["provisioning_status"] == want {
                return a.body[key].clone();
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("{path} never reached {want}");
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

    /// Creates a user with one role in a project; returns its token.
    async fn user(&self, name: &str, project_id: &str, project: &str, role_id: &str) -> String {
        let b = self
            .identity_call(
                "POST",
                "/v3/users",
                Some(json!({"user": {"name": name, "domain_id": "default"}})),
            )
            .await;
        let user_id = b["user"]["id"].as_str().expect("user id");
        cheap_password(&self.db, user_id).await;
        self.identity_call(
            "PUT",
            &format!("/v3/projects/{project_id}/users/{user_id}/roles/{role_id}"),
            None,
        )
        .await;
        self.identity
            .issue_token_for_tests(name, PASSWORD, project)
            .await
            .expect("token")
    }
}

/// A network with one IPv4 subnet (`cidr`) made through `net` (a Network
/// API router) with `token`; returns (network id, subnet id).
pub async fn network_on(net: &Router, token: &str, cidr: &str) -> (String, String) {
    let n = send_json(
        net,
        "POST",
        "/v2.0/networks",
        Some(token),
        json!({"network": {"name": format!("net-{cidr}")}}),
    )
    .await;
    assert_eq!(n.status, 201, "network: {}", n.body);
    let net_id = n.body["network"]["id"].as_str().expect("id").to_string();
    let s = send_json(
        net,
        "POST",
        "/v2.0/subnets",
        Some(token),
        json!({"subnet": {"network_id": net_id, "cidr": cidr, "ip_version": 4}}),
    )
    .await;
    assert_eq!(s.status, 201, "subnet: {}", s.body);
    let subnet_id = s.body["subnet"]["id"].as_str().expect("id").to_string();
    (net_id, subnet_id)
}

/// The peer's recorded answers (fixtures/peer.json).
pub fn peer() -> Value {
    serde_json::from_str(include_str!("fixtures/peer.json")).expect("fixture is JSON")
}

/// Asserts that our answer equals the peer's recorded one, status and body.
pub fn assert_like_peer(backend: &str, key: &str, ours: &Answer) {
    let peer = peer();
    let recorded = &peer[key];
    assert!(!recorded.is_null(), "no recording for {key}");
    assert_eq!(
        ours.status.as_u16() as u64,
        recorded["status"].as_u64().expect("status"),
        "{backend} {key}: {}",
        ours.body
    );
    assert_eq!(ours.body, recorded["body"], "{backend} {key}");
}

pub const FORBIDDEN: &str = "Policy does not allow this request to be performed.";

/// An Octavia fault body: `Client` below 500, else `Server`.
pub fn fault_body(status: u16, faultstring: &str) -> Value {
    let code = if status < 500 { "Client" } else { "Server" };
    json!({"faultcode": code, "faultstring": faultstring, "debuginfo": null})
}

/// The body of a client fault (a 4xx).
pub fn client_fault(faultstring: &str) -> Value {
    fault_body(400, faultstring)
}

/// Asserts an Octavia fault: status and the whole body.
#[track_caller]
pub fn fault(a: &Answer, status: u16, faultstring: &str) {
    assert_eq!(
        (a.status.as_u16(), &a.body),
        (status, &fault_body(status, faultstring)),
    );
}

/// Asserts a refusal from a table of bad requests: its status, the
/// fault code that goes with it and `faultstring` (when empty, only that
/// there is one). `what` names the case.
#[track_caller]
pub fn refused(a: &Answer, status: u16, faultstring: &str, what: &str) {
    assert_eq!(a.status.as_u16(), status, "{what}: {}", a.body);
    let code = if status < 500 { "Client" } else { "Server" };
    assert_eq!(a.body["faultcode"], code, "{what}: {}", a.body);
    if faultstring.is_empty() {
        assert!(a.body["faultstring"].is_string(), "{what}: {}", a.body);
    } else {
        assert_eq!(a.body["faultstring"], faultstring, "{what}");
    }
}

/// A request: method, path, and the JSON body if any.
pub type Req<'a> = (&'a str, &'a str, Option<Value>);

/// Sends each request with `token` and asserts it is refused with
/// `status` and the whole fault body of `faultstring`.
pub async fn all_refused(
    app: &Router,
    token: &str,
    requests: &[Req<'_>],
    status: u16,
    faultstring: &str,
) {
    for (method, path, body) in requests {
        let a = match body {
            Some(body) => send_json(app, method, path, Some(token), body.clone()).await,
            None => send(app, method, path, Some(token)).await,
        };
        assert_eq!(
            (a.status.as_u16(), &a.body),
            (status, &fault_body(status, faultstring)),
            "{method} {path}"
        );
    }
}

/// A rendering without what differs each time: its id and creation time.
pub fn without_id_and_created_at(mut v: Value) -> Value {
    if let Value::Object(m) = &mut v {
        m.remove("id");
        m.remove("created_at");
    }
    v
}

/// The `id` of a rendered object.
pub fn id_of(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

/// Asserts a fault whose faultstring starts with `prefix` (the rest is a
/// library's own words, an id, ...).
#[track_caller]
pub fn fault_starting(a: &Answer, status: u16, prefix: &str) {
    assert_eq!(a.status.as_u16(), status, "{}", a.body);
    let s = a.body["faultstring"].as_str().unwrap_or_default();
    assert!(s.starts_with(prefix), "{s}");
}

/// What a bad regular expression in an L7 rule is refused with.
pub const BAD_REGEX: &str = "Error parsing L7Rule: Unable to parse regular expression: ";

/// Asserts that listing `path` with each query of `cases` is refused
/// with a 400 and the case's faultstring.
pub async fn bad_queries(app: &Router, token: &str, path: &str, cases: &[(&str, &str)]) {
    for (query, faultstring) in cases {
        let a = send(app, "GET", &format!("{path}{query}"), Some(token)).await;
        assert_eq!(
            (a.status.as_u16(), &a.body),
            (400, &fault_body(400, faultstring)),
            "{path}{query}"
        );
    }
}

/// Asserts that each (method, path) without the id it needs is upstream's
/// 400 naming the missing argument.
pub async fn missing_arguments(app: &Router, token: &str, cases: &[(&str, &str, &str)]) {
    for (method, path, argument) in cases {
        let a = send(app, method, path, Some(token)).await;
        assert_eq!(
            (a.status.as_u16(), &a.body),
            (
                400,
                &fault_body(400, &format!("Missing argument: \"{argument}\""))
            ),
            "{method} {path}"
        );
    }
}
