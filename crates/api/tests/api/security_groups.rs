//! Security groups and rules: the Octavia groups of document 003, the
//! per-project default group, every validation error, duplicates (also
//! racing), groups in use and visibility between projects.

use serde_json::{Value, json};

use crate::support::{self, Cloud, assert_error, request, send};

const GROUPS: &str = "/v2.0/security-groups";
const RULES: &str = "/v2.0/security-group-rules";
const NO_SUCH: &str = "0b1c8f4e-1111-4222-8333-944455556666";

impl Cloud {
    pub(crate) async fn security_group(&self, token: &str, body: Value) -> Value {
        let (s, b) = self
            .call("POST", GROUPS, token, Some(json!({"security_group": body})))
            .await;
        assert_eq!(s, 201, "[{}] create security group: {b}", self.backend);
        b["security_group"].clone()
    }

    async fn rule(&self, token: &str, body: Value) -> Value {
        let (s, b) = self
            .call(
                "POST",
                RULES,
                token,
                Some(json!({"security_group_rule": body})),
            )
            .await;
        assert_eq!(s, 201, "[{}] create rule: {b}", self.backend);
        b["security_group_rule"].clone()
    }

    async fn show_group(&self, token: &str, id: &Value) -> Value {
        let (s, b) = self
            .call(
                "GET",
                &format!("{GROUPS}/{}", id.as_str().unwrap()),
                token,
                None,
            )
            .await;
        assert_eq!(s, 200, "[{}] show security group: {b}", self.backend);
        b["security_group"].clone()
    }

    async fn count_where(&self, table: &str, condition: &str) -> i64 {
        let sql = format!("SELECT COUNT(*) FROM {table} WHERE {condition}");
        neutrino_store::dispatch!(self.db.read(), c => sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql)).fetch_one(c).await)
            .expect("count")
    }
}

fn id(v: &Value) -> &str {
    v["id"].as_str().expect("id")
}

/// The ingress rules of a group as (ethertype, protocol, min, max, prefix).
fn ingress(g: &Value) -> Vec<(String, Value, Value, Value, Value)> {
    let mut out: Vec<_> = g["security_group_rules"]
        .as_array()
        .expect("rules")
        .iter()
        .filter(|r| r["direction"] == "ingress")
        .map(|r| {
            (
                r["ethertype"].as_str().unwrap().to_string(),
                r["protocol"].clone(),
                r["port_range_min"].clone(),
                r["port_range_max"].clone(),
                r["remote_ip_prefix"].clone(),
            )
        })
        .collect();
    out.sort_by_key(|r| format!("{r:?}"));
    out
}

