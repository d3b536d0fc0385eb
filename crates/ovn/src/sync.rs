//! The sync worker: drains the journal into the northbound database and
//! audits the whole of it on start-up and periodically.
//!
//! Level-triggered: a journal row only names an object; the worker re-reads
//! that object, computes its rows and applies the difference from what the
//! replica holds. Applying twice, or after a crash between the OVN commit
//! and the journal delete, changes nothing.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use neutrino_ovsdb::{Replica, Session};
use neutrino_store::Db;
use neutrino_store::ovn::{self, JournalEntry};
use tracing::{debug, info, warn};

use crate::Error;
use crate::desired;
use crate::index::Index;
use crate::load::{Scope, World, load};
use crate::naming::*;
use crate::plan::{Counts, Plan};

/// The northbound tables the worker reads.
pub const NB_TABLES: &[&str] = &[
    "NB_Global",
    "Logical_Switch",
    "Logical_Switch_Port",
    "DHCP_Options",
    "Logical_Router",
    "Logical_Router_Port",
    "Logical_Router_Static_Route",
    "NAT",
    "Gateway_Chassis",
    "Port_Group",
    "ACL",
];
/// The southbound tables the worker reads.
pub const SB_TABLES: &[&str] = &["Chassis", "Port_Binding"];

/// The result of one audit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AuditReport {
    pub counts: Counts,
    pub elapsed: Duration,
}

#[derive(Clone)]
pub struct Syncer {
    db: Db,
    nb: Session,
    sb: Session,
}

pub(crate) fn rows<'a>(r: &'a Replica, table: &str) -> Vec<(uuid::Uuid, &'a neutrino_ovsdb::Row)> {
    r.rows(table).collect()
}

fn scope_of(entries: &[JournalEntry]) -> Scope {
    let mut s = Scope::default();
    for e in entries {
        let set = match e.object_type.as_str() {
            "network" => &mut s.networks,
            "port" => &mut s.ports,
            "router" => &mut s.routers,
            "security_group" => &mut s.groups,
            other => {
                warn!(object_type = other, "unknown journal object type");
                continue;
            }
        };
        set.insert(e.object_id.clone());
    }
    s
}

impl Syncer {
    pub fn new(db: Db, nb: Session, sb: Session) -> Self {
        Syncer { db, nb, sb }
    }

    pub fn nb(&self) -> &Session {
        &self.nb
    }

    /// Chassis that may host router gateways: those that ask for it
    /// (`ovn-cms-options=enable-chassis-as-gw`, as Neutron schedules), or
    /// every chassis when none does.
    fn gateway_chassis(&self) -> Vec<String> {
        let sb = self.sb.replica();
        let mut all = Vec::new();
        let mut gw = Vec::new();
        for (_, c) in rows(&sb, "Chassis") {
            let Some(name) = c.str("name") else { continue };
            all.push(name.to_string());
            let wants = ["other_config", "external_ids"].iter().any(|col| {
                c.string_map(col)
                    .get("ovn-cms-options")
                    .is_some_and(|o| o.split(',').any(|x| x.trim() == "enable-chassis-as-gw"))
            });
            if wants {
                gw.push(name.to_string());
            }
        }
        let mut out = if gw.is_empty() { all } else { gw };
        out.sort();
        out
    }

    /// Applies `scope` (or everything, for an audit). Returns what changed
    /// and the objects that could not be planned yet.
    async fn apply(&self, scope: &Scope, all: bool) -> Result<(Counts, Vec<String>), Error> {
        let world = load(&self.db, scope, all).await?;
        let chassis = self.gateway_chassis();
        let replica = self.nb.replica();
        let idx = Index::build(|t| rows(&replica, t));
        let mut plan = Plan::new(&idx);
        let not_ready = build(&mut plan, &world, scope, all, &chassis, &idx);
        if plan.is_empty() {
            return Ok((plan.counts, not_ready));
        }
        let mark = uuid::Uuid::new_v4().to_string();
        plan.mark(&mark);
        let counts = plan.counts;
        let ops = std::mem::take(&mut plan.ops);
        drop(plan);
        drop(idx);
        drop(replica);
        self.nb.transact(ops).await?;
        // Later passes must see this one's rows, or they would insert them again.
        self.nb
            .wait_for(
                move |r| {
                    r.table("NB_Global")
                        .any(|g| g.string_map("external_ids").get(KEY_SYNC_MARK) == Some(&mark))
                },
                Duration::from_secs(10),
            )
            .await?;
        Ok((counts, not_ready))
    }

