//! Leases: two servers never run one flow at once, a worker that lost its
//! lease writes nothing more, and a stopping worker hands its flows back.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use neutrino_store::{Db, lb_flows};
use serde_json::json;

use crate::support::{self, STEPS, actions, calls, clean_forward, outcomes, resources};

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test]
async fn two_servers_never_run_the_same_flow_at_once_and_every_flow_runs_once() {
    for backend in support::backends().await {
        let db = Db::connect(&backend.url).await.unwrap();
        let registry = support::registry();
        let mut flows = Vec::new();
        for _ in 0..16 {
            flows.push(
                support::start_flow(&db, &registry, json!({"exclusive": true, "sleep_ms": 20}))
                    .await,
            );
        }
        // Two workers, each on its own connection: two servers.
        let a = support::spawn_worker(
            support::worker(&backend.url, "node-a", support::config("node-a")).await,
        );
        let b = support::spawn_worker(
            support::worker(&backend.url, "node-b", support::config("node-b")).await,
        );
        support::wait_until_no_flows(&db, WAIT).await;
        a.stop().await;
        b.stop().await;

        let mut ran_on = BTreeSet::new();
        for id in &flows {
            let name = backend.name;
            assert_eq!(
                actions(&calls(&db, id).await),
                clean_forward(),
                "{name}: flow {id}"
            );
            assert_eq!(resources(&db, id).await.len(), STEPS, "{name}");
            let done = outcomes(&db, id).await;
            assert_eq!(done.len(), 1, "{name}: finished exactly once: {done:?}");
            assert_eq!(done[0].0, "finished");
            ran_on.insert(done[0].1.clone());
        }
        assert_eq!(
            ran_on,
            BTreeSet::from(["node-a".to_owned(), "node-b".to_owned()]),
            "{}: both servers took flows",
            backend.name
        );
    }
}

/// Waits for a call of `flow` matching `step`/`action`.
async fn wait_for_call(db: &Db, flow: &str, step: &str, action: &str) {
    let deadline = Instant::now() + WAIT;
    while !calls(db, flow)
        .await
        .iter()
        .any(|(s, a, _)| s == step && a == action)
    {
        assert!(
            Instant::now() < deadline,
            "no {action} of {step}: {:?} {:?}",
            calls(db, flow).await,
            lb_flows::get(db, flow).await
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_worker_that_lost_its_lease_records_nothing_and_goes_no_further() {
    for backend in support::backends().await {
        let db = Db::connect(&backend.url).await.unwrap();
        let registry = support::registry();
        // Each step takes 1.5 s; the worker renews every 300 ms.
        let id = support::start_flow(&db, &registry, json!({"sleep_ms": 1500})).await;
        let running = support::spawn_worker(
            support::worker(&backend.url, "node-a", support::config("node-a")).await,
        );
        wait_for_call(&db, &id, "s1", "execute").await;

        // Another server takes the flow (as if node-a had stalled past
        // its lease): a claim from far in the future.
        let now = support::now_ms() + 60_000;
        let thief = lb_flows::claim(
            &db,
            &lb_flows::Claim {
                holder: "node-b/1",
                takeover_prefix: "",
                own_prefix: "",
                now,
                until: now + 60_000,
            },
        )
        .await
        .unwrap()
        .expect("the flow is due for a claimer 60 s ahead");
        assert_eq!(
            (thief.flow.id.as_str(), thief.flow.cursor),
            (id.as_str(), 1)
        );
        assert_eq!(thief.outputs, [(0, json!({"n": 0}))]);

        // node-a notices at its next renewal; it lets the step finish (a
        // step is never cut off) but records nothing and stops there.
        wait_for_call(&db, &id, "s1", "executed").await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        running.stop().await;
        let flow = lb_flows::get(&db, &id)
            .await
            .unwrap()
            .expect("flow still there");
        assert_eq!(
            (flow.lease_holder.as_str(), flow.cursor),
            ("node-b/1", 1),
            "{}",
            backend.name
        );
        assert_eq!(
            lb_flows::outputs(&db, &id).await.unwrap().len(),
            1,
            "no output recorded for s1"
        );
        let c = actions(&calls(&db, &id).await);
        assert!(
            !c.iter().any(|(s, _)| s == "s2"),
            "{}: node-a went no further: {c:?}",
            backend.name
        );
        assert!(outcomes(&db, &id).await.is_empty());
    }
}

#[tokio::test]
async fn a_stopping_worker_hands_its_flow_back_and_another_finishes_it_at_once() {
    for backend in support::backends().await {
        let db = Db::connect(&backend.url).await.unwrap();
        let registry = support::registry();
        let id = support::start_flow(&db, &registry, json!({"sleep_ms": 300})).await;
        // node-a holds leases for a minute: only the hand-back lets
        // node-b in quickly.
        let long = neutrino_lbaas::engine::WorkerConfig {
            lease: Duration::from_secs(60),
            ..support::config("node-a")
        };
        let a = support::spawn_worker(support::worker(&backend.url, "node-a", long).await);
        wait_for_call(&db, &id, "s1", "execute").await;
        a.stop().await;
        let flow = lb_flows::get(&db, &id).await.unwrap().expect("flow kept");
        assert_eq!(
            (flow.lease_holder.as_str(), flow.lease_expires),
            ("", 0),
            "{}",
            backend.name
        );

        let started = Instant::now();
        let b = support::spawn_worker(
            support::worker(&backend.url, "node-b", support::config("node-b")).await,
        );
        support::wait_until_no_flows(&db, WAIT).await;
        b.stop().await;
        assert!(started.elapsed() < Duration::from_secs(10));
        assert_eq!(
            outcomes(&db, &id).await,
            [("finished".to_owned(), "node-b".to_owned())]
        );
        // s1 was cut off and ran again in full: the step allows it.
        assert_eq!(resources(&db, &id).await.len(), STEPS);
    }
}

#[tokio::test]
async fn a_step_holding_the_sqlite_writer_does_not_starve_its_own_lease_renewal() {
    // Renewals run every 300 ms while each step holds the one SQLite
    // writer for 800 ms. A renewal awaited with the step unpolled would
    // wait for that writer forever (until the writer's 60 s timeout).
    let backend = support::sqlite().await;
    let db = Db::connect(&backend.url).await.unwrap();
    let id = support::start_flow(&db, &support::registry(), json!({"hold_tx_ms": 800})).await;
    let started = Instant::now();
    let a = support::spawn_worker(
        support::worker(&backend.url, "node-a", support::config("node-a")).await,
    );
    support::wait_until_no_flows(&db, Duration::from_secs(15)).await;
    a.stop().await;
    assert!(started.elapsed() < Duration::from_secs(15));
    assert_eq!(
        actions(&calls(&db, &id).await),
        clean_forward(),
        "no step cut off by a lost lease"
    );
    assert_eq!(
        outcomes(&db, &id).await,
        [("finished".to_owned(), "node-a".to_owned())]
    );
}
