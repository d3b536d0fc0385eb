//! The race harness: every pair of conflicting writes the API has, run
//! concurrently round after round, one side on each of two API servers over
//! the same database. After each round the invariants are checked through
//! the database and the API: no 5xx, no reference to a deleted object, and
//! everything left is deletable by its owner (the round cleans up through
//! the normal API and expects the tables empty). Updates carrying the same
//! `If-Match` revision have exactly one winner, whose write is applied.

use axum::Router;
use axum::http::HeaderValue;
use serde_json::{Value, json};

use crate::support::{self, Cloud, request, send};

/// Rounds per pair and backend: enough to hit the windows on PostgreSQL
/// (they are wide: several statements each) while keeping the file fast.
const ROUNDS: usize = 8;

/// Concurrent PUTs carrying the same `If-Match` revision.
const UPDATERS: usize = 8;

/// A pair of conflicting writes: `A` races `B`. (Every `B` happens to be
/// a delete, which the names say.)
#[allow(clippy::enum_variant_names)]
#[derive(Clone, Copy, Debug)]
enum Pair {
    PortCreateVsNetworkDelete,
    SubnetCreateVsNetworkDelete,
    RuleCreateVsGroupDelete,
    RemoteGroupRuleVsRemoteGroupDelete,
    RbacCreateVsNetworkDelete,
    InterfaceAddVsRouterDelete,
    InterfaceAddVsSubnetDelete,
    InterfaceByPortVsPortDelete,
    FloatingIpCreateVsPortDelete,
    FloatingIpAssociateVsPortDelete,
    GatewaySetVsExternalNetworkDelete,
    PortOnSubnetVsSubnetDelete,
    PortGroupsVsGroupDelete,
    InterfaceRemoveVsRouterDelete,
}

const PAIRS: &[Pair] = &[
    Pair::PortCreateVsNetworkDelete,
    Pair::SubnetCreateVsNetworkDelete,
    Pair::RuleCreateVsGroupDelete,
    Pair::RemoteGroupRuleVsRemoteGroupDelete,
    Pair::RbacCreateVsNetworkDelete,
    Pair::InterfaceAddVsRouterDelete,
    Pair::InterfaceAddVsSubnetDelete,
    Pair::InterfaceByPortVsPortDelete,
    Pair::FloatingIpCreateVsPortDelete,
    Pair::FloatingIpAssociateVsPortDelete,
    Pair::GatewaySetVsExternalNetworkDelete,
    Pair::PortOnSubnetVsSubnetDelete,
    Pair::PortGroupsVsGroupDelete,
    Pair::InterfaceRemoveVsRouterDelete,
];

/// What a round starts from. Tenant objects belong to alice, the external
/// network to the admin.
#[derive(Default)]
struct Fx {
    net: String,
    subnet: String,
    router: String,
    port: String,
    sg: String,
    remote_sg: String,
    ext_net: String,
    fip: String,
}

/// One request of a pair.
struct Call {
    method: &'static str,
    path: String,
    token: String,
    body: Option<Value>,
}

impl Call {
    fn new(method: &'static str, path: String, token: &str, body: Option<Value>) -> Call {
        Call {
            method,
            path,
            token: token.to_string(),
            body,
        }
    }
}

