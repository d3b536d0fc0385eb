//! The state machine of design §3: which provisioning statuses allow an
//! operation, what the load balancer's compare-and-set moves it to, the
//! 409 it answers when the set fails, and the statuses each outcome
//! leaves.

use serde::{Deserialize, Serialize};

use crate::LbError;
use crate::enums::{OperatingStatus, ProvisioningStatus as Ps};
use crate::error::resource;

/// What a request does to an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    Create,
    Update,
    Delete,
    Failover,
}

/// How an object takes part in a flow: it is the object operated on, or
/// an ancestor moved to PENDING_UPDATE for the duration (the load
/// balancer of a child op, the listener of a pool op, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Own,
    Parent,
}

/// Whether an object in `status` may be changed, or get children
/// changed: ACTIVE only.
pub fn is_mutable(status: Ps) -> bool {
    status == Ps::Active
}

/// Whether an object in `status` may be deleted or failed over.
pub fn is_deletable(status: Ps) -> bool {
    matches!(status, Ps::Active | Ps::Error)
}

/// The statuses the load balancer's compare-and-set accepts for `op`
/// performed in `role` (`WHERE provisioning_status IN (...)`).
pub fn cas_accepts(op: Operation, role: Role) -> &'static [Ps] {
    match (op, role) {
        (Operation::Delete | Operation::Failover, Role::Own) => &[Ps::Active, Ps::Error],
        _ => &[Ps::Active],
    }
}

/// The status an object takes when a request starts `op` on it (own) or
/// below it (parent).
pub fn pending(op: Operation, role: Role) -> Ps {
    match (op, role) {
        (_, Role::Parent) => Ps::PendingUpdate,
        (Operation::Create, Role::Own) => Ps::PendingCreate,
        (Operation::Update | Operation::Failover, Role::Own) => Ps::PendingUpdate,
        (Operation::Delete, Role::Own) => Ps::PendingDelete,
    }
}

/// The 409 of a failed compare-and-set on load balancer `lb_id`, found
/// in `current`: the load balancer's own PUT/DELETE/failover answer
/// LBPendingStateError, everything below it ImmutableObject.
pub fn cas_conflict(role: Role, lb_id: &str, current: Ps) -> LbError {
    match role {
        Role::Own => LbError::lb_pending_state(current.as_str(), lb_id),
        Role::Parent => LbError::immutable(resource::LOAD_BALANCER, lb_id),
    }
}

/// The 409 for a parent that must be ACTIVE before a child op (a pool
/// for members and monitors, a policy for rules): upstream names them
/// `Pool` and `L7Policy`.
pub fn parent_not_active(parent: &str, id: &str) -> LbError {
    LbError::immutable(parent, id)
}

/// The provisioning status after the flow ends; `None` is "row gone".
pub fn after_flow(op: Operation, role: Role, succeeded: bool) -> Option<Ps> {
    match (role, op, succeeded) {
        (Role::Parent, _, _) => Some(Ps::Active),
        (Role::Own, Operation::Delete, true) => None,
        (Role::Own, _, true) => Some(Ps::Active),
        (Role::Own, _, false) => Some(Ps::Error),
    }
}

/// Which kind of object, for its operating status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Object {
    LoadBalancer,
    Listener,
    Pool,
    Member,
    HealthMonitor,
    L7Policy,
    L7Rule,
}

/// The operating status an object is created with. Members start
/// OFFLINE when their pool has a health monitor, NO_MONITOR otherwise.
pub fn initial_operating(object: Object, pool_has_monitor: bool) -> OperatingStatus {
    match object {
        Object::Member if !pool_has_monitor => OperatingStatus::NoMonitor,
        _ => OperatingStatus::Offline,
    }
}

/// The operating status after a successful create or update flow with no
/// heartbeats (design §3.2): monitors and L7 objects report ONLINE, or
/// OFFLINE when disabled; the rest keep `current`.
pub fn operating_after_flow(
    object: Object,
    enabled: bool,
    current: OperatingStatus,
) -> OperatingStatus {
    match object {
        Object::HealthMonitor | Object::L7Policy | Object::L7Rule => {
            if enabled {
                OperatingStatus::Online
            } else {
                OperatingStatus::Offline
            }
        }
        _ => current,
    }
}

