//! The load-balancer tables and their store (`neutrino_store::lb`) on both
//! backends: every record reads back as written, the unique keys refuse
//! duplicates, the compare-and-set lets exactly one of many concurrent
//! writers win, quota checks hold under concurrent creates, a cascade
//! delete leaves nothing behind, and the status tree reads the graph.

mod common;
use common::backends;

use std::sync::Arc;

use neutrino_lb_types::enums::*;
use neutrino_lb_types::model::*;
use neutrino_lb_types::sample;
use neutrino_store::lb::quotas::LbResource;
use neutrino_store::lb::{
    self, Object, amphorae, flavors, health_monitors, l7policies, l7rules, listeners,
    load_balancers, members, pools, quotas, status,
};
use neutrino_store::{Db, dispatch};
use serde_json::json;

const T0: &str = sample::CREATED_AT;

// Every optional field set, so that a column left out of a query shows.

fn lb_record(id: &str, project: &str) -> LoadBalancer {
    LoadBalancer {
        name: Some("web".into()),
        vip: Vip {
            sg_ids: vec!["sg-b".into(), "sg-a".into()],
            ..sample::vip("10.0.0.5", &format!("port-{id}"), "subnet-1", "net-1")
        },
        additional_vips: vec![
            AdditionalVip {
                subnet_id: "subnet-z".into(),
                ip_address: Some("fd00::5".into()),
                port_id: None,
            },
            AdditionalVip {
                subnet_id: "subnet-a".into(),
                ip_address: None,
                port_id: Some("p2".into()),
            },
        ],
        tags: vec!["a".into(), "b".into()],
        ..sample::load_balancer(id, project)
    }
}

fn listener_record(id: &str, lb: &str, protocol: Protocol, port: i64) -> Listener {
    let mut headers = serde_json::Map::new();
    headers.insert("X-Forwarded-For".into(), json!("true"));
    Listener {
        name: Some(format!("listener {id}")),
        description: Some("d".into()),
        default_tls_container_ref: Some("ref-default".into()),
        sni_container_refs: vec!["sni-2".into(), "sni-1".into()],
        insert_headers: headers,
        allowed_cidrs: vec!["10.0.0.0/8".into()],
        tls_ciphers: Some("ECDHE".into()),
        tls_versions: Some(vec!["TLSv1.2".into(), "TLSv1.3".into()]),
        hsts_max_age: Some(3600),
        hsts_include_subdomains: true,
        tags: vec!["t".into()],
        ..sample::listener(id, "p1", lb, protocol, port)
    }
}

fn pool_record(id: &str, lb: &str) -> Pool {
    Pool {
        name: Some(format!("pool {id}")),
        session_persistence: Some(SessionPersistence {
            sp_type: SessionPersistenceType::AppCookie,
            cookie_name: Some("sid".into()),
            persistence_timeout: None,
            persistence_granularity: None,
        }),
        ca_tls_container_ref: Some("ca".into()),
        alpn_protocols: Some(vec!["h2".into()]),
        ..sample::pool(id, "p1", lb, Protocol::Http)
    }
}

fn member_record(id: &str, pool: &str, address: &str, port: i64) -> Member {
    Member {
        subnet_id: Some("subnet-1".into()),
        monitor_address: Some("10.0.1.9".into()),
        monitor_port: Some(8080),
        tags: vec!["m".into()],
        ..sample::member(id, "p1", pool, address, port)
    }
}

fn hm_record(id: &str, pool: &str) -> HealthMonitor {
    HealthMonitor {
        name: Some("hm".into()),
        timeout: 3,
        max_retries: 2,
        http_version: Some(1.1),
        domain_name: Some("example.org".into()),
        ..sample::health_monitor(id, "p1", pool, HealthMonitorType::Http)
    }
}

fn policy_record(id: &str, listener: &str, pool: Option<&str>, position: i64) -> L7Policy {
    L7Policy {
        tags: vec!["pol".into()],
        ..sample::l7policy(id, "p1", listener, pool, position)
    }
}

fn rule_record(id: &str, policy: &str) -> L7Rule {
    L7Rule {
        id: id.into(),
        project_id: "p1".into(),
        l7policy_id: policy.into(),
        admin_state_up: true,
        provisioning_status: ProvisioningStatus::Active,
        operating_status: OperatingStatus::Online,
        rule_type: L7RuleType::Header,
        compare_type: L7RuleCompareType::EqualTo,
        key: Some("X-Env".into()),
        value: "prod".into(),
        invert: true,
        tags: vec!["r".into()],
        created_at: T0.into(),
        updated_at: None,
    }
}

