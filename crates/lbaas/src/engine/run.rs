//! Driving one claimed flow: steps forward, undos backward, the final
//! transaction, all under the flow's lease.

use std::future::Future;
use std::sync::Arc;

use neutrino_store::StoreError;
use neutrino_store::lb_flows::{self, ClaimedFlow, Direction, Flow};
use serde_json::Value;
use tokio::sync::watch;

use super::definition::step_names;
use super::worker::{Shared, millis, now_ms};
use super::{FaultAction, FaultPoint, FlowDefinition, FlowView, StepError, StepIo};

/// How a flow task ended (for the log).
#[derive(Debug, PartialEq, Eq)]
enum Ending {
    Finished,
    Reverted,
    /// Another worker holds the flow now; nothing more was written.
    LostLease,
    /// Handed back: a retry waits out its backoff, or the worker stops.
    Released,
}

/// Runs one claimed flow until it ends or is handed back.
pub(super) async fn run_flow<C: Send + Sync + 'static>(
    shared: Arc<Shared<C>>,
    claimed: ClaimedFlow,
    stop: watch::Receiver<bool>,
) {
    let id = claimed.flow.id.clone();
    let kind = claimed.flow.kind.clone();
    let mut run = FlowRun {
        shared: &shared,
        flow: claimed.flow,
        outputs: Vec::new(),
        stop,
    };
    for (idx, out) in claimed.outputs {
        if let Ok(i) = usize::try_from(idx) {
            if run.outputs.len() <= i {
                run.outputs.resize(i + 1, None);
            }
            run.outputs[i] = Some(out);
        }
    }
    match run.drive().await {
        Ok(ending) => tracing::debug!(flow = %id, %kind, ?ending, "load-balancer flow"),
        // The lease expires and the flow runs again from its cursor.
        Err(e) => {
            tracing::warn!(flow = %id, %kind, error = %e, "load-balancer flow interrupted by a storage error")
        }
    }
}

struct FlowRun<'s, C> {
    shared: &'s Shared<C>,
    flow: Flow,
    /// By step index; `None` for steps not (or no longer) completed.
    outputs: Vec<Option<Value>>,
    stop: watch::Receiver<bool>,
}

impl<C: Send + Sync + 'static> FlowRun<'_, C> {
    fn lease_until(&self) -> i64 {
        now_ms() + millis(self.shared.config.lease)
    }

    /// The holder this flow was claimed with (in the claimed row).
    fn holder(&self) -> &str {
        &self.flow.lease_holder
    }

    async fn drive(&mut self) -> Result<Ending, StoreError> {
        let shared = self.shared;
        let Some(def) = shared.registry.get(&self.flow.kind) else {
            let msg = format!(
                "no flow definition for kind {:?} on this server",
                self.flow.kind
            );
            return self.park(&msg).await;
        };
        let defined = step_names(def);
        if defined != self.flow.steps {
            let msg = format!(
                "flow kind {:?} now defines steps {defined:?}, the flow was created with {:?}",
                self.flow.kind, self.flow.steps
            );
            return self.park(&msg).await;
        }
        loop {
            let stopping = *self.stop.borrow();
            if stopping {
                return self.hand_back().await;
            }
            let step = match self.flow.direction {
                Direction::Forward => self.forward(def).await?,
                Direction::Revert => self.revert(def).await?,
            };
            if let Some(ending) = step {
                return Ok(ending);
            }
        }
    }

    /// A flow this server cannot run: logged loudly and retried at the
    /// longest backoff (a server with the right code may take it).
    async fn park(&mut self, msg: &str) -> Result<Ending, StoreError> {
        tracing::error!(flow = %self.flow.id, "{msg}");
        let at = now_ms() + millis(self.shared.config.backoff_max);
        lb_flows::retry_later(&self.shared.db, &self.flow.id, self.holder(), msg, at).await?;
        Ok(Ending::Released)
    }

    async fn hand_back(&mut self) -> Result<Ending, StoreError> {
        lb_flows::release(&self.shared.db, &self.flow.id, self.holder(), 0).await?;
        Ok(Ending::Released)
    }

