//! haproxy.cfg for one amphora of a load balancer: octavia 19's
//! `combined_listeners/templates/{base,haproxy.cfg,macros}.j2` with
//! `jinja_cfg.JinjaTemplater`'s data transformation, for an haproxy ≥ 2.2
//! (the Debian 12 amphora's 2.6: `http-reuse`, server state file, pool
//! ALPN, Prometheus and `insecure-fork-wanted` all on).
//!
//! Differences from upstream, all on inputs upstream does not expect
//! either (see also tests/render/main.rs):
//! - blank lines: upstream's jinja whitespace leaves some; we leave none;
//! - HTTP health-monitor `expected_codes` ranges are expanded in numeric
//!   order (upstream joins a Python `set`, in hash order);
//! - no HTML escaping of values (upstream's environment autoescapes, which
//!   turns `&` of a redirect URL into `&amp;`);
//! - a missing `http_method`/`url_path`/`expected_codes` on an HTTP
//!   monitor renders `GET`/`/`/`200` (upstream: `None`); a redirect whose
//!   URL is missing or invalid renders no `redirect` line (upstream:
//!   `location None`); a TLS ref without an entry in
//!   [`HaproxyInput::tls_files`] drops its option (upstream: `KeyError`
//!   for listeners); the ping wrapper lives under
//!   [`HaproxyPaths::base_path`] (upstream hard-codes `/var/lib/octavia`).
//!
//! UDP and SCTP listeners (and their pools) are not haproxy's: upstream
//! gives them to keepalived's LVS. They are skipped here, as upstream's
//! transformation skips them; the amphora provider refuses them with 501
//! before anything is rendered (issue 12 part two).

use super::hash::{base64_alt, sha1};
use neutrino_lb_types::enums::{
    ClientAuthentication, HealthMonitorType, L7PolicyAction, L7RuleCompareType, L7RuleType,
    LbAlgorithm, Protocol, ProvisioningStatus, SessionPersistenceType, Topology,
};
use neutrino_lb_types::model::{
    HealthMonitor, L7Policy, L7Rule, Listener, LoadBalancer, Member, Pool,
};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// `[haproxy_amphora] default_connection_limit`: a listener's
/// `connection_limit` of -1 (or 0) renders this.
pub const DEFAULT_CONNECTION_LIMIT: i64 = 50_000;
/// `HAPROXY_MAX_MAXCONN`: the global `maxconn` ceiling.
pub const HAPROXY_MAX_MAXCONN: i64 = 1_000_000;
/// `HAPROXY_BASE_PEER_PORT`: where haproxy peers talk (on the VRRP address).
pub const HAPROXY_BASE_PEER_PORT: u16 = 1025;
/// `[haproxy_amphora] user_log_format`'s default.
pub const DEFAULT_USER_LOG_FORMAT: &str = "{{ project_id }} {{ lb_id }} %f %ci %cp %t %{+Q}r %ST \
     %B %U %[ssl_c_verify] %{+Q}[ssl_c_s_dn] %b %s %Tt %tsc";
const DEFAULT_LOG_TARGET: &str = "/run/rsyslog/octavia/log";
const STICK_SIZE: &str = "10k";
const TLS13_CIPHERS: &[&str] = &[
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
    "TLS_AES_128_CCM_SHA256",
    "TLS_AES_128_CCM_8_SHA256",
];
const TLS_PRE_1_3: &[&str] = &["SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2"];
const TLS_1_3_AND_NEWER: &[&str] = &["TLSv1.3"];

/// One haproxy peer: an ALLOCATED amphora of the load balancer and its
/// VRRP address (upstream: `amp.vrrp_ip`), this amphora included.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Peer<'a> {
    pub amphora_id: &'a str,
    pub address: &'a str,
}

/// Where things are on the amphora.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HaproxyPaths<'a> {
    /// `stats socket` (upstream `{base_path}/{lb_id}.sock`); the heartbeat
    /// sender reads it.
    pub stats_socket: &'a str,
    /// Upstream's `base_path` (`/var/lib/octavia`): holds
    /// `{lb_id}/servers-state` and `ping-wrapper.sh`.
    pub base_path: &'a str,
    /// Upstream's `base_cert_dir` (`/var/lib/octavia/certs`): certificates
    /// are `{cert_dir}/{lb_id}/{file}`, a TLS listener's crt-list
    /// `{cert_dir}/{lb_id}/{listener_id}.pem` (see [`crt_list`]).
    pub cert_dir: &'a str,
}

