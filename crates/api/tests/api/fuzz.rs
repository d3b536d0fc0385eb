//! A seeded, bounded fuzz of every resource and method of the Network API
//! (and the identity token endpoint), on SQLite and PostgreSQL.
//!
//! Valid requests are mutated: NUL and other control characters in strings,
//! invalid UTF-8, wrong JSON types, huge strings and arrays, deep nesting,
//! bodies above the limit, empty and non-JSON bodies, bad query strings and
//! bad path ids. Invariants: never a 5xx; every 4xx carries the API's error
//! body; a refused write stores nothing; afterwards the database is
//! consistent and every object left can be deleted by its owner.
//!
//! `NEUTRINO_FUZZ_SEED` replays a run, `NEUTRINO_FUZZ_CASES` sets its length.

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::support::{self, Cloud};

const DEFAULT_SEED: u64 = 0x5eed_2026_0010;
const DEFAULT_CASES: usize = 600;

/// SplitMix64: tiny, and the same sequence on every platform and version.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// The objects the fuzz works on, created valid before it starts.
struct Fixtures {
    net: String,
    net2: String,
    subnet: String,
    subnet2: String,
    port: String,
    ext_net: String,
    router: String,
    fip: String,
    sg: String,
    rbac: String,
}

struct Op {
    /// Identity (`/v3`) or Network API.
    identity: bool,
    method: &'static str,
    uri: String,
    token: String,
    body: Option<Vec<u8>>,
    content_type: Option<&'static str>,
}

async fn raw_send(app: &Router, op: &Op) -> Option<(u16, Value)> {
    let mut b = Request::builder().method(op.method).uri(&op.uri);
    if !op.token.is_empty() {
        b = b.header("x-auth-token", &op.token);
    }
    if let Some(ct) = op.content_type {
        b = b.header("content-type", ct);
    }
    // A URI that HTTP cannot carry never reaches a server.
    let req = b
        .body(Body::from(op.body.clone().unwrap_or_default()))
        .ok()?;
    let resp = app.clone().oneshot(req).await.expect("router never fails");
    let status = resp.status().as_u16();
    Some((status, support::json_body(resp).await))
}

