//! The tenant boundary as a matrix. Project A (alice) owns one of
//! everything; project B (bob) then acts against each of A's objects
//! (show, update, delete, attach, name it as `device_id`, `port_id`,
//! `subnet_id`, `network_id`, `remote_group_id`, a `security_groups`
//! entry, an RBAC object or a quota), and A's reader (rita) tries every
//! write on A's own objects. Every one of those must be refused with
//! Neutron's status and NeutronError type, A's objects must be exactly as
//! before (revisions included) and none of the attempts may store a row.
//!
//! The matrix fails both ways: what Neutron permits across projects (a
//! port on a network shared with B, an interface on a subnet shared with
//! B by RBAC, an admin acting for a project, a `device_id` that names one's
//! own router or no router at all) is asserted to succeed.

use serde_json::{Value, json};

use crate::support::{self, Cloud};

/// Who sends a request of the matrix.
#[derive(Clone, Copy, Debug)]
enum Who {
    Alice,
    Bob,
    Reader,
    Admin,
}

/// What the answer must be.
#[derive(Clone, Copy, Debug)]
enum Want {
    /// Refused: this status and NeutronError type.
    Refused(u16, &'static str),
    /// Allowed: this status.
    Allowed(u16),
}

struct Case {
    name: &'static str,
    who: Who,
    method: &'static str,
    path: String,
    body: Option<Value>,
    want: Want,
}

fn case(
    name: &'static str,
    who: Who,
    method: &'static str,
    path: String,
    body: Option<Value>,
    want: Want,
) -> Case {
    Case {
        name,
        who,
        method,
        path,
        body,
        want,
    }
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

/// Everything the matrix acts on.
struct World {
    ext_net: String,
    // Project A.
    net_a: String,
    subnet_a: String,
    port_a: String,
    router_a: String,
    router_a_iface: String,
    sg_a: String,
    rule_a: String,
    fip_a: String,
    /// A's network shared with B by an RBAC grant naming B.
    net_shared: String,
    subnet_shared: String,
    rbac_a: String,
    /// A's network shared with everyone (`shared: true`, set by an admin).
    net_wild: String,
    subnet_wild: String,
    // Project B.
    net_b: String,
    subnet_b: String,
    port_b: String,
    /// B's port that already carries a router interface owner, no device.
    port_b_router_owned: String,
    router_b: String,
    sg_b: String,
    fip_b: String,
}

async fn ok(c: &Cloud, token: &str, method: &str, path: &str, body: Value) -> Value {
    let (s, b) = c.call(method, path, token, Some(body)).await;
    assert!(
        s == 200 || s == 201,
        "[{}] setup {method} {path}: {s} {b}",
        c.backend
    );
    b
}

/// Creates through `path` (for resources whose path is not `<singular>s`).
async fn make(c: &Cloud, token: &str, path: &str, singular: &str, body: Value) -> Value {
    ok(c, token, "POST", path, json!({singular: body})).await[singular].clone()
}

async fn build(c: &Cloud) -> World {
    let (alice, bob, admin) = (&c.alice, &c.bob, &c.admin);
    let ext = c
        .create(
            admin,
            "network",
            json!({"name": "public", "router:external": true}),
        )
        .await;
    c.subnet(admin, &ext, "203.0.113.0/24", json!({})).await;

    let net_a = c.network(alice, "a-net").await;
    let subnet_a = c.subnet(alice, &net_a, "10.1.0.0/24", json!({})).await;
    let port_a = c
        .create(
            alice,
            "port",
            json!({"network_id": net_a["id"], "name": "a-port"}),
        )
        .await;
    let router_a = c
        .create(
            alice,
            "router",
            json!({"name": "a-router", "external_gateway_info": {"network_id": ext["id"]}}),
        )
        .await;
    let iface = ok(
        c,
        alice,
        "PUT",
        &format!("/v2.0/routers/{}/add_router_interface", id(&router_a)),
        json!({"subnet_id": subnet_a["id"]}),
    )
    .await;
    let sg_a = make(
        c,
        alice,
        "/v2.0/security-groups",
        "security_group",
        json!({"name": "a-sg"}),
    )
    .await;
    let rule_a = make(
        c,
        alice,
        "/v2.0/security-group-rules",
        "security_group_rule",
        json!({"security_group_id": sg_a["id"], "direction": "ingress", "protocol": "tcp",
                   "port_range_min": 22, "port_range_max": 22}),
    )
    .await;
    let fip_a = c
        .create(
            alice,
            "floatingip",
            json!({"floating_network_id": ext["id"], "port_id": port_a["id"]}),
        )
        .await;
    let net_shared = c.network(alice, "a-shared").await;
    let subnet_shared = c.subnet(alice, &net_shared, "10.2.0.0/24", json!({})).await;
    let rbac_a = make(
        c,
        alice,
        "/v2.0/rbac-policies",
        "rbac_policy",
        json!({"object_type": "network", "object_id": net_shared["id"],
                   "action": "access_as_shared", "target_tenant": c.bob_project}),
    )
    .await;
    let net_wild = c
        .create(
            admin,
            "network",
            json!({"name": "a-wild", "shared": true, "project_id": c.alice_project}),
        )
        .await;
    let subnet_wild = c
        .subnet(
            admin,
            &net_wild,
            "10.3.0.0/24",
            json!({"project_id": c.alice_project}),
        )
        .await;
    ok(
        c,
        alice,
        "PUT",
        &format!("/v2.0/networks/{}/tags", id(&net_a)),
        json!({"tags": ["a-tag"]}),
    )
    .await;

    let net_b = c.network(bob, "b-net").await;
    let subnet_b = c.subnet(bob, &net_b, "10.9.0.0/24", json!({})).await;
    let port_b = c
        .create(
            bob,
            "port",
            json!({"network_id": net_b["id"], "name": "b-port"}),
        )
        .await;
    let port_b_router_owned = c
        .create(
            bob,
            "port",
            json!({"network_id": net_b["id"], "device_owner": "network:router_interface"}),
        )
        .await;
    let router_b = c.create(bob, "router", json!({"name": "b-router"})).await;
    let sg_b = make(
        c,
        bob,
        "/v2.0/security-groups",
        "security_group",
        json!({"name": "b-sg"}),
    )
    .await;
    let fip_b = c
        .create(bob, "floatingip", json!({"floating_network_id": ext["id"]}))
        .await;
    World {
        ext_net: id(&ext),
        net_a: id(&net_a),
        subnet_a: id(&subnet_a),
        port_a: id(&port_a),
        router_a: id(&router_a),
        router_a_iface: iface["port_id"].as_str().expect("port_id").to_string(),
        sg_a: id(&sg_a),
        rule_a: id(&rule_a),
        fip_a: id(&fip_a),
        net_shared: id(&net_shared),
        subnet_shared: id(&subnet_shared),
        rbac_a: id(&rbac_a),
        net_wild: id(&net_wild),
        subnet_wild: id(&subnet_wild),
        net_b: id(&net_b),
        subnet_b: id(&subnet_b),
        port_b: id(&port_b),
        port_b_router_owned: id(&port_b_router_owned),
        router_b: id(&router_b),
        sg_b: id(&sg_b),
        fip_b: id(&fip_b),
    }
}

const NOT_A_ROUTER: &str = "9b6a4e5e-3c1f-4f43-9a55-5b1c1f0e2d7a";

/// B against A's objects: every row refused.
#[rustfmt::skip] // a table: one request per line reads better than rustfmt's layout
fn bob_cases(w: &World, alice_project: &str) -> Vec<Case> {
    use Want::Refused;
    let b = Who::Bob;
    let net = |id: &str| format!("/v2.0/networks/{id}");
    let subnet = |id: &str| format!("/v2.0/subnets/{id}");
    let port = |id: &str| format!("/v2.0/ports/{id}");
    let router = |id: &str| format!("/v2.0/routers/{id}");
    let sg = |id: &str| format!("/v2.0/security-groups/{id}");
    let fip = |id: &str| format!("/v2.0/floatingips/{id}");
    let rbac = |id: &str| format!("/v2.0/rbac-policies/{id}");
    let rule = format!("/v2.0/security-group-rules/{}", w.rule_a);
    let quota = format!("/v2.0/quotas/{alice_project}");
    let add_a = format!("{}/add_router_interface", router(&w.router_a));
    let add_b = format!("{}/add_router_interface", router(&w.router_b));
    let nf_net = Refused(404, "NetworkNotFound");
    let nf_subnet = Refused(404, "SubnetNotFound");
    let nf_port = Refused(404, "PortNotFound");
    let nf_router = Refused(404, "RouterNotFound");
    let nf_sg = Refused(404, "SecurityGroupNotFound");
    let nf_fip = Refused(404, "FloatingIPNotFound");
    let nf_rbac = Refused(404, "RbacPolicyNotFound");
    // Neutron's policy layer hides other projects' rules behind a plain 404.
    let hidden_rule = Refused(404, "HTTPNotFound");
    let policy = Refused(403, "PolicyNotAuthorized");
    let not_owned = Refused(409, "DeviceIDNotOwnedByTenant");
    let foreign = Refused(400, "HTTPBadRequest");
    // Neutron's `BadRequest` (a plugin check, not the body validator's 400).
    let bad = Refused(400, "BadRequest");
    vec![
        // ---- the router hijack of issue 10, and its variants
        case("hijack: create router-interface port naming A's router", b, "POST", "/v2.0/ports".into(),
            Some(json!({"port": {"network_id": w.net_b, "device_owner": "network:router_interface", "device_id": w.router_a}})), not_owned),
        case("hijack: update own port to A's router", b, "PUT", port(&w.port_b),
            Some(json!({"port": {"device_owner": "network:router_interface", "device_id": w.router_a}})), not_owned),
        case("hijack: update only device_id of a router-owned port", b, "PUT", port(&w.port_b_router_owned),
            Some(json!({"port": {"device_id": w.router_a}})), not_owned),
        case("hijack: bulk create naming A's router", b, "POST", "/v2.0/ports".into(),
            Some(json!({"ports": [{"network_id": w.net_b}, {"network_id": w.net_b, "device_owner": "network:router_interface_distributed", "device_id": w.router_a}]})), not_owned),
        case("hijack: gateway-owned port naming A's router", b, "POST", "/v2.0/ports".into(),
            Some(json!({"port": {"network_id": w.net_b, "device_owner": "network:router_gateway", "device_id": w.router_a}})), not_owned),
        case("network:* owner on a network B does not own", b, "POST", "/v2.0/ports".into(),
            Some(json!({"port": {"network_id": w.net_shared, "device_owner": "network:router_interface", "device_id": w.router_b}})), policy),
        // ---- networks
        case("show A's network", b, "GET", net(&w.net_a), None, nf_net),
        case("update A's network", b, "PUT", net(&w.net_a), Some(json!({"network": {"name": "x"}})), nf_net),
        case("delete A's network", b, "DELETE", net(&w.net_a), None, nf_net),
        case("update A's network shared with B", b, "PUT", net(&w.net_shared), Some(json!({"network": {"name": "x"}})), policy),
        case("delete A's network shared with B", b, "DELETE", net(&w.net_shared), None, policy),
        case("replace tags of A's network", b, "PUT", format!("{}/tags", net(&w.net_a)), Some(json!({"tags": ["x"]})), nf_net),
        case("add a tag to A's network", b, "PUT", format!("{}/tags/x", net(&w.net_a)), None, nf_net),
        case("remove A's network's tag", b, "DELETE", format!("{}/tags/a-tag", net(&w.net_a)), None, nf_net),
        case("remove all tags of A's network", b, "DELETE", format!("{}/tags", net(&w.net_a)), None, nf_net),
        case("network for project A", b, "POST", "/v2.0/networks".into(),
            Some(json!({"network": {"name": "x", "project_id": alice_project}})), foreign),
        // ---- subnets
        case("show A's subnet", b, "GET", subnet(&w.subnet_a), None, nf_subnet),
        case("update A's subnet", b, "PUT", subnet(&w.subnet_a), Some(json!({"subnet": {"name": "x"}})), nf_subnet),
        case("delete A's subnet", b, "DELETE", subnet(&w.subnet_a), None, nf_subnet),
        case("update A's subnet on a network shared with B", b, "PUT", subnet(&w.subnet_shared), Some(json!({"subnet": {"name": "x"}})), policy),
        case("delete A's subnet on a network shared with B", b, "DELETE", subnet(&w.subnet_shared), None, policy),
        case("subnet on A's network", b, "POST", "/v2.0/subnets".into(),
            Some(json!({"subnet": {"network_id": w.net_a, "cidr": "10.50.0.0/24", "ip_version": 4}})), nf_net),
        case("subnet on A's network shared with B", b, "POST", "/v2.0/subnets".into(),
            Some(json!({"subnet": {"network_id": w.net_shared, "cidr": "10.51.0.0/24", "ip_version": 4}})), policy),
        case("subnet for project A on own network", b, "POST", "/v2.0/subnets".into(),
            Some(json!({"subnet": {"network_id": w.net_b, "cidr": "10.52.0.0/24", "ip_version": 4, "tenant_id": alice_project}})), foreign),
        case("tag A's subnet", b, "PUT", format!("{}/tags/x", subnet(&w.subnet_a)), None, nf_subnet),
        // ---- ports
        case("show A's port", b, "GET", port(&w.port_a), None, nf_port),
        case("update A's port", b, "PUT", port(&w.port_a), Some(json!({"port": {"name": "x"}})), nf_port),
        case("delete A's port", b, "DELETE", port(&w.port_a), None, nf_port),
        case("show A's router interface port", b, "GET", port(&w.router_a_iface), None, nf_port),
        case("delete A's router interface port", b, "DELETE", port(&w.router_a_iface), None, nf_port),
        case("port on A's network", b, "POST", "/v2.0/ports".into(), Some(json!({"port": {"network_id": w.net_a}})), nf_net),
        case("port with A's security group", b, "POST", "/v2.0/ports".into(),
            Some(json!({"port": {"network_id": w.net_b, "security_groups": [w.sg_a]}})), nf_sg),
        case("own port updated to A's security group", b, "PUT", port(&w.port_b),
            Some(json!({"port": {"security_groups": [w.sg_a]}})), nf_sg),
        case("port with an address on A's subnet", b, "POST", "/v2.0/ports".into(),
            Some(json!({"port": {"network_id": w.net_b, "fixed_ips": [{"subnet_id": w.subnet_a}]}})), Refused(400, "InvalidInput")),
        case("port with a fixed address on a network shared with B", b, "POST", "/v2.0/ports".into(),
            Some(json!({"port": {"network_id": w.net_shared, "fixed_ips": [{"ip_address": "10.2.0.50"}]}})), policy),
        case("port for project A", b, "POST", "/v2.0/ports".into(),
            Some(json!({"port": {"network_id": w.net_b, "project_id": alice_project}})), foreign),
        case("tag A's port", b, "PUT", format!("{}/tags/x", port(&w.port_a)), None, nf_port),
        // ---- routers
        case("show A's router", b, "GET", router(&w.router_a), None, nf_router),
        case("update A's router", b, "PUT", router(&w.router_a), Some(json!({"router": {"name": "x"}})), nf_router),
        case("delete A's router", b, "DELETE", router(&w.router_a), None, nf_router),
        case("add own subnet to A's router", b, "PUT", add_a.clone(), Some(json!({"subnet_id": w.subnet_b})), nf_router),
        case("add own port to A's router", b, "PUT", add_a, Some(json!({"port_id": w.port_b})), nf_router),
        case("remove A's interface from A's router", b, "PUT", format!("{}/remove_router_interface", router(&w.router_a)),
            Some(json!({"subnet_id": w.subnet_a})), nf_router),
        case("add A's subnet to own router", b, "PUT", add_b.clone(), Some(json!({"subnet_id": w.subnet_a})), nf_subnet),
        case("add A's port to own router", b, "PUT", add_b.clone(), Some(json!({"port_id": w.port_a})), nf_port),
        case("add A's router interface port to own router", b, "PUT", add_b.clone(), Some(json!({"port_id": w.router_a_iface})), nf_port),
        case("add a subnet of A's globally shared network to own router", b, "PUT", add_b,
            Some(json!({"subnet_id": w.subnet_wild})), bad),
        case("remove A's interface port from own router", b, "PUT", format!("{}/remove_router_interface", router(&w.router_b)),
            Some(json!({"port_id": w.router_a_iface})), Refused(404, "RouterInterfaceNotFound")),
        case("own router's gateway on A's network", b, "PUT", router(&w.router_b),
            Some(json!({"router": {"external_gateway_info": {"network_id": w.net_a}}})), nf_net),
        case("own router's gateway on A's non-external shared network", b, "PUT", router(&w.router_b),
            Some(json!({"router": {"external_gateway_info": {"network_id": w.net_shared}}})), bad),
        case("own router's gateway with fixed external IPs", b, "PUT", router(&w.router_b),
            Some(json!({"router": {"external_gateway_info": {"network_id": w.ext_net, "external_fixed_ips": [{"ip_address": "203.0.113.77"}]}}})), policy),
        case("router for project A", b, "POST", "/v2.0/routers".into(),
            Some(json!({"router": {"name": "x", "project_id": alice_project}})), policy),
        case("tag A's router", b, "PUT", format!("{}/tags/x", router(&w.router_a)), None, nf_router),
        // ---- floating IPs
        case("show A's floating IP", b, "GET", fip(&w.fip_a), None, nf_fip),
        case("disassociate A's floating IP", b, "PUT", fip(&w.fip_a), Some(json!({"floatingip": {"port_id": null}})), nf_fip),
        case("point A's floating IP at own port", b, "PUT", fip(&w.fip_a), Some(json!({"floatingip": {"port_id": w.port_b}})), nf_fip),
        case("delete A's floating IP", b, "DELETE", fip(&w.fip_a), None, nf_fip),
        case("floating IP for A's port", b, "POST", "/v2.0/floatingips".into(),
            Some(json!({"floatingip": {"floating_network_id": w.ext_net, "port_id": w.port_a}})), nf_port),
        case("own floating IP to A's port", b, "PUT", fip(&w.fip_b), Some(json!({"floatingip": {"port_id": w.port_a}})), nf_port),
        case("floating IP from A's network", b, "POST", "/v2.0/floatingips".into(),
            Some(json!({"floatingip": {"floating_network_id": w.net_a}})), nf_net),
        case("floating IP for project A", b, "POST", "/v2.0/floatingips".into(),
            Some(json!({"floatingip": {"floating_network_id": w.ext_net, "project_id": alice_project}})), policy),
        case("tag A's floating IP", b, "PUT", format!("{}/tags/x", fip(&w.fip_a)), None, nf_fip),
        // ---- security groups
        case("show A's security group", b, "GET", sg(&w.sg_a), None, nf_sg),
        case("update A's security group", b, "PUT", sg(&w.sg_a), Some(json!({"security_group": {"name": "x"}})), nf_sg),
        case("delete A's security group", b, "DELETE", sg(&w.sg_a), None, nf_sg),
        case("security group for project A", b, "POST", "/v2.0/security-groups".into(),
            Some(json!({"security_group": {"name": "x", "project_id": alice_project}})), policy),
        case("rule in A's security group", b, "POST", "/v2.0/security-group-rules".into(),
            Some(json!({"security_group_rule": {"security_group_id": w.sg_a, "direction": "ingress"}})), policy),
        case("own rule with A's group as remote", b, "POST", "/v2.0/security-group-rules".into(),
            Some(json!({"security_group_rule": {"security_group_id": w.sg_b, "direction": "ingress", "remote_group_id": w.sg_a}})), nf_sg),
        case("rule for project A in own group", b, "POST", "/v2.0/security-group-rules".into(),
            Some(json!({"security_group_rule": {"security_group_id": w.sg_b, "direction": "egress", "project_id": alice_project}})), policy),
        case("show A's rule", b, "GET", rule.clone(), None, hidden_rule),
        case("delete A's rule", b, "DELETE", rule, None, hidden_rule),
        case("tag A's security group", b, "PUT", format!("{}/tags/x", sg(&w.sg_a)), None, nf_sg),
        // ---- RBAC
        case("show A's RBAC policy", b, "GET", rbac(&w.rbac_a), None, nf_rbac),
        case("retarget A's RBAC policy", b, "PUT", rbac(&w.rbac_a), Some(json!({"rbac_policy": {"target_tenant": "*"}})), nf_rbac),
        case("delete A's RBAC policy", b, "DELETE", rbac(&w.rbac_a), None, nf_rbac),
        case("share A's network", b, "POST", "/v2.0/rbac-policies".into(),
            Some(json!({"rbac_policy": {"object_type": "network", "object_id": w.net_a, "action": "access_as_shared", "target_tenant": "beta"}})), nf_rbac),
        case("re-share A's network shared with B", b, "POST", "/v2.0/rbac-policies".into(),
            Some(json!({"rbac_policy": {"object_type": "network", "object_id": w.net_shared, "action": "access_as_external", "target_tenant": "beta"}})), bad),
        case("RBAC policy for project A on own network", b, "POST", "/v2.0/rbac-policies".into(),
            Some(json!({"rbac_policy": {"object_type": "network", "object_id": w.net_b, "action": "access_as_shared", "target_tenant": "x", "project_id": alice_project}})), policy),
        // ---- quotas
        case("show A's quota", b, "GET", quota.clone(), None, policy),
        case("show A's quota usage", b, "GET", format!("{quota}/details"), None, policy),
        case("set A's quota", b, "PUT", quota.clone(), Some(json!({"quota": {"port": 1}})), policy),
        case("reset A's quota", b, "DELETE", quota, None, policy),
    ]
}

/// A's reader against A's own objects: every write refused.
#[rustfmt::skip] // a table, as above
fn reader_cases(w: &World) -> Vec<Case> {
    let r = Who::Reader;
    let policy = Want::Refused(403, "PolicyNotAuthorized");
    let net = format!("/v2.0/networks/{}", w.net_a);
    let subnet = format!("/v2.0/subnets/{}", w.subnet_a);
    let port = format!("/v2.0/ports/{}", w.port_a);
    let router = format!("/v2.0/routers/{}", w.router_a);
    let sg = format!("/v2.0/security-groups/{}", w.sg_a);
    let fip = format!("/v2.0/floatingips/{}", w.fip_a);
    let rbac = format!("/v2.0/rbac-policies/{}", w.rbac_a);
    vec![
        case("reader: create network", r, "POST", "/v2.0/networks".into(), Some(json!({"network": {"name": "x"}})), policy),
        case("reader: update network", r, "PUT", net.clone(), Some(json!({"network": {"name": "x"}})), policy),
        case("reader: delete network", r, "DELETE", net.clone(), None, policy),
        case("reader: tag network", r, "PUT", format!("{net}/tags/x"), None, policy),
        case("reader: replace network tags", r, "PUT", format!("{net}/tags"), Some(json!({"tags": []})), policy),
        case("reader: untag network", r, "DELETE", format!("{net}/tags/a-tag"), None, policy),
        case("reader: create subnet", r, "POST", "/v2.0/subnets".into(),
            Some(json!({"subnet": {"network_id": w.net_a, "cidr": "10.60.0.0/24", "ip_version": 4}})), policy),
        case("reader: update subnet", r, "PUT", subnet.clone(), Some(json!({"subnet": {"name": "x"}})), policy),
        case("reader: delete subnet", r, "DELETE", subnet, None, policy),
        case("reader: create port", r, "POST", "/v2.0/ports".into(), Some(json!({"port": {"network_id": w.net_a}})), policy),
        case("reader: router-interface port naming A's router", r, "POST", "/v2.0/ports".into(),
            Some(json!({"port": {"network_id": w.net_a, "device_owner": "network:router_interface", "device_id": w.router_a}})), policy),
        case("reader: update port", r, "PUT", port.clone(), Some(json!({"port": {"name": "x"}})), policy),
        case("reader: delete port", r, "DELETE", port, None, policy),
        case("reader: create router", r, "POST", "/v2.0/routers".into(), Some(json!({"router": {"name": "x"}})), policy),
        case("reader: update router", r, "PUT", router.clone(), Some(json!({"router": {"name": "x"}})), policy),
        case("reader: delete router", r, "DELETE", router.clone(), None, policy),
        case("reader: add router interface", r, "PUT", format!("{router}/add_router_interface"),
            Some(json!({"subnet_id": w.subnet_shared})), policy),
        case("reader: remove router interface", r, "PUT", format!("{router}/remove_router_interface"),
            Some(json!({"subnet_id": w.subnet_a})), policy),
        case("reader: create security group", r, "POST", "/v2.0/security-groups".into(),
            Some(json!({"security_group": {"name": "x"}})), policy),
        case("reader: update security group", r, "PUT", sg.clone(), Some(json!({"security_group": {"name": "x"}})), policy),
        case("reader: delete security group", r, "DELETE", sg, None, policy),
        case("reader: create rule", r, "POST", "/v2.0/security-group-rules".into(),
            Some(json!({"security_group_rule": {"security_group_id": w.sg_a, "direction": "egress", "protocol": "udp"}})), policy),
        case("reader: delete rule", r, "DELETE", format!("/v2.0/security-group-rules/{}", w.rule_a), None, policy),
        case("reader: create floating IP", r, "POST", "/v2.0/floatingips".into(),
            Some(json!({"floatingip": {"floating_network_id": w.ext_net}})), policy),
        case("reader: disassociate floating IP", r, "PUT", fip.clone(), Some(json!({"floatingip": {"port_id": null}})), policy),
        case("reader: delete floating IP", r, "DELETE", fip, None, policy),
        case("reader: create RBAC policy", r, "POST", "/v2.0/rbac-policies".into(),
            Some(json!({"rbac_policy": {"object_type": "network", "object_id": w.net_a, "action": "access_as_shared", "target_tenant": "x"}})), policy),
        case("reader: update RBAC policy", r, "PUT", rbac.clone(), Some(json!({"rbac_policy": {"target_tenant": "x"}})), policy),
        case("reader: delete RBAC policy", r, "DELETE", rbac, None, policy),
        case("reader: set quota", r, "PUT", "/v2.0/quotas/alpha".into(), Some(json!({"quota": {"port": 1}})), policy),
    ]
}

/// What Neutron permits across the boundary: each must succeed, so the
/// matrix also fails if a fix refuses too much. Run after the refusals,
/// since these do change things.
#[rustfmt::skip] // a table, as above
fn allowed_cases(w: &World, bob_project: &str) -> Vec<Case> {
    use Want::Allowed;
    use Who::{Admin, Alice, Bob};
    vec![
        case("B sees A's network shared with B", Bob, "GET", format!("/v2.0/networks/{}", w.net_shared), None, Allowed(200)),
        case("B's port on A's network shared with B", Bob, "POST", "/v2.0/ports".into(),
            Some(json!({"port": {"network_id": w.net_shared, "name": "b-on-shared"}})), Allowed(201)),
        case("B's port on A's network shared with everyone", Bob, "POST", "/v2.0/ports".into(),
            Some(json!({"port": {"network_id": w.net_wild}})), Allowed(201)),
        case("B's router on A's subnet shared with B by RBAC", Bob, "PUT",
            format!("/v2.0/routers/{}/add_router_interface", w.router_b), Some(json!({"subnet_id": w.subnet_shared})), Allowed(200)),
        case("B names its own router", Bob, "POST", "/v2.0/ports".into(),
            Some(json!({"port": {"network_id": w.net_b, "device_owner": "network:router_interface", "device_id": w.router_b}})), Allowed(201)),
        case("B names a device that is no router", Bob, "POST", "/v2.0/ports".into(),
            Some(json!({"port": {"network_id": w.net_b, "device_owner": "network:router_interface", "device_id": NOT_A_ROUTER}})), Allowed(201)),
        case("B names A's router with a non-router owner", Bob, "POST", "/v2.0/ports".into(),
            Some(json!({"port": {"network_id": w.net_b, "device_owner": "compute:nova", "device_id": w.router_a}})), Allowed(201)),
        case("B renames its router-owned port", Bob, "PUT", format!("/v2.0/ports/{}", w.port_b_router_owned),
            Some(json!({"port": {"name": "renamed"}})), Allowed(200)),
        case("A names its own router", Alice, "POST", "/v2.0/ports".into(),
            Some(json!({"port": {"network_id": w.net_a, "device_owner": "network:router_interface", "device_id": w.router_a}})), Allowed(201)),
        case("admin gives B's port A's router", Admin, "POST", "/v2.0/ports".into(),
            Some(json!({"port": {"network_id": w.net_b, "project_id": bob_project, "device_owner": "network:router_interface", "device_id": w.router_a}})), Allowed(201)),
        case("admin reads A's quota", Admin, "GET", "/v2.0/quotas/alpha".into(), None, Allowed(200)),
    ]
}

/// A's objects as an admin sees them, revisions and timestamps included,
/// plus every port that names A's router (whoever owns it).
async fn snapshot(c: &Cloud, w: &World) -> Value {
    let mut out = serde_json::Map::new();
    for plural in [
        "networks",
        "subnets",
        "ports",
        "routers",
        "security-groups",
        "security-group-rules",
        "floatingips",
        "rbac-policies",
    ] {
        let (s, b) = c
            .call(
                "GET",
                &format!("/v2.0/{plural}?project_id={}&sort_key=id", c.alice_project),
                &c.admin,
                None,
            )
            .await;
        assert_eq!(s, 200, "snapshot {plural}: {b}");
        out.insert(plural.into(), b);
    }
    let (_, b) = c
        .call(
            "GET",
            &format!("/v2.0/ports?device_id={}&sort_key=id", w.router_a),
            &c.admin,
            None,
        )
        .await;
    out.insert("router_a_ports".into(), b);
    let (_, b) = c
        .call(
            "GET",
            &format!("/v2.0/quotas/{}", c.alice_project),
            &c.admin,
            None,
        )
        .await;
    out.insert("quota".into(), b);
    Value::Object(out)
}

const TABLES: &[&str] = &[
    "networks",
    "subnets",
    "subnet_allocation_pools",
    "ports",
    "ip_allocations",
    "port_security_groups",
    "routers",
    "security_groups",
    "security_group_rules",
    "floatingips",
    "network_rbacs",
    "tags",
    "quotas",
];

async fn counts(c: &Cloud) -> Vec<(&'static str, i64)> {
    let mut out = Vec::new();
    for t in TABLES {
        out.push((*t, c.count(t).await));
    }
    out
}

/// Runs the cases and returns one line per answer that is not the wanted one.
async fn run(c: &Cloud, cases: &[Case]) -> Vec<String> {
    let mut wrong = Vec::new();
    for k in cases {
        let token = match k.who {
            Who::Alice => &c.alice,
            Who::Bob => &c.bob,
            Who::Reader => &c.reader,
            Who::Admin => &c.admin,
        };
        let (s, b) = c.call(k.method, &k.path, token, k.body.clone()).await;
        let good = match k.want {
            Want::Refused(status, kind) => {
                s == status
                    && b["NeutronError"]["type"] == kind
                    && b["NeutronError"]["message"]
                        .as_str()
                        .is_some_and(|m| !m.is_empty())
            }
            Want::Allowed(status) => s == status,
        };
        if !good {
            wrong.push(format!(
                "[{}] {} ({:?} {} {}): want {:?}, got {s} {b}",
                c.backend, k.name, k.who, k.method, k.path, k.want
            ));
        }
    }
    wrong
}

#[tokio::test]
async fn cross_project_matrix() {
    for c in support::backends().await {
        let w = build(&c).await;
        let before = snapshot(&c, &w).await;
        let rows = counts(&c).await;

        let mut wrong = run(&c, &bob_cases(&w, &c.alice_project)).await;
        wrong.extend(run(&c, &reader_cases(&w)).await);
        assert!(
            wrong.is_empty(),
            "{} refusals answered wrongly:\n{}",
            wrong.len(),
            wrong.join("\n")
        );
        assert_eq!(
            snapshot(&c, &w).await,
            before,
            "[{}] A's objects changed",
            c.backend
        );
        assert_eq!(
            counts(&c).await,
            rows,
            "[{}] a refused request stored rows",
            c.backend
        );

        let wrong = run(&c, &allowed_cases(&w, &c.bob_project)).await;
        assert!(
            wrong.is_empty(),
            "{} permitted actions refused:\n{}",
            wrong.len(),
            wrong.join("\n")
        );
        // B's interface on A's RBAC-shared subnet is B's port, as in
        // Neutron (the router's project), so it is B's to remove.
        let (s, b) = c
            .call(
                "GET",
                &format!(
                    "/v2.0/ports?device_id={}&network_id={}",
                    w.router_b, w.net_shared
                ),
                &c.admin,
                None,
            )
            .await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["ports"][0]["project_id"], c.bob_project.as_str(), "{b}");
    }
}
