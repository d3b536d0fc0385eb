//! Seeding and flow control for the Load-balancer API tests: load
//! balancers made through the API and waited ACTIVE; rows written
//! straight into the store, so that a test depends only on the API it is
//! about; flows held back so that a test sees the statuses a request
//! leaves before the worker settles them; a log of every status change;
//! row counts and statuses read behind the API's back.

use axum::Router;
use neutrino_lb_api::{LbConfig, LbState};
use neutrino_lb_types::enums::{HealthMonitorType, OperatingStatus, Protocol};
use neutrino_lb_types::model::{
    HealthMonitor, L7Policy, L7Rule, Listener, LoadBalancer, Member, Pool, Quota,
};
use neutrino_lb_types::sample;
use neutrino_store::Db;
use neutrino_store::lb as store;
use serde_json::json;

use crate::support::{Cloud, network_on, send, send_json};

pub const LBS: &str = "/v2/lbaas/loadbalancers";

// --- SQL behind the API's back ---------------------------------------

/// Runs one statement on the writer.
pub async fn exec(db: &Db, sql: &str) {
    let mut tx = db.begin().await.expect("begin");
    let owned = sql.to_string();
    neutrino_store::dispatch!(tx.conn(), c => sqlx::query(sqlx::AssertSqlSafe(owned)).execute(&mut *c).await.map(|_| ()))
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    tx.commit().await.expect("commit");
}

/// The number a `SELECT COUNT(*) ...` answers.
pub async fn count(db: &Db, sql: &str) -> i64 {
    let sql = sql.to_string();
    neutrino_store::dispatch!(db.read(), c => sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql)).fetch_one(c).await)
        .expect("count")
}

/// The rows of `from`: a table, or a table and a `WHERE` clause.
pub async fn rows(db: &Db, from: &str) -> i64 {
    count(db, &format!("SELECT COUNT(*) FROM {from}")).await
}

/// The stored provisioning status of the row `id` of `table`.
pub async fn status_of(db: &Db, table: &str, id: &str) -> String {
    let sql = format!("SELECT provisioning_status FROM {table} WHERE id = '{id}'");
    neutrino_store::dispatch!(db.read(), c => sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql)).fetch_one(c).await)
        .unwrap_or_else(|e| panic!("status of {table} {id}: {e}"))
}

/// Sets an object's provisioning status behind the API's back.
pub async fn force_status(db: &Db, table: &str, id: &str, status: &str) {
    exec(
        db,
        &format!("UPDATE {table} SET provisioning_status = '{status}' WHERE id = '{id}'"),
    )
    .await;
}

/// Sets a project's quota.
pub async fn set_quota(db: &Db, project: &str, q: Quota) {
    let mut tx = db.begin().await.expect("begin");
    store::quotas::set(&mut tx, project, &q)
        .await
        .expect("quota");
    tx.commit().await.expect("commit");
}

/// Deletes a project's quota: the deployment's default applies again.
pub async fn reset_quota(db: &Db, project: &str) {
    let mut tx = db.begin().await.expect("begin");
    store::quotas::delete(&mut tx, project)
        .await
        .expect("reset");
    tx.commit().await.expect("commit");
}

impl Cloud {
    /// Asserts that `from` (a table, or a table and a `WHERE` clause)
    /// holds `want` rows.
    pub async fn assert_rows(&self, from: &str, want: i64) {
        assert_eq!(rows(&self.db, from).await, want, "{}: {from}", self.backend);
    }

    /// Asserts the stored provisioning status of each (table, id).
    pub async fn assert_statuses(&self, want: &str, objects: &[(&str, &str)]) {
        for (table, id) in objects {
            assert_eq!(
                status_of(&self.db, table, id).await,
                want,
                "{}: {table} {id}",
                self.backend
            );
        }
    }
}

// --- Rows written straight into the store -----------------------------

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// An ACTIVE load balancer without a VIP port.
pub fn lb_row(id: &str, project: &str) -> LoadBalancer {
    LoadBalancer {
        created_at: "2026-01-01T00:00:00".into(),
        ..sample::load_balancer(id, project)
    }
}

