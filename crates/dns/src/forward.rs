//! Asking the upstream servers: one plain exchange per upstream, in order.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::{Instant, timeout_at};

use crate::wire::{HEADER_LEN, RCODE_REFUSED, RCODE_SERVFAIL};

/// How long one upstream gets to answer before the next is tried.
pub(crate) const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(2);

/// Sends `query` to each upstream in turn, over the transport the client
/// used, and returns the first good response with the client's id put back.
/// An upstream that does not answer in time, refuses the connection, or
/// answers SERVFAIL or REFUSED is skipped; if none does better, the last
/// such answer is relayed, and with no answer at all the result is `None`
/// (the caller answers SERVFAIL).
///
/// Each exchange uses a fresh socket (random source port) and a random id,
/// and only a response that matches the id and echoes the question is
/// accepted, so a spoofed or stale packet is ignored.
pub(crate) async fn forward(
    query: &[u8],
    question_end: usize,
    upstreams: &[SocketAddr],
    tcp: bool,
    timeout: Duration,
) -> Option<Vec<u8>> {
    let client_id = [query[0], query[1]];
    let mut outgoing = query.to_vec();
    let mut fallback = None;
    for &upstream in upstreams {
        let id: u16 = rand::random();
        outgoing[0..2].copy_from_slice(&id.to_be_bytes());
        let deadline = Instant::now() + timeout;
        let result = if tcp {
            tcp_exchange(upstream, &outgoing, question_end, deadline).await
        } else {
            udp_exchange(upstream, &outgoing, question_end, deadline).await
        };
        match result {
            Ok(mut response) => {
                response[0..2].copy_from_slice(&client_id);
                let rcode = response[3] & 0x0F;
                if rcode == RCODE_SERVFAIL || rcode == RCODE_REFUSED {
                    tracing::debug!(%upstream, rcode, "upstream failed the query; trying the next");
                    fallback = Some(response);
                    continue;
                }
                return Some(response);
            }
            Err(err) => tracing::debug!(%upstream, %err, tcp, "upstream did not answer"),
        }
    }
    fallback
}

fn unspecified_for(upstream: SocketAddr) -> SocketAddr {
    match upstream {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    }
}

async fn udp_exchange(
    upstream: SocketAddr,
    query: &[u8],
    question_end: usize,
    deadline: Instant,
) -> io::Result<Vec<u8>> {
    let socket = UdpSocket::bind(unspecified_for(upstream)).await?;
    // Connected, so an ICMP port-unreachable fails the receive at once
    // (a stopped upstream costs nothing) and only the upstream is heard.
    socket.connect(upstream).await?;
    socket.send(query).await?;
    let mut buf = vec![0u8; usize::from(u16::MAX)];
    loop {
        let n = timeout_at(deadline, socket.recv(&mut buf))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no answer in time"))??;
        if matches(query, question_end, &buf[..n]) {
            buf.truncate(n);
            return Ok(buf);
        }
    }
}

async fn tcp_exchange(
    upstream: SocketAddr,
    query: &[u8],
    question_end: usize,
    deadline: Instant,
) -> io::Result<Vec<u8>> {
    let exchange = async {
        let mut stream = TcpStream::connect(upstream).await?;
        stream.set_nodelay(true)?;
        let mut framed = Vec::with_capacity(query.len() + 2);
        framed.extend_from_slice(&(query.len() as u16).to_be_bytes());
        framed.extend_from_slice(query);
        stream.write_all(&framed).await?;
        loop {
            let len = usize::from(stream.read_u16().await?);
            let mut buf = vec![0u8; len];
            stream.read_exact(&mut buf).await?;
            if matches(query, question_end, &buf) {
                return Ok(buf);
            }
        }
    };
    timeout_at(deadline, exchange)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no answer in time"))?
}

/// Is `response` the answer to `query`: same id, QR set, and the same
/// question (or none, as in some FORMERR answers)?
fn matches(query: &[u8], question_end: usize, response: &[u8]) -> bool {
    if response.len() < HEADER_LEN || response[0..2] != query[0..2] || response[2] & 0x80 == 0 {
        return false;
    }
    let qdcount = u16::from_be_bytes([response[4], response[5]]);
    match qdcount {
        0 => response[3] & 0x0F != 0,
        1 => response
            .get(HEADER_LEN..question_end)
            .is_some_and(|q| q.eq_ignore_ascii_case(&query[HEADER_LEN..question_end])),
        _ => false,
    }
}
