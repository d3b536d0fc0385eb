//! The heartbeat health update (`neutrino_lbaas::health`) against real
//! databases (SQLite, and PostgreSQL when `NEUTRINO_TEST_POSTGRES_URL` is
//! set): upstream's status mapping rule by rule, the listener-count rule
//! for `lb_amphora_health`, counters that accumulate without lost updates
//! under concurrency, and the UDP receiver end to end on loopback.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use neutrino_amphora_agent::heartbeat::wire::{self, ListenerReport, Message, PoolReport, Stats};
use neutrino_lb_types::enums::*;
use neutrino_lb_types::model::*;
use neutrino_lb_types::sample;
use neutrino_lbaas::health::{self, HealthRefresh, Outcome, update_health};
use neutrino_store::lb::{self, amphorae, listeners, load_balancers, members, pools};
use neutrino_store::{Db, dispatch};

const INTERVAL: Duration = Duration::from_secs(10);

// ------------------------------------------------------------ databases

struct Backend {
    db: Db,
    name: &'static str,
    _dir: Option<tempfile::TempDir>,
}

async fn sqlite() -> Backend {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::connect(&neutrino_testkit::sqlite_url(dir.path()))
        .await
        .expect("sqlite");
    db.migrate().await.expect("migrations");
    Backend {
        db,
        name: "sqlite",
        _dir: Some(dir),
    }
}

async fn postgres() -> Option<Backend> {
    let url = neutrino_testkit::postgres_database_or_skip()
        .await
        .expect("postgres configured but unusable")?;
    let db = Db::connect(&url).await.expect("postgres");
    db.migrate().await.expect("migrations");
    Some(Backend {
        db,
        name: "postgres",
        _dir: None,
    })
}

/// Fresh databases with the fixture of [`fixture`].
async fn backends() -> Vec<Backend> {
    let mut out = vec![sqlite().await];
    out.extend(postgres().await);
    for b in &out {
        fixture(&b.db).await;
    }
    out
}

async fn exec(db: &Db, sql: &str) {
    let mut tx = db.begin().await.expect("begin");
    dispatch!(tx.conn(), c => sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())).execute(&mut *c).await.map(|_| ()))
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    tx.commit().await.expect("commit");
}

/// (operating_status, updated_at) of one row.
async fn status(db: &Db, table: &str, id: &str) -> (String, Option<String>) {
    let sql = format!("SELECT operating_status, updated_at FROM {table} WHERE id = $1");
    dispatch!(db.read(), c => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_one(c).await)
        .expect("status row")
}

async fn op(db: &Db, table: &str, id: &str) -> String {
    status(db, table, id).await.0
}

/// Every operating status, health row and counter: what "changes
/// nothing" compares.
async fn snapshot(db: &Db) -> Vec<String> {
    let mut out = Vec::new();
    for t in [
        "lb_load_balancers",
        "lb_listeners",
        "lb_pools",
        "lb_members",
    ] {
        let sql = format!("SELECT id, operating_status, updated_at FROM {t} ORDER BY id");
        let rows: Vec<(String, String, Option<String>)> = dispatch!(db.read(), c =>
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(c).await)
        .expect("rows");
        out.extend(rows.into_iter().map(|r| format!("{t} {r:?}")));
    }
    let health: Vec<(String, String, bool)> = dispatch!(db.read(), c => sqlx::query_as(
        "SELECT amphora_id, last_update, busy FROM lb_amphora_health ORDER BY amphora_id")
        .fetch_all(c).await)
    .expect("health");
    out.extend(health.into_iter().map(|r| format!("health {r:?}")));
    let stats: Vec<(String, String, i64, i64)> = dispatch!(db.read(), c => sqlx::query_as(
        "SELECT listener_id, amphora_id, bytes_in, total_connections FROM lb_listener_stats \
         ORDER BY listener_id, amphora_id")
        .fetch_all(c).await)
    .expect("stats");
    out.extend(stats.into_iter().map(|r| format!("stats {r:?}")));
    out
}

async fn stats_row(db: &Db, listener: &str, amphora: &str) -> Option<(i64, i64, i64, i64, i64)> {
    dispatch!(db.read(), c => sqlx::query_as(
        "SELECT bytes_in, bytes_out, active_connections, total_connections, request_errors \
         FROM lb_listener_stats WHERE listener_id = $1 AND amphora_id = $2")
        .bind(listener).bind(amphora).fetch_optional(c).await)
    .expect("stats row")
}

