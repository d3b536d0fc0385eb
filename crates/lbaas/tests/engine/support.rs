//! A test flow whose steps record their side effects in tables of the
//! flow's own database, so every assertion reads what really happened,
//! whichever process did it.
//!
//! Tables (created by [`open`]): `t_calls` logs every execute start
//! (`execute`), successful execute end (`executed`) and undo (`undo`) with
//! the attempt and the worker; `t_resources` holds what steps "create"
//! (no unique key, so a step that created twice would show);
//! `t_outcomes` what the final writes recorded; `t_active` flags a flow
//! while one of its steps runs (for the overlap check).
//!
//! Each step's behaviour comes from the flow input:
//! `{"fail": "s2"}` fails s2 permanently after it created its resource (a
//! step that half happened); `{"transient": {"s1": 2}}` fails s1
//! transiently on its first two attempts; `{"undo_transient": {"s0": 2}}`
//! the same for s0's undo; `{"sleep_ms": n}` makes each execute take n ms;
//! `{"hold_tx_ms": n}` holds the resource's write transaction open n ms;
//! `{"exclusive": true}` records an overlap if two executions of the flow
//! run at once.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::future::BoxFuture;
use neutrino_lbaas::engine::{
    FlowDefinition, FlowSpec, FlowView, Registry, Step, StepError, StepIo, Worker, WorkerConfig,
};
use neutrino_store::{Db, StoreError, Tx, dispatch, lb_flows};
use serde_json::{Value, json};
use tokio::sync::watch;

pub const KIND: &str = "test_flow";
pub const STEPS: usize = 4;

pub fn step_name(i: usize) -> String {
    format!("s{i}")
}

/// A database of one backend, with the engine's and the test's tables.
pub struct Backend {
    pub name: &'static str,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

/// A fresh SQLite database, and a fresh PostgreSQL one when a test server
/// is configured.
pub async fn backends() -> Vec<Backend> {
    let mut out = vec![sqlite().await];
    if let Some(pg) = postgres().await {
        out.push(pg);
    }
    out
}

pub async fn sqlite() -> Backend {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = neutrino_testkit::sqlite_url(dir.path());
    prepare(&url).await;
    Backend {
        name: "sqlite",
        url,
        _dir: Some(dir),
    }
}

pub async fn postgres() -> Option<Backend> {
    let url = neutrino_testkit::postgres_database_or_skip()
        .await
        .expect("postgres configured but unusable")?;
    prepare(&url).await;
    Some(Backend {
        name: "postgres",
        url,
        _dir: None,
    })
}

async fn prepare(url: &str) {
    let db = Db::connect(url).await.expect("connect");
    db.migrate().await.expect("migrations");
    let seq = if db.backend_name() == "postgres" {
        "seq BIGSERIAL PRIMARY KEY"
    } else {
        "seq INTEGER PRIMARY KEY AUTOINCREMENT"
    };
    let statements = [
        format!(
            "CREATE TABLE t_calls ({seq}, flow_id TEXT NOT NULL, step TEXT NOT NULL, \
             action TEXT NOT NULL, attempt BIGINT NOT NULL, worker TEXT NOT NULL, at_ms BIGINT NOT NULL)"
        ),
        "CREATE TABLE t_resources (flow_id TEXT NOT NULL, step TEXT NOT NULL)".to_owned(),
        "CREATE TABLE t_outcomes (flow_id TEXT NOT NULL, outcome TEXT NOT NULL, worker TEXT NOT NULL)"
            .to_owned(),
        "CREATE TABLE t_active (flow_id TEXT PRIMARY KEY)".to_owned(),
    ];
    let mut tx = db.begin().await.expect("begin");
    for sql in statements {
        dispatch!(tx.conn(), c => sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut *c).await.map(|_| ()))
            .expect("test table");
    }
    tx.commit().await.expect("commit");
    db.close().await;
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}

/// What every step and final write is given.
pub struct TestCtx {
    pub db: Db,
    /// Recorded with every call: which server did it.
    pub worker: String,
}

async fn write(db: &Db, sql: &'static str, binds: &[&str]) -> Result<u64, StoreError> {
    let mut tx = db.begin().await?;
    let n = dispatch!(tx.conn(), c => {
        let mut q = sqlx::query(sql);
        for b in binds {
            q = q.bind(*b);
        }
        q.execute(&mut *c).await.map(|r| r.rows_affected())
    })?;
    tx.commit().await?;
    Ok(n)
}