    fn view(&self) -> FlowView<'_> {
        FlowView {
            id: &self.flow.id,
            kind: &self.flow.kind,
            lb_id: self.flow.lb_id.as_deref(),
            object_type: &self.flow.object_type,
            object_id: &self.flow.object_id,
            input: &self.flow.input,
            steps: &self.flow.steps,
            outputs: &self.outputs,
        }
    }

    fn attempt(&self) -> u32 {
        u32::try_from(self.flow.attempt).unwrap_or(u32::MAX)
    }

    fn fault(&self, step: &str, point: FaultPoint) -> Option<FaultAction> {
        let action = self.shared.faults.at(&self.flow.kind, step, point)?;
        if action == FaultAction::Crash {
            eprintln!(
                "fault injection: aborting at {point:?} step {step} of flow {} ({})",
                self.flow.id, self.flow.kind
            );
            std::process::abort();
        }
        Some(action)
    }

    /// One forward move: the next step, or the final transaction.
    /// `Some` when the flow task is over.
    async fn forward(&mut self, def: &dyn FlowDefinition<C>) -> Result<Option<Ending>, StoreError> {
        let steps = def.steps();
        let Ok(idx) = usize::try_from(self.flow.cursor) else {
            return self.park("forward cursor below 0").await.map(Some);
        };
        if idx >= steps.len() {
            return self.finish(def, Ending::Finished).await;
        }
        let step = &*steps[idx];
        let result = if self.fault(step.name(), FaultPoint::Before) == Some(FaultAction::Error) {
            Some(Err(StepError::permanent("injected fault before the step")))
        } else {
            let io = StepIo {
                flow: self.view(),
                index: idx,
                attempt: self.attempt(),
            };
            let ctx = &*self.shared.ctx;
            leased(
                self.shared,
                &self.flow.id,
                self.holder(),
                step.execute(ctx, io),
            )
            .await
        };
        let Some(result) = result else {
            return Ok(Some(Ending::LostLease));
        };
        let result = match result {
            Ok(out) if self.fault(step.name(), FaultPoint::After) == Some(FaultAction::Error) => {
                drop(out);
                Err(StepError::permanent("injected fault after the step"))
            }
            other => other,
        };
        let db = &self.shared.db;
        let cursor = self.flow.cursor;
        match result {
            Ok(output) => {
                if !lb_flows::record_step(
                    db,
                    &self.flow.id,
                    self.holder(),
                    cursor,
                    &output,
                    self.lease_until(),
                )
                .await?
                {
                    return Ok(Some(Ending::LostLease));
                }
                if self.outputs.len() <= idx {
                    self.outputs.resize(idx + 1, None);
                }
                self.outputs[idx] = Some(output);
                self.flow.cursor += 1;
                self.flow.attempt = 0;
            }
            Err(StepError::Transient(msg)) if self.attempt() + 1 < step.max_attempts() => {
                let attempt = self.attempt() + 1;
                tracing::info!(flow = %self.flow.id, step = step.name(), attempt, error = %msg, "load-balancer flow step failed; retrying");
                let at = now_ms() + millis(self.shared.config.backoff(attempt));
                let msg = format!("{}: {msg}", step.name());
                if !lb_flows::retry_later(db, &self.flow.id, self.holder(), &msg, at).await? {
                    return Ok(Some(Ending::LostLease));
                }
                return Ok(Some(Ending::Released));
            }
            Err(e) => {
                let msg = match e {
                    StepError::Transient(m) => format!(
                        "{}: gave up after {} attempts: {m}",
                        step.name(),
                        step.max_attempts()
                    ),
                    StepError::Permanent(m) => format!("{}: {m}", step.name()),
                };
                tracing::warn!(flow = %self.flow.id, kind = %self.flow.kind, error = %msg, "load-balancer flow failed; reverting");
                if !lb_flows::start_revert(
                    db,
                    &self.flow.id,
                    self.holder(),
                    cursor,
                    &msg,
                    self.lease_until(),
                )
                .await?
                {
                    return Ok(Some(Ending::LostLease));
                }
                self.flow.direction = Direction::Revert;
                self.flow.attempt = 0;
                self.flow.last_error = Some(msg);
            }
        }
        Ok(None)
    }

    /// One backward move: the next undo, or the final transaction.
    async fn revert(&mut self, def: &dyn FlowDefinition<C>) -> Result<Option<Ending>, StoreError> {
        let steps = def.steps();
        if self.flow.cursor < 0 {
            return self.finish(def, Ending::Reverted).await;
        }
        let Some(step) = usize::try_from(self.flow.cursor)
            .ok()
            .and_then(|i| steps.get(i))
        else {
            return self
                .park("revert cursor past the last step")
                .await
                .map(Some);
        };
        let idx = usize::try_from(self.flow.cursor).unwrap_or_default();
        let step = &**step;
        self.fault(step.name(), FaultPoint::BeforeUndo);
        let io = StepIo {
            flow: self.view(),
            index: idx,
            attempt: self.attempt(),
        };
        let ctx = &*self.shared.ctx;
        let Some(result) = leased(
            self.shared,
            &self.flow.id,
            self.holder(),
            step.undo(ctx, io),
        )
        .await
        else {
            return Ok(Some(Ending::LostLease));
        };
        let db = &self.shared.db;
        match result {
            Ok(()) => {
                self.fault(step.name(), FaultPoint::AfterUndo);
                if !lb_flows::record_undo(
                    db,
                    &self.flow.id,
                    self.holder(),
                    self.flow.cursor,
                    self.lease_until(),
                )
                .await?
                {
                    return Ok(Some(Ending::LostLease));
                }
                if let Some(out) = self.outputs.get_mut(idx) {
                    *out = None;
                }
                self.flow.cursor -= 1;
                self.flow.attempt = 0;
                Ok(None)
            }
            Err(e) => {
                // Cleanup never gives up: the object stays PENDING_* and
                // operators see `last_error` until the undo succeeds.
                let attempt = self.attempt() + 1;
                tracing::error!(flow = %self.flow.id, step = step.name(), attempt, error = %e, "undo of a load-balancer flow step failed; retrying");
                let at = now_ms() + millis(self.shared.config.backoff(attempt));
                let msg = format!("undo {}: {e}", step.name());
                if !lb_flows::retry_later(db, &self.flow.id, self.holder(), &msg, at).await? {
                    return Ok(Some(Ending::LostLease));
                }
                Ok(Some(Ending::Released))
            }
        }
    }

    /// The final transaction: the definition's writes and the flow row's
    /// deletion, or neither.
    async fn finish(
        &mut self,
        def: &dyn FlowDefinition<C>,
        ending: Ending,
    ) -> Result<Option<Ending>, StoreError> {
        let db = &self.shared.db;
        let ctx = &*self.shared.ctx;
        let mut tx = db.begin().await?;
        let written = match ending {
            Ending::Reverted => def.on_revert(ctx, &mut tx, self.view()).await,
            _ => def.on_finish(ctx, &mut tx, self.view()).await,
        };
        if let Err(e) = written {
            drop(tx);
            // Final writes are database writes: retried like a transient
            // failure, forever, loudly.
            let attempt = self.attempt() + 1;
            tracing::error!(flow = %self.flow.id, kind = %self.flow.kind, attempt, error = %e, "final writes of a load-balancer flow failed; retrying");
            let at = now_ms() + millis(self.shared.config.backoff(attempt));
            let msg = format!("final writes: {e}");
            if !lb_flows::retry_later(db, &self.flow.id, self.holder(), &msg, at).await? {
                return Ok(Some(Ending::LostLease));
            }
            return Ok(Some(Ending::Released));
        }
        if !lb_flows::finish(&mut tx, &self.flow.id, self.holder()).await? {
            // Dropping the transaction rolls the final writes back: the
            // worker holding the lease now will make them.
            return Ok(Some(Ending::LostLease));
        }
        tx.commit().await?;
        Ok(Some(ending))
    }
}

