//! One worker: forward runs, reverts, retries, and what the registry
//! refuses.

use std::time::Duration;

use futures::future::BoxFuture;
use neutrino_lbaas::engine::{
    EngineError, FlowDefinition, FlowSpec, FlowView, Registry, Step, StepError, StepIo,
};
use neutrino_store::{Db, StoreError, Tx, lb_flows};
use serde_json::{Value, json};

use crate::support::{
    self, STEPS, actions, call, calls, clean_forward, outcomes, resources, step_name,
};

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test]
async fn a_forward_run_executes_every_step_once_and_deletes_the_flow() {
    for backend in support::backends().await {
        let db = Db::connect(&backend.url).await.unwrap();
        let registry = support::registry();
        let id = support::start_flow(&db, &registry, json!({})).await;
        let stored = lb_flows::get(&db, &id).await.unwrap().expect("flow stored");
        assert_eq!(stored.steps, (0..STEPS).map(step_name).collect::<Vec<_>>());
        assert_eq!(
            (
                stored.cursor,
                stored.lease_expires,
                stored.lease_holder.as_str()
            ),
            (0, 0, "")
        );

        let worker = support::worker(&backend.url, "node-a", support::config("node-a")).await;
        let running = support::spawn_worker(worker);
        support::wait_until_no_flows(&db, WAIT).await;
        running.stop().await;

        let name = backend.name;
        assert_eq!(actions(&calls(&db, &id).await), clean_forward(), "{name}");
        assert_eq!(
            resources(&db, &id).await,
            ["s0", "s1", "s2", "s3"],
            "{name}"
        );
        assert_eq!(
            outcomes(&db, &id).await,
            [("finished".to_owned(), "node-a".to_owned())],
            "{name}"
        );
        assert_eq!(
            support::step_rows(&db).await,
            0,
            "{name}: step outputs deleted with the flow"
        );
    }
}

#[tokio::test]
async fn a_permanent_error_at_each_step_undoes_that_step_and_every_earlier_one_in_reverse() {
    for backend in support::backends().await {
        let db = Db::connect(&backend.url).await.unwrap();
        let registry = support::registry();
        let mut flows = Vec::new();
        for failing in 0..STEPS {
            let id = support::start_flow(&db, &registry, json!({"fail": step_name(failing)})).await;
            flows.push((failing, id));
        }
        let running = support::spawn_worker(
            support::worker(&backend.url, "node-a", support::config("node-a")).await,
        );
        support::wait_until_no_flows(&db, WAIT).await;
        running.stop().await;

        for (failing, id) in flows {
            let mut expected: Vec<_> = (0..failing)
                .flat_map(|i| [call(i, "execute"), call(i, "executed")])
                .collect();
            // The failing step got as far as creating its resource.
            expected.push(call(failing, "execute"));
            expected.extend((0..=failing).rev().map(|i| call(i, "undo")));
            let name = backend.name;
            assert_eq!(
                actions(&calls(&db, &id).await),
                expected,
                "{name}: failing at s{failing}"
            );
            assert!(
                resources(&db, &id).await.is_empty(),
                "{name}: every side effect undone"
            );
            assert_eq!(
                outcomes(&db, &id).await,
                [("reverted".to_owned(), "node-a".to_owned())],
                "{name}"
            );
        }
        assert_eq!(support::step_rows(&db).await, 0);
    }
}

