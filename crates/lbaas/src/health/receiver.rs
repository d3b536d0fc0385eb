//! The heartbeat receiver (upstream's `UDPStatusGetter`): one datagram at
//! a time off an already bound UDP socket (the caller may have bound it in
//! another network namespace), authenticated, then applied by
//! [`update_health`] on a bounded number of tasks.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use neutrino_amphora_agent::heartbeat::wire::{self, MAX_DATAGRAM};
use neutrino_store::Db;
use tokio::net::UdpSocket;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tracing::{debug, info, warn};

use super::update::{Outcome, update_health};

/// Messages applied at once (upstream: `health_update_threads`).
pub const MAX_IN_FLIGHT: usize = 8;
/// Messages waiting for a slot; beyond this they are dropped at once
/// rather than queued only to be found too late.
pub const MAX_QUEUED: usize = 1024;

/// Receives heartbeats on `socket` until `stop` turns true (or its sender
/// goes away); tasks still applying messages are then cancelled, their
/// transactions rolled back. Bad datagrams and failed updates are logged
/// and skipped.
pub async fn run(
    socket: UdpSocket,
    key: String,
    db: Db,
    heartbeat_interval: Duration,
    mut stop: watch::Receiver<bool>,
) {
    if let Ok(addr) = socket.local_addr() {
        info!(%addr, "heartbeat receiver listening");
    }
    let queued = Arc::new(Semaphore::new(MAX_QUEUED));
    let workers = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut tasks = JoinSet::new();
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        if *stop.borrow() {
            break;
        }
        while tasks.try_join_next().is_some() {}
        let (n, src) = tokio::select! {
            changed = stop.changed() => {
                if changed.is_err() {
                    break;
                }
                continue;
            }
            r = socket.recv_from(&mut buf) => match r {
                Ok(r) => r,
                Err(e) => {
                    warn!(error = %e, "heartbeat socket receive failed");
                    // Do not spin on a persistent error.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let received = SystemTime::now();
        debug!(%src, bytes = n, "heartbeat datagram");
        let msg = match wire::unwrap(&buf[..n], &key) {
            Ok(m) => m,
            Err(e) => {
                warn!(%src, error = %e, "heartbeat dropped");
                continue;
            }
        };
        let Ok(slot) = queued.clone().try_acquire_owned() else {
            warn!(%src, amphora = %msg.id, "heartbeat backlog full; heartbeat dropped");
            continue;
        };
        let (db, workers) = (db.clone(), workers.clone());
        tasks.spawn(async move {
            let _slot = slot;
            let Ok(_worker) = workers.acquire_owned().await else {
                return;
            };
            match update_health(&db, &msg, received, heartbeat_interval).await {
                Ok(Outcome::Processed { .. }) => {}
                Ok(other) => debug!(amphora = %msg.id, outcome = ?other, "heartbeat not applied"),
                Err(e) => warn!(amphora = %msg.id, %src, error = %e,
                    "health update failed; heartbeat skipped"),
            }
        });
    }
    tasks.shutdown().await;
}
