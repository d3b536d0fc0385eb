//! The default load-balancer management network of `neutrino up` (design
//! load-balancing.md §8.6): made through the Network API, as an operator
//! following document 000 would, as admin for the service project:
//!
//! - `lb-mgmt-net` / `lb-mgmt-subnet` (`--lb-mgmt-cidr`, default
//!   172.31.0.0/24: not document 000's 172.24.0.0/16, which overlaps the
//!   172.24.4.0/24 `public` network of the tempest scripts);
//! - `lb-mgmt-sec-grp` (ingress ICMP, TCP 22, TCP 9443) for amphorae and
//!   `lb-health-mgr-sec-grp` (ingress UDP 5555) for the controller;
//! - the controller's port `octavia-health-manager-{node}-listen-port`
//!   (YAOOK's per-node port, document 002), plugged into br-int as `o-hm0`
//!   in a namespace of the controller's own, so the host's addresses and
//!   routes stay untouched; the controller opens its connections to the
//!   agents there ([`NetnsSockets`]).
//!
//! Every step looks before it creates: a restart finds what the last run
//! made.

use std::sync::Arc;

use anyhow::{Context, bail};
use neutrino_lbaas::backend::local::{Management, NetnsSockets, netns};
use neutrino_ovsdb::Endpoint;
use serde_json::{Value, json};

pub const NETWORK: &str = "lb-mgmt-net";
pub const SUBNET: &str = "lb-mgmt-subnet";
pub const AMP_GROUP: &str = "lb-mgmt-sec-grp";
pub const HM_GROUP: &str = "lb-health-mgr-sec-grp";
pub const HM_OWNER: &str = "Octavia:health-mgr";
pub const DEFAULT_CIDR: &str = "172.31.0.0/24";

pub struct Setup<'a> {
    pub identity_url: &'a str,
    pub network_url: &'a str,
    pub admin_user: &'a str,
    pub admin_password: &'a str,
    pub service_project_id: &'a str,
    pub cidr: &'a str,
    pub node: &'a str,
    pub ovs: &'a Endpoint,
    pub bridge: &'a str,
    /// The controller's namespace.
    pub netns: &'a str,
}

/// The controller's namespace for data directory `dir`: unique per `up`
/// (tests run several), stable across its restarts.
pub fn controller_netns(dir: &std::path::Path) -> String {
    let abs = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let id = uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_URL,
        abs.display().to_string().as_bytes(),
    );
    format!("neutrino-lbc-{}", &id.simple().to_string()[..8])
}

struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let url = format!("{}/v2.0/{path}", self.base.trim_end_matches('/'));
        let mut req = self
            .http
            .request(method.clone(), &url)
            .header("X-Auth-Token", &self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("{method} {url}"))?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        if !status.is_success() {
            bail!("{method} {url}: {status}: {text}");
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// The one `kind` named `name` (with `extra` query filters), or a new
    /// one made from `body`.
    async fn ensure(
        &self,
        kind: &str,
        name: &str,
        extra: &str,
        body: Value,
    ) -> anyhow::Result<Value> {
        let plural = format!("{kind}s");
        let found = self
            .call(
                reqwest::Method::GET,
                &format!("{plural}?name={name}{extra}"),
                None,
            )
            .await?;
        if let Some(first) = found[&plural].as_array().and_then(|a| a.first()) {
            return Ok(first.clone());
        }
        let made = self
            .call(reqwest::Method::POST, &plural, Some(json!({ kind: body })))
            .await?;
        Ok(made[kind].clone())
    }
}

