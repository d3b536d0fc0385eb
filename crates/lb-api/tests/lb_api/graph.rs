//! The graph ("fully populated") load balancer create (design §2.13):
//! the whole tree written PENDING_CREATE in the load balancer's
//! transaction and answered in upstream's full form, then ACTIVE with the
//! load balancer; every refusal (upstream's status and faultstring) with
//! nothing stored, the VIP port included; quotas per resource; the
//! cascade delete of a graph load balancer.

use neutrino_lb_api::LbConfig;
use neutrino_lb_types::model::Quota;
use serde_json::{Value, json};

use crate::fixtures::{LBS, cascade_delete, count, row_counts, set_quota};
use crate::support::{FORBIDDEN, backends, fault, id_of, send, send_json};

/// The rows a graph create may write, table by table.
const TABLES: [&str; 8] = [
    "lb_load_balancers",
    "lb_listeners",
    "lb_pools",
    "lb_members",
    "lb_health_monitors",
    "lb_l7policies",
    "lb_l7rules",
    "ports",
];

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    k.sort();
    k
}

fn sorted(k: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = k.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

const LISTENER_FULL_KEYS: &[&str] = &[
    "id",
    "name",
    "description",
    "provisioning_status",
    "operating_status",
    "admin_state_up",
    "protocol",
    "protocol_port",
    "connection_limit",
    "default_tls_container_ref",
    "sni_container_refs",
    "project_id",
    "default_pool_id",
    "l7policies",
    "insert_headers",
    "created_at",
    "updated_at",
    "timeout_client_data",
    "timeout_member_connect",
    "timeout_member_data",
    "timeout_tcp_inspect",
    "tags",
    "client_ca_tls_container_ref",
    "client_authentication",
    "client_crl_container_ref",
    "allowed_cidrs",
    "tls_ciphers",
    "tls_versions",
    "alpn_protocols",
    "hsts_max_age",
    "hsts_include_subdomains",
    "hsts_preload",
    "tenant_id",
];

const POOL_FULL_KEYS: &[&str] = &[
    "id",
    "name",
    "description",
    "provisioning_status",
    "operating_status",
    "admin_state_up",
    "protocol",
    "lb_algorithm",
    "session_persistence",
    "project_id",
    "listeners",
    "created_at",
    "updated_at",
    "members",
    "tags",
    "tls_container_ref",
    "ca_tls_container_ref",
    "crl_container_ref",
    "tls_enabled",
    "tls_ciphers",
    "tls_versions",
    "alpn_protocols",
    "tenant_id",
];

const MEMBER_KEYS: &[&str] = &[
    "id",
    "name",
    "operating_status",
    "provisioning_status",
    "admin_state_up",
    "address",
    "protocol_port",
    "weight",
    "backup",
    "subnet_id",
    "project_id",
    "created_at",
    "updated_at",
    "monitor_address",
    "monitor_port",
    "tags",
    "vnic_type",
    "tenant_id",
];

const HM_FULL_KEYS: &[&str] = &[
    "id",
    "name",
    "type",
    "delay",
    "timeout",
    "max_retries",
    "max_retries_down",
    "http_method",
    "url_path",
    "expected_codes",
    "admin_state_up",
    "project_id",
    "provisioning_status",
    "operating_status",
    "created_at",
    "updated_at",
    "tags",
    "http_version",
    "domain_name",
    "tenant_id",
];

const L7POLICY_FULL_KEYS: &[&str] = &[
    "id",
    "name",
    "description",
    "provisioning_status",
    "operating_status",
    "admin_state_up",
    "project_id",
    "action",
    "listener_id",
    "redirect_pool_id",
    "redirect_url",
    "redirect_prefix",
    "position",
    "rules",
    "created_at",
    "updated_at",
    "tags",
    "redirect_http_code",
    "tenant_id",
];

const L7RULE_KEYS: &[&str] = &[
    "id",
    "type",
    "compare_type",
    "key",
    "value",
    "invert",
    "provisioning_status",
    "operating_status",
    "created_at",
    "updated_at",
    "project_id",
    "admin_state_up",
    "tags",
    "tenant_id",
];

/// The design document's graph: an HTTP listener whose default pool is
/// named (defined in `pools`, with two members and an HTTP monitor) and
/// whose L7 policy redirects to a second pool defined inline, with one
/// rule.
fn document_graph(subnet: &str) -> Value {
    json!({"loadbalancer": {
        "name": "graph",
        "vip_subnet_id": subnet,
        "listeners": [{
            "name": "http",
            "protocol": "HTTP",
            "protocol_port": 80,
            "default_pool": {"name": "web"},
            "l7policies": [{
                "name": "api",
                "action": "REDIRECT_TO_POOL",
                "redirect_pool": {"name": "api-pool", "protocol": "HTTP",
                                  "lb_algorithm": "LEAST_CONNECTIONS"},
                "rules": [{"type": "PATH", "compare_type": "STARTS_WITH", "value": "/api"}]
            }]
        }],
        "pools": [{
            "name": "web",
            "protocol": "HTTP",
            "lb_algorithm": "ROUND_ROBIN",
            "members": [
                {"name": "m1", "address": "10.30.0.10", "protocol_port": 8080},
                {"name": "m2", "address": "10.30.0.11", "protocol_port": 8080, "weight": 5}
            ],
            "healthmonitor": {"name": "hm", "type": "HTTP", "delay": 5, "timeout": 3,
                              "max_retries": 2}
        }]
    }})
}

fn by_name<'a>(list: &'a Value, name: &str) -> &'a Value {
    list.as_array()
        .and_then(|a| a.iter().find(|x| x["name"] == name))
        .unwrap_or_else(|| panic!("no {name} in {list}"))
}