async fn setup(c: &Cloud, pair: Pair, round: usize) -> Fx {
    use Pair::*;
    let mut fx = Fx::default();
    let net = c.network(&c.alice, &format!("race-{round}")).await;
    fx.net = id(&net);
    fx.subnet = id(&c
        .subnet(
            &c.alice,
            &net,
            "10.60.0.0/24",
            json!({"gateway_ip": "10.60.0.1"}),
        )
        .await);
    let needs_router = matches!(
        pair,
        InterfaceAddVsRouterDelete
            | InterfaceAddVsSubnetDelete
            | InterfaceByPortVsPortDelete
            | FloatingIpCreateVsPortDelete
            | FloatingIpAssociateVsPortDelete
            | GatewaySetVsExternalNetworkDelete
            | InterfaceRemoveVsRouterDelete
    );
    let needs_ext = matches!(
        pair,
        FloatingIpCreateVsPortDelete
            | FloatingIpAssociateVsPortDelete
            | GatewaySetVsExternalNetworkDelete
    );
    if needs_ext {
        let ext = c
            .create(
                &c.admin,
                "network",
                json!({"name": "race-ext", "router:external": true}),
            )
            .await;
        fx.ext_net = id(&ext);
        c.subnet(&c.admin, &ext, "172.30.0.0/24", json!({})).await;
    }
    if needs_router {
        let mut body = json!({"name": "race-router"});
        if matches!(
            pair,
            FloatingIpCreateVsPortDelete | FloatingIpAssociateVsPortDelete
        ) {
            body["external_gateway_info"] = json!({"network_id": fx.ext_net});
        }
        fx.router = id(&c.create(&c.alice, "router", body).await);
    }
    if matches!(
        pair,
        FloatingIpCreateVsPortDelete
            | FloatingIpAssociateVsPortDelete
            | InterfaceRemoveVsRouterDelete
    ) {
        let (s, b) = c
            .call(
                "PUT",
                &format!("/v2.0/routers/{}/add_router_interface", fx.router),
                &c.alice,
                Some(json!({"subnet_id": fx.subnet})),
            )
            .await;
        assert_eq!(s, 200, "[{}] add interface: {b}", c.backend);
    }
    if matches!(
        pair,
        InterfaceByPortVsPortDelete
            | FloatingIpCreateVsPortDelete
            | FloatingIpAssociateVsPortDelete
            | PortGroupsVsGroupDelete
    ) {
        fx.port = id(&c
            .create(&c.alice, "port", json!({"network_id": fx.net}))
            .await);
    }
    if matches!(pair, FloatingIpAssociateVsPortDelete) {
        fx.fip = id(&c
            .create(
                &c.alice,
                "floatingip",
                json!({"floating_network_id": fx.ext_net}),
            )
            .await);
    }
    if matches!(
        pair,
        RuleCreateVsGroupDelete | RemoteGroupRuleVsRemoteGroupDelete | PortGroupsVsGroupDelete
    ) {
        fx.sg = id(&security_group(c, "race-sg").await);
    }
    if matches!(pair, RemoteGroupRuleVsRemoteGroupDelete) {
        fx.remote_sg = id(&security_group(c, "race-remote").await);
    }
    fx
}

