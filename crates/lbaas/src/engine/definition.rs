//! Flow definitions (kind → ordered steps + final writes) and inserting
//! flows.

use std::collections::{HashMap, HashSet};

use futures::future::BoxFuture;
use neutrino_store::{StoreError, Tx, lb_flows};
use serde_json::Value;

use super::{EngineError, FlowView, Step};

/// One kind of flow.
pub trait FlowDefinition<C>: Send + Sync {
    /// Stored in `lb_flows.kind`; unique within a [`Registry`].
    fn kind(&self) -> &str;

    /// The steps, in execution order. A flow stores their names when it is
    /// created; a worker refuses to run a flow whose stored names differ
    /// from these (the code changed under it) rather than guess.
    fn steps(&self) -> &[Box<dyn Step<C>>];

    /// The final writes after the last step (e.g. statuses to ACTIVE), in
    /// the transaction that deletes the flow row.
    fn on_finish<'a>(
        &'a self,
        ctx: &'a C,
        tx: &'a mut Tx,
        flow: FlowView<'a>,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// The final writes after every undo ran (e.g. statuses to ERROR), in
    /// the transaction that deletes the flow row.
    fn on_revert<'a>(
        &'a self,
        ctx: &'a C,
        tx: &'a mut Tx,
        flow: FlowView<'a>,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
}

/// A flow to start.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowSpec {
    pub kind: String,
    /// At most one flow per load balancer at a time (a unique index).
    pub lb_id: Option<String>,
    pub object_type: String,
    pub object_id: String,
    /// Everything the steps need that the database will not answer later:
    /// ids chosen in advance, old values of an update, ...
    pub input: Value,
}

/// The flow definitions a worker can run, by kind.
pub struct Registry<C> {
    defs: HashMap<String, Box<dyn FlowDefinition<C>>>,
}

impl<C> Default for Registry<C> {
    fn default() -> Self {
        Registry {
            defs: HashMap::new(),
        }
    }
}

impl<C> Registry<C> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a definition; its kind and its step names must be unique.
    pub fn register(&mut self, def: impl FlowDefinition<C> + 'static) -> Result<(), EngineError> {
        let kind = def.kind().to_owned();
        if self.defs.contains_key(&kind) {
            return Err(EngineError::DuplicateKind(kind));
        }
        let mut seen = HashSet::new();
        for step in def.steps() {
            if !seen.insert(step.name()) {
                return Err(EngineError::DuplicateStep {
                    kind,
                    step: step.name().to_owned(),
                });
            }
        }
        self.defs.insert(kind, Box::new(def));
        Ok(())
    }

    pub fn get(&self, kind: &str) -> Option<&dyn FlowDefinition<C>> {
        self.defs.get(kind).map(|d| &**d)
    }

    /// The step names of `kind`, in order (what fault-injection tests
    /// enumerate).
    pub fn step_names(&self, kind: &str) -> Option<Vec<String>> {
        self.get(kind).map(step_names)
    }

    /// Inserts a flow of `spec.kind` in the caller's transaction and
    /// returns its id. After the commit, wake the local worker
    /// ([`super::FlowWaker::wake`]) so it starts without waiting for its
    /// next poll.
    pub async fn insert(&self, tx: &mut Tx, spec: &FlowSpec) -> Result<String, EngineError> {
        let def = self
            .get(&spec.kind)
            .ok_or_else(|| EngineError::UnknownKind(spec.kind.clone()))?;
        let id = uuid::Uuid::new_v4().to_string();
        let steps = step_names(def);
        lb_flows::insert(
            tx,
            &lb_flows::NewFlow {
                id: &id,
                kind: &spec.kind,
                lb_id: spec.lb_id.as_deref(),
                object_type: &spec.object_type,
                object_id: &spec.object_id,
                steps: &steps,
                input: &spec.input,
            },
        )
        .await?;
        Ok(id)
    }
}

pub(crate) fn step_names<C>(def: &dyn FlowDefinition<C>) -> Vec<String> {
    def.steps().iter().map(|s| s.name().to_owned()).collect()
}
