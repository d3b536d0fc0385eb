//! The final writes of a flow (design §3.1): every touched object to the
//! status its role and the outcome give, in the transaction that deletes
//! the flow row.

use neutrino_lb_types::enums::ProvisioningStatus;
use neutrino_lb_types::state::{self, Object, Operation, Role};
use neutrino_store::lb::{self as store, load_balancers};
use neutrino_store::{StoreError, Tx};

use super::{Plan, Touched};
use crate::engine::FlowView;

fn store_object(o: Object) -> store::Object {
    match o {
        Object::LoadBalancer => store::Object::LoadBalancer,
        Object::Listener => store::Object::Listener,
        Object::Pool => store::Object::Pool,
        Object::Member => store::Object::Member,
        Object::HealthMonitor => store::Object::HealthMonitor,
        Object::L7Policy => store::Object::L7Policy,
        Object::L7Rule => store::Object::L7Rule,
    }
}

pub(super) async fn settle(tx: &mut Tx, flow: FlowView<'_>, ok: bool) -> Result<(), StoreError> {
    // An unreadable plan cannot come from this code; refusing to finish
    // would leave the objects PENDING forever, so settle what the flow
    // row names (its load balancer) to ERROR and say so.
    let plan = match Plan::of(&flow) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(flow = flow.id, error = %e, "unreadable flow plan");
            if let Some(lb) = flow.lb_id {
                load_balancers::mark_tree(tx, lb, ProvisioningStatus::Error).await?;
            }
            return Ok(());
        }
    };
    // In plan order: the object operated on, then its ancestors.
    for t in &plan.touched {
        settle_one(tx, t, ok).await?;
    }
    Ok(())
}

async fn settle_one(tx: &mut Tx, t: &Touched, ok: bool) -> Result<(), StoreError> {
    let object = store_object(t.object);
    match state::after_flow(t.op, t.role, ok) {
        None => {
            if t.object == Object::LoadBalancer {
                load_balancers::release_vip_port(tx, &t.id).await?;
            }
            if t.object == Object::HealthMonitor {
                store::health_monitors::unmonitor_members(tx, &t.id).await?;
            }
            store::delete_object(tx, object, &t.id).await?;
        }
        Some(status) => {
            if t.tree && t.object == Object::LoadBalancer {
                load_balancers::mark_tree(tx, &t.id, status).await?;
            } else {
                store::set_provisioning_status(tx, object, &[t.id.as_str()], status).await?;
            }
            let reports_itself = matches!(
                t.object,
                Object::HealthMonitor | Object::L7Policy | Object::L7Rule
            );
            if ok
                && t.role == Role::Own
                && matches!(t.op, Operation::Create | Operation::Update)
                && reports_itself
            {
                store::set_operating_by_enabled(tx, object, &t.id).await?;
            }
        }
    }
    Ok(())
}