async fn log_call(
    ctx: &TestCtx,
    io: &StepIo<'_>,
    step: &str,
    action: &str,
) -> Result<(), StepError> {
    let mut tx = ctx.db.begin().await.map_err(StepError::transient)?;
    dispatch!(tx.conn(), c => sqlx::query(
        "INSERT INTO t_calls (flow_id, step, action, attempt, worker, at_ms) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(io.flow.id).bind(step).bind(action).bind(i64::from(io.attempt)).bind(&ctx.worker).bind(now_ms())
        .execute(&mut *c).await.map(|_| ()))
    .map_err(StepError::transient)?;
    tx.commit().await.map_err(StepError::transient)
}

/// Creates the step's resource unless it exists, holding the write
/// transaction open for `hold` first (on SQLite: holding the one writer).
async fn create_resource(
    db: &Db,
    flow: &str,
    step: &str,
    hold: Option<Duration>,
) -> Result<(), StoreError> {
    let mut tx = db.begin().await?;
    if let Some(hold) = hold {
        tokio::time::sleep(hold).await;
    }
    dispatch!(tx.conn(), c => sqlx::query(
        "INSERT INTO t_resources (flow_id, step) SELECT $1, $2 \
         WHERE NOT EXISTS (SELECT 1 FROM t_resources WHERE flow_id = $1 AND step = $2)")
        .bind(flow).bind(step).execute(&mut *c).await.map(|_| ()))?;
    tx.commit().await
}

fn budget(input: &Value, key: &str, step: &str) -> u32 {
    input[key][step].as_u64().unwrap_or(0) as u32
}

pub struct TestStep {
    name: String,
    index: usize,
}

impl TestStep {
    async fn run(&self, ctx: &TestCtx, io: StepIo<'_>) -> Result<Value, StepError> {
        let input = io.flow.input;
        log_call(ctx, &io, &self.name, "execute").await?;
        if io.attempt < budget(input, "transient", &self.name) {
            return Err(StepError::transient(format!(
                "{} not reachable yet",
                self.name
            )));
        }
        // Later steps depend on what earlier ones recorded, whichever
        // process ran them.
        if self.index > 0 {
            let prev = io.flow.output(self.index - 1);
            if prev != Some(&json!({"n": self.index - 1})) {
                return Err(StepError::permanent(format!(
                    "{}: output of the previous step is {prev:?}",
                    self.name
                )));
            }
        }
        let exclusive = input["exclusive"].as_bool() == Some(true);
        if exclusive {
            let entered = write(
                &ctx.db,
                "INSERT INTO t_active (flow_id) VALUES ($1)",
                &[io.flow.id],
            )
            .await;
            if let Err(e) = entered {
                let _ = log_call(ctx, &io, &self.name, "overlap").await;
                return Err(StepError::permanent(format!("overlapping execution: {e}")));
            }
        }
        if let Some(ms) = input["sleep_ms"].as_u64() {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        // Look before creating: the step may have run before without its
        // output being recorded.
        let hold = input["hold_tx_ms"].as_u64().map(Duration::from_millis);
        create_resource(&ctx.db, io.flow.id, &self.name, hold)
            .await
            .map_err(StepError::transient)?;
        if exclusive {
            write(
                &ctx.db,
                "DELETE FROM t_active WHERE flow_id = $1",
                &[io.flow.id],
            )
            .await
            .map_err(StepError::transient)?;
        }
        if input["fail"].as_str() == Some(self.name.as_str()) {
            return Err(StepError::permanent(format!("{} refused", self.name)));
        }
        log_call(ctx, &io, &self.name, "executed").await?;
        Ok(json!({"n": self.index}))
    }

    async fn unrun(&self, ctx: &TestCtx, io: StepIo<'_>) -> Result<(), StepError> {
        log_call(ctx, &io, &self.name, "undo").await?;
        if io.attempt < budget(io.flow.input, "undo_transient", &self.name) {
            return Err(StepError::transient(format!(
                "{} undo not reachable yet",
                self.name
            )));
        }
        // "Already gone" is done.
        write(
            &ctx.db,
            "DELETE FROM t_resources WHERE flow_id = $1 AND step = $2",
            &[io.flow.id, &self.name],
        )
        .await
        .map_err(StepError::transient)?;
        Ok(())
    }
}

impl Step<TestCtx> for TestStep {
    fn name(&self) -> &str {
        &self.name
    }

    fn execute<'a>(
        &'a self,
        ctx: &'a TestCtx,
        io: StepIo<'a>,
    ) -> BoxFuture<'a, Result<Value, StepError>> {
        Box::pin(self.run(ctx, io))
    }

    fn undo<'a>(
        &'a self,
        ctx: &'a TestCtx,
        io: StepIo<'a>,
    ) -> BoxFuture<'a, Result<(), StepError>> {
        Box::pin(self.unrun(ctx, io))
    }
}

pub struct TestFlow {
    steps: Vec<Box<dyn Step<TestCtx>>>,
}

impl TestFlow {
    pub fn new() -> Self {
        TestFlow {
            steps: (0..STEPS)
                .map(|index| {
                    Box::new(TestStep {
                        name: step_name(index),
                        index,
                    }) as Box<dyn Step<TestCtx>>
                })
                .collect(),
        }
    }
}

