//! kill at every step: a child process (this test binary, re-executed on
//! [`child`]) runs a worker that aborts at a chosen point through fault
//! injection; then a fresh worker resumes the flow. It must complete or
//! unwind, leave no flow row, and repeat no side effect beyond what the
//! steps' look-before-create allows.

use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use neutrino_lbaas::engine::{FAULT_ENV, Faults, Worker, WorkerConfig};
use neutrino_store::Db;
use neutrino_store::lb_flows::{self, Direction};
use serde_json::json;

use crate::support::{self, Backend, STEPS, TestCtx, calls, outcomes, resources, step_name};

const CHILD_DB: &str = "LBAAS_CRASH_CHILD_DB";
const CHILD_INSTANCE: &str = "LBAAS_CRASH_CHILD_INSTANCE";
const CHILD_LEASE_MS: &str = "LBAAS_CRASH_CHILD_LEASE_MS";
const SIGABRT: i32 = 6;

/// The child's side: does nothing unless started by [`run_case`].
#[tokio::test]
async fn child() {
    let Ok(url) = std::env::var(CHILD_DB) else {
        return;
    };
    let faults = Faults::from_env().expect("valid fault spec");
    let instance = std::env::var(CHILD_INSTANCE).expect("instance");
    let lease_ms: u64 = std::env::var(CHILD_LEASE_MS)
        .expect("lease")
        .parse()
        .expect("ms");
    let db = Db::connect(&url).await.expect("connect");
    let ctx = TestCtx {
        db: db.clone(),
        worker: instance.clone(),
    };
    let config = WorkerConfig {
        lease: Duration::from_millis(lease_ms),
        ..support::config(&instance)
    };
    let worker =
        Worker::new(db.clone(), support::registry(), Arc::new(ctx), config).with_faults(faults);
    let _running = support::spawn_worker(worker);
    // Only reached if the fault never fired: the parent sees a clean exit.
    support::wait_until_no_flows(&db, Duration::from_secs(20)).await;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Point {
    Before,
    After,
    BeforeUndo,
    AfterUndo,
}

impl Point {
    fn spec(self) -> &'static str {
        match self {
            Point::Before => "before",
            Point::After => "after",
            Point::BeforeUndo => "before_undo",
            Point::AfterUndo => "after_undo",
        }
    }

    fn reverting(self) -> bool {
        matches!(self, Point::BeforeUndo | Point::AfterUndo)
    }

    /// Half the cases resume on a server with the child's name and a long
    /// lease (only the takeover of a previous incarnation lets it in
    /// quickly), half on another server once the child's 1 s lease expired.
    fn resumes_as_same_instance(self) -> bool {
        matches!(self, Point::Before | Point::BeforeUndo)
    }
}

async fn run_case(backend: Backend, step: usize, point: Point) {
    let label = format!("{} crash {} s{step}", backend.name, point.spec());
    let db = Db::connect(&backend.url).await.unwrap();
    let registry = support::registry();
    // Reverting cases fail at the last step, then crash on the way back.
    let input = if point.reverting() {
        json!({"fail": step_name(STEPS - 1)})
    } else {
        json!({})
    };
    let id = support::start_flow(&db, &registry, input).await;

    let same = point.resumes_as_same_instance();
    let child_lease_ms = if same { 60_000 } else { 1_000 };
    let mut child = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args(["crash::child", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_DB, &backend.url)
        .env(CHILD_INSTANCE, "crash-node")
        .env(CHILD_LEASE_MS, child_lease_ms.to_string())
        .env(
            FAULT_ENV,
            format!(
                "{}:{}:{}:crash",
                support::KIND,
                step_name(step),
                point.spec()
            ),
        )
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn child");
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap_or_else(|_| panic!("{label}: child did not crash within 30 s"))
        .unwrap();
    assert_eq!(
        status.signal(),
        Some(SIGABRT),
        "{label}: child aborted ({status:?})"
    );

    // What the crash left: the cursor at the step, its side effect there
    // or not depending on the point.
    let left = lb_flows::get(&db, &id)
        .await
        .unwrap()
        .expect("flow survives the crash");
    assert_eq!(left.cursor, step as i64, "{label}");
    assert_eq!(
        left.direction,
        if point.reverting() {
            Direction::Revert
        } else {
            Direction::Forward
        },
        "{label}"
    );
    let has_effect = resources(&db, &id).await.contains(&step_name(step));
    let expect_effect = matches!(point, Point::After | Point::BeforeUndo);
    assert_eq!(
        has_effect, expect_effect,
        "{label}: side effect of the step at the crash"
    );

    let started = Instant::now();
    let instance = if same { "crash-node" } else { "other-node" };
    let running = support::spawn_worker(
        support::worker(&backend.url, instance, support::config(instance)).await,
    );
    support::wait_until_no_flows(&db, Duration::from_secs(20)).await;
    running.stop().await;
    if same {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{label}: took the old lease over at once"
        );
    }

    let c = calls(&db, &id).await;
    let count = |s: usize, action: &str| {
        c.iter()
            .filter(|(n, a, _)| *n == step_name(s) && a == action)
            .count()
    };
    if point.reverting() {
        for s in 0..STEPS {
            // The crashed undo ran again unless it crashed before starting.
            let expected = if s == step && point == Point::AfterUndo {
                2
            } else {
                1
            };
            assert_eq!(count(s, "undo"), expected, "{label}: undos of s{s}: {c:?}");
            assert_eq!(count(s, "execute"), 1, "{label}: executions of s{s}");
        }
        assert!(
            resources(&db, &id).await.is_empty(),
            "{label}: nothing left"
        );
        assert_eq!(outcomes(&db, &id).await.len(), 1, "{label}");
        assert_eq!(outcomes(&db, &id).await[0].0, "reverted", "{label}");
    } else {
        for s in 0..STEPS {
            let expected = if s == step && point == Point::After {
                2
            } else {
                1
            };
            assert_eq!(
                count(s, "execute"),
                expected,
                "{label}: executions of s{s}: {c:?}"
            );
            assert_eq!(count(s, "undo"), 0, "{label}");
        }
        // Exactly one resource per step, though one step may have run twice.
        let made = resources(&db, &id).await;
        assert_eq!(
            made,
            (0..STEPS).map(step_name).collect::<Vec<_>>(),
            "{label}"
        );
        assert_eq!(outcomes(&db, &id).await.len(), 1, "{label}");
        assert_eq!(outcomes(&db, &id).await[0].0, "finished", "{label}");
    }
    assert_eq!(support::step_rows(&db).await, 0, "{label}");
}

async fn every_case(postgres: bool) {
    let points = [
        Point::Before,
        Point::After,
        Point::BeforeUndo,
        Point::AfterUndo,
    ];
    let cases: Vec<(usize, Point)> = points
        .iter()
        .flat_map(|&p| (0..STEPS).map(move |s| (s, p)))
        .collect();
    let mut ran = futures::stream::iter(cases)
        .map(|(step, point)| async move {
            let backend = if postgres {
                support::postgres().await?
            } else {
                support::sqlite().await
            };
            run_case(backend, step, point).await;
            Some(())
        })
        .buffer_unordered(4);
    let mut n = 0;
    while let Some(done) = ran.next().await {
        n += usize::from(done.is_some());
    }
    assert!(n == 0 || n == 4 * STEPS, "{n} cases ran");
}

#[tokio::test]
async fn killed_at_every_step_a_sqlite_flow_resumes_or_unwinds() {
    every_case(false).await;
}

#[tokio::test]
async fn killed_at_every_step_a_postgres_flow_resumes_or_unwinds() {
    every_case(true).await;
}