/// An ACTIVE listener without a default pool, named after its protocol.
pub fn listener_row(id: &str, project: &str, lb: &str, protocol: Protocol, port: i64) -> Listener {
    Listener {
        name: Some(format!("{protocol}")),
        created_at: store::now(),
        ..sample::listener(id, project, lb, protocol, port)
    }
}

/// An ACTIVE round-robin pool, named after its protocol.
pub fn pool_row(id: &str, project: &str, lb: &str, protocol: Protocol) -> Pool {
    Pool {
        name: Some(format!("{protocol}")),
        created_at: store::now(),
        ..sample::pool(id, project, lb, protocol)
    }
}

/// A row for [`seed`].
pub enum Row {
    Lb(LoadBalancer),
    Listener(Listener),
    Pool(Pool),
    Member(Member),
    Monitor(HealthMonitor),
    L7Policy(L7Policy),
    L7Rule(L7Rule),
}

/// Inserts `rows` in one transaction, in order.
pub async fn seed(db: &Db, rows: impl IntoIterator<Item = Row>) {
    let mut tx = db.begin().await.expect("begin");
    for row in rows {
        match row {
            Row::Lb(r) => store::load_balancers::insert(&mut tx, &r).await,
            Row::Listener(r) => store::listeners::insert(&mut tx, &r).await,
            Row::Pool(r) => store::pools::insert(&mut tx, &r).await,
            Row::Member(r) => store::members::insert(&mut tx, &r).await,
            Row::Monitor(r) => store::health_monitors::insert(&mut tx, &r).await,
            Row::L7Policy(r) => store::l7policies::insert(&mut tx, &r).await,
            Row::L7Rule(r) => store::l7rules::insert(&mut tx, &r).await,
        }
        .expect("insert");
    }
    tx.commit().await.expect("commit");
}

/// A pool of `protocol` on `lb`, ACTIVE, used by a new listener on
/// `listener_port` when given (of the pool's protocol if an LVS one, else
/// TCP). Returns (pool id, listener id).
pub async fn seed_pool(
    db: &Db,
    lb: &str,
    project: &str,
    protocol: Protocol,
    listener_port: Option<i64>,
) -> (String, Option<String>) {
    let pool = pool_row(&new_id(), project, lb, protocol);
    let listener = listener_port.map(|port| {
        let protocol = if protocol.is_lvs() {
            protocol
        } else {
            Protocol::Tcp
        };
        Listener {
            default_pool_id: Some(pool.id.clone()),
            ..listener_row(&new_id(), project, lb, protocol, port)
        }
    });
    let ids = (pool.id.clone(), listener.as_ref().map(|l| l.id.clone()));
    seed(
        db,
        [Row::Pool(pool)]
            .into_iter()
            .chain(listener.map(Row::Listener)),
    )
    .await;
    ids
}

/// A load balancer row (project "p-lb") using `flavor` and/or
/// availability zone `zone`.
pub async fn seed_lb_using(db: &Db, id: &str, flavor: Option<&str>, zone: Option<&str>) {
    let lb = LoadBalancer {
        operating_status: OperatingStatus::Online,
        flavor_id: flavor.map(str::to_string),
        availability_zone: zone.map(str::to_string),
        ..lb_row(id, "p-lb")
    };
    seed(db, [Row::Lb(lb)]).await;
}

/// An ACTIVE L7 policy of `listener` (REJECT, or redirecting to
/// `redirect_pool`); returns its id.
pub async fn seed_l7policy(db: &Db, listener: &str, redirect_pool: Option<&str>) -> String {
    let project = store::listeners::get(db, listener)
        .await
        .expect("read")
        .expect("listener")
        .project_id;
    let p = L7Policy {
        tags: vec!["t".into()],
        created_at: store::now(),
        ..sample::l7policy(&new_id(), &project, listener, redirect_pool, 1)
    };
    let id = p.id.clone();
    seed(db, [Row::L7Policy(p)]).await;
    id
}