fn sides(c: &Cloud, pair: Pair, fx: &Fx) -> [Call; 2] {
    use Pair::*;
    let alice = c.alice.as_str();
    let add_interface = |body: Value| {
        Call::new(
            "PUT",
            format!("/v2.0/routers/{}/add_router_interface", fx.router),
            alice,
            Some(body),
        )
    };
    let delete = |what: &str, id: &str, token: &str| {
        Call::new("DELETE", format!("/v2.0/{what}/{id}"), token, None)
    };
    match pair {
        PortCreateVsNetworkDelete => [
            Call::new(
                "POST",
                "/v2.0/ports".into(),
                alice,
                Some(json!({"port": {"network_id": fx.net}})),
            ),
            delete("networks", &fx.net, alice),
        ],
        SubnetCreateVsNetworkDelete => [
            Call::new(
                "POST",
                "/v2.0/subnets".into(),
                alice,
                Some(
                    json!({"subnet": {"network_id": fx.net, "cidr": "10.61.0.0/24", "ip_version": 4}}),
                ),
            ),
            delete("networks", &fx.net, alice),
        ],
        RuleCreateVsGroupDelete => [
            Call::new(
                "POST",
                "/v2.0/security-group-rules".into(),
                alice,
                Some(json!({"security_group_rule": {
                    "security_group_id": fx.sg, "direction": "ingress", "ethertype": "IPv4",
                    "protocol": "tcp", "port_range_min": 22, "port_range_max": 22}})),
            ),
            delete("security-groups", &fx.sg, alice),
        ],
        RemoteGroupRuleVsRemoteGroupDelete => [
            Call::new(
                "POST",
                "/v2.0/security-group-rules".into(),
                alice,
                Some(json!({"security_group_rule": {
                    "security_group_id": fx.sg, "direction": "ingress", "ethertype": "IPv4",
                    "remote_group_id": fx.remote_sg}})),
            ),
            delete("security-groups", &fx.remote_sg, alice),
        ],
        RbacCreateVsNetworkDelete => [
            Call::new(
                "POST",
                "/v2.0/rbac-policies".into(),
                alice,
                Some(json!({"rbac_policy": {
                    "object_type": "network", "object_id": fx.net,
                    "action": "access_as_shared", "target_tenant": c.bob_project}})),
            ),
            delete("networks", &fx.net, alice),
        ],
        InterfaceAddVsRouterDelete => [
            add_interface(json!({"subnet_id": fx.subnet})),
            delete("routers", &fx.router, alice),
        ],
        InterfaceAddVsSubnetDelete => [
            add_interface(json!({"subnet_id": fx.subnet})),
            delete("subnets", &fx.subnet, alice),
        ],
        InterfaceByPortVsPortDelete => [
            add_interface(json!({"port_id": fx.port})),
            delete("ports", &fx.port, alice),
        ],
        FloatingIpCreateVsPortDelete => [
            Call::new(
                "POST",
                "/v2.0/floatingips".into(),
                alice,
                Some(
                    json!({"floatingip": {"floating_network_id": fx.ext_net, "port_id": fx.port}}),
                ),
            ),
            delete("ports", &fx.port, alice),
        ],
        FloatingIpAssociateVsPortDelete => [
            Call::new(
                "PUT",
                format!("/v2.0/floatingips/{}", fx.fip),
                alice,
                Some(json!({"floatingip": {"port_id": fx.port}})),
            ),
            delete("ports", &fx.port, alice),
        ],
        GatewaySetVsExternalNetworkDelete => [
            Call::new(
                "PUT",
                format!("/v2.0/routers/{}", fx.router),
                alice,
                Some(json!({"router": {"external_gateway_info": {"network_id": fx.ext_net}}})),
            ),
            delete("networks", &fx.ext_net, &c.admin),
        ],
        PortOnSubnetVsSubnetDelete => [
            Call::new(
                "POST",
                "/v2.0/ports".into(),
                alice,
                Some(
                    json!({"port": {"network_id": fx.net, "fixed_ips": [{"subnet_id": fx.subnet}]}}),
                ),
            ),
            delete("subnets", &fx.subnet, alice),
        ],
        PortGroupsVsGroupDelete => [
            Call::new(
                "PUT",
                format!("/v2.0/ports/{}", fx.port),
                alice,
                Some(json!({"port": {"security_groups": [fx.sg]}})),
            ),
            delete("security-groups", &fx.sg, alice),
        ],
        InterfaceRemoveVsRouterDelete => [
            Call::new(
                "PUT",
                format!("/v2.0/routers/{}/remove_router_interface", fx.router),
                alice,
                Some(json!({"subnet_id": fx.subnet})),
            ),
            delete("routers", &fx.router, alice),
        ],
    }
}

