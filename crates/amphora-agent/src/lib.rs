//! The amphora agent: Octavia's amphora REST API 1.0 (design
//! `docs/design/load-balancing.md` §8.2), served over mutual TLS on
//! `[::]:9443` inside an amphora. It manages haproxy (one daemon per load
//! balancer, config validated with `haproxy -c`), per-LB certificates,
//! keepalived, and the VIP/member interfaces (`ip`).
//!
//! Everything the agent writes lives under [`AgentConfig::base_dir`].

pub mod advertise;
mod agent_conf;
mod api;
mod haproxy;
pub mod heartbeat;
mod keepalived;
mod net;
mod sysinfo;
mod tls;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;

pub use api::router;
pub use keepalived::check_script_path as vrrp_check_script_path;
pub use tls::ServerTls;

/// The agent's configuration file (`neutrino amphora-agent --config <file>`, TOML).
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct AgentConfig {
    /// The amphora's id (haproxy's local peer name is derived from it).
    pub amphora_id: String,
    /// Root of everything the agent writes: haproxy configs and pid files,
    /// certificates, keepalived config, the server certificate.
    pub base_dir: PathBuf,
    /// Listen address (upstream `[haproxy_amphora] bind_host:bind_port`).
    #[serde(default = "default_bind")]
    pub bind: SocketAddr,
    /// The agent's own config file, rewritten by `PUT /1.0/config` (with a
    /// TOML body as sent; upstream's INI `amphora-agent.conf` updates only
    /// `[heartbeat]`); must be under `base_dir` (otherwise that call
    /// answers 500).
    #[serde(default)]
    pub config_file: Option<PathBuf>,
    #[serde(default = "default_haproxy")]
    pub haproxy_cmd: PathBuf,
    #[serde(default = "default_ip")]
    pub ip_cmd: PathBuf,
    #[serde(default = "default_keepalived")]
    pub keepalived_cmd: PathBuf,
    /// Network namespace for the VIP/member interfaces, haproxy and
    /// keepalived (upstream `amphora-haproxy`); `None` = the agent's own.
    #[serde(default)]
    pub inner_namespace: Option<String>,
    /// `SINGLE` or `ACTIVE_STANDBY` (reported by `/details`).
    #[serde(default = "default_topology")]
    pub topology: String,
    /// Server certificate + key PEM and the controller CA, for [`run`].
    #[serde(default)]
    pub tls: Option<TlsFiles>,
    /// Heartbeat settings (read by the heartbeat sender; rewritten with the file).
    #[serde(default)]
    pub heartbeat: HeartbeatConfig,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct TlsFiles {
    /// PEM with the server certificate (chain) and its private key.
    pub server_cert: PathBuf,
    /// PEM of the CA client certificates must chain to.
    pub client_ca: PathBuf,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct HeartbeatConfig {
    #[serde(default)]
    pub controller_ip_port_list: Vec<String>,
    #[serde(default)]
    pub heartbeat_key: Option<String>,
    #[serde(default)]
    pub heartbeat_interval: Option<u64>,
}

fn default_bind() -> SocketAddr {
    "[::]:9443".parse().expect("literal")
}
fn default_haproxy() -> PathBuf {
    "haproxy".into()
}
fn default_ip() -> PathBuf {
    "ip".into()
}
fn default_keepalived() -> PathBuf {
    "keepalived".into()
}
fn default_topology() -> String {
    "SINGLE".into()
}

impl AgentConfig {
    /// A configuration with defaults for everything but the id and base dir.
    pub fn new(amphora_id: impl Into<String>, base_dir: impl Into<PathBuf>) -> Self {
        AgentConfig {
            amphora_id: amphora_id.into(),
            base_dir: base_dir.into(),
            bind: default_bind(),
            config_file: None,
            haproxy_cmd: default_haproxy(),
            ip_cmd: default_ip(),
            keepalived_cmd: default_keepalived(),
            inner_namespace: None,
            topology: default_topology(),
            tls: None,
            heartbeat: HeartbeatConfig::default(),
        }
    }

    /// Reads a TOML config file; `config_file` defaults to its own path.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut cfg: AgentConfig = toml::from_str(&text).map_err(|e| {
            // toml's Display draws the offending line over several lines;
            // operators get one: `file:line:col: message`.
            let at = e.span().map_or(String::new(), |span| {
                let before = text.get(..span.start).unwrap_or(&text);
                let line = before.matches('\n').count() + 1;
                let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                format!(":{line}:{col}")
            });
            format!("{}{at}: {}", path.display(), e.message().trim())
        })?;
        if cfg.config_file.is_none() {
            // Absolute, so that `PUT /1.0/config` finds it under base_dir.
            cfg.config_file =
                Some(std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()));
        }
        Ok(cfg)
    }
}

/// Receives the PEM of `PUT /1.0/certificate` (certificate + key); an
/// error string rejects it (400) and nothing is written.
pub type CertificateHook = Arc<dyn Fn(&[u8]) -> Result<(), String> + Send + Sync>;
/// Called after `PUT /1.0/config` rewrote the file, with its new text.
pub type ConfigHook = Arc<dyn Fn(&str) + Send + Sync>;

/// What the embedding process plugs into the agent.
#[derive(Clone, Default)]
pub struct Hooks {
    pub on_certificate: Option<CertificateHook>,
    pub on_config: Option<ConfigHook>,
}