/// Runs `work` to completion while renewing the flow's lease; the result
/// is `None` when the lease was lost meanwhile (another worker owns the
/// flow and `work`'s result must be thrown away).
///
/// Nothing here is cancelled half way: not the step, whose database
/// transactions (and whose peers) are better left to finish than cut off,
/// and not a renewal, which stops only between two renewals. Both futures
/// are polled together, so a step holding the SQLite writer never waits
/// for a renewal that waits for that writer.
async fn leased<C, T>(
    shared: &Shared<C>,
    flow_id: &str,
    holder: &str,
    work: impl Future<Output = T>,
) -> Option<T> {
    let (done_tx, mut done_rx) = watch::channel(false);
    let work = async move {
        let out = work.await;
        let _ = done_tx.send(true);
        out
    };
    let renewals = async {
        let mut ticks = tokio::time::interval(shared.config.renew_every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first tick is immediate; the claim (or last record) just set the lease.
        ticks.tick().await;
        loop {
            tokio::select! {
                _ = done_rx.wait_for(|d| *d) => return true,
                _ = ticks.tick() => {}
            }
            let until = now_ms() + millis(shared.config.lease);
            match lb_flows::renew(&shared.db, flow_id, holder, until).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(flow = %flow_id, "lost the lease of a load-balancer flow mid-step");
                    return false;
                }
                // The lease may still hold; if it lapses, the next
                // conditional write tells.
                Err(e) => {
                    tracing::warn!(flow = %flow_id, error = %e, "renewing a load-balancer flow lease failed");
                }
            }
        }
    };
    let (out, held) = tokio::join!(work, renewals);
    held.then_some(out)
}