#[tokio::test]
async fn graph_create_writes_the_tree_pending_and_the_flow_makes_it_active() {
    for cloud in backends().await {
        let b = cloud.backend;
        let app = cloud.lb(LbConfig::default());
        let (_, subnet) = cloud.network(&cloud.alice, "10.30.0.0/24").await;
        let a = send_json(
            &app,
            "POST",
            LBS,
            Some(&cloud.alice),
            document_graph(&subnet),
        )
        .await;
        assert_eq!(a.status, 201, "{b}: {}", a.body);
        let lb = &a.body["loadbalancer"];
        let id = id_of(lb);
        assert_eq!(lb["name"], "graph", "{b}");
        assert_eq!(lb["provisioning_status"], "PENDING_CREATE", "{b}");
        assert_eq!(lb["operating_status"], "OFFLINE", "{b}");
        assert_eq!(lb["project_id"], cloud.alpha.as_str(), "{b}");

        // Pools: both, in full form.
        let pools = &lb["pools"];
        assert_eq!(pools.as_array().map(Vec::len), Some(2), "{b}: {pools}");
        let web = by_name(pools, "web");
        let api = by_name(pools, "api-pool");
        let (web_id, api_id) = (id_of(web), id_of(api));
        let mut web_keys = POOL_FULL_KEYS.to_vec();
        web_keys.push("healthmonitor");
        assert_eq!(keys(web), sorted(&web_keys), "{b}: {web}");
        assert_eq!(keys(api), sorted(POOL_FULL_KEYS), "{b}: {api}");
        for p in [web, api] {
            assert_eq!(p["provisioning_status"], "PENDING_CREATE", "{b}");
            assert_eq!(p["operating_status"], "OFFLINE", "{b}");
            assert_eq!(p["protocol"], "HTTP", "{b}");
            assert_eq!(p["project_id"], cloud.alpha.as_str(), "{b}");
            assert_eq!(p["tenant_id"], cloud.alpha.as_str(), "{b}");
        }
        assert_eq!(web["lb_algorithm"], "ROUND_ROBIN", "{b}");
        assert_eq!(api["lb_algorithm"], "LEAST_CONNECTIONS", "{b}");
        assert_eq!(api["members"], json!([]), "{b}");
        let hm = &web["healthmonitor"];
        assert_eq!(keys(hm), sorted(HM_FULL_KEYS), "{b}: {hm}");
        assert_eq!(hm["name"], "hm", "{b}");
        assert_eq!(hm["type"], "HTTP", "{b}");
        assert_eq!(hm["http_method"], "GET", "{b}");
        assert_eq!(hm["url_path"], "/", "{b}");
        assert_eq!(hm["expected_codes"], "200", "{b}");
        assert_eq!(hm["max_retries_down"], 3, "{b}");
        assert_eq!(hm["provisioning_status"], "PENDING_CREATE", "{b}");
        assert_eq!(hm["operating_status"], "OFFLINE", "{b}");
        let members = &web["members"];
        assert_eq!(members.as_array().map(Vec::len), Some(2), "{b}");
        let m1 = by_name(members, "m1");
        let m2 = by_name(members, "m2");
        assert_eq!(keys(m1), sorted(MEMBER_KEYS), "{b}: {m1}");
        assert_eq!(m1["address"], "10.30.0.10", "{b}");
        assert_eq!(m1["weight"], 1, "{b}");
        assert_eq!(m2["weight"], 5, "{b}");
        for m in [m1, m2] {
            assert_eq!(m["provisioning_status"], "PENDING_CREATE", "{b}");
            // The pool has a monitor: members start OFFLINE.
            assert_eq!(m["operating_status"], "OFFLINE", "{b}");
            assert_eq!(m["protocol_port"], 8080, "{b}");
        }

        // The listener with its policy and rule inline.
        let listeners = &lb["listeners"];
        assert_eq!(listeners.as_array().map(Vec::len), Some(1), "{b}");
        let l = &listeners[0];
        let lid = id_of(l);
        assert_eq!(keys(l), sorted(LISTENER_FULL_KEYS), "{b}: {l}");
        assert_eq!(l["name"], "http", "{b}");
        assert_eq!(l["protocol"], "HTTP", "{b}");
        assert_eq!(l["protocol_port"], 80, "{b}");
        assert_eq!(l["default_pool_id"], web_id.as_str(), "{b}");
        assert_eq!(l["provisioning_status"], "PENDING_CREATE", "{b}");
        assert_eq!(l["operating_status"], "OFFLINE", "{b}");
        assert_eq!(l["connection_limit"], -1, "{b}");
        // Both pools serve the listener: the default pool, and the
        // redirect pool through an enabled policy with a rule.
        assert_eq!(web["listeners"], json!([{"id": lid}]), "{b}");
        assert_eq!(api["listeners"], json!([{"id": lid}]), "{b}");
        let policies = &l["l7policies"];
        assert_eq!(policies.as_array().map(Vec::len), Some(1), "{b}");
        let p = &policies[0];
        let pid = id_of(p);
        assert_eq!(keys(p), sorted(L7POLICY_FULL_KEYS), "{b}: {p}");
        assert_eq!(p["name"], "api", "{b}");
        assert_eq!(p["action"], "REDIRECT_TO_POOL", "{b}");
        assert_eq!(p["redirect_pool_id"], api_id.as_str(), "{b}");
        assert_eq!(p["redirect_url"], Value::Null, "{b}");
        assert_eq!(p["redirect_http_code"], Value::Null, "{b}");
        assert_eq!(p["listener_id"], lid.as_str(), "{b}");
        assert_eq!(p["position"], 1, "{b}");
        assert_eq!(p["provisioning_status"], "PENDING_CREATE", "{b}");
        assert_eq!(p["operating_status"], "OFFLINE", "{b}");
        let rules = &p["rules"];
        assert_eq!(rules.as_array().map(Vec::len), Some(1), "{b}");
        let r = &rules[0];
        assert_eq!(keys(r), sorted(L7RULE_KEYS), "{b}: {r}");
        assert_eq!(r["type"], "PATH", "{b}");
        assert_eq!(r["compare_type"], "STARTS_WITH", "{b}");
        assert_eq!(r["value"], "/api", "{b}");
        assert_eq!(r["key"], Value::Null, "{b}");
        assert_eq!(r["invert"], false, "{b}");
        assert_eq!(r["provisioning_status"], "PENDING_CREATE", "{b}");
        assert_eq!(r["operating_status"], "OFFLINE", "{b}");

        // What was stored is what was answered.
        let where_lb = format!("load_balancer_id = '{id}'");
        for (sql, want) in [
            (
                format!("SELECT COUNT(*) FROM lb_listeners WHERE {where_lb}"),
                1,
            ),
            (format!("SELECT COUNT(*) FROM lb_pools WHERE {where_lb}"), 2),
            (
                format!("SELECT COUNT(*) FROM lb_members WHERE pool_id = '{web_id}'"),
                2,
            ),
            (
                format!("SELECT COUNT(*) FROM lb_health_monitors WHERE pool_id = '{web_id}'"),
                1,
            ),
            (
                format!("SELECT COUNT(*) FROM lb_l7policies WHERE listener_id = '{lid}'"),
                1,
            ),
            (
                format!("SELECT COUNT(*) FROM lb_l7rules WHERE l7policy_id = '{pid}'"),
                1,
            ),
        ] {
            assert_eq!(count(&cloud.db, &sql).await, want, "{b}: {sql}");
        }

        // The one flow takes the whole tree to ACTIVE; operating statuses
        // stay as created (the monitor and the L7 objects too).
        let path = format!("{LBS}/{id}");
        cloud.wait_for(&app, &path, "loadbalancer", "ACTIVE").await;
        let st = send(&app, "GET", &format!("{path}/status"), Some(&cloud.alice)).await;
        assert_eq!(st.status, 200, "{b}: {}", st.body);
        let m_status = |name: &str, address: &str| {
            let m = by_name(members, name);
            json!({"id": m["id"], "name": name, "operating_status": "OFFLINE",
                   "provisioning_status": "ACTIVE", "address": address, "protocol_port": 8080})
        };
        let mut want_members = vec![m_status("m1", "10.30.0.10"), m_status("m2", "10.30.0.11")];
        let mut got = st.body.clone();
        let got_members = got["statuses"]["loadbalancer"]["listeners"][0]["pools"][0]["members"]
            .as_array_mut()
            .map(std::mem::take)
            .unwrap_or_default();
        let mut got_members = got_members;
        got_members.sort_by_key(|m| m["name"].as_str().unwrap_or_default().to_string());
        want_members.sort_by_key(|m| m["name"].as_str().unwrap_or_default().to_string());
        assert_eq!(got_members, want_members, "{b}");
        assert_eq!(
            got,
            json!({"statuses": {"loadbalancer": {
                "id": id, "name": "graph", "operating_status": "OFFLINE",
                "provisioning_status": "ACTIVE",
                "listeners": [{
                    "id": lid, "name": "http", "operating_status": "OFFLINE",
                    "provisioning_status": "ACTIVE",
                    "pools": [
                        {"id": web_id, "name": "web", "provisioning_status": "ACTIVE",
                         "operating_status": "OFFLINE",
                         "health_monitor": {"id": hm["id"], "name": "hm", "type": "HTTP",
                                            "provisioning_status": "ACTIVE",
                                            "operating_status": "OFFLINE"},
                         "members": []},
                        {"id": api_id, "name": "api-pool", "provisioning_status": "ACTIVE",
                         "operating_status": "OFFLINE", "members": []}
                    ]
                }]
            }}}),
            "{b}"
        );
        let policy = send(
            &app,
            "GET",
            &format!("/v2/lbaas/l7policies/{pid}"),
            Some(&cloud.alice),
        )
        .await;
        assert_eq!(
            policy.body["l7policy"]["provisioning_status"], "ACTIVE",
            "{b}"
        );
        assert_eq!(
            policy.body["l7policy"]["operating_status"], "OFFLINE",
            "{b}"
        );
        let rule = send(
            &app,
            "GET",
            &format!("/v2/lbaas/l7policies/{pid}/rules/{}", id_of(r)),
            Some(&cloud.alice),
        )
        .await;
        assert_eq!(rule.body["rule"]["provisioning_status"], "ACTIVE", "{b}");
        let pool = send(
            &app,
            "GET",
            &format!("/v2/lbaas/pools/{web_id}"),
            Some(&cloud.alice),
        )
        .await;
        assert_eq!(pool.body["pool"]["healthmonitor_id"], hm["id"], "{b}");
        assert_eq!(
            pool.body["pool"]["loadbalancers"],
            json!([{"id": id}]),
            "{b}"
        );
        cloud.assert_rows("lb_flows", 0).await;
        // The plain show lists the children by id.
        let show = send(&app, "GET", &path, Some(&cloud.alice)).await;
        assert_eq!(
            show.body["loadbalancer"]["listeners"],
            json!([{"id": lid}]),
            "{b}"
        );
        assert_eq!(
            show.body["loadbalancer"]["pools"].as_array().map(Vec::len),
            Some(2),
            "{b}"
        );
    }
}