/// The amphora's memory (kB), from its agent's details: sizes the TLS
/// session cache when a TERMINATED_HTTPS listener exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AmpMemory {
    pub free: i64,
    pub buffers: i64,
    pub cached: i64,
}

/// Knobs upstream takes from its configuration and the amphora's details.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HaproxyOptions<'a> {
    /// `log_http` / `log_server` (None: `/run/rsyslog/octavia/log`).
    pub log_http: Option<&'a str>,
    pub log_server: Option<&'a str>,
    pub user_log_facility: u8,
    pub administrative_log_facility: u8,
    /// `connection_logging`: `log global` and a per-listener `log-format`.
    pub connection_logging: bool,
    /// `user_log_format` (`{{ project_id }}`, `{{ lb_id }}` substituted).
    pub user_log_format: &'a str,
    /// `server-state-file {base_path}/{lb_id}/servers-state`.
    pub server_state_file: bool,
    /// The amphora's CPU count when its "amphora" TuneD profile is active
    /// (`nbthread`, `cpu-map`); None otherwise.
    pub cpu_count: Option<u32>,
    pub memory: Option<AmpMemory>,
    /// `[haproxy_amphora] default_connection_limit`: a listener's limit
    /// when its `connection_limit` is -1. haproxy sizes its file
    /// descriptor table from it (docs/benchmarks.md: about 150 bytes per
    /// connection slot).
    pub default_connection_limit: i64,
}

impl Default for HaproxyOptions<'_> {
    fn default() -> Self {
        HaproxyOptions {
            log_http: None,
            log_server: None,
            user_log_facility: 0,
            administrative_log_facility: 1,
            connection_logging: true,
            user_log_format: DEFAULT_USER_LOG_FORMAT,
            server_state_file: true,
            cpu_count: None,
            memory: None,
            default_connection_limit: DEFAULT_CONNECTION_LIMIT,
        }
    }
}

/// Everything one amphora's haproxy.cfg depends on. The record slices are
/// the load balancer's rows as the store returns them (any order except
/// where noted); disabled and PENDING_DELETE children are filtered here,
/// as upstream's transformation does.
#[derive(Clone, Debug)]
pub struct HaproxyInput<'a> {
    pub load_balancer: &'a LoadBalancer,
    /// Its listeners, rendered in this order.
    pub listeners: &'a [Listener],
    /// Its pools; a listener's backends are the pools whose `listener_ids`
    /// name it, in this order.
    pub pools: &'a [Pool],
    /// Members of those pools; a pool's servers follow this order.
    pub members: &'a [Member],
    pub health_monitors: &'a [HealthMonitor],
    /// L7 policies; rendered per listener by `position`.
    pub l7policies: &'a [L7Policy],
    /// L7 rules; a policy's rules follow this order.
    pub l7rules: &'a [L7Rule],
    /// The amphora this file is for (haproxy's `-L` local peer name is
    /// [`peer_name`] of it).
    pub amphora_id: &'a str,
    /// ACTIVE_STANDBY: the ALLOCATED amphorae (this one included) and their
    /// VRRP addresses. Ignored for SINGLE.
    pub peers: Vec<Peer<'a>>,
    pub paths: HaproxyPaths<'a>,
    /// Container ref → file name under `{cert_dir}/{lb_id}/` of the secrets
    /// uploaded to the amphora (upstream's `tls_certs`): listener client
    /// CA and CRL, pool client certificate, CA and CRL.
    pub tls_files: BTreeMap<String, String>,
    pub options: HaproxyOptions<'a>,
}

/// haproxy's peer name for an amphora: base64 (`_-` alphabet) of the SHA-1
/// of its id, a leading `-` made `x`, without `=`.
pub fn peer_name(amphora_id: &str) -> String {
    let mut b = base64_alt(&sha1(amphora_id.as_bytes()), *b"_-");
    if b.starts_with('-') {
        b.replace_range(0..1, "x");
    }
    b.replace('=', "")
}

/// `{lb id without dashes}_peers`.
pub fn peers_section_name(lb_id: &str) -> String {
    format!("{}_peers", lb_id.replace('-', ""))
}

/// The crt-list file a TLS listener's `bind ... ssl crt-list` names
/// (`{cert_dir}/{lb_id}/{listener_id}.pem`): one certificate path a line,
/// the default certificate first, then the SNI ones.
pub fn crt_list(cert_paths: &[&str]) -> String {
    let mut s = cert_paths.join("\n");
    s.push('\n');
    s
}

