//! A generic engine for persisted, resumable flows.
//!
//! A *flow* is a row of `lb_flows` naming a [`FlowDefinition`] (its kind)
//! and carrying the input its steps need. The request that wants the work
//! done inserts the flow in its own transaction ([`Registry::insert`]), so
//! the PENDING_* statuses it writes and the flow that will settle them
//! commit together. A [`Worker`] on any server then claims the flow (a
//! lease in the row), executes its steps from the stored cursor, records
//! each step's output in the same transaction that advances the cursor,
//! and finally runs the definition's `on_finish` writes in the transaction
//! that deletes the flow row. A permanent error turns the flow around: the
//! failing step's own undo runs first (it may have half-happened), then the
//! earlier steps' undos in reverse order, then `on_revert` in the
//! transaction that deletes the row.
//!
//! Crash safety comes from three rules:
//! - steps are idempotent: a step that ran but whose output was not
//!   committed runs again, so it must look before it creates, and an undo
//!   must treat "already gone" as done;
//! - every write that moves a flow on is conditional on still holding its
//!   lease, so a worker that stalled past its lease cannot overwrite the
//!   progress of the one that took over;
//! - the only way out of the table is a final transaction that writes the
//!   final statuses, so nothing is left half-settled.

mod definition;
mod fault;
mod run;
mod step;
mod worker;

pub use definition::{FlowDefinition, FlowSpec, Registry};
#[cfg(feature = "fault-injection")]
pub use fault::{FAULT_ENV, Fault, FaultSpecError};
pub use fault::{FaultAction, FaultPoint, Faults};
pub use step::{FlowView, Step, StepError, StepIo};
pub use worker::{FlowWaker, Worker, WorkerConfig};

use thiserror::Error;

/// Errors of defining, inserting or running flows (not of their steps:
/// those are [`StepError`]s, recorded in the flow).
#[derive(Debug, Error)]
pub enum EngineError {
    #[error("no flow definition for kind {0:?}")]
    UnknownKind(String),
    #[error("flow kind {0:?} is registered twice")]
    DuplicateKind(String),
    #[error("flow kind {kind:?} names step {step:?} twice")]
    DuplicateStep { kind: String, step: String },
    #[error("flow storage failed")]
    Store(#[source] neutrino_store::StoreError),
}

impl From<neutrino_store::StoreError> for EngineError {
    fn from(e: neutrino_store::StoreError) -> Self {
        EngineError::Store(e)
    }
}