    /// Compares the whole database with the northbound DB and repairs
    /// every difference.
    pub async fn audit(&self) -> Result<AuditReport, Error> {
        let t = Instant::now();
        let (counts, not_ready) = self.apply(&Scope::default(), true).await?;
        if !not_ready.is_empty() {
            warn!(?not_ready, "audit left objects it could not plan");
        }
        let report = AuditReport {
            counts,
            elapsed: t.elapsed(),
        };
        info!(
            created = counts.created,
            updated = counts.updated,
            deleted = counts.deleted,
            ms = report.elapsed.as_millis() as u64,
            "northbound audit done"
        );
        Ok(report)
    }

    /// Drains up to `limit` journal rows. Returns how many were processed.
    pub async fn drain(&self, limit: i64) -> Result<usize, Error> {
        let entries = ovn::pending(&self.db, limit).await?;
        if entries.is_empty() {
            return Ok(0);
        }
        let scope = scope_of(&entries);
        let (counts, not_ready) = match self.apply(&scope, false).await {
            Ok(r) => r,
            Err(Error::Ovsdb(neutrino_ovsdb::Error::OperationFailed {
                index,
                error,
                details,
            })) => {
                // One bad object must not hold up the others: apply each alone.
                warn!(index, %error, ?details, "batched sync failed, retrying object by object");
                self.apply_one_by_one(&scope).await?
            }
            Err(e) => return Err(e),
        };
        let keep: HashSet<&str> = not_ready.iter().map(String::as_str).collect();
        let done: Vec<i64> = entries
            .iter()
            .filter(|e| !keep.contains(e.object_id.as_str()))
            .map(|e| e.seq)
            .collect();
        ovn::done(&self.db, &done).await?;
        debug!(
            entries = entries.len(),
            created = counts.created,
            updated = counts.updated,
            deleted = counts.deleted,
            "journal applied"
        );
        if !not_ready.is_empty() {
            return Err(Error::NotReady(not_ready.len()));
        }
        Ok(entries.len())
    }

    async fn apply_one_by_one(&self, scope: &Scope) -> Result<(Counts, Vec<String>), Error> {
        let mut total = Counts::default();
        let mut failed = Vec::new();
        let singles = scope
            .groups
            .iter()
            .map(|g| Scope {
                groups: [g.clone()].into(),
                ..Default::default()
            })
            .chain(scope.networks.iter().map(|n| Scope {
                networks: [n.clone()].into(),
                ..Default::default()
            }))
            .chain(scope.ports.iter().map(|p| Scope {
                ports: [p.clone()].into(),
                ..Default::default()
            }))
            .chain(scope.routers.iter().map(|r| Scope {
                routers: [r.clone()].into(),
                ..Default::default()
            }));
        for single in singles {
            match self.apply(&single, false).await {
                Ok((c, nr)) => {
                    total.add(c);
                    failed.extend(nr);
                }
                Err(Error::Ovsdb(neutrino_ovsdb::Error::OperationFailed {
                    error,
                    details,
                    ..
                })) => {
                    warn!(?single, %error, ?details, "object could not be synced; the audit retries it");
                    failed.extend(
                        single
                            .groups
                            .iter()
                            .chain(&single.networks)
                            .chain(&single.ports)
                            .chain(&single.routers)
                            .cloned(),
                    );
                }
                Err(e) => return Err(e),
            }
        }
        Ok((total, failed))
    }
}

