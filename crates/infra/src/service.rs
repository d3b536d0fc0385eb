//! The infra layer's operations over the database: what the REST API
//! calls, and what operator mode will call with the Kubernetes API as its
//! source of objects instead.
//!
//! Each write is one transaction: admission (the webhook rules), then the
//! controller's work (for an IPSet: the reservation and the status), then
//! commit. A client therefore sees a finished IPSet in the answer to its
//! PUT, and a rejected request stores nothing. Lost races (a concurrent
//! create of the same name, a deadlock between two PostgreSQL transactions)
//! run the whole operation again.

use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;

use neutrino_store::infra::{self as store, InfraObject, Lock, ReservedAddress};
use neutrino_store::{Db, Tx};
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::alloc::{SubnetPlan, canonical, order_reservations, status_entry};
use crate::codec::{decode, encode, parse_input, row_to_json};
use crate::error::InfraError;
use crate::meta::{API_VERSION, ObjectMeta, OwnerReference, conditions, ipset_ready_conditions};
use crate::resources::{
    DNSDataSpec, DNSDataStatus, DNSMasqSpec, IPAddress, IPSet, IPSetSpec, IPSetStatus, Kind,
    NetConfig, NetConfigSpec, Object, ObjectReference, Reservation, ReservationSpec, Spec,
};
use crate::validate::{self, FieldError, IPSetUpdateError};

/// Label prefix of a Reservation's `network: subnet` labels.
pub const IPAM_LABEL_PREFIX: &str = "ipam.network.openstack.org";

/// How often a whole operation is retried after a lost race.
const ATTEMPTS: usize = 8;

/// Who is calling, as far as the infra layer cares.
#[derive(Clone, Debug)]
pub struct Actor {
    /// The token's project; namespaces belong to projects.
    pub project_id: Option<String>,
    pub admin: bool,
    /// Members and admins write; readers only read.
    pub can_write: bool,
}

impl Actor {
    /// A caller that may do anything (tests, operator mode).
    pub fn system() -> Actor {
        Actor {
            project_id: Some(String::new()),
            admin: true,
            can_write: true,
        }
    }
}

/// What a PUT did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Configured,
    Unchanged,
}

/// Whether a PUT may create, replace, or both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    CreateOnly,
    CreateOrReplace,
}

/// The infra layer over one database. Cheap to clone.
#[derive(Clone)]
pub struct Infra {
    db: Db,
    changes: watch::Sender<u64>,
}

/// Internal: the operation lost a race and runs again.
enum Step<T> {
    Done(T),
    Retry,
}

fn now() -> String {
    neutrino_store::now_timestamp()
}

