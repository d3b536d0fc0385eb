//! Clashes between concurrent transactions are `StoreError::Conflict` (the
//! API's 409), not an anonymous database error (its 500).

mod common;
use common::backends;

use neutrino_store::locks::{self, Lock, Table};
use neutrino_store::{Db, StoreError, dispatch};

async fn router(db: &Db, id: &str) {
    let mut tx = db.begin().await.expect("begin");
    dispatch!(tx.conn(), c => sqlx::query(
        "INSERT INTO routers (id, project_id, admin_state_up, status, enable_snat, revision_number, created_at, updated_at) \
         VALUES ($1, 'p', TRUE, 'ACTIVE', TRUE, 0, 'now', 'now')")
        .bind(id).execute(&mut *c).await.map(|_| ()))
    .expect("insert router");
    tx.commit().await.expect("commit");
}

/// A row referencing one that is gone (deleted under a READ COMMITTED
/// check) is a conflict on both backends.
#[tokio::test]
async fn foreign_key_violation_is_a_conflict() {
    for (db, _dir) in backends().await {
        let mut tx = db.begin().await.expect("begin");
        let err: StoreError = dispatch!(tx.conn(), c => sqlx::query(
            "INSERT INTO subnets (id, project_id, network_id, name, ip_version, cidr, gateway_ip, enable_dhcp, \
             revision_number, created_at, updated_at) \
             VALUES ('s', 'p', 'missing-network', '', 4, '10.0.0.0/24', NULL, TRUE, 0, 'now', 'now')")
            .execute(&mut *c).await.map(|_| ()))
        .expect_err("no such network")
        .into();
        assert!(err.is_conflict(), "[{}] {err:?}", db.backend_name());
    }
}

/// Two transactions locking two rows in opposite orders: PostgreSQL breaks
/// the deadlock and the loser's error is a conflict. (On SQLite the locks
/// are no-ops: its writer is exclusive.)
#[tokio::test]
async fn deadlock_is_a_conflict() {
    for (db, _dir) in backends().await {
        router(&db, "r1").await;
        router(&db, "r2").await;
        if db.backend_name() != "postgres" {
            let mut tx = db.begin().await.expect("begin");
            locks::row(&mut tx, Table::Routers, "r1", Lock::Update)
                .await
                .expect("no-op on SQLite");
            assert!(
                locks::exists(&mut tx, Table::Routers, "r2", Lock::Update)
                    .await
                    .expect("read")
            );
            assert!(
                !locks::exists(&mut tx, Table::Routers, "r3", Lock::Share)
                    .await
                    .expect("read")
            );
            continue;
        }
        let mut a = db.begin().await.expect("begin");
        let mut b = db.begin().await.expect("begin");
        locks::row(&mut a, Table::Routers, "r1", Lock::Update)
            .await
            .expect("a holds r1");
        locks::row(&mut b, Table::Routers, "r2", Lock::Update)
            .await
            .expect("b holds r2");
        let (ra, rb) = tokio::join!(
            locks::row(&mut a, Table::Routers, "r2", Lock::Update),
            locks::row(&mut b, Table::Routers, "r1", Lock::Share),
        );
        let errors: Vec<StoreError> = [ra, rb].into_iter().filter_map(Result::err).collect();
        assert_eq!(errors.len(), 1, "exactly one loser: {errors:?}");
        assert!(errors[0].is_conflict(), "{:?}", errors[0]);
    }
}
