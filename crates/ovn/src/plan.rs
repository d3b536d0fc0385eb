//! Turns desired rows and the current replica into one OVSDB transaction.
//!
//! Rows we own are found by name (or by `subnet_id` for DHCP options);
//! child rows without names (ACLs, NAT, static routes) are matched by
//! content, so an unchanged object produces no operation at all. Rows
//! created in this plan are referred to by named UUIDs.

use std::collections::{HashMap, HashSet};

use neutrino_ovsdb::{Condition, Mutation, Op, Row, Value};
use uuid::Uuid;

use crate::desired::{DesiredGroup, DesiredPort, DesiredRouter, DesiredSwitch, drop_group};
use crate::diff::{changed_columns, matches};
use crate::index::Index;
use crate::naming::{DROP_PORT_GROUP, KEY_SYNC_MARK, gateway_chassis_name};

/// What a plan changes, by kind of change.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub created: u64,
    pub updated: u64,
    pub deleted: u64,
}

impl Counts {
    pub fn total(&self) -> u64 {
        self.created + self.updated + self.deleted
    }
    pub fn add(&mut self, o: Counts) {
        self.created += o.created;
        self.updated += o.updated;
        self.deleted += o.deleted;
    }
}

/// Why an object could not be planned yet.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NotReady {
    #[error("logical switch {0} does not exist yet")]
    Switch(String),
    #[error("port group {0} does not exist yet")]
    PortGroup(String),
}

/// A reference to a row: existing, or inserted by this plan.
#[derive(Clone, Debug)]
enum Ref {
    Existing(Uuid),
    Named(String),
}

impl Ref {
    fn value(&self) -> Value {
        match self {
            Ref::Existing(u) => Value::uuid(*u),
            Ref::Named(n) => Value::named(n.clone()),
        }
    }
}

pub struct Plan<'i, 'a> {
    idx: &'i Index<'a>,
    pub ops: Vec<Op>,
    pub counts: Counts,
    next: usize,
    new_switches: HashMap<String, String>,
    new_dhcp: HashMap<String, String>,
    new_groups: HashMap<String, String>,
}

fn by_uuid(u: Uuid) -> Vec<Condition> {
    vec![Condition::uuid(u)]
}

impl<'i, 'a> Plan<'i, 'a> {
    pub fn new(idx: &'i Index<'a>) -> Self {
        Plan {
            idx,
            ops: Vec::new(),
            counts: Counts::default(),
            next: 0,
            new_switches: HashMap::new(),
            new_dhcp: HashMap::new(),
            new_groups: HashMap::new(),
        }
    }

    fn name(&mut self) -> String {
        self.next += 1;
        format!("row{}", self.next)
    }

    fn insert(&mut self, table: &str, row: Row) -> String {
        let n = self.name();
        self.ops.push(Op::insert_named(table, row, n.clone()));
        self.counts.created += 1;
        n
    }

    fn update(&mut self, table: &str, uuid: Uuid, desired: &Row, existing: &Row) {
        let delta = changed_columns(desired, existing);
        if !delta.is_empty() {
            self.ops.push(Op::update(table, by_uuid(uuid), delta));
            self.counts.updated += 1;
        }
    }

    fn delete(&mut self, table: &str, uuid: Uuid) {
        self.ops.push(Op::delete(table, by_uuid(uuid)));
        self.counts.deleted += 1;
    }