// ------------------------------------------------------------ fixture

fn lb_record(id: &str) -> LoadBalancer {
    LoadBalancer {
        vip: sample::vip("10.0.0.5", &format!("port-{id}"), "subnet-1", "net-1"),
        ..sample::load_balancer(id, "p1")
    }
}

fn listener_record(id: &str, lb: &str, port: i64) -> Listener {
    sample::listener(id, "p1", lb, Protocol::Http, port)
}

fn pool_record(id: &str, lb: &str) -> Pool {
    sample::pool(id, "p1", lb, Protocol::Http)
}

fn member_record(id: &str, pool: &str, n: u8) -> Member {
    sample::member(id, "p1", pool, &format!("10.0.1.{n}"), 80)
}

fn amphora_record(id: &str, lb: Option<&str>) -> Amphora {
    Amphora {
        id: id.into(),
        load_balancer_id: lb.map(Into::into),
        compute_id: Some(format!("compute-{id}")),
        lb_network_ip: Some("192.0.2.10".into()),
        vrrp_ip: None,
        ha_ip: None,
        vrrp_port_id: None,
        ha_port_id: None,
        cert_expiration: None,
        cert_busy: false,
        role: Some(AmphoraRole::Standalone),
        status: AmphoraStatus::Allocated,
        vrrp_interface: None,
        vrrp_id: None,
        vrrp_priority: None,
        cached_zone: None,
        image_id: None,
        compute_flavor: None,
        created_at: sample::CREATED_AT.into(),
        updated_at: None,
    }
}

