//! An in-process cloud for the infra API tests: the real identity service
//! and the infra router over a real SQLite file or PostgreSQL database.

#![allow(dead_code)]

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use neutrino_identity::{BootstrapParams, CatalogConfig, Identity, IdentityConfig};
use neutrino_infra::Infra;
use neutrino_store::Db;
use serde_json::{Value, json};
use tower::ServiceExt;

pub const NS: &str = "openstack";
const SECRET: &[u8] = b"infra-test-secret-infra-test-sec";

pub struct Cloud {
    pub backend: &'static str,
    pub app: Router,
    pub infra: Infra,
    pub identity: Identity,
    pub db: Db,
    /// Tokens: the cloud admin, members of two projects, a reader in alice's.
    pub admin: String,
    pub alice: String,
    pub bob: String,
    pub reader: String,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

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
                infra_url: Some("http://127.0.0.1:9696/infra".into()),
            },
        ),
    )
}

async fn build(
    db: Db,
    url: String,
    backend: &'static str,
    dir: Option<tempfile::TempDir>,
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
    let infra = Infra::new(db.clone());
    let mut cloud = Cloud {
        backend,
        app: neutrino_infra::api::router(infra.clone(), identity.clone()),
        infra,
        identity: identity.clone(),
        db,
        admin,
        alice: String::new(),
        bob: String::new(),
        reader: String::new(),
        url,
        _dir: dir,
    };
    let alpha = cloud.add_user("alice", "alpha", "member", None).await;
    cloud.add_user("bob", "beta", "member", None).await;
    cloud.add_user("rita", "alpha", "reader", Some(alpha)).await;
    for (user, project) in [("alice", "alpha"), ("bob", "beta"), ("rita", "alpha")] {
        let t = identity
            .issue_token_for_tests(user, &format!("pw-{user}"), project)
            .await
            .expect("token");
        match user {
            "alice" => cloud.alice = t,
            "bob" => cloud.bob = t,
            _ => cloud.reader = t,
        }
    }
    cloud
}

pub async fn sqlite() -> Cloud {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = neutrino_testkit::sqlite_url(dir.path());
    let db = Db::connect(&url).await.expect("sqlite");
    build(db, url, "sqlite", Some(dir)).await
}

pub async fn postgres() -> Option<Cloud> {
    let url = neutrino_testkit::postgres_database_or_skip()
        .await
        .expect("postgres configured but unusable")?;
    let db = Db::connect(&url).await.expect("postgres");
    Some(build(db, url, "postgres", None).await)
}

/// The same cloud on every backend available to this run.
pub async fn backends() -> Vec<Cloud> {
    let mut out = vec![sqlite().await];
    if let Some(pg) = postgres().await {
        out.push(pg);
    }
    out
}

/// Parses a multi-document YAML fixture from `tests/fixtures`.
pub fn fixture(name: &str) -> Vec<Value> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("fixture");
    serde_saphyr::from_multiple(&text).expect("fixture parses")
}

pub fn plural_of(kind: &str) -> &'static str {
    neutrino_infra::resources::Kind::resolve(kind)
        .expect("known kind")
        .plural()
}

pub async fn send(
    app: &Router,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut b = Request::builder().method(method).uri(path);
    if let Some(t) = token {
        b = b.header("x-auth-token", t);
    }
    let req = match body {
        Some(v) => b
            .header("content-type", "application/json")
            .body(Body::from(v.to_string()))
            .expect("request"),
        None => b.body(Body::empty()).expect("request"),
    };
    let resp = app.clone().oneshot(req).await.expect("router never fails");
    let status = resp.status().as_u16();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .expect("body");
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| json!({"raw": String::from_utf8_lossy(&bytes)}))
    };
    (status, body)
}

pub fn object_path(ns: &str, plural: &str, name: &str) -> String {
    format!("/infra/v1beta1/namespaces/{ns}/{plural}/{name}")
}