/// A member (tagged "m") and a TCP health monitor of `pool`; returns
/// their ids.
pub async fn seed_member_and_monitor(db: &Db, pool: &str, project: &str) -> (String, String) {
    let member = Member {
        tags: vec!["m".into()],
        created_at: store::now(),
        ..sample::member(&new_id(), project, pool, "10.9.9.9", 80)
    };
    let hm = HealthMonitor {
        created_at: store::now(),
        ..sample::health_monitor(&new_id(), project, pool, HealthMonitorType::Tcp)
    };
    let ids = (member.id.clone(), hm.id.clone());
    seed(db, [Row::Member(member), Row::Monitor(hm)]).await;
    ids
}

// --- Load balancers through the API ---------------------------------

/// A load balancer made through the API and waited ACTIVE.
pub struct Lb {
    pub id: String,
    pub project: String,
    pub vip: String,
    pub vip_port: String,
    pub subnet: String,
    /// Its path in the API.
    pub path: String,
}

/// A load balancer of `token`'s on a new subnet `cidr` (made through the
/// cloud's Network API), waited ACTIVE.
pub async fn active_lb(cloud: &Cloud, app: &Router, token: &str, cidr: &str) -> Lb {
    active_lb_via(cloud, app, &cloud.net, token, cidr).await
}

/// [`active_lb`] with the network made through `net`.
pub async fn active_lb_via(
    cloud: &Cloud,
    app: &Router,
    net: &Router,
    token: &str,
    cidr: &str,
) -> Lb {
    let (_, subnet) = network_on(net, token, cidr).await;
    let a = send_json(
        app,
        "POST",
        LBS,
        Some(token),
        json!({"loadbalancer": {"vip_subnet_id": subnet}}),
    )
    .await;
    assert_eq!(a.status, 201, "{}: {}", cloud.backend, a.body);
    let s = |key: &str| {
        a.body["loadbalancer"][key]
            .as_str()
            .unwrap_or_else(|| panic!("no {key} in {}", a.body))
            .to_string()
    };
    let id = s("id");
    let path = format!("{LBS}/{id}");
    cloud.wait_for(app, &path, "loadbalancer", "ACTIVE").await;
    Lb {
        project: s("project_id"),
        vip: s("vip_address"),
        vip_port: s("vip_port_id"),
        id,
        subnet,
        path,
    }
}

/// Waits for the load balancer to settle and every flow to finish.
pub async fn settled(cloud: &Cloud, app: &Router, lb: &str) {
    cloud
        .wait_for(app, &format!("{LBS}/{lb}"), "loadbalancer", "ACTIVE")
        .await;
    flows_finish(&cloud.db).await;
}

