//! The controller's client for the amphora agent API 1.0 (design
//! `docs/design/load-balancing.md` §8.2): HTTP/1 over mutual TLS to
//! `https://{lb_network_ip}:9443/1.0/`, with the rustls configuration of
//! [`neutrino_pki::client_config_for`] (server chain checked against the
//! CA **and** its name checked to be the amphora id, whatever address the
//! connection went to; upstream's `CustomHostNameCheckingAdapter`).
//!
//! Every answer is mapped to a [`StepError`] the flow engine understands:
//!
//! | what | error |
//! |---|---|
//! | connection refused, TLS handshake failure, connect/read timeout | `Transient` (agent not up yet, or restarting) |
//! | 404 that is not JSON (something that is not the agent yet) | `Transient` |
//! | 404 whose `details` contain `No suitable network interface found` | `Transient` (the port is not plugged yet) |
//! | 5xx | `Transient` |
//! | 400, 409, other 4xx | `Permanent`, with the agent's `message: details` |
//!
//! Methods whose "not found" is an answer ([`AgentClient::get_haproxy`],
//! [`AgentClient::cert_md5`], [`AgentClient::interface`]) return `None` for
//! a JSON 404; the deletes treat a JSON 404 as done. Retrying is the
//! engine's business (a `Transient` step runs again with backoff); this
//! client makes one attempt per call.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use neutrino_pki::Issued;
use rustls::pki_types::ServerName;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::net::SocketAddr;
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_rustls::TlsConnector;

use crate::engine::StepError;

/// The agent's port (upstream `[haproxy_amphora] bind_port`).
pub const AGENT_PORT: u16 = 9443;

/// Upstream's user agent, verbatim: agents (and operators' logs) know it.
pub const USER_AGENT: &str =
    "Octavia HaProxy Rest Client/1.0 (https://wiki.openstack.org/wiki/Octavia)";

/// Upstream's `[haproxy_amphora] rest_request_conn_timeout`.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Upstream's `[haproxy_amphora] rest_request_read_timeout`.
pub const READ_TIMEOUT: Duration = Duration::from_secs(60);

const NOT_PLUGGED: &str = "No suitable network interface found";

/// `GET /1.0/info`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentInfo {
    #[serde(default)]
    pub hostname: String,
    #[serde(default)]
    pub haproxy_version: String,
    #[serde(default)]
    pub api_version: String,
}

impl AgentInfo {
    /// `(major, minor)` of `haproxy_version` (`"2.6.12-1"` → `(2, 6)`), as
    /// the renderer needs it; `None` when unparsable.
    pub fn haproxy_major_minor(&self) -> Option<(u32, u32)> {
        let mut it = self.haproxy_version.split(['.', '-']);
        let major = it.next()?.parse().ok()?;
        let minor = it.next()?.parse().ok()?;
        Some((major, minor))
    }
}

/// `PUT /1.0/loadbalancer/{lb_id}/{action}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HaproxyAction {
    Start,
    Stop,
    Reload,
}

impl HaproxyAction {
    pub fn as_str(self) -> &'static str {
        match self {
            HaproxyAction::Start => "start",
            HaproxyAction::Stop => "stop",
            HaproxyAction::Reload => "reload",
        }
    }
}

/// `GET /1.0/loadbalancer/{lb_id}/haproxy`: the stored configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HaproxyConfig {
    pub text: String,
    /// The md5 of the text, as the agent computed it (`ETag`).
    pub etag: Option<String>,
}

/// What `POST /1.0/plug/vip/{vip}` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VipPlugged {
    /// Plugged now; the agent's `details`.
    Plugged(String),
    /// 409 `Interface already exists`: an earlier run of the step did it
    /// (upstream's driver also takes this as success).
    AlreadyPlugged,
}

/// A client for one amphora's agent. Cheap to clone. One connection per
/// call (HTTP/1.1 over rustls with hyper): calls are few and far between,
/// and a fresh handshake re-checks the agent's certificate each time.
#[derive(Clone)]
pub struct AgentClient {
    amphora_id: String,
    /// `https://{ip}:{port}` (IPv6 bracketed), no trailing slash.
    root: String,
    addr: SocketAddr,
    /// `{ip}:{port}` as the `Host` header.
    host: String,
    tls: TlsConnector,
    connect_timeout: Duration,
    read_timeout: Duration,
    /// How the TCP connection is made: `None` from this process's network
    /// namespace; otherwise, for instance, from the controller's
    /// management namespace (see [`super::local::NetnsSockets`]).
    connector: Option<Connector>,
}