fn protocol_mode(p: Protocol) -> &'static str {
    match p {
        Protocol::Http | Protocol::TerminatedHttps | Protocol::Prometheus => "http",
        Protocol::Proxy | Protocol::ProxyV2 => "proxy",
        _ => "tcp",
    }
}

fn live(s: ProvisioningStatus) -> bool {
    s != ProvisioningStatus::PendingDelete
}

fn header_on(l: &Listener, name: &str) -> bool {
    match l.insert_headers.get(name) {
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        Some(Value::Bool(b)) => *b,
        _ => false,
    }
}

/// Upstream's cipher split: (pre-1.3 ciphers, 1.3 suites), each sorted,
/// either dropped when `tls_versions` has no version that uses it.
fn split_ciphers(
    ciphers: Option<&str>,
    versions: Option<&[String]>,
) -> (Option<String>, Option<String>) {
    let Some(ciphers) = ciphers else {
        return (None, None);
    };
    let mut set: Vec<&str> = ciphers.split(':').collect();
    set.sort_unstable();
    set.dedup();
    let (mut v13, mut pre): (Vec<&str>, Vec<&str>) =
        set.into_iter().partition(|c| TLS13_CIPHERS.contains(c));
    if let Some(v) = versions {
        if !v.iter().any(|x| TLS_1_3_AND_NEWER.contains(&x.as_str())) {
            v13.clear();
        }
        if !v.iter().any(|x| TLS_PRE_1_3.contains(&x.as_str())) {
            pre.clear();
        }
    }
    let join = |v: Vec<&str>| (!v.is_empty()).then(|| v.join(":"));
    (join(pre), join(v13))
}

fn tls_opts(
    out: &mut String,
    ciphers: &(Option<String>, Option<String>),
    versions: Option<&[String]>,
    alpn: Option<&str>,
) {
    if let Some(c) = &ciphers.0 {
        let _ = write!(out, " ciphers {c}");
    }
    if let Some(c) = &ciphers.1 {
        let _ = write!(out, " ciphersuites {c}");
    }
    if let Some(v) = versions {
        for (name, opt) in [
            ("SSLv3", " no-sslv3"),
            ("TLSv1", " no-tlsv10"),
            ("TLSv1.1", " no-tlsv11"),
            ("TLSv1.2", " no-tlsv12"),
            ("TLSv1.3", " no-tlsv13"),
        ] {
            if !v.iter().any(|x| x == name) {
                out.push_str(opt);
            }
        }
    }
    if let Some(a) = alpn {
        let _ = write!(out, " alpn {a}");
    }
}

/// `expand_expected_codes`: "200-204, 301" → "200|201|202|203|204|301".
fn expand_codes(codes: &str) -> String {
    let mut set: Vec<(i64, String)> = Vec::new();
    for code in codes.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        if let Some((lo, hi)) = code.split_once('-') {
            let hi = hi.split('-').next().unwrap_or(hi);
            if let (Ok(lo), Ok(hi)) = (lo.trim().parse::<i64>(), hi.trim().parse::<i64>()) {
                set.extend((lo..=hi).map(|i| (i, i.to_string())));
            }
        } else {
            set.push((code.parse().unwrap_or(i64::MAX), code.to_string()));
        }
    }
    set.sort();
    set.dedup();
    set.into_iter()
        .map(|(_, s)| s)
        .collect::<Vec<_>>()
        .join("|")
}

fn escape_value(v: &str) -> String {
    v.replace('\\', "\\\\").replace(' ', "\\ ")
}

fn valid_url(u: &Option<String>) -> Option<&str> {
    u.as_deref().filter(|u| {
        !u.chars()
            .any(|c| c <= '\x20' || ('\x7f'..='\u{9f}').contains(&c))
    })
}

/// Python's `str(float)` for the HTTP versions the API allows.
fn py_float(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.1}")
    } else {
        format!("{v}")
    }
}

struct Ctx<'i, 'a> {
    input: &'i HaproxyInput<'a>,
    lb_dir: String,
}

impl Ctx<'_, '_> {
    fn cert_path(&self, r: &Option<String>) -> Option<String> {
        let name = self.input.tls_files.get(r.as_deref()?)?;
        Some(format!("{}/{name}", self.lb_dir))
    }