/// Waits (at most 10 s) until no flow is left.
async fn flows_finish(db: &Db) {
    for _ in 0..400 {
        if rows(db, "lb_flows").await == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("flows never finished");
}

// --- Flows held back --------------------------------------------------

/// From now on, new flows are leased to nobody for ages: the worker leaves
/// them alone and the statuses a request wrote stay visible.
pub async fn freeze(cloud: &Cloud) {
    if cloud.backend == "postgres" {
        exec(
            &cloud.db,
            "CREATE OR REPLACE FUNCTION lb_test_freeze() RETURNS trigger AS $$ BEGIN \
             IF TG_OP = 'INSERT' OR NEW.lease_holder LIKE 'request/%' THEN \
             NEW.lease_holder := 'frozen'; NEW.lease_expires := 9000000000000000; END IF; \
             RETURN NEW; END $$ LANGUAGE plpgsql",
        )
        .await;
        // Also over the request's own hold of its new flow (ops::submit),
        // whose release would otherwise hand the flow to the worker.
        exec(
            &cloud.db,
            "CREATE TRIGGER lb_test_freeze BEFORE INSERT OR UPDATE ON lb_flows FOR EACH ROW \
             EXECUTE FUNCTION lb_test_freeze()",
        )
        .await;
    } else {
        exec(
            &cloud.db,
            "CREATE TRIGGER lb_test_freeze AFTER INSERT ON lb_flows BEGIN \
             UPDATE lb_flows SET lease_holder = 'frozen', lease_expires = 9000000000000000 \
             WHERE id = NEW.id; END",
        )
        .await;
        exec(
            &cloud.db,
            "CREATE TRIGGER lb_test_freeze_hold AFTER UPDATE OF lease_holder ON lb_flows \
             WHEN NEW.lease_holder LIKE 'request/%' BEGIN \
             UPDATE lb_flows SET lease_holder = 'frozen', lease_expires = 9000000000000000 \
             WHERE id = NEW.id; END",
        )
        .await;
    }
}

/// Undoes [`freeze`] and hands the frozen flows to the worker.
pub async fn thaw(cloud: &Cloud) {
    if cloud.backend == "postgres" {
        exec(&cloud.db, "DROP TRIGGER lb_test_freeze ON lb_flows").await;
    } else {
        exec(&cloud.db, "DROP TRIGGER lb_test_freeze").await;
        exec(&cloud.db, "DROP TRIGGER lb_test_freeze_hold").await;
    }
    exec(
        &cloud.db,
        "UPDATE lb_flows SET lease_holder = '', lease_expires = 0 WHERE lease_holder = 'frozen'",
    )
    .await;
    cloud.controller.wake();
}

/// A Load-balancer API on a database of its own whose flows run only
/// while [`Frozen::run`] is on, so a test can look at the statuses a
/// request leaves before any flow settles them. Tokens are the cloud's.
pub struct Frozen {
    pub db: Db,
    pub app: Router,
    pub net: Router,
    worker: Option<(
        tokio::sync::watch::Sender<bool>,
        tokio::task::JoinHandle<()>,
    )>,
    _dir: tempfile::TempDir,
}

impl Frozen {
    pub async fn new(cloud: &Cloud) -> Frozen {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::connect(&neutrino_testkit::sqlite_url(dir.path()))
            .await
            .expect("sqlite");
        db.migrate().await.expect("migrate");
        let (_stop, stopped) = tokio::sync::watch::channel(true);
        let (controller, handle) = neutrino_lbaas::controller::start(
            db.clone(),
            std::sync::Arc::new(neutrino_lbaas::backend::noop::NoopBackend),
            neutrino_lbaas::engine::WorkerConfig::new("frozen-api"),
            stopped,
        );
        handle.await.expect("a stopped worker ends at once");
        let app = neutrino_lb_api::router(LbState::new(
            db.clone(),
            cloud.identity.clone(),
            LbConfig::default(),
            controller,
            neutrino_api::NetworkConfig::default().mac_prefix,
        ));
        let net = neutrino_api::network_router(neutrino_api::AppState::new(
            db.clone(),
            cloud.identity.clone(),
            neutrino_api::NetworkConfig::default(),
        ));
        Frozen {
            db,
            app,
            net,
            worker: None,
            _dir: dir,
        }
    }

    /// Runs the pending flows until [`Frozen::stop`].
    pub fn run(&mut self) {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let mut cfg = neutrino_lbaas::engine::WorkerConfig::new("frozen-worker");
        cfg.poll = std::time::Duration::from_millis(20);
        let (_, handle) = neutrino_lbaas::controller::start(
            self.db.clone(),
            std::sync::Arc::new(neutrino_lbaas::backend::noop::NoopBackend),
            cfg,
            stopped,
        );
        self.worker = Some((stop, handle));
    }

    /// Waits for every flow to finish, then stops the worker.
    pub async fn stop(&mut self) {
        flows_finish(&self.db).await;
        if let Some((stop, handle)) = self.worker.take() {
            let _ = stop.send(true);
            handle.await.expect("worker ends");
        }
    }

    /// Runs the pending flows to their end.
    pub async fn settle(&mut self) {
        self.run();
        self.stop().await;
    }

    pub async fn status(&self, table: &str, id: &str) -> String {
        status_of(&self.db, table, id).await
    }

    /// Asserts the stored provisioning status of each (table, id).
    pub async fn assert_statuses(&self, want: &str, objects: &[(&str, &str)]) {
        for (table, id) in objects {
            assert_eq!(self.status(table, id).await, want, "{table} {id}");
        }
    }
}

// --- A log of status changes -----------------------------------------

/// Records every provisioning-status change of load balancers,
/// listeners, policies and rules into `test_status_log`, so tests see
/// the PENDING_UPDATE a flow settles away however fast it runs.
pub async fn log_statuses(cloud: &Cloud) {
    let tables = [
        "lb_load_balancers",
        "lb_listeners",
        "lb_l7policies",
        "lb_l7rules",
    ];
    if cloud.backend == "postgres" {
        exec(
            &cloud.db,
            "CREATE TABLE test_status_log (seq BIGSERIAL PRIMARY KEY, id TEXT, status TEXT)",
        )
        .await;
        exec(
            &cloud.db,
            "CREATE FUNCTION test_log_status() RETURNS trigger AS $$ BEGIN \
             INSERT INTO test_status_log (id, status) VALUES (NEW.id, NEW.provisioning_status); \
             RETURN NEW; END $$ LANGUAGE plpgsql",
        )
        .await;
        for t in tables {
            exec(
                &cloud.db,
                &format!(
                    "CREATE TRIGGER test_log_{t} AFTER UPDATE OF provisioning_status ON {t} \
                     FOR EACH ROW WHEN (NEW.provisioning_status IS DISTINCT FROM OLD.provisioning_status) \
                     EXECUTE FUNCTION test_log_status()"
                ),
            )
            .await;
        }
    } else {
        exec(
            &cloud.db,
            "CREATE TABLE test_status_log (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT, status TEXT)",
        )
        .await;
        for t in tables {
            exec(
                &cloud.db,
                &format!(
                    "CREATE TRIGGER test_log_{t} AFTER UPDATE OF provisioning_status ON {t} \
                     WHEN NEW.provisioning_status IS NOT OLD.provisioning_status BEGIN \
                     INSERT INTO test_status_log (id, status) VALUES (NEW.id, NEW.provisioning_status); END"
                ),
            )
            .await;
        }
    }
}

/// The provisioning statuses `id` went through since [`log_statuses`].
pub async fn history(db: &Db, id: &str) -> Vec<String> {
    let sql = format!("SELECT status FROM test_status_log WHERE id = '{id}' ORDER BY seq");
    neutrino_store::dispatch!(db.read(), c => sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql)).fetch_all(c).await)
        .expect("history")
}