/// Opens a TCP connection to an agent.
pub type Connector = Arc<
    dyn Fn(SocketAddr) -> futures::future::BoxFuture<'static, std::io::Result<TcpStream>>
        + Send
        + Sync,
>;

impl std::fmt::Debug for AgentClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentClient")
            .field("amphora_id", &self.amphora_id)
            .field("root", &self.root)
            .finish()
    }
}

impl AgentClient {
    /// The client for amphora `amphora_id` at `lb_network_ip` on
    /// [`AGENT_PORT`], authenticating with the controller certificate and
    /// trusting only `ca_pem`-issued certificates naming `amphora_id`.
    pub fn new(
        amphora_id: &str,
        lb_network_ip: IpAddr,
        controller: &Issued,
        ca_pem: &str,
    ) -> Result<Self, StepError> {
        Self::with_port(amphora_id, lb_network_ip, AGENT_PORT, controller, ca_pem)
    }

    /// [`AgentClient::new`] on another port (tests, local agents).
    pub fn with_port(
        amphora_id: &str,
        lb_network_ip: IpAddr,
        port: u16,
        controller: &Issued,
        ca_pem: &str,
    ) -> Result<Self, StepError> {
        let tls = neutrino_pki::client_config_for(controller, ca_pem, amphora_id)
            .map_err(|e| StepError::permanent(format!("agent TLS for {amphora_id}: {e}")))?;
        Self::with_tls(
            amphora_id,
            lb_network_ip,
            port,
            tls,
            CONNECT_TIMEOUT,
            READ_TIMEOUT,
        )
    }

    /// The general constructor: a ready rustls configuration (it alone
    /// decides which server certificates are accepted) and timeouts.
    pub fn with_tls(
        amphora_id: &str,
        lb_network_ip: IpAddr,
        port: u16,
        tls: Arc<rustls::ClientConfig>,
        connect_timeout: Duration,
        read_timeout: Duration,
    ) -> Result<Self, StepError> {
        let host = match lb_network_ip {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => format!("[{v6}]"),
        };
        Ok(AgentClient {
            amphora_id: amphora_id.to_owned(),
            root: format!("https://{host}:{port}"),
            addr: SocketAddr::new(lb_network_ip, port),
            host: format!("{host}:{port}"),
            tls: TlsConnector::from(tls),
            connect_timeout,
            read_timeout,
            connector: None,
        })
    }

    /// A shorter connect timeout, for polling an agent that is starting:
    /// a connect lost while the data plane sets up the path would else
    /// wait for the kernel's 1 s SYN retry.
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Connect through `connector` instead of from this process's
    /// network namespace.
    pub fn with_connector(mut self, connector: Connector) -> Self {
        self.connector = Some(connector);
        self
    }

    pub fn amphora_id(&self) -> &str {
        &self.amphora_id
    }

    /// `https://{ip}:{port}/1.0/`.
    pub fn base_url(&self) -> String {
        format!("{}/1.0/", self.root)
    }

    /// `GET /`: the API version the agent speaks (`"1.0"`).
    pub async fn api_version(&self) -> Result<String, StepError> {
        let r = self.call(Method::GET, "/", None, None).await?;
        let v = r.ok_json()?;
        Ok(v["api_version"].as_str().unwrap_or_default().to_owned())
    }

    /// `GET /1.0/info`.
    pub async fn info(&self) -> Result<AgentInfo, StepError> {
        let v = self.get_json("info").await?;
        serde_json::from_value(v).map_err(|e| self.bad_answer("info", e))
    }

    /// `GET /1.0/details`, as the agent sent it.
    pub async fn details(&self) -> Result<Value, StepError> {
        self.get_json("details").await
    }