fn egress_any(g: &Value) -> Vec<String> {
    let mut out: Vec<String> = g["security_group_rules"]
        .as_array()
        .expect("rules")
        .iter()
        .filter(|r| r["direction"] == "egress")
        .inspect(|r| {
            assert!(
                r["protocol"].is_null() && r["remote_ip_prefix"].is_null(),
                "{r}"
            );
            assert!(
                r["remote_group_id"].is_null() && r["port_range_min"].is_null(),
                "{r}"
            );
        })
        .map(|r| r["ethertype"].as_str().unwrap().to_string())
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn octavia_groups_of_document_003() {
    for c in support::backends().await {
        // What octavia-operator (and `openstack security group rule create
        // --protocol tcp --dst-port 22 [--ethertype IPv6]`) sends.
        let mgmt = c
            .security_group(&c.admin, json!({"name": "lb-mgmt-sec-grp"}))
            .await;
        assert_eq!(mgmt["name"], "lb-mgmt-sec-grp");
        assert_eq!(mgmt["stateful"], true);
        assert_eq!(mgmt["shared"], false);
        assert_eq!(mgmt["description"], "");
        assert_eq!(mgmt["tags"], json!([]));
        assert_eq!(mgmt["revision_number"], 1);
        assert_eq!(mgmt["tenant_id"], mgmt["project_id"]);
        assert_eq!(
            egress_any(&mgmt),
            ["IPv4", "IPv6"],
            "a new group may send anything"
        );
        assert!(ingress(&mgmt).is_empty());
        for port in [22, 9443] {
            for (ethertype, any) in [("IPv4", "0.0.0.0/0"), ("IPv6", "::/0")] {
                let r = c
                    .rule(
                        &c.admin,
                        json!({"security_group_id": mgmt["id"], "direction": "ingress", "protocol": "tcp",
                               "port_range_min": port, "port_range_max": port, "ethertype": ethertype,
                               "remote_ip_prefix": any}),
                    )
                    .await;
                assert_eq!(r["security_group_id"], mgmt["id"]);
                assert_eq!(r["normalized_cidr"], any);
                assert_eq!(r["belongs_to_default_sg"], false);
                assert_eq!(r["remote_address_group_id"], Value::Null);
                assert_eq!(r["description"], "");
                assert_eq!(r["revision_number"], 0);
                assert_eq!(r["project_id"], mgmt["project_id"]);
            }
        }
        let health = c
            .security_group(&c.admin, json!({"name": "lb-health-mgr-sec-grp"}))
            .await;
        for ethertype in ["IPv4", "IPv6"] {
            c.rule(
                &c.admin,
                json!({"security_group_id": health["id"], "direction": "ingress", "protocol": "udp",
                       "port_range_min": 5555, "port_range_max": 5555, "ethertype": ethertype}),
            )
            .await;
        }

        let shown = c.show_group(&c.admin, &mgmt["id"]).await;
        let any4 = json!("0.0.0.0/0");
        let any6 = json!("::/0");
        assert_eq!(
            ingress(&shown),
            vec![
                (
                    "IPv4".into(),
                    json!("tcp"),
                    json!(22),
                    json!(22),
                    any4.clone()
                ),
                ("IPv4".into(), json!("tcp"), json!(9443), json!(9443), any4),
                (
                    "IPv6".into(),
                    json!("tcp"),
                    json!(22),
                    json!(22),
                    any6.clone()
                ),
                ("IPv6".into(), json!("tcp"), json!(9443), json!(9443), any6),
            ]
        );
        assert_eq!(egress_any(&shown), ["IPv4", "IPv6"]);
        assert_eq!(shown["revision_number"], 5, "each rule revises its group");
        let shown = c.show_group(&c.admin, &health["id"]).await;
        assert_eq!(
            ingress(&shown),
            vec![
                (
                    "IPv4".into(),
                    json!("udp"),
                    json!(5555),
                    json!(5555),
                    Value::Null
                ),
                (
                    "IPv6".into(),
                    json!("udp"),
                    json!(5555),
                    json!(5555),
                    Value::Null
                ),
            ]
        );
        // Found by name, as operators (and the CLI) look groups up.
        let (s, b) = c
            .call(
                "GET",
                &format!("{GROUPS}?name=lb-mgmt-sec-grp"),
                &c.admin,
                None,
            )
            .await;
        assert_eq!(s, 200);
        assert_eq!(b["security_groups"].as_array().unwrap().len(), 1);
        assert_eq!(b["security_groups"][0]["id"], mgmt["id"]);
        let (s, b) = c
            .call(
                "GET",
                &format!(
                    "{RULES}?security_group_id={}&protocol=udp&fields=port_range_min",
                    id(&health)
                ),
                &c.admin,
                None,
            )
            .await;
        assert_eq!(s, 200);
        assert_eq!(
            b["security_group_rules"],
            json!([{"port_range_min": 5555}, {"port_range_min": 5555}])
        );
        // A group is a name: any other lookup misses with Neutron's answer.
        let (s, b) = c
            .call("GET", &format!("{GROUPS}/lb-mgmt-sec-grp"), &c.admin, None)
            .await;
        assert_error(s, &b, 404, "SecurityGroupNotFound");
    }
}

#[tokio::test]
async fn default_group_is_created_on_first_use() {
    for c in support::backends().await {
        assert_eq!(c.count("security_groups").await, 0);
        let (s, b) = c.call("GET", GROUPS, &c.alice, None).await;
        assert_eq!(s, 200, "{b}");
        let groups = b["security_groups"].as_array().unwrap().clone();
        assert_eq!(groups.len(), 1, "{b}");
        let d = &groups[0];
        assert_eq!(d["name"], "default");
        assert_eq!(d["description"], "Default security group");
        assert_eq!(d["project_id"], c.alice_project.as_str());
        assert_eq!(egress_any(d), ["IPv4", "IPv6"]);
        let mut inbound: Vec<(String, Value)> = d["security_group_rules"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["direction"] == "ingress")
            .map(|r| {
                (
                    r["ethertype"].as_str().unwrap().to_string(),
                    r["remote_group_id"].clone(),
                )
            })
            .collect();
        inbound.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            inbound,
            vec![
                ("IPv4".into(), d["id"].clone()),
                ("IPv6".into(), d["id"].clone())
            ],
            "ingress only from members of the group"
        );
        for r in d["security_group_rules"].as_array().unwrap() {
            assert_eq!(r["belongs_to_default_sg"], true);
            assert_eq!(r["description"], Value::Null);
        }
        // Listed again, or listed by the project's reader: still one.
        c.call("GET", GROUPS, &c.alice, None).await;
        c.call("GET", RULES, &c.reader, None).await;
        assert_eq!(c.count("security_groups").await, 1);
        assert_eq!(c.count("security_group_rules").await, 4);

        // Bob's first act is a port: it gets his (new) default group.
        let net = c.network(&c.bob, "n").await;
        let p = c
            .create(&c.bob, "port", json!({"network_id": net["id"]}))
            .await;
        let (_, b) = c
            .call("GET", &format!("{GROUPS}?name=default"), &c.bob, None)
            .await;
        let bobs = b["security_groups"][0]["id"].clone();
        assert_eq!(b["security_groups"].as_array().unwrap().len(), 1);
        assert_eq!(p["security_groups"], json!([bobs]));
        // No group for ports without port security or owned by Neutron.
        let p = c
            .create(
                &c.bob,
                "port",
                json!({"network_id": net["id"], "port_security_enabled": false}),
            )
            .await;
        assert_eq!(p["security_groups"], json!([]));
        let p = c
            .create(
                &c.bob,
                "port",
                json!({"network_id": net["id"], "device_owner": "network:dhcp"}),
            )
            .await;
        assert_eq!(p["security_groups"], json!([]));
        let p = c
            .create(
                &c.bob,
                "port",
                json!({"network_id": net["id"], "security_groups": []}),
            )
            .await;
        assert_eq!(p["security_groups"], json!([]));
        assert_eq!(c.count("security_groups").await, 2);

        // The default group: no rename, no delete but by an admin.
        let path = format!("{GROUPS}/{}", id(d));
        let (s, b) = c
            .call(
                "PUT",
                &path,
                &c.alice,
                Some(json!({"security_group": {"name": "mine"}})),
            )
            .await;
        assert_error(s, &b, 409, "SecurityGroupCannotUpdateDefault");
        let (s, b) = c
            .call(
                "PUT",
                &path,
                &c.alice,
                Some(json!({"security_group": {"description": "d"}})),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["security_group"]["description"], "d");
        assert_eq!(b["security_group"]["revision_number"], 2);
        let (s, b) = c.call("DELETE", &path, &c.alice, None).await;
        assert_error(s, &b, 409, "SecurityGroupCannotRemoveDefault");
        assert_eq!(c.count("security_groups").await, 2);
        let (s, _) = c.call("DELETE", &path, &c.admin, None).await;
        assert_eq!(s, 204);
        assert_eq!(
            c.count("security_group_rules").await,
            4,
            "alice's rules went with it"
        );
        // ... and the next use makes a new one.
        let (_, b) = c.call("GET", GROUPS, &c.alice, None).await;
        assert_eq!(b["security_groups"][0]["name"], "default");
        assert_ne!(b["security_groups"][0]["id"], d["id"]);
        assert_eq!(c.count("security_groups").await, 2);

        // Creating a group first also makes the default one.
        let other = c.add_user("carol", "gamma", "member", None).await;
        let carol = c
            .identity
            .issue_token_for_tests("carol", "pw-carol", "gamma")
            .await
            .expect("carol token");
        c.security_group(&carol, json!({"name": "web"})).await;
        assert_eq!(
            c.count_where("security_groups", &format!("project_id = '{other}'"))
                .await,
            2
        );
        assert_eq!(
            c.count_where(
                "security_groups",
                &format!("project_id = '{other}' AND is_default")
            )
            .await,
            1
        );
    }
}

