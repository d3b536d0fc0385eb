//! IPSet reconciliation: the REST service's IPSet work with the cluster as
//! the store.
//!
//! Each pass reads the namespace's NetConfig and every Reservation of the
//! namespace from the API server (not from a cache, so the addresses handed
//! out by the previous pass are seen), checks the IPSet with
//! [`validate::ipset`], walks the subnet with [`SubnetPlan::first_free`],
//! writes the IPSet's Reservation (same name, owned by the IPSet) with
//! server-side apply, and then the status, built with
//! [`alloc::status_entry`](neutrino_infra::alloc::status_entry) exactly as
//! the REST service builds it. Passes run one at a time (the controller's
//! concurrency is 1, as upstream's), which is what keeps two IPSets from
//! taking the same address: the cluster has no unique index.
//!
//! The finalizer [`FINALIZER`] is added on first sight; when the IPSet is
//! deleted its Reservation is deleted first, so its addresses are free by
//! the time the IPSet is gone.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::finalizer::{Event, finalizer};
use kube::{Resource, ResourceExt};
use neutrino_infra::alloc::{SubnetPlan, canonical, order_reservations, status_entry};
use neutrino_infra::meta::{Condition, conditions, ipset_ready_conditions};
use neutrino_infra::resources::{
    self as r, IPAddress, IPSetReservation, IPSetStatus, Kind, ObjectReference,
};
use neutrino_infra::service::IPAM_LABEL_PREFIX;
use neutrino_infra::validate::{self, FieldError};
use serde_json::json;

use crate::crd::{IPSet, NetConfig, Reservation, ReservationSpec, to_infra};
use crate::{API_VERSION, Context, Error, MANAGER, RETRY};

/// Keeps an IPSet until its Reservation is deleted. (Upstream's finalizer
/// is the bare word `IPSet`; Kubernetes warns about finalizer names that
/// are not domain-qualified.)
pub const FINALIZER: &str = "network.openstack.org/ipset";

pub async fn reconcile(ipset: Arc<IPSet>, ctx: Arc<Context>) -> Result<Action, Error> {
    let ns = ipset.namespace().ok_or(Error::NoNamespace)?;
    let api: Api<IPSet> = Api::namespaced(ctx.client.clone(), &ns);
    finalizer(&api, FINALIZER, ipset, |event| async {
        match event {
            Event::Apply(ipset) => apply(&ipset, &ctx, &ns).await,
            Event::Cleanup(ipset) => cleanup(&ipset, &ctx, &ns).await,
        }
    })
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)))
}

pub fn error_policy(ipset: Arc<IPSet>, error: &Error, _ctx: Arc<Context>) -> Action {
    tracing::warn!(
        ipset = %ipset.name_any(),
        namespace = ipset.namespace().unwrap_or_default(),
        %error,
        "IPSet reconcile failed"
    );
    Action::requeue(RETRY)
}

/// What a pass comes to.
#[derive(Debug, PartialEq)]
enum Plan {
    /// No single valid NetConfig, or the IPSet breaks a rule: nothing is
    /// reserved (a Reservation it already has stays).
    InputError(String),
    /// The input is fine but an address cannot be had.
    ReservationError(String),
    Reserved {
        /// The Reservation's `spec.reservation`.
        entries: BTreeMap<String, IPAddress>,
        /// The status entries, in status order.
        status: Vec<IPSetReservation>,
    },
}

fn join(errs: &[FieldError]) -> String {
    errs.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// The namespace's one NetConfig, if it is usable, and the IPSet checked
/// against it: upstream's webhook rules, which here have no webhook to run
/// in.
fn check_input<'a>(
    ipset: &r::IPSet,
    netconfigs: &'a [r::NetConfig],
) -> Result<&'a r::NetConfig, String> {
    let ns = &ipset.metadata.namespace;
    let netcfg = match netconfigs {
        [] => {
            return Err(format!(
                "no NetConfig found in namespace {ns:?}; create one first"
            ));
        }
        [one] => one,
        many => {
            let names: Vec<&str> = many.iter().map(|n| n.metadata.name.as_str()).collect();
            return Err(format!(
                "there are {} NetConfigs in namespace {ns:?} ({}); there can only be one",
                many.len(),
                names.join(", ")
            ));
        }
    };
    let errs = validate::netconfig(&netcfg.spec);
    if !errs.is_empty() {
        return Err(format!(
            "NetConfig {} is invalid: {}",
            netcfg.metadata.name,
            join(&errs)
        ));
    }
    let errs = validate::ipset(&ipset.spec, &netcfg.spec);
    if !errs.is_empty() {
        return Err(join(&errs));
    }
    Ok(netcfg)
}