    /// `PUT /1.0/loadbalancer/{amphora_id}/{lb_id}/haproxy`. A config
    /// haproxy refuses is `Permanent` with haproxy's output (the agent
    /// keeps serving the previous one).
    pub async fn upload_haproxy(&self, lb_id: &str, cfg: &str) -> Result<(), StepError> {
        let path = format!("loadbalancer/{}/{lb_id}/haproxy", self.amphora_id);
        self.api(Method::PUT, &path, Some(cfg.to_owned()), None)
            .await?
            .ok_json()
            .map(drop)
    }

    /// `PUT /1.0/loadbalancer/{lb_id}/{start|stop|reload}`; the agent's
    /// `details` on success.
    pub async fn haproxy_action(
        &self,
        lb_id: &str,
        action: HaproxyAction,
    ) -> Result<String, StepError> {
        let path = format!("loadbalancer/{lb_id}/{}", action.as_str());
        let v = self.api(Method::PUT, &path, None, None).await?.ok_json()?;
        Ok(details_of(&v))
    }

    /// `GET /1.0/loadbalancer/{lb_id}/haproxy`; `None` when the agent
    /// has no configuration for that load balancer.
    pub async fn get_haproxy(&self, lb_id: &str) -> Result<Option<HaproxyConfig>, StepError> {
        let path = format!("loadbalancer/{lb_id}/haproxy");
        let r = self.api(Method::GET, &path, None, None).await?;
        if r.is_json_404() {
            return Ok(None);
        }
        let etag = r.etag.clone();
        let text = r.ok_text()?;
        Ok(Some(HaproxyConfig { text, etag }))
    }

    /// `DELETE /1.0/listeners/{lb_id}`: stops and forgets that load
    /// balancer's haproxy; done when already gone.
    pub async fn delete_listener(&self, lb_id: &str) -> Result<(), StepError> {
        let path = format!("listeners/{lb_id}");
        let r = self.api(Method::DELETE, &path, None, None).await?;
        if r.is_json_404() {
            return Ok(());
        }
        r.ok_json().map(drop)
    }

    /// `PUT /1.0/loadbalancer/{lb_id}/certificates/{filename}`.
    pub async fn upload_cert(
        &self,
        lb_id: &str,
        filename: &str,
        pem: &str,
    ) -> Result<(), StepError> {
        let path = format!("loadbalancer/{lb_id}/certificates/{filename}");
        self.api(Method::PUT, &path, Some(pem.to_owned()), None)
            .await?
            .ok_json()
            .map(drop)
    }

    /// `GET /1.0/loadbalancer/{lb_id}/certificates/{filename}`: the md5
    /// (hex) of the stored PEM; `None` when there is none.
    pub async fn cert_md5(&self, lb_id: &str, filename: &str) -> Result<Option<String>, StepError> {
        let path = format!("loadbalancer/{lb_id}/certificates/{filename}");
        let r = self.api(Method::GET, &path, None, None).await?;
        if r.is_json_404() {
            return Ok(None);
        }
        let v = r.ok_json()?;
        match v["md5sum"].as_str() {
            Some(s) => Ok(Some(s.to_owned())),
            None => Err(self.bad_answer("certificate md5", "no md5sum")),
        }
    }

    /// `DELETE /1.0/loadbalancer/{lb_id}/certificates/{filename}`; done
    /// when already gone.
    pub async fn delete_cert(&self, lb_id: &str, filename: &str) -> Result<(), StepError> {
        let path = format!("loadbalancer/{lb_id}/certificates/{filename}");
        let r = self.api(Method::DELETE, &path, None, None).await?;
        if r.is_json_404() {
            return Ok(());
        }
        r.ok_json().map(drop)
    }

    /// `PUT /1.0/certificate`: the agent's new server certificate + key
    /// (PEM); handshakes after it present the new one.
    pub async fn rotate_cert(&self, pem: &str) -> Result<(), StepError> {
        self.api(Method::PUT, "certificate", Some(pem.to_owned()), None)
            .await?
            .ok_json()
            .map(drop)
    }

    /// `PUT /1.0/vrrp/upload`: keepalived's configuration (ACTIVE_STANDBY).
    pub async fn upload_vrrp(&self, cfg: &str) -> Result<(), StepError> {
        self.api(Method::PUT, "vrrp/upload", Some(cfg.to_owned()), None)
            .await?
            .ok_json()
            .map(drop)
    }

