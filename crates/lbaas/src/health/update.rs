//! One heartbeat into the database, in one transaction: upstream's
//! `UpdateHealthDb.update_health` (amphorae/drivers/health/heartbeat_udp.py)
//! for `lb_amphora_health` and the operating statuses, and `update_stats`
//! with `StatsUpdateDb` (statistics/drivers/update_db.py) for the counters.
//!
//! Where this differs from upstream:
//! - only messages of version 2 and later are accepted (the agent sends
//!   3); version 1 nested pools under listeners and unversioned messages
//!   need the UDP listener-count correction, neither of which exists here;
//! - an amphora without a load balancer is reported in the [`Outcome`],
//!   not deleted from compute;
//! - counters are written only for listeners of the amphora's own load
//!   balancer (upstream writes whatever listener ids a keyed datagram
//!   names), so an unknown amphora changes nothing;
//! - a message processed too late still has its counters written, as
//!   upstream's separate stats executor does, but nothing else.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use neutrino_amphora_agent::heartbeat::wire::{Message, PoolReport, Stats as WireStats};
use neutrino_lb_types::enums::{OperatingStatus, ProvisioningStatus};
use neutrino_lb_types::model::Stats;
use neutrino_store::lb::health::{self, HealthLb, HealthPool, Lookup, StatsMode};
use neutrino_store::lb::{self, Object};
use neutrino_store::{Db, StoreError};
use tracing::{debug, warn};

#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What one heartbeat did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The amphora belongs to a load balancer.
    Processed {
        health: HealthRefresh,
        /// Operating statuses written (only those that changed).
        status_changes: usize,
        /// `lb_listener_stats` rows written.
        stats_rows: usize,
    },
    /// No such amphora: nothing written (upstream: an operator must
    /// delete its compute instance by hand).
    UnknownAmphora,
    /// An amphora row (maybe DELETED) without a live load balancer:
    /// nothing written. Upstream deletes the compute instance here; the
    /// caller may.
    NoLoadBalancer { compute_id: Option<String> },
    /// `ver` below 2: nothing written.
    UnsupportedVersion(u32),
}

/// What happened to `lb_amphora_health.last_update`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HealthRefresh {
    Refreshed,
    /// Not refreshed: the amphora reports a different number of listeners
    /// than the load balancer has enabled (statuses are still written).
    ListenerCountMismatch {
        reported: usize,
        expected: usize,
    },
    /// Not refreshed and no statuses written: processing started
    /// `heartbeat_interval` or more after receipt.
    TooLate {
        delay: Duration,
    },
}

/// Applies heartbeat `msg`, received at `received`, to the database.
pub async fn update_health(
    db: &Db,
    msg: &Message,
    received: SystemTime,
    heartbeat_interval: Duration,
) -> Result<Outcome, HealthError> {
    if msg.ver < 2 {
        warn!(amphora = %msg.id, ver = msg.ver, "heartbeat version not supported; ignored");
        return Ok(Outcome::UnsupportedVersion(msg.ver));
    }
    let mut tx = db.begin().await?;
    let db_lb = match health::lookup(&mut tx, &msg.id).await? {
        Lookup::LoadBalancer(lb) => lb,
        Lookup::Unknown => {
            warn!(amphora = %msg.id,
                "heartbeat from an amphora missing from the database; \
                 an operator must delete its compute instance");
            return Ok(Outcome::UnknownAmphora);
        }
        Lookup::NoLoadBalancer { compute_id } => {
            warn!(amphora = %msg.id, compute_id = ?compute_id,
                "heartbeat from an amphora without a load balancer \
                 (maybe being deleted); its compute instance should go");
            return Ok(Outcome::NoLoadBalancer { compute_id });
        }
    };

    let health = refresh_decision(&db_lb, msg, received, heartbeat_interval);
    let changes = match health {
        HealthRefresh::TooLate { delay } => {
            warn!(amphora = %msg.id, delay = ?delay,
                "heartbeat processed too slowly; the system may be overloaded. \
                 Ignored: no health or status update");
            Vec::new()
        }
        HealthRefresh::ListenerCountMismatch { reported, expected } => {
            warn!(amphora = %msg.id, reported, expected,
                "heartbeat reports a different number of listeners than expected");
            plan(&db_lb, msg)
        }
        HealthRefresh::Refreshed => plan(&db_lb, msg),
    };

    let now = lb::now();
    // A fixed order (load balancer, listeners, pools, members; ids sorted)
    // so concurrent updates of one load balancer lock its rows alike.
    for c in &changes {
        debug!(object = ?c.object, id = %c.id, from = %c.from.as_str(), to = %c.to.as_str(),
            "operating status changed");
        health::set_operating_status(&mut tx, c.object, &c.id, c.to, &now).await?;
    }
    if health == HealthRefresh::Refreshed {
        health::touch(&mut tx, &msg.id, &now).await?;
    }
    let mode = if msg.ver >= 3 {
        StatsMode::Add
    } else {
        StatsMode::Replace
    };
    let mut stats_rows = 0;
    for (listener_id, report) in &msg.listeners {
        if !db_lb.listeners.contains_key(listener_id) {
            continue;
        }
        let stats = counters(&report.stats);
        if health::record_listener_stats(&mut tx, listener_id, &msg.id, &stats, mode).await? {
            stats_rows += 1;
        }
    }
    tx.commit().await?;
    Ok(Outcome::Processed {
        health,
        status_changes: changes.len(),
        stats_rows,
    })
}

