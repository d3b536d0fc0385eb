//! What a step is and what it sees.

use futures::future::BoxFuture;
use serde_json::Value;
use thiserror::Error;

/// One step of a flow: an action with an undo.
///
/// Contract (the engine relies on it after a crash, a lost lease or a
/// shutdown, any of which can cut a step off anywhere):
/// - `execute` is idempotent: it may run again after it had already done
///   all or part of its work without its output being recorded. Anything
///   it creates gets an identity fixed beforehand (in the flow's input or
///   an earlier step's output), and it looks before it creates.
/// - `undo` is idempotent too and must succeed when `execute` never ran or
///   stopped half way: "already gone" is done.
/// - Neither holds a database transaction across an external call.
///
/// `C` is the context the worker hands every step (drivers, the database).
pub trait Step<C>: Send + Sync {
    /// Unique within its flow definition; stored in each flow's step list.
    fn name(&self) -> &str;

    /// Does the work; the returned value is recorded as this step's output
    /// in the same transaction that moves the flow past it.
    fn execute<'a>(&'a self, ctx: &'a C, io: StepIo<'a>)
    -> BoxFuture<'a, Result<Value, StepError>>;

    /// Takes the work back. Runs for every step the flow reached, the
    /// failing one included, in reverse order. Failures are retried with
    /// backoff until it succeeds: cleanup never gives up.
    fn undo<'a>(&'a self, ctx: &'a C, io: StepIo<'a>) -> BoxFuture<'a, Result<(), StepError>>;

    /// How many times `execute` may fail transiently in a row before the
    /// failure counts as permanent and the flow reverts.
    fn max_attempts(&self) -> u32 {
        3
    }
}

/// Why a step did not complete.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum StepError {
    /// Worth retrying as is (a peer unreachable, a lock busy): the flow is
    /// released with backoff and the same step runs again.
    #[error("{0}")]
    Transient(String),
    /// Retrying cannot help: the flow reverts.
    #[error("{0}")]
    Permanent(String),
}

impl StepError {
    pub fn transient(msg: impl std::fmt::Display) -> Self {
        StepError::Transient(msg.to_string())
    }

    pub fn permanent(msg: impl std::fmt::Display) -> Self {
        StepError::Permanent(msg.to_string())
    }
}

/// A running flow as its steps and final writes see it.
#[derive(Clone, Copy, Debug)]
pub struct FlowView<'a> {
    pub id: &'a str,
    pub kind: &'a str,
    pub lb_id: Option<&'a str>,
    pub object_type: &'a str,
    pub object_id: &'a str,
    /// What the flow was created with.
    pub input: &'a Value,
    pub(crate) steps: &'a [String],
    pub(crate) outputs: &'a [Option<Value>],
}

impl<'a> FlowView<'a> {
    /// The recorded output of step `idx`, if it completed.
    pub fn output(&self, idx: usize) -> Option<&'a Value> {
        self.outputs.get(idx).and_then(Option::as_ref)
    }

    /// The recorded output of the step named `step`, if it completed.
    pub fn output_of(&self, step: &str) -> Option<&'a Value> {
        let idx = self.steps.iter().position(|s| s == step)?;
        self.output(idx)
    }

    /// The flow's step names, in order.
    pub fn steps(&self) -> &'a [String] {
        self.steps
    }
}

/// What one step execution or undo is given.
#[derive(Clone, Copy, Debug)]
pub struct StepIo<'a> {
    pub flow: FlowView<'a>,
    /// This step's position in the flow.
    pub index: usize,
    /// Transient failures of this step so far (0 on the first try; for an
    /// undo, failed undo attempts so far).
    pub attempt: u32,
}

impl<'a> StepIo<'a> {
    /// This step's own recorded output: present in `undo` when `execute`
    /// completed, absent when it failed or was cut off.
    pub fn own_output(&self) -> Option<&'a Value> {
        self.flow.output(self.index)
    }
}