/// Forgets the statuses logged so far.
pub async fn clear_history(db: &Db) {
    exec(db, "DELETE FROM test_status_log").await;
}

impl Cloud {
    /// Asserts that each object went through PENDING_UPDATE back to
    /// ACTIVE (and nothing else) since the log was last cleared.
    pub async fn assert_held_and_settled(&self, objects: &[&str]) {
        for id in objects {
            assert_eq!(
                history(&self.db, id).await,
                ["PENDING_UPDATE", "ACTIVE"],
                "{}: {id}",
                self.backend
            );
        }
    }
}

/// Deletes a load balancer and everything on it as alice, and waits
/// until it is gone.
pub async fn cascade_delete(cloud: &Cloud, app: &Router, lb: &str) {
    let path = format!("{LBS}/{lb}");
    let d = send(
        app,
        "DELETE",
        &format!("{path}?cascade=true"),
        Some(&cloud.alice),
    )
    .await;
    assert_eq!(d.status, 204, "{}: {}", cloud.backend, d.body);
    cloud.wait_for(app, &path, "loadbalancer", "DELETED").await;
}

/// The rows of each of `tables`, to compare before and after.
pub async fn row_counts<'a>(db: &Db, tables: &[&'a str]) -> Vec<(&'a str, i64)> {
    let mut out = Vec::new();
    for t in tables {
        out.push((*t, rows(db, t).await));
    }
    out
}
