//! The axum router for API 1.0.

use std::net::IpAddr;
use std::sync::{Arc, LazyLock};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::haproxy::{self, Paths, md5_hex, safe_id};
use crate::net::{self, Found};
use crate::{AgentConfig, Hooks, agent_conf, keepalived, sysinfo};

struct Agent {
    cfg: AgentConfig,
    hooks: Hooks,
    /// Serializes changes to haproxy/keepalived/interfaces.
    lock: Mutex<()>,
}

type S = State<Arc<Agent>>;

fn j(status: StatusCode, v: Value) -> Response {
    (status, axum::Json(v)).into_response()
}

fn err(status: StatusCode, message: &str, details: impl Into<Value>) -> Response {
    j(
        status,
        json!({"message": message, "details": details.into()}),
    )
}

fn ok(status: StatusCode) -> Response {
    j(status, json!({"message": "OK"}))
}

fn lb_not_found(lb: &str) -> Response {
    err(
        StatusCode::NOT_FOUND,
        "Loadbalancer Not Found",
        format!("No loadbalancer with UUID: {lb}"),
    )
}

fn internal(e: impl std::fmt::Display) -> Response {
    err(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Internal Error",
        e.to_string(),
    )
}

pub fn router(cfg: AgentConfig, hooks: Hooks) -> Router {
    let agent = Arc::new(Agent {
        cfg,
        hooks,
        lock: Mutex::new(()),
    });
    Router::new()
        .route(
            "/",
            get(|| async { axum::Json(json!({"api_version": "1.0"})) }),
        )
        .route("/1.0/info", get(info))
        .route("/1.0/details", get(details))
        .route(
            "/1.0/loadbalancer/{amphora_id}/{lb_id}/haproxy",
            put(upload_haproxy),
        )
        .route("/1.0/loadbalancer/{lb_id}/haproxy", get(get_haproxy))
        .route("/1.0/loadbalancer/{lb_id}/{action}", put(lb_action))
        .route(
            "/1.0/loadbalancer/{lb_id}/certificates/{filename}",
            put(put_cert).get(get_cert).delete(delete_cert),
        )
        .route("/1.0/listeners", get(listeners))
        .route("/1.0/listeners/{lb_id}", axum::routing::delete(delete_lb))
        .route("/1.0/certificate", put(server_cert))
        .route("/1.0/config", put(update_config))
        .route("/1.0/interface/{ip}", get(interface))
        .route("/1.0/plug/vip/{vip}", post(plug_vip))
        .route("/1.0/plug/network", post(plug_network))
        .route("/1.0/vrrp/upload", put(vrrp_upload))
        .route("/1.0/vrrp/{action}", put(vrrp_action))
        .fallback(|uri: axum::http::Uri| async move {
            err(
                StatusCode::NOT_FOUND,
                "Not Found",
                format!(
                    "The requested URL {} was not found on the server.",
                    uri.path()
                ),
            )
        })
        .method_not_allowed_fallback(|| async {
            err(
                StatusCode::METHOD_NOT_ALLOWED,
                "Method Not Allowed",
                "The method is not allowed for the requested URL.",
            )
        })
        .layer(axum::extract::DefaultBodyLimit::max(16 * 1024 * 1024))
        .with_state(agent)
}

async fn info_json(a: &Agent) -> Value {
    json!({
        "hostname": sysinfo::hostname(),
        "haproxy_version": sysinfo::haproxy_version(&a.cfg.haproxy_cmd).await,
        "api_version": "1.0",
    })
}

async fn info(State(a): S) -> Response {
    j(StatusCode::OK, info_json(&a).await)
}

async fn details(State(a): S) -> Response {
    let mut v = info_json(&a).await;
    let lbs = haproxy::loadbalancers(&a.cfg);
    let mut listeners = Vec::new();
    let mut count = 0;
    for lb in &lbs {
        if haproxy::running(&a.cfg, lb) {
            count += 1;
            let text = std::fs::read_to_string(Paths(&a.cfg).cfg(lb)).unwrap_or_default();
            listeners.extend(haproxy::listeners_in(&text).into_iter().map(|(id, _)| id));
        }
    }
    listeners.sort();
    let extra = json!({
        "networks": sysinfo::networks(),
        "active": true,
        "haproxy_count": count,
        "cpu_count": sysinfo::cpu_count(),
        "cpu": sysinfo::cpu(),
        "memory": sysinfo::memory(),
        "disk": sysinfo::disk(&a.cfg.base_dir),
        "load": sysinfo::load(),
        "active_tuned_profiles": "",
        "topology": a.cfg.topology,
        "topology_status": "OK",
        "lvs_listener_process_count": 0,
        "listeners": listeners,
        "packages": {},
    });
    if let (Value::Object(m), Value::Object(e)) = (&mut v, extra) {
        m.extend(e);
    }
    j(StatusCode::OK, v)
}