async fn setup(c: &Cloud) -> Fixtures {
    let admin = c.admin.as_str();
    let alice = c.alice.as_str();
    let net = c.network(alice, "fz-net").await;
    let subnet = c.subnet(alice, &net, "10.0.0.0/24", json!({})).await;
    let net2 = c.network(alice, "fz-net2").await;
    let subnet2 = c.subnet(alice, &net2, "10.0.1.0/24", json!({})).await;
    let port = c
        .create(
            alice,
            "port",
            json!({"network_id": net["id"], "name": "fz-port"}),
        )
        .await;
    let ext = c
        .create(
            admin,
            "network",
            json!({"name": "fz-ext", "router:external": true}),
        )
        .await;
    c.subnet(admin, &ext, "172.24.4.0/24", json!({})).await;
    let router = c
        .create(
            alice,
            "router",
            json!({"name": "fz-r", "external_gateway_info": {"network_id": ext["id"]}}),
        )
        .await;
    let rid = router["id"].as_str().unwrap();
    let (s, b) = c
        .call(
            "PUT",
            &format!("/v2.0/routers/{rid}/add_router_interface"),
            alice,
            Some(json!({"subnet_id": subnet["id"]})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let fip = c
        .create(
            alice,
            "floatingip",
            json!({"floating_network_id": ext["id"], "port_id": port["id"]}),
        )
        .await;
    let (s, sg) = c
        .call(
            "POST",
            "/v2.0/security-groups",
            alice,
            Some(json!({"security_group": {"name": "fz-sg"}})),
        )
        .await;
    assert_eq!(s, 201, "{sg}");
    let (s, rbac) = c
        .call(
            "POST",
            "/v2.0/rbac-policies",
            alice,
            Some(
                json!({"rbac_policy": {"object_type": "network", "object_id": net["id"],
                "action": "access_as_shared", "target_tenant": c.bob_project}}),
            ),
        )
        .await;
    assert_eq!(s, 201, "{rbac}");
    // Every project's default group exists before counting starts.
    for t in [&c.admin, &c.alice, &c.bob] {
        c.call("GET", "/v2.0/security-groups", t, None).await;
    }
    let id = |v: &Value| v["id"].as_str().unwrap().to_owned();
    Fixtures {
        net: id(&net),
        net2: id(&net2),
        subnet: id(&subnet),
        subnet2: id(&subnet2),
        port: id(&port),
        ext_net: id(&ext),
        router: rid.to_owned(),
        fip: id(&fip),
        sg: id(&sg["security_group"]),
        rbac: id(&rbac["rbac_policy"]),
    }
}

fn name(rng: &mut Rng) -> Value {
    let choices = ["fz", "fz-é-名前", "", " spaced ", "tab\there"];
    Value::String(format!("{}{}", rng.pick(&choices), rng.below(1000)))
}

fn uuid(rng: &mut Rng) -> String {
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        rng.next() as u32,
        rng.next() as u16,
        rng.next() as u16 & 0xfff,
        rng.next() as u16 & 0xfff,
        rng.next() & 0xffff_ffff_ffff
    )
}

/// A path id: usually hostile, sometimes a real one.
fn bad_id(rng: &mut Rng, real: &str) -> String {
    let choices = [
        "%00".to_string(),
        "%ff".to_string(),
        "a%00b".to_string(),
        "%c3%28".to_string(),
        format!("{real}%00"),
        "..".to_string(),
        "%2e%2e".to_string(),
        "%2F".to_string(),
        "%20".to_string(),
        "%C3%A9".to_string(),
        "%zz".to_string(),
        "x".repeat(5000),
        uuid(rng),
        real.to_uppercase(),
        real.to_string(),
    ];
    rng.pick(&choices).clone()
}

const COLLECTIONS: &[&str] = &[
    "networks",
    "subnets",
    "ports",
    "routers",
    "floatingips",
    "security-groups",
    "security-group-rules",
    "rbac-policies",
];

fn bad_query(rng: &mut Rng) -> String {
    let choices = [
        "%zz".to_string(),
        "%".to_string(),
        "name=%ff".to_string(),
        "name=%00".to_string(),
        "id=%00".to_string(),
        "colour=blue".to_string(),
        "sort_key=bogus".to_string(),
        "sort_key=name&sort_dir=sideways".to_string(),
        "sort_key=name&sort_dir=asc&sort_dir=desc".to_string(),
        "sort_key=id&sort_dir=desc&limit=1".to_string(),
        "limit=-1".to_string(),
        "limit=99999999999999999999999".to_string(),
        "limit=abc".to_string(),
        "limit=0".to_string(),
        format!("limit=1&marker={}", uuid(rng)),
        format!("marker={}", uuid(rng)),
        "limit=2&marker=%00".to_string(),
        "limit=1&page_reverse=maybe".to_string(),
        "fields=%ff".to_string(),
        "fields=id&fields=nope".to_string(),
        "revision_number=abc".to_string(),
        "revision_number=99999999999999999999999".to_string(),
        "tags=%00".to_string(),
        "tags-any=a,,b&not-tags=".to_string(),
        "admin_state_up=maybe".to_string(),
        "project_id=&tenant_id=x".to_string(),
        "name=".to_string(),
        format!("name={}", "a".repeat(20000)),
        "a=b=c&&=&".to_string(),
    ];
    rng.pick(&choices).clone()
}

/// A valid request for one of the API's operations.
fn valid_op(rng: &mut Rng, c: &Cloud, fx: &Fixtures, created: &[(String, String, String)]) -> Op {
    let alice = c.alice.clone();
    let admin = c.admin.clone();
    let op = |method: &'static str, uri: String, token: &str, body: Option<Value>| Op {
        identity: false,
        method,
        uri,
        token: token.to_owned(),
        body: body.map(|b| b.to_string().into_bytes()),
        content_type: Some("application/json"),
    };
    let pick = rng.below(30);
    match pick {
        0 => op(
            "POST",
            "/v2.0/networks".into(),
            &alice,
            Some(
                json!({"network": {"name": name(rng), "description": name(rng), "admin_state_up": true}}),
            ),
        ),
        1 => op(
            "PUT",
            format!("/v2.0/networks/{}", fx.net),
            &alice,
            Some(json!({"network": {"name": name(rng), "description": name(rng)}})),
        ),
        2 => op(
            "POST",
            "/v2.0/subnets".into(),
            &alice,
            Some(json!({"subnet": {
            "network_id": fx.net2, "ip_version": 4, "name": name(rng),
            "cidr": format!("10.{}.{}.0/24", 100 + rng.below(100), rng.below(256)),
            "dns_nameservers": ["8.8.8.8"], "host_routes": [{"destination": "192.168.0.0/24", "nexthop": "10.0.1.5"}]}})),
        ),
        3 => op(
            "PUT",
            format!("/v2.0/subnets/{}", fx.subnet),
            &alice,
            Some(json!({"subnet": {"name": name(rng), "description": name(rng)}})),
        ),
        4 => op(
            "POST",
            "/v2.0/ports".into(),
            &alice,
            Some(json!({"port": {
            "network_id": fx.net, "name": name(rng), "device_id": name(rng), "device_owner": "compute:nova",
            "fixed_ips": [{"subnet_id": fx.subnet}], "allowed_address_pairs": [{"ip_address": "10.0.0.200"}],
            "binding:profile": {"k": "v"}}})),
        ),
        5 => op(
            "POST",
            "/v2.0/ports".into(),
            &admin,
            Some(json!({"port": {
            "network_id": fx.net, "binding:host_id": name(rng), "tenant_id": c.alice_project}})),
        ),
        6 => op(
            "PUT",
            format!("/v2.0/ports/{}", fx.port),
            &alice,
            Some(
                json!({"port": {"name": name(rng), "description": name(rng), "device_id": name(rng)}}),
            ),
        ),
        7 => op(
            "POST",
            "/v2.0/routers".into(),
            &alice,
            Some(
                json!({"router": {"name": name(rng), "external_gateway_info": {"network_id": fx.ext_net}}}),
            ),
        ),
        8 => op(
            "PUT",
            format!("/v2.0/routers/{}", fx.router),
            &alice,
            Some(
                json!({"router": {"name": name(rng), "routes": [{"destination": "10.9.0.0/24", "nexthop": "10.0.0.7"}]}}),
            ),
        ),
        9 => op(
            "PUT",
            format!("/v2.0/routers/{}/add_router_interface", fx.router),
            &alice,
            Some(json!({"subnet_id": fx.subnet2})),
        ),
        10 => op(
            "PUT",
            format!("/v2.0/routers/{}/remove_router_interface", fx.router),
            &alice,
            Some(json!({"subnet_id": fx.subnet2})),
        ),
        11 => op(
            "POST",
            "/v2.0/floatingips".into(),
            &alice,
            Some(
                json!({"floatingip": {"floating_network_id": fx.ext_net, "description": name(rng)}}),
            ),
        ),
        12 => op(
            "PUT",
            format!("/v2.0/floatingips/{}", fx.fip),
            &alice,
            Some(json!({"floatingip": {"port_id": fx.port, "description": name(rng)}})),
        ),
        13 => op(
            "POST",
            "/v2.0/security-groups".into(),
            &alice,
            Some(json!({"security_group": {"name": name(rng), "description": name(rng)}})),
        ),
        14 => op(
            "PUT",
            format!("/v2.0/security-groups/{}", fx.sg),
            &alice,
            Some(json!({"security_group": {"name": name(rng)}})),
        ),
        15 => {
            let p = 1 + rng.below(65535);
            op(
                "POST",
                "/v2.0/security-group-rules".into(),
                &alice,
                Some(json!({"security_group_rule": {
                "security_group_id": fx.sg, "direction": "ingress", "protocol": "tcp", "ethertype": "IPv4",
                "port_range_min": p, "port_range_max": p, "remote_ip_prefix": "10.0.0.0/8", "description": name(rng)}})),
            )
        }
        16 => op(
            "POST",
            "/v2.0/rbac-policies".into(),
            &alice,
            Some(json!({"rbac_policy": {
            "object_type": "network", "object_id": fx.net, "action": "access_as_shared",
            "target_tenant": uuid(rng).replace('-', "")}})),
        ),
        17 => op(
            "PUT",
            format!("/v2.0/rbac-policies/{}", fx.rbac),
            &alice,
            Some(json!({"rbac_policy": {"target_tenant": c.bob_project}})),
        ),
        18 => op(
            "PUT",
            format!("/v2.0/quotas/{}", c.alice_project),
            &admin,
            Some(json!({"quota": {"network": 100, "port": 500, "router": 20}})),
        ),
        19 => {
            let (res, id) = *rng.pick(&[
                ("networks", &fx.net),
                ("ports", &fx.port),
                ("routers", &fx.router),
                ("subnets", &fx.subnet),
                ("security-groups", &fx.sg),
                ("floatingips", &fx.fip),
            ]);
            op(
                "PUT",
                format!("/v2.0/{res}/{id}/tags"),
                &alice,
                Some(json!({"tags": [name(rng), "fz"]})),
            )
        }
        20 => {
            let method = *rng.pick(&["PUT", "DELETE", "GET"]);
            let tag = bad_id(rng, "fz");
            op(
                method,
                format!("/v2.0/networks/{}/tags/{tag}", fx.net),
                &alice,
                None,
            )
        }
        21 => Op {
            identity: true,
            method: "POST",
            uri: "/v3/auth/tokens".into(),
            token: String::new(),
            body: Some(
                json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
                "name": "alice", "domain": {"name": "Default"}, "password": "pw-alice"}}},
                "scope": {"project": {"name": "alpha", "domain": {"name": "Default"}}}}})
                .to_string()
                .into_bytes(),
            ),
            content_type: Some("application/json"),
        },
        22 | 23 => {
            let coll = rng.pick(COLLECTIONS);
            let q = bad_query(rng);
            op("GET", format!("/v2.0/{coll}?{q}"), &alice, None)
        }
        24 => {
            let coll = rng.pick(COLLECTIONS);
            op(
                "GET",
                format!("/v2.0/{coll}/{}", bad_id(rng, &fx.net)),
                &alice,
                None,
            )
        }
        25 => {
            // Deletes: hostile ids, or something the fuzz itself created.
            if !created.is_empty() && rng.chance(50) {
                let (coll, id, token) = rng.pick(created);
                op("DELETE", format!("/v2.0/{coll}/{id}"), token, None)
            } else {
                let coll = rng.pick(COLLECTIONS);
                let real = uuid(rng);
                op(
                    "DELETE",
                    format!("/v2.0/{coll}/{}", bad_id(rng, &real)),
                    &alice,
                    None,
                )
            }
        }
        26 => {
            let coll = *rng.pick(&["networks", "ports", "routers"]);
            let singular = &coll[..coll.len() - 1];
            op(
                "PUT",
                format!("/v2.0/{coll}/{}", bad_id(rng, &fx.net)),
                &alice,
                Some(json!({singular: {"name": name(rng)}})),
            )
        }
        27 => {
            let method = *rng.pick(&["GET", "PUT", "DELETE"]);
            let project = bad_id(rng, &c.bob_project);
            let body = (method == "PUT").then(|| json!({"quota": {"network": 7}}));
            op(method, format!("/v2.0/quotas/{project}"), &admin, body)
        }
        28 => op(
            "GET",
            format!(
                "/v2.0/ports?device_id={}&network_id={}",
                bad_id(rng, "vm"),
                fx.net
            ),
            &alice,
            None,
        ),
        _ => {
            let path = *rng.pick(&["add_router_interface", "remove_router_interface"]);
            op(
                "PUT",
                format!("/v2.0/routers/{}/{path}", fx.router),
                &alice,
                Some(json!({"port_id": fx.port})),
            )
        }
    }
}