async fn security_group(c: &Cloud, name: &str) -> Value {
    let (s, b) = c
        .call(
            "POST",
            "/v2.0/security-groups",
            &c.alice,
            Some(json!({"security_group": {"name": name}})),
        )
        .await;
    assert_eq!(s, 201, "[{}] create security group: {b}", c.backend);
    b["security_group"].clone()
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

async fn run(app: Router, call: Call, if_match: Option<i64>) -> (u16, Value) {
    let mut req = request(call.method, &call.path, Some(&call.token), call.body);
    if let Some(rev) = if_match {
        req.headers_mut().insert(
            "if-match",
            HeaderValue::from_str(&format!("revision_number={rev}")).expect("header"),
        );
    }
    let (s, _, b) = send(&app, req).await;
    (s.as_u16(), b)
}

/// Rows that name an object that no longer exists. Foreign keys cover the
/// rest; these columns have none (a device id names a router or a VM, a
/// floating IP's port may be any port).
const DANGLING: &[(&str, &str)] = &[
    (
        "router ports of a missing router",
        "SELECT COUNT(*) FROM ports p WHERE p.device_owner LIKE 'network:router%' \
         AND NOT EXISTS (SELECT 1 FROM routers r WHERE r.id = p.device_id)",
    ),
    (
        "floating IPs bound to a missing port",
        "SELECT COUNT(*) FROM floatingips f WHERE f.port_id IS NOT NULL \
         AND NOT EXISTS (SELECT 1 FROM ports p WHERE p.id = f.port_id)",
    ),
    (
        "floating IPs on a missing router",
        "SELECT COUNT(*) FROM floatingips f WHERE f.router_id IS NOT NULL \
         AND NOT EXISTS (SELECT 1 FROM routers r WHERE r.id = f.router_id)",
    ),
    (
        "floating IPs without their address port",
        "SELECT COUNT(*) FROM floatingips f \
         WHERE NOT EXISTS (SELECT 1 FROM ports p WHERE p.id = f.floating_port_id)",
    ),
    (
        "routers with a missing gateway port or network",
        "SELECT COUNT(*) FROM routers r WHERE (r.gw_port_id IS NOT NULL \
         AND NOT EXISTS (SELECT 1 FROM ports p WHERE p.id = r.gw_port_id)) \
         OR (r.gw_network_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM networks n WHERE n.id = r.gw_network_id))",
    ),
    (
        "ports in a missing security group",
        "SELECT COUNT(*) FROM port_security_groups b \
         WHERE NOT EXISTS (SELECT 1 FROM security_groups g WHERE g.id = b.security_group_id)",
    ),
    (
        "rules of a missing group",
        "SELECT COUNT(*) FROM security_group_rules r \
         WHERE NOT EXISTS (SELECT 1 FROM security_groups g WHERE g.id = r.security_group_id) \
         OR (r.remote_group_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM security_groups g WHERE g.id = r.remote_group_id))",
    ),
    (
        "addresses of a missing port or subnet",
        "SELECT COUNT(*) FROM ip_allocations a \
         WHERE NOT EXISTS (SELECT 1 FROM ports p WHERE p.id = a.port_id) \
         OR NOT EXISTS (SELECT 1 FROM subnets s WHERE s.id = a.subnet_id)",
    ),
    (
        "ports or subnets of a missing network",
        "SELECT (SELECT COUNT(*) FROM ports p WHERE NOT EXISTS (SELECT 1 FROM networks n WHERE n.id = p.network_id)) \
         + (SELECT COUNT(*) FROM subnets s WHERE NOT EXISTS (SELECT 1 FROM networks n WHERE n.id = s.network_id))",
    ),
];

async fn scalar(c: &Cloud, sql: &str) -> i64 {
    neutrino_store::dispatch!(c.db.read(), db => sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_string())).fetch_one(db).await)
        .expect("invariant query")
}

async fn assert_no_dangling(c: &Cloud, what: &str) {
    for (name, sql) in DANGLING {
        assert_eq!(scalar(c, sql).await, 0, "[{}] {what}: {name}", c.backend);
    }
}

async fn list(c: &Cloud, token: &str, path: &str, key: &str) -> Vec<Value> {
    let (s, b) = c.call("GET", path, token, None).await;
    assert_eq!(s, 200, "[{}] GET {path}: {b}", c.backend);
    b[key].as_array().cloned().unwrap_or_default()
}

