//! The heartbeat sender: upstream's `health_daemon.run_sender` with
//! `health_sender.UDPStatusSender`. One datagram every
//! `heartbeat_interval` seconds to the next controller of
//! `controller_ip_port_list`, round robin.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::watch;
use tokio::time::Instant;

use super::stats::{self, Counters};
use super::wire::{self, MSG_VER, Message};
use crate::{AgentConfig, HeartbeatConfig, keepalived};

/// Upstream's `[health_manager] heartbeat_interval` default.
const DEFAULT_INTERVAL: u64 = 10;

fn interval(hb: &HeartbeatConfig) -> Duration {
    // 0 would be a busy loop (upstream's sleep(0)).
    Duration::from_secs(hb.heartbeat_interval.unwrap_or(DEFAULT_INTERVAL).max(1))
}

/// `ip:port`, split on the last ':', the ip in optional brackets
/// (upstream's `_update_dests`). None: no ':' at all.
pub fn split_dest(entry: &str) -> Option<(&str, &str)> {
    let (ip, port) = entry.rsplit_once(':')?;
    let ip = ip
        .strip_prefix('[')
        .and_then(|i| i.strip_suffix(']'))
        .unwrap_or(ip);
    Some((ip, port))
}

/// The destinations of a controller list, each resolved to its first
/// address. As upstream, an entry without ':' ends the list; an entry
/// that does not resolve is skipped (upstream would skip the heartbeat).
async fn resolve(list: &[String]) -> Vec<SocketAddr> {
    let mut out = Vec::new();
    for entry in list {
        let Some((ip, port)) = split_dest(entry) else {
            tracing::error!(entry = %entry, "invalid ip and port in controller_ip_port_list");
            break;
        };
        let first = match port.parse::<u16>() {
            Ok(port) => tokio::net::lookup_host((ip, port))
                .await
                .ok()
                .and_then(|mut a| a.next()),
            Err(_) => None,
        };
        match first {
            Some(a) => out.push(a),
            None => tracing::error!(entry = %entry, "controller address does not resolve"),
        }
    }
    out
}

struct Sender {
    cfg: AgentConfig,
    seq: u64,
    counters: Counters,
    /// The list `dests` was made from (re-resolved when it changes).
    list: Vec<String>,
    dests: Vec<SocketAddr>,
    next: usize,
    v4: Option<UdpSocket>,
    v6: Option<UdpSocket>,
}

impl Sender {
    fn new(cfg: AgentConfig) -> Sender {
        Sender {
            counters: Counters::load(&cfg.base_dir),
            cfg,
            seq: 0,
            list: Vec::new(),
            dests: Vec::new(),
            next: 0,
            v4: None,
            v6: None,
        }
    }

    /// The message for this tick: seq, then the stats (deltas, persisted).
    async fn build(&mut self) -> Message {
        let (listeners, pools) = stats::collect(&self.cfg, &mut self.counters).await;
        let msg = Message {
            id: self.cfg.amphora_id.clone(),
            seq: self.seq,
            ver: MSG_VER,
            listeners,
            pools,
        };
        self.seq += 1;
        self.counters.persist();
        msg
    }

    /// A socket of the destination's family, in the agent's own network
    /// namespace; created on first use.
    async fn socket(&mut self, dest: SocketAddr) -> std::io::Result<&UdpSocket> {
        let (slot, any) = if dest.is_ipv4() {
            (&mut self.v4, "0.0.0.0:0")
        } else {
            (&mut self.v6, "[::]:0")
        };
        if slot.is_none() {
            *slot = Some(UdpSocket::bind(any).await?);
        }
        Ok(slot.as_ref().expect("just set"))
    }

    async fn tick(&mut self, hb: &HeartbeatConfig) {
        // Upstream's check: a configured keepalived must run, or this
        // amphora is not to be reported healthy.
        if keepalived::configured(&self.cfg) && keepalived::running(&self.cfg).is_none() {
            tracing::error!("keepalived is configured but not running, skipping health heartbeat");
            return;
        }
        let key = hb.heartbeat_key.as_deref().unwrap_or("");
        if key.is_empty() || hb.controller_ip_port_list.is_empty() {
            // Nothing to send to or sign with: the stats keep adding up.
            return;
        }
        if self.list != hb.controller_ip_port_list {
            self.dests = resolve(&hb.controller_ip_port_list).await;
            self.list = hb.controller_ip_port_list.clone();
            self.next = 0;
        }
        if self.dests.is_empty() {
            tracing::error!("no controller address found, unable to send heartbeat");
            return;
        }
        let dest = self.dests[self.next % self.dests.len()];
        self.next = (self.next + 1) % self.dests.len();
        let msg = self.build().await;
        let datagram = wire::wrap(&msg, key);
        match self.socket(dest).await {
            // Send errors pass, as upstream's: while networks come up on
            // boot a controller may be unreachable.
            Ok(s) => {
                if let Err(e) = s.send_to(&datagram, dest).await {
                    tracing::debug!(%dest, error = %e, "heartbeat not sent");
                }
            }
            Err(e) => tracing::warn!(%dest, error = %e, "no socket for heartbeats"),
        }
    }
}