/// Deleting `lb_id` without cascade while it has listeners or pools.
pub fn lb_has_children(lb_id: &str) -> LbError {
    LbError::validation(format!(
        "Cannot delete Load Balancer {lb_id} - it has children"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_that_allow_changes() {
        for s in Ps::ALL {
            assert_eq!(is_mutable(*s), *s == Ps::Active, "{s}");
            assert_eq!(is_deletable(*s), matches!(s, Ps::Active | Ps::Error), "{s}");
        }
        assert_eq!(cas_accepts(Operation::Update, Role::Own), &[Ps::Active]);
        assert_eq!(
            cas_accepts(Operation::Delete, Role::Own),
            &[Ps::Active, Ps::Error]
        );
        assert_eq!(
            cas_accepts(Operation::Failover, Role::Own),
            &[Ps::Active, Ps::Error]
        );
        assert_eq!(cas_accepts(Operation::Delete, Role::Parent), &[Ps::Active]);
        assert_eq!(cas_accepts(Operation::Create, Role::Parent), &[Ps::Active]);
    }

    #[test]
    fn pending_and_outcomes() {
        assert_eq!(pending(Operation::Create, Role::Own), Ps::PendingCreate);
        assert_eq!(pending(Operation::Delete, Role::Own), Ps::PendingDelete);
        assert_eq!(pending(Operation::Failover, Role::Own), Ps::PendingUpdate);
        assert_eq!(pending(Operation::Delete, Role::Parent), Ps::PendingUpdate);
        assert_eq!(after_flow(Operation::Delete, Role::Own, true), None);
        assert_eq!(
            after_flow(Operation::Delete, Role::Own, false),
            Some(Ps::Error)
        );
        assert_eq!(
            after_flow(Operation::Create, Role::Own, false),
            Some(Ps::Error)
        );
        assert_eq!(
            after_flow(Operation::Create, Role::Parent, false),
            Some(Ps::Active)
        );
        assert_eq!(
            after_flow(Operation::Update, Role::Own, true),
            Some(Ps::Active)
        );
    }

    #[test]
    fn conflicts_say_what_upstream_says() {
        let id = "d6a7a3b8-0c5e-4d65-9a55-6f1c0e6e2f10";
        let own = cas_conflict(Role::Own, id, Ps::PendingUpdate);
        assert_eq!(own.status, 409);
        assert_eq!(
            own.faultstring,
            format!("Invalid state PENDING_UPDATE of loadbalancer resource {id}")
        );
        let child = cas_conflict(Role::Parent, id, Ps::PendingCreate);
        assert_eq!(child.kind, "ImmutableObject");
        assert_eq!(
            child.faultstring,
            format!("Load Balancer {id} is immutable and cannot be updated.")
        );
        assert_eq!(
            parent_not_active("Pool", id).faultstring,
            format!("Pool {id} is immutable and cannot be updated.")
        );
        let children = lb_has_children(id);
        assert_eq!(children.status, 400);
        assert_eq!(
            children.faultstring,
            format!("Validation failure: Cannot delete Load Balancer {id} - it has children")
        );
    }

    #[test]
    fn operating_statuses() {
        assert_eq!(
            initial_operating(Object::Member, false),
            OperatingStatus::NoMonitor
        );
        assert_eq!(
            initial_operating(Object::Member, true),
            OperatingStatus::Offline
        );
        assert_eq!(
            initial_operating(Object::LoadBalancer, false),
            OperatingStatus::Offline
        );
        let off = OperatingStatus::Offline;
        assert_eq!(
            operating_after_flow(Object::HealthMonitor, true, off),
            OperatingStatus::Online
        );
        assert_eq!(
            operating_after_flow(Object::L7Rule, false, off),
            OperatingStatus::Offline
        );
        assert_eq!(
            operating_after_flow(Object::Pool, true, off),
            OperatingStatus::Offline
        );
    }
}