async fn expect(
    c: &Cloud,
    what: &str,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
    want: u16,
) {
    let (s, b) = c.call(method, path, token, body).await;
    assert_eq!(
        s, want,
        "[{}] {what}: cleanup {method} {path}: {b}",
        c.backend
    );
}

/// Deletes everything left, as its owner, in dependency order, and
/// expects every table of the round empty afterwards.
async fn clean_up(c: &Cloud, what: &str) {
    for f in list(c, &c.alice, "/v2.0/floatingips", "floatingips").await {
        expect(
            c,
            what,
            "DELETE",
            &format!("/v2.0/floatingips/{}", id(&f)),
            &c.alice,
            None,
            204,
        )
        .await;
    }
    for r in list(c, &c.alice, "/v2.0/routers", "routers").await {
        let rid = id(&r);
        let ports = list(
            c,
            &c.alice,
            &format!("/v2.0/ports?device_id={rid}&device_owner=network:router_interface"),
            "ports",
        )
        .await;
        for p in ports {
            expect(
                c,
                what,
                "PUT",
                &format!("/v2.0/routers/{rid}/remove_router_interface"),
                &c.alice,
                Some(json!({"port_id": id(&p)})),
                200,
            )
            .await;
        }
        expect(
            c,
            what,
            "DELETE",
            &format!("/v2.0/routers/{rid}"),
            &c.alice,
            None,
            204,
        )
        .await;
    }
    for p in list(c, &c.alice, "/v2.0/ports", "ports").await {
        expect(
            c,
            what,
            "DELETE",
            &format!("/v2.0/ports/{}", id(&p)),
            &c.alice,
            None,
            204,
        )
        .await;
    }
    for n in list(c, &c.alice, "/v2.0/networks", "networks").await {
        if n["project_id"] == json!(c.alice_project) {
            expect(
                c,
                what,
                "DELETE",
                &format!("/v2.0/networks/{}", id(&n)),
                &c.alice,
                None,
                204,
            )
            .await;
        }
    }
    for n in list(c, &c.admin, "/v2.0/networks", "networks").await {
        expect(
            c,
            what,
            "DELETE",
            &format!("/v2.0/networks/{}", id(&n)),
            &c.admin,
            None,
            204,
        )
        .await;
    }
    for g in list(c, &c.alice, "/v2.0/security-groups", "security_groups").await {
        if g["name"] != "default" {
            expect(
                c,
                what,
                "DELETE",
                &format!("/v2.0/security-groups/{}", id(&g)),
                &c.alice,
                None,
                204,
            )
            .await;
        }
    }
    for table in [
        "floatingips",
        "routers",
        "ports",
        "ip_allocations",
        "subnets",
        "networks",
        "network_rbacs",
    ] {
        assert_eq!(
            c.count(table).await,
            0,
            "[{}] {what}: {table} left after clean-up",
            c.backend
        );
    }
}

/// Every conflicting pair, concurrently, on two API servers.
#[tokio::test]
async fn conflicting_writes_keep_the_invariants() {
    for c in support::backends().await {
        let other = c.replica().await;
        // RACES_ONLY=<pair> narrows a run to one pair while investigating.
        let only = std::env::var("RACES_ONLY").ok();
        for &pair in PAIRS {
            if only.as_ref().is_some_and(|o| *o != format!("{pair:?}")) {
                continue;
            }
            for round in 0..ROUNDS {
                let fx = setup(&c, pair, round).await;
                let [a, b] = sides(&c, pair, &fx);
                // Alternate which side goes to which server and which is
                // spawned first, so both orders get their chance.
                let (app_a, app_b) = if round % 2 == 0 {
                    (c.app.clone(), other.clone())
                } else {
                    (other.clone(), c.app.clone())
                };
                let ta = tokio::spawn(run(app_a, a, None));
                let tb = tokio::spawn(run(app_b, b, None));
                let (sa, ba) = ta.await.expect("task");
                let (sb, bb) = tb.await.expect("task");
                let what = format!("{pair:?} round {round}");
                assert!(sa < 500, "[{}] {what}: first side {sa}: {ba}", c.backend);
                assert!(sb < 500, "[{}] {what}: second side {sb}: {bb}", c.backend);
                assert_no_dangling(&c, &what).await;
                clean_up(&c, &what).await;
            }
        }
    }
}