#[tokio::test]
async fn transient_errors_are_retried_with_backoff_until_the_attempt_budget() {
    for backend in support::backends().await {
        let db = Db::connect(&backend.url).await.unwrap();
        let registry = support::registry();
        // Two failures fit in the default budget of three attempts.
        let recovers = support::start_flow(&db, &registry, json!({"transient": {"s1": 2}})).await;
        // Five do not: the third failure counts as permanent.
        let gives_up = support::start_flow(&db, &registry, json!({"transient": {"s2": 5}})).await;
        // Undos are retried for as long as it takes.
        let undo_retries = support::start_flow(
            &db,
            &registry,
            json!({"fail": "s1", "undo_transient": {"s0": 4}}),
        )
        .await;
        let running = support::spawn_worker(
            support::worker(&backend.url, "node-a", support::config("node-a")).await,
        );
        support::wait_until_no_flows(&db, WAIT).await;
        running.stop().await;
        let name = backend.name;

        let c = calls(&db, &recovers).await;
        let s1: Vec<_> = c
            .iter()
            .filter(|(s, a, _)| s == "s1" && a == "execute")
            .map(|(_, _, n)| *n)
            .collect();
        assert_eq!(s1, [0, 1, 2], "{name}: attempts of s1");
        assert_eq!(outcomes(&db, &recovers).await[0].0, "finished", "{name}");
        assert_eq!(resources(&db, &recovers).await.len(), STEPS, "{name}");
        // The retry waits out its backoff: 50 ms * 2^1, then 50 ms * 2^2.
        let times: Vec<i64> = support::call_times(&db, &recovers)
            .await
            .into_iter()
            .filter(|(s, a, _)| s == "s1" && a == "execute")
            .map(|(_, _, t)| t)
            .collect();
        assert!(
            times[1] - times[0] >= 100,
            "{name}: first backoff {:?}",
            times
        );
        assert!(
            times[2] - times[1] >= 200,
            "{name}: second backoff {:?}",
            times
        );

        let mut expected = vec![
            call(0, "execute"),
            call(0, "executed"),
            call(1, "execute"),
            call(1, "executed"),
        ];
        expected.extend([call(2, "execute"), call(2, "execute"), call(2, "execute")]);
        expected.extend([call(2, "undo"), call(1, "undo"), call(0, "undo")]);
        assert_eq!(actions(&calls(&db, &gives_up).await), expected, "{name}");
        assert_eq!(outcomes(&db, &gives_up).await[0].0, "reverted", "{name}");

        let c = calls(&db, &undo_retries).await;
        let s0_undos: Vec<_> = c
            .iter()
            .filter(|(s, a, _)| s == "s0" && a == "undo")
            .map(|(_, _, n)| *n)
            .collect();
        assert_eq!(s0_undos, [0, 1, 2, 3, 4], "{name}: undo attempts of s0");
        assert!(resources(&db, &undo_retries).await.is_empty(), "{name}");
        assert_eq!(
            outcomes(&db, &undo_retries).await[0].0,
            "reverted",
            "{name}"
        );
    }
}

#[tokio::test]
async fn injected_errors_revert_before_or_after_the_side_effect() {
    use neutrino_lbaas::engine::Faults;
    for backend in support::backends().await {
        let db = Db::connect(&backend.url).await.unwrap();
        let registry = support::registry();
        let faults = Faults::parse("test_flow:s2:before:error").unwrap();
        let before = support::start_flow(&db, &registry, json!({})).await;
        let worker = support::worker(&backend.url, "node-a", support::config("node-a"))
            .await
            .with_faults(faults);
        let running = support::spawn_worker(worker);
        support::wait_until_no_flows(&db, WAIT).await;
        running.stop().await;
        let mut expected = vec![
            call(0, "execute"),
            call(0, "executed"),
            call(1, "execute"),
            call(1, "executed"),
        ];
        // s2 never ran, but its undo is still asked (it might have half-run).
        expected.extend([call(2, "undo"), call(1, "undo"), call(0, "undo")]);
        assert_eq!(
            actions(&calls(&db, &before).await),
            expected,
            "{}",
            backend.name
        );
        assert_eq!(outcomes(&db, &before).await[0].0, "reverted");

        let faults = Faults::parse("test_flow:s2:after:error").unwrap();
        let after = support::start_flow(&db, &registry, json!({})).await;
        let worker = support::worker(&backend.url, "node-a", support::config("node-a"))
            .await
            .with_faults(faults);
        let running = support::spawn_worker(worker);
        support::wait_until_no_flows(&db, WAIT).await;
        running.stop().await;
        let mut expected: Vec<_> = (0..3)
            .flat_map(|i| [call(i, "execute"), call(i, "executed")])
            .collect();
        expected.extend([call(2, "undo"), call(1, "undo"), call(0, "undo")]);
        assert_eq!(
            actions(&calls(&db, &after).await),
            expected,
            "{}",
            backend.name
        );
        assert!(
            resources(&db, &after).await.is_empty(),
            "s2's side effect undone too"
        );
        assert_eq!(outcomes(&db, &after).await[0].0, "reverted");
    }
}