#[tokio::test]
async fn racing_first_uses_make_one_default_group() {
    for c in support::backends().await {
        let replica = c.replica().await;
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let app = if i % 2 == 0 {
                    c.app.clone()
                } else {
                    replica.clone()
                };
                let req = request("GET", GROUPS, Some(&c.alice), None);
                tokio::spawn(async move { send(&app, req).await })
            })
            .collect();
        for t in tasks {
            let (s, _, b) = t.await.expect("task");
            assert_eq!(s, 200, "[{}] {b}", c.backend);
            assert_eq!(b["security_groups"].as_array().unwrap().len(), 1, "{b}");
        }
        assert_eq!(c.count("security_groups").await, 1, "[{}]", c.backend);
        assert_eq!(c.count("security_group_rules").await, 4, "[{}]", c.backend);
    }
}

#[tokio::test]
async fn every_rule_validation_error() {
    for c in support::backends().await {
        let g = c.security_group(&c.alice, json!({"name": "g"})).await;
        let gid = g["id"].clone();
        let cases: Vec<(Value, u16, &str)> = vec![
            (json!({"direction": "ingress"}), 400, "HTTPBadRequest"),
            (json!({"security_group_id": gid}), 400, "HTTPBadRequest"),
            (
                json!({"security_group_id": gid, "direction": "sideways"}),
                400,
                "HTTPBadRequest",
            ),
            (
                json!({"security_group_id": gid, "direction": "ingress", "id": NO_SUCH}),
                400,
                "HTTPBadRequest",
            ),
            (
                json!({"security_group_id": gid, "direction": "ingress", "color": "red"}),
                400,
                "HTTPBadRequest",
            ),
            (
                json!({"security_group_id": gid, "direction": "ingress", "protocol": "foo"}),
                400,
                "SecurityGroupRuleInvalidProtocol",
            ),
            (
                json!({"security_group_id": gid, "direction": "ingress", "protocol": 256}),
                400,
                "SecurityGroupRuleInvalidProtocol",
            ),
            (
                json!({"security_group_id": gid, "direction": "ingress", "protocol": 6.5}),
                400,
                "SecurityGroupRuleInvalidProtocol",
            ),
            (
                json!({"security_group_id": gid, "direction": "ingress", "ethertype": "IPv5"}),
                400,
                "SecurityGroupRuleInvalidEtherType",
            ),
            (
                json!({"security_group_id": gid, "direction": "ingress", "protocol": "tcp", "port_range_min": 30, "port_range_max": 20}),
                400,
                "SecurityGroupInvalidPortRange",
            ),
            (
                json!({"security_group_id": gid, "direction": "ingress", "protocol": "tcp", "port_range_min": 20}),
                400,
                "SecurityGroupInvalidPortRange",
            ),
            (
                json!({"security_group_id": gid, "direction": "ingress", "protocol": "udp", "port_range_min": 0, "port_range_max": 20}),
                400,
                "SecurityGroupInvalidPortValue",
            ),
            (
                json!({"security_group_id": gid, "direction": "ingress", "protocol": "tcp", "port_range_min": 70000, "port_range_max": 70000}),
                400,
                "SecurityGroupInvalidPortValue",
            ),
            (
                json!({"security_group_id": gid, "direction": "ingress", "protocol": "tcp", "port_range_min": "abc", "port_range_max": 22}),
                400,
                "SecurityGroupInvalidPortValue",
            ),
            (
                json!({"security_group_id": gid, "direction": "ingress", "protocol": "gre", "port_range_min": 20, "port_range_max": 20}),
                400,
                "SecurityGroupInvalidProtocolForPort",
            ),
            (
                json!({"security_group_id": gid, "direction": "ingress", "protocol": "47", "port_range_min": 20, "port_range_max": 20}),
                400,
                "SecurityGroupInvalidProtocolForPort",
            ),
            (
                json!({"security_group_id": gid, "direction": "ingress", "port_range_min": 20, "port_range_max": 20}),
                400,
                "SecurityGroupProtocolRequiredWithPorts",
            ),
            (
                json!({"security_group_id": gid, "direction": "ingress", "protocol": "icmp", "port_range_min": 256}),
                400,
                "SecurityGroupInvalidIcmpValue",
            ),
            (
                json!({"security_group_id": gid, "direction": "ingress", "protocol": "icmp", "port_range_min": 8, "port_range_max": 300}),
                400,
                "SecurityGroupInvalidIcmpValue",
            ),
            (
                json!({"security_group_id": gid, "direction": "ingress", "protocol": "icmp", "port_range_max": 3}),
                400,
                "SecurityGroupMissingIcmpType",
            ),
            (
                json!({"security_group_id": gid, "direction": "ingress", "remote_ip_prefix": "10.0.0.0/8", "ethertype": "IPv6"}),
                400,
                "SecurityGroupRuleParameterConflict",
            ),
            (
                json!({"security_group_id": gid, "direction": "ingress", "remote_ip_prefix": "2001:db8::/32"}),
                400,
                "SecurityGroupRuleParameterConflict",
            ),
            (
                json!({"security_group_id": gid, "direction": "ingress", "remote_ip_prefix": "10.0.0.300/8"}),
                400,
                "InvalidCIDR",
            ),
            (
                json!({"security_group_id": gid, "direction": "ingress", "remote_ip_prefix": "10.0.0.0/33"}),
                400,
                "InvalidCIDR",
            ),
            (
                json!({"security_group_id": gid, "direction": "ingress", "protocol": "ipv6-icmp"}),
                400,
                "SecurityGroupEthertypeConflictWithProtocol",
            ),
            (
                json!({"security_group_id": gid, "direction": "ingress", "protocol": "58", "ethertype": "IPv4"}),
                400,
                "SecurityGroupEthertypeConflictWithProtocol",
            ),
            (
                json!({"security_group_id": gid, "direction": "ingress", "remote_ip_prefix": "10.0.0.0/8", "remote_group_id": gid}),
                400,
                "SecurityGroupMultipleRemoteEntites",
            ),
            (
                json!({"security_group_id": gid, "direction": "ingress", "remote_group_id": NO_SUCH}),
                404,
                "SecurityGroupNotFound",
            ),
            (
                json!({"security_group_id": NO_SUCH, "direction": "ingress"}),
                404,
                "SecurityGroupNotFound",
            ),
            (
                json!({"security_group_id": gid, "direction": "ingress", "remote_address_group_id": NO_SUCH}),
                404,
                "AddressGroupNotFound",
            ),
            (
                json!({"security_group_id": gid, "direction": "ingress", "description": "x".repeat(256)}),
                400,
                "HTTPBadRequest",
            ),
            (
                json!({"security_group_id": gid, "direction": "ingress", "project_id": c.bob_project}),
                403,
                "PolicyNotAuthorized",
            ),
        ];
        let rules_before = c.count("security_group_rules").await;
        for (body, status, kind) in cases {
            let (s, b) = c
                .call(
                    "POST",
                    RULES,
                    &c.alice,
                    Some(json!({"security_group_rule": body})),
                )
                .await;
            assert_error(s, &b, status, kind);
        }
        let (s, b) = c
            .call("POST", RULES, &c.alice, Some(json!({"rule": {}})))
            .await;
        assert_error(s, &b, 400, "HTTPBadRequest");
        let (s, b) = c
            .call("POST", RULES, &c.reader, Some(json!({"security_group_rule": {"security_group_id": gid, "direction": "ingress"}})))
            .await;
        assert_error(s, &b, 403, "PolicyNotAuthorized");
        assert_eq!(
            c.count("security_group_rules").await,
            rules_before,
            "[{}] failed creates store nothing",
            c.backend
        );
        assert_eq!(c.show_group(&c.alice, &gid).await["revision_number"], 1);

        // What the converters accept, and how they store it.
        let r = c
            .rule(&c.alice, json!({"security_group_id": gid, "direction": "ingress", "protocol": "TCP",
                                    "ethertype": "ipv6", "port_range_min": "1", "port_range_max": "65535"}))
            .await;
        assert_eq!(r["protocol"], "tcp");
        assert_eq!(r["ethertype"], "IPv6");
        assert_eq!(
            r["port_range_min"],
            Value::Null,
            "the whole range is no range"
        );
        let r = c
            .rule(&c.alice, json!({"security_group_id": gid, "direction": "ingress", "protocol": "icmp",
                                    "ethertype": "IPv6", "port_range_min": 128, "port_range_max": 0}))
            .await;
        assert_eq!(r["protocol"], "ipv6-icmp");
        assert_eq!(
            (r["port_range_min"].clone(), r["port_range_max"].clone()),
            (json!(128), json!(0))
        );
        let r = c
            .rule(&c.alice, json!({"security_group_id": gid, "direction": "ingress", "remote_ip_prefix": "10.1.2.3"}))
            .await;
        assert_eq!(r["remote_ip_prefix"], "10.1.2.3/32");
        let r = c
            .rule(&c.alice, json!({"security_group_id": gid, "direction": "ingress", "remote_ip_prefix": "10.0.0.1/24",
                                    "description": "host bits kept"}))
            .await;
        assert_eq!(r["remote_ip_prefix"], "10.0.0.1/24");
        assert_eq!(r["normalized_cidr"], "10.0.0.0/24");
        assert_eq!(r["description"], "host bits kept");
        let r = c
            .rule(&c.alice, json!({"security_group_id": gid, "direction": "egress", "protocol": 132,
                                    "port_range_min": 10, "port_range_max": 20, "remote_group_id": gid}))
            .await;
        assert_eq!(r["protocol"], "132");
        assert_eq!(r["remote_group_id"], gid);
        assert_eq!(c.show_group(&c.alice, &gid).await["revision_number"], 6);
    }
}