/// The addresses of a valid IPSet: the one its Reservation already holds
/// on a network (kept even if the ranges moved, upstream's PR #438), else
/// its `fixedIP`, else the first free address of the walk. Reserved means
/// held by any other Reservation of the namespace under the same network
/// name, upstream's (and the REST service's) key.
fn allocate(ipset: &r::IPSet, netcfg: &r::NetConfig, reservations: &[Reservation]) -> Plan {
    let name = &ipset.metadata.name;
    let mut taken: HashMap<String, HashMap<IpAddr, String>> = HashMap::new();
    let mut own: Option<&r::ReservationSpec> = None;
    for res in reservations {
        if res.name_any() == *name {
            own = Some(&res.spec.0);
            continue;
        }
        for (key, entry) in &res.spec.reservation {
            if let Ok(ip) = entry.address.trim().parse::<IpAddr>() {
                taken
                    .entry(key.to_lowercase())
                    .or_default()
                    .insert(ip, res.name_any());
            }
        }
    }
    let mut entries = BTreeMap::new();
    let mut status = Vec::new();
    for (i, req) in ipset.spec.networks.iter().enumerate() {
        let (net, sub) = netcfg
            .spec
            .find(&req.name, &req.subnet_name)
            .expect("validated against this NetConfig");
        let others = taken.get(&net.name.to_lowercase());
        let is_taken = |ip: &IpAddr| others.and_then(|o| o.get(ip));
        let held = own.and_then(|o| {
            o.reservation
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(&net.name))
                .map(|(_, v)| v.clone())
        });
        let entry = match held {
            Some(held) => held,
            None => {
                let plan = match SubnetPlan::new(sub) {
                    Ok(p) => p,
                    Err(e) => {
                        return Plan::InputError(format!("spec.networks[{i}].subnetName: {e}"));
                    }
                };
                let address = if let Some(fixed) = &req.fixed_ip {
                    let ip: IpAddr = canonical(fixed)
                        .and_then(|c| c.parse().ok())
                        .expect("validated fixedIP");
                    if let Some(holder) = is_taken(&ip) {
                        return Plan::ReservationError(format!(
                            "spec.networks[{i}].fixedIP: {fixed} is already reserved on network {} by {holder}",
                            net.name
                        ));
                    }
                    ip
                } else {
                    match plan.first_free(|ip| is_taken(&ip).is_some()) {
                        Some(ip) => ip,
                        None => {
                            return Plan::ReservationError(format!(
                                "no ip address could be created for {name} in subnet {} of network {}: every address of its allocationRanges is reserved or excluded",
                                sub.name, net.name
                            ));
                        }
                    }
                };
                IPAddress {
                    address: address.to_string(),
                    network: net.name.clone(),
                    subnet: sub.name.clone(),
                }
            }
        };
        status.push(status_entry(
            net,
            sub,
            &entry.address,
            req.wants_default_route(),
        ));
        entries.insert(net.name.clone(), entry);
    }
    order_reservations(&mut status);
    Plan::Reserved { entries, status }
}

/// A condition whose status is Unknown (lib-common's initial state).
fn unknown(
    previous: &[Condition],
    now: &str,
    type_: &str,
    reason: &str,
    message: &str,
) -> Condition {
    let last = previous
        .iter()
        .find(|c| c.type_ == type_ && c.status == "Unknown")
        .map(|c| c.last_transition_time.clone())
        .unwrap_or_else(|| now.to_string());
    Condition {
        type_: type_.to_string(),
        status: "Unknown".to_string(),
        reason: reason.to_string(),
        message: message.to_string(),
        severity: String::new(),
        last_transition_time: last,
    }
}

/// The IPSet's status for a plan: the REST service's status when it
/// reserved; otherwise the reason in the conditions, with the entries of
/// the last good pass (its Reservation still holds them).
fn status_for(ipset: &IPSet, plan: &Plan, now: &str) -> IPSetStatus {
    let old = ipset.status.clone().unwrap_or_default();
    let prev = &old.conditions;
    let (conds, reservations) = match plan {
        Plan::Reserved { status, .. } => (ipset_ready_conditions(prev, now), status.clone()),
        Plan::InputError(msg) => {
            let msg = format!("Input data error occurred: {msg}");
            let mut c = conditions(
                prev,
                now,
                &[
                    ("Ready", false, "Error", &msg),
                    ("InputReady", false, "Error", &msg),
                ],
            );
            c.push(unknown(
                prev,
                now,
                "ReservationReady",
                "Init",
                "Reservation not started",
            ));
            (c, old.reservations.clone())
        }
        Plan::ReservationError(msg) => {
            let msg = format!("Reservation error occurred: {msg}");
            let c = conditions(
                prev,
                now,
                &[
                    ("Ready", false, "Error", &msg),
                    ("InputReady", true, "Ready", "Input data complete"),
                    ("ReservationReady", false, "Error", &msg),
                ],
            );
            (c, old.reservations.clone())
        }
    };
    IPSetStatus {
        conditions: conds,
        observed_generation: ipset.metadata.generation,
        reservations,
    }
}

