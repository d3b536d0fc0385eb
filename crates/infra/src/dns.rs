//! The DNS reconciler: one responder (crate `neutrino-dns`) per `DNSMasq`
//! that has a listen address, serving the hosts of every `DNSData` of its
//! namespace whose `dnsDataLabelSelectorValue` matches its own.
//!
//! Level-triggered: each pass reads every DNSMasq and DNSData from the
//! database and makes the running responders match, updating records and
//! forwarding settings in place (no restart) and restarting a responder
//! only when its listen address changes. A pass runs after every committed
//! infra write of this process and every [`POLL`] otherwise, which picks up
//! writes made by other replicas; a pass that finds the same fingerprint as
//! the last one does nothing.
//!
//! [`Reconciler::apply`] is the step without the database: operator mode
//! feeds it the DNSMasq/DNSData of its watches and `neutrino dns -f` those
//! of YAML files.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use neutrino_dns::{HostEntry, RecordSet, Responder, ResponderConfig, ResponderHandle, Zone};
use neutrino_store::infra as store;
use tokio::sync::watch;

use crate::codec::decode;
use crate::meta::conditions;
use crate::resources::{
    DNSData, DNSDataSpec, DNSMasq, DNSMasqOptionKey, DNSMasqSpec, DNSMasqStatus, Kind,
};
use crate::service::Infra;
use crate::validate::{DNS_LISTEN_ANNOTATION, dns_listen};

/// How often the database is re-read without a local change notification.
pub const POLL: Duration = Duration::from_secs(2);

/// What one DNSMasq should be serving.
#[derive(Clone, Debug, PartialEq)]
struct Desired {
    listen: SocketAddr,
    upstreams: Vec<SocketAddr>,
    local_domains: Vec<String>,
    ttl: u32,
    /// The hosts, for change detection (RecordSet has no equality).
    hosts: Vec<(IpAddr, Vec<String>)>,
}

struct Running {
    uid: String,
    desired: Desired,
    handle: ResponderHandle,
}

/// The outcome of a pass for one DNSMasq, which becomes its status.
#[derive(Clone, Debug, PartialEq)]
enum State {
    Serving(SocketAddr),
    NoListen,
    Failed(String),
}

/// Runs until `stop` turns true, then shuts every responder down.
pub async fn run(infra: Infra, stop: watch::Receiver<bool>) {
    run_with(infra, Reconciler::default(), stop).await
}

/// [`run`] with a given reconciler (e.g. one limited to a namespace).
pub async fn run_with(infra: Infra, mut reconciler: Reconciler, mut stop: watch::Receiver<bool>) {
    let mut changes = infra.subscribe();
    loop {
        if let Err(e) = reconciler.pass(&infra).await {
            tracing::warn!(error = %e, "DNS reconcile pass failed; retrying");
            reconciler.fingerprint.clear();
        }
        tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            _ = changes.changed() => {}
            _ = tokio::time::sleep(POLL) => {}
        }
    }
    reconciler.shutdown().await;
}

#[derive(Default)]
pub struct Reconciler {
    running: HashMap<(String, String), Running>,
    fingerprint: String,
    /// Some DNSMasq could not start: retry even without changes.
    failing: bool,
    /// Serve only this namespace's DNSMasqs (database passes only).
    namespace: Option<String>,
}

impl Reconciler {
    /// A reconciler whose database passes see one namespace only.
    pub fn in_namespace(namespace: Option<String>) -> Reconciler {
        Reconciler {
            namespace,
            ..Reconciler::default()
        }
    }

    /// Whether some DNSMasq could not be served at the last pass, so that
    /// the next one should run even without changes.
    pub fn failing(&self) -> bool {
        self.failing
    }