/// A load balancer "lb1" of project p1 with one listener (default pool
/// "pool1", one L7 policy redirecting to "pool2" with one rule), two pools,
/// two members of pool1 and a health monitor on pool1.
async fn build_graph(db: &Db) {
    let mut tx = db.begin().await.unwrap();
    load_balancers::insert(&mut tx, &lb_record("lb1", "p1"))
        .await
        .unwrap();
    pools::insert(&mut tx, &pool_record("pool1", "lb1"))
        .await
        .unwrap();
    pools::insert(&mut tx, &pool_record("pool2", "lb1"))
        .await
        .unwrap();
    let mut l = listener_record("lis1", "lb1", Protocol::Http, 80);
    l.default_pool_id = Some("pool1".into());
    listeners::insert(&mut tx, &l).await.unwrap();
    members::insert(&mut tx, &member_record("m1", "pool1", "10.0.1.1", 80))
        .await
        .unwrap();
    let mut m2 = member_record("m2", "pool1", "10.0.1.2", 80);
    m2.created_at = "2026-12-03T10:00:01".into();
    members::insert(&mut tx, &m2).await.unwrap();
    health_monitors::insert(&mut tx, &hm_record("hm1", "pool1"))
        .await
        .unwrap();
    l7policies::insert(&mut tx, &policy_record("pol1", "lis1", Some("pool2"), 1))
        .await
        .unwrap();
    l7rules::insert(&mut tx, &rule_record("rule1", "pol1"))
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn every_record_reads_back_as_written() {
    for (db, _dir) in backends().await {
        let name = db.backend_name();
        build_graph(&db).await;

        let got = load_balancers::get(&db, "lb1").await.unwrap().expect("lb");
        assert_eq!(got, lb_record("lb1", "p1"), "{name}: load balancer");

        let mut want = listener_record("lis1", "lb1", Protocol::Http, 80);
        want.default_pool_id = Some("pool1".into());
        want.l7policy_ids = vec!["pol1".into()];
        assert_eq!(
            listeners::get(&db, "lis1").await.unwrap(),
            Some(want),
            "{name}: listener"
        );

        let mut want = pool_record("pool1", "lb1");
        want.listener_ids = vec!["lis1".into()];
        want.member_ids = vec!["m1".into(), "m2".into()];
        want.healthmonitor_id = Some("hm1".into());
        assert_eq!(
            pools::get(&db, "pool1").await.unwrap(),
            Some(want),
            "{name}: pool"
        );
        // Used only through the policy's redirect.
        let mut want = pool_record("pool2", "lb1");
        want.listener_ids = vec!["lis1".into()];
        assert_eq!(
            pools::get(&db, "pool2").await.unwrap(),
            Some(want),
            "{name}: pool2"
        );

        assert_eq!(
            members::get(&db, "m1").await.unwrap(),
            Some(member_record("m1", "pool1", "10.0.1.1", 80)),
            "{name}: member"
        );
        assert_eq!(
            health_monitors::get(&db, "hm1").await.unwrap(),
            Some(hm_record("hm1", "pool1")),
            "{name}: health monitor"
        );
        let mut want = policy_record("pol1", "lis1", Some("pool2"), 1);
        want.rule_ids = vec!["rule1".into()];
        assert_eq!(
            l7policies::get(&db, "pol1").await.unwrap(),
            Some(want),
            "{name}: policy"
        );
        assert_eq!(
            l7rules::get(&db, "rule1").await.unwrap(),
            Some(rule_record("rule1", "pol1")),
            "{name}: rule"
        );

        // The transaction's view is the same as the reader's.
        let mut tx = db.begin().await.unwrap();
        assert_eq!(
            load_balancers::get_tx(&mut tx, "lb1").await.unwrap(),
            Some(lb_record("lb1", "p1"))
        );
        assert_eq!(
            members::list_by_pool_tx(&mut tx, "pool1")
                .await
                .unwrap()
                .len(),
            2
        );
        drop(tx);

        // Global objects and amphorae.
        let fp = FlavorProfile {
            id: "fp1".into(),
            name: "single".into(),
            provider_name: "amphora".into(),
            flavor_data: r#"{"loadbalancer_topology": "SINGLE"}"#.into(),
        };
        let flavor = Flavor {
            id: "f1".into(),
            name: "small".into(),
            description: Some("d".into()),
            enabled: false,
            flavor_profile_id: "fp1".into(),
        };
        let azp = AzProfile {
            id: "azp1".into(),
            name: "zone".into(),
            provider_name: "amphora".into(),
            availability_zone_data: r#"{"compute_zone": "nova"}"#.into(),
        };
        let az = AvailabilityZone {
            name: "az1".into(),
            description: None,
            enabled: true,
            availability_zone_profile_id: "azp1".into(),
        };
        let amp = Amphora {
            id: "amp1".into(),
            load_balancer_id: Some("lb1".into()),
            compute_id: Some("vm1".into()),
            lb_network_ip: Some("192.168.0.4".into()),
            vrrp_ip: Some("10.0.0.9".into()),
            ha_ip: Some("10.0.0.5".into()),
            vrrp_port_id: Some("vp".into()),
            ha_port_id: Some("hp".into()),
            cert_expiration: Some("2027-12-03T10:00:00".into()),
            cert_busy: false,
            role: Some(AmphoraRole::Standalone),
            status: AmphoraStatus::Allocated,
            vrrp_interface: None,
            vrrp_id: Some(1),
            vrrp_priority: None,
            cached_zone: Some("nova".into()),
            image_id: Some("img".into()),
            compute_flavor: Some("m1".into()),
            created_at: T0.into(),
            updated_at: None,
        };
        let quota = Quota {
            load_balancer: Some(3),
            listener: None,
            pool: Some(-1),
            health_monitor: Some(0),
            member: None,
            l7policy: Some(7),
            l7rule: None,
        };
        let mut tx = db.begin().await.unwrap();
        flavors::insert_flavor_profile(&mut tx, &fp).await.unwrap();
        flavors::insert_flavor(&mut tx, &flavor).await.unwrap();
        flavors::insert_az_profile(&mut tx, &azp).await.unwrap();
        flavors::insert_az(&mut tx, &az).await.unwrap();
        amphorae::insert(&mut tx, &amp).await.unwrap();
        quotas::set(&mut tx, "p1", &quota).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(
            flavors::get_flavor_profile(&db, "fp1").await.unwrap(),
            Some(fp)
        );
        assert_eq!(flavors::get_flavor(&db, "f1").await.unwrap(), Some(flavor));
        assert_eq!(
            flavors::get_az_profile(&db, "azp1").await.unwrap(),
            Some(azp)
        );
        assert_eq!(flavors::get_az(&db, "az1").await.unwrap(), Some(az));
        assert_eq!(amphorae::get(&db, "amp1").await.unwrap(), Some(amp.clone()));
        assert_eq!(amphorae::list(&db, Some("p1")).await.unwrap(), vec![amp]);
        assert!(amphorae::list(&db, Some("p2")).await.unwrap().is_empty());
        assert_eq!(quotas::get(&db, "p1").await.unwrap(), Some(quota.clone()));
        assert_eq!(
            quotas::list(&db).await.unwrap(),
            vec![("p1".to_owned(), quota)]
        );
        assert_eq!(quotas::get(&db, "p2").await.unwrap(), None, "{name}");
    }
}

#[tokio::test]
async fn updates_write_every_mutable_attribute_and_lists_scope_by_project() {
    for (db, _dir) in backends().await {
        let name = db.backend_name();
        build_graph(&db).await;
        let mut other = lb_record("lb2", "p2");
        other.created_at = "2026-12-03T11:00:00".into();
        let mut tx = db.begin().await.unwrap();
        load_balancers::insert(&mut tx, &other).await.unwrap();

        let mut lb = lb_record("lb1", "p1");
        lb.name = None;
        lb.description = Some("new".into());
        lb.admin_state_up = false;
        lb.vip.sg_ids = vec![];
        lb.vip.qos_policy_id = Some("q".into());
        lb.tags = vec!["z".into()];
        lb.updated_at = Some("2026-12-03T12:00:00".into());
        assert!(load_balancers::update(&mut tx, &lb).await.unwrap());

        let mut l = listeners::get_tx(&mut tx, "lis1").await.unwrap().unwrap();
        l.default_pool_id = None;
        l.sni_container_refs = vec!["only".into()];
        l.tls_versions = None;
        l.allowed_cidrs = vec![];
        l.insert_headers = serde_json::Map::new();
        l.tags = vec![];
        assert!(listeners::update(&mut tx, &l).await.unwrap());

        let mut p = pools::get_tx(&mut tx, "pool1").await.unwrap().unwrap();
        p.session_persistence = None;
        p.lb_algorithm = LbAlgorithm::SourceIp;
        p.tags = vec!["x".into(), "x".into(), "w".into()];
        assert!(pools::update(&mut tx, &p).await.unwrap());

        let mut m = members::get_tx(&mut tx, "m1").await.unwrap().unwrap();
        m.weight = 0;
        m.backup = true;
        m.monitor_port = None;
        assert!(members::update(&mut tx, &m).await.unwrap());

        let mut h = health_monitors::get_tx(&mut tx, "hm1")
            .await
            .unwrap()
            .unwrap();
        h.http_method = None;
        h.http_version = None;
        h.max_retries_down = 10;
        assert!(health_monitors::update(&mut tx, &h).await.unwrap());

        let mut r = l7rules::get_tx(&mut tx, "rule1").await.unwrap().unwrap();
        r.rule_type = L7RuleType::Path;
        r.key = None;
        assert!(l7rules::update(&mut tx, &r).await.unwrap());
        tx.commit().await.unwrap();

        assert_eq!(
            load_balancers::get(&db, "lb1").await.unwrap(),
            Some(lb),
            "{name}"
        );
        let mut want_l = l.clone();
        want_l.tags = vec![];
        assert_eq!(
            listeners::get(&db, "lis1").await.unwrap(),
            Some(want_l),
            "{name}"
        );
        let got = pools::get(&db, "pool1").await.unwrap().unwrap();
        assert_eq!(
            got.tags,
            vec!["w".to_owned(), "x".to_owned()],
            "{name}: tags stored once, sorted"
        );
        assert_eq!(got.session_persistence, None);
        assert_eq!(got.lb_algorithm, LbAlgorithm::SourceIp);
        assert!(
            got.listener_ids.is_empty(),
            "{name}: no longer the default pool"
        );
        let pool2 = pools::get(&db, "pool2").await.unwrap().unwrap();
        assert_eq!(
            pool2.listener_ids,
            ["lis1"],
            "{name}: still used by the redirect"
        );
        assert_eq!(members::get(&db, "m1").await.unwrap(), Some(m));
        assert_eq!(health_monitors::get(&db, "hm1").await.unwrap(), Some(h));
        assert_eq!(l7rules::get(&db, "rule1").await.unwrap(), Some(r));

        let ids = |v: Vec<LoadBalancer>| v.into_iter().map(|l| l.id).collect::<Vec<_>>();
        assert_eq!(
            ids(load_balancers::list(&db, Some("p1")).await.unwrap()),
            ["lb1"]
        );
        assert_eq!(
            ids(load_balancers::list(&db, Some("p2")).await.unwrap()),
            ["lb2"]
        );
        assert_eq!(
            ids(load_balancers::list(&db, None).await.unwrap()),
            ["lb1", "lb2"]
        );
        assert_eq!(pools::list(&db, Some("p1")).await.unwrap().len(), 2);
        assert!(pools::list(&db, Some("p2")).await.unwrap().is_empty());

        // Updating what does not exist reports it.
        let mut tx = db.begin().await.unwrap();
        assert!(
            !load_balancers::update(&mut tx, &lb_record("nope", "p1"))
                .await
                .unwrap()
        );
        assert!(!members::delete(&mut tx, "nope").await.unwrap());
    }
}

#[tokio::test]
async fn unique_keys_refuse_duplicates() {
    for (db, _dir) in backends().await {
        let name = db.backend_name();
        build_graph(&db).await;
        let dup = |what: &str, r: Result<(), neutrino_store::StoreError>| {
            let e = r.expect_err(what);
            assert!(e.is_unique_violation(), "{name}: {what}: {e:?}");
        };
        let mut tx = db.begin().await.unwrap();
        dup(
            "listener on the same protocol and port",
            listeners::insert(&mut tx, &listener_record("lis2", "lb1", Protocol::Http, 80)).await,
        );
        drop(tx);
        let mut tx = db.begin().await.unwrap();
        dup(
            "member with the same address and port",
            members::insert(&mut tx, &member_record("m9", "pool1", "10.0.1.1", 80)).await,
        );
        drop(tx);
        let mut tx = db.begin().await.unwrap();
        dup(
            "second health monitor",
            health_monitors::insert(&mut tx, &hm_record("hm2", "pool1")).await,
        );
        drop(tx);
        // The same keys elsewhere are fine: another port, another pool.
        let mut tx = db.begin().await.unwrap();
        listeners::insert(&mut tx, &listener_record("lis2", "lb1", Protocol::Http, 81))
            .await
            .unwrap();
        listeners::insert(&mut tx, &listener_record("lis3", "lb1", Protocol::Udp, 80))
            .await
            .unwrap();
        members::insert(&mut tx, &member_record("m9", "pool2", "10.0.1.1", 80))
            .await
            .unwrap();
        health_monitors::insert(&mut tx, &hm_record("hm2", "pool2"))
            .await
            .unwrap();
        tx.commit().await.unwrap();

        let fp = FlavorProfile {
            id: "fp1".into(),
            name: "n".into(),
            provider_name: "amphora".into(),
            flavor_data: "{}".into(),
        };
        let flavor = |id: &str| Flavor {
            id: id.into(),
            name: "small".into(),
            description: None,
            enabled: true,
            flavor_profile_id: "fp1".into(),
        };
        let mut tx = db.begin().await.unwrap();
        flavors::insert_flavor_profile(&mut tx, &fp).await.unwrap();
        flavors::insert_flavor(&mut tx, &flavor("f1"))
            .await
            .unwrap();
        dup(
            "flavor name",
            flavors::insert_flavor(&mut tx, &flavor("f2")).await,
        );
        drop(tx);
        assert_eq!(
            listeners::list(&db, Some("p1")).await.unwrap().len(),
            3,
            "{name}"
        );
    }
}

/// `concurrent` transactions each try the CAS, hold their row a moment
/// and commit: returns how many won.
async fn race_cas(db: &Db, concurrent: usize) -> usize {
    let db = Arc::new(db.clone());
    let barrier = Arc::new(tokio::sync::Barrier::new(concurrent));
    let tasks: Vec<_> = (0..concurrent)
        .map(|_| {
            let db = db.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                let mut tx = db.begin().await.unwrap();
                let won = load_balancers::cas(
                    &mut tx,
                    "lb1",
                    &[ProvisioningStatus::Active],
                    ProvisioningStatus::PendingUpdate,
                )
                .await
                .unwrap();
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                tx.commit().await.unwrap();
                won
            })
        })
        .collect();
    let mut wins = 0;
    for t in tasks {
        wins += usize::from(t.await.unwrap());
    }
    wins
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exactly_one_of_twenty_concurrent_compare_and_sets_wins() {
    for (db, _dir) in backends().await {
        let name = db.backend_name();
        build_graph(&db).await;
        assert_eq!(race_cas(&db, 20).await, 1, "{name}");
        let lb = load_balancers::get(&db, "lb1").await.unwrap().unwrap();
        assert_eq!(lb.provisioning_status, ProvisioningStatus::PendingUpdate);
        assert!(lb.updated_at.is_some(), "{name}: the CAS stamps updated_at");

        // A lost CAS reads the status it lost to; delete's CAS accepts ERROR.
        let mut tx = db.begin().await.unwrap();
        assert!(
            !load_balancers::cas(
                &mut tx,
                "lb1",
                &[ProvisioningStatus::Active],
                ProvisioningStatus::PendingUpdate
            )
            .await
            .unwrap()
        );
        assert_eq!(
            load_balancers::provisioning_status_tx(&mut tx, "lb1")
                .await
                .unwrap(),
            Some(ProvisioningStatus::PendingUpdate)
        );
        assert!(
            load_balancers::mark_tree(&mut tx, "lb1", ProvisioningStatus::Error)
                .await
                .unwrap()
        );
        assert!(
            load_balancers::cas(
                &mut tx,
                "lb1",
                &[ProvisioningStatus::Active, ProvisioningStatus::Error],
                ProvisioningStatus::PendingDelete
            )
            .await
            .unwrap()
        );
        assert_eq!(
            load_balancers::provisioning_status_tx(&mut tx, "nope")
                .await
                .unwrap(),
            None
        );
        tx.commit().await.unwrap();

        // Back to ACTIVE: the race can be won again, once.
        let mut tx = db.begin().await.unwrap();
        load_balancers::mark_tree(&mut tx, "lb1", ProvisioningStatus::Active)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(race_cas(&db, 20).await, 1, "{name}: second round");
    }
}