    fn pool(&self, id: &str) -> Option<&Pool> {
        self.input
            .pools
            .iter()
            .find(|p| p.id == id && live(p.provisioning_status))
    }

    fn monitor(&self, pool: &Pool) -> Option<&HealthMonitor> {
        self.input
            .health_monitors
            .iter()
            .find(|h| h.pool_id == pool.id && live(h.provisioning_status))
    }

    fn enabled_monitor(&self, pool: &Pool) -> Option<&HealthMonitor> {
        self.monitor(pool).filter(|h| h.admin_state_up)
    }

    fn listener_pools<'s>(&'s self, l: &'s Listener) -> impl Iterator<Item = &'s Pool> + 's {
        self.input
            .pools
            .iter()
            .filter(move |p| live(p.provisioning_status) && p.listener_ids.contains(&l.id))
    }
}

fn haproxy_listeners<'i>(input: &'i HaproxyInput<'_>) -> impl Iterator<Item = &'i Listener> {
    input.listeners.iter().filter(|l| !l.protocol.is_lvs())
}

/// Global `maxconn`: the sum of enabled haproxy listeners' limits (-1 or 0
/// counting the default connection limit), or [`HAPROXY_MAX_MAXCONN`] when
/// that is 0 or not below it.
fn global_connection_limit(input: &HaproxyInput<'_>) -> i64 {
    let sum: i64 = haproxy_listeners(input)
        .filter(|l| l.admin_state_up)
        .map(|l| listener_limit(input, l))
        .sum();
    if 0 < sum && sum < HAPROXY_MAX_MAXCONN {
        sum
    } else {
        HAPROXY_MAX_MAXCONN
    }
}

fn listener_limit(input: &HaproxyInput<'_>, l: &Listener) -> i64 {
    if l.connection_limit > 0 {
        l.connection_limit
    } else {
        input.options.default_connection_limit
    }
}

fn or_default(v: i64, d: i64) -> i64 {
    if v != 0 { v } else { d }
}

/// Renders haproxy.cfg for `input.amphora_id`.
pub fn haproxy(input: &HaproxyInput<'_>) -> String {
    let lb = input.load_balancer;
    let o = &input.options;
    let ctx = Ctx {
        input,
        lb_dir: format!("{}/{}", input.paths.cert_dir, lb.id),
    };
    let maxconn = global_connection_limit(input);
    let mut s = String::new();
    let _ = writeln!(s, "# Configuration for loadbalancer {}", lb.id);
    s.push_str("global\n    daemon\n    user nobody\n");
    let _ = writeln!(
        s,
        "    log {} local{}",
        o.log_http
            .filter(|x| !x.is_empty())
            .unwrap_or(DEFAULT_LOG_TARGET),
        o.user_log_facility
    );
    let _ = writeln!(
        s,
        "    log {} local{} notice",
        o.log_server
            .filter(|x| !x.is_empty())
            .unwrap_or(DEFAULT_LOG_TARGET),
        o.administrative_log_facility
    );
    let _ = writeln!(
        s,
        "    stats socket {} mode 0666 level user",
        input.paths.stats_socket
    );
    if o.server_state_file {
        let _ = writeln!(
            s,
            "    server-state-file {}/{}/servers-state",
            input.paths.base_path, lb.id
        );
    }
    let _ = writeln!(s, "    maxconn {maxconn}");
    if haproxy_listeners(input).any(|l| l.protocol == Protocol::TerminatedHttps)
        && let Some(m) = o.memory
    {
        let ssl_cache_kb = (m.free + m.buffers + m.cached - 32 * maxconn) * 2 / 5;
        if ssl_cache_kb > 5000 {
            let _ = writeln!(s, "    tune.ssl.cachesize {}", ssl_cache_kb * 4);
        }
    }
    if let Some(n) = o.cpu_count.filter(|n| *n > 1) {
        let _ = writeln!(s, "    nbthread {}", n - 1);
        let _ = writeln!(s, "    cpu-map auto:1/1-{0} 1-{0}", n - 1);
    }
    let ping = haproxy_listeners(input)
        .filter(|l| l.admin_state_up)
        .any(|l| {
            ctx.listener_pools(l).filter(|p| p.admin_state_up).any(|p| {
                ctx.enabled_monitor(p)
                    .is_some_and(|h| h.hm_type == HealthMonitorType::Ping)
            })
        });
    if ping {
        s.push_str("    external-check\n    insecure-fork-wanted\n");
    }
    s.push_str("\ndefaults\n");
    s.push_str(if o.connection_logging {
        "    log global\n"
    } else {
        "    no log\n"
    });
    s.push_str(
        "    retries 3\n    option redispatch\n    option splice-request\n    \
         option splice-response\n    option http-keep-alive\n",
    );

    if lb.topology == Topology::ActiveStandby {
        let _ = writeln!(s, "\npeers {}", peers_section_name(&lb.id));
        for p in &input.peers {
            let _ = writeln!(
                s,
                "    peer {} {}:{HAPROXY_BASE_PEER_PORT}",
                peer_name(p.amphora_id),
                p.address
            );
        }
    }

    if haproxy_listeners(input).any(|l| l.protocol == Protocol::Prometheus) {
        s.push_str(
            "\nfrontend prometheus-exporter-internal-endpoint\n    bind 127.0.0.1:9101\n    \
             mode http\n    no log\n    http-request use-service prometheus-exporter if \
             { path /metrics }\n    http-request reject\n    timeout http-request 5s\n    \
             timeout client 5s\nbackend prometheus-exporter-internal\n    mode http\n    \
             no log\n    balance first\n    timeout connect 5s\n    timeout server 5s\n    \
             server prometheus-internal 127.0.0.1:9102\n",
        );
    }

    if lb.admin_state_up {
        for l in haproxy_listeners(input).filter(|l| l.admin_state_up) {
            s.push('\n');
            frontend(&ctx, &mut s, l);
            for p in ctx.listener_pools(l).filter(|p| p.admin_state_up) {
                backend(&ctx, &mut s, l, p);
            }
        }
    }
    s
}