    /// One level-triggered pass over the database; see the module
    /// documentation.
    pub async fn pass(&mut self, infra: &Infra) -> Result<(), crate::InfraError> {
        let db = infra.db();
        let fp = store::fingerprint(db, &[Kind::DNSMasq.name(), Kind::DNSData.name()]).await?;
        if fp == self.fingerprint && !self.failing {
            return Ok(());
        }
        let ns = self.namespace.as_deref();
        let mut masqs: Vec<DNSMasq> = Vec::new();
        let mut versions: Vec<i64> = Vec::new();
        for r in store::list(db, Some(Kind::DNSMasq.name()), ns).await? {
            if let Ok(m) = decode::<DNSMasqSpec>(&r) {
                masqs.push(m);
                versions.push(r.resource_version);
            }
        }
        let data: Vec<DNSData> = store::list(db, Some(Kind::DNSData.name()), ns)
            .await?
            .iter()
            .filter_map(|r| decode::<DNSDataSpec>(r).ok())
            .collect();
        for (i, status) in self.apply(&masqs, &data).await {
            let m = &masqs[i].metadata;
            let status = serde_json::to_value(status).expect("status serialises");
            // A stale version means the object changed meanwhile; the next
            // pass writes the status for the new version.
            let _ = infra
                .write_status(Kind::DNSMasq, &m.namespace, &m.name, versions[i], status)
                .await;
        }
        // The fingerprint read before the objects: anything committed since
        // makes the next pass differ and run. (Statuses written above cost
        // one more pass, which finds nothing to write.)
        self.fingerprint = fp;
        Ok(())
    }

    /// Makes the running responders match `masqs` and `data`, which are
    /// every DNSMasq and DNSData there is (from the database, a cluster's
    /// watches or files): responders of DNSMasqs not listed stop. Returns
    /// the DNSMasqs whose status should change, as indexes into `masqs`
    /// with their new status.
    pub async fn apply(
        &mut self,
        masqs: &[DNSMasq],
        data: &[DNSData],
    ) -> Vec<(usize, DNSMasqStatus)> {
        let mut changed = Vec::new();
        let mut seen = Vec::new();
        let mut failing = false;
        for (i, masq) in masqs.iter().enumerate() {
            let key = (masq.metadata.namespace.clone(), masq.metadata.name.clone());
            seen.push(key.clone());
            let state = match desired(masq, data) {
                Ok(Some(want)) => self.ensure(&key, &masq.metadata.uid, want).await,
                Ok(None) => {
                    self.stop(&key).await;
                    State::NoListen
                }
                Err(msg) => {
                    self.stop(&key).await;
                    State::Failed(msg)
                }
            };
            failing |= matches!(state, State::Failed(_));
            let status = status_for(masq, &state);
            if masq.status != status {
                changed.push((i, status));
            }
        }
        let gone: Vec<_> = self
            .running
            .keys()
            .filter(|k| !seen.contains(k))
            .cloned()
            .collect();
        for key in gone {
            self.stop(&key).await;
        }
        self.failing = failing;
        changed
    }

    async fn ensure(&mut self, key: &(String, String), uid: &str, want: Desired) -> State {
        if let Some(run) = self.running.get_mut(key)
            && run.uid == uid
            && run.desired.listen == want.listen
            && run.desired.ttl == want.ttl
        {
            if run.desired.hosts != want.hosts {
                run.handle.update_records(records(&want.hosts));
            }
            if run.desired.upstreams != want.upstreams
                || run.desired.local_domains != want.local_domains
            {
                run.handle
                    .update_config(want.upstreams.clone(), want.local_domains.clone());
            }
            run.desired = want;
            return State::Serving(run.handle.local_addr());
        }
        self.stop(key).await;
        let cfg = ResponderConfig {
            listen: want.listen,
            upstreams: want.upstreams.clone(),
            local_domains: want.local_domains.clone(),
            ttl: want.ttl,
        };
        match Responder::start(cfg, records(&want.hosts)).await {
            Ok(handle) => {
                let addr = handle.local_addr();
                tracing::info!(namespace = %key.0, dnsmasq = %key.1, %addr, "DNS responder started");
                self.running.insert(
                    key.clone(),
                    Running {
                        uid: uid.to_string(),
                        desired: want,
                        handle,
                    },
                );
                State::Serving(addr)
            }
            Err(e) => {
                tracing::warn!(namespace = %key.0, dnsmasq = %key.1, error = %e, "DNS responder cannot start");
                State::Failed(e.to_string())
            }
        }
    }

    async fn stop(&mut self, key: &(String, String)) {
        if let Some(run) = self.running.remove(key) {
            run.handle.shutdown().await;
        }
    }

    /// Stops every responder.
    pub async fn shutdown(&mut self) {
        for (_, run) in self.running.drain() {
            run.handle.shutdown().await;
        }
    }