impl Infra {
    pub fn new(db: Db) -> Infra {
        let (changes, _) = watch::channel(0);
        Infra { db, changes }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Bumped after every committed write; reconcilers wait on it.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    fn changed(&self) {
        self.changes.send_modify(|v| *v = v.wrapping_add(1));
    }

    // -------------------------------------------------------------- reads

    async fn check_read(&self, actor: &Actor, kind: Kind, ns: &str) -> Result<bool, InfraError> {
        let owner = store::namespace_owner(&self.db, ns).await?;
        match owner {
            None => Ok(false),
            Some(p) if actor.admin || actor.project_id.as_deref() == Some(p.as_str()) => Ok(true),
            Some(_) => Err(InfraError::forbidden(
                kind,
                "",
                format!("namespace {ns:?} belongs to another project"),
            )),
        }
    }

    pub async fn get(
        &self,
        actor: &Actor,
        kind: Kind,
        ns: &str,
        name: &str,
    ) -> Result<Value, InfraError> {
        let not_found = || InfraError::NotFound {
            kind,
            name: name.to_string(),
        };
        if !self.check_read(actor, kind, ns).await? {
            return Err(not_found());
        }
        let row = store::get(&self.db, kind.name(), ns, name).await?;
        row.map(|r| row_to_json(&r)).ok_or_else(not_found)
    }

    /// Objects of a kind in one namespace, or in every namespace the caller
    /// may see.
    pub async fn list(
        &self,
        actor: &Actor,
        kind: Kind,
        ns: Option<&str>,
    ) -> Result<Vec<Value>, InfraError> {
        if let Some(ns) = ns
            && !self.check_read(actor, kind, ns).await?
        {
            return Ok(Vec::new());
        }
        let rows = store::list(&self.db, Some(kind.name()), ns).await?;
        let visible: Option<HashSet<String>> = if actor.admin || ns.is_some() {
            None
        } else {
            let owners = store::namespace_owners(&self.db).await?;
            Some(
                owners
                    .into_iter()
                    .filter(|(_, p)| actor.project_id.as_deref() == Some(p.as_str()))
                    .map(|(n, _)| n)
                    .collect(),
            )
        };
        Ok(rows
            .iter()
            .filter(|r| visible.as_ref().is_none_or(|v| v.contains(&r.namespace)))
            .map(row_to_json)
            .collect())
    }

    // -------------------------------------------------------------- writes

    async fn claim(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        kind: Kind,
        ns: &str,
        name: &str,
    ) -> Result<(), InfraError> {
        if !actor.can_write {
            return Err(InfraError::forbidden(
                kind,
                name,
                "the reader role cannot change infra resources",
            ));
        }
        let project = actor.project_id.clone().unwrap_or_default();
        if project.is_empty() && !actor.admin {
            return Err(InfraError::forbidden(
                kind,
                name,
                "a project-scoped token is required",
            ));
        }
        let owner = store::claim_namespace(tx, ns, &project, &now()).await?;
        if owner != project && !actor.admin {
            return Err(InfraError::forbidden(
                kind,
                name,
                format!("namespace {ns:?} belongs to another project"),
            ));
        }
        Ok(())
    }

    /// Create (or replace) an object from a request body.
    pub async fn apply(
        &self,
        actor: &Actor,
        kind: Kind,
        ns: &str,
        name: &str,
        body: Value,
        mode: Mode,
    ) -> Result<(Value, Outcome), InfraError> {
        if let Err(e) = crate::meta::check_namespace(ns) {
            return Err(InfraError::invalid(
                kind,
                name,
                vec![FieldError::invalid("metadata.namespace", ns, e)],
            ));
        }
        let result = match kind {
            Kind::NetConfig => {
                self.apply_typed::<NetConfigSpec>(actor, ns, name, body, mode)
                    .await
            }
            Kind::IPSet => {
                self.apply_typed::<IPSetSpec>(actor, ns, name, body, mode)
                    .await
            }
            Kind::Reservation => {
                self.apply_typed::<ReservationSpec>(actor, ns, name, body, mode)
                    .await
            }
            Kind::DNSMasq => {
                self.apply_typed::<DNSMasqSpec>(actor, ns, name, body, mode)
                    .await
            }
            Kind::DNSData => {
                self.apply_typed::<DNSDataSpec>(actor, ns, name, body, mode)
                    .await
            }
        };
        if result.as_ref().is_ok_and(|(_, o)| *o != Outcome::Unchanged) {
            self.changed();
        }
        result
    }

    async fn apply_typed<S: Admit>(
        &self,
        actor: &Actor,
        ns: &str,
        name: &str,
        body: Value,
        mode: Mode,
    ) -> Result<(Value, Outcome), InfraError> {
        let (meta, mut spec) = parse_input::<S>(ns, name, body)?;
        spec.apply_defaults(ns);
        let mut errs = validate::metadata(&meta);
        errs.extend(spec.check(&meta));
        if !errs.is_empty() {
            return Err(InfraError::invalid(S::KIND, name, errs));
        }
        for _ in 0..ATTEMPTS {
            let mut tx = self.db.begin().await?;
            self.claim(&mut tx, actor, S::KIND, ns, name).await?;
            let existing = store::get_tx(&mut tx, S::KIND.name(), ns, name, Lock::Update).await?;
            if let Some(row) = &existing {
                if mode == Mode::CreateOnly {
                    return Err(InfraError::AlreadyExists {
                        kind: S::KIND,
                        name: name.to_string(),
                    });
                }
                check_preconditions(S::KIND, &meta, row)?;
            }
            let step =
                S::admit_and_write(&mut tx, actor, existing, meta.clone(), spec.clone()).await;
            match step {
                Ok(Step::Done(done)) => {
                    tx.commit().await?;
                    return Ok(done);
                }
                Ok(Step::Retry) => continue,
                Err(InfraError::Store(e)) if store::is_retryable(&e) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(InfraError::conflict(
            S::KIND,
            name,
            "too many concurrent changes; try again",
        ))
    }

    /// Deletes an object, with each kind's rules (a NetConfig in use stays;
    /// an IPSet takes its Reservation and addresses along).
    pub async fn delete(
        &self,
        actor: &Actor,
        kind: Kind,
        ns: &str,
        name: &str,
    ) -> Result<Value, InfraError> {
        for _ in 0..ATTEMPTS {
            let mut tx = self.db.begin().await?;
            if store::namespace_owner(&self.db, ns).await?.is_none() {
                return Err(InfraError::NotFound {
                    kind,
                    name: name.to_string(),
                });
            }
            self.claim(&mut tx, actor, kind, ns, name).await?;
            match delete_in(&mut tx, kind, ns, name).await {
                Ok(row) => {
                    tx.commit().await?;
                    self.changed();
                    return Ok(json!({
                        "kind": "Status",
                        "apiVersion": "v1",
                        "metadata": {},
                        "status": "Success",
                        "details": {"name": name, "group": crate::meta::GROUP, "kind": kind.plural(), "uid": row.uid},
                    }));
                }
                Err(InfraError::Store(e)) if store::is_retryable(&e) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(InfraError::conflict(
            kind,
            name,
            "too many concurrent changes; try again",
        ))
    }

    /// Writes a status computed elsewhere (the DNS reconciler), if the
    /// object still has the resource version it was computed from.
    pub async fn write_status(
        &self,
        kind: Kind,
        ns: &str,
        name: &str,
        from_version: i64,
        status: Value,
    ) -> Result<bool, InfraError> {
        let mut tx = self.db.begin().await?;
        let Some(mut row) = store::get_tx(&mut tx, kind.name(), ns, name, Lock::Update).await?
        else {
            return Ok(false);
        };
        if row.resource_version != from_version {
            return Ok(false);
        }
        let text = status.to_string();
        if row.status == text {
            return Ok(true);
        }
        row.status = text;
        row.resource_version += 1;
        row.updated_at = now();
        let ok = store::update(&mut tx, &row, from_version).await?;
        tx.commit().await?;
        Ok(ok)
    }
}

/// `metadata.resourceVersion` and `metadata.uid`, when given, must match
/// the stored object (Kubernetes' optimistic concurrency).
fn check_preconditions(kind: Kind, meta: &ObjectMeta, row: &InfraObject) -> Result<(), InfraError> {
    if !meta.uid.is_empty() && meta.uid != row.uid {
        return Err(InfraError::conflict(
            kind,
            &row.name,
            format!(
                "Precondition failed: UID in precondition: {}, UID in object meta: {}",
                row.uid, meta.uid
            ),
        ));
    }
    if !meta.resource_version.is_empty()
        && meta.resource_version != row.resource_version.to_string()
    {
        return Err(InfraError::conflict(
            kind,
            &row.name,
            "the object has been modified; please apply your changes to the latest version and try again",
        ));
    }
    Ok(())
}

/// Metadata of the version about to be written: identity and creation time
/// kept from the stored object, generation bumped when the spec changed.
fn next_meta<S: Spec>(
    input: ObjectMeta,
    existing: Option<&Object<S, S::Status>>,
    spec: &S,
) -> ObjectMeta {
    let mut meta = input;
    match existing {
        Some(old) => {
            meta.uid = old.metadata.uid.clone();
            meta.creation_timestamp = old.metadata.creation_timestamp.clone();
            meta.generation = if old.spec == *spec {
                old.metadata.generation
            } else {
                old.metadata.generation + 1
            };
        }
        None => {
            meta.uid = uuid::Uuid::new_v4().to_string();
            meta.creation_timestamp = Some(now());
            meta.generation = 1;
        }
    }
    meta.resource_version.clear();
    meta
}

/// Inserts or updates `obj`. `Step::Retry` when another transaction got
/// there first; `Unchanged` (and no write) when nothing would change.
async fn write<S: Spec>(
    tx: &mut Tx,
    existing: Option<&InfraObject>,
    obj: &Object<S, S::Status>,
) -> Result<Step<(InfraObject, Outcome)>, InfraError> {
    let ts = now();
    match existing {
        None => {
            let row = encode(obj, 1, &ts, &ts);
            if store::insert(tx, &row).await? {
                Ok(Step::Done((row, Outcome::Created)))
            } else {
                Ok(Step::Retry)
            }
        }
        Some(old) => {
            let mut row = encode(obj, old.resource_version + 1, &old.created_at, &ts);
            let same = row.generation == old.generation
                && row.labels == old.labels
                && row.annotations == old.annotations
                && row.owner_references == old.owner_references
                && row.spec == old.spec
                && row.status == old.status;
            if same {
                return Ok(Step::Done((old.clone(), Outcome::Unchanged)));
            }
            row.created_at = old.created_at.clone();
            if store::update(tx, &row, old.resource_version).await? {
                Ok(Step::Done((row, Outcome::Configured)))
            } else {
                Ok(Step::Retry)
            }
        }
    }
}

/// What each kind does between parsing and commit.
trait Admit: Spec {
    /// Rules that need nothing but the object itself.
    fn check(&self, meta: &ObjectMeta) -> Vec<FieldError>;

    /// Rules that need the database, then the writes.
    fn admit_and_write(
        tx: &mut Tx,
        actor: &Actor,
        existing: Option<InfraObject>,
        meta: ObjectMeta,
        spec: Self,
    ) -> impl Future<Output = Result<Step<(Value, Outcome)>, InfraError>> + Send;
}

// ------------------------------------------------------------------ NetConfig

impl Admit for NetConfigSpec {
    fn check(&self, _meta: &ObjectMeta) -> Vec<FieldError> {
        validate::netconfig(self)
    }

    async fn admit_and_write(
        tx: &mut Tx,
        _actor: &Actor,
        existing: Option<InfraObject>,
        meta: ObjectMeta,
        spec: Self,
    ) -> Result<Step<(Value, Outcome)>, InfraError> {
        let ns = meta.namespace.clone();
        let name = meta.name.clone();
        let old: Option<NetConfig> = existing.as_ref().map(decode).transpose()?;
        match &old {
            None => {
                let others = store::list_tx(tx, Kind::NetConfig.name(), &ns).await?;
                if let Some(other) = others.first() {
                    return Err(InfraError::conflict(
                        Kind::NetConfig,
                        &name,
                        format!(
                            "there is already NetConfig {:?} in namespace {ns:?}; there can only be one",
                            other.name
                        ),
                    ));
                }
            }
            Some(old) => {
                let users = users_of_namespace(tx, &ns).await?;
                let errs = validate::netconfig_update(&old.spec, &spec, &users);
                if !errs.is_empty() {
                    return Err(InfraError::invalid(Kind::NetConfig, &name, errs));
                }
            }
        }
        let meta = next_meta(meta, old.as_ref(), &spec);
        let obj = NetConfig {
            status: Default::default(),
            ..Object::new(meta, spec.clone())
        };
        let Step::Done((row, outcome)) = write(tx, existing.as_ref(), &obj).await? else {
            return Ok(Step::Retry);
        };
        if outcome == Outcome::Configured {
            // Upstream re-queues every IPSet of the namespace on a NetConfig
            // change; here their statuses follow in the same transaction.
            refresh_ipsets(tx, &ns, &spec).await?;
        }
        Ok(Step::Done((row_to_json(&row), outcome)))
    }
}

/// Names of the IPSets (and unowned Reservations) of a namespace, which
/// freeze its networks.
async fn users_of_namespace(tx: &mut Tx, ns: &str) -> Result<Vec<String>, InfraError> {
    let mut users: Vec<String> = store::list_tx(tx, Kind::IPSet.name(), ns)
        .await?
        .into_iter()
        .map(|r| format!("IPSet {}", r.name))
        .collect();
    if users.is_empty() && store::count_reserved_tx(tx, ns).await? > 0 {
        for r in store::list_tx(tx, Kind::Reservation.name(), ns).await? {
            users.push(format!("Reservation {}", r.name));
        }
        if users.is_empty() {
            users.push("reserved addresses".into());
        }
    }
    Ok(users)
}

/// Re-renders the status of every IPSet of a namespace from its reserved
/// addresses and the (new) NetConfig.
async fn refresh_ipsets(tx: &mut Tx, ns: &str, netcfg: &NetConfigSpec) -> Result<(), InfraError> {
    for row in store::list_tx(tx, Kind::IPSet.name(), ns).await? {
        let ipset: IPSet = decode(&row)?;
        let held = store::reservation_addresses(tx, ns, &ipset.metadata.name).await?;
        let status = render_status(&ipset, netcfg, &held);
        if status != ipset.status {
            let mut updated = row.clone();
            updated.status = serde_json::to_string(&status).expect("status serialises");
            updated.resource_version += 1;
            updated.updated_at = now();
            if !store::update(tx, &updated, row.resource_version).await? {
                return Err(InfraError::conflict(
                    Kind::IPSet,
                    &row.name,
                    "changed while its NetConfig was updated; try again",
                ));
            }
        }
    }
    Ok(())
}

/// An IPSet's status from the addresses it holds.
fn render_status(ipset: &IPSet, netcfg: &NetConfigSpec, held: &[ReservedAddress]) -> IPSetStatus {
    let mut entries = Vec::new();
    let mut missing = Vec::new();
    for req in &ipset.spec.networks {
        let key = req.name.to_lowercase();
        let addr = held.iter().find(|h| h.network == key);
        match (netcfg.find(&req.name, &req.subnet_name), addr) {
            (Some((net, sub)), Some(a)) => {
                entries.push(status_entry(
                    net,
                    sub,
                    &a.address,
                    req.wants_default_route(),
                ));
            }
            _ => missing.push(req.name.clone()),
        }
    }
    order_reservations(&mut entries);
    let ts = now();
    let conds = if missing.is_empty() {
        ipset_ready_conditions(&ipset.status.conditions, &ts)
    } else {
        let msg = format!(
            "Reservation error occurred: no reservation for {}",
            missing.join(", ")
        );
        conditions(
            &ipset.status.conditions,
            &ts,
            &[
                ("Ready", false, "Error", &msg),
                ("InputReady", true, "Ready", "Input data complete"),
                ("ReservationReady", false, "Error", &msg),
            ],
        )
    };
    IPSetStatus {
        conditions: conds,
        observed_generation: Some(ipset.metadata.generation),
        reservations: entries,
    }
}

// ------------------------------------------------------------------ IPSet

impl Admit for IPSetSpec {
    fn check(&self, _meta: &ObjectMeta) -> Vec<FieldError> {
        Vec::new()
    }

    async fn admit_and_write(
        tx: &mut Tx,
        _actor: &Actor,
        existing: Option<InfraObject>,
        meta: ObjectMeta,
        spec: Self,
    ) -> Result<Step<(Value, Outcome)>, InfraError> {
        let ns = meta.namespace.clone();
        let name = meta.name.clone();
        let netcfg = locked_netconfig(tx, &ns).await?.ok_or_else(|| {
            InfraError::invalid(
                Kind::IPSet,
                &name,
                vec![FieldError::not_found(
                    "metadata.namespace",
                    &ns,
                    "no NetConfig found in the namespace; create one first",
                )],
            )
        })?;
        let old: Option<IPSet> = existing.as_ref().map(decode).transpose()?;
        if let Some(old) = &old {
            match validate::ipset_update(&old.spec, &spec) {
                Ok(()) => {}
                Err(IPSetUpdateError::Immutable) => {
                    return Err(InfraError::forbidden(
                        Kind::IPSet,
                        &name,
                        "spec.networks: Forbidden: Spec.Networks is immutable",
                    ));
                }
                Err(IPSetUpdateError::Fields(errs)) => {
                    return Err(InfraError::invalid(Kind::IPSet, &name, errs));
                }
            }
        }
        let errs = validate::ipset(&spec, &netcfg.spec);
        if !errs.is_empty() {
            return Err(InfraError::invalid(Kind::IPSet, &name, errs));
        }

        let meta = next_meta(meta, old.as_ref(), &spec);
        let mut obj = IPSet {
            status: old.as_ref().map(|o| o.status.clone()).unwrap_or_default(),
            ..Object::new(meta, spec)
        };
        let Step::Done(held) = reserve_for(tx, &obj, &netcfg.spec).await? else {
            return Ok(Step::Retry);
        };
        if let Step::Retry = write_reservation(tx, &obj, &netcfg.spec, &held).await? {
            return Ok(Step::Retry);
        }
        obj.status = render_status(&obj, &netcfg.spec, &held);
        let Step::Done((row, outcome)) = write(tx, existing.as_ref(), &obj).await? else {
            return Ok(Step::Retry);
        };
        Ok(Step::Done((row_to_json(&row), outcome)))
    }
}

/// The namespace's NetConfig, locked against changes until commit.
async fn locked_netconfig(tx: &mut Tx, ns: &str) -> Result<Option<NetConfig>, InfraError> {
    let rows = store::list_tx(tx, Kind::NetConfig.name(), ns).await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let row = store::get_tx(tx, Kind::NetConfig.name(), ns, &first.name, Lock::Share).await?;
    row.as_ref().map(decode).transpose()
}

/// Makes sure the IPSet holds one address on each requested network:
/// an existing one is kept as it is, a fixed one is taken if free, else
/// the lowest free address of the walk. Returns every address held, or
/// `Retry` when a concurrent request for the same IPSet got there first.
async fn reserve_for(
    tx: &mut Tx,
    ipset: &IPSet,
    netcfg: &NetConfigSpec,
) -> Result<Step<Vec<ReservedAddress>>, InfraError> {
    let ns = &ipset.metadata.namespace;
    let name = &ipset.metadata.name;
    let mut held = store::reservation_addresses(tx, ns, name).await?;
    // Lock order: by network, so two IPSets never wait on each other in a
    // cycle on PostgreSQL.
    let mut order: Vec<usize> = (0..ipset.spec.networks.len()).collect();
    order.sort_by_key(|&i| ipset.spec.networks[i].name.to_lowercase());
    for i in order {
        let req = &ipset.spec.networks[i];
        let key = req.name.to_lowercase();
        if held.iter().any(|h| h.network == key) {
            continue;
        }
        let (net, sub) = netcfg
            .find(&req.name, &req.subnet_name)
            .expect("validated against this NetConfig");
        let plan = SubnetPlan::new(sub).map_err(|e| {
            InfraError::invalid(
                Kind::IPSet,
                name,
                vec![FieldError::invalid(
                    format!("spec.networks[{i}].subnetName"),
                    &req.subnet_name,
                    e,
                )],
            )
        })?;
        let mut wanted = ReservedAddress {
            network: key.clone(),
            address: String::new(),
            subnet: sub.name.clone(),
            reservation: name.clone(),
        };
        if let Some(fixed) = &req.fixed_ip {
            wanted.address = canonical(fixed).expect("validated fixedIP");
            if !store::reserve(tx, ns, &wanted).await? {
                let holder = store::address_holder(tx, ns, &key, &wanted.address).await?;
                if holder.is_none() || holder.as_deref() == Some(name.as_str()) {
                    return Ok(Step::Retry);
                }
                return Err(InfraError::Conflict {
                    kind: Kind::IPSet,
                    name: name.clone(),
                    message: String::new(),
                    errors: vec![FieldError {
                        field: format!("spec.networks[{i}].fixedIP"),
                        type_: validate::FieldErrorType::Duplicate,
                        value: Some(fixed.clone()),
                        detail: format!(
                            "already reserved on network {} by {}",
                            net.name,
                            holder.unwrap_or_else(|| "another reservation".into())
                        ),
                    }],
                });
            }
            held.push(wanted);
            continue;
        }
        let mut tried: HashSet<IpAddr> = HashSet::new();
        loop {
            let reserved: HashSet<IpAddr> = store::reserved_on_network(tx, ns, &key)
                .await?
                .iter()
                .filter_map(|a| a.parse().ok())
                .collect();
            let Some(ip) = plan.first_free(|c| reserved.contains(&c) || tried.contains(&c)) else {
                return Err(InfraError::Conflict {
                    kind: Kind::IPSet,
                    name: name.clone(),
                    message: String::new(),
                    errors: vec![FieldError::invalid(
                        format!("spec.networks[{i}].subnetName"),
                        &req.subnet_name,
                        format!(
                            "no ip address could be created for {name} in subnet {} of network {}: every address of its allocationRanges is reserved or excluded",
                            sub.name, net.name
                        ),
                    )],
                });
            };
            wanted.address = ip.to_string();
            if store::reserve(tx, ns, &wanted).await? {
                held.push(wanted);
                break;
            }
            if store::address_holder(tx, ns, &key, &wanted.address)
                .await?
                .is_none()
            {
                // Not the address: this IPSet got one on the network meanwhile.
                return Ok(Step::Retry);
            }
            // Taken meanwhile by a transaction that committed first.
            tried.insert(ip);
        }
    }
    Ok(Step::Done(held))
}

/// Creates or updates the IPSet's Reservation: one entry per held address,
/// keyed by the network's name as NetConfig spells it, owned by the IPSet.
async fn write_reservation(
    tx: &mut Tx,
    ipset: &IPSet,
    netcfg: &NetConfigSpec,
    held: &[ReservedAddress],
) -> Result<Step<()>, InfraError> {
    let ns = &ipset.metadata.namespace;
    let name = &ipset.metadata.name;
    let existing_row = store::get_tx(tx, Kind::Reservation.name(), ns, name, Lock::Update).await?;
    let existing: Option<Reservation> = existing_row.as_ref().map(decode).transpose()?;
    let mut map: BTreeMap<String, IPAddress> = BTreeMap::new();
    let mut labels = existing
        .as_ref()
        .map(|r| r.metadata.labels.clone())
        .unwrap_or_default();
    for h in held {
        let net_name = netcfg
            .network(&h.network)
            .map(|n| n.name.clone())
            .or_else(|| {
                existing.as_ref().and_then(|r| {
                    r.spec
                        .reservation
                        .keys()
                        .find(|k| k.eq_ignore_ascii_case(&h.network))
                        .cloned()
                })
            })
            .unwrap_or_else(|| h.network.clone());
        let kept = existing.as_ref().and_then(|r| {
            r.spec
                .reservation
                .iter()
                .find(|(k, v)| k.eq_ignore_ascii_case(&h.network) && v.address == h.address)
                .map(|(_, v)| v.clone())
        });
        map.insert(
            net_name.clone(),
            kept.unwrap_or_else(|| IPAddress {
                address: h.address.clone(),
                network: net_name.clone(),
                subnet: h.subnet.clone(),
            }),
        );
        labels.insert(format!("{IPAM_LABEL_PREFIX}/{net_name}"), h.subnet.clone());
    }
    let spec = ReservationSpec {
        ip_set_ref: ObjectReference {
            api_version: API_VERSION.into(),
            kind: Kind::IPSet.name().into(),
            name: name.clone(),
            namespace: ns.clone(),
            uid: ipset.metadata.uid.clone(),
            ..Default::default()
        },
        reservation: map,
    };
    let meta = ObjectMeta {
        name: name.clone(),
        namespace: ns.clone(),
        labels,
        annotations: existing
            .as_ref()
            .map(|r| r.metadata.annotations.clone())
            .unwrap_or_default(),
        owner_references: vec![OwnerReference {
            api_version: API_VERSION.into(),
            kind: Kind::IPSet.name().into(),
            name: name.clone(),
            uid: ipset.metadata.uid.clone(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }],
        ..Default::default()
    };
    let meta = next_meta(meta, existing.as_ref(), &spec);
    let obj = Reservation::new(meta, spec);
    Ok(match write(tx, existing_row.as_ref(), &obj).await? {
        Step::Done(_) => Step::Done(()),
        Step::Retry => Step::Retry,
    })
}

// ------------------------------------------------------------------ Reservation

/// The IPSet that owns a Reservation, if it still exists.
async fn live_owner(tx: &mut Tx, res: &InfraObject) -> Result<Option<String>, InfraError> {
    let owners: Vec<OwnerReference> =
        serde_json::from_str(&res.owner_references).unwrap_or_default();
    for o in owners.iter().filter(|o| o.kind == Kind::IPSet.name()) {
        if let Some(ipset) =
            store::get_tx(tx, Kind::IPSet.name(), &res.namespace, &o.name, Lock::None).await?
            && ipset.uid == o.uid
        {
            return Ok(Some(ipset.name));
        }
    }
    Ok(None)
}

impl Admit for ReservationSpec {
    fn check(&self, _meta: &ObjectMeta) -> Vec<FieldError> {
        validate::reservation(self)
    }

    /// A Reservation written directly (a restore from backup, before its
    /// IPSet): its addresses are reserved like any other, and an IPSet of
    /// the same name adopts them later.
    async fn admit_and_write(
        tx: &mut Tx,
        _actor: &Actor,
        existing: Option<InfraObject>,
        meta: ObjectMeta,
        spec: Self,
    ) -> Result<Step<(Value, Outcome)>, InfraError> {
        let ns = meta.namespace.clone();
        let name = meta.name.clone();
        let old: Option<Reservation> = existing.as_ref().map(decode).transpose()?;
        if let (Some(row), Some(old)) = (&existing, &old)
            && let Some(owner) = live_owner(tx, row).await?
            && old.spec.reservation != spec.reservation
        {
            return Err(InfraError::forbidden(
                Kind::Reservation,
                &name,
                format!(
                    "spec.reservation: Forbidden: managed by IPSet {owner:?}; change the IPSet instead"
                ),
            ));
        }
        let held = store::reservation_addresses(tx, &ns, &name).await?;
        let wanted: Vec<(String, String, String)> = spec
            .reservation
            .iter()
            .map(|(k, v)| {
                (
                    k.to_lowercase(),
                    canonical(&v.address).expect("validated address"),
                    v.subnet.clone(),
                )
            })
            .collect();
        for h in &held {
            if !wanted
                .iter()
                .any(|(n, a, _)| *n == h.network && *a == h.address)
            {
                store::release(tx, &ns, &name, &h.network).await?;
            }
        }
        for (key, address, subnet) in &wanted {
            if held
                .iter()
                .any(|h| h.network == *key && h.address == *address)
            {
                continue;
            }
            let r = ReservedAddress {
                network: key.clone(),
                address: address.clone(),
                subnet: subnet.clone(),
                reservation: name.clone(),
            };
            if !store::reserve(tx, &ns, &r).await? {
                let holder = store::address_holder(tx, &ns, key, address).await?;
                let orig_key = spec
                    .reservation
                    .keys()
                    .find(|k| k.to_lowercase() == *key)
                    .cloned()
                    .unwrap_or_default();
                return Err(InfraError::Conflict {
                    kind: Kind::Reservation,
                    name: name.clone(),
                    message: String::new(),
                    errors: vec![FieldError {
                        field: format!("spec.reservation[{orig_key}].address"),
                        type_: validate::FieldErrorType::Duplicate,
                        value: Some(address.clone()),
                        detail: format!(
                            "already reserved by {}",
                            holder.unwrap_or_else(|| "another reservation".into())
                        ),
                    }],
                });
            }
        }
        let meta = next_meta(meta, old.as_ref(), &spec);
        let obj = Reservation::new(meta, spec);
        let Step::Done((row, outcome)) = write(tx, existing.as_ref(), &obj).await? else {
            return Ok(Step::Retry);
        };
        Ok(Step::Done((row_to_json(&row), outcome)))
    }
}

// ------------------------------------------------------------------ DNS

impl Admit for DNSMasqSpec {
    fn check(&self, meta: &ObjectMeta) -> Vec<FieldError> {
        validate::dnsmasq(self, meta)
    }

    async fn admit_and_write(
        tx: &mut Tx,
        actor: &Actor,
        existing: Option<InfraObject>,
        meta: ObjectMeta,
        spec: Self,
    ) -> Result<Step<(Value, Outcome)>, InfraError> {
        let name = meta.name.clone();
        let old: Option<Object<DNSMasqSpec, <DNSMasqSpec as Spec>::Status>> =
            existing.as_ref().map(decode).transpose()?;
        // Where to listen opens a socket on the control plane's hosts:
        // only admins choose it.
        let listen = |m: &ObjectMeta| m.annotations.get(validate::DNS_LISTEN_ANNOTATION).cloned();
        if !actor.admin && listen(&meta) != old.as_ref().and_then(|o| listen(&o.metadata)) {
            return Err(InfraError::forbidden(
                Kind::DNSMasq,
                &name,
                format!(
                    "metadata.annotations[{}]: Forbidden: only admins choose where a DNS responder listens",
                    validate::DNS_LISTEN_ANNOTATION
                ),
            ));
        }
        let meta = next_meta(meta, old.as_ref(), &spec);
        let mut obj = Object::new(meta, spec);
        obj.status = old.map(|o| o.status).unwrap_or_default();
        let Step::Done((row, outcome)) = write(tx, existing.as_ref(), &obj).await? else {
            return Ok(Step::Retry);
        };
        Ok(Step::Done((row_to_json(&row), outcome)))
    }
}

impl Admit for DNSDataSpec {
    fn check(&self, _meta: &ObjectMeta) -> Vec<FieldError> {
        validate::dnsdata(self)
    }

    async fn admit_and_write(
        tx: &mut Tx,
        _actor: &Actor,
        existing: Option<InfraObject>,
        meta: ObjectMeta,
        spec: Self,
    ) -> Result<Step<(Value, Outcome)>, InfraError> {
        let old: Option<Object<DNSDataSpec, DNSDataStatus>> =
            existing.as_ref().map(decode).transpose()?;
        let meta = next_meta(meta, old.as_ref(), &spec);
        let previous = old.map(|o| o.status.conditions).unwrap_or_default();
        let mut obj = Object::new(meta, spec);
        obj.status = DNSDataStatus {
            conditions: conditions(
                &previous,
                &now(),
                &[("Ready", true, "Ready", "Setup complete")],
            ),
            observed_generation: Some(obj.metadata.generation),
            hash: String::new(),
        };
        let Step::Done((row, outcome)) = write(tx, existing.as_ref(), &obj).await? else {
            return Ok(Step::Retry);
        };
        Ok(Step::Done((row_to_json(&row), outcome)))
    }
}

// ------------------------------------------------------------------ deletes

async fn delete_in(
    tx: &mut Tx,
    kind: Kind,
    ns: &str,
    name: &str,
) -> Result<InfraObject, InfraError> {
    let not_found = || InfraError::NotFound {
        kind,
        name: name.to_string(),
    };
    let row = store::get_tx(tx, kind.name(), ns, name, Lock::Update)
        .await?
        .ok_or_else(not_found)?;
    match kind {
        Kind::NetConfig => {
            let ipsets = store::list_tx(tx, Kind::IPSet.name(), ns).await?;
            if !ipsets.is_empty() {
                let names: Vec<&str> = ipsets.iter().take(5).map(|r| r.name.as_str()).collect();
                return Err(InfraError::conflict(
                    kind,
                    name,
                    format!(
                        "unable to delete NetConfig while there are still IPSets in namespace {ns:?} ({}{})",
                        names.join(", "),
                        if ipsets.len() > 5 { ", ..." } else { "" }
                    ),
                ));
            }
        }
        Kind::IPSet => {
            // The Reservation goes with its IPSet (Kubernetes' garbage
            // collector upstream), and so do its addresses.
            store::release_all(tx, ns, name).await?;
            store::delete(tx, Kind::Reservation.name(), ns, name).await?;
        }
        Kind::Reservation => {
            if let Some(owner) = live_owner(tx, &row).await? {
                return Err(InfraError::conflict(
                    kind,
                    name,
                    format!("owned by IPSet {owner:?}; delete the IPSet to release its addresses"),
                ));
            }
            store::release_all(tx, ns, name).await?;
        }
        Kind::DNSMasq | Kind::DNSData => {}
    }
    store::delete(tx, kind.name(), ns, name).await?;
    Ok(row)
}