/// Fills `plan` for `scope` (or everything). Returns ids it could not plan.
fn build(
    plan: &mut Plan<'_, '_>,
    w: &World,
    scope: &Scope,
    all: bool,
    chassis: &[String],
    idx: &Index<'_>,
) -> Vec<String> {
    let mut not_ready = Vec::new();
    let ids = |set: &std::collections::BTreeSet<String>, loaded: Vec<&String>| -> Vec<String> {
        if all {
            loaded.into_iter().cloned().collect()
        } else {
            set.iter().cloned().collect()
        }
    };

    // Groups first: ports join them.
    let mut groups = ids(&scope.groups, w.groups.keys().collect());
    // Groups that ports of this pass need and the NB lacks.
    for p in w.ports.values() {
        for g in &p.security_groups {
            if !idx.port_groups.contains_key(port_group_name(g).as_str()) && !groups.contains(g) {
                groups.push(g.clone());
            }
        }
    }
    let needs_drop = w.ports.values().any(|p| p.port_security_enabled);
    if all || needs_drop {
        plan.ensure_drop_group();
    }
    for id in &groups {
        let d = w.groups.get(id).map(desired::group);
        if d.is_none() && !all && !scope.groups.contains(id) {
            continue; // needed by a port but not loaded: the port waits
        }
        plan.group(&port_group_name(id), d.as_ref());
    }

    let empty = Vec::new();
    for id in ids(&scope.networks, w.networks.keys().collect()) {
        let d = w
            .networks
            .get(&id)
            .map(|n| desired::switch(n, w.subnets.get(&id).unwrap_or(&empty)));
        plan.switch(&switch_name(&id), d.as_ref());
    }
    if all || !scope.networks.is_empty() {
        let live: HashSet<String> = w.dhcp_subnets.iter().cloned().collect();
        plan.dhcp_orphans(&live);
    }

    for id in ids(&scope.ports, w.ports.keys().collect()) {
        let d = w.ports.get(&id).and_then(|p| {
            let virt = w
                .virtual_parents
                .get(&p.id)
                .map(|(ip, parents)| desired::Virtual { ip, parents });
            desired::port_with(p, w.subnets.get(&p.network_id).unwrap_or(&empty), virt)
        });
        if let Err(e) = plan.port(&id, d.as_ref()) {
            debug!(port = %id, error = %e, "port waits");
            not_ready.push(id);
        }
    }

    for id in ids(&scope.routers, w.routers.keys().collect()) {
        let d = w.routers.get(&id).map(|r| {
            desired::router(
                r,
                &desired::RouterInputs {
                    ports: w.router_ports.get(&id).map(Vec::as_slice).unwrap_or(&[]),
                    subnets: &w.router_subnets,
                    floating_ips: &w.floating_ips,
                    gateway_chassis: chassis,
                },
            )
        });
        plan.router(&router_name(&id), d.as_ref());
    }

    if all {
        // Extra rows: ours by name, but no longer in the database.
        for (id, _) in Index::owned(&idx.switches) {
            if !w.networks.contains_key(id) {
                plan.switch(&switch_name(id), None);
            }
        }
        for (id, _) in Index::owned(&idx.routers) {
            if !w.routers.contains_key(id) {
                plan.router(&router_name(id), None);
            }
        }
        let live_groups: HashSet<String> = w.groups.keys().map(|g| port_group_name(g)).collect();
        for name in idx.port_groups.keys() {
            if name.starts_with("pg_") && !live_groups.contains(*name) {
                plan.group(name, None);
            }
        }
        let owned_switches: HashSet<uuid::Uuid> =
            Index::owned(&idx.switches).map(|(_, u)| u).collect();
        for (name, (u, _)) in &idx.switch_ports {
            let in_owned = idx
                .port_parent
                .get(u)
                .is_some_and(|s| owned_switches.contains(s));
            let ours = w
                .ports
                .get(*name)
                .is_some_and(|p| desired::port(p, &[]).is_some());
            if in_owned && !ours && !name.starts_with(PROVNET_PREFIX) {
                let _ = plan.port(name, None);
            }
        }
    }
    not_ready
}

/// Runs the journal loop until `stop` fires: holds the lease, audits on
/// start, after every reconnect and every `audit_every`, and drains the
/// journal in between.
pub async fn run(
    syncer: Syncer,
    holder: String,
    audit_every: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let ttl = 15;
    let mut leader = false;
    let mut last_audit: Option<Instant> = None;
    let mut was_connected = false;
    let mut backoff = Duration::from_millis(100);
    loop {
        if *stop.borrow() {
            break;
        }
        let now = unix_now();
        match ovn::take_lease(&syncer.db, &holder, now, ttl).await {
            Ok(true) => {
                if !leader {
                    info!(%holder, "took the northbound sync lease");
                    last_audit = None;
                }
                leader = true;
            }
            Ok(false) => {
                leader = false;
            }
            Err(e) => warn!(error = %e, "sync lease"),
        }
        let connected = syncer.nb.connected() && syncer.sb.connected();
        if leader && connected {
            if !was_connected {
                last_audit = None; // the NB may have changed while we were away
            }
            let due = last_audit.is_none_or(|t| t.elapsed() >= audit_every);
            let result = if due {
                syncer.audit().await.map(|_| {
                    last_audit = Some(Instant::now());
                    0
                })
            } else {
                syncer.drain(1000).await
            };
            match result {
                Ok(n) => {
                    backoff = Duration::from_millis(100);
                    if n > 0 {
                        continue; // more may be waiting
                    }
                }
                Err(e) => {
                    warn!(error = %e, "northbound sync pass failed; retrying");
                    sleep_or_stop(&mut stop, backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    was_connected = connected;
                    continue;
                }
            }
        }
        was_connected = connected;
        sleep_or_stop(
            &mut stop,
            Duration::from_millis(if leader { 20 } else { 2000 }),
        )
        .await;
    }
    if leader {
        let _ = ovn::release_lease(&syncer.db, &holder).await;
    }
}

async fn sleep_or_stop(stop: &mut tokio::sync::watch::Receiver<bool>, d: Duration) {
    tokio::select! {
        _ = tokio::time::sleep(d) => {}
        _ = stop.changed() => {}
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Keeps the shared pieces for callers that hold an `Arc`.
pub type Shared = Arc<Syncer>;