static GROUP_LINE: LazyLock<regex::Regex> =
    LazyLock::new(|| regex::Regex::new(r"\s+group\s.+").expect("regex"));

async fn upload_haproxy(
    State(a): S,
    Path((_amphora_id, lb)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    if !safe_id(&lb) {
        return err(
            StatusCode::BAD_REQUEST,
            "Invalid request",
            "bad load balancer id",
        );
    }
    let _g = a.lock.lock().await;
    let p = Paths(&a.cfg);
    if let Err(e) = std::fs::create_dir_all(p.lb_dir(&lb)) {
        return internal(e);
    }
    let text = String::from_utf8_lossy(&body);
    let text = GROUP_LINE.replace_all(&text, "");
    let new = p.lb_dir(&lb).join("haproxy.cfg.new");
    if let Err(e) = std::fs::write(&new, text.as_bytes()) {
        return internal(e);
    }
    if let Err(out) = haproxy::check(&a.cfg, &new).await {
        let _ = std::fs::rename(&new, p.lb_dir(&lb).join("haproxy.cfg.new-failed"));
        return err(StatusCode::BAD_REQUEST, "Invalid request", out);
    }
    if let Err(e) = std::fs::rename(&new, p.cfg(&lb)) {
        return internal(e);
    }
    let mut r = ok(StatusCode::ACCEPTED);
    if let Ok(v) = HeaderValue::from_str(&md5_hex(&body)) {
        r.headers_mut().insert(header::ETAG, v);
    }
    r
}

async fn get_haproxy(State(a): S, Path(lb): Path<String>) -> Response {
    if !safe_id(&lb) {
        return lb_not_found(&lb);
    }
    match std::fs::read(Paths(&a.cfg).cfg(&lb)) {
        Ok(data) => {
            let etag = md5_hex(&data);
            let mut r = (StatusCode::OK, data).into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            if let Ok(v) = HeaderValue::from_str(&etag) {
                r.headers_mut().insert(header::ETAG, v);
            }
            r
        }
        Err(_) => lb_not_found(&lb),
    }
}

async fn lb_action(State(a): S, Path((lb, action)): Path<(String, String)>) -> Response {
    let mut action = action.to_ascii_lowercase();
    if !["start", "stop", "reload"].contains(&action.as_str()) {
        return err(
            StatusCode::BAD_REQUEST,
            "Invalid Request",
            format!("Unknown action: {action}"),
        );
    }
    if !safe_id(&lb) || !Paths(&a.cfg).cfg(&lb).exists() {
        return lb_not_found(&lb);
    }
    let _g = a.lock.lock().await;
    // As upstream: in ACTIVE_STANDBY keepalived's check follows the
    // haproxy processes that should run.
    if active_standby(&a)
        && let Err(e) =
            keepalived::update_haproxy_check(&a.cfg, (action == "stop").then_some(lb.as_str()))
    {
        return internal(e);
    }
    let pids = haproxy::live_pids(&Paths(&a.cfg).pid(&lb));
    if action == "reload" && pids.is_empty() {
        action = "start".into();
    }
    let res = match action.as_str() {
        "stop" => haproxy::stop(&a.cfg, &lb).await.map(|_| String::new()),
        // Starting a running haproxy is a no-op (systemd's "already running").
        "start" if !pids.is_empty() => Ok(String::new()),
        "start" => haproxy::start(&a.cfg, &lb, &[]).await,
        _ => haproxy::start(&a.cfg, &lb, &pids).await,
    };
    if let Err(out) = res {
        return err(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("Error {action}ing haproxy"),
            out,
        );
    }
    // A reload does not wait for the old processes: with `-sf` they have
    // closed their listeners and finish their connections on their own
    // (haproxy 2.6 takes 1-2 s to leave even when idle), as upstream's
    // `systemctl reload` does not wait either. `stop` finds stragglers by
    // their config file.
    // As upstream: keepalived advertises the VIP in ACTIVE_STANDBY.
    if action != "stop" && !active_standby(&a) {
        crate::advertise::send_vip_advertisements(&a.cfg, &lb).await;
    }
    let details = if action == "start" {
        format!("Configuration file is valid\nhaproxy daemon for {lb} started")
    } else {
        format!("Listener {lb} {action}ed")
    };
    j(
        StatusCode::ACCEPTED,
        json!({"message": "OK", "details": details}),
    )
}

async fn listeners(State(a): S) -> Response {
    let mut out = Vec::new();
    for lb in haproxy::loadbalancers(&a.cfg) {
        let text = std::fs::read_to_string(Paths(&a.cfg).cfg(&lb)).unwrap_or_default();
        for (id, mode) in haproxy::listeners_in(&text) {
            out.push(json!({"status": "ACTIVE", "uuid": id, "type": mode}));
        }
    }
    j(StatusCode::OK, Value::Array(out))
}

async fn delete_lb(State(a): S, Path(lb): Path<String>) -> Response {
    if !safe_id(&lb) || !Paths(&a.cfg).cfg(&lb).exists() {
        return ok(StatusCode::OK);
    }
    let _g = a.lock.lock().await;
    if let Err(e) = haproxy::stop(&a.cfg, &lb).await {
        return err(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Error stopping haproxy",
            e,
        );
    }
    let p = Paths(&a.cfg);
    let _ = std::fs::remove_dir_all(p.cert_dir(&lb));
    if let Err(e) = std::fs::remove_dir_all(p.lb_dir(&lb)) {
        return internal(e);
    }
    // Upstream's test for "VRRP runs here": its check script exists.
    if keepalived::enabled(&a.cfg)
        && let Err(e) = keepalived::update_haproxy_check(&a.cfg, Some(&lb))
    {
        return internal(e);
    }
    ok(StatusCode::OK)
}

static CERT_NAME: LazyLock<regex::Regex> =
    LazyLock::new(|| regex::Regex::new(r"(\w.)+pem").expect("regex"));

/// Upstream's check (`re.search(r'(\w.)+pem')`), tightened to `(xxx.)*xxx.pem`
/// names of word characters, dots and dashes (nothing path-like).
#[allow(clippy::result_large_err)] // a ready 400/404 answer
fn cert_path(a: &Agent, lb: &str, filename: &str) -> Result<std::path::PathBuf, Response> {
    if !CERT_NAME.is_match(filename)
        || !filename.ends_with(".pem")
        || filename.starts_with('.')
        || !filename
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    {
        return Err(j(
            StatusCode::BAD_REQUEST,
            json!({"message": "Filename has wrong format"}),
        ));
    }
    if !safe_id(lb) {
        return Err(lb_not_found(lb));
    }
    Ok(Paths(&a.cfg).cert_dir(lb).join(filename))
}

async fn put_cert(
    State(a): S,
    Path((lb, filename)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let path = match cert_path(&a, &lb, &filename) {
        Ok(p) => p,
        Err(r) => return r,
    };
    if let Err(e) = write_private(&path, &body) {
        return internal(e);
    }
    let mut r = ok(StatusCode::OK);
    if let Ok(v) = HeaderValue::from_str(&md5_hex(&body)) {
        r.headers_mut().insert(header::ETAG, v);
    }
    r
}

async fn get_cert(State(a): S, Path((lb, filename)): Path<(String, String)>) -> Response {
    let path = match cert_path(&a, &lb, &filename) {
        Ok(p) => p,
        Err(r) => return r,
    };
    match std::fs::read(&path) {
        Ok(data) => {
            let sum = md5_hex(&data);
            let mut r = j(StatusCode::OK, json!({"md5sum": sum}));
            if let Ok(v) = HeaderValue::from_str(&sum) {
                r.headers_mut().insert(header::ETAG, v);
            }
            r
        }
        Err(_) => err(
            StatusCode::NOT_FOUND,
            "Certificate Not Found",
            format!("No certificate with filename: {filename}"),
        ),
    }
}

async fn delete_cert(State(a): S, Path((lb, filename)): Path<(String, String)>) -> Response {
    let path = match cert_path(&a, &lb, &filename) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let _ = std::fs::remove_file(path);
    ok(StatusCode::OK)
}

/// Writes a file with mode 0600, creating its directory.
fn write_private(path: &std::path::Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp-write");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    std::fs::rename(tmp, path)
}

async fn server_cert(State(a): S, body: Bytes) -> Response {
    if let Some(hook) = &a.hooks.on_certificate
        && let Err(e) = hook(&body)
    {
        return err(StatusCode::BAD_REQUEST, "Invalid certificate", e);
    }
    let path = a.cfg.base_dir.join("agent").join("server.pem");
    if let Err(e) = write_private(&path, &body) {
        return internal(e);
    }
    ok(StatusCode::ACCEPTED)
}

async fn update_config(State(a): S, body: Bytes) -> Response {
    let fail = |d: String| {
        err(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Unable to update amphora-agent configuration.",
            d,
        )
    };
    let Some(path) = &a.cfg.config_file else {
        return fail("the agent was started without a configuration file".into());
    };
    if !path.starts_with(&a.cfg.base_dir) || path.components().any(|c| c.as_os_str() == "..") {
        return fail(format!(
            "{} is outside the agent's base directory",
            path.display()
        ));
    }
    let _g = a.lock.lock().await;
    let current = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            toml::to_string(&a.cfg).unwrap_or_default()
        }
        Err(e) => return fail(format!("{}: {e}", path.display())),
    };
    // A body the agent could not start from is refused, and the file
    // stays as it was.
    let text = match agent_conf::updated(&current, &body) {
        Ok(t) => t,
        Err(e) => {
            return err(
                StatusCode::BAD_REQUEST,
                "Unable to update amphora-agent configuration.",
                e,
            );
        }
    };
    if let Err(e) = write_private(path, text.as_bytes()) {
        return fail(e.to_string());
    }
    if let Some(hook) = &a.hooks.on_config {
        hook(&text);
    }
    ok(StatusCode::ACCEPTED)
}

