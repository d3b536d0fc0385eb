//! The sockets: UDP workers and a TCP acceptor on the same address, all
//! reading the current records and forwarding settings through `ArcSwap`s
//! that the handle replaces.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Weak};
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::DnsError;
use crate::answers::Answers;
use crate::forward::{UPSTREAM_TIMEOUT, forward};
use crate::records::RecordSet;
use crate::wire::{self, LocalDomains, Outcome, RCODE_SERVFAIL};

/// Forwarded queries in flight at once (dnsmasq's `dns-forward-max` is
/// 150); past this a query is answered SERVFAIL at once.
const MAX_FORWARDS: usize = 1024;
/// TCP connections served at once; more are closed on accept.
const MAX_TCP_CONNECTIONS: usize = 256;
/// A TCP connection with no complete query for this long is closed.
const TCP_IDLE: Duration = Duration::from_secs(10);

/// Where to listen and what to do with names that are not local.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponderConfig {
    /// UDP and TCP; port 0 picks a free port (see
    /// [`ResponderHandle::local_addr`]).
    pub listen: SocketAddr,
    /// Upstream servers (DNSMasq `server` options), tried in order.
    pub upstreams: Vec<SocketAddr>,
    /// Domains (DNSMasq `local=/domain/`) whose names are answered locally
    /// or get NXDOMAIN, never forwarded; `""` means single-label names.
    pub local_domains: Vec<String>,
    /// TTL of the local answers, in seconds.
    pub ttl: u32,
}

/// Counters since start. `udp_queries + tcp_queries` counts every message
/// received; each query ends as a local answer, a forward or ignored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub udp_queries: u64,
    pub tcp_queries: u64,
    /// Answered without forwarding: local records, NODATA, local-domain
    /// NXDOMAIN, FORMERR/NOTIMP.
    pub local_answers: u64,
    /// Sent to the upstreams.
    pub forwarded: u64,
    /// Forwarded queries answered SERVFAIL because no upstream answered (or
    /// too many forwards were in flight).
    pub forward_failures: u64,
}

#[derive(Default)]
struct Counters {
    udp_queries: AtomicU64,
    tcp_queries: AtomicU64,
    local_answers: AtomicU64,
    forwarded: AtomicU64,
    forward_failures: AtomicU64,
}

struct Forwarding {
    upstreams: Arc<[SocketAddr]>,
    local: LocalDomains,
}

impl Forwarding {
    fn new(own: SocketAddr, upstreams: Vec<SocketAddr>, local_domains: &[String]) -> Self {
        let upstreams: Vec<_> = upstreams
            .into_iter()
            .filter(|u| {
                let looped = *u == own;
                if looped {
                    tracing::warn!(upstream = %u, "the responder's own address is not used as its upstream");
                }
                !looped
            })
            .collect();
        Self {
            upstreams: upstreams.into(),
            local: LocalDomains::new(local_domains),
        }
    }
}

struct Shared {
    answers: ArcSwap<Answers>,
    forwarding: ArcSwap<Forwarding>,
    ttl: u32,
    local_addr: SocketAddr,
    forward_slots: Arc<Semaphore>,
    counters: Counters,
}

impl Shared {
    /// Answers `msg` from the current records; `Outcome::Forward` leaves
    /// `out` untouched.
    #[inline]
    fn respond(&self, msg: &[u8], tcp: bool, out: &mut Vec<u8>) -> Outcome {
        let answers = self.answers.load();
        let forwarding = self.forwarding.load();
        let outcome = wire::respond(msg, &answers, &forwarding.local, tcp, out);
        match outcome {
            Outcome::Reply => self.counters.local_answers.fetch_add(1, Relaxed),
            Outcome::Forward => self.counters.forwarded.fetch_add(1, Relaxed),
            Outcome::Ignore => 0,
        };
        outcome
    }