/// Every node of a JSON value, by path.
fn paths(v: &Value, here: Vec<String>, out: &mut Vec<Vec<String>>) {
    out.push(here.clone());
    match v {
        Value::Object(m) => m.iter().for_each(|(k, x)| {
            let mut p = here.clone();
            p.push(k.clone());
            paths(x, p, out);
        }),
        Value::Array(a) => a.iter().enumerate().for_each(|(i, x)| {
            let mut p = here.clone();
            p.push(i.to_string());
            paths(x, p, out);
        }),
        _ => {}
    }
}

fn at<'a>(v: &'a mut Value, path: &[String]) -> &'a mut Value {
    path.iter().fold(v, |v, k| match v {
        Value::Array(a) => &mut a[k.parse::<usize>().unwrap()],
        other => &mut other[k.as_str()],
    })
}

fn hostile_value(rng: &mut Rng) -> Value {
    match rng.below(14) {
        0 => json!("a\u{0}b"),
        1 => json!("\u{0}"),
        2 => json!("ctl\u{1}\u{7}\u{1b}[31m\u{7f}"),
        3 => json!("line\nbreak\r\n"),
        4 => json!(42),
        5 => json!(-1),
        6 => json!(1e308),
        7 => json!(true),
        8 => Value::Null,
        9 => json!({"nested": {"x": [1, "y"]}}),
        10 => Value::String("x".repeat(1 + rng.below(300_000))),
        11 => Value::Array((0..10_000).map(|i| json!(i)).collect()),
        12 => (0..100).fold(json!("deep"), |v, _| json!([v])),
        _ => json!(["a", "\u{0}"]),
    }
}