/// What each resource's update looks like: path prefix, body key, the
/// attribute the updaters race on.
const UPDATABLE: &[(&str, &str, &str)] = &[
    ("ports", "port", "name"),
    ("networks", "network", "name"),
    ("subnets", "subnet", "name"),
    ("routers", "router", "name"),
    ("security-groups", "security_group", "name"),
    ("floatingips", "floatingip", "description"),
];

/// `UPDATERS` PUTs with the same `If-Match` revision: one wins, the others
/// get 412, and the winner's value is what is stored.
#[tokio::test]
async fn if_match_has_exactly_one_winner() {
    for c in support::backends().await {
        let other = c.replica().await;
        let net = c.network(&c.alice, "cas").await;
        let subnet = c.subnet(&c.alice, &net, "10.62.0.0/24", json!({})).await;
        let port = c
            .create(&c.alice, "port", json!({"network_id": net["id"]}))
            .await;
        let router = c.create(&c.alice, "router", json!({"name": "cas"})).await;
        let sg = security_group(&c, "cas").await;
        let ext = c
            .create(
                &c.admin,
                "network",
                json!({"name": "cas-ext", "router:external": true}),
            )
            .await;
        c.subnet(&c.admin, &ext, "172.31.0.0/24", json!({})).await;
        let fip = c
            .create(
                &c.alice,
                "floatingip",
                json!({"floating_network_id": ext["id"]}),
            )
            .await;
        let ids = [&port, &net, &subnet, &router, &sg, &fip].map(id);
        for (&(path, key, attr), obj) in UPDATABLE.iter().zip(ids) {
            for round in 0..ROUNDS / 2 {
                let url = format!("/v2.0/{path}/{obj}");
                let (s, cur) = c.call("GET", &url, &c.alice, None).await;
                assert_eq!(s, 200, "{cur}");
                let rev = cur[key]["revision_number"].as_i64().expect("revision");
                let tasks: Vec<_> = (0..UPDATERS)
                    .map(|i| {
                        let app = if i % 2 == 0 {
                            c.app.clone()
                        } else {
                            other.clone()
                        };
                        let call = Call::new(
                            "PUT",
                            url.clone(),
                            &c.alice,
                            Some(json!({key: {attr: format!("w{round}-{i}")}})),
                        );
                        tokio::spawn(run(app, call, Some(rev)))
                    })
                    .collect();
                let mut winners = Vec::new();
                for (i, t) in tasks.into_iter().enumerate() {
                    let (s, b) = t.await.expect("task");
                    match s {
                        200 => winners.push(i),
                        412 => assert_eq!(
                            b["NeutronError"]["type"], "RevisionNumberConstraintFailed",
                            "{b}"
                        ),
                        other => panic!("[{}] {path}: unexpected {other}: {b}", c.backend),
                    }
                }
                assert_eq!(
                    winners.len(),
                    1,
                    "[{}] {path} round {round}: winners {winners:?}",
                    c.backend
                );
                let (_, now) = c.call("GET", &url, &c.alice, None).await;
                assert_eq!(
                    now[key][attr],
                    json!(format!("w{round}-{}", winners[0])),
                    "[{}] {path}: the winner's write is stored",
                    c.backend
                );
                assert_eq!(
                    now[key]["revision_number"].as_i64(),
                    Some(rev + 1),
                    "[{}] {path}: one write applied",
                    c.backend
                );
            }
        }
    }
}