#[tokio::test]
async fn a_flow_whose_steps_changed_is_parked_not_run() {
    let backend = support::sqlite().await;
    let db = Db::connect(&backend.url).await.unwrap();
    let old_steps = vec!["s0".to_owned(), "gone".to_owned()];
    let mut tx = db.begin().await.unwrap();
    lb_flows::insert(
        &mut tx,
        &lb_flows::NewFlow {
            id: "f-old",
            kind: support::KIND,
            lb_id: None,
            object_type: "test",
            object_id: "x",
            steps: &old_steps,
            input: &json!({}),
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let running = support::spawn_worker(
        support::worker(&backend.url, "node-a", support::config("node-a")).await,
    );
    let deadline = std::time::Instant::now() + WAIT;
    let flow = loop {
        let flow = lb_flows::get(&db, "f-old")
            .await
            .unwrap()
            .expect("flow kept");
        if flow.attempt > 0 || std::time::Instant::now() > deadline {
            break flow;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    running.stop().await;
    assert_eq!(
        flow.last_error.as_deref(),
        Some(
            r#"flow kind "test_flow" now defines steps ["s0", "s1", "s2", "s3"], the flow was created with ["s0", "gone"]"#
        )
    );
    assert_eq!((flow.cursor, flow.lease_holder.as_str()), (0, ""));
    assert!(calls(&db, "f-old").await.is_empty(), "no step ran");
}

struct Named(&'static str);

impl Step<()> for Named {
    fn name(&self) -> &str {
        self.0
    }
    fn execute<'a>(&'a self, _: &'a (), _: StepIo<'a>) -> BoxFuture<'a, Result<Value, StepError>> {
        Box::pin(async { Ok(Value::Null) })
    }
    fn undo<'a>(&'a self, _: &'a (), _: StepIo<'a>) -> BoxFuture<'a, Result<(), StepError>> {
        Box::pin(async { Ok(()) })
    }
}

struct Def(&'static str, Vec<Box<dyn Step<()>>>);

impl FlowDefinition<()> for Def {
    fn kind(&self) -> &str {
        self.0
    }
    fn steps(&self) -> &[Box<dyn Step<()>>] {
        &self.1
    }
    fn on_finish<'a>(
        &'a self,
        _: &'a (),
        _: &'a mut Tx,
        _: FlowView<'a>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async { Ok(()) })
    }
    fn on_revert<'a>(
        &'a self,
        _: &'a (),
        _: &'a mut Tx,
        _: FlowView<'a>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async { Ok(()) })
    }
}

#[tokio::test]
async fn the_registry_refuses_ambiguity_and_one_flow_per_load_balancer_holds() {
    let mut r = Registry::new();
    r.register(Def("a", vec![Box::new(Named("x")), Box::new(Named("y"))]))
        .unwrap();
    assert_eq!(
        r.step_names("a"),
        Some(vec!["x".to_owned(), "y".to_owned()])
    );
    let e = r.register(Def("a", vec![])).unwrap_err();
    assert!(
        matches!(&e, EngineError::DuplicateKind(k) if k == "a"),
        "{e:?}"
    );
    let e = r
        .register(Def("b", vec![Box::new(Named("x")), Box::new(Named("x"))]))
        .unwrap_err();
    assert_eq!(e.to_string(), r#"flow kind "b" names step "x" twice"#);
    assert!(
        r.get("b").is_none(),
        "a refused definition is not registered"
    );

    for backend in support::backends().await {
        let db = Db::connect(&backend.url).await.unwrap();
        let spec = |kind: &str, lb: Option<&str>| FlowSpec {
            kind: kind.to_owned(),
            lb_id: lb.map(str::to_owned),
            object_type: "loadbalancer".to_owned(),
            object_id: "lb-1".to_owned(),
            input: json!({"k": [1, 2]}),
        };
        let mut tx = db.begin().await.unwrap();
        let e = r.insert(&mut tx, &spec("nope", None)).await.unwrap_err();
        assert_eq!(e.to_string(), r#"no flow definition for kind "nope""#);
        let first = r.insert(&mut tx, &spec("a", Some("lb-1"))).await.unwrap();
        // Flows without a load balancer never collide.
        r.insert(&mut tx, &spec("a", None)).await.unwrap();
        r.insert(&mut tx, &spec("a", None)).await.unwrap();
        tx.commit().await.unwrap();

        let mut tx = db.begin().await.unwrap();
        let e = r
            .insert(&mut tx, &spec("a", Some("lb-1")))
            .await
            .unwrap_err();
        assert!(
            matches!(&e, EngineError::Store(s) if s.is_unique_violation()),
            "{}: {e:?}",
            backend.name
        );
        drop(tx);
        let flows = lb_flows::list(&db).await.unwrap();
        assert_eq!(flows.len(), 3, "{}", backend.name);
        let stored = lb_flows::get(&db, &first).await.unwrap().unwrap();
        assert_eq!(stored.input, json!({"k": [1, 2]}));
        assert_eq!(stored.lb_id.as_deref(), Some("lb-1"));
    }
}

#[tokio::test]
async fn a_wake_after_a_commit_starts_the_flow_without_waiting_for_the_poll() {
    let backend = support::sqlite().await;
    let db = Db::connect(&backend.url).await.unwrap();
    let config = neutrino_lbaas::engine::WorkerConfig {
        poll: Duration::from_secs(3600),
        ..support::config("node-a")
    };
    let worker = support::worker(&backend.url, "node-a", config).await;
    let waker = worker.waker();
    let running = support::spawn_worker(worker);
    // Let the worker find nothing and go to sleep for its hour-long poll.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let id = support::start_flow(&db, &support::registry(), json!({})).await;
    waker.wake();
    support::wait_until_no_flows(&db, Duration::from_secs(10)).await;
    running.stop().await;
    assert_eq!(outcomes(&db, &id).await[0].0, "finished");
}