fn listener_tls(l: &Listener) -> bool {
    matches!(l.protocol, Protocol::TerminatedHttps | Protocol::Prometheus)
}

fn frontend(ctx: &Ctx<'_, '_>, s: &mut String, l: &Listener) {
    let input = ctx.input;
    let lb = input.load_balancer;
    let _ = writeln!(s, "frontend {}", l.id);
    let _ = writeln!(s, "    maxconn {}", listener_limit(input, l));
    let tls = listener_tls(l);
    if l.protocol == Protocol::TerminatedHttps {
        s.push_str("    redirect scheme https if !{ ssl_fc }\n");
        if let Some(age) = l.hsts_max_age {
            let mut d = format!("max-age={age};");
            if l.hsts_include_subdomains {
                d.push_str(" includeSubDomains;");
            }
            if l.hsts_preload {
                d.push_str(" preload;");
            }
            let _ = writeln!(
                s,
                "    http-response set-header Strict-Transport-Security \"{d}\""
            );
        }
    }
    // The bind options, shared by the VIP and every additional VIP.
    let mut opts = String::new();
    if l.default_tls_container_ref.is_some() {
        let _ = write!(opts, "ssl crt-list {}/{}.pem", ctx.lb_dir, l.id);
    }
    let client_ca = ctx.cert_path(&l.client_ca_tls_container_ref);
    if let Some(ca) = &client_ca {
        let verify = match l.client_authentication {
            ClientAuthentication::None => "none",
            ClientAuthentication::Optional => "optional",
            ClientAuthentication::Mandatory => "required",
        };
        let _ = write!(opts, " ca-file {ca} verify {verify}");
        if let Some(crl) = ctx.cert_path(&l.client_crl_container_ref) {
            let _ = write!(opts, " crl-file {crl}");
        }
    }
    if tls {
        let ciphers = split_ciphers(l.tls_ciphers.as_deref(), l.tls_versions.as_deref());
        let alpn = l.alpn_protocols.as_ref().map(|a| a.join(","));
        tls_opts(
            &mut opts,
            &ciphers,
            l.tls_versions.as_deref(),
            alpn.as_deref(),
        );
    }
    let opts = opts.trim();
    let vips = std::iter::once(lb.vip.ip_address.as_deref().unwrap_or_default()).chain(
        lb.additional_vips
            .iter()
            .map(|v| v.ip_address.as_deref().unwrap_or_default()),
    );
    for vip in vips {
        let line = format!("bind {vip}:{} {opts}", l.protocol_port);
        let _ = writeln!(s, "    {}", line.trim());
    }
    let mode = protocol_mode(l.protocol);
    let _ = writeln!(s, "    mode {mode}");

    let mut policies: Vec<&L7Policy> = input
        .l7policies
        .iter()
        .filter(|p| p.listener_id == l.id && live(p.provisioning_status) && p.admin_state_up)
        .collect();
    policies.sort_by_key(|p| p.position);
    for p in policies {
        let rules: Vec<&L7Rule> = input
            .l7rules
            .iter()
            .filter(|r| r.l7policy_id == p.id && r.admin_state_up && live(r.provisioning_status))
            .collect();
        if rules.is_empty() {
            continue;
        }
        for r in &rules {
            l7rule(s, r);
        }
        let conds: String = rules
            .iter()
            .map(|r| format!(" {}{}", if r.invert { "!" } else { "" }, r.id))
            .collect();
        let code = p
            .redirect_http_code
            .map(|c| format!(" code {c}"))
            .unwrap_or_default();
        match p.action {
            L7PolicyAction::Reject => {
                let _ = writeln!(s, "    http-request deny if{conds}");
            }
            L7PolicyAction::RedirectToUrl => {
                if let Some(u) = valid_url(&p.redirect_url) {
                    let _ = writeln!(s, "    redirect{code} location {u} if{conds}");
                }
            }
            L7PolicyAction::RedirectPrefix => {
                if let Some(u) = valid_url(&p.redirect_prefix) {
                    let _ = writeln!(s, "    redirect{code} prefix {u} if{conds}");
                }
            }
            L7PolicyAction::RedirectToPool => {
                if let Some(pool) = p.redirect_pool_id.as_deref().and_then(|id| ctx.pool(id))
                    && pool.admin_state_up
                {
                    let _ = writeln!(s, "    use_backend {}:{} if{conds}", pool.id, l.id);
                }
            }
        }
    }
    if let Some(pool) = l.default_pool_id.as_deref().and_then(|id| ctx.pool(id))
        && pool.admin_state_up
        && pool.listener_ids.contains(&l.id)
    {
        let _ = writeln!(s, "    default_backend {}:{}", pool.id, l.id);
    }
    let _ = writeln!(
        s,
        "    timeout client {}",
        or_default(l.timeout_client_data, 50_000)
    );
    if l.timeout_tcp_inspect != 0 {
        let _ = writeln!(s, "    tcp-request inspect-delay {}", l.timeout_tcp_inspect);
    }
    if l.protocol == Protocol::Prometheus {
        s.push_str("    default_backend prometheus-exporter-internal\n");
    }
    if input.options.connection_logging {
        let _ = writeln!(s, "    log-format {}", log_format(input, l.protocol));
    }
}