#[tokio::test]
async fn group_validation_and_updates() {
    for c in support::backends().await {
        let before = c.count("security_groups").await;
        let cases: Vec<(Value, u16, &str)> = vec![
            (
                json!({"name": "default"}),
                409,
                "SecurityGroupDefaultAlreadyExists",
            ),
            (
                json!({"name": "Default"}),
                409,
                "SecurityGroupDefaultAlreadyExists",
            ),
            (
                json!({"name": "x", "stateful": "maybe"}),
                400,
                "InvalidInput",
            ),
            (json!({"name": "x", "shared": true}), 400, "HTTPBadRequest"),
            (json!({"name": "x", "tags": ["a"]}), 400, "HTTPBadRequest"),
            (
                json!({"name": "x", "security_group_rules": []}),
                400,
                "HTTPBadRequest",
            ),
            (json!({"name": "x", "colour": "red"}), 400, "HTTPBadRequest"),
            (json!({"name": "x".repeat(256)}), 400, "HTTPBadRequest"),
            (json!({"name": 5}), 400, "HTTPBadRequest"),
            (
                json!({"name": "x", "project_id": c.bob_project}),
                403,
                "PolicyNotAuthorized",
            ),
        ];
        for (body, status, kind) in cases {
            let (s, b) = c
                .call(
                    "POST",
                    GROUPS,
                    &c.alice,
                    Some(json!({"security_group": body})),
                )
                .await;
            assert_error(s, &b, status, kind);
        }
        let (s, b) = c
            .call(
                "POST",
                GROUPS,
                &c.reader,
                Some(json!({"security_group": {"name": "r"}})),
            )
            .await;
        assert_error(s, &b, 403, "PolicyNotAuthorized");
        assert_eq!(
            c.count("security_groups").await,
            before,
            "[{}] nothing stored",
            c.backend
        );

        let g = c
            .security_group(
                &c.alice,
                json!({"name": "web", "description": "d", "stateful": false}),
            )
            .await;
        assert_eq!(g["stateful"], false);
        let path = format!("{GROUPS}/{}", id(&g));
        let (s, b) = c
            .call(
                "PUT",
                &path,
                &c.alice,
                Some(json!({"security_group": {"name": "default"}})),
            )
            .await;
        assert_error(s, &b, 409, "SecurityGroupDefaultAlreadyExists");
        let (s, b) = c
            .call(
                "PUT",
                &path,
                &c.alice,
                Some(json!({"security_group": {"project_id": c.bob_project}})),
            )
            .await;
        assert_error(s, &b, 400, "HTTPBadRequest");
        let (s, b) = c
            .call(
                "PUT",
                &path,
                &c.reader,
                Some(json!({"security_group": {"name": "r"}})),
            )
            .await;
        assert_error(s, &b, 403, "PolicyNotAuthorized");
        let (s, b) = c
            .call(
                "PUT",
                &path,
                &c.alice,
                Some(json!({"security_group": {"name": "www", "stateful": true}})),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["security_group"]["name"], "www");
        assert_eq!(b["security_group"]["stateful"], true);
        assert_eq!(b["security_group"]["revision_number"], 2);
        // If-Match on the revision, as for every standard resource.
        let (s, _, b) = send(&c.app, {
            let mut r = request(
                "PUT",
                &path,
                Some(&c.alice),
                Some(json!({"security_group": {"name": "z"}})),
            );
            r.headers_mut()
                .insert("if-match", "revision_number=1".parse().unwrap());
            r
        })
        .await;
        assert_error(s.as_u16(), &b, 412, "RevisionNumberConstraintFailed");
        // Bulk create: all or nothing.
        let before = c.count("security_groups").await;
        let (s, b) = c
            .call(
                "POST",
                GROUPS,
                &c.alice,
                Some(json!({"security_groups": [{"name": "a"}, {"name": "default"}]})),
            )
            .await;
        assert_error(s, &b, 409, "SecurityGroupDefaultAlreadyExists");
        assert_eq!(c.count("security_groups").await, before);
        let (s, b) = c
            .call(
                "POST",
                GROUPS,
                &c.alice,
                Some(json!({"security_groups": [{"name": "a"}, {"name": "b"}]})),
            )
            .await;
        assert_eq!(s, 201, "{b}");
        assert_eq!(b["security_groups"].as_array().unwrap().len(), 2);
        // Bulk items may also come in their own envelopes (tempest sends them so).
        let (s, b) = c
            .call(
                "POST",
                GROUPS,
                &c.alice,
                Some(
                    json!({"security_groups": [{"security_group": {"name": "c"}}, {"name": "d"}]}),
                ),
            )
            .await;
        assert_eq!(s, 201, "{b}");
        assert_eq!(b["security_groups"][0]["name"], "c");
        assert_eq!(b["security_groups"][1]["name"], "d");
        // Removing a group takes its rules and the rules naming it.
        let other = c.security_group(&c.alice, json!({"name": "peer"})).await;
        c.rule(&c.alice, json!({"security_group_id": other["id"], "direction": "ingress", "remote_group_id": g["id"]}))
            .await;
        let (s, _) = c.call("DELETE", &path, &c.alice, None).await;
        assert_eq!(s, 204);
        let (s, b) = c.call("DELETE", &path, &c.alice, None).await;
        assert_error(s, &b, 404, "SecurityGroupNotFound");
        assert_eq!(
            c.count_where(
                "security_group_rules",
                &format!(
                    "security_group_id = '{}' OR remote_group_id = '{}'",
                    id(&g),
                    id(&g)
                )
            )
            .await,
            0
        );
        assert_eq!(
            egress_any(&c.show_group(&c.alice, &other["id"]).await),
            ["IPv4", "IPv6"]
        );
        assert!(ingress(&c.show_group(&c.alice, &other["id"]).await).is_empty());
    }
}