async fn interface(State(a): S, Path(ip): Path<String>) -> Response {
    let Ok(addr) = ip.parse::<IpAddr>() else {
        return j(
            StatusCode::BAD_REQUEST,
            json!({"message": "Invalid IP address"}),
        );
    };
    // Upstream looks in the amphora-haproxy namespace: the controller asks
    // for the interface of the VRRP address.
    match net::ns_links(&a.cfg).await {
        Ok(links) => match links.iter().find(|l| l.addrs.contains(&addr)) {
            Some(l) => j(
                StatusCode::OK,
                json!({"message": "OK", "interface": l.ifname}),
            ),
            None => j(
                StatusCode::NOT_FOUND,
                json!({"message": "Error interface not found for IP address"}),
            ),
        },
        Err(e) => internal(e),
    }
}

fn no_interface() -> Response {
    j(
        StatusCode::NOT_FOUND,
        json!({"message": "Not Found", "details": "No suitable network interface found"}),
    )
}

/// A subnet's `host_routes` (`[{destination, nexthop}]`).
fn routes_of(v: &Value) -> Result<Vec<(ipnet::IpNet, IpAddr)>, String> {
    let mut out = Vec::new();
    for r in v.as_array().into_iter().flatten() {
        let dst = r["destination"]
            .as_str()
            .ok_or("host route without destination")?;
        let hop = r["nexthop"].as_str().ok_or("host route without nexthop")?;
        let dst: ipnet::IpNet = dst.parse().map_err(|e| format!("{dst}: {e}"))?;
        let hop: IpAddr = hop.parse().map_err(|e| format!("{hop}: {e}"))?;
        out.push((dst, hop));
    }
    Ok(out)
}