    /// The response to a query the local data could not answer: the
    /// upstream's, or SERVFAIL (REFUSED when there are no upstreams, as
    /// dnsmasq does).
    async fn forward(&self, query: &[u8], tcp: bool) -> Option<Vec<u8>> {
        let q = wire::parse(query).ok()?;
        let upstreams = self.forwarding.load().upstreams.clone();
        if let Some(reply) = forward(query, q.question_end, &upstreams, tcp, UPSTREAM_TIMEOUT).await
        {
            return Some(reply);
        }
        let rcode = if upstreams.is_empty() {
            wire::RCODE_REFUSED
        } else {
            self.counters.forward_failures.fetch_add(1, Relaxed);
            RCODE_SERVFAIL
        };
        let mut out = Vec::new();
        wire::write_error(&q, rcode, tcp, &mut out);
        Some(out)
    }
}

/// Starts responders; see [`Responder::start`].
pub struct Responder;

impl Responder {
    /// Binds UDP and TCP on `cfg.listen` and serves `records` until the
    /// returned handle is shut down or dropped. Must be called inside a
    /// tokio runtime; the responder's tasks run on it.
    pub async fn start(
        cfg: ResponderConfig,
        records: RecordSet,
    ) -> Result<ResponderHandle, DnsError> {
        let (udp, tcp) = bind(cfg.listen).await?;
        let local_addr = udp.local_addr().map_err(|source| DnsError::Bind {
            addr: cfg.listen,
            proto: "udp",
            source,
        })?;
        let shared = Arc::new(Shared {
            answers: ArcSwap::from_pointee(Answers::compile(&records, cfg.ttl)),
            forwarding: ArcSwap::from_pointee(Forwarding::new(
                local_addr,
                cfg.upstreams,
                &cfg.local_domains,
            )),
            ttl: cfg.ttl,
            local_addr,
            forward_slots: Arc::new(Semaphore::new(MAX_FORWARDS)),
            counters: Counters::default(),
        });

        let mut tasks = JoinSet::new();
        // One UDP loop: several loops on one socket are all woken for every
        // datagram and all but one find nothing, which cost 50% more CPU per
        // answer on the benchmark (docs/benchmarks.md) for no throughput;
        // one loop answers tens of thousands of queries per second.
        tasks.spawn(udp_worker(Arc::new(udp), shared.clone()));
        tasks.spawn(tcp_acceptor(tcp, shared.clone()));
        tracing::info!(%local_addr, names = records.len(), "DNS responder listening (UDP and TCP)");
        Ok(ResponderHandle {
            shared,
            local_addr,
            tasks,
        })
    }
}

async fn bind(listen: SocketAddr) -> Result<(UdpSocket, TcpListener), DnsError> {
    let mut attempt = 0;
    loop {
        let udp = UdpSocket::bind(listen)
            .await
            .map_err(|source| DnsError::Bind {
                addr: listen,
                proto: "udp",
                source,
            })?;
        let addr = udp.local_addr().map_err(|source| DnsError::Bind {
            addr: listen,
            proto: "udp",
            source,
        })?;
        match TcpListener::bind(addr).await {
            Ok(tcp) => return Ok((udp, tcp)),
            // The free UDP port chosen for port 0 may be taken for TCP: pick another.
            Err(e)
                if listen.port() == 0
                    && e.kind() == std::io::ErrorKind::AddrInUse
                    && attempt < 20 =>
            {
                attempt += 1;
            }
            Err(source) => {
                return Err(DnsError::Bind {
                    addr,
                    proto: "tcp",
                    source,
                });
            }
        }
    }
}

/// Controls a running responder. Dropping it stops the responder too (its
/// tasks are aborted); [`ResponderHandle::shutdown`] also waits for that.
pub struct ResponderHandle {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
    tasks: JoinSet<()>,
}

impl ResponderHandle {
    /// Replaces the local records; the next query sees them.
    pub fn update_records(&self, records: RecordSet) {
        let names = records.len();
        self.shared
            .answers
            .store(Arc::new(Answers::compile(&records, self.shared.ttl)));
        tracing::debug!(local_addr = %self.local_addr, names, "DNS records replaced");
    }

    /// Replaces the upstreams and local domains; the next query sees them.
    /// Invalid local domains are skipped with a warning (validate them with
    /// [`crate::parse_dnsmasq_options`] first).
    pub fn update_config(&self, upstreams: Vec<SocketAddr>, local_domains: Vec<String>) {
        self.shared.forwarding.store(Arc::new(Forwarding::new(
            self.shared.local_addr,
            upstreams,
            &local_domains,
        )));
    }

