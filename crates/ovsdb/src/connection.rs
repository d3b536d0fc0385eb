//! One JSON-RPC connection to an OVSDB server.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value as Json, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::AbortHandle;
use tracing::{debug, trace, warn};

use crate::endpoint::{Endpoint, Remote};
use crate::error::Error;
use crate::monitor::{MonitorRequest, TableUpdates};
use crate::op::{Op, OpResult, parse_transact_result};
use crate::schema::Schema;

/// How long connecting to one remote may take before the next one is tried.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// An `update`/`update2`/`update3` notification: the monitor id given to
/// [`Connection::monitor_cond`] and what changed.
pub type Update = (Json, TableUpdates);

/// Receives the notifications of a connection (see [`Connection::updates`]); yields
/// `None` once the connection is closed.
pub type UpdateReceiver = mpsc::UnboundedReceiver<Update>;

type Reply = Result<Json, Error>;

struct Inner {
    remote: Remote,
    next_id: AtomicU64,
    pending: Mutex<HashMap<u64, oneshot::Sender<Reply>>>,
    subscribers: Mutex<Vec<mpsc::UnboundedSender<Update>>>,
    out: mpsc::UnboundedSender<Vec<u8>>,
    closed: watch::Sender<bool>,
    tasks: Mutex<Vec<AbortHandle>>,
}

impl Inner {
    fn shutdown(&self, why: &str) {
        if self.closed.send_replace(true) {
            return;
        }
        debug!(remote = %self.remote, why, "OVSDB connection closed");
        let pending: Vec<_> = lock(&self.pending).drain().collect();
        for (_, tx) in pending {
            let _ = tx.send(Err(Error::Disconnected));
        }
        lock(&self.subscribers).clear();
        for task in lock(&self.tasks).drain(..) {
            task.abort();
        }
    }

    fn send_json(&self, message: &Json) -> Result<(), Error> {
        let bytes = serde_json::to_vec(message)?;
        trace!(remote = %self.remote, message = %message, "→");
        self.out.send(bytes).map_err(|_| Error::Disconnected)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The data under these locks stays consistent whatever panicked while holding them.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Closes the connection when the last clone of the [`Connection`] is dropped.
struct CloseOnDrop(Arc<Inner>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.shutdown("dropped");
    }
}

/// A connection to an OVSDB server. Cheap to clone; all clones share one socket, whose
/// single reader task matches replies to requests by id, answers the server's `echo`
/// requests and forwards update notifications to [`Connection::updates`] receivers.
/// Dropping the last clone closes it.
#[derive(Clone)]
pub struct Connection {
    inner: Arc<Inner>,
    _guard: Arc<CloseOnDrop>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("remote", &self.inner.remote)
            .field("closed", &self.is_closed())
            .finish()
    }
}

type BoxRead = Box<dyn AsyncRead + Send + Unpin>;
type BoxWrite = Box<dyn AsyncWrite + Send + Unpin>;

async fn open(remote: &Remote) -> std::io::Result<(BoxRead, BoxWrite)> {
    match remote {
        Remote::Unix(path) => {
            let (r, w) = tokio::net::UnixStream::connect(path).await?.into_split();
            Ok((Box::new(r), Box::new(w)))
        }
        Remote::Tcp { host, port } => {
            let stream = tokio::net::TcpStream::connect((host.as_str(), *port)).await?;
            stream.set_nodelay(true)?;
            let (r, w) = stream.into_split();
            Ok((Box::new(r), Box::new(w)))
        }
    }
}

impl Connection {
    /// Connects to the first remote of `ep` that accepts (trying each in order, each for
    /// at most [`DEFAULT_CONNECT_TIMEOUT`]).
    pub async fn connect(ep: &Endpoint) -> Result<Connection, Error> {
        Self::connect_timeout(ep, DEFAULT_CONNECT_TIMEOUT).await
    }

    /// [`Connection::connect`] with a per-remote timeout.
    pub async fn connect_timeout(ep: &Endpoint, timeout: Duration) -> Result<Connection, Error> {
        let mut last = std::io::Error::other("no remote to connect to");
        for remote in ep.remotes() {
            match tokio::time::timeout(timeout, open(remote)).await {
                Ok(Ok((r, w))) => {
                    debug!(%remote, "connected to OVSDB server");
                    return Ok(Self::from_stream(remote.clone(), r, w));
                }
                Ok(Err(e)) => {
                    debug!(%remote, error = %e, "OVSDB connect failed");
                    last = e;
                }
                Err(_) => {
                    debug!(%remote, "OVSDB connect timed out");
                    last = std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out");
                }
            }
        }
        Err(Error::Connect {
            endpoint: ep.to_string(),
            last,
        })
    }