fn log_format(input: &HaproxyInput<'_>, protocol: Protocol) -> String {
    let lb = input.load_balancer;
    let mut f = input
        .options
        .user_log_format
        .replace("{{ project_id }}", &lb.project_id)
        .replace("{{ lb_id }}", &lb.id);
    if !matches!(protocol, Protocol::Http | Protocol::TerminatedHttps) {
        for pat in ["%{+Q}r", "%r", "%{+Q}ST", "%ST"] {
            f = f.replace(pat, "-");
        }
    }
    f.replace(' ', "\\ ")
}

fn compare(c: L7RuleCompareType, rtype: L7RuleType) -> &'static str {
    match c {
        L7RuleCompareType::Regex => "-m reg",
        L7RuleCompareType::StartsWith => "-m beg",
        L7RuleCompareType::EndsWith => "-m end",
        L7RuleCompareType::Contains => "-m sub",
        // `path_end -m str` does not work (haproxy issue 2567).
        L7RuleCompareType::EqualTo if rtype == L7RuleType::FileType => "",
        L7RuleCompareType::EqualTo => "-m str",
    }
}

fn l7rule(s: &mut String, r: &L7Rule) {
    let m = compare(r.compare_type, r.rule_type);
    let v = escape_value(&r.value);
    let key = r.key.as_deref().unwrap_or("None");
    let id = &r.id;
    let _ = match r.rule_type {
        L7RuleType::HostName => writeln!(s, "        acl {id} req.hdr(host) -i {m} {v}"),
        L7RuleType::Path => writeln!(s, "        acl {id} path {m} {v}"),
        L7RuleType::FileType => writeln!(s, "        acl {id} path_end {m} {v}"),
        L7RuleType::Header => writeln!(s, "        acl {id} req.hdr({key}) {m} {v}"),
        L7RuleType::Cookie => writeln!(s, "        acl {id} req.cook({key}) {m} {v}"),
        L7RuleType::SslConnHasCert => writeln!(s, "        acl {id} ssl_c_used"),
        L7RuleType::SslVerifyResult => writeln!(s, "        acl {id} ssl_c_verify eq {v}"),
        L7RuleType::SslDnField => writeln!(s, "        acl {id} ssl_c_s_dn({key}) {m} {v}"),
    };
}