/// Serves the agent API on `listener` until `stop` resolves; TLS when
/// `tls` is given (the caller's config decides client-certificate checks).
pub async fn serve(
    config: AgentConfig,
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    stop: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with_hooks(config, Hooks::default(), listener, tls, stop).await
}

/// [`serve`] with callbacks for `PUT /1.0/certificate` and `PUT /1.0/config`.
/// Both also run the heartbeat sender (design §8.5) with
/// `config.heartbeat`, as `PUT /1.0/config` changes it, until they return.
pub async fn serve_with_hooks(
    config: AgentConfig,
    hooks: Hooks,
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    stop: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    std::fs::create_dir_all(&config.base_dir)?;
    let (hooks, heartbeat) = with_heartbeat_reload(&config, hooks);
    // Aborted when this function returns or is dropped.
    let _sender = AbortOnDrop(tokio::spawn(heartbeat::sender::run(
        config.clone(),
        heartbeat,
    )));
    let app = tower::ServiceExt::map_request(router(config, hooks), merge_slashes);
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let mut stop = std::pin::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut stop => return Ok(()),
            r = listener.accept() => match r {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "amphora agent accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let app = app.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let svc = hyper_util::service::TowerToHyperService::new(app);
            let http = hyper::server::conn::http1::Builder::new();
            let res = match acceptor {
                None => {
                    http.serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                        .await
                }
                Some(acc) => match tokio::time::timeout(
                    std::time::Duration::from_secs(10),
                    acc.accept(stream),
                )
                .await
                {
                    Ok(Ok(tls)) => {
                        http.serve_connection(hyper_util::rt::TokioIo::new(tls), svc)
                            .await
                    }
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => return,
                },
            };
            if let Err(e) = res {
                tracing::debug!(%peer, error = %e, "agent connection ended with error");
            }
        });
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The heartbeat settings as `PUT /1.0/config` changes them: `hooks`
/// with an `on_config` that also publishes the new file's `[heartbeat]`
/// (after the embedder's own hook, if any).
fn with_heartbeat_reload(
    config: &AgentConfig,
    mut hooks: Hooks,
) -> (Hooks, tokio::sync::watch::Receiver<HeartbeatConfig>) {
    let (tx, rx) = tokio::sync::watch::channel(config.heartbeat.clone());
    let theirs = hooks.on_config.take();
    hooks.on_config = Some(Arc::new(move |text: &str| {
        if let Some(hook) = &theirs {
            hook(text);
        }
        // The handler wrote only a text that parses as a config.
        match toml::from_str::<AgentConfig>(text) {
            Ok(c) => {
                tx.send_replace(c.heartbeat);
            }
            Err(e) => tracing::warn!(error = %e.message(), "new agent configuration not read"),
        }
    }));
    (hooks, rx)
}

/// `//1.0/info` → `/1.0/info`, as werkzeug (upstream's server) treats it:
/// Octavia's client asks for `GET https://ip:9443//` for the version.
fn merge_slashes<B>(mut req: axum::http::Request<B>) -> axum::http::Request<B> {
    let pq = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    if pq.contains("//") {
        let (path, query) = pq.split_once('?').map_or((pq, None), |(p, q)| (p, Some(q)));
        let mut merged = String::with_capacity(pq.len());
        for c in path.chars() {
            if !(c == '/' && merged.ends_with('/')) {
                merged.push(c);
            }
        }
        if let Some(q) = query {
            merged.push('?');
            merged.push_str(q);
        }
        if let Ok(pq) = merged.parse() {
            let mut parts = req.uri().clone().into_parts();
            parts.path_and_query = Some(pq);
            if let Ok(uri) = axum::http::Uri::from_parts(parts) {
                *req.uri_mut() = uri;
            }
        }
    }
    req
}

/// The `neutrino amphora-agent --config <file>` entry: loads the file,
/// binds, and serves with the given TLS config (built by the caller from
/// `config.tls`, e.g. with neutrino-pki) until `stop`.
pub async fn run(
    config_path: &Path,
    tls: Option<Arc<rustls::ServerConfig>>,
    hooks: Hooks,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let config = AgentConfig::load(config_path)?;
    let listener = TcpListener::bind(config.bind)
        .await
        .map_err(|e| format!("bind {}: {e}", config.bind))?;
    serve_with_hooks(config, hooks, listener, tls, stop)
        .await
        .map_err(|e| e.to_string())
}

/// The whole `neutrino amphora-agent --config <file>` entry: loads the
/// file, its `[tls]` files ([`ServerTls::load`]), binds `config.bind` and
/// serves over mTLS until `stop`, `PUT /1.0/certificate` replacing the
/// certificate new handshakes present.
pub async fn run_mtls(
    config_path: &Path,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let config = AgentConfig::load(config_path)?;
    let tls = ServerTls::load(&config).map_err(|e| format!("{}: {e}", config_path.display()))?;
    let listener = TcpListener::bind(config.bind)
        .await
        .map_err(|e| format!("bind {}: {e}", config.bind))?;
    tracing::info!(bind = %config.bind, amphora_id = %config.amphora_id, "amphora agent serving (mTLS)");
    let hooks = Hooks {
        on_certificate: Some(tls.certificate_hook()),
        on_config: None,
    };
    serve_with_hooks(config, hooks, listener, Some(tls.server_config), stop)
        .await
        .map_err(|e| e.to_string())
}