    fn from_stream(remote: Remote, reader: BoxRead, writer: BoxWrite) -> Connection {
        let (out_tx, out_rx) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            remote,
            next_id: AtomicU64::new(1),
            pending: Mutex::new(HashMap::new()),
            subscribers: Mutex::new(Vec::new()),
            out: out_tx,
            closed: watch::Sender::new(false),
            tasks: Mutex::new(Vec::new()),
        });
        let r = tokio::spawn(read_loop(inner.clone(), reader));
        let w = tokio::spawn(write_loop(inner.clone(), writer, out_rx));
        lock(&inner.tasks).extend([r.abort_handle(), w.abort_handle()]);
        Connection {
            _guard: Arc::new(CloseOnDrop(inner.clone())),
            inner,
        }
    }

    /// The remote this connection went to.
    pub fn remote(&self) -> &Remote {
        &self.inner.remote
    }

    pub fn is_closed(&self) -> bool {
        *self.inner.closed.borrow()
    }

    /// Resolves once the connection is closed (by either side).
    pub async fn closed(&self) {
        let mut rx = self.inner.closed.subscribe();
        let _ = rx.wait_for(|closed| *closed).await;
    }

    /// Closes the connection: pending requests fail with [`Error::Disconnected`] and
    /// update receivers end.
    pub fn close(&self) {
        self.inner.shutdown("closed by client");
    }

    /// Sends a JSON-RPC request and waits for its reply. A reply with a non-null `error`
    /// becomes [`Error::Rpc`].
    pub async fn call(&self, method: &str, params: Json) -> Result<Json, Error> {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        lock(&self.inner.pending).insert(id, tx);
        if self.is_closed() {
            lock(&self.inner.pending).remove(&id);
            return Err(Error::Disconnected);
        }
        let request = json!({"id": id, "method": method, "params": params});
        if let Err(e) = self.inner.send_json(&request) {
            lock(&self.inner.pending).remove(&id);
            return Err(e);
        }
        rx.await.unwrap_or(Err(Error::Disconnected))
    }

    /// [`Connection::call`] with a deadline; on timeout the reply, if it comes, is dropped.
    pub async fn call_timeout(
        &self,
        method: &str,
        params: Json,
        timeout: Duration,
    ) -> Result<Json, Error> {
        tokio::time::timeout(timeout, self.call(method, params))
            .await
            .map_err(|_| Error::Timeout)?
    }

    /// `list_dbs`: the databases the server holds.
    pub async fn list_dbs(&self) -> Result<Vec<String>, Error> {
        Ok(serde_json::from_value(
            self.call("list_dbs", json!([])).await?,
        )?)
    }

    /// `get_schema`.
    pub async fn get_schema(&self, db: &str) -> Result<Schema, Error> {
        Schema::from_json(&self.call("get_schema", json!([db])).await?)
    }

    /// `transact`: runs `ops` atomically. If any operation fails (or the commit does, which
    /// the server reports as an extra trailing result), nothing is committed and the first
    /// failure is returned as [`Error::OperationFailed`].
    pub async fn transact(&self, db: &str, ops: Vec<Op>) -> Result<Vec<OpResult>, Error> {
        let mut params = Vec::with_capacity(ops.len() + 1);
        params.push(json!(db));
        for op in &ops {
            params.push(op.to_json()?);
        }
        let result = self.call("transact", Json::Array(params)).await?;
        parse_transact_result(result, ops.len())
    }

    /// `echo`: a round trip.
    pub async fn echo(&self) -> Result<(), Error> {
        let reply = self.call("echo", json!(["neutrino"])).await?;
        if reply != json!(["neutrino"]) {
            return Err(Error::Protocol(format!("echo answered {reply}")));
        }
        Ok(())
    }

    /// `monitor_cond`: starts monitoring and returns the initial contents (`initial` row
    /// updates). Later changes arrive as `update2` notifications on [`Connection::updates`]
    /// receivers, tagged with `monitor_id`: call `updates()` *before* this so none is missed.
    pub async fn monitor_cond(
        &self,
        db: &str,
        monitor_id: Json,
        requests: BTreeMap<String, MonitorRequest>,
    ) -> Result<TableUpdates, Error> {
        self.monitor_call("monitor_cond", db, monitor_id, &requests)
            .await
    }

    /// `monitor` (RFC 7047): like [`Connection::monitor_cond`] with `update` notifications
    /// (full rows); `where_` conditions are not supported by this method.
    pub async fn monitor(
        &self,
        db: &str,
        monitor_id: Json,
        requests: BTreeMap<String, MonitorRequest>,
    ) -> Result<TableUpdates, Error> {
        if requests.values().any(|r| !r.where_.is_empty()) {
            return Err(Error::Protocol(
                "monitor does not take conditions; use monitor_cond".into(),
            ));
        }
        self.monitor_call("monitor", db, monitor_id, &requests)
            .await
    }

    async fn monitor_call(
        &self,
        method: &str,
        db: &str,
        monitor_id: Json,
        requests: &BTreeMap<String, MonitorRequest>,
    ) -> Result<TableUpdates, Error> {
        let mut reqs = serde_json::Map::new();
        for (table, req) in requests {
            reqs.insert(table.clone(), req.to_json()?);
        }
        let result = self.call(method, json!([db, monitor_id, reqs])).await?;
        TableUpdates::from_json(result)
    }

    /// `monitor_cancel`.
    pub async fn monitor_cancel(&self, monitor_id: Json) -> Result<(), Error> {
        self.call("monitor_cancel", json!([monitor_id]))
            .await
            .map(drop)
    }

    /// A new receiver of every update notification arriving from now on (each receiver
    /// gets all of them, in order). It yields `None` once the connection is closed.
    pub fn updates(&self) -> UpdateReceiver {
        let (tx, rx) = mpsc::unbounded_channel();
        if !self.is_closed() {
            lock(&self.inner.subscribers).push(tx);
        }
        rx
    }
}