/// An address with its subnet (`subnet_cidr`, `gateway`, `host_routes`):
/// a VIP or a fixed IP. The CIDR must be a network address, as upstream's
/// `ipaddress.ip_network` insists.
fn subnet_addr(ip: &str, v: &Value) -> Result<net::SubnetAddr, String> {
    let ip: IpAddr = ip.parse().map_err(|e| format!("{ip}: {e}"))?;
    let cidr = v["subnet_cidr"].as_str().ok_or("subnet_cidr missing")?;
    let net: ipnet::IpNet = cidr.parse().map_err(|e| format!("{cidr}: {e}"))?;
    if net != net.trunc() {
        return Err(format!("{cidr} has host bits set"));
    }
    if net.addr().is_ipv4() != ip.is_ipv4() {
        return Err(format!("{ip} is not of the family of {cidr}"));
    }
    let gateway = match v["gateway"].as_str() {
        Some(g) if !g.is_empty() => Some(g.parse().map_err(|e| format!("{g}: {e}"))?),
        _ => None,
    };
    Ok(net::SubnetAddr {
        ip,
        net,
        gateway,
        host_routes: routes_of(&v["host_routes"])?,
    })
}

/// The VIPs of a plug request: `vip` with the body's subnet, then
/// `additional_vips` (each `{ip_address, subnet_cidr, gateway,
/// host_routes}`), and the VRRP address.
#[allow(clippy::result_large_err)] // a ready 400 answer
fn vips_of(vip: &str, info: &Value) -> Result<(Vec<net::SubnetAddr>, Option<IpAddr>), Response> {
    let invalid_vip = |e: String| {
        j(
            StatusCode::BAD_REQUEST,
            json!({"message": format!("Invalid VIP: {e}")}),
        )
    };
    let mut vips = vec![subnet_addr(vip, info).map_err(invalid_vip)?];
    for extra in info["additional_vips"].as_array().into_iter().flatten() {
        let ip = extra["ip_address"].as_str().unwrap_or_default();
        vips.push(subnet_addr(ip, extra).map_err(invalid_vip)?);
    }
    let vrrp = match info["vrrp_ip"].as_str() {
        Some(s) if !s.is_empty() => Some(s.parse::<IpAddr>().map_err(|e| {
            j(
                StatusCode::BAD_REQUEST,
                json!({"message": format!("Invalid VRRP Address: {s}: {e}")}),
            )
        })?),
        _ => None,
    };
    Ok((vips, vrrp))
}