/// Upstream's listener-count rule and processing-delay check.
fn refresh_decision(
    lb: &HealthLb,
    msg: &Message,
    received: SystemTime,
    heartbeat_interval: Duration,
) -> HealthRefresh {
    let pending = matches!(
        lb.provisioning_status,
        ProvisioningStatus::PendingCreate
            | ProvisioningStatus::PendingUpdate
            | ProvisioningStatus::PendingDelete
    );
    // Disabled listeners do not report from the amphora.
    let expected = lb.listeners.values().filter(|l| l.enabled).count();
    if !(pending || !lb.enabled || msg.listeners.len() == expected) {
        return HealthRefresh::ListenerCountMismatch {
            reported: msg.listeners.len(),
            expected,
        };
    }
    let delay = SystemTime::now()
        .duration_since(received)
        .unwrap_or_default();
    if delay >= heartbeat_interval {
        HealthRefresh::TooLate { delay }
    } else {
        HealthRefresh::Refreshed
    }
}

/// One operating status to write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Change {
    pub object: Object,
    pub id: String,
    pub from: OperatingStatus,
    pub to: OperatingStatus,
}

fn rank(o: Object) -> u8 {
    match o {
        Object::LoadBalancer => 0,
        Object::Listener => 1,
        Object::Pool => 2,
        Object::Member => 3,
        _ => 4,
    }
}

/// The status changes `msg` implies for `lb` (upstream's `_update_health`
/// after the health refresh, and `_process_pool_status`).
pub(crate) fn plan(lb: &HealthLb, msg: &Message) -> Vec<Change> {
    use OperatingStatus::*;
    let mut out = Vec::new();
    let mut push = |object, id: &str, from, to: Option<OperatingStatus>| {
        if let Some(to) = to
            && to != from
        {
            out.push(Change {
                object,
                id: id.to_owned(),
                from,
                to,
            });
        }
    };
    // A heartbeat came, so the load balancer is healthy until proven
    // otherwise.
    let mut lb_status = if lb.enabled { Online } else { Offline };

    for (id, db_listener) in &lb.listeners {
        let status = match msg.listeners.get(id) {
            None if db_listener.enabled && lb.provisioning_status == ProvisioningStatus::Active => {
                Some(Error)
            }
            None => Some(Offline),
            // OPEN: haproxy's frontend has nbconn < maxconn; FULL: not.
            Some(r) => match r.status.as_str() {
                "OPEN" => Some(Online),
                "FULL" => {
                    if lb_status == Online {
                        lb_status = Degraded;
                    }
                    Some(Degraded)
                }
                other => {
                    warn!(listener = %id, status = other, "listener reported an unknown status");
                    None
                }
            },
        };
        push(Object::Listener, id, db_listener.operating_status, status);
    }

    // Keys are "<pool id>:<listener id>" (older amphorae: "<pool id>").
    let reported: BTreeMap<&str, &PoolReport> = msg
        .pools
        .iter()
        .map(|(k, v)| (k.rfind(':').map_or(k.as_str(), |i| &k[..i]), v))
        .collect();
    for (pool_id, db_pool) in &lb.pools {
        match reported.get(pool_id.as_str()) {
            None => push(
                Object::Pool,
                pool_id,
                db_pool.operating_status,
                Some(Offline),
            ),
            Some(report) => {
                lb_status = pool_changes(pool_id, db_pool, report, lb_status, &mut push);
            }
        }
    }

    push(
        Object::LoadBalancer,
        &lb.id,
        lb.operating_status,
        Some(lb_status),
    );
    out.sort_by(|a, b| (rank(a.object), &a.id).cmp(&(rank(b.object), &b.id)));
    out
}

/// A reported pool and its members; returns the load balancer's status.
fn pool_changes(
    pool_id: &str,
    db_pool: &HealthPool,
    report: &PoolReport,
    mut lb_status: OperatingStatus,
    push: &mut impl FnMut(Object, &str, OperatingStatus, Option<OperatingStatus>),
) -> OperatingStatus {
    use OperatingStatus::*;
    // UP: the backend has working servers or none; DOWN: none working.
    let mut pool_status = match report.status.as_str() {
        "UP" => Some(Online),
        "DOWN" => {
            lb_status = Error;
            Some(Error)
        }
        other => {
            warn!(pool = %pool_id, status = other, "pool reported an unknown status");
            None
        }
    };
    for (member_id, &db_status) in &db_pool.members {
        let status = match report.members.get(member_id).map(String::as_str) {
            None if db_status != NoMonitor => Some(Offline),
            None => None,
            // "UP", "DOWN" and their transitional forms ("UP 1/3").
            Some(s) if s.starts_with("UP") => Some(Online),
            Some(s) if s.starts_with("DOWN") => {
                if pool_status == Some(Online) {
                    pool_status = Some(Degraded);
                    if lb_status == Online {
                        lb_status = Degraded;
                    }
                }
                Some(Error)
            }
            Some("DRAIN") => Some(Draining),
            Some("MAINT") => Some(Offline),
            Some("no check") => Some(NoMonitor),
            // keepalived restarting: the checks may not have run yet;
            // keep the previous status.
            Some("RESTARTING") => None,
            Some(other) => {
                warn!(member = %member_id, status = other, "member reported an unknown status");
                None
            }
        };
        push(Object::Member, member_id, db_status, status);
    }
    push(Object::Pool, pool_id, db_pool.operating_status, pool_status);
    lb_status
}

/// The agent's counters as stored (`rx` is bytes in, `tx` bytes out).
fn counters(s: &WireStats) -> Stats {
    let c = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    Stats {
        bytes_in: c(s.rx),
        bytes_out: c(s.tx),
        active_connections: c(s.conns),
        total_connections: c(s.totconns),
        request_errors: c(s.ereq),
    }
}