    /// `PUT /1.0/vrrp/{start|stop|reload}`.
    pub async fn vrrp_action(&self, action: HaproxyAction) -> Result<(), StepError> {
        self.api(
            Method::PUT,
            &format!("vrrp/{}", action.as_str()),
            None,
            None,
        )
        .await?
        .ok_json()
        .map(drop)
    }

    /// `PUT /1.0/config`: the agent's own configuration file.
    pub async fn update_config(&self, text: &str) -> Result<(), StepError> {
        self.api(Method::PUT, "config", Some(text.to_owned()), None)
            .await?
            .ok_json()
            .map(drop)
    }

    /// `POST /1.0/plug/vip/{vip}` with `{subnet_cidr, gateway, mac_address,
    /// …}`. A 404 `No suitable network interface found` (the port is not
    /// there yet) is `Transient`; 409 (already plugged) is success.
    pub async fn plug_vip(&self, vip: IpAddr, body: &Value) -> Result<VipPlugged, StepError> {
        let path = format!("plug/vip/{vip}");
        let r = self
            .api(
                Method::POST,
                &path,
                Some(body.to_string()),
                Some("application/json"),
            )
            .await?;
        if r.status == StatusCode::CONFLICT {
            return Ok(VipPlugged::AlreadyPlugged);
        }
        let v = r.ok_json()?;
        Ok(VipPlugged::Plugged(details_of(&v)))
    }

    /// `POST /1.0/plug/network` with `{mac_address, fixed_ips, mtu, …}`;
    /// the agent's `details` (`Plugged on interface {if}`).
    pub async fn plug_network(&self, body: &Value) -> Result<String, StepError> {
        let r = self
            .api(
                Method::POST,
                "plug/network",
                Some(body.to_string()),
                Some("application/json"),
            )
            .await?;
        let v = r.ok_json()?;
        Ok(details_of(&v))
    }

    /// `GET /1.0/interface/{ip}`: the interface holding `ip`; `None` when
    /// none does.
    pub async fn interface(&self, ip: IpAddr) -> Result<Option<String>, StepError> {
        let path = format!("interface/{ip}");
        let r = self.api(Method::GET, &path, None, None).await?;
        if r.is_json_404() {
            return Ok(None);
        }
        let v = r.ok_json()?;
        match v["interface"].as_str() {
            Some(s) => Ok(Some(s.to_owned())),
            None => Err(self.bad_answer("interface", "no interface")),
        }
    }

    async fn get_json(&self, path: &str) -> Result<Value, StepError> {
        self.api(Method::GET, path, None, None).await?.ok_json()
    }

    async fn api(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
        content_type: Option<&str>,
    ) -> Result<Answer, StepError> {
        self.call(method, &format!("/1.0/{path}"), body, content_type)
            .await
    }