impl Cloud {
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        send(&self.app, method, path, Some(token), body).await
    }

    /// PUT (create or replace) an object; the kind and name come from it,
    /// the namespace from it or `NS`.
    pub async fn put_as(&self, token: &str, obj: &Value) -> (u16, Value) {
        let kind = obj["kind"].as_str().expect("kind");
        let name = obj["metadata"]["name"].as_str().expect("name");
        let ns = obj["metadata"]["namespace"].as_str().unwrap_or(NS);
        self.call(
            "PUT",
            &object_path(ns, plural_of(kind), name),
            token,
            Some(obj.clone()),
        )
        .await
    }

    pub async fn put(&self, obj: &Value) -> (u16, Value) {
        self.put_as(&self.admin, obj).await
    }

    /// PUT that must succeed; returns the stored object.
    pub async fn apply(&self, obj: &Value) -> Value {
        let (s, b) = self.put(obj).await;
        assert!(
            s == 200 || s == 201,
            "[{}] apply {} {} failed with {s}: {b}",
            self.backend,
            obj["kind"],
            obj["metadata"]["name"]
        );
        b
    }

    pub async fn get(&self, plural: &str, name: &str) -> (u16, Value) {
        self.call("GET", &object_path(NS, plural, name), &self.admin, None)
            .await
    }

    pub async fn delete(&self, plural: &str, name: &str) -> (u16, Value) {
        self.call("DELETE", &object_path(NS, plural, name), &self.admin, None)
            .await
    }

    /// Rows of the infra tables, to prove a rejected request stored nothing.
    pub async fn stored(&self) -> (i64, i64, String) {
        let objs = neutrino_store::dispatch!(self.db.read(), c => sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM infra_objects").fetch_one(c).await)
        .expect("count");
        let res = neutrino_store::dispatch!(self.db.read(), c => sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM infra_ip_reservations").fetch_one(c).await)
        .expect("count");
        let fp = neutrino_store::infra::fingerprint(
            &self.db,
            &["NetConfig", "IPSet", "Reservation", "DNSMasq", "DNSData"],
        )
        .await
        .expect("fingerprint");
        (objs, res, fp)
    }

    /// Sends a request that must be rejected with `code`, with a Status
    /// body whose message names `field`, and must store nothing.
    pub async fn rejects(&self, token: &str, obj: &Value, code: u16, field: &str) -> Value {
        let before = self.stored().await;
        let (s, b) = self.put_as(token, obj).await;
        assert_eq!(
            s, code,
            "[{}] expected {code} naming {field}, got {s}: {b}",
            self.backend
        );
        assert_eq!(b["kind"], "Status", "{b}");
        assert_eq!(b["status"], "Failure", "{b}");
        assert_eq!(b["code"], code, "{b}");
        let msg = b["message"].as_str().unwrap_or_default();
        assert!(
            msg.contains(field),
            "[{}] message does not name {field}: {msg}",
            self.backend
        );
        assert_eq!(
            self.stored().await,
            before,
            "[{}] a rejected request stored something: {b}",
            self.backend
        );
        b
    }

    /// Rejected DELETE, storing nothing.
    pub async fn rejects_delete(&self, plural: &str, name: &str, code: u16, text: &str) -> Value {
        let before = self.stored().await;
        let (s, b) = self.delete(plural, name).await;
        assert_eq!(s, code, "[{}] {b}", self.backend);
        assert_eq!(b["kind"], "Status");
        assert!(
            b["message"].as_str().unwrap_or_default().contains(text),
            "{b}"
        );
        assert_eq!(self.stored().await, before);
        b
    }

    /// Creates a user with a role in a project (created if needed).
    pub async fn add_user(
        &self,
        user: &str,
        project: &str,
        role: &str,
        project_id: Option<String>,
    ) -> String {
        let app = self.identity.router();
        let call = |method: &'static str, path: String, body: Option<Value>| {
            let app = app.clone();
            let token = self.admin.clone();
            async move { send(&app, method, &path, Some(&token), body).await }
        };
        let project_id = match project_id {
            Some(p) => p,
            None => {
                let (s, b) = call(
                    "POST",
                    "/v3/projects".into(),
                    Some(json!({"project": {"name": project, "domain_id": "default"}})),
                )
                .await;
                assert_eq!(s, 201, "{b}");
                b["project"]["id"].as_str().unwrap().to_string()
            }
        };
        let (s, b) = call(
            "POST",
            "/v3/users".into(),
            Some(json!({"user": {"name": user, "password": format!("pw-{user}"), "domain_id": "default"}})),
        )
        .await;
        assert_eq!(s, 201, "{b}");
        let user_id = b["user"]["id"].as_str().unwrap().to_string();
        let (_, roles) = call("GET", format!("/v3/roles?name={role}"), None).await;
        let role_id = roles["roles"][0]["id"].as_str().unwrap().to_string();
        let (s, b) = call(
            "PUT",
            format!("/v3/projects/{project_id}/users/{user_id}/roles/{role_id}"),
            None,
        )
        .await;
        assert_eq!(s, 204, "{b}");
        project_id
    }
}

/// Document 001's NetConfig (with a dnsDomain per network).
pub fn netconfig() -> Value {
    fixture("doc001.yaml").remove(0)
}

/// An IPSet asking for one address on each of `nets` (subnet1).
pub fn ipset(name: &str, nets: &[&str]) -> Value {
    json!({
        "apiVersion": "network.openstack.org/v1beta1",
        "kind": "IPSet",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"networks": nets.iter().map(|n| json!({"name": n, "subnetName": "subnet1"})).collect::<Vec<_>>()},
    })
}

/// The addresses of an IPSet's status, by network.
pub fn addresses(ipset: &Value) -> std::collections::BTreeMap<String, String> {
    ipset["status"]["reservations"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|r| {
                    (
                        r["network"].as_str().unwrap().to_string(),
                        r["address"].as_str().unwrap().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}