    /// Adds (or removes) one reference to a set column of an existing row.
    fn mutate_ref(&mut self, table: &str, parent: Uuid, column: &str, r: Ref, insert: bool) {
        let m = if insert {
            Mutation::insert(column, Value::set_of([atom(&r)]))
        } else {
            Mutation::delete(column, Value::set_of([atom(&r)]))
        };
        self.ops.push(Op::mutate(table, by_uuid(parent), vec![m]));
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Stamps the transaction so the caller can see when the replica has
    /// caught up with it.
    pub fn mark(&mut self, mark: &str) {
        if let Some((u, _)) = self.idx.nb_global {
            self.ops.push(Op::mutate(
                "NB_Global",
                by_uuid(u),
                vec![
                    Mutation::delete("external_ids", Value::string_set([KEY_SYNC_MARK])),
                    Mutation::insert("external_ids", Value::string_map([(KEY_SYNC_MARK, mark)])),
                ],
            ));
        }
    }

    // ------------------------------------------------------------ switches

    pub fn switch(&mut self, name: &str, desired: Option<&DesiredSwitch>) {
        let existing = self.idx.switches.get(name).copied();
        let Some(d) = desired else {
            if let Some((u, _)) = existing {
                self.delete("Logical_Switch", u);
            }
            return;
        };
        match existing {
            None => {
                let mut row = d.row.clone();
                let mut ports = Vec::new();
                if let Some(l) = &d.localnet {
                    let n = self.insert("Logical_Switch_Port", l.clone());
                    ports.push(Value::named(n));
                }
                row.set("ports", set_of_values(ports));
                let n = self.insert("Logical_Switch", row);
                self.new_switches.insert(name.to_string(), n);
            }
            Some((u, row)) => {
                self.update("Logical_Switch", u, &d.row, row);
                let localnet_name = crate::naming::localnet_name(
                    name.trim_start_matches(crate::naming::NEUTRON_PREFIX),
                );
                let have = self.idx.switch_ports.get(localnet_name.as_str()).copied();
                match (&d.localnet, have) {
                    (Some(want), Some((pu, prow))) => {
                        self.update("Logical_Switch_Port", pu, want, prow)
                    }
                    (Some(want), None) => {
                        let n = self.insert("Logical_Switch_Port", want.clone());
                        self.mutate_ref("Logical_Switch", u, "ports", Ref::Named(n), true);
                    }
                    (None, Some((pu, _))) => {
                        self.mutate_ref("Logical_Switch", u, "ports", Ref::Existing(pu), false);
                        self.counts.deleted += 1;
                    }
                    (None, None) => {}
                }
            }
        }
        for (subnet, want) in &d.dhcp {
            match self.idx.dhcp.get(subnet.as_str()).copied() {
                Some((u, row)) => self.update("DHCP_Options", u, want, row),
                None => {
                    let n = self.insert("DHCP_Options", want.clone());
                    self.new_dhcp.insert(subnet.clone(), n);
                }
            }
        }
    }

    /// Deletes DHCP options of subnets that no longer exist or no longer
    /// run DHCP.
    pub fn dhcp_orphans(&mut self, live: &HashSet<String>) {
        let rows: Vec<Uuid> = self
            .idx
            .dhcp_rows
            .iter()
            .filter(|(_, s)| !live.contains(*s) && !self.new_dhcp.contains_key(*s))
            .map(|(u, _)| *u)
            .collect();
        for u in rows {
            self.delete("DHCP_Options", u);
        }
    }

    fn switch_ref(&self, name: &str) -> Option<Ref> {
        if let Some((u, _)) = self.idx.switches.get(name) {
            return Some(Ref::Existing(*u));
        }
        self.new_switches.get(name).map(|n| Ref::Named(n.clone()))
    }

    fn dhcp_ref(&self, subnet: &str) -> Option<Ref> {
        if let Some((u, _)) = self.idx.dhcp.get(subnet) {
            return Some(Ref::Existing(*u));
        }
        self.new_dhcp.get(subnet).map(|n| Ref::Named(n.clone()))
    }

    fn group_ref(&self, name: &str) -> Option<Ref> {
        if let Some((u, _)) = self.idx.port_groups.get(name) {
            return Some(Ref::Existing(*u));
        }
        self.new_groups.get(name).map(|n| Ref::Named(n.clone()))
    }

    // ------------------------------------------------------------ ports

    /// Checks a port can be planned (its switch and groups exist or are
    /// planned) without changing the plan.
    pub fn port_ready(&self, d: &DesiredPort) -> Result<(), NotReady> {
        if self.switch_ref(&d.switch).is_none() {
            return Err(NotReady::Switch(d.switch.clone()));
        }
        for g in &d.port_groups {
            if self.group_ref(g).is_none() {
                return Err(NotReady::PortGroup(g.clone()));
            }
        }
        Ok(())
    }

    pub fn port(&mut self, name: &str, desired: Option<&DesiredPort>) -> Result<(), NotReady> {
        let existing = self.idx.switch_ports.get(name).copied();
        let Some(d) = desired else {
            if let Some((u, _)) = existing
                && let Some(parent) = self.idx.port_parent.get(&u).copied()
            {
                self.mutate_ref("Logical_Switch", parent, "ports", Ref::Existing(u), false);
                self.counts.deleted += 1;
            }
            return Ok(());
        };
        self.port_ready(d)?;
        let mut row = d.row.clone();
        let opt = |r: Option<Ref>| match r {
            Some(r) => Value::set_of([atom(&r)]),
            None => Value::empty_set(),
        };
        row.set(
            "dhcpv4_options",
            opt(d.dhcpv4_subnet.as_deref().and_then(|s| self.dhcp_ref(s))),
        );
        row.set(
            "dhcpv6_options",
            opt(d.dhcpv6_subnet.as_deref().and_then(|s| self.dhcp_ref(s))),
        );
        let me = match existing {
            Some((u, have)) => {
                self.update("Logical_Switch_Port", u, &row, have);
                // A port that lost its switch (repaired behind our back).
                if !self.idx.port_parent.contains_key(&u)
                    && let Some(Ref::Existing(s)) = self.switch_ref(&d.switch)
                {
                    self.mutate_ref("Logical_Switch", s, "ports", Ref::Existing(u), true);
                }
                Ref::Existing(u)
            }
            None => {
                let n = self.insert("Logical_Switch_Port", row);
                let sw = self.switch_ref(&d.switch).expect("checked by port_ready");
                match sw {
                    Ref::Existing(s) => {
                        self.mutate_ref("Logical_Switch", s, "ports", Ref::Named(n.clone()), true)
                    }
                    Ref::Named(_) => {
                        // A switch inserted by this plan: extend its insert.
                        self.extend_insert("Logical_Switch", &sw, "ports", Value::named(n.clone()));
                    }
                }
                Ref::Named(n)
            }
        };
        // Port group membership: add where missing, remove where stale.
        for g in &d.port_groups {
            let gref = self.group_ref(g).expect("checked by port_ready");
            let member = match (&gref, &me) {
                (Ref::Existing(_), Ref::Existing(u)) => self
                    .idx
                    .port_groups
                    .get(g.as_str())
                    .is_some_and(|(_, r)| r.uuids("ports").contains(u)),
                _ => false,
            };
            if !member {
                match gref {
                    Ref::Existing(pg) => {
                        self.mutate_ref("Port_Group", pg, "ports", me.clone(), true)
                    }
                    Ref::Named(_) => {
                        self.extend_insert("Port_Group", &gref, "ports", atom_value(&me))
                    }
                }
            }
        }
        if let Ref::Existing(u) = me {
            let stale: Vec<Uuid> = self
                .idx
                .port_groups
                .iter()
                .filter(|(name, (_, r))| {
                    !d.port_groups.iter().any(|g| g == *name) && r.uuids("ports").contains(&u)
                })
                .map(|(_, (pg, _))| *pg)
                .collect();
            for pg in stale {
                self.mutate_ref("Port_Group", pg, "ports", Ref::Existing(u), false);
            }
        }
        Ok(())
    }

    /// Adds an element to a set column of a row this plan inserts.
    fn extend_insert(&mut self, table: &str, r: &Ref, column: &str, v: Value) {
        let Ref::Named(name) = r else { return };
        for op in &mut self.ops {
            if let Op::Insert {
                table: t,
                row,
                uuid_name: Some(n),
            } = op
                && t == table
                && n == name
            {
                let mut atoms = row
                    .get(column)
                    .map(|v| v.atoms().to_vec())
                    .unwrap_or_default();
                atoms.extend(v.atoms().iter().cloned());
                row.set(column, Value::set_of(atoms));
                return;
            }
        }
    }

    // ------------------------------------------------------------ groups

    pub fn ensure_drop_group(&mut self) {
        let d = drop_group();
        self.group(DROP_PORT_GROUP, Some(&d));
    }

    pub fn group(&mut self, name: &str, desired: Option<&DesiredGroup>) {
        let existing = self.idx.port_groups.get(name).copied();
        let Some(d) = desired else {
            if let Some((u, _)) = existing {
                self.delete("Port_Group", u);
            }
            return;
        };
        match existing {
            None => {
                let acls: Vec<Value> = d
                    .acls
                    .iter()
                    .map(|a| Value::named(self.insert("ACL", a.clone())))
                    .collect();
                let row = d
                    .row
                    .clone()
                    .with("acls", set_of_values(acls))
                    .with("ports", Value::empty_set());
                let n = self.insert("Port_Group", row);
                self.new_groups.insert(name.to_string(), n);
            }
            Some((u, have)) => {
                self.update("Port_Group", u, &d.row, have);
                if let Some(acls) = self.children(&have.uuids("acls"), &d.acls, "ACL") {
                    self.ops.push(Op::update(
                        "Port_Group",
                        by_uuid(u),
                        Row::new().with("acls", acls),
                    ));
                }
            }
        }
    }

    /// The new value of a column of child rows, or `None` when the existing
    /// children already match `desired` (by content, ignoring order).
    fn children(&mut self, existing: &[Uuid], desired: &[Row], table: &str) -> Option<Value> {
        let mut unused: Vec<Uuid> = existing.to_vec();
        let mut kept = Vec::new();
        let mut missing = Vec::new();
        for want in desired {
            let found = unused
                .iter()
                .position(|u| self.idx.children.get(u).is_some_and(|r| matches(want, r)));
            match found {
                Some(i) => kept.push(unused.remove(i)),
                None => missing.push(want.clone()),
            }
        }
        if missing.is_empty() && unused.is_empty() {
            return None;
        }
        // Dropped children are garbage-collected: none of them is a root row.
        self.counts.deleted += unused.len() as u64;
        let mut values: Vec<Value> = kept.into_iter().map(Value::uuid).collect();
        for row in missing {
            values.push(Value::named(self.insert(table, row)));
        }
        Some(set_of_values(values))
    }

    // ------------------------------------------------------------ routers

    pub fn router(&mut self, name: &str, desired: Option<&DesiredRouter>) {
        let existing = self.idx.routers.get(name).copied();
        let Some(d) = desired else {
            if let Some((u, _)) = existing {
                self.delete("Logical_Router", u);
            }
            return;
        };
        let (lr, have) = match existing {
            Some((u, have)) => {
                self.update("Logical_Router", u, &d.row, have);
                (Some(u), Some(have))
            }
            None => (None, None),
        };
        // Router ports, with their gateway chassis.
        let mut port_refs = Vec::new();
        for p in &d.ports {
            match self.idx.router_ports.get(p.name.as_str()).copied() {
                Some((pu, prow)) => {
                    self.update("Logical_Router_Port", pu, &p.row, prow);
                    if let Some(v) = self.gateway_chassis(
                        &p.name,
                        &prow.uuids("gateway_chassis"),
                        &p.gateway_chassis,
                    ) {
                        self.ops.push(Op::update(
                            "Logical_Router_Port",
                            by_uuid(pu),
                            Row::new().with("gateway_chassis", v),
                        ));
                    }
                    port_refs.push(Value::uuid(pu));
                }
                None => {
                    let gc = self
                        .gateway_chassis(&p.name, &[], &p.gateway_chassis)
                        .unwrap_or_else(Value::empty_set);
                    let n = self.insert(
                        "Logical_Router_Port",
                        p.row.clone().with("gateway_chassis", gc),
                    );
                    port_refs.push(Value::named(n));
                }
            }
        }
        let empty = Row::new();
        let have = have.unwrap_or(&empty);
        let routes = self.children(
            &have.uuids("static_routes"),
            &d.static_routes,
            "Logical_Router_Static_Route",
        );
        let nat = self.children(&have.uuids("nat"), &d.nat, "NAT");
        match lr {
            None => {
                let row = d
                    .row
                    .clone()
                    .with("ports", set_of_values(port_refs))
                    .with("static_routes", routes.unwrap_or_else(Value::empty_set))
                    .with("nat", nat.unwrap_or_else(Value::empty_set));
                self.insert("Logical_Router", row);
            }
            Some(u) => {
                let mut delta = Row::new();
                let have_ports: HashSet<Uuid> = have.uuids("ports").into_iter().collect();
                let same_ports = port_refs.len() == have_ports.len()
                    && port_refs.iter().all(|v| {
                        v.as_atom()
                            .and_then(|a| a.as_uuid())
                            .is_some_and(|u| have_ports.contains(&u))
                    });
                if !same_ports {
                    self.counts.deleted += have_ports
                        .iter()
                        .filter(|u| {
                            !port_refs
                                .iter()
                                .any(|v| v.as_atom().and_then(|a| a.as_uuid()) == Some(**u))
                        })
                        .count() as u64;
                    delta.set("ports", set_of_values(port_refs));
                }
                if let Some(r) = routes {
                    delta.set("static_routes", r);
                }
                if let Some(n) = nat {
                    delta.set("nat", n);
                }
                if !delta.is_empty() {
                    self.ops
                        .push(Op::update("Logical_Router", by_uuid(u), delta));
                }
            }
        }
    }

    /// Gateway chassis are named rows: update priorities in place and
    /// insert the missing ones, so the unique name index never sees two.
    fn gateway_chassis(
        &mut self,
        lrp: &str,
        existing: &[Uuid],
        want: &[(String, i64)],
    ) -> Option<Value> {
        let mut values = Vec::new();
        let mut changed = false;
        for (chassis, prio) in want {
            let name = gateway_chassis_name(lrp, chassis);
            let found = existing.iter().find(|u| {
                self.idx.children.get(u).and_then(|r| r.str("name")) == Some(name.as_str())
            });
            let row = Row::new()
                .with("name", name.clone())
                .with("chassis_name", chassis.clone())
                .with("priority", Value::integer(*prio));
            match found {
                Some(u) => {
                    let have = self.idx.children[u];
                    self.update("Gateway_Chassis", *u, &row, have);
                    values.push(Value::uuid(*u));
                }
                None => {
                    changed = true;
                    values.push(Value::named(self.insert("Gateway_Chassis", row)));
                }
            }
        }
        if values.len() != existing.len() {
            changed = true;
        }
        changed.then(|| set_of_values(values))
    }
}

fn atom(r: &Ref) -> neutrino_ovsdb::Atom {
    match r {
        Ref::Existing(u) => neutrino_ovsdb::Atom::Uuid(*u),
        Ref::Named(n) => neutrino_ovsdb::Atom::NamedUuid(n.clone()),
    }
}

fn atom_value(r: &Ref) -> Value {
    r.value()
}

fn set_of_values(values: Vec<Value>) -> Value {
    Value::set_of(values.into_iter().flat_map(|v| v.atoms().to_vec()))
}