    /// The bound address of a DNSMasq's responder, if it runs.
    pub fn local_addr(&self, namespace: &str, name: &str) -> Option<SocketAddr> {
        self.running
            .get(&(namespace.to_string(), name.to_string()))
            .map(|r| r.handle.local_addr())
    }
}

fn records(hosts: &[(IpAddr, Vec<String>)]) -> RecordSet {
    let zone = Zone {
        hosts: hosts
            .iter()
            .map(|(ip, names)| HostEntry {
                ip: *ip,
                hostnames: names.clone(),
            })
            .collect(),
    };
    RecordSet::from_zones(&[zone])
}

/// What a DNSMasq should serve, `None` when it has no listen address.
fn desired(masq: &DNSMasq, data: &[DNSData]) -> Result<Option<Desired>, String> {
    let listen = match dns_listen(&masq.metadata) {
        None => return Ok(None),
        Some(Err(e)) => return Err(e.to_string()),
        Some(Ok(a)) => a,
    };
    let options: Vec<(String, Vec<String>)> = masq
        .spec
        .options
        .iter()
        .map(|o| (o.key.as_str().to_string(), o.values.clone()))
        .collect();
    let (upstreams, local_domains) =
        neutrino_dns::parse_dnsmasq_options(&options).map_err(|e| e.to_string())?;
    // dnsmasq's default local-ttl is 0.
    let ttl = masq
        .spec
        .options
        .iter()
        .find(|o| o.key == DNSMasqOptionKey::LocalTtl)
        .and_then(|o| o.values.first())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let selector = masq.spec.dns_data_label_selector_value.to_lowercase();
    // Upstream mounts the matching ConfigMaps sorted by name; keep that
    // order so answers list addresses in the same order.
    let mut matching: Vec<&DNSData> = data
        .iter()
        .filter(|d| {
            d.metadata.namespace == masq.metadata.namespace
                && d.spec.dns_data_label_selector_value.to_lowercase() == selector
        })
        .collect();
    matching.sort_by_key(|d| d.metadata.name.to_lowercase());
    let mut hosts = Vec::new();
    for d in matching {
        for h in &d.spec.hosts {
            if let Ok(ip) = h.ip.trim().parse::<IpAddr>() {
                let mut names = h.hostnames.clone();
                names.sort();
                hosts.push((ip, names));
            }
        }
    }
    Ok(Some(Desired {
        listen,
        upstreams,
        local_domains,
        ttl,
        hosts,
    }))
}

/// `dnsAddresses` entry of a bound address: the IP, with the port when it
/// is not 53.
fn address_text(addr: SocketAddr) -> String {
    if addr.port() == 53 {
        addr.ip().to_string()
    } else {
        addr.to_string()
    }
}

fn status_for(masq: &DNSMasq, state: &State) -> DNSMasqStatus {
    let now = neutrino_store::now_timestamp();
    let prev = &masq.status.conditions;
    match state {
        State::Serving(addr) => DNSMasqStatus {
            conditions: conditions(
                prev,
                &now,
                &[
                    ("Ready", true, "Ready", "Setup complete"),
                    (
                        "ServiceConfigReady",
                        true,
                        "Ready",
                        "Service config create completed",
                    ),
                ],
            ),
            observed_generation: Some(masq.metadata.generation),
            ready_count: Some(1),
            dns_addresses: vec![address_text(*addr)],
            dns_cluster_addresses: Vec::new(),
            hash: BTreeMap::new(),
            last_applied_topology: None,
        },
        State::NoListen => {
            let msg = format!(
                "not served: set the annotation {DNS_LISTEN_ANNOTATION} to the address to listen on"
            );
            DNSMasqStatus {
                conditions: conditions(prev, &now, &[("Ready", false, "Requested", &msg)]),
                observed_generation: Some(masq.metadata.generation),
                ready_count: Some(0),
                ..Default::default()
            }
        }
        State::Failed(e) => {
            let msg = format!("DNS responder error occurred: {e}");
            DNSMasqStatus {
                conditions: conditions(prev, &now, &[("Ready", false, "Error", &msg)]),
                observed_generation: Some(masq.metadata.generation),
                ready_count: Some(0),
                ..Default::default()
            }
        }
    }
}