/// Load balancer "lb" (ACTIVE, enabled, OFFLINE) with listeners l1, l2,
/// pools p1 (members m1..m3) and p2 (member m4), all OFFLINE (members
/// NO_MONITOR), served by amphora "amp". A second load balancer "lbx"
/// with listener lx; a spare amphora "spare" without load balancer.
async fn fixture(db: &Db) {
    let mut tx = db.begin().await.unwrap();
    for id in ["lb", "lbx"] {
        load_balancers::insert(&mut tx, &lb_record(id))
            .await
            .unwrap();
    }
    for (id, lb, port) in [("l1", "lb", 80), ("l2", "lb", 81), ("lx", "lbx", 80)] {
        listeners::insert(&mut tx, &listener_record(id, lb, port))
            .await
            .unwrap();
    }
    for id in ["p1", "p2"] {
        pools::insert(&mut tx, &pool_record(id, "lb"))
            .await
            .unwrap();
    }
    for (id, pool, n) in [
        ("m1", "p1", 1),
        ("m2", "p1", 2),
        ("m3", "p1", 3),
        ("m4", "p2", 4),
    ] {
        members::insert(&mut tx, &member_record(id, pool, n))
            .await
            .unwrap();
    }
    for (id, lb) in [("amp", Some("lb")), ("spare", None)] {
        amphorae::insert(&mut tx, &amphora_record(id, lb))
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
}

// ------------------------------------------------------------ messages

fn stats(rx: u64, tx: u64, conns: u64, totconns: u64, ereq: u64) -> Stats {
    Stats {
        tx,
        rx,
        conns,
        totconns,
        ereq,
    }
}

struct Msg(Message);

impl Msg {
    fn new(amp: &str) -> Msg {
        Msg(Message {
            id: amp.into(),
            seq: 1,
            ver: 3,
            ..Message::default()
        })
    }
    fn listener(mut self, id: &str, status: &str) -> Msg {
        self.0.listeners.insert(
            id.into(),
            ListenerReport {
                status: status.into(),
                stats: Stats::default(),
            },
        );
        self
    }
    fn listener_stats(mut self, id: &str, s: Stats) -> Msg {
        self.0.listeners.insert(
            id.into(),
            ListenerReport {
                status: "OPEN".into(),
                stats: s,
            },
        );
        self
    }
    fn pool(mut self, key: &str, status: &str, members: &[(&str, &str)]) -> Msg {
        self.0.pools.insert(
            key.into(),
            PoolReport {
                status: status.into(),
                members: members
                    .iter()
                    .map(|(m, s)| (m.to_string(), s.to_string()))
                    .collect::<BTreeMap<_, _>>(),
            },
        );
        self
    }
    /// Pool p1 (of l1) with the statuses of m1, m2 and m3.
    fn p1(self, status: &str, members: [&str; 3]) -> Msg {
        let [m1, m2, m3] = members;
        self.pool("p1:l1", status, &[("m1", m1), ("m2", m2), ("m3", m3)])
    }
    /// Both listeners open, no pool reported.
    fn open(amp: &str) -> Msg {
        Msg::new(amp).listener("l1", "OPEN").listener("l2", "OPEN")
    }
    /// Both listeners open, both pools up with every member up.
    fn healthy(amp: &str) -> Msg {
        Msg::open(amp)
            .p1("UP", ["UP"; 3])
            .pool("p2:l2", "UP", &[("m4", "UP")])
    }
}

async fn apply(db: &Db, m: &Msg) -> Outcome {
    update_health(db, &m.0, SystemTime::now(), INTERVAL)
        .await
        .expect("update_health")
}

/// Asserts the operating status of each (table, id, status).
async fn assert_ops(b: &Backend, want: &[(&str, &str, &str)]) {
    for (table, id, status) in want {
        assert_eq!(
            op(&b.db, table, id).await,
            *status,
            "{} {table} {id}",
            b.name
        );
    }
}

fn changes(o: &Outcome) -> usize {
    match o {
        Outcome::Processed { status_changes, .. } => *status_changes,
        other => panic!("not processed: {other:?}"),
    }
}

// ------------------------------------------------------------ mapping

#[tokio::test]
async fn healthy_heartbeat_sets_everything_online_and_stamps_updated_at() {
    for b in backends().await {
        let db = &b.db;
        let o = apply(db, &Msg::healthy("amp")).await;
        // lb, l1, l2, p1, p2, m1..m4
        assert_eq!(changes(&o), 9, "{}", b.name);
        for (t, id) in [
            ("lb_load_balancers", "lb"),
            ("lb_listeners", "l1"),
            ("lb_listeners", "l2"),
            ("lb_pools", "p1"),
            ("lb_pools", "p2"),
            ("lb_members", "m1"),
            ("lb_members", "m4"),
        ] {
            let (s, at) = status(db, t, id).await;
            assert_eq!(s, "ONLINE", "{} {t} {id}", b.name);
            assert!(at.is_some(), "{} {t} {id}: updated_at set", b.name);
        }
        // The other load balancer is untouched.
        assert_eq!(
            status(db, "lb_listeners", "lx").await,
            ("OFFLINE".into(), None)
        );
    }
}

#[tokio::test]
async fn status_is_written_only_when_it_changed() {
    for b in backends().await {
        let db = &b.db;
        apply(db, &Msg::healthy("amp")).await;
        exec(db, "UPDATE lb_listeners SET updated_at = 'sentinel'").await;
        exec(db, "UPDATE lb_members SET updated_at = 'sentinel'").await;
        let o = apply(db, &Msg::healthy("amp")).await;
        assert_eq!(changes(&o), 0, "{}", b.name);
        assert_eq!(
            status(db, "lb_listeners", "l1").await.1.as_deref(),
            Some("sentinel")
        );
        // One change: only that row is written.
        let o = apply(db, &Msg::healthy("amp").p1("UP", ["UP", "UP", "DRAIN"])).await;
        // m3 → DRAINING only (a draining member does not degrade).
        assert_eq!(changes(&o), 1, "{}", b.name);
        assert_eq!(
            status(db, "lb_members", "m2").await.1.as_deref(),
            Some("sentinel")
        );
        let (s, at) = status(db, "lb_members", "m3").await;
        assert_eq!(s, "DRAINING");
        assert_ne!(at.as_deref(), Some("sentinel"), "{}", b.name);
    }
}

#[tokio::test]
async fn listener_open_full_and_missing() {
    for b in backends().await {
        let db = &b.db;
        // FULL → DEGRADED, and the LB degraded.
        apply(db, &Msg::healthy("amp").listener("l2", "FULL")).await;
        assert_eq!(op(db, "lb_listeners", "l1").await, "ONLINE", "{}", b.name);
        assert_eq!(op(db, "lb_listeners", "l2").await, "DEGRADED", "{}", b.name);
        assert_eq!(op(db, "lb_load_balancers", "lb").await, "DEGRADED");

        // Missing, enabled, LB ACTIVE → ERROR (the LB itself stays ONLINE).
        let m = Msg::new("amp")
            .listener("l1", "OPEN")
            .p1("UP", ["UP"; 3])
            .pool("p2:l2", "UP", &[("m4", "UP")]);
        apply(db, &m).await;
        assert_eq!(op(db, "lb_listeners", "l2").await, "ERROR", "{}", b.name);
        assert_eq!(op(db, "lb_load_balancers", "lb").await, "ONLINE");

        // Missing and disabled → OFFLINE.
        exec(
            db,
            "UPDATE lb_listeners SET enabled = FALSE WHERE id = 'l2'",
        )
        .await;
        apply(db, &m).await;
        assert_eq!(op(db, "lb_listeners", "l2").await, "OFFLINE", "{}", b.name);

        // Missing, enabled, LB not ACTIVE → OFFLINE.
        exec(
            db,
            "UPDATE lb_listeners SET enabled = TRUE, operating_status = 'ONLINE' WHERE id = 'l2'",
        )
        .await;
        exec(
            db,
            "UPDATE lb_load_balancers SET provisioning_status = 'PENDING_UPDATE' WHERE id = 'lb'",
        )
        .await;
        apply(db, &m).await;
        assert_eq!(op(db, "lb_listeners", "l2").await, "OFFLINE", "{}", b.name);

        // An unknown listener status changes nothing.
        exec(
            db,
            "UPDATE lb_listeners SET operating_status = 'ONLINE' WHERE id = 'l1'",
        )
        .await;
        apply(db, &Msg::healthy("amp").listener("l1", "WEIRD")).await;
        assert_eq!(op(db, "lb_listeners", "l1").await, "ONLINE", "{}", b.name);
    }
}

#[tokio::test]
async fn pool_up_down_and_missing() {
    for b in backends().await {
        let db = &b.db;
        // DOWN → ERROR, and the LB → ERROR even with a FULL listener.
        apply(
            db,
            &Msg::healthy("amp")
                .listener("l1", "FULL")
                .pool("p2:l2", "DOWN", &[("m4", "DOWN")]),
        )
        .await;
        assert_eq!(op(db, "lb_pools", "p2").await, "ERROR", "{}", b.name);
        assert_eq!(op(db, "lb_pools", "p1").await, "ONLINE", "{}", b.name);
        assert_eq!(op(db, "lb_members", "m4").await, "ERROR", "{}", b.name);
        assert_eq!(
            op(db, "lb_load_balancers", "lb").await,
            "ERROR",
            "{}",
            b.name
        );

        // Missing → OFFLINE; a key without ":listener" names the pool too.
        let m = Msg::open("amp").pool("p1", "UP", &[("m1", "UP"), ("m2", "UP"), ("m3", "UP")]);
        apply(db, &m).await;
        assert_eq!(op(db, "lb_pools", "p2").await, "OFFLINE", "{}", b.name);
        assert_eq!(op(db, "lb_pools", "p1").await, "ONLINE", "{}", b.name);
        // Its members are left alone.
        assert_eq!(op(db, "lb_members", "m4").await, "ERROR", "{}", b.name);
        assert_eq!(
            op(db, "lb_load_balancers", "lb").await,
            "ONLINE",
            "{}",
            b.name
        );
    }
}

#[tokio::test]
async fn member_statuses_and_haproxy_suffixes() {
    const M: &str = "lb_members";
    const P: &str = "lb_pools";
    const LB: &str = "lb_load_balancers";
    for b in backends().await {
        let db = &b.db;
        exec(
            db,
            "UPDATE lb_members SET operating_status = 'ONLINE' WHERE id = 'm4'",
        )
        .await;
        let m = Msg::open("amp")
            .p1("UP", ["UP 1/3", "DOWN 1/2", "MAINT"])
            // m4 missing from its reported pool.
            .pool("p2:l2", "UP", &[]);
        apply(db, &m).await;
        assert_ops(
            &b,
            &[
                (M, "m1", "ONLINE"),
                (M, "m2", "ERROR"),
                (M, "m3", "OFFLINE"),
                (M, "m4", "OFFLINE"),
                // A down member degrades its pool and the LB.
                (P, "p1", "DEGRADED"),
                (P, "p2", "ONLINE"),
                (LB, "lb", "DEGRADED"),
            ],
        )
        .await;

        // No health monitor: haproxy says "no check" → NO_MONITOR; a
        // missing member already NO_MONITOR stays so; RESTARTING keeps
        // the previous status; an unknown string changes nothing.
        exec(
            db,
            "UPDATE lb_members SET operating_status = 'NO_MONITOR' WHERE id = 'm4'",
        )
        .await;
        let m = Msg::open("amp")
            .p1("UP", ["no check", "RESTARTING", "BOGUS"])
            .pool("p2:l2", "UP", &[]);
        apply(db, &m).await;
        assert_ops(
            &b,
            &[
                (M, "m1", "NO_MONITOR"),
                (M, "m2", "ERROR"),
                (M, "m3", "OFFLINE"),
                (M, "m4", "NO_MONITOR"),
                (P, "p1", "ONLINE"),
                (LB, "lb", "ONLINE"),
            ],
        )
        .await;

        // DRAIN → DRAINING; a down member of a DOWN pool leaves it ERROR.
        let m = Msg::open("amp").p1("DOWN", ["DRAIN", "DOWN", "DOWN"]).pool(
            "p2:l2",
            "UP",
            &[("m4", "no check")],
        );
        apply(db, &m).await;
        assert_ops(
            &b,
            &[
                (M, "m1", "DRAINING"),
                (P, "p1", "ERROR"),
                (LB, "lb", "ERROR"),
            ],
        )
        .await;
    }
}

#[tokio::test]
async fn disabled_load_balancer_is_offline_unless_a_pool_is_down() {
    for b in backends().await {
        let db = &b.db;
        exec(db, "UPDATE lb_load_balancers SET enabled = FALSE, operating_status = 'ONLINE' WHERE id = 'lb'").await;
        // Degrading children do not lift a disabled LB out of OFFLINE.
        let m = Msg::healthy("amp")
            .listener("l1", "FULL")
            .pool("p2:l2", "UP", &[("m4", "DOWN")]);
        apply(db, &m).await;
        assert_eq!(
            op(db, "lb_load_balancers", "lb").await,
            "OFFLINE",
            "{}",
            b.name
        );
        assert_eq!(op(db, "lb_pools", "p2").await, "DEGRADED", "{}", b.name);
        // Upstream sets ERROR for a down pool whatever the LB.
        apply(
            db,
            &Msg::healthy("amp").pool("p2:l2", "DOWN", &[("m4", "DOWN")]),
        )
        .await;
        assert_eq!(
            op(db, "lb_load_balancers", "lb").await,
            "ERROR",
            "{}",
            b.name
        );
    }
}

// ------------------------------------------------------------ amphora health

async fn last_update(db: &Db, amp: &str) -> Option<String> {
    lb::health::get(db, amp)
        .await
        .unwrap()
        .map(|h| h.last_update)
}

fn refresh(o: &Outcome) -> HealthRefresh {
    match o {
        Outcome::Processed { health, .. } => health.clone(),
        other => panic!("not processed: {other:?}"),
    }
}

#[tokio::test]
async fn last_update_follows_the_listener_count_rule() {
    for b in backends().await {
        let db = &b.db;
        // One of two enabled listeners reported: not refreshed, but the
        // statuses are written.
        let one = Msg::new("amp").listener("l1", "OPEN");
        let o = apply(db, &one).await;
        assert_eq!(
            refresh(&o),
            HealthRefresh::ListenerCountMismatch {
                reported: 1,
                expected: 2
            },
            "{}",
            b.name
        );
        assert_eq!(last_update(db, "amp").await, None, "{}", b.name);
        assert_eq!(op(db, "lb_listeners", "l1").await, "ONLINE", "{}", b.name);

        // A disabled listener is not expected.
        exec(
            db,
            "UPDATE lb_listeners SET enabled = FALSE WHERE id = 'l2'",
        )
        .await;
        assert_eq!(refresh(&apply(db, &one).await), HealthRefresh::Refreshed);
        let h = lb::health::get(db, "amp")
            .await
            .unwrap()
            .expect("health row");
        assert!(!h.busy);
        assert_eq!(
            h.last_update.len(),
            "2026-12-03T10:00:00".len(),
            "{}",
            b.name
        );

        // Counts ignored while the LB is PENDING_* or disabled.
        exec(db, "UPDATE lb_listeners SET enabled = TRUE WHERE id = 'l2'").await;
        exec(
            db,
            "UPDATE lb_amphora_health SET last_update = 'old', busy = TRUE",
        )
        .await;
        exec(
            db,
            "UPDATE lb_load_balancers SET provisioning_status = 'PENDING_UPDATE' WHERE id = 'lb'",
        )
        .await;
        assert_eq!(refresh(&apply(db, &one).await), HealthRefresh::Refreshed);
        let h = lb::health::get(db, "amp").await.unwrap().unwrap();
        assert_ne!(h.last_update, "old", "{}", b.name);
        assert!(h.busy, "{}: busy is left alone", b.name);
        exec(db, "UPDATE lb_amphora_health SET last_update = 'old'").await;
        exec(db, "UPDATE lb_load_balancers SET provisioning_status = 'ACTIVE', enabled = FALSE WHERE id = 'lb'").await;
        assert_eq!(refresh(&apply(db, &one).await), HealthRefresh::Refreshed);
        assert_ne!(last_update(db, "amp").await.as_deref(), Some("old"));
        exec(db, "UPDATE lb_amphora_health SET last_update = 'old'").await;
        exec(
            db,
            "UPDATE lb_load_balancers SET enabled = TRUE WHERE id = 'lb'",
        )
        .await;
        assert!(matches!(
            refresh(&apply(db, &one).await),
            HealthRefresh::ListenerCountMismatch { .. }
        ));
        assert_eq!(last_update(db, "amp").await.as_deref(), Some("old"));

        // The row goes with its amphora.
        let mut tx = db.begin().await.unwrap();
        amphorae::delete(&mut tx, "amp").await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(
            lb::health::get(db, "amp").await.unwrap(),
            None,
            "{}",
            b.name
        );
    }
}

#[tokio::test]
async fn a_late_message_writes_only_its_counters() {
    for b in backends().await {
        let db = &b.db;
        let before = snapshot(db).await;
        let m = Msg::healthy("amp").listener_stats("l1", stats(5, 6, 1, 2, 0));
        let o = update_health(db, &m.0, SystemTime::now() - INTERVAL, INTERVAL)
            .await
            .unwrap();
        match o {
            Outcome::Processed {
                health: HealthRefresh::TooLate { delay },
                status_changes: 0,
                stats_rows: 2,
            } => assert!(delay >= INTERVAL),
            other => panic!("{}: {other:?}", b.name),
        }
        assert_eq!(last_update(db, "amp").await, None);
        assert_eq!(op(db, "lb_listeners", "l1").await, "OFFLINE", "{}", b.name);
        assert_eq!(stats_row(db, "l1", "amp").await, Some((5, 6, 1, 2, 0)));
        assert_ne!(snapshot(db).await, before);
    }
}

#[tokio::test]
async fn unknown_amphora_spare_amphora_and_old_versions_change_nothing() {
    for b in backends().await {
        let db = &b.db;
        let before = snapshot(db).await;
        let o = apply(
            db,
            &Msg::healthy("nobody").listener_stats("l1", stats(1, 1, 1, 1, 1)),
        )
        .await;
        assert_eq!(o, Outcome::UnknownAmphora, "{}", b.name);
        let o = apply(
            db,
            &Msg::healthy("spare").listener_stats("l1", stats(1, 1, 1, 1, 1)),
        )
        .await;
        assert_eq!(
            o,
            Outcome::NoLoadBalancer {
                compute_id: Some("compute-spare".into())
            },
            "{}",
            b.name
        );
        // A DELETED amphora is no longer its load balancer's.
        exec(
            db,
            "UPDATE lb_amphorae SET status = 'DELETED' WHERE id = 'amp'",
        )
        .await;
        let o = apply(db, &Msg::healthy("amp")).await;
        assert!(
            matches!(o, Outcome::NoLoadBalancer { .. }),
            "{}: {o:?}",
            b.name
        );
        exec(
            db,
            "UPDATE lb_amphorae SET status = 'ALLOCATED' WHERE id = 'amp'",
        )
        .await;
        let mut old = Msg::healthy("amp");
        old.0.ver = 1;
        assert_eq!(apply(db, &old).await, Outcome::UnsupportedVersion(1));
        assert_eq!(snapshot(db).await, before, "{}", b.name);
    }
}

// ------------------------------------------------------------ counters

#[tokio::test]
async fn version_3_counters_accumulate_and_version_2_replaces() {
    for b in backends().await {
        let db = &b.db;
        let m = |s| {
            Msg::healthy("amp")
                .listener_stats("l1", s)
                // Not this amphora's load balancer: ignored.
                .listener_stats("lx", stats(9, 9, 9, 9, 9))
        };
        let o = apply(db, &m(stats(100, 200, 3, 4, 1))).await;
        assert!(
            matches!(o, Outcome::Processed { stats_rows: 2, .. }),
            "{}: {o:?}",
            b.name
        );
        apply(db, &m(stats(10, 20, 7, 1, 2))).await;
        // Deltas add; active connections are a current count.
        assert_eq!(
            stats_row(db, "l1", "amp").await,
            Some((110, 220, 7, 5, 3)),
            "{}",
            b.name
        );
        assert_eq!(stats_row(db, "l2", "amp").await, Some((0, 0, 0, 0, 0)));
        assert_eq!(stats_row(db, "lx", "amp").await, None, "{}", b.name);
        let total = lb::stats::listener(db, "l1").await.unwrap();
        assert_eq!(total.bytes_in, 110);

        let mut v2 = m(stats(1, 2, 3, 4, 5));
        v2.0.ver = 2;
        apply(db, &v2).await;
        assert_eq!(
            stats_row(db, "l1", "amp").await,
            Some((1, 2, 3, 4, 5)),
            "{}",
            b.name
        );
    }
}

#[tokio::test]
async fn concurrent_heartbeats_lose_no_increment() {
    const TASKS: u64 = 8;
    const EACH: u64 = 25;
    let mut dbs = vec![sqlite().await];
    dbs.extend(postgres().await);
    for b in dbs {
        fixture(&b.db).await;
        // A second amphora of the same load balancer (active/standby), so
        // transactions also race on the shared status rows.
        let mut tx = b.db.begin().await.unwrap();
        amphorae::insert(&mut tx, &amphora_record("amp2", Some("lb")))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let mut tasks = tokio::task::JoinSet::new();
        for t in 0..TASKS {
            let db = b.db.clone();
            tasks.spawn(async move {
                for i in 0..EACH {
                    let amp = if (t + i) % 2 == 0 { "amp" } else { "amp2" };
                    // Alternate statuses so status rows are written too.
                    let l2 = if i % 2 == 0 { "OPEN" } else { "FULL" };
                    let m = Msg::healthy(amp)
                        .listener("l2", l2)
                        .listener_stats("l1", stats(1, 2, t, 1, 1));
                    update_health(&db, &m.0, SystemTime::now(), Duration::from_secs(600))
                        .await
                        .expect("update_health");
                }
            });
        }
        while let Some(r) = tasks.join_next().await {
            r.expect("task");
        }
        let total = lb::stats::listener(&b.db, "l1").await.unwrap();
        assert_eq!(total.bytes_in as u64, TASKS * EACH, "{}", b.name);
        assert_eq!(total.bytes_out as u64, 2 * TASKS * EACH, "{}", b.name);
        assert_eq!(total.total_connections as u64, TASKS * EACH, "{}", b.name);
        assert_eq!(total.request_errors as u64, TASKS * EACH, "{}", b.name);
    }
}

// ------------------------------------------------------------ receiver

async fn wait_for(db: &Db, table: &str, id: &str, want: &str) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while tokio::time::Instant::now() < deadline {
        if op(db, table, id).await == want {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn receiver_applies_keyed_datagrams_and_drops_others() {
    for b in backends().await {
        let db = b.db.clone();
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let recv = tokio::spawn(health::receiver::run(
            socket,
            "secret".into(),
            db.clone(),
            INTERVAL,
            stop_rx,
        ));
        let sender = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let before = snapshot(&db).await;

        // Wrong key, then garbage: dropped.
        let msg = Msg::healthy("amp")
            .listener_stats("l1", stats(7, 8, 1, 1, 0))
            .0;
        sender
            .send_to(&wire::wrap(&msg, "wrong"), addr)
            .await
            .unwrap();
        sender
            .send_to(b"not a heartbeat at all, no hmac here!!", addr)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(snapshot(&db).await, before, "{}", b.name);

        // The right key: applied.
        sender
            .send_to(&wire::wrap(&msg, "secret"), addr)
            .await
            .unwrap();
        assert!(
            wait_for(&db, "lb_load_balancers", "lb", "ONLINE").await,
            "{}",
            b.name
        );
        assert!(
            wait_for(&db, "lb_members", "m4", "ONLINE").await,
            "{}",
            b.name
        );
        assert!(last_update(&db, "amp").await.is_some(), "{}", b.name);
        // The counters were written in the same transaction.
        assert_eq!(stats_row(&db, "l1", "amp").await, Some((7, 8, 1, 1, 0)));

        stop_tx.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(10), recv)
            .await
            .expect("receiver stops")
            .expect("receiver task");
    }
}