#[tokio::test]
async fn child_statuses_and_the_whole_tree_are_marked() {
    for (db, _dir) in backends().await {
        let name = db.backend_name();
        build_graph(&db).await;
        let mut tx = db.begin().await.unwrap();
        assert_eq!(
            lb::set_provisioning_status(
                &mut tx,
                Object::Listener,
                &["lis1"],
                ProvisioningStatus::PendingUpdate
            )
            .await
            .unwrap(),
            1
        );
        assert_eq!(
            lb::set_provisioning_status(
                &mut tx,
                Object::Member,
                &["m1", "m2", "gone"],
                ProvisioningStatus::PendingDelete
            )
            .await
            .unwrap(),
            2
        );
        lb::set_operating_status(&mut tx, Object::Member, &["m2"], OperatingStatus::Online)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let l = listeners::get(&db, "lis1").await.unwrap().unwrap();
        assert_eq!(
            l.provisioning_status,
            ProvisioningStatus::PendingUpdate,
            "{name}"
        );
        assert!(l.updated_at.is_some());
        let m2 = members::get(&db, "m2").await.unwrap().unwrap();
        assert_eq!(
            (m2.provisioning_status, m2.operating_status),
            (ProvisioningStatus::PendingDelete, OperatingStatus::Online)
        );

        let mut tx = db.begin().await.unwrap();
        assert!(
            load_balancers::mark_tree(&mut tx, "lb1", ProvisioningStatus::Error)
                .await
                .unwrap()
        );
        tx.commit().await.unwrap();
        let tree = serde_json::to_value(status::tree(&db, "lb1").await.unwrap().unwrap()).unwrap();
        let mut statuses = Vec::new();
        collect_provisioning(&tree, &mut statuses);
        assert_eq!(
            statuses.len(),
            7,
            "{name}: lb, listener, 2 pools, hm, 2 members: {tree}"
        );
        assert!(statuses.iter().all(|s| s == "ERROR"), "{name}: {tree}");
        let rule = l7rules::get(&db, "rule1").await.unwrap().unwrap();
        assert_eq!(
            rule.provisioning_status,
            ProvisioningStatus::Error,
            "{name}: rules too"
        );
    }
}