async fn token(http: &reqwest::Client, s: &Setup<'_>) -> anyhow::Result<String> {
    let body = json!({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": s.admin_user, "domain": {"id": "default"}, "password": s.admin_password}}},
        "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}});
    let url = format!("{}/auth/tokens", s.identity_url.trim_end_matches('/'));
    let resp = http.post(&url).json(&body).send().await?;
    if !resp.status().is_success() {
        bail!("POST {url}: {}", resp.status());
    }
    resp.headers()
        .get("X-Subject-Token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .context("no X-Subject-Token")
}

fn id(v: &Value) -> anyhow::Result<String> {
    v["id"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("no id in {v}"))
}

async fn ensure_group(
    api: &Api,
    s: &Setup<'_>,
    name: &str,
    rules: &[Value],
) -> anyhow::Result<String> {
    let filter = format!("&project_id={}", s.service_project_id);
    let existing = api
        .call(
            reqwest::Method::GET,
            &format!("security-groups?name={name}{filter}"),
            None,
        )
        .await?;
    if let Some(g) = existing["security_groups"]
        .as_array()
        .and_then(|a| a.first())
    {
        return id(g);
    }
    let g = api
        .call(
            reqwest::Method::POST,
            "security-groups",
            Some(json!({"security_group": {"name": name, "project_id": s.service_project_id}})),
        )
        .await?;
    let gid = id(&g["security_group"])?;
    for r in rules {
        let mut r = r.clone();
        r["security_group_id"] = json!(gid);
        r["direction"] = json!("ingress");
        r["project_id"] = json!(s.service_project_id);
        api.call(
            reqwest::Method::POST,
            "security-group-rules",
            Some(json!({ "security_group_rule": r })),
        )
        .await?;
    }
    Ok(gid)
}

/// Upstream's `[health_manager] bind_port`.
pub const HEARTBEAT_PORT: u16 = 5555;

/// Makes the management network and the controller's interface; returns
/// what the local backend needs.
pub async fn ensure(s: &Setup<'_>) -> anyhow::Result<Management> {
    let http = reqwest::Client::new();
    let api = Api {
        base: s.network_url.to_string(),
        token: token(&http, s).await.context("admin token")?,
        http,
    };
    let project = s.service_project_id;
    let net = api
        .ensure(
            "network",
            NETWORK,
            &format!("&project_id={project}"),
            json!({"name": NETWORK, "project_id": project}),
        )
        .await?;
    let net_id = id(&net)?;
    api.ensure(
        "subnet",
        SUBNET,
        &format!("&network_id={net_id}"),
        json!({"name": SUBNET, "network_id": net_id, "project_id": project,
               "ip_version": 4, "cidr": s.cidr}),
    )
    .await?;
    let amp_group = ensure_group(
        &api,
        s,
        AMP_GROUP,
        &[
            json!({"protocol": "icmp", "ethertype": "IPv4"}),
            json!({"protocol": "tcp", "port_range_min": 22, "port_range_max": 22, "ethertype": "IPv4"}),
            json!({"protocol": "tcp", "port_range_min": 9443, "port_range_max": 9443, "ethertype": "IPv4"}),
        ],
    )
    .await?;
    let hm_group = ensure_group(
        &api,
        s,
        HM_GROUP,
        &[json!({"protocol": "udp", "port_range_min": HEARTBEAT_PORT, "port_range_max": HEARTBEAT_PORT, "ethertype": "IPv4"})],
    )
    .await?;
    let port_name = format!("octavia-health-manager-{}-listen-port", s.node);
    let port = api
        .ensure(
            "port",
            &port_name,
            &format!("&network_id={net_id}"),
            json!({"name": port_name, "network_id": net_id, "project_id": project,
                   "device_owner": HM_OWNER, "device_id": s.node,
                   "security_groups": [hm_group], "binding:host_id": s.node}),
        )
        .await?;
    let port_id = id(&port)?;
    let mac = port["mac_address"]
        .as_str()
        .context("port MAC")?
        .to_string();
    let ip = port["fixed_ips"][0]["ip_address"]
        .as_str()
        .context("controller port address")?
        .to_string();
    netns::ensure(s.netns)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if !neutrino_chassis::is_plugged(s.ovs, &port_id).await? {
        neutrino_chassis::plug_veth(s.ovs, s.bridge, &port_id, &mac, s.netns, "o-hm0").await?;
    }
    let len = s.cidr.split('/').nth(1).unwrap_or("24");
    netns::ip_in(
        s.netns,
        &["addr", "replace", &format!("{ip}/{len}"), "dev", "o-hm0"],
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let sockets: Arc<NetnsSockets> =
        NetnsSockets::new(s.netns).with_context(|| format!("entering namespace {}", s.netns))?;
    tracing::info!(network = %net_id, controller_ip = %ip, netns = s.netns,
        "load-balancer management network ready");
    Ok(Management {
        network_ids: vec![net_id],
        security_group_ids: vec![amp_group],
        project_id: project.to_string(),
        sockets: Some(sockets),
        controller_port_id: Some(port_id),
        heartbeat_targets: vec![format!("{ip}:{HEARTBEAT_PORT}")],
    })
}

/// Takes the controller's interface down with `up`: the OVS port and
/// its namespace (the network and the port stay, for the next start).
pub async fn teardown(ovs: &Endpoint, netns_name: &str, port_id: &str) {
    if let Err(e) = neutrino_chassis::unplug(ovs, port_id).await {
        tracing::warn!(error = %e, "unplugging the controller's management port");
    }
    if let Err(e) = netns::delete(netns_name).await {
        tracing::warn!(error = %e, "deleting the controller's namespace");
    }
}
