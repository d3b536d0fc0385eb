//! The worker: claims due flows and hands each to a task that drives it
//! (`run.rs`).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use neutrino_store::Db;
use neutrino_store::lb_flows;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

use super::run::run_flow;
use super::{Faults, Registry};

/// Timing and identity of a worker.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    /// This server's stable name (e.g. `{hostname}:{data dir}`): distinct
    /// for every server sharing the database. A restarted server takes
    /// over the leases its previous incarnation held at once, instead of
    /// waiting for them to expire.
    pub instance: String,
    /// How long a claim holds a flow without renewal.
    pub lease: Duration,
    /// How often a running flow renews its lease (well under `lease`).
    pub renew_every: Duration,
    /// How often to look for due flows when nobody wakes the worker.
    pub poll: Duration,
    /// Flows run at once by this worker.
    pub max_concurrent: usize,
    /// Backoff after the n-th transient failure: `backoff_base * 2^n`,
    /// at most `backoff_max`.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
}

impl WorkerConfig {
    /// The design's defaults (§7.2): 15 s leases renewed every 5 s, a poll
    /// every 500 ms, 8 flows at once, backoff 2 s doubling up to 30 s.
    pub fn new(instance: impl Into<String>) -> Self {
        WorkerConfig {
            instance: instance.into(),
            lease: Duration::from_secs(15),
            renew_every: Duration::from_secs(5),
            poll: Duration::from_millis(500),
            max_concurrent: 8,
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(30),
        }
    }

    pub(super) fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX);
        self.backoff_base
            .saturating_mul(factor)
            .min(self.backoff_max)
    }
}

/// Wakes a worker after a local commit inserted a flow, so it starts
/// without waiting for its next poll.
#[derive(Clone, Debug, Default)]
pub struct FlowWaker(Arc<Notify>);

impl FlowWaker {
    pub fn wake(&self) {
        self.0.notify_one();
    }
}

/// Drives flows; one per server.
pub struct Worker<C> {
    shared: Arc<Shared<C>>,
    waker: FlowWaker,
}

pub(super) struct Shared<C> {
    pub(super) db: Db,
    pub(super) registry: Arc<Registry<C>>,
    pub(super) ctx: Arc<C>,
    pub(super) config: WorkerConfig,
    /// `{instance}/`: leases of this server's earlier incarnations start
    /// with it.
    pub(super) takeover_prefix: String,
    /// `{instance}/{boot id}/`: every lease of this worker starts with it.
    pub(super) own_prefix: String,
    /// Numbers this worker's claims: each claim writes its own holder
    /// (`{own_prefix}{n}`), so a task whose lease lapsed and was claimed
    /// again, even by this same worker, is fenced off like any other.
    pub(super) claims: AtomicU64,
    pub(super) faults: Faults,
}

impl<C: Send + Sync + 'static> Worker<C> {
    pub fn new(db: Db, registry: Arc<Registry<C>>, ctx: Arc<C>, config: WorkerConfig) -> Self {
        let takeover_prefix = format!("{}/", config.instance);
        let own_prefix = format!("{takeover_prefix}{}/", uuid::Uuid::new_v4().simple());
        Worker {
            shared: Arc::new(Shared {
                db,
                registry,
                ctx,
                config,
                takeover_prefix,
                own_prefix,
                claims: AtomicU64::new(0),
                faults: Faults::none(),
            }),
            waker: FlowWaker::default(),
        }
    }

    /// Injects faults (tests; see [`Faults`]).
    #[cfg(feature = "fault-injection")]
    pub fn with_faults(self, faults: Faults) -> Self {
        let Worker { shared, waker } = self;
        let mut shared = Arc::into_inner(shared).expect("not running yet");
        shared.faults = faults;
        Worker {
            shared: Arc::new(shared),
            waker,
        }
    }

    /// How every `lease_holder` this worker writes begins.
    pub fn lease_prefix(&self) -> &str {
        &self.shared.own_prefix
    }

    pub fn waker(&self) -> FlowWaker {
        self.waker.clone()
    }

    /// Claims and runs flows until `stop` turns true. A running flow then
    /// finishes the step it is in (steps are never cut off by the worker;
    /// only a crash does that) and is handed back unleased, so another
    /// server continues it without waiting for an expiry.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let shared = self.shared;
        let notify = self.waker.0;
        let mut running = JoinSet::new();
        let mut running_ids: HashMap<tokio::task::Id, String> = HashMap::new();
        loop {
            if *stop.borrow() {
                break;
            }
            while running.len() < shared.config.max_concurrent.max(1) {
                let now = now_ms();
                let n = shared.claims.fetch_add(1, Ordering::Relaxed);
                let holder = format!("{}{n}", shared.own_prefix);
                let claim = lb_flows::Claim {
                    holder: &holder,
                    takeover_prefix: &shared.takeover_prefix,
                    own_prefix: &shared.own_prefix,
                    now,
                    until: now + millis(shared.config.lease),
                };
                match lb_flows::claim(&shared.db, &claim).await {
                    Ok(Some(claimed)) => {
                        let id = claimed.flow.id.clone();
                        let task = running.spawn(run_flow(shared.clone(), claimed, stop.clone()));
                        running_ids.insert(task.id(), id);
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "claiming a load-balancer flow failed");
                        break;
                    }
                }
            }
            tokio::select! {
                () = stopped(&mut stop) => break,
                _ = notify.notified() => {}
                _ = tokio::time::sleep(shared.config.poll) => {}
                Some(done) = running.join_next_with_id(), if !running.is_empty() => {
                    reap(&mut running_ids, done);
                }
            }
        }
        while let Some(done) = running.join_next_with_id().await {
            reap(&mut running_ids, done);
        }
    }
}

fn reap(
    running_ids: &mut HashMap<tokio::task::Id, String>,
    done: Result<(tokio::task::Id, ()), tokio::task::JoinError>,
) {
    match done {
        Ok((id, ())) => {
            running_ids.remove(&id);
        }
        Err(e) => {
            let flow = running_ids.remove(&e.id());
            // Its lease expires and another attempt runs it again.
            tracing::error!(flow = ?flow, error = %e, "a load-balancer flow task panicked");
        }
    }
}

pub(super) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

pub(super) fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Resolves once `stop` turns true (or its sender is gone). Returns
/// nothing: the channel's read guard must not live across an await.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}