fn active_standby(a: &Agent) -> bool {
    a.cfg.topology.eq_ignore_ascii_case("ACTIVE_STANDBY")
}

async fn plug_vip(State(a): S, Path(vip): Path<String>, body: Bytes) -> Response {
    let info: Value = match serde_json::from_slice(&body) {
        Ok(v @ Value::Object(_))
            if ["subnet_cidr", "gateway", "mac_address"]
                .iter()
                .all(|k| v.get(*k).is_some()) =>
        {
            v
        }
        _ => {
            return err(
                StatusCode::BAD_REQUEST,
                "Invalid subnet information",
                "subnet_cidr, gateway and mac_address are required",
            );
        }
    };
    let (vips, vrrp) = match vips_of(&vip, &info) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let mac = info["mac_address"].as_str().unwrap_or_default().to_string();
    let _g = a.lock.lock().await;
    let ours: Vec<IpAddr> = vips.iter().map(|v| v.ip).chain(vrrp).collect();
    let link = match net::find_by_mac(&a.cfg, &mac, &ours).await {
        Err(e) => return internal(e),
        Ok(Found::Plugged(_)) => {
            return j(
                StatusCode::CONFLICT,
                json!({"message": "Interface already exists"}),
            );
        }
        Ok(Found::Missing) => return no_interface(),
        Ok(Found::Outer(l)) => l,
    };
    // Upstream always names the VIP's interface eth1.
    let ifname = match net::adopt(&a.cfg, &link, "eth1").await {
        Ok(n) => n,
        Err(e) => return err(StatusCode::INTERNAL_SERVER_ERROR, "Error plugging VIP", e),
    };
    haproxy::nonlocal_bind(&a.cfg).await;
    let spec = net::vip_spec(active_standby(&a), info["mtu"].as_u64(), &vips, vrrp, &[]);
    if let Err(e) = net::apply(&a.cfg, &ifname, &spec).await {
        return err(StatusCode::INTERNAL_SERVER_ERROR, "Error plugging VIP", e);
    }
    let list: Vec<String> = vips.iter().map(|v| v.ip.to_string()).collect();
    j(
        StatusCode::ACCEPTED,
        json!({"message": "OK", "details": format!("VIPs plugged on interface {ifname}: {}", list.join(", "))}),
    )
}

