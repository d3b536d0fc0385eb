//! `lb_flows` on both backends: who may claim a flow, and that every write
//! moving a flow on is refused to a worker that lost its lease.

mod common;
use common::backends;

use neutrino_store::lb_flows::{self, Claim, Direction, NewFlow};
use neutrino_store::{Db, dispatch};
use serde_json::json;

async fn insert(db: &Db, id: &str, lb: Option<&str>) {
    let steps = vec!["a".to_owned(), "b".to_owned()];
    let mut tx = db.begin().await.unwrap();
    lb_flows::insert(
        &mut tx,
        &NewFlow {
            id,
            kind: "k",
            lb_id: lb,
            object_type: "loadbalancer",
            object_id: "o",
            steps: &steps,
            input: &json!({"ids": ["x"]}),
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

fn claim<'a>(holder: &'a str, now: i64) -> Claim<'a> {
    Claim {
        holder,
        takeover_prefix: "",
        own_prefix: "",
        now,
        until: now + 1000,
    }
}

#[tokio::test]
async fn a_claim_takes_only_due_flows_oldest_first() {
    for (db, _dir) in backends().await {
        let name = db.backend_name();
        assert!(
            lb_flows::claim(&db, &claim("w1", 10))
                .await
                .unwrap()
                .is_none(),
            "{name}: nothing to claim"
        );
        insert(&db, "f1", Some("lb-1")).await;
        let got = lb_flows::claim(&db, &claim("w1", 10))
            .await
            .unwrap()
            .expect("new flows are due");
        assert_eq!(got.flow.id, "f1");
        assert_eq!(
            (got.flow.direction, got.flow.cursor, got.flow.lease_expires),
            (Direction::Forward, 0, 1010)
        );
        assert_eq!(got.flow.input, json!({"ids": ["x"]}));
        assert!(got.outputs.is_empty());
        // Held until 1010: nobody else gets it before.
        assert!(
            lb_flows::claim(&db, &claim("w2", 1009))
                .await
                .unwrap()
                .is_none(),
            "{name}"
        );
        let again = lb_flows::claim(&db, &claim("w2", 1011))
            .await
            .unwrap()
            .expect("expired");
        assert_eq!(again.flow.lease_holder, "w2");
    }
}

#[tokio::test]
async fn a_worker_that_lost_its_lease_can_write_nothing() {
    for (db, _dir) in backends().await {
        let name = db.backend_name();
        insert(&db, "f1", None).await;
        lb_flows::claim(&db, &claim("w1", 10))
            .await
            .unwrap()
            .unwrap();
        assert!(
            lb_flows::record_step(&db, "f1", "w1", 0, &json!({"port": "p"}), 2000)
                .await
                .unwrap()
        );
        // w2 takes the flow over after w1's lease expired.
        let taken = lb_flows::claim(&db, &claim("w2", 5000))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            taken.outputs,
            [(0, json!({"port": "p"}))],
            "{name}: outputs travel with the flow"
        );
        assert_eq!(taken.flow.cursor, 1);

        assert!(
            !lb_flows::record_step(&db, "f1", "w1", 1, &json!(1), 9000)
                .await
                .unwrap(),
            "{name}"
        );
        assert!(
            !lb_flows::start_revert(&db, "f1", "w1", 1, "boom", 9000)
                .await
                .unwrap(),
            "{name}"
        );
        assert!(
            !lb_flows::renew(&db, "f1", "w1", 9000).await.unwrap(),
            "{name}"
        );
        assert!(
            !lb_flows::retry_later(&db, "f1", "w1", "later", 9000)
                .await
                .unwrap(),
            "{name}"
        );
        assert!(
            !lb_flows::release(&db, "f1", "w1", 0).await.unwrap(),
            "{name}"
        );
        let mut tx = db.begin().await.unwrap();
        assert!(
            !lb_flows::finish(&mut tx, "f1", "w1").await.unwrap(),
            "{name}"
        );
        tx.commit().await.unwrap();

        let flow = lb_flows::get(&db, "f1").await.unwrap().expect("untouched");
        assert_eq!(
            (
                flow.lease_holder.as_str(),
                flow.lease_expires,
                flow.cursor,
                flow.direction,
                flow.attempt,
                flow.last_error
            ),
            ("w2", 6000, 1, Direction::Forward, 0, None),
            "{name}"
        );
        assert_eq!(
            lb_flows::outputs(&db, "f1").await.unwrap().len(),
            1,
            "{name}"
        );
    }
}