    /// The bound address (UDP and TCP), with the actual port if the
    /// configuration asked for port 0.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn stats(&self) -> Stats {
        let c = &self.shared.counters;
        Stats {
            udp_queries: c.udp_queries.load(Relaxed),
            tcp_queries: c.tcp_queries.load(Relaxed),
            local_answers: c.local_answers.load(Relaxed),
            forwarded: c.forwarded.load(Relaxed),
            forward_failures: c.forward_failures.load(Relaxed),
        }
    }

    /// Stops serving and waits until the sockets are closed.
    pub async fn shutdown(mut self) {
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
        tracing::info!(local_addr = %self.local_addr, "DNS responder stopped");
    }
}

async fn udp_worker(socket: Arc<UdpSocket>, shared: Arc<Shared>) {
    let mut buf = vec![0u8; usize::from(u16::MAX)];
    let mut out = Vec::with_capacity(4096);
    // Forwards of this worker; dropping the worker aborts them. They hold
    // the socket weakly so that a shutdown closes it at once.
    let mut forwards = JoinSet::new();
    let weak: Weak<UdpSocket> = Arc::downgrade(&socket);
    loop {
        let (len, peer) = match socket.recv_from(&mut buf).await {
            Ok(received) => received,
            Err(err) => {
                tracing::debug!(%err, "UDP receive failed");
                tokio::task::yield_now().await;
                continue;
            }
        };
        shared.counters.udp_queries.fetch_add(1, Relaxed);
        match shared.respond(&buf[..len], false, &mut out) {
            Outcome::Reply => {
                if let Err(err) = socket.send_to(&out, peer).await {
                    tracing::debug!(%err, %peer, "UDP send failed");
                }
            }
            Outcome::Forward => {
                while forwards.try_join_next().is_some() {}
                let Ok(slot) = shared.forward_slots.clone().try_acquire_owned() else {
                    shared.counters.forward_failures.fetch_add(1, Relaxed);
                    if let Ok(q) = wire::parse(&buf[..len]) {
                        wire::write_error(&q, RCODE_SERVFAIL, false, &mut out);
                        let _ = socket.send_to(&out, peer).await;
                    }
                    continue;
                };
                let query = buf[..len].to_vec();
                let shared = shared.clone();
                let weak = weak.clone();
                forwards.spawn(async move {
                    let _slot = slot;
                    if let Some(reply) = shared.forward(&query, false).await
                        && let Some(socket) = weak.upgrade()
                    {
                        let _ = socket.send_to(&reply, peer).await;
                    }
                });
            }
            Outcome::Ignore => {}
        }
    }
}

async fn tcp_acceptor(listener: TcpListener, shared: Arc<Shared>) {
    // Dropping the acceptor (shutdown) drops this set, which aborts the
    // connections.
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!(%err, "TCP accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if connections.len() >= MAX_TCP_CONNECTIONS {
            tracing::debug!(%peer, "too many TCP connections; closing");
            continue;
        }
        connections.spawn(tcp_connection(stream, shared.clone()));
    }
}

async fn tcp_connection(mut stream: TcpStream, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    let mut query = Vec::new();
    let mut out = Vec::new();
    let mut framed = Vec::new();
    loop {
        let Ok(Ok(len)) = tokio::time::timeout(TCP_IDLE, stream.read_u16()).await else {
            return;
        };
        query.resize(usize::from(len), 0);
        let Ok(Ok(_)) = tokio::time::timeout(TCP_IDLE, stream.read_exact(&mut query)).await else {
            return;
        };
        shared.counters.tcp_queries.fetch_add(1, Relaxed);
        let reply: &[u8] = match shared.respond(&query, true, &mut out) {
            Outcome::Reply => &out,
            Outcome::Forward => {
                let Some(reply) = shared.forward(&query, true).await else {
                    continue;
                };
                out = reply;
                &out
            }
            Outcome::Ignore => continue,
        };
        framed.clear();
        framed.extend_from_slice(&(reply.len() as u16).to_be_bytes());
        framed.extend_from_slice(reply);
        if stream.write_all(&framed).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handle_can_be_shared_between_tasks() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<ResponderHandle>();
    }
}