async fn write_loop(
    inner: Arc<Inner>,
    mut writer: BoxWrite,
    mut rx: mpsc::UnboundedReceiver<Vec<u8>>,
) {
    while let Some(bytes) = rx.recv().await {
        if let Err(e) = writer.write_all(&bytes).await {
            warn!(remote = %inner.remote, error = %e, "OVSDB write failed");
            inner.shutdown("write failed");
            return;
        }
    }
}

async fn read_loop(inner: Arc<Inner>, mut reader: BoxRead) {
    let mut framer = crate::framing::Framer::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match reader.read(&mut buf).await {
            Ok(0) => {
                inner.shutdown("closed by server");
                return;
            }
            Ok(n) => n,
            Err(e) => {
                warn!(remote = %inner.remote, error = %e, "OVSDB read failed");
                inner.shutdown("read failed");
                return;
            }
        };
        let messages = match framer.push(&buf[..n]) {
            Ok(m) => m,
            Err(e) => {
                warn!(remote = %inner.remote, error = %e, "OVSDB protocol error");
                inner.shutdown("protocol error");
                return;
            }
        };
        for message in messages {
            if let Err(e) = dispatch(&inner, message) {
                warn!(remote = %inner.remote, error = %e, "OVSDB protocol error");
                inner.shutdown("protocol error");
                return;
            }
        }
    }
}

fn dispatch(inner: &Inner, message: Json) -> Result<(), Error> {
    trace!(remote = %inner.remote, %message, "←");
    let Json::Object(mut o) = message else {
        return Err(Error::Protocol(format!(
            "message is not an object: {message}"
        )));
    };
    let id = o.remove("id").unwrap_or(Json::Null);
    if let Some(method) = o.remove("method") {
        let params = o.remove("params").unwrap_or(Json::Null);
        return handle_request(inner, method.as_str().unwrap_or_default(), id, params);
    }
    // A reply.
    let Some(id) = id.as_u64() else {
        debug!(remote = %inner.remote, %id, "ignoring a reply to a request we did not send");
        return Ok(());
    };
    let error = o.remove("error").unwrap_or(Json::Null);
    let reply = if error.is_null() {
        Ok(o.remove("result").unwrap_or(Json::Null))
    } else {
        Err(rpc_error(error))
    };
    match lock(&inner.pending).remove(&id) {
        Some(tx) => {
            let _ = tx.send(reply);
        }
        None => debug!(remote = %inner.remote, id, "reply to an abandoned request"),
    }
    Ok(())
}

fn rpc_error(error: Json) -> Error {
    match error {
        Json::String(s) => Error::Rpc {
            error: s,
            details: None,
        },
        Json::Object(o) => Error::Rpc {
            error: o
                .get("error")
                .and_then(Json::as_str)
                .unwrap_or("unknown error")
                .to_string(),
            details: o.get("details").and_then(Json::as_str).map(str::to_string),
        },
        other => Error::Rpc {
            error: other.to_string(),
            details: None,
        },
    }
}

fn handle_request(inner: &Inner, method: &str, id: Json, params: Json) -> Result<(), Error> {
    match method {
        "echo" => inner.send_json(&json!({"id": id, "result": params, "error": null})),
        "update" | "update2" | "update3" => {
            let mut params = match params {
                Json::Array(p) => p.into_iter(),
                other => return Err(Error::Protocol(format!("{method} params: {other}"))),
            };
            let monitor_id = params.next().unwrap_or(Json::Null);
            // update3: [monitor id, last transaction id, updates].
            if method == "update3" {
                params.next();
            }
            let updates = TableUpdates::from_json(params.next().unwrap_or(Json::Null))?;
            let mut subscribers = lock(&inner.subscribers);
            subscribers.retain(|tx| !tx.is_closed());
            if let Some((last, others)) = subscribers.split_last() {
                for tx in others {
                    let _ = tx.send((monitor_id.clone(), updates.clone()));
                }
                let _ = last.send((monitor_id, updates));
            }
            Ok(())
        }
        other => {
            debug!(remote = %inner.remote, method = other, "ignoring a request from the server");
            if id.is_null() {
                return Ok(());
            }
            inner.send_json(&json!({"id": id, "result": null, "error": "unknown method"}))
        }
    }
}