fn collect_provisioning(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                if k == "provisioning_status" {
                    out.push(v.as_str().unwrap().to_owned());
                } else {
                    collect_provisioning(v, out);
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|v| collect_provisioning(v, out)),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn quota_holds_under_twenty_concurrent_creates() {
    for (db, _dir) in backends().await {
        let name = db.backend_name();
        let mut tx = db.begin().await.unwrap();
        quotas::set(
            &mut tx,
            "p1",
            &Quota {
                load_balancer: Some(5),
                ..Quota::default()
            },
        )
        .await
        .unwrap();
        // Another project's rows do not count against p1.
        load_balancers::insert(&mut tx, &lb_record("other", "p2"))
            .await
            .unwrap();
        tx.commit().await.unwrap();

        let db = Arc::new(db);
        let barrier = Arc::new(tokio::sync::Barrier::new(20));
        let tasks: Vec<_> = (0..20)
            .map(|i| {
                let db = db.clone();
                let barrier = barrier.clone();
                tokio::spawn(async move {
                    barrier.wait().await;
                    let mut tx = db.begin().await.unwrap();
                    if !quotas::check_tx(&mut tx, "p1", LbResource::LoadBalancer, 1, -1)
                        .await
                        .unwrap()
                    {
                        return false;
                    }
                    // Widen the window between count and insert.
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    load_balancers::insert(&mut tx, &lb_record(&format!("lb{i}"), "p1"))
                        .await
                        .unwrap();
                    tx.commit().await.unwrap();
                    true
                })
            })
            .collect();
        let mut created = 0;
        for t in tasks {
            created += usize::from(t.await.unwrap());
        }
        assert_eq!(created, 5, "{name}");
        assert_eq!(
            load_balancers::list(&db, Some("p1")).await.unwrap().len(),
            5,
            "{name}"
        );

        // The default applies without an override; -1 is unlimited; the
        // requested count is added to the existing rows.
        let mut tx = db.begin().await.unwrap();
        assert!(
            quotas::check_tx(&mut tx, "p2", LbResource::LoadBalancer, 1, 2)
                .await
                .unwrap()
        );
        assert!(
            !quotas::check_tx(&mut tx, "p2", LbResource::LoadBalancer, 2, 2)
                .await
                .unwrap()
        );
        assert!(
            quotas::check_tx(&mut tx, "p2", LbResource::LoadBalancer, 100, -1)
                .await
                .unwrap()
        );
        assert!(
            !quotas::check_tx(&mut tx, "p1", LbResource::LoadBalancer, 1, -1)
                .await
                .unwrap()
        );
        assert!(
            quotas::check_tx(&mut tx, "p1", LbResource::Listener, 1, 0)
                .await
                .is_ok_and(|ok| !ok)
        );
        assert!(quotas::delete(&mut tx, "p1").await.unwrap());
        assert!(!quotas::delete(&mut tx, "p1").await.unwrap());
        assert!(
            quotas::check_tx(&mut tx, "p1", LbResource::LoadBalancer, 1, -1)
                .await
                .unwrap()
        );
    }
}

async fn rows_in_lb_tables(db: &Db) -> Vec<(String, i64)> {
    let tables: Vec<String> = match db.backend_name() {
        "sqlite" => dispatch!(db.read(), c => sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'lb\\_%' ESCAPE '\\' ORDER BY name")
            .fetch_all(c).await),
        _ => dispatch!(db.read(), c => sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' \
             AND table_name LIKE 'lb\\_%' ORDER BY table_name")
            .fetch_all(c).await),
    }
    .unwrap();
    assert!(tables.len() >= 17, "found {tables:?}");
    let mut out = Vec::new();
    for t in tables {
        let sql = format!("SELECT COUNT(*) FROM {t}");
        let n: i64 =
            dispatch!(db.read(), c => sqlx::query_scalar(sqlx::AssertSqlSafe(sql.as_str()))
            .fetch_one(c).await)
            .unwrap();
        out.push((t, n));
    }
    out
}

#[tokio::test]
async fn cascade_delete_leaves_no_row_in_any_lb_table() {
    for (db, _dir) in backends().await {
        let name = db.backend_name();
        build_graph(&db).await;
        let before = rows_in_lb_tables(&db).await;
        assert!(
            before.iter().filter(|(_, n)| *n > 0).count() == 11,
            "{name}: the graph fills the tables: {before:?}"
        );
        // A pool an L7 policy redirects to cannot go on its own ...
        let mut tx = db.begin().await.unwrap();
        let e = pools::delete(&mut tx, "pool2").await.expect_err("in use");
        assert!(e.is_conflict(), "{name}: {e:?}");
        drop(tx);
        // ... but goes with its load balancer, policy and all.
        let mut tx = db.begin().await.unwrap();
        assert!(load_balancers::delete(&mut tx, "lb1").await.unwrap());
        tx.commit().await.unwrap();
        let after = rows_in_lb_tables(&db).await;
        assert!(
            after.iter().all(|(_, n)| *n == 0),
            "{name}: left behind: {after:?}"
        );
        assert_eq!(load_balancers::get(&db, "lb1").await.unwrap(), None);
        let mut tx = db.begin().await.unwrap();
        assert!(
            !load_balancers::delete(&mut tx, "lb1").await.unwrap(),
            "{name}: already gone"
        );
    }
}

#[tokio::test]
async fn child_deletes_take_their_children_and_tags() {
    for (db, _dir) in backends().await {
        let name = db.backend_name();
        build_graph(&db).await;
        let mut tx = db.begin().await.unwrap();
        assert!(listeners::delete(&mut tx, "lis1").await.unwrap());
        tx.commit().await.unwrap();
        assert_eq!(l7policies::get(&db, "pol1").await.unwrap(), None, "{name}");
        assert_eq!(l7rules::get(&db, "rule1").await.unwrap(), None, "{name}");
        let pool1 = pools::get(&db, "pool1")
            .await
            .unwrap()
            .expect("default pool stays");
        assert!(pool1.listener_ids.is_empty(), "{name}");

        let mut tx = db.begin().await.unwrap();
        assert!(pools::delete(&mut tx, "pool1").await.unwrap());
        tx.commit().await.unwrap();
        assert_eq!(members::get(&db, "m1").await.unwrap(), None, "{name}");
        assert_eq!(
            health_monitors::get(&db, "hm1").await.unwrap(),
            None,
            "{name}"
        );
        let tags: i64 = dispatch!(db.read(), c => sqlx::query_scalar(
            "SELECT COUNT(*) FROM lb_tags WHERE resource_type <> 'loadbalancer'").fetch_one(c).await)
        .unwrap();
        assert_eq!(tags, 0, "{name}: tags of deleted children are gone");
    }
}

#[tokio::test]
async fn the_status_tree_reads_the_graph() {
    for (db, _dir) in backends().await {
        let name = db.backend_name();
        build_graph(&db).await;
        // A pool on no listener is not in the tree; another LB's objects
        // are not either.
        let mut tx = db.begin().await.unwrap();
        pools::insert(&mut tx, &pool_record("lonely", "lb1"))
            .await
            .unwrap();
        load_balancers::insert(&mut tx, &lb_record("lb2", "p1"))
            .await
            .unwrap();
        listeners::insert(&mut tx, &listener_record("lis9", "lb2", Protocol::Tcp, 80))
            .await
            .unwrap();
        tx.commit().await.unwrap();

        let tree = status::tree(&db, "lb1").await.unwrap().expect("tree");
        let hm = json!({"id": "hm1", "name": "hm", "type": "HTTP",
                        "provisioning_status": "ACTIVE", "operating_status": "ONLINE"});
        let member = |id: &str, address: &str| {
            json!({"id": id, "name": "",
            "operating_status": "NO_MONITOR", "provisioning_status": "ACTIVE",
            "address": address, "protocol_port": 80})
        };
        assert_eq!(
            serde_json::to_value(&tree).unwrap(),
            json!({"statuses": {"loadbalancer": {
                "id": "lb1", "name": "web", "operating_status": "OFFLINE",
                "provisioning_status": "ACTIVE",
                "listeners": [{
                    "id": "lis1", "name": "listener lis1", "operating_status": "OFFLINE",
                    "provisioning_status": "ACTIVE",
                    "pools": [
                        {"id": "pool1", "name": "pool pool1", "provisioning_status": "ACTIVE",
                         "operating_status": "OFFLINE", "health_monitor": hm,
                         "members": [member("m1", "10.0.1.1"), member("m2", "10.0.1.2")]},
                        {"id": "pool2", "name": "pool pool2", "provisioning_status": "ACTIVE",
                         "operating_status": "OFFLINE", "members": []}
                    ]
                }]
            }}}),
            "{name}"
        );
        let mut tx = db.begin().await.unwrap();
        assert_eq!(status::tree_tx(&mut tx, "lb1").await.unwrap(), Some(tree));
        assert_eq!(status::tree(&db, "missing").await.unwrap(), None);
    }
}

#[tokio::test]
async fn flavors_and_zones_in_use_cannot_be_deleted() {
    for (db, _dir) in backends().await {
        let name = db.backend_name();
        let mut tx = db.begin().await.unwrap();
        flavors::insert_flavor_profile(
            &mut tx,
            &FlavorProfile {
                id: "fp1".into(),
                name: "n".into(),
                provider_name: "amphora".into(),
                flavor_data: "{}".into(),
            },
        )
        .await
        .unwrap();
        flavors::insert_flavor(
            &mut tx,
            &Flavor {
                id: "f1".into(),
                name: "small".into(),
                description: None,
                enabled: true,
                flavor_profile_id: "fp1".into(),
            },
        )
        .await
        .unwrap();
        let mut lb = lb_record("lb1", "p1");
        lb.flavor_id = Some("f1".into());
        load_balancers::insert(&mut tx, &lb).await.unwrap();
        assert!(
            flavors::flavor_profile_in_use_tx(&mut tx, "fp1")
                .await
                .unwrap()
        );
        assert!(flavors::flavor_in_use_tx(&mut tx, "f1").await.unwrap());
        tx.commit().await.unwrap();

        let mut tx = db.begin().await.unwrap();
        let e = flavors::delete_flavor(&mut tx, "f1")
            .await
            .expect_err("in use");
        assert!(e.is_conflict(), "{name}: {e:?}");
        drop(tx);
        let mut tx = db.begin().await.unwrap();
        assert!(load_balancers::delete(&mut tx, "lb1").await.unwrap());
        assert!(!flavors::flavor_in_use_tx(&mut tx, "f1").await.unwrap());
        assert!(flavors::delete_flavor(&mut tx, "f1").await.unwrap());
        assert!(
            flavors::delete_flavor_profile(&mut tx, "fp1")
                .await
                .unwrap()
        );
        tx.commit().await.unwrap();
        assert!(
            flavors::list_flavors(&db).await.unwrap().is_empty(),
            "{name}"
        );
    }
}

#[tokio::test]
async fn l7_policies_are_listed_and_renumbered_by_position() {
    for (db, _dir) in backends().await {
        let name = db.backend_name();
        build_graph(&db).await;
        let mut tx = db.begin().await.unwrap();
        l7policies::insert(&mut tx, &policy_record("pol2", "lis1", None, 2))
            .await
            .unwrap();
        l7policies::insert(&mut tx, &policy_record("pol3", "lis1", None, 3))
            .await
            .unwrap();
        l7policies::set_positions(&mut tx, &["pol3", "pol1", "pol2"])
            .await
            .unwrap();
        let order: Vec<(String, i64)> = l7policies::list_by_listener_tx(&mut tx, "lis1")
            .await
            .unwrap()
            .into_iter()
            .map(|p| (p.id, p.position))
            .collect();
        assert_eq!(
            order,
            [("pol3".into(), 1), ("pol1".into(), 2), ("pol2".into(), 3)],
            "{name}"
        );
        assert_eq!(
            l7rules::count_by_policy_tx(&mut tx, "pol1").await.unwrap(),
            1
        );
        assert_eq!(
            l7rules::count_by_policy_tx(&mut tx, "pol3").await.unwrap(),
            0
        );
        tx.commit().await.unwrap();
        let l = listeners::get(&db, "lis1").await.unwrap().unwrap();
        assert_eq!(l.l7policy_ids, ["pol3", "pol1", "pol2"], "{name}");
    }
}