async fn plug_network(State(a): S, body: Bytes) -> Response {
    let info: Value = match serde_json::from_slice(&body) {
        Ok(v @ Value::Object(_)) if v.get("mac_address").is_some() => v,
        _ => {
            return err(
                StatusCode::BAD_REQUEST,
                "Invalid port information",
                "mac_address is required",
            );
        }
    };
    let mut fixed = Vec::new();
    for f in info["fixed_ips"].as_array().into_iter().flatten() {
        match subnet_addr(f["ip_address"].as_str().unwrap_or_default(), f) {
            Ok(s) => fixed.push(s),
            Err(_) => {
                return j(
                    StatusCode::BAD_REQUEST,
                    json!({"message": "Invalid network port"}),
                );
            }
        }
    }
    // A new subnet on the VRRP port comes with the VIP's own information
    // (upstream's `vip_net_info`): the interface is then the VIP's.
    let vip_net = match info.get("vip_net_info") {
        Some(v @ Value::Object(_)) => match vips_of(v["vip"].as_str().unwrap_or_default(), v) {
            Ok(x) => Some(x),
            Err(r) => return r,
        },
        _ => None,
    };
    let mtu = info["mtu"].as_u64();
    let ips: Vec<IpAddr> = fixed.iter().map(|f| f.ip).collect();
    let mac = info["mac_address"].as_str().unwrap_or_default().to_string();
    let _g = a.lock.lock().await;
    let (ifname, spec, existing) = match net::find_by_mac(&a.cfg, &mac, &ips).await {
        Err(e) => return internal(e),
        Ok(Found::Missing) => return no_interface(),
        Ok(Found::Plugged(l)) => {
            let spec = match &vip_net {
                Some((vips, vrrp)) => net::vip_spec(active_standby(&a), mtu, vips, *vrrp, &fixed),
                None => net::port_spec(mtu, &fixed),
            };
            (l.ifname, spec, true)
        }
        Ok(Found::Outer(l)) => {
            let name = match net::next_ifname(&a.cfg).await {
                Ok(n) => n,
                Err(e) => return internal(e),
            };
            match net::adopt(&a.cfg, &l, &name).await {
                Ok(n) => (n, net::port_spec(mtu, &fixed), false),
                Err(e) => {
                    return err(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "Error plugging network",
                        e,
                    );
                }
            }
        }
    };
    if let Err(e) = net::apply(&a.cfg, &ifname, &spec).await {
        return err(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Error plugging network",
            e,
        );
    }
    let details = if existing {
        format!("Updated existing interface {ifname}")
    } else {
        format!("Plugged on interface {ifname}")
    };
    j(
        StatusCode::ACCEPTED,
        json!({"message": "OK", "details": details}),
    )
}

async fn vrrp_upload(State(a): S, body: Bytes) -> Response {
    let _g = a.lock.lock().await;
    match keepalived::upload(&a.cfg, &body).await {
        Ok(()) => {}
        Err(keepalived::UploadError::Invalid(out)) => {
            return err(StatusCode::BAD_REQUEST, "Invalid request", out);
        }
        Err(keepalived::UploadError::Io(e)) => return internal(e),
    }
    let mut r = ok(StatusCode::OK);
    if let Ok(v) = HeaderValue::from_str(&md5_hex(&body)) {
        r.headers_mut().insert(header::ETAG, v);
    }
    r
}

/// Upstream's `manager_keepalived_service`: start (a reload when it
/// already runs), stop, reload (of a stopped keepalived: an error, as
/// `systemctl reload` of an inactive unit).
async fn vrrp_action(State(a): S, Path(action): Path<String>) -> Response {
    let mut action = action.to_ascii_lowercase();
    if !["start", "stop", "reload"].contains(&action.as_str()) {
        return err(
            StatusCode::BAD_REQUEST,
            "Invalid Request",
            format!("Unknown action: {action}"),
        );
    }
    let _g = a.lock.lock().await;
    if action == "start" && keepalived::running(&a.cfg).is_some() {
        action = "reload".into();
    }
    let res = match action.as_str() {
        "start" => keepalived::start(&a.cfg).await,
        "stop" => keepalived::stop(&a.cfg).await,
        _ => keepalived::reload(&a.cfg),
    };
    if let Err(e) = res {
        return err(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("Failed to {action} octavia-keepalived service"),
            e,
        );
    }
    j(
        StatusCode::ACCEPTED,
        json!({"message": "OK", "details": format!("keepalived {action}ed")}),
    )
}