async fn outcome(
    ctx: &TestCtx,
    tx: &mut Tx,
    flow: FlowView<'_>,
    outcome: &str,
) -> Result<(), StoreError> {
    dispatch!(tx.conn(), c => sqlx::query(
        "INSERT INTO t_outcomes (flow_id, outcome, worker) VALUES ($1, $2, $3)")
        .bind(flow.id).bind(outcome).bind(&ctx.worker).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

impl FlowDefinition<TestCtx> for TestFlow {
    fn kind(&self) -> &str {
        KIND
    }

    fn steps(&self) -> &[Box<dyn Step<TestCtx>>] {
        &self.steps
    }

    fn on_finish<'a>(
        &'a self,
        ctx: &'a TestCtx,
        tx: &'a mut Tx,
        flow: FlowView<'a>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(outcome(ctx, tx, flow, "finished"))
    }

    fn on_revert<'a>(
        &'a self,
        ctx: &'a TestCtx,
        tx: &'a mut Tx,
        flow: FlowView<'a>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(outcome(ctx, tx, flow, "reverted"))
    }
}

pub fn registry() -> Arc<Registry<TestCtx>> {
    let mut r = Registry::new();
    r.register(TestFlow::new()).expect("test flow registers");
    Arc::new(r)
}

/// Short enough that a test waiting for an expiry stays quick.
pub fn config(instance: &str) -> WorkerConfig {
    WorkerConfig {
        lease: Duration::from_secs(1),
        renew_every: Duration::from_millis(300),
        poll: Duration::from_millis(50),
        max_concurrent: 4,
        backoff_base: Duration::from_millis(50),
        backoff_max: Duration::from_millis(400),
        ..WorkerConfig::new(instance)
    }
}

/// Inserts a test flow with `input` in its own transaction.
pub async fn start_flow(db: &Db, registry: &Registry<TestCtx>, input: Value) -> String {
    let mut tx = db.begin().await.expect("begin");
    let id = registry
        .insert(
            &mut tx,
            &FlowSpec {
                kind: KIND.to_owned(),
                lb_id: None,
                object_type: "test".to_owned(),
                object_id: "object".to_owned(),
                input,
            },
        )
        .await
        .expect("insert flow");
    tx.commit().await.expect("commit");
    id
}

/// A running worker and the means to stop it.
pub struct Running {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    pub async fn stop(self) {
        self.stop.send(true).expect("worker still listening");
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("worker stops within 10 s")
            .expect("worker task does not panic");
    }
}

pub fn spawn_worker(worker: Worker<TestCtx>) -> Running {
    let (stop, rx) = watch::channel(false);
    Running {
        stop,
        task: tokio::spawn(worker.run(rx)),
    }
}

/// A worker named `instance` on its own connection to `url`.
pub async fn worker(url: &str, instance: &str, config: WorkerConfig) -> Worker<TestCtx> {
    let db = Db::connect(url).await.expect("connect");
    let ctx = TestCtx {
        db: db.clone(),
        worker: instance.to_owned(),
    };
    Worker::new(db, registry(), Arc::new(ctx), config)
}

/// Waits until no flow is left.
pub async fn wait_until_no_flows(db: &Db, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        let left = lb_flows::list(db).await.expect("list flows");
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "flows still there after {timeout:?}: {left:#?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// `(step, action, attempt)` of a flow's calls, in order.
pub async fn calls(db: &Db, flow: &str) -> Vec<(String, String, i64)> {
    dispatch!(db.read(), c => sqlx::query_as(
        "SELECT step, action, attempt FROM t_calls WHERE flow_id = $1 ORDER BY seq")
        .bind(flow).fetch_all(c).await)
    .expect("calls")
}

/// `(step, action, at_ms)` of a flow's calls, in order.
pub async fn call_times(db: &Db, flow: &str) -> Vec<(String, String, i64)> {
    dispatch!(db.read(), c => sqlx::query_as(
        "SELECT step, action, at_ms FROM t_calls WHERE flow_id = $1 ORDER BY seq")
        .bind(flow).fetch_all(c).await)
    .expect("calls")
}

pub async fn resources(db: &Db, flow: &str) -> Vec<String> {
    dispatch!(db.read(), c => sqlx::query_scalar(
        "SELECT step FROM t_resources WHERE flow_id = $1 ORDER BY step")
        .bind(flow).fetch_all(c).await)
    .expect("resources")
}

/// `(outcome, worker)` rows of a flow.
pub async fn outcomes(db: &Db, flow: &str) -> Vec<(String, String)> {
    dispatch!(db.read(), c => sqlx::query_as(
        "SELECT outcome, worker FROM t_outcomes WHERE flow_id = $1")
        .bind(flow).fetch_all(c).await)
    .expect("outcomes")
}

pub async fn step_rows(db: &Db) -> i64 {
    dispatch!(db.read(), c => sqlx::query_scalar("SELECT COUNT(*) FROM lb_flow_steps").fetch_one(c).await)
        .expect("count")
}

/// Only the executions, as `(step, action)`, dropping `attempt`.
pub fn actions(calls: &[(String, String, i64)]) -> Vec<(String, String)> {
    calls
        .iter()
        .map(|(s, a, _)| (s.clone(), a.clone()))
        .collect()
}

pub fn call(step: usize, action: &str) -> (String, String) {
    (step_name(step), action.to_owned())
}

/// The calls of a forward run that executed every step once.
pub fn clean_forward() -> Vec<(String, String)> {
    (0..STEPS)
        .flat_map(|i| [call(i, "execute"), call(i, "executed")])
        .collect()
}