/// Sends heartbeats until dropped (aborted). `settings` carries the
/// current `[heartbeat]` section: a new value (`PUT /1.0/config`) is used
/// from the next tick on, which comes one new interval after the last.
pub async fn run(cfg: AgentConfig, mut settings: watch::Receiver<HeartbeatConfig>) {
    let mut sender = Sender::new(cfg);
    let mut hb = settings.borrow_and_update().clone();
    let mut last: Option<Instant> = None;
    // False once nobody can change the settings any more.
    let mut watching = true;
    loop {
        let due = last.map_or_else(Instant::now, |l| l + interval(&hb));
        tokio::select! {
            _ = tokio::time::sleep_until(due) => {}
            changed = settings.changed(), if watching => {
                match changed {
                    Ok(()) => hb = settings.borrow_and_update().clone(),
                    Err(_) => watching = false,
                }
                continue;
            }
        }
        last = Some(Instant::now());
        sender.tick(&hb).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_split_on_the_last_colon() {
        assert_eq!(split_dest("192.0.2.1:5555"), Some(("192.0.2.1", "5555")));
        assert_eq!(
            split_dest("[2001:db8::1]:5555"),
            Some(("2001:db8::1", "5555"))
        );
        assert_eq!(
            split_dest("2001:db8::1:5555"),
            Some(("2001:db8::1", "5555"))
        );
        assert_eq!(split_dest("controller"), None);
    }

    #[tokio::test]
    async fn resolve_stops_at_an_entry_without_port() {
        let list: Vec<String> = [
            "127.0.0.1:1",
            "[::1]:2",
            "bad:port",
            "nocolon",
            "127.0.0.1:3",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let got = resolve(&list).await;
        assert_eq!(
            got,
            [
                "127.0.0.1:1".parse::<SocketAddr>().unwrap(),
                "[::1]:2".parse().unwrap()
            ]
        );
    }

    #[tokio::test]
    async fn round_robin_and_seq() {
        let dir = tempfile::tempdir().unwrap();
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let hb = HeartbeatConfig {
            controller_ip_port_list: vec![
                a.local_addr().unwrap().to_string(),
                b.local_addr().unwrap().to_string(),
            ],
            heartbeat_key: Some("k".into()),
            heartbeat_interval: Some(1),
        };
        let mut s = Sender::new(AgentConfig::new("amp", dir.path()));
        for _ in 0..4 {
            s.tick(&hb).await;
        }
        let mut buf = vec![0; wire::MAX_DATAGRAM];
        let mut seqs = Vec::new();
        for sock in [&a, &b, &a, &b] {
            let n = sock.recv(&mut buf).await.unwrap();
            seqs.push(wire::unwrap(&buf[..n], "k").unwrap().seq);
        }
        assert_eq!(seqs, [0, 1, 2, 3], "a, b, a, b");

        // No key, or no list: nothing built (seq stays), nothing sent.
        for off in [
            HeartbeatConfig {
                heartbeat_key: None,
                ..hb.clone()
            },
            HeartbeatConfig {
                controller_ip_port_list: vec![],
                ..hb.clone()
            },
        ] {
            s.tick(&off).await;
        }
        assert_eq!(s.seq, 4);
        // A configured keepalived that does not run: no heartbeat.
        let vrrp = dir.path().join("vrrp");
        std::fs::create_dir_all(&vrrp).unwrap();
        std::fs::write(vrrp.join("octavia-keepalived.conf"), "").unwrap();
        s.tick(&hb).await;
        assert_eq!(s.seq, 4);
        std::fs::remove_file(vrrp.join("octavia-keepalived.conf")).unwrap();
        s.tick(&hb).await;
        assert_eq!(s.seq, 5);
        let n = a.recv(&mut buf).await.unwrap();
        assert_eq!(wire::unwrap(&buf[..n], "k").unwrap().seq, 4);
    }
}