#[tokio::test]
async fn graph_refusals_store_nothing_not_even_the_vip_port() {
    for cloud in backends().await {
        let b = cloud.backend;
        let app = cloud.lb(LbConfig::default());
        let (_, subnet) = cloud.network(&cloud.alice, "10.31.0.0/24").await;
        let before = row_counts(&cloud.db, &TABLES).await;
        let http_pool =
            |name: &str| json!({"name": name, "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"});
        let listener = |port: u16, protocol: &str, extra: Value| {
            let mut l = json!({"protocol": protocol, "protocol_port": port});
            if let (Some(m), Value::Object(e)) = (l.as_object_mut(), extra) {
                m.extend(e);
            }
            l
        };
        let graph = |listeners: Value, pools: Value| json!({"loadbalancer": {"vip_subnet_id": subnet, "listeners": listeners, "pools": pools}});
        let cases: Vec<(&str, Value, u16, String)> = vec![
            (
                "unnamed default pool",
                graph(
                    json!([listener(80, "HTTP", json!({"default_pool": {"protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}}))]),
                    json!([]),
                ),
                400,
                "Validation failure: Pools must be named when creating a fully populated loadbalancer.".into(),
            ),
            (
                "unnamed redirect pool",
                graph(
                    json!([listener(80, "HTTP", json!({"l7policies": [{"action": "REDIRECT_TO_POOL", "redirect_pool": {"protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}}]}))]),
                    json!([]),
                ),
                400,
                "Validation failure: Pools must be named when creating a fully populated loadbalancer.".into(),
            ),
            (
                "duplicate pool names",
                graph(json!([]), json!([http_pool("p"), http_pool("p")])),
                400,
                "Validation failure: Pool names must be unique when creating a fully populated loadbalancer.".into(),
            ),
            (
                "a hoisted definition named like a listed pool",
                graph(
                    json!([listener(80, "HTTP", json!({"default_pool": http_pool("p")}))]),
                    json!([http_pool("p")]),
                ),
                400,
                "Validation failure: Pool names must be unique when creating a fully populated loadbalancer.".into(),
            ),
            (
                "unknown default pool",
                graph(
                    json!([listener(80, "HTTP", json!({"default_pool": {"name": "ghost"}}))]),
                    json!([http_pool("p")]),
                ),
                400,
                "Validation failure: Pool 'ghost' was referenced but no full definition was found.".into(),
            ),
            (
                "unknown redirect pool",
                graph(
                    json!([listener(80, "HTTP", json!({"l7policies": [{"action": "REDIRECT_TO_POOL", "redirect_pool": {"name": "ghost"}}]}))]),
                    json!([]),
                ),
                400,
                "Validation failure: Pool 'ghost' was referenced but no full definition was found.".into(),
            ),
            (
                "pool without protocol",
                graph(json!([]), json!([{"name": "p", "lb_algorithm": "ROUND_ROBIN"}])),
                400,
                "Validation failure: Pool definition for 'p' missing required attribute: protocol".into(),
            ),
            (
                "pool without lb_algorithm",
                graph(json!([]), json!([{"name": "p", "protocol": "HTTP"}])),
                400,
                "Validation failure: Pool definition for 'p' missing required attribute: lb_algorithm".into(),
            ),
            (
                "default pool of another protocol",
                graph(
                    json!([listener(80, "HTTP", json!({"default_pool": {"name": "t"}}))]),
                    json!([{"name": "t", "protocol": "TCP", "lb_algorithm": "ROUND_ROBIN"}]),
                ),
                400,
                "Validation failure: The pool protocol 'TCP' is invalid while the listener protocol is 'HTTP'.".into(),
            ),
            (
                "redirect pool of another protocol",
                graph(
                    json!([listener(80, "HTTP", json!({"l7policies": [{"action": "REDIRECT_TO_POOL", "redirect_pool": {"name": "t"}}]}))]),
                    json!([{"name": "t", "protocol": "TCP", "lb_algorithm": "ROUND_ROBIN"}]),
                ),
                400,
                "Validation failure: The pool protocol 'TCP' is invalid while the listener protocol is 'HTTP'.".into(),
            ),
            (
                "two listeners on one TCP port",
                graph(
                    json!([listener(80, "HTTP", json!({})), listener(80, "TCP", json!({}))]),
                    json!([]),
                ),
                409,
                "Another Listener on this Load Balancer is already using protocol HTTP and protocol_port 80".into(),
            ),
            (
                "monitor type for UDP pools on an HTTP pool",
                graph(
                    json!([]),
                    json!([{"name": "p", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
                            "healthmonitor": {"type": "UDP-CONNECT", "delay": 5, "timeout": 3, "max_retries": 2}}]),
                ),
                400,
                "Validation failure: The UDP-CONNECT type is only supported for pools of type UDP/SCTP.".into(),
            ),
            (
                "HTTP options on a TCP monitor",
                graph(
                    json!([]),
                    json!([{"name": "p", "protocol": "TCP", "lb_algorithm": "ROUND_ROBIN",
                            "healthmonitor": {"type": "TCP", "delay": 5, "timeout": 3, "max_retries": 2,
                                              "url_path": "/x"}}]),
                ),
                400,
                "url_path is not a valid option for health monitors of type TCP".into(),
            ),
            (
                "a reserved member address",
                graph(
                    json!([]),
                    json!([{"name": "p", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
                            "members": [{"address": "10.31.0.5", "protocol_port": 80},
                                        {"address": "169.254.169.254", "protocol_port": 80}]}]),
                ),
                400,
                "169.254.169.254 is not a valid option for member address".into(),
            ),
            (
                "one member twice",
                graph(
                    json!([]),
                    json!([{"name": "p", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
                            "members": [{"address": "10.31.0.5", "protocol_port": 80},
                                        {"address": "10.31.0.5", "protocol_port": 80}]}]),
                ),
                409,
                "Another member on this pool is already using ip 10.31.0.5 on protocol_port 80".into(),
            ),
            (
                "a PROMETHEUS listener with a default pool",
                graph(
                    json!([listener(9100, "PROMETHEUS", json!({"default_pool": {"name": "p"}}))]),
                    json!([http_pool("p")]),
                ),
                400,
                "Protocol PROMETHEUS listeners cannot have child objects.".into(),
            ),
            (
                "L7 policies on a TCP listener",
                graph(
                    json!([listener(80, "TCP", json!({"l7policies": [{"action": "REJECT"}]}))]),
                    json!([]),
                ),
                501,
                "Provider 'amphora' does not support a requested option: TCP protocol listeners do not support L7 policies".into(),
            ),
            (
                "a bad L7 rule",
                graph(
                    json!([listener(80, "HTTP", json!({"l7policies": [{"action": "REJECT",
                        "rules": [{"type": "HEADER", "compare_type": "EQUAL_TO", "value": "v"}]}]}))]),
                    json!([]),
                ),
                400,
                "Error parsing L7Rule: Invalid L7 Rule: L7 rule type requires a key".into(),
            ),
        ];
        for (what, body, status, faultstring) in cases {
            let a = send_json(&app, "POST", LBS, Some(&cloud.alice), body).await;
            assert_eq!(
                (a.status.as_u16(), a.body["faultstring"].as_str()),
                (status, Some(faultstring.as_str())),
                "{b}: {what}: {}",
                a.body
            );
            fault(&a, status, &faultstring);
            assert_eq!(
                row_counts(&cloud.db, &TABLES).await,
                before,
                "{b}: {what} stored something"
            );
        }

        // Policy: a reader may not create one.
        let r = send_json(
            &app,
            "POST",
            LBS,
            Some(&cloud.rita),
            document_graph(&subnet),
        )
        .await;
        fault(&r, 403, FORBIDDEN);
        assert_eq!(row_counts(&cloud.db, &TABLES).await, before, "{b}");
    }
}

/// A quota one short of the document's graph (2 pools, 2 members, 1
/// monitor, 1 listener, 1 policy and 1 rule) in `resource` alone.
fn one_short(resource: &str) -> Quota {
    let mut q = Quota::default();
    match resource {
        "Pool" => q.pool = Some(1),
        "Member" => q.member = Some(1),
        "Health Monitor" => q.health_monitor = Some(0),
        "Listener" => q.listener = Some(0),
        "L7 Policy" => q.l7policy = Some(0),
        "L7 Rule" => q.l7rule = Some(0),
        other => panic!("no quota named {other}"),
    }
    q
}

#[tokio::test]
async fn graph_quotas_count_every_resource_of_the_request() {
    for cloud in backends().await {
        let b = cloud.backend;
        let app = cloud.lb(LbConfig::default());
        let (_, subnet) = cloud.network(&cloud.alice, "10.32.0.0/24").await;
        let before = row_counts(&cloud.db, &TABLES).await;
        // The document's graph has 2 pools, 2 members, 1 monitor, 1
        // listener, 1 policy and 1 rule: each limit one short refuses it
        // with that resource's name.
        for name in [
            "Pool",
            "Member",
            "Health Monitor",
            "Listener",
            "L7 Policy",
            "L7 Rule",
        ] {
            set_quota(&cloud.db, &cloud.alpha, one_short(name)).await;
            let a = send_json(
                &app,
                "POST",
                LBS,
                Some(&cloud.alice),
                document_graph(&subnet),
            )
            .await;
            fault(
                &a,
                403,
                &format!("Quota has been met for resources: {name}"),
            );
            assert_eq!(row_counts(&cloud.db, &TABLES).await, before, "{b}: {name}");
        }
        // Exactly enough fits.
        set_quota(
            &cloud.db,
            &cloud.alpha,
            Quota {
                load_balancer: Some(1),
                listener: Some(1),
                pool: Some(2),
                member: Some(2),
                health_monitor: Some(1),
                l7policy: Some(1),
                l7rule: Some(1),
            },
        )
        .await;
        let a = send_json(
            &app,
            "POST",
            LBS,
            Some(&cloud.alice),
            document_graph(&subnet),
        )
        .await;
        assert_eq!(a.status, 201, "{b}: {}", a.body);
        let id = id_of(&a.body["loadbalancer"]);
        cloud
            .wait_for(&app, &format!("{LBS}/{id}"), "loadbalancer", "ACTIVE")
            .await;
        // ... and nothing more: the next one is refused on the load
        // balancer itself.
        let again = send_json(
            &app,
            "POST",
            LBS,
            Some(&cloud.alice),
            document_graph(&subnet),
        )
        .await;
        fault(
            &again,
            403,
            "Quota has been met for resources: Load Balancer",
        );
    }
}

#[tokio::test]
async fn cascade_delete_of_a_graph_load_balancer_removes_everything() {
    for cloud in backends().await {
        let b = cloud.backend;
        let app = cloud.lb(LbConfig::default());
        let (_, subnet) = cloud.network(&cloud.alice, "10.33.0.0/24").await;
        let before = row_counts(&cloud.db, &TABLES).await;
        let a = send_json(
            &app,
            "POST",
            LBS,
            Some(&cloud.alice),
            document_graph(&subnet),
        )
        .await;
        assert_eq!(a.status, 201, "{b}: {}", a.body);
        let id = id_of(&a.body["loadbalancer"]);
        let path = format!("{LBS}/{id}");
        cloud.wait_for(&app, &path, "loadbalancer", "ACTIVE").await;
        let full = row_counts(&cloud.db, &TABLES).await;
        let grown: Vec<i64> = full
            .iter()
            .zip(&before)
            .map(|((_, n), (_, m))| n - m)
            .collect();
        // LB, listener, pools, members, monitor, policy, rule, VIP port.
        assert_eq!(grown, vec![1, 1, 2, 2, 1, 1, 1, 1], "{b}");

        let plain = send(&app, "DELETE", &path, Some(&cloud.alice)).await;
        fault(
            &plain,
            400,
            &format!("Validation failure: Cannot delete Load Balancer {id} - it has children"),
        );
        cascade_delete(&cloud, &app, &id).await;
        assert_eq!(row_counts(&cloud.db, &TABLES).await, before, "{b}");
        cloud.assert_rows("lb_flows", 0).await;
    }
}
