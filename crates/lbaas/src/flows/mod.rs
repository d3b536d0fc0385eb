//! The load-balancer flows: what each operation's steps are, and the
//! final writes that settle the statuses (design §7.4, §3.1).
//!
//! Every flow's input is a [`Plan`]: the objects the operation touched
//! (each with its operation and role, from which `state::after_flow`
//! gives the final status), the amphorae to bring up and the ones to
//! retire. The request builds the plan in its transaction; the steps and
//! the final writes only read it, so a flow resumed on another server
//! after a crash does exactly what the first one would have.

mod settle;
mod steps;

use std::sync::Arc;

use futures::future::BoxFuture;
use neutrino_lb_types::enums::AmphoraRole;
use neutrino_lb_types::state::{Object, Operation, Role};
use neutrino_store::{Db, StoreError, Tx};
use serde::{Deserialize, Serialize};

use crate::backend::Backend;
use crate::engine::{FlowDefinition, FlowSpec, FlowView, Registry, Step};

/// What every step of a load-balancer flow is given.
pub struct Ctx {
    pub db: Db,
    pub backend: Arc<dyn Backend>,
}

/// One object an operation touched.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Touched {
    pub object: Object,
    pub id: String,
    pub op: Operation,
    pub role: Role,
    /// Settle everything under the load balancer too (a graph create's
    /// children, a failover's listeners).
    #[serde(default)]
    pub tree: bool,
}

impl Touched {
    pub fn own(object: Object, id: &str, op: Operation) -> Self {
        Touched {
            object,
            id: id.to_string(),
            op,
            role: Role::Own,
            tree: false,
        }
    }

    /// An ancestor held in PENDING_UPDATE for the duration.
    pub fn parent(object: Object, id: &str) -> Self {
        Touched {
            object,
            id: id.to_string(),
            op: Operation::Update,
            role: Role::Parent,
            tree: false,
        }
    }
}

/// An amphora a flow brings up; its id is fixed when the flow is made so
/// a repeated step finds what an earlier attempt created.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewAmphora {
    pub id: String,
    pub role: AmphoraRole,
    pub vrrp_priority: Option<i64>,
}

/// A flow's input.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub touched: Vec<Touched>,
    #[serde(default)]
    pub amphorae: Vec<NewAmphora>,
    /// Amphorae to delete once the new ones serve (failover).
    #[serde(default)]
    pub retire: Vec<String>,
    /// The compute zone for new amphorae.
    #[serde(default)]
    pub zone: Option<String>,
}

/// Flow kinds.
pub mod kind {
    pub const LB_CREATE: &str = "lb_create";
    pub const LB_DELETE: &str = "lb_delete";
    pub const LB_FAILOVER: &str = "lb_failover";
    /// Every update of a load balancer and every operation on its
    /// children: apply the new configuration, then settle.
    pub const CONFIG: &str = "config";
    pub const AMP_CONFIG: &str = "amp_config";
    /// `DELETE /amphorae/{id}` of an amphora in ERROR.
    pub const AMP_DELETE: &str = "amp_delete";
}

/// Amphorae for a new load balancer of `topology` (ids fresh).
pub fn amphorae_for(topology: neutrino_lb_types::enums::Topology) -> Vec<NewAmphora> {
    use neutrino_lb_types::enums::Topology;
    let new = |role, vrrp_priority| NewAmphora {
        id: uuid::Uuid::new_v4().to_string(),
        role,
        vrrp_priority,
    };
    match topology {
        Topology::Single => vec![new(AmphoraRole::Standalone, None)],
        Topology::ActiveStandby => vec![
            new(AmphoraRole::Master, Some(100)),
            new(AmphoraRole::Backup, Some(90)),
        ],
    }
}

impl Plan {
    /// The flow that carries this plan for load balancer `lb_id`; the
    /// first touched object names the flow.
    pub fn into_spec(self, kind: &str, lb_id: &str) -> FlowSpec {
        let (object_type, object_id) = self
            .touched
            .first()
            .map(|t| (format!("{:?}", t.object), t.id.clone()))
            .unwrap_or_else(|| ("LoadBalancer".into(), lb_id.to_string()));
        FlowSpec {
            kind: kind.to_string(),
            lb_id: Some(lb_id.to_string()),
            object_type,
            object_id,
            input: serde_json::to_value(&self).unwrap_or_default(),
        }
    }

    /// A flow on one amphora (`kind::AMP_CONFIG`, `kind::AMP_DELETE`): no
    /// load balancer is held (it may have a flow of its own running),
    /// nothing to settle.
    pub fn amphora_spec(kind: &str, amphora_id: &str) -> FlowSpec {
        FlowSpec {
            kind: kind.to_string(),
            lb_id: None,
            object_type: "Amphora".into(),
            object_id: amphora_id.to_string(),
            input: serde_json::to_value(Plan::default()).unwrap_or_default(),
        }
    }

    pub(crate) fn of(flow: &FlowView<'_>) -> Result<Plan, String> {
        serde_json::from_value(flow.input.clone()).map_err(|e| format!("flow input: {e}"))
    }
}

/// A flow definition: its steps, then [`settle`] forward or backward.
struct Def {
    kind: &'static str,
    steps: Vec<Box<dyn Step<Ctx>>>,
}

impl FlowDefinition<Ctx> for Def {
    fn kind(&self) -> &str {
        self.kind
    }

    fn steps(&self) -> &[Box<dyn Step<Ctx>>] {
        &self.steps
    }

    fn on_finish<'a>(
        &'a self,
        _: &'a Ctx,
        tx: &'a mut Tx,
        flow: FlowView<'a>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(settle::settle(tx, flow, true))
    }

    fn on_revert<'a>(
        &'a self,
        _: &'a Ctx,
        tx: &'a mut Tx,
        flow: FlowView<'a>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(settle::settle(tx, flow, false))
    }
}

/// Every load-balancer flow.
pub fn registry() -> Registry<Ctx> {
    use steps::*;
    let bring_up = || -> Vec<Box<dyn Step<Ctx>>> {
        vec![
            Box::new(CreateAmphoraRows),
            Box::new(BootAmphorae),
            Box::new(PlugVip),
            Box::new(AllocateAmphorae),
            Box::new(ApplyConfig),
        ]
    };
    let mut failover = bring_up();
    failover.push(Box::new(RetireAmphorae));
    let defs = [
        Def {
            kind: kind::LB_CREATE,
            steps: bring_up(),
        },
        Def {
            kind: kind::LB_FAILOVER,
            steps: failover,
        },
        Def {
            kind: kind::LB_DELETE,
            steps: vec![Box::new(RemoveConfig), Box::new(DeleteAmphorae)],
        },
        Def {
            kind: kind::CONFIG,
            steps: vec![Box::new(ApplyConfig)],
        },
        Def {
            kind: kind::AMP_CONFIG,
            steps: vec![Box::new(PushAgentConfig)],
        },
        Def {
            kind: kind::AMP_DELETE,
            steps: vec![Box::new(DeleteOneAmphora)],
        },
    ];
    let mut r = Registry::new();
    for d in defs {
        r.register(d).expect("flow kinds and step names are unique");
    }
    r
}