async fn apply(ipset: &IPSet, ctx: &Context, ns: &str) -> Result<Action, Error> {
    let name = ipset.name_any();
    let client = &ctx.client;
    let netconfigs: Vec<r::NetConfig> = Api::<NetConfig>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await?
        .items
        .iter()
        .map(|n| to_infra(n, r::NoStatus {}))
        .collect();
    let infra = to_infra(ipset, IPSetStatus::default());
    let plan = match check_input(&infra, &netconfigs) {
        Err(msg) => Plan::InputError(msg),
        Ok(netcfg) => {
            let reservations = Api::<Reservation>::namespaced(client.clone(), ns)
                .list(&ListParams::default())
                .await?
                .items;
            let plan = allocate(&infra, netcfg, &reservations);
            if let Plan::Reserved { entries, .. } = &plan {
                let own = reservations.iter().find(|r| r.name_any() == name);
                write_reservation(ctx, ipset, ns, own, entries).await?;
            }
            plan
        }
    };
    let status = status_for(ipset, &plan, &(ctx.now)());
    if ipset.status.as_ref() != Some(&status) {
        let body = json!({"apiVersion": API_VERSION, "kind": Kind::IPSet.name(), "status": status});
        Api::<IPSet>::namespaced(client.clone(), ns)
            .patch_status(
                &name,
                &PatchParams::apply(MANAGER).force(),
                &Patch::Apply(body),
            )
            .await?;
    }
    Ok(match plan {
        Plan::Reserved { .. } => Action::await_change(),
        // Addresses freed by other IPSets or a NetConfig fixed elsewhere
        // trigger nothing here: look again later.
        _ => Action::requeue(RETRY),
    })
}

/// Writes the IPSet's Reservation unless it already says exactly this:
/// labels `ipam.network.openstack.org/<network>: <subnet>`, owned by the
/// IPSet (so the garbage collector removes it too if the finalizer is
/// bypassed), `ipSetRef` filled in as the REST service does.
async fn write_reservation(
    ctx: &Context,
    ipset: &IPSet,
    ns: &str,
    own: Option<&Reservation>,
    entries: &BTreeMap<String, IPAddress>,
) -> Result<(), Error> {
    let name = ipset.name_any();
    let uid = ipset.uid().unwrap_or_default();
    let owner = OwnerReference {
        api_version: API_VERSION.to_string(),
        kind: Kind::IPSet.name().to_string(),
        name: name.clone(),
        uid: uid.clone(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    };
    let labels: BTreeMap<String, String> = entries
        .iter()
        .map(|(k, e)| (format!("{IPAM_LABEL_PREFIX}/{k}"), e.subnet.clone()))
        .collect();
    let spec = r::ReservationSpec {
        ip_set_ref: ObjectReference {
            api_version: API_VERSION.to_string(),
            kind: Kind::IPSet.name().to_string(),
            name: name.clone(),
            namespace: ns.to_string(),
            uid,
            ..Default::default()
        },
        reservation: entries.clone(),
    };
    if let Some(own) = own
        && own.spec.0 == spec
        && labels.iter().all(|(k, v)| own.labels().get(k) == Some(v))
        && own.owner_references().contains(&owner)
    {
        return Ok(());
    }
    let mut res = Reservation::new(&name, ReservationSpec(spec));
    res.metadata.namespace = Some(ns.to_string());
    res.metadata.labels = Some(labels);
    res.metadata.owner_references = Some(vec![owner]);
    Api::<Reservation>::namespaced(ctx.client.clone(), ns)
        .patch(
            &name,
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(&res),
        )
        .await?;
    Ok(())
}

/// Deletion: the Reservation goes first, so the addresses are free once
/// the finalizer is removed.
async fn cleanup(ipset: &IPSet, ctx: &Context, ns: &str) -> Result<Action, Error> {
    let api: Api<Reservation> = Api::namespaced(ctx.client.clone(), ns);
    match api
        .delete(&ipset.name_any(), &DeleteParams::default())
        .await
    {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.is_not_found() => {}
        Err(e) => return Err(e.into()),
    }
    Ok(Action::await_change())
}

/// The IPSets of a namespace, for re-queueing them when their NetConfig
/// changes (upstream does the same).
pub fn in_namespace<'a>(
    ipsets: impl IntoIterator<Item = &'a Arc<IPSet>>,
    ns: Option<&str>,
) -> Vec<kube::runtime::reflector::ObjectRef<IPSet>> {
    ipsets
        .into_iter()
        .filter(|s| s.meta().namespace.as_deref() == ns)
        .map(|s| kube::runtime::reflector::ObjectRef::from_obj(&**s))
        .collect()
}
