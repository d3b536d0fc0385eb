//! The controller as the API sees it: inserting a flow in the request's
//! transaction and waking the worker after the commit; and starting the
//! worker that runs the flows.

use std::sync::Arc;

use neutrino_store::{Db, Tx};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::backend::Backend;
use crate::engine::{EngineError, FlowSpec, FlowWaker, Registry, Worker, WorkerConfig};
use crate::flows::{self, Ctx};

/// Cheap to clone; one per server.
#[derive(Clone)]
pub struct Controller {
    registry: Arc<Registry<Ctx>>,
    waker: FlowWaker,
}

impl Controller {
    /// Inserts the flow in `tx`. Call [`Controller::wake`] after the
    /// commit.
    pub async fn submit(&self, tx: &mut Tx, spec: &FlowSpec) -> Result<String, EngineError> {
        self.registry.insert(tx, spec).await
    }

    pub fn wake(&self) {
        self.waker.wake();
    }
}

/// Starts this server's flow worker on `backend`; it runs until `stop`
/// turns true.
pub fn start(
    db: Db,
    backend: Arc<dyn Backend>,
    config: WorkerConfig,
    stop: watch::Receiver<bool>,
) -> (Controller, JoinHandle<()>) {
    let registry = Arc::new(flows::registry());
    let ctx = Arc::new(Ctx {
        db: db.clone(),
        backend,
    });
    let worker = Worker::new(db, registry.clone(), ctx, config);
    #[cfg(feature = "fault-injection")]
    let worker = worker.with_faults(crate::engine::Faults::from_env().unwrap_or_else(|e| {
        tracing::error!(error = %e, "ignoring an unreadable fault specification");
        crate::engine::Faults::none()
    }));
    let controller = Controller {
        registry,
        waker: worker.waker(),
    };
    (controller, tokio::spawn(worker.run(stop)))
}