/// Mutates a valid request (or keeps it, now and then).
fn mutate(rng: &mut Rng, op: &mut Op, fx: &Fixtures) {
    if rng.chance(15) {
        return;
    }
    let Some(body) = op.body.take() else {
        // Requests without a body get a hostile query instead.
        let sep = if op.uri.contains('?') { '&' } else { '?' };
        op.uri = format!("{}{sep}{}", op.uri, bad_query(rng));
        return;
    };
    let mut v: Value = serde_json::from_slice(&body).unwrap();
    let bytes = match rng.below(12) {
        0..=4 => {
            let mut all = Vec::new();
            paths(&v, Vec::new(), &mut all);
            let p = rng.pick(&all).clone();
            *at(&mut v, &p) = hostile_value(rng);
            v.to_string().into_bytes()
        }
        5 => {
            // Invalid UTF-8 inside the first string literal.
            let mut b = v.to_string().into_bytes();
            let at = b.iter().position(|c| *c == b'"').map_or(0, |i| i + 1);
            let junk: &[u8] =
                rng.pick::<&[u8]>(&[b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x00", b"\\ud800"]);
            b.splice(at..at, junk.iter().copied());
            b
        }
        6 => {
            let k = rng
                .pick(&["colour", "id", "project_id", "tenant_id", "k\u{0}", ""])
                .to_string();
            if let Some(m) = v
                .as_object_mut()
                .and_then(|m| m.values_mut().next())
                .and_then(Value::as_object_mut)
            {
                m.insert(k, json!("x"));
            }
            v.to_string().into_bytes()
        }
        7 => format!("{{\"x\": \"{}\"}}", "a".repeat(1024 * 1024 + 10)).into_bytes(),
        8 => format!("{}1{}", "[".repeat(5000), "]".repeat(5000)).into_bytes(),
        9 => rng
            .pick(&[
                &b""[..],
                b"   ",
                b"name=x",
                b"{",
                b"[]",
                b"null",
                b"42",
                b"\"s\"",
                b"{}",
            ])
            .to_vec(),
        10 => {
            let s = v.to_string().into_bytes();
            s[..rng.below(s.len().max(1))].to_vec()
        }
        _ => {
            op.content_type = *rng.pick(&[
                None,
                Some("text/plain"),
                Some("application/x-www-form-urlencoded"),
            ]);
            if rng.chance(50) {
                op.uri = op.uri.replace(&fx.net, &bad_id(rng, &fx.net));
            }
            v.to_string().into_bytes()
        }
    };
    op.body = Some(bytes);
}

const TABLES: &[&str] = &[
    "networks",
    "subnets",
    "subnet_allocation_pools",
    "ports",
    "ip_allocations",
    "port_security_groups",
    "routers",
    "floatingips",
    "security_groups",
    "security_group_rules",
    "network_rbacs",
    "tags",
    "quotas",
];

async fn snapshot(c: &Cloud) -> Vec<i64> {
    let mut out = Vec::with_capacity(TABLES.len());
    for t in TABLES {
        out.push(c.count(t).await);
    }
    out
}

fn check_error_body(op: &Op, status: u16, body: &Value) -> Result<(), String> {
    let ok = if op.identity {
        body["error"]["code"] == status
            && body["error"]["title"].is_string()
            && body["error"]["message"].is_string()
    } else {
        body["NeutronError"]["type"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
            && body["NeutronError"]["message"].is_string()
            && body["NeutronError"]["detail"] == ""
    };
    if ok {
        Ok(())
    } else {
        Err(format!("{status} without the API's error body: {body}"))
    }
}

fn describe(op: &Op) -> String {
    let body = op.body.as_deref().map(|b| {
        let s = String::from_utf8_lossy(b);
        if s.chars().count() > 300 {
            format!(
                "{}... ({} bytes)",
                s.chars().take(300).collect::<String>(),
                b.len()
            )
        } else {
            s.into_owned()
        }
    });
    let uri: String = op.uri.chars().take(300).collect();
    format!(
        "{} {uri} content-type={:?} body={body:?}",
        op.method, op.content_type
    )
}

/// Rows that refer to something that is gone, or to the wrong thing.
async fn consistency(c: &Cloud) -> Vec<String> {
    let checks = [
        (
            "allocation on a subnet of another network",
            "SELECT COUNT(*) FROM ip_allocations a JOIN subnets s ON s.id = a.subnet_id WHERE s.network_id <> a.network_id",
        ),
        (
            "allocation of a port on another network",
            "SELECT COUNT(*) FROM ip_allocations a JOIN ports p ON p.id = a.port_id WHERE p.network_id <> a.network_id",
        ),
        (
            "allocation on a missing subnet",
            "SELECT COUNT(*) FROM ip_allocations a WHERE NOT EXISTS (SELECT 1 FROM subnets s WHERE s.id = a.subnet_id)",
        ),
        (
            "floating IP bound to a missing port",
            "SELECT COUNT(*) FROM floatingips f WHERE f.port_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ports p WHERE p.id = f.port_id)",
        ),
        (
            "floating IP on a missing router",
            "SELECT COUNT(*) FROM floatingips f WHERE f.router_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM routers r WHERE r.id = f.router_id)",
        ),
        (
            "floating IP without its own port",
            "SELECT COUNT(*) FROM floatingips f WHERE NOT EXISTS (SELECT 1 FROM ports p WHERE p.id = f.floating_port_id)",
        ),
        (
            "router gateway port missing",
            "SELECT COUNT(*) FROM routers r WHERE r.gw_port_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ports p WHERE p.id = r.gw_port_id)",
        ),
        (
            "router port of a missing router",
            "SELECT COUNT(*) FROM ports p WHERE p.device_owner IN ('network:router_interface', 'network:router_gateway') AND NOT EXISTS (SELECT 1 FROM routers r WHERE r.id = p.device_id)",
        ),
        (
            "port in a missing security group",
            "SELECT COUNT(*) FROM port_security_groups g WHERE NOT EXISTS (SELECT 1 FROM security_groups s WHERE s.id = g.security_group_id)",
        ),
        (
            "rule of a missing security group",
            "SELECT COUNT(*) FROM security_group_rules r WHERE NOT EXISTS (SELECT 1 FROM security_groups s WHERE s.id = r.security_group_id)",
        ),
        // PostgreSQL cannot hold one; SQLite could, and must not.
        (
            "text with a NUL stored",
            "SELECT (SELECT COUNT(*) FROM networks WHERE instr(name, char(0)) > 0) + (SELECT COUNT(*) FROM ports WHERE instr(device_id, char(0)) > 0)",
        ),
    ];
    let mut bad = Vec::new();
    for (what, sql) in checks {
        if sql.contains("char(0)") && c.backend != "sqlite" {
            continue;
        }
        let sql = sql.to_string();
        let n = neutrino_store::dispatch!(c.db.read(), conn => sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.clone())).fetch_one(conn).await)
            .unwrap_or_else(|e| panic!("[{}] {what}: {e}", c.backend));
        if n != 0 {
            bad.push(format!("{what}: {n}"));
        }
    }
    bad
}

/// Deletes everything left, each object by its owner, through the API.
async fn sweep(c: &Cloud) -> Vec<String> {
    let owner = |v: &Value| -> String {
        let p = v["project_id"].as_str().unwrap_or_default();
        if p == c.alice_project {
            c.alice.clone()
        } else if p == c.bob_project {
            c.bob.clone()
        } else {
            c.admin.clone()
        }
    };
    let list = |coll: &'static str| async move {
        let (s, b) = c
            .call("GET", &format!("/v2.0/{coll}"), &c.admin, None)
            .await;
        assert_eq!(s, 200, "[{}] list {coll}: {b}", c.backend);
        b[coll.replace('-', "_")]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    let mut failures = Vec::new();
    let mut expect = |what: String, s: u16, b: &Value, ok: &[u16]| {
        if !ok.contains(&s) {
            failures.push(format!("{what}: {s} {b}"));
        }
    };
    for f in list("floatingips").await {
        let (s, b) = c
            .call(
                "DELETE",
                &format!("/v2.0/floatingips/{}", f["id"].as_str().unwrap()),
                &owner(&f),
                None,
            )
            .await;
        expect(
            format!("delete floating IP {}", f["id"]),
            s,
            &b,
            &[204, 404],
        );
    }
    let ports = list("ports").await;
    for r in list("routers").await {
        let rid = r["id"].as_str().unwrap();
        // Extra routes pin their interfaces (RouterInterfaceInUseByRoute).
        let (s, b) = c
            .call(
                "PUT",
                &format!("/v2.0/routers/{rid}"),
                &owner(&r),
                Some(json!({"router": {"routes": []}})),
            )
            .await;
        expect(format!("clear routes of router {rid}"), s, &b, &[200]);
        for p in ports
            .iter()
            .filter(|p| p["device_id"] == rid && p["device_owner"] == "network:router_interface")
        {
            let (s, b) = c
                .call(
                    "PUT",
                    &format!("/v2.0/routers/{rid}/remove_router_interface"),
                    &owner(&r),
                    Some(json!({"port_id": p["id"]})),
                )
                .await;
            expect(
                format!("remove interface {} of router {rid}", p["id"]),
                s,
                &b,
                &[200, 404],
            );
        }
        let (s, b) = c
            .call("DELETE", &format!("/v2.0/routers/{rid}"), &owner(&r), None)
            .await;
        expect(format!("delete router {rid}"), s, &b, &[204]);
    }
    for p in list("ports").await {
        if p["device_owner"]
            .as_str()
            .is_some_and(|o| o.starts_with("network:"))
        {
            continue;
        }
        let (s, b) = c
            .call(
                "DELETE",
                &format!("/v2.0/ports/{}", p["id"].as_str().unwrap()),
                &owner(&p),
                None,
            )
            .await;
        expect(format!("delete port {}", p["id"]), s, &b, &[204, 404]);
    }
    for r in list("rbac-policies").await {
        if r["target_tenant"] == "*" {
            continue; // the external network's own grant goes with it
        }
        let (s, b) = c
            .call(
                "DELETE",
                &format!("/v2.0/rbac-policies/{}", r["id"].as_str().unwrap()),
                &owner(&r),
                None,
            )
            .await;
        expect(
            format!("delete rbac policy {}", r["id"]),
            s,
            &b,
            &[204, 404],
        );
    }
    for coll in ["subnets", "networks"] {
        for o in list(coll).await {
            let (s, b) = c
                .call(
                    "DELETE",
                    &format!("/v2.0/{coll}/{}", o["id"].as_str().unwrap()),
                    &owner(&o),
                    None,
                )
                .await;
            expect(format!("delete {coll} {}", o["id"]), s, &b, &[204, 404]);
        }
    }
    for g in list("security-groups").await {
        if g["name"] == "default" {
            continue;
        }
        let (s, b) = c
            .call(
                "DELETE",
                &format!("/v2.0/security-groups/{}", g["id"].as_str().unwrap()),
                &owner(&g),
                None,
            )
            .await;
        expect(format!("delete security group {}", g["id"]), s, &b, &[204]);
    }
    for t in [
        "networks",
        "subnets",
        "ports",
        "ip_allocations",
        "routers",
        "floatingips",
        "network_rbacs",
        "tags",
    ] {
        let n = c.count(t).await;
        if n != 0 {
            failures.push(format!("{n} rows left in {t} after deleting everything"));
        }
    }
    failures
}

#[tokio::test]
async fn fuzz_every_resource() {
    let seed = std::env::var("NEUTRINO_FUZZ_SEED")
        .ok()
        .map(|s| {
            let s = s.trim_start_matches("0x");
            u64::from_str_radix(s, 16).expect("NEUTRINO_FUZZ_SEED is hex")
        })
        .unwrap_or(DEFAULT_SEED);
    let cases: usize = std::env::var("NEUTRINO_FUZZ_CASES")
        .ok()
        .map(|s| s.parse().expect("NEUTRINO_FUZZ_CASES is a number"))
        .unwrap_or(DEFAULT_CASES);
    eprintln!("fuzz: NEUTRINO_FUZZ_SEED={seed:x} NEUTRINO_FUZZ_CASES={cases}");
    for c in support::backends().await {
        let started = std::time::Instant::now();
        let fx = setup(&c).await;
        let mut rng = Rng(seed);
        let mut created: Vec<(String, String, String)> = Vec::new();
        let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
        for i in 0..cases {
            let mut op = valid_op(&mut rng, &c, &fx, &created);
            mutate(&mut rng, &mut op, &fx);
            let writes = op.method != "GET";
            let before = if writes {
                Some(snapshot(&c).await)
            } else {
                None
            };
            let app = if op.identity { &c.identity_app } else { &c.app };
            let Some((status, body)) = raw_send(app, &op).await else {
                continue;
            };
            *statuses.entry(status).or_default() += 1;
            let mut problem = None;
            if status >= 500 {
                problem = Some(format!("{status}: {body}"));
            } else if status >= 400 {
                problem = check_error_body(&op, status, &body).err();
                if let (None, Some(before)) = (&problem, before) {
                    let after = snapshot(&c).await;
                    if after != before {
                        problem = Some(format!(
                            "refused with {status} but rows changed {TABLES:?}: {before:?} -> {after:?}; {body}"
                        ));
                    }
                }
            }
            if let Some(why) = problem {
                panic!(
                    "[{}] case {i} (NEUTRINO_FUZZ_SEED={seed:x}): {why}\n  request: {}",
                    c.backend,
                    describe(&op)
                );
            }
            if status == 201 && op.method == "POST" && !op.identity {
                let coll = op
                    .uri
                    .trim_start_matches("/v2.0/")
                    .split(['?', '/'])
                    .next()
                    .unwrap()
                    .to_owned();
                if let Some(id) = body
                    .as_object()
                    .and_then(|m| m.values().next())
                    .and_then(|obj| obj["id"].as_str())
                {
                    created.push((coll, id.to_owned(), op.token.clone()));
                }
            }
        }
        let bad = consistency(&c).await;
        assert!(
            bad.is_empty(),
            "[{}] seed {seed:x}: inconsistent database: {bad:#?}",
            c.backend
        );
        let failures = sweep(&c).await;
        assert!(
            failures.is_empty(),
            "[{}] seed {seed:x}: owners could not delete: {failures:#?}",
            c.backend
        );
        eprintln!(
            "fuzz [{}]: {cases} cases in {:.1?}, statuses {statuses:?}",
            c.backend,
            started.elapsed()
        );
    }
}