fn backend(ctx: &Ctx<'_, '_>, s: &mut String, l: &Listener, p: &Pool) {
    let lb = ctx.input.load_balancer;
    let lmode = protocol_mode(l.protocol);
    let pmode = protocol_mode(p.protocol);
    let proxy_version = match p.protocol {
        Protocol::Proxy => Some(1),
        Protocol::ProxyV2 => Some(2),
        _ => None,
    };
    let _ = writeln!(s, "backend {}:{}", p.id, l.id);
    let _ = writeln!(
        s,
        "    mode {}",
        if proxy_version.is_some() {
            lmode
        } else {
            pmode
        }
    );
    if pmode == "http" || (pmode == "proxy" && lmode == "http") {
        s.push_str("    http-reuse safe\n");
    }
    let balance = match p.lb_algorithm {
        LbAlgorithm::LeastConnections => "leastconn",
        LbAlgorithm::SourceIp => "source",
        LbAlgorithm::RoundRobin | LbAlgorithm::SourceIpPort => "roundrobin",
    };
    let _ = writeln!(s, "    balance {balance}");
    let peers = if lb.topology == Topology::ActiveStandby {
        format!(" peers {}", peers_section_name(&lb.id))
    } else {
        String::new()
    };
    let sp = p.session_persistence.as_ref();
    match sp.map(|sp| sp.sp_type) {
        Some(SessionPersistenceType::SourceIp) => {
            let _ = writeln!(s, "    stick-table type ipv6 size {STICK_SIZE}{peers}");
            s.push_str("    stick on src\n");
        }
        Some(SessionPersistenceType::AppCookie) => {
            let cookie = sp
                .and_then(|sp| sp.cookie_name.as_deref())
                .unwrap_or("None");
            let _ = writeln!(
                s,
                "    stick-table type string len 64 size {STICK_SIZE}{peers}"
            );
            let _ = writeln!(s, "    stick store-response res.cook({cookie})");
            let _ = writeln!(s, "    stick match req.cook({cookie})");
        }
        Some(SessionPersistenceType::HttpCookie) => {
            s.push_str("    cookie SRV insert indirect nocache\n");
        }
        None => {}
    }
    let hm = ctx.enabled_monitor(p);
    if let Some(hm) = hm {
        if ctx.input.options.server_state_file {
            s.push_str("    load-server-state-from-file global\n");
        }
        let _ = writeln!(s, "    timeout check {}s", hm.timeout);
        if matches!(
            hm.hm_type,
            HealthMonitorType::Http | HealthMonitorType::Https
        ) {
            let method = hm.http_method.map(|m| m.as_str()).unwrap_or("GET");
            let path = hm.url_path.as_deref().unwrap_or("/");
            match hm.http_version {
                Some(v) if v != 0.0 => {
                    let _ = writeln!(s, "    option httpchk {method} {path} HTTP/{}", py_float(v));
                    if v == 1.1
                        && let Some(d) = hm.domain_name.as_deref().filter(|d| !d.is_empty())
                    {
                        let _ = writeln!(s, "    http-check send hdr Host {d}");
                    }
                }
                _ => {
                    let _ = writeln!(s, "    option httpchk {method} {path}");
                }
            }
            let codes = hm.expected_codes.as_deref().map(expand_codes);
            let codes = codes
                .filter(|c| !c.is_empty())
                .unwrap_or_else(|| "200".into());
            let _ = writeln!(s, "    http-check expect rstatus {codes}");
        }
        if hm.hm_type == HealthMonitorType::Ping {
            s.push_str("    option external-check\n");
            let _ = writeln!(
                s,
                "    external-check command {}/ping-wrapper.sh",
                ctx.input.paths.base_path
            );
        }
    }
    if pmode == "http" {
        if header_on(l, "X-Forwarded-For") {
            s.push_str("    option forwardfor\n");
        }
        if header_on(l, "X-Forwarded-Port") {
            s.push_str("    http-request set-header X-Forwarded-Port %[dst_port]\n");
        }
    }
    if header_on(l, "X-Forwarded-Proto") {
        match l.protocol {
            Protocol::Http => s.push_str("    http-request set-header X-Forwarded-Proto http\n"),
            Protocol::TerminatedHttps => {
                s.push_str("    http-request set-header X-Forwarded-Proto https\n")
            }
            _ => {}
        }
    }
    if l.protocol == Protocol::TerminatedHttps {
        for (h, v) in [
            ("X-SSL-Client-Verify", "%[ssl_c_verify]"),
            ("X-SSL-Client-Has-Cert", "%[ssl_c_used]"),
            ("X-SSL-Client-DN", "%{+Q}[ssl_c_s_dn]"),
            ("X-SSL-Client-CN", "%{+Q}[ssl_c_s_dn(cn)]"),
            ("X-SSL-Issuer", "%{+Q}[ssl_c_i_dn]"),
            ("X-SSL-Client-SHA1", "%{+Q}[ssl_c_sha1,hex]"),
            ("X-SSL-Client-Not-Before", "%{+Q}[ssl_c_notbefore]"),
            ("X-SSL-Client-Not-After", "%{+Q}[ssl_c_notafter]"),
        ] {
            if header_on(l, h) {
                let _ = writeln!(s, "    http-request set-header {h} {v}");
            }
        }
    }
    let _ = writeln!(s, "    fullconn {}", listener_limit(ctx.input, l));
    s.push_str("    option allbackups\n");
    let _ = writeln!(
        s,
        "    timeout connect {}",
        or_default(l.timeout_member_connect, 5000)
    );
    let _ = writeln!(
        s,
        "    timeout server {}",
        or_default(l.timeout_member_data, 50_000)
    );

    // Options shared by every server line of the pool.
    let alpn = if p.tls_enabled {
        p.alpn_protocols.as_ref().map(|a| a.join(","))
    } else {
        None
    };
    let mut tls = String::new();
    if p.tls_enabled {
        tls.push_str(" ssl");
        if let Some(c) = ctx.cert_path(&p.tls_container_ref) {
            let _ = write!(tls, " crt {c}");
        }
        match ctx.cert_path(&p.ca_tls_container_ref) {
            Some(ca) => {
                let _ = write!(tls, " ca-file {ca}");
                // Upstream says `verify required` only with a CRL.
                if let Some(crl) = ctx.cert_path(&p.crl_container_ref) {
                    let _ = write!(tls, " crl-file {crl} verify required");
                }
            }
            None => tls.push_str(" verify none"),
        }
        tls.push_str(" sni ssl_fc_sni");
        let ciphers = split_ciphers(p.tls_ciphers.as_deref(), p.tls_versions.as_deref());
        tls_opts(
            &mut tls,
            &ciphers,
            p.tls_versions.as_deref(),
            alpn.as_deref(),
        );
    }
    let proxy = match proxy_version {
        Some(1) => " send-proxy",
        Some(_) if listener_tls(l) => " send-proxy-v2-ssl-cn",
        Some(_) => " send-proxy-v2",
        None => "",
    };
    let cookie = sp.is_some_and(|sp| sp.sp_type == SessionPersistenceType::HttpCookie);
    for m in ctx
        .input
        .members
        .iter()
        .filter(|m| m.pool_id == p.id && live(m.provisioning_status))
    {
        let mut line = format!(
            "server {} {}:{} weight {}",
            m.id, m.address, m.protocol_port, m.weight
        );
        if let Some(hm) = hm {
            line.push_str(" check");
            if hm.hm_type == HealthMonitorType::Https {
                line.push_str(" check-ssl verify none");
            }
            if let Some(a) = &alpn {
                let _ = write!(line, " check-alpn {a}");
            }
            let _ = write!(
                line,
                " inter {}s fall {} rise {}",
                hm.delay, hm.max_retries_down, hm.max_retries
            );
            if let Some(a) = m.monitor_address.as_deref().filter(|a| !a.is_empty()) {
                let _ = write!(line, " addr {a}");
            }
            if let Some(port) = m.monitor_port.filter(|p| *p != 0) {
                let _ = write!(line, " port {port}");
            }
        }
        if cookie {
            let _ = write!(line, " cookie {}", m.id);
        }
        line.push_str(proxy);
        if m.backup {
            line.push_str(" backup");
        }
        if !m.admin_state_up {
            line.push_str(" disabled");
        }
        line.push_str(&tls);
        let _ = writeln!(s, "    {}", line.trim());
    }
}