    /// One request. Transport failures are `Transient`, as is an answer
    /// that says the agent (or the interface asked for) is not there yet;
    /// every other answer is handed back for the method to judge.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
        content_type: Option<&str>,
    ) -> Result<Answer, StepError> {
        let url = format!("{}{path}", self.root);
        let what = format!("{method} {url}");
        let (parts, bytes) = self
            .exchange(method, path, body, content_type)
            .await
            .map_err(|e| StepError::transient(format!("{what}: {e}")))?;
        let status = parts.status;
        let header = |name: header::HeaderName| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let is_json = header(header::CONTENT_TYPE)
            .is_some_and(|ct| ct.trim_start().starts_with("application/json"));
        let etag = header(header::ETAG).map(|e| e.trim_matches('"').to_owned());
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let json = if is_json {
            serde_json::from_str(&text).ok()
        } else {
            None
        };
        let answer = Answer {
            what,
            status,
            json,
            text,
            etag,
        };
        if status == StatusCode::NOT_FOUND {
            if answer.json.is_none() {
                return Err(StepError::transient(format!(
                    "{}: agent not ready (404 without JSON)",
                    answer.what
                )));
            }
            if answer.details().contains(NOT_PLUGGED) {
                return Err(StepError::transient(format!(
                    "{}: {} (not plugged yet)",
                    answer.what,
                    answer.message()
                )));
            }
        }
        if status.is_server_error() {
            return Err(StepError::transient(answer.describe()));
        }
        Ok(answer)
    }

    /// Connect, handshake (the name check is the TLS config's), send, read.
    /// Any failure before a whole answer is a transport failure, all
    /// `Transient`: the agent may still be booting or restarting, a
    /// management address may still be held by an amphora being replaced;
    /// the step's attempt budget bounds the retries (upstream also retries
    /// `requests`' `ConnectionError`, `SSLError` included).
    async fn exchange(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
        content_type: Option<&str>,
    ) -> Result<(hyper::http::response::Parts, Bytes), String> {
        let connect = match &self.connector {
            Some(c) => c(self.addr),
            None => Box::pin(TcpStream::connect(self.addr)),
        };
        let tcp = timeout(self.connect_timeout, connect)
            .await
            .map_err(|_| "timed out: connect".to_string())?
            .map_err(|e| format!("cannot connect: {}", chain(&e)))?;
        let name = ServerName::IpAddress(self.addr.ip().into());
        let tls = timeout(self.connect_timeout, self.tls.connect(name, tcp))
            .await
            .map_err(|_| "timed out: TLS handshake".to_string())?
            .map_err(|e| format!("cannot connect: TLS: {}", chain(&e)))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| format!("cannot connect: {}", chain(&e)))?;
        let driver = tokio::spawn(conn);
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, &self.host)
            .header(header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
        if let Some(ct) = content_type {
            req = req.header(header::CONTENT_TYPE, ct);
        }
        let req = req
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| e.to_string())?;
        let answer = async {
            let resp = sender.send_request(req).await.map_err(|e| chain(&e))?;
            let (parts, body) = resp.into_parts();
            let bytes = body.collect().await.map_err(|e| chain(&e))?.to_bytes();
            Ok::<_, String>((parts, bytes))
        };
        let out = timeout(self.read_timeout, answer)
            .await
            .map_err(|_| "timed out: reading the answer".to_string())?;
        driver.abort();
        out
    }

    fn bad_answer(&self, what: &str, e: impl std::fmt::Display) -> StepError {
        StepError::permanent(format!(
            "agent of amphora {}: unexpected {what} answer: {e}",
            self.amphora_id
        ))
    }
}

/// The chain of an error as one line (the useful part, ECONNREFUSED or
/// the rustls error, is usually a source).
fn chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}

fn details_of(v: &Value) -> String {
    match &v["details"] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

struct Answer {
    what: String,
    status: StatusCode,
    json: Option<Value>,
    text: String,
    etag: Option<String>,
}

impl Answer {
    fn is_json_404(&self) -> bool {
        self.status == StatusCode::NOT_FOUND && self.json.is_some()
    }

    fn message(&self) -> String {
        self.json
            .as_ref()
            .and_then(|v| v["message"].as_str())
            .unwrap_or_default()
            .to_owned()
    }

    fn details(&self) -> String {
        self.json.as_ref().map(details_of).unwrap_or_default()
    }

    /// `{what}: {status}: {message}: {details}` (or the raw body).
    fn describe(&self) -> String {
        let body = if self.json.is_some() {
            let (m, d) = (self.message(), self.details());
            match (m.is_empty(), d.is_empty()) {
                (false, false) => format!("{m}: {d}"),
                (false, true) => m,
                (true, false) => d,
                (true, true) => self.text.clone(),
            }
        } else {
            self.text.clone()
        };
        format!("{}: {}: {}", self.what, self.status, body.trim_end())
    }

    /// The error for an answer the method did not expect: 4xx are
    /// `Permanent` (400 invalid config/request, 409 conflict, 404 of a
    /// thing that should exist); anything else odd too.
    fn error(&self) -> StepError {
        StepError::permanent(self.describe())
    }

    fn ok_json(self) -> Result<Value, StepError> {
        if !self.status.is_success() {
            return Err(self.error());
        }
        match self.json {
            Some(v) => Ok(v),
            None => serde_json::from_str(&self.text).map_err(|e| {
                StepError::permanent(format!("{}: not JSON: {e}: {}", self.what, self.text))
            }),
        }
    }

    fn ok_text(self) -> Result<String, StepError> {
        if !self.status.is_success() {
            return Err(self.error());
        }
        Ok(self.text)
    }
}