#[tokio::test]
async fn duplicate_rules_are_refused() {
    for c in support::backends().await {
        let g = c.security_group(&c.alice, json!({"name": "g"})).await;
        let gid = g["id"].clone();
        let first = c
            .rule(&c.alice, json!({"security_group_id": gid, "direction": "ingress", "protocol": "tcp",
                                    "port_range_min": 22, "port_range_max": 22, "description": "ssh"}))
            .await;
        let any = c
            .rule(&c.alice, json!({"security_group_id": gid, "direction": "ingress", "remote_ip_prefix": "0.0.0.0/0"}))
            .await;
        let icmp6 = c
            .rule(&c.alice, json!({"security_group_id": gid, "direction": "ingress", "ethertype": "IPv6", "protocol": "ipv6-icmp"}))
            .await;
        let egress = g["security_group_rules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["ethertype"] == "IPv4")
            .unwrap()["id"]
            .clone();
        let rules_before = c.count("security_group_rules").await;
        let dupes = [
            (
                json!({"direction": "ingress", "protocol": "tcp", "port_range_min": 22, "port_range_max": 22}),
                &first["id"],
            ),
            (
                json!({"direction": "ingress", "protocol": "6", "port_range_min": "22", "port_range_max": 22, "description": "other"}),
                &first["id"],
            ),
            (
                json!({"direction": "ingress", "protocol": "TCP", "port_range_min": 22, "port_range_max": 22, "remote_ip_prefix": "0.0.0.0/0"}),
                &first["id"],
            ),
            (json!({"direction": "ingress"}), &any["id"]),
            (
                json!({"direction": "ingress", "protocol": "any"}),
                &any["id"],
            ),
            (
                json!({"direction": "ingress", "ethertype": "IPv6", "protocol": "icmp"}),
                &icmp6["id"],
            ),
            (
                json!({"direction": "ingress", "ethertype": "IPv6", "protocol": "1"}),
                &icmp6["id"],
            ),
            (
                json!({"direction": "ingress", "ethertype": "IPv6", "protocol": "58"}),
                &icmp6["id"],
            ),
            (json!({"direction": "egress"}), &egress),
        ];
        for (mut body, existing) in dupes {
            body["security_group_id"] = gid.clone();
            let (s, b) = c
                .call(
                    "POST",
                    RULES,
                    &c.alice,
                    Some(json!({"security_group_rule": body})),
                )
                .await;
            assert_error(s, &b, 409, "SecurityGroupRuleExists");
            assert_eq!(
                b["NeutronError"]["message"],
                format!(
                    "Security group rule already exists. Rule id is {}.",
                    existing.as_str().unwrap()
                )
            );
        }
        // Bulk: one group, one project, no duplicates within the POST.
        let (s, b) = c
            .call(
                "POST",
                RULES,
                &c.alice,
                Some(json!({"security_group_rules": [
                {"security_group_id": gid, "direction": "egress", "protocol": "tcp"},
                {"security_group_id": gid, "direction": "egress", "protocol": "6"}]})),
            )
            .await;
        assert_error(s, &b, 409, "DuplicateSecurityGroupRuleInPost");
        let other = c.security_group(&c.alice, json!({"name": "other"})).await;
        let (s, b) = c
            .call(
                "POST",
                RULES,
                &c.alice,
                Some(json!({"security_group_rules": [
                {"security_group_id": gid, "direction": "egress", "protocol": "tcp"},
                {"security_group_id": other["id"], "direction": "egress", "protocol": "udp"}]})),
            )
            .await;
        assert_error(s, &b, 400, "SecurityGroupNotSingleGroupRules");
        let (s, b) = c
            .call("POST", RULES, &c.alice, Some(json!({"security_group_rules": [
                {"security_group_id": gid, "direction": "egress", "protocol": "udp"},
                {"security_group_id": gid, "direction": "ingress", "protocol": "tcp", "port_range_min": 22, "port_range_max": 22}]})))
            .await;
        assert_error(s, &b, 409, "SecurityGroupRuleExists");
        assert_eq!(
            c.count("security_group_rules").await,
            rules_before + 2,
            "[{}] only the new group's rules",
            c.backend
        );
        let (s, b) = c
            .call(
                "POST",
                RULES,
                &c.alice,
                Some(json!({"security_group_rules": [
                {"security_group_id": gid, "direction": "egress", "protocol": "udp"},
                {"security_group_id": gid, "direction": "egress", "protocol": "sctp"}]})),
            )
            .await;
        assert_eq!(s, 201, "{b}");
        assert_eq!(b["security_group_rules"].as_array().unwrap().len(), 2);
        // The same rule in another group is another rule.
        c.rule(
            &c.alice,
            json!({"security_group_id": other["id"], "direction": "ingress", "protocol": "tcp",
                                "port_range_min": 22, "port_range_max": 22}),
        )
        .await;
        // A deleted rule may be created again.
        let (s, _) = c
            .call("DELETE", &format!("{RULES}/{}", id(&first)), &c.alice, None)
            .await;
        assert_eq!(s, 204);
        let (s, b) = c
            .call("DELETE", &format!("{RULES}/{}", id(&first)), &c.alice, None)
            .await;
        assert_error(s, &b, 404, "SecurityGroupRuleNotFound");
        c.rule(
            &c.alice,
            json!({"security_group_id": gid, "direction": "ingress", "protocol": "tcp",
                                "port_range_min": 22, "port_range_max": 22}),
        )
        .await;
    }
}

#[tokio::test]
async fn racing_identical_rules_one_wins() {
    for c in support::backends().await {
        let replica = c.replica().await;
        let g = c.security_group(&c.alice, json!({"name": "race"})).await;
        for port in 1000..1010 {
            let body = json!({"security_group_rule": {"security_group_id": g["id"], "direction": "ingress",
                              "protocol": "tcp", "port_range_min": port, "port_range_max": port}});
            let a = {
                let app = c.app.clone();
                let req = request("POST", RULES, Some(&c.alice), Some(body.clone()));
                tokio::spawn(async move { send(&app, req).await })
            };
            let b = {
                let app = replica.clone();
                let req = request("POST", RULES, Some(&c.alice), Some(body.clone()));
                tokio::spawn(async move { send(&app, req).await })
            };
            let (sa, _, ba) = a.await.expect("task");
            let (sb, _, bb) = b.await.expect("task");
            let mut statuses = [sa.as_u16(), sb.as_u16()];
            statuses.sort();
            assert_eq!(statuses, [201, 409], "[{}] {ba} {bb}", c.backend);
            let (winner, loser) = if sa.as_u16() == 201 {
                (ba, bb)
            } else {
                (bb, ba)
            };
            assert_eq!(
                loser["NeutronError"]["type"], "SecurityGroupRuleExists",
                "{loser}"
            );
            assert_eq!(
                loser["NeutronError"]["message"],
                format!(
                    "Security group rule already exists. Rule id is {}.",
                    winner["security_group_rule"]["id"].as_str().unwrap()
                )
            );
        }
        assert_eq!(
            c.count_where(
                "security_group_rules",
                &format!("security_group_id = '{}'", id(&g))
            )
            .await,
            12,
            "[{}] two egress rules and one per port",
            c.backend
        );
    }
}

#[tokio::test]
async fn ports_and_groups_in_use() {
    for c in support::backends().await {
        let net = c.network(&c.alice, "n").await;
        c.subnet(&c.alice, &net, "10.0.0.0/24", json!({})).await;
        let g = c
            .security_group(&c.alice, json!({"name": "lb-mgmt-sec-grp"}))
            .await;
        let h = c
            .security_group(&c.alice, json!({"name": "lb-health-mgr-sec-grp"}))
            .await;
        let stateless = c
            .security_group(&c.alice, json!({"name": "stateless", "stateful": false}))
            .await;
        let bobs = c.security_group(&c.bob, json!({"name": "bobs"})).await;
        let ports_before = c.count("ports").await;
        let cases = [
            (json!([NO_SUCH]), 404, "SecurityGroupNotFound"),
            (json!([g["id"], NO_SUCH]), 404, "SecurityGroupNotFound"),
            (json!([bobs["id"]]), 404, "SecurityGroupNotFound"),
            (json!(["not-a-uuid"]), 400, "HTTPBadRequest"),
            (json!([g["id"], g["id"]]), 400, "HTTPBadRequest"),
            (
                json!([g["id"], stateless["id"]]),
                409,
                "SecurityGroupConflict",
            ),
        ];
        for (groups, status, kind) in cases {
            let (s, b) = c
                .call(
                    "POST",
                    "/v2.0/ports",
                    &c.alice,
                    Some(json!({"port": {"network_id": net["id"], "security_groups": groups}})),
                )
                .await;
            assert_error(s, &b, status, kind);
        }
        assert_eq!(
            c.count("ports").await,
            ports_before,
            "[{}] nothing stored",
            c.backend
        );

        // lb-mgmt-router-port of document 000: both Octavia groups.
        let p = c
            .create(
                &c.alice,
                "port",
                json!({"network_id": net["id"], "name": "lb-mgmt-router-port",
                                              "security_groups": [g["id"], h["id"]]}),
            )
            .await;
        let mut want = vec![id(&g).to_string(), id(&h).to_string()];
        want.sort();
        assert_eq!(p["security_groups"], json!(want));
        let (s, b) = c
            .call(
                "GET",
                &format!("/v2.0/ports?security_groups={}", id(&h)),
                &c.alice,
                None,
            )
            .await;
        assert_eq!(s, 200);
        assert_eq!(b["ports"].as_array().unwrap().len(), 1);
        // An admin may bind any group, even to another project's port.
        let ap = c
            .create(
                &c.admin,
                "port",
                json!({"network_id": net["id"], "project_id": c.alice_project,
                                              "security_groups": [bobs["id"]]}),
            )
            .await;
        assert_eq!(ap["security_groups"], json!([bobs["id"]]));

        let gpath = format!("{GROUPS}/{}", id(&g));
        let (s, b) = c.call("DELETE", &gpath, &c.alice, None).await;
        assert_error(s, &b, 409, "SecurityGroupInUse");
        let (s, b) = c
            .call(
                "PUT",
                &gpath,
                &c.alice,
                Some(json!({"security_group": {"stateful": false}})),
            )
            .await;
        assert_error(s, &b, 409, "SecurityGroupInUse");
        let (s, b) = c
            .call(
                "PUT",
                &gpath,
                &c.alice,
                Some(json!({"security_group": {"stateful": true, "name": "renamed"}})),
            )
            .await;
        assert_eq!(s, 200, "unchanged statefulness is fine: {b}");
        assert_eq!(
            c.count_where("security_groups", &format!("id = '{}'", id(&g)))
                .await,
            1
        );

        // Port updates check groups the same way.
        let ppath = format!("/v2.0/ports/{}", id(&p));
        let (s, b) = c
            .call(
                "PUT",
                &ppath,
                &c.alice,
                Some(json!({"port": {"security_groups": [bobs["id"]]}})),
            )
            .await;
        assert_error(s, &b, 404, "SecurityGroupNotFound");
        let (s, b) = c
            .call(
                "PUT",
                &ppath,
                &c.alice,
                Some(json!({"port": {"security_groups": [h["id"]]}})),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["port"]["security_groups"], json!([h["id"]]));
        let (s, _) = c.call("DELETE", &gpath, &c.alice, None).await;
        assert_eq!(s, 204, "no longer in use");
        // Deleting the port frees its groups.
        let (s, _) = c.call("DELETE", &ppath, &c.alice, None).await;
        assert_eq!(s, 204);
        let (s, _) = c
            .call("DELETE", &format!("{GROUPS}/{}", id(&h)), &c.alice, None)
            .await;
        assert_eq!(s, 204);
    }
}

#[tokio::test]
async fn visibility_between_projects() {
    for c in support::backends().await {
        let g = c.security_group(&c.alice, json!({"name": "alices"})).await;
        let r = c
            .rule(
                &c.alice,
                json!({"security_group_id": g["id"], "direction": "ingress", "protocol": "tcp",
                                    "port_range_min": 80, "port_range_max": 80}),
            )
            .await;
        let mine = c.security_group(&c.bob, json!({"name": "bobs"})).await;
        let gpath = format!("{GROUPS}/{}", id(&g));
        let rpath = format!("{RULES}/{}", id(&r));

        // Bob sees nothing of alice's.
        let (s, b) = c.call("GET", &gpath, &c.bob, None).await;
        assert_error(s, &b, 404, "SecurityGroupNotFound");
        let (s, b) = c
            .call(
                "PUT",
                &gpath,
                &c.bob,
                Some(json!({"security_group": {"name": "x"}})),
            )
            .await;
        assert_error(s, &b, 404, "SecurityGroupNotFound");
        let (s, b) = c.call("DELETE", &gpath, &c.bob, None).await;
        assert_error(s, &b, 404, "SecurityGroupNotFound");
        let (s, b) = c.call("GET", &rpath, &c.bob, None).await;
        assert_error(s, &b, 404, "HTTPNotFound");
        let (s, b) = c.call("DELETE", &rpath, &c.bob, None).await;
        assert_error(s, &b, 404, "HTTPNotFound");
        let (s, b) = c.call("GET", GROUPS, &c.bob, None).await;
        assert_eq!(s, 200);
        let names: Vec<&str> = b["security_groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["name"].as_str().unwrap())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(
            names.contains(&"bobs") && names.contains(&"default"),
            "{names:?}"
        );
        let (_, b) = c.call("GET", RULES, &c.bob, None).await;
        assert!(
            b["security_group_rules"]
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r["project_id"] == c.bob_project.as_str()),
            "{b}"
        );
        // Rules: not in alice's group (policy), nor naming it as remote.
        let (s, b) = c
            .call("POST", RULES, &c.bob, Some(json!({"security_group_rule": {"security_group_id": g["id"], "direction": "ingress"}})))
            .await;
        assert_error(s, &b, 403, "PolicyNotAuthorized");
        let (s, b) = c
            .call("POST", RULES, &c.bob, Some(json!({"security_group_rule": {"security_group_id": mine["id"], "direction": "ingress", "remote_group_id": g["id"]}})))
            .await;
        assert_error(s, &b, 404, "SecurityGroupNotFound");
        // Alice's reader reads, and may not write.
        let (s, b) = c.call("GET", &rpath, &c.reader, None).await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["security_group_rule"]["port_range_min"], 80);
        let (s, b) = c.call("DELETE", &rpath, &c.reader, None).await;
        assert_error(s, &b, 403, "PolicyNotAuthorized");
        let (s, b) = c.call("DELETE", &gpath, &c.reader, None).await;
        assert_error(s, &b, 403, "PolicyNotAuthorized");
        // The admin sees and changes everything, and creates for others.
        let (s, b) = c.call("GET", &gpath, &c.admin, None).await;
        assert_eq!(s, 200, "{b}");
        let (_, b) = c
            .call(
                "GET",
                &format!("{GROUPS}?project_id={}", c.bob_project),
                &c.admin,
                None,
            )
            .await;
        assert_eq!(b["security_groups"].as_array().unwrap().len(), 2, "{b}");
        let forbob = c
            .security_group(
                &c.admin,
                json!({"name": "for-bob", "project_id": c.bob_project}),
            )
            .await;
        assert_eq!(forbob["project_id"], c.bob_project.as_str());
        let (s, _) = c
            .call("GET", &format!("{GROUPS}/{}", id(&forbob)), &c.bob, None)
            .await;
        assert_eq!(s, 200);
        let (s, _) = c.call("DELETE", &rpath, &c.admin, None).await;
        assert_eq!(s, 204);
        assert_eq!(
            c.show_group(&c.alice, &g["id"]).await["revision_number"],
            3,
            "add and remove revise it"
        );
    }
}

