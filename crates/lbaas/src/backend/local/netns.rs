//! Network namespaces for amphorae, and reaching into them.
//!
//! An amphora is two namespaces (design §8.1): `amp-{id}` holds its
//! management interface and the agent; `amp-{id}-haproxy`, made by the
//! agent, holds the VIP and member interfaces and haproxy, as upstream's
//! `amphora-haproxy` does inside a VM. The controller reaches agents over
//! the management network from wherever its own management interface is:
//! this process's namespace, or a namespace of its own ([`NetnsSockets`]).

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use tokio::net::{TcpSocket, TcpStream, UdpSocket};
use tokio::sync::oneshot;

use crate::backend::agent_client::Connector;

/// The outer namespace of amphora `id`.
pub fn outer(amphora_id: &str) -> String {
    format!("amp-{amphora_id}")
}

/// The inner (haproxy) namespace of amphora `id`.
pub fn inner(amphora_id: &str) -> String {
    format!("amp-{amphora_id}-haproxy")
}

pub fn exists(ns: &str) -> bool {
    std::path::Path::new("/run/netns").join(ns).exists()
}

async fn ip(args: &[&str]) -> Result<String, String> {
    let out = tokio::process::Command::new("ip")
        .args(args)
        .output()
        .await
        .map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// `ip` inside namespace `ns`.
pub async fn ip_in(ns: &str, args: &[&str]) -> Result<String, String> {
    let mut all = vec!["-n", ns];
    all.extend_from_slice(args);
    ip(&all).await
}

pub async fn ensure(ns: &str) -> Result<(), String> {
    if !exists(ns) {
        ip(&["netns", "add", ns]).await?;
    }
    ip_in(ns, &["link", "set", "lo", "up"]).await.map(|_| ())
}

/// Pids of every process in namespace `ns` (empty when it is gone).
pub async fn pids(ns: &str) -> Vec<i32> {
    if !exists(ns) {
        return Vec::new();
    }
    ip(&["netns", "pids", ns])
        .await
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// Ends every process in `ns`: SIGTERM, then SIGKILL after 5 s.
pub async fn kill_all(ns: &str) -> Result<(), String> {
    use rustix::process::{Pid, Signal, kill_process};
    let signal = |pids: &[i32], sig| {
        for &p in pids {
            if let Some(p) = Pid::from_raw(p) {
                let _ = kill_process(p, sig);
            }
        }
    };
    let first = pids(ns).await;
    if first.is_empty() {
        return Ok(());
    }
    signal(&first, Signal::TERM);
    for i in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let left = pids(ns).await;
        if left.is_empty() {
            return Ok(());
        }
        if i == 99 {
            signal(&left, Signal::KILL);
        }
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let left = pids(ns).await;
    if left.is_empty() {
        Ok(())
    } else {
        Err(format!("processes {left:?} in {ns} do not exit"))
    }
}

/// Deletes namespace `ns`; done when gone. Its veth ends go with it.
pub async fn delete(ns: &str) -> Result<(), String> {
    if exists(ns) {
        ip(&["netns", "del", ns]).await?;
    }
    Ok(())
}

/// Makes TCP and UDP sockets inside another network namespace: a thread that
/// entered the namespace creates them, and they stay in it wherever they
/// are used (a socket's namespace is fixed at creation). This lets the
/// controller of `neutrino up` keep its management interface in a
/// namespace of its own instead of adding addresses and routes to the
/// host's.
pub struct NetnsSockets {
    netns: String,
    requests: Mutex<mpsc::Sender<Request>>,
}

/// A socket to make: IPv6?, stream (TCP) or datagram (UDP), and where
/// to send it.
type Request = (bool, bool, oneshot::Sender<io::Result<OwnedFd>>);

impl std::fmt::Debug for NetnsSockets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetnsSockets")
            .field("netns", &self.netns)
            .finish()
    }
}

impl NetnsSockets {
    pub fn new(netns: &str) -> io::Result<Arc<Self>> {
        let file = std::fs::File::open(std::path::Path::new("/run/netns").join(netns))?;
        let (tx, rx) = mpsc::channel::<Request>();
        let (ready_tx, ready_rx) = mpsc::channel();
        std::thread::Builder::new()
            .name(format!("netns-{netns}"))
            .spawn(move || {
                let entered = rustix::thread::move_into_link_name_space(
                    file.as_fd(),
                    Some(rustix::thread::LinkNameSpaceType::Network),
                )
                .map_err(io::Error::from);
                let ok = entered.is_ok();
                let _ = ready_tx.send(entered);
                if !ok {
                    return;
                }
                while let Ok((v6, stream, reply)) = rx.recv() {
                    let family = if v6 {
                        rustix::net::AddressFamily::INET6
                    } else {
                        rustix::net::AddressFamily::INET
                    };
                    let kind = if stream {
                        rustix::net::SocketType::STREAM
                    } else {
                        rustix::net::SocketType::DGRAM
                    };
                    let s = rustix::net::socket_with(
                        family,
                        kind,
                        rustix::net::SocketFlags::CLOEXEC | rustix::net::SocketFlags::NONBLOCK,
                        None,
                    )
                    .map_err(io::Error::from);
                    let _ = reply.send(s);
                }
            })?;
        ready_rx
            .recv()
            .map_err(|_| io::Error::other("namespace thread ended"))??;
        Ok(Arc::new(NetnsSockets {
            netns: netns.to_string(),
            requests: Mutex::new(tx),
        }))
    }

    pub fn netns(&self) -> &str {
        &self.netns
    }

    async fn socket(&self, v6: bool, stream: bool) -> io::Result<OwnedFd> {
        let (tx, rx) = oneshot::channel();
        self.requests
            .lock()
            .map_err(|_| io::Error::other("namespace thread poisoned"))?
            .send((v6, stream, tx))
            .map_err(|_| io::Error::other("namespace thread ended"))?;
        rx.await
            .map_err(|_| io::Error::other("namespace thread ended"))?
    }

    pub async fn connect(&self, addr: SocketAddr) -> io::Result<TcpStream> {
        let fd = self.socket(addr.is_ipv6(), true).await?;
        TcpSocket::from_std_stream(std::net::TcpStream::from(fd))
            .connect(addr)
            .await
    }

    /// A UDP socket in the namespace, bound to `addr` (the heartbeat
    /// receiver's).
    pub async fn bind_udp(&self, addr: SocketAddr) -> io::Result<UdpSocket> {
        let fd = self.socket(addr.is_ipv6(), false).await?;
        rustix::net::bind(&fd, &addr).map_err(io::Error::from)?;
        UdpSocket::from_std(std::net::UdpSocket::from(fd))
    }

    /// As an [`agent_client::Connector`](crate::backend::agent_client::Connector).
    pub fn connector(self: &Arc<Self>) -> Connector {
        let me = self.clone();
        Arc::new(move |addr| -> BoxFuture<'static, io::Result<TcpStream>> {
            let me = me.clone();
            async move { me.connect(addr).await }.boxed()
        })
    }
}