#[tokio::test]
async fn the_holder_moves_a_flow_through_retry_revert_and_finish() {
    for (db, _dir) in backends().await {
        let name = db.backend_name();
        insert(&db, "f1", Some("lb-1")).await;
        lb_flows::claim(&db, &claim("w1", 10))
            .await
            .unwrap()
            .unwrap();
        assert!(
            lb_flows::record_step(&db, "f1", "w1", 0, &json!("out-a"), 100)
                .await
                .unwrap()
        );
        // Recording the same step twice (a replay) is refused: the cursor moved.
        assert!(
            !lb_flows::record_step(&db, "f1", "w1", 0, &json!("other"), 100)
                .await
                .unwrap(),
            "{name}"
        );

        assert!(
            lb_flows::retry_later(&db, "f1", "w1", "b: unreachable", 700)
                .await
                .unwrap()
        );
        let flow = lb_flows::get(&db, "f1").await.unwrap().unwrap();
        assert_eq!(
            (flow.lease_holder.as_str(), flow.lease_expires, flow.attempt),
            ("", 700, 1)
        );
        assert_eq!(flow.last_error.as_deref(), Some("b: unreachable"));
        assert!(
            lb_flows::claim(&db, &claim("w1", 699))
                .await
                .unwrap()
                .is_none(),
            "{name}: backoff respected"
        );
        lb_flows::claim(&db, &claim("w1", 701))
            .await
            .unwrap()
            .expect("due after the backoff");

        assert!(
            lb_flows::start_revert(&db, "f1", "w1", 1, "b: refused", 2000)
                .await
                .unwrap()
        );
        let flow = lb_flows::get(&db, "f1").await.unwrap().unwrap();
        assert_eq!(
            (flow.direction, flow.cursor, flow.attempt),
            (Direction::Revert, 1, 0),
            "{name}"
        );
        assert!(
            !lb_flows::record_undo(&db, "f1", "w1", 0, 2000)
                .await
                .unwrap(),
            "{name}: undo at the cursor only"
        );
        assert!(
            lb_flows::record_undo(&db, "f1", "w1", 1, 2000)
                .await
                .unwrap()
        );
        assert!(
            lb_flows::record_undo(&db, "f1", "w1", 0, 2000)
                .await
                .unwrap()
        );
        assert_eq!(lb_flows::get(&db, "f1").await.unwrap().unwrap().cursor, -1);

        let mut tx = db.begin().await.unwrap();
        assert!(lb_flows::finish(&mut tx, "f1", "w1").await.unwrap());
        tx.commit().await.unwrap();
        assert!(lb_flows::list(&db).await.unwrap().is_empty(), "{name}");
        let steps: i64 = dispatch!(db.read(), c => sqlx::query_scalar("SELECT COUNT(*) FROM lb_flow_steps").fetch_one(c).await).unwrap();
        assert_eq!(steps, 0, "{name}: outputs deleted with the flow");
        // The load balancer is free for its next flow.
        insert(&db, "f2", Some("lb-1")).await;
    }
}

#[tokio::test]
async fn a_restarted_server_takes_over_its_previous_incarnations_leases_only() {
    for (db, _dir) in backends().await {
        let name = db.backend_name();
        insert(&db, "old-boot", None).await;
        insert(&db, "other-node", None).await;
        insert(&db, "this-boot", None).await;
        // Claimed in creation order, leases far in the future.
        for holder in ["node-a/boot1/0", "node-b/boot1/0", "node-a/boot2/0"] {
            let c = Claim {
                until: 1_000_000,
                ..claim(holder, 10)
            };
            lb_flows::claim(&db, &c).await.unwrap().unwrap();
        }
        let restart = Claim {
            holder: "node-a/boot2/1",
            takeover_prefix: "node-a/",
            own_prefix: "node-a/boot2/",
            now: 20,
            until: 2000,
        };
        let got = lb_flows::claim(&db, &restart)
            .await
            .unwrap()
            .expect("old boot's lease");
        assert_eq!(got.flow.id, "old-boot", "{name}");
        assert!(
            lb_flows::claim(&db, &restart).await.unwrap().is_none(),
            "{name}: not another node's, not this boot's"
        );
    }
}

#[tokio::test]
async fn concurrent_postgres_claims_each_take_a_different_flow() {
    let Some(url) = neutrino_testkit::postgres_database_or_skip().await.unwrap() else {
        return;
    };
    let db = Db::connect(&url).await.unwrap();
    db.migrate().await.unwrap();
    for i in 0..20 {
        insert(&db, &format!("f{i:02}"), None).await;
    }
    let claims = (0..20).map(|i| {
        let db = db.clone();
        tokio::spawn(async move {
            let holder = format!("w{i}");
            lb_flows::claim(&db, &claim(&holder, 10))
                .await
                .unwrap()
                .map(|c| c.flow.id)
        })
    });
    let mut got: Vec<String> = futures_join(claims).await.into_iter().flatten().collect();
    got.sort();
    let all: Vec<String> = (0..20).map(|i| format!("f{i:02}")).collect();
    assert_eq!(got, all, "twenty claimers, twenty distinct flows");
}

async fn futures_join<T>(handles: impl Iterator<Item = tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::new();
    for h in handles.collect::<Vec<_>>() {
        out.push(h.await.unwrap());
    }
    out
}