#[tokio::test]
async fn tags_listing_and_fields() {
    for c in support::backends().await {
        let a = c.security_group(&c.alice, json!({"name": "a"})).await;
        let b = c
            .security_group(&c.alice, json!({"name": "b", "description": "second"}))
            .await;
        let tags = format!("{GROUPS}/{}/tags", id(&a));
        let (s, body) = c
            .call(
                "PUT",
                &tags,
                &c.alice,
                Some(json!({"tags": ["octavia", "mgmt"]})),
            )
            .await;
        assert_eq!(s, 200, "{body}");
        assert_eq!(body["tags"], json!(["mgmt", "octavia"]));
        let (s, _) = c
            .call("PUT", &format!("{tags}/extra"), &c.alice, None)
            .await;
        assert_eq!(s, 201);
        let shown = c.show_group(&c.alice, &a["id"]).await;
        assert_eq!(shown["tags"], json!(["extra", "mgmt", "octavia"]));
        assert_eq!(shown["revision_number"], 3, "tags revise the group");
        let (s, body) = c
            .call("GET", &format!("{GROUPS}?tags=octavia"), &c.alice, None)
            .await;
        assert_eq!(s, 200);
        assert_eq!(body["security_groups"].as_array().unwrap().len(), 1);
        assert_eq!(body["security_groups"][0]["id"], a["id"]);
        let (s, body) = c.call("GET", &tags, &c.bob, None).await;
        assert_error(s, &body, 404, "SecurityGroupNotFound");
        let (s, body) = c
            .call("PUT", &tags, &c.reader, Some(json!({"tags": ["x"]})))
            .await;
        assert_error(s, &body, 403, "PolicyNotAuthorized");

        let (s, body) = c
            .call(
                "GET",
                &format!("{GROUPS}?sort_key=name&sort_dir=desc&fields=name&fields=id"),
                &c.alice,
                None,
            )
            .await;
        assert_eq!(s, 200, "{body}");
        let names: Vec<&str> = body["security_groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["default", "b", "a"]);
        assert_eq!(body["security_groups"][0].as_object().unwrap().len(), 2);
        let (s, body) = c
            .call(
                "GET",
                &format!("{GROUPS}?limit=1&sort_key=name"),
                &c.alice,
                None,
            )
            .await;
        assert_eq!(s, 200);
        assert_eq!(body["security_groups"][0]["name"], "a");
        assert!(
            body["security_groups_links"][0]["href"]
                .as_str()
                .unwrap()
                .contains("marker=")
        );
        let (s, body) = c
            .call(
                "GET",
                &format!("{GROUPS}?description=second"),
                &c.alice,
                None,
            )
            .await;
        assert_eq!(s, 200);
        assert_eq!(body["security_groups"][0]["id"], b["id"]);
        let (s, body) = c
            .call("GET", &format!("{GROUPS}?color=red"), &c.alice, None)
            .await;
        assert_error(s, &body, 400, "HTTPBadRequest");
        let (s, body) = c
            .call(
                "GET",
                &format!(
                    "{RULES}?direction=egress&ethertype=IPv6&security_group_id={}",
                    id(&b)
                ),
                &c.alice,
                None,
            )
            .await;
        assert_eq!(s, 200);
        assert_eq!(
            body["security_group_rules"].as_array().unwrap().len(),
            1,
            "{body}"
        );
        let (s, body) = c
            .call(
                "GET",
                &format!("{GROUPS}/{}?fields=security_group_rules", id(&b)),
                &c.alice,
                None,
            )
            .await;
        assert_eq!(s, 200);
        assert_eq!(body["security_group"].as_object().unwrap().len(), 1);
        assert_eq!(
            body["security_group"]["security_group_rules"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
    }
}
