//! Bad bodies per resource → upstream's status and faultstring.
//!
//! The generic WSME texts (unknown attribute, mandatory, conversion
//! errors against the whole argument, range and type messages) were
//! checked against WSME 0.13 itself with equivalent types; the
//! controller texts are octavia 19's templates. Enum value lists are in
//! upstream's declaration order (WSME prints a Python set, whose order
//! is not stable).

use neutrino_lb_types::LbError;
use neutrino_lb_types::enums::Protocol;
use neutrino_lb_types::model::*;
use neutrino_lb_types::request::admin::*;
use neutrino_lb_types::request::healthmonitor::*;
use neutrino_lb_types::request::l7policy::*;
use neutrino_lb_types::request::l7rule::*;
use neutrino_lb_types::request::listener::*;
use neutrino_lb_types::request::loadbalancer::*;
use neutrino_lb_types::request::member::*;
use neutrino_lb_types::request::pool::*;
use neutrino_lb_types::sample;
use serde_json::{Value, json};
use std::net::IpAddr;

const LB: &str = "6a0a707c-45ef-4758-b533-e55adddba8ce";
const POOL: &str = "0f3b2a64-5b8f-4b52-9d8e-2a0c6c1f8a11";

/// Runs each case, collecting every mismatch so one run shows them all.
fn table(name: &str, run: impl Fn(&Value) -> Result<(), LbError>, cases: &[(Value, u16, &str)]) {
    let mut failures = Vec::new();
    for (body, status, text) in cases {
        match run(body) {
            Ok(()) => failures.push(format!("{body}: accepted, expected {status} {text}")),
            Err(e) => {
                if e.status != *status || e.faultstring != *text {
                    failures.push(format!(
                        "{body}:\n   got {} {}\n  want {status} {text}",
                        e.status, e.faultstring
                    ));
                }
                let fault = e.body();
                assert_eq!(
                    fault["faultcode"],
                    if *status < 500 { "Client" } else { "Server" }
                );
                assert_eq!(fault["debuginfo"], Value::Null);
            }
        }
    }
    assert!(failures.is_empty(), "{name}:\n{}", failures.join("\n"));
}

fn vips() -> Vec<IpAddr> {
    vec!["10.0.0.1".parse().unwrap()]
}

fn listener_post(body: &Value) -> Result<(), LbError> {
    let l = ListenerCreate::parse(body)?;
    l.check_options(&[])?;
    l.check_against_vips(&vips(), false)
}

fn listener(extra: Value) -> Value {
    let mut l = json!({"protocol": "HTTP", "protocol_port": 80, "loadbalancer_id": LB});
    l.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    json!({"listener": l})
}

#[test]
fn listener_post_rejects() {
    let body_abc =
        json!({"listener": {"protocol": "TCP", "protocol_port": "abc", "loadbalancer_id": LB}});
    table(
        "listener POST",
        listener_post,
        &[
            (
                listener(json!({"bogus": 1})),
                400,
                "Unknown attribute for argument listener_.listener: bogus",
            ),
            (
                listener(json!({"bogus": 1, "other": 2})),
                400,
                "Unknown attributes for argument listener_.listener: bogus, other",
            ),
            (
                json!({"listener": {"protocol": "HTTP", "loadbalancer_id": LB}}),
                400,
                "Invalid input for field/attribute protocol_port. Value: 'None'. Mandatory field missing.",
            ),
            (
                listener(json!({"protocol_port": 0})),
                400,
                "Invalid input for field/attribute protocol_port. Value: '0'. Value should be greater or equal to 1",
            ),
            (
                listener(json!({"protocol_port": 65536})),
                400,
                "Invalid input for field/attribute protocol_port. Value: '65536'. Value should be lower or equal to 65535",
            ),
            (
                body_abc,
                400,
                "Invalid input for field/attribute listener_. Value: '{'listener': {'protocol': 'TCP', 'protocol_port': 'abc', 'loadbalancer_id': '6a0a707c-45ef-4758-b533-e55adddba8ce'}}'. invalid literal for int() with base 10: 'abc'",
            ),
            (
                listener(json!({"protocol": "FOO"})),
                400,
                "Invalid input for field/attribute protocol. Value: 'FOO'. Value should be one of: TCP, HTTPS, HTTP, TERMINATED_HTTPS, UDP, SCTP, PROMETHEUS",
            ),
            (
                listener(json!({"loadbalancer_id": "x"})),
                400,
                "Invalid input for field/attribute loadbalancer_id. Value: 'x'. Value should be UUID format",
            ),
            (
                listener(json!({"name": 5})),
                400,
                "Invalid input for field/attribute name. Value: '5'. Value should be string",
            ),
            (
                listener(json!({"tags": ["a", 5]})),
                400,
                "Invalid input for field/attribute tags. Value: '['a', 5]'. Value should be string",
            ),
            (
                listener(json!({"connection_limit": -2})),
                400,
                "Invalid input for field/attribute connection_limit. Value: '-2'. Value should be greater or equal to -1",
            ),
            (
                listener(json!({"timeout_client_data": 2073600001})),
                400,
                "Invalid input for field/attribute timeout_client_data. Value: '2073600001'. Value should be lower or equal to 2073600000",
            ),
            (
                listener(json!({"allowed_cidrs": ["bogus"]})),
                400,
                "Invalid input for field/attribute allowed_cidrs. Value: '['bogus']'. Value should be IPv4 or IPv6 CIDR format",
            ),
            (
                listener(json!({"alpn_protocols": ["h3"]})),
                400,
                "Invalid input for field/attribute alpn_protocols. Value: '['h3']'. Value should be a valid ALPN protocol ID",
            ),
            (
                listener(json!({"client_authentication": "SOMETIMES"})),
                400,
                "Invalid input for field/attribute client_authentication. Value: 'SOMETIMES'. Value should be one of: NONE, OPTIONAL, MANDATORY",
            ),
            (
                listener(json!({"protocol": "TCP", "insert_headers": {"X-Forwarded-For": "true"}})),
                400,
                "insert-headers is not a valid option for a TCP protocol listener.",
            ),
            (
                listener(json!({"insert_headers": {"X-Bogus": "true"}})),
                400,
                "dict_keys(['X-Bogus']) is not a valid option for insert_headers",
            ),
            (
                listener(json!({"insert_headers": {"X-SSL-Client-DN": "true"}})),
                400,
                "['X-SSL-Client-DN'] is not a valid option for HTTP protocol listener.",
            ),
            (
                listener(json!({"protocol": "UDP", "default_tls_container_ref": "ref"})),
                400,
                "Validation failure: UDP protocol listener does not support TLS.",
            ),
            (
                listener(json!({"default_tls_container_ref": "ref"})),
                400,
                "Validation failure: Certificate container references are not allowed on HTTP protocol listeners.",
            ),
            (
                listener(json!({"protocol": "TERMINATED_HTTPS"})),
                400,
                "Validation failure: An SNI or default certificate container reference must be provided for TERMINATED_HTTPS protocol listeners.",
            ),
            (
                listener(
                    json!({"protocol": "TERMINATED_HTTPS", "client_ca_tls_container_ref": "ca"}),
                ),
                400,
                "Validation failure: An SNI or default certificate container reference must be provided with a client CA container reference.",
            ),
            (
                listener(
                    json!({"protocol": "TERMINATED_HTTPS", "default_tls_container_ref": "c", "client_authentication": "MANDATORY"}),
                ),
                400,
                "Validation failure: Client authentication setting MANDATORY requires a client CA container reference.",
            ),
            (
                listener(
                    json!({"protocol": "TERMINATED_HTTPS", "default_tls_container_ref": "c", "client_crl_container_ref": "crl"}),
                ),
                400,
                "Validation failure: A client authentication CA reference is required to specify a client authentication revocation list.",
            ),
            (
                listener(
                    json!({"protocol": "TERMINATED_HTTPS", "default_tls_container_ref": "c", "tls_ciphers": "A B"}),
                ),
                400,
                "Validation failure: Invalid characters in cipher string. Only alphanumeric, -, +, !, :, @, =, _, and . are allowed.",
            ),
            (
                listener(
                    json!({"protocol": "TERMINATED_HTTPS", "default_tls_container_ref": "c", "tls_versions": []}),
                ),
                400,
                "Validation failure: Empty TLS version list. Either specify at least one TLS version or remove this parameter to use the default.",
            ),
            (
                listener(
                    json!({"protocol": "TERMINATED_HTTPS", "default_tls_container_ref": "c", "tls_versions": ["TLSv1.2", "TLSv9"]}),
                ),
                400,
                "Validation failure: Invalid TLS versions: TLSv9",
            ),
            (
                listener(
                    json!({"protocol": "TERMINATED_HTTPS", "default_tls_container_ref": "c", "alpn_protocols": []}),
                ),
                400,
                "Validation failure: Empty ALPN protocol list. Either specify at least one ALPN protocol or remove this parameter to use the default.",
            ),
            (
                listener(json!({"hsts_max_age": 10})),
                400,
                "Validation failure: The HSTS feature can only be used for listeners using the TERMINATED_HTTPS protocol.",
            ),
            (
                listener(
                    json!({"protocol": "TERMINATED_HTTPS", "default_tls_container_ref": "c", "hsts_preload": true}),
                ),
                400,
                "Validation failure: HSTS configuration options hsts_include_subdomains and hsts_preload only make sense if hsts_max_age is set as well.",
            ),
            (
                listener(json!({"allowed_cidrs": ["2001:db8::1/64"]})),
                400,
                "Validation failure: CIDR 2001:db8::/64 IP version incompatible with all VIPs ['10.0.0.1'] IP version.",
            ),
            (
                listener(json!({"admin_state_up": "maybe"})),
                400,
                "Invalid input for field/attribute listener_. Value: '{'listener': {'protocol': 'HTTP', 'protocol_port': 80, 'loadbalancer_id': '6a0a707c-45ef-4758-b533-e55adddba8ce', 'admin_state_up': 'maybe'}}'. Value not an unambiguous boolean: maybe",
            ),
            (
                json!({"listener": {"protocol": "HTTP", "protocol_port": 80}}),
                400,
                "Invalid input for field/attribute loadbalancer_id. Value: 'None'. Mandatory field missing.",
            ),
            (
                json!({"bogus": {}}),
                400,
                "Unknown attribute for argument listener_: bogus",
            ),
            (
                json!([1]),
                400,
                "Invalid input for field/attribute listener_. Value: '[1]'. Value not a valid dict: [1]",
            ),
        ],
    );
}

#[test]
fn listener_defaults_on_create() {
    let l = ListenerCreate::parse(&listener(json!({}))).unwrap();
    assert!(l.admin_state_up);
    assert_eq!(l.connection_limit, -1);
    assert_eq!(
        (
            l.timeout_client_data,
            l.timeout_member_connect,
            l.timeout_member_data,
            l.timeout_tcp_inspect
        ),
        (50000, 5000, 50000, 0)
    );
    assert_eq!(l.client_authentication.as_str(), "NONE");
    assert_eq!(
        (l.tls_ciphers, l.tls_versions, l.alpn_protocols),
        (None, None, None)
    );
    assert_eq!(l.loadbalancer_id.as_deref(), Some(LB));

    let t = ListenerCreate::parse(&listener(json!({
        "protocol": "TERMINATED_HTTPS", "default_tls_container_ref": "c",
        "protocol_port": "443", "admin_state_up": "off", "allowed_cidrs": ["10.1.2.3/8"],
    })))
    .unwrap();
    t.check_options(&[]).unwrap();
    t.check_against_vips(&vips(), false).unwrap();
    assert_eq!(
        t.protocol_port, 443,
        "numeric strings are promoted as WSME does"
    );
    assert!(!t.admin_state_up);
    assert_eq!(t.allowed_cidrs, vec!["10.0.0.0/8"], "CIDRs are normalised");
    assert_eq!(
        t.tls_ciphers.as_deref(),
        Some(neutrino_lb_types::consts::CIPHERS_OWASP_SUITE_B)
    );
    assert_eq!(
        t.tls_versions,
        Some(vec!["TLSv1.2".into(), "TLSv1.3".into()])
    );
    assert_eq!(
        t.alpn_protocols,
        Some(vec!["h2".into(), "http/1.1".into(), "http/1.0".into()])
    );
    let prom = ListenerCreate::parse(&listener(
        json!({"protocol": "PROMETHEUS", "default_pool_id": LB}),
    ))
    .unwrap();
    assert_eq!(
        prom.check_no_children().unwrap_err().faultstring,
        "Protocol PROMETHEUS listeners cannot have child objects."
    );
    // A tenant_id wins over project_id, as octavia's BaseMeta makes it.
    let p = ListenerCreate::parse(&listener(json!({"project_id": "a", "tenant_id": "b"}))).unwrap();
    assert_eq!(p.project_id.as_deref(), Some("b"));
}

fn stored_listener(protocol: Protocol) -> Listener {
    Listener {
        connection_limit: 100,
        timeout_client_data: 1,
        timeout_member_connect: 2,
        timeout_member_data: 3,
        timeout_tcp_inspect: 4,
        created_at: "2026-01-01T00:00:00".into(),
        ..sample::listener("l1", "p", LB, protocol, 80)
    }
}

#[test]
fn listener_put() {
    let check = |protocol: Protocol| {
        move |body: &Value| {
            ListenerUpdate::parse(body)?.check(&stored_listener(protocol), &vips(), false, &[])
        }
    };
    table(
        "listener PUT on UDP",
        check(Protocol::Udp),
        &[(
            json!({"listener": {"insert_headers": {"X-Forwarded-For": "true"}}}),
            400,
            "Validation failure: UDP protocol listener does not support TLS or header insertion.",
        )],
    );
    table(
        "listener PUT on HTTP",
        check(Protocol::Http),
        &[
            (
                json!({"listener": {"protocol": "TCP"}}),
                400,
                "Unknown attribute for argument listener_.listener: protocol",
            ),
            (
                json!({"listener": {"hsts_preload": true}}),
                400,
                "Validation failure: Cannot enable hsts_include_subdomains or hsts_preload if hsts_max_age was not set as well.",
            ),
            (
                json!({"listener": {"sni_container_refs": ["a"]}}),
                400,
                "Validation failure: Certificate container references are not allowed on HTTP protocol listeners.",
            ),
            (
                json!({"listener": {"insert_headers": {"X-Bogus": "1"}}}),
                400,
                "['X-Bogus'] is not a valid option for insert_headers",
            ),
            (
                json!({"listener": {"client_authentication": "OPTIONAL"}}),
                400,
                "Validation failure: Client authentication setting OPTIONAL requires a client CA container reference.",
            ),
        ],
    );
    // Nulls go back to the defaults; absent attributes keep what is stored.
    let u = ListenerUpdate::parse(&json!({"listener": {
        "connection_limit": null, "timeout_client_data": null, "name": "n"
    }}))
    .unwrap();
    let after = u.apply(&stored_listener(Protocol::Http));
    assert_eq!(after.connection_limit, -1);
    assert_eq!(after.timeout_client_data, 50000);
    assert_eq!(after.timeout_member_connect, 2);
    assert_eq!(after.name.as_deref(), Some("n"));
}

#[test]
fn listener_pool_protocol_matrix() {
    use neutrino_lb_types::checks::listener_pool_protocols;
    let allowed: &[(&str, &[&str])] = &[
        ("TCP", &["HTTP", "HTTPS", "PROXY", "PROXYV2", "TCP"]),
        ("HTTP", &["HTTP", "PROXY", "PROXYV2"]),
        ("HTTPS", &["HTTPS", "PROXY", "PROXYV2", "TCP"]),
        ("TERMINATED_HTTPS", &["HTTP", "PROXY", "PROXYV2"]),
        ("UDP", &["UDP"]),
        ("SCTP", &["SCTP"]),
        ("PROMETHEUS", &[]),
    ];
    for (l, pools) in allowed {
        for p in neutrino_lb_types::enums::POOL_PROTOCOLS {
            let result =
                listener_pool_protocols(Protocol::parse(l).unwrap(), Protocol::parse(p).unwrap());
            if pools.contains(p) {
                assert!(result.is_ok(), "{l} → {p}");
            } else {
                let e = result.unwrap_err();
                assert_eq!(e.status, 400);
                assert_eq!(
                    e.faultstring,
                    format!(
                        "Validation failure: The pool protocol '{p}' is invalid while the listener protocol is '{l}'."
                    )
                );
            }
        }
    }
    let l4: Vec<&str> = Protocol::ALL.iter().map(|p| p.l4().as_str()).collect();
    assert_eq!(
        l4,
        [
            "TCP", "TCP", "TCP", "TCP", "TCP", "TCP", "UDP", "SCTP", "TCP"
        ]
    );
}

fn pool_post(body: &Value) -> Result<(), LbError> {
    let p = PoolCreate::parse(body)?;
    p.check_session_persistence()?;
    p.check_tls(&[])
}

fn pool(extra: Value) -> Value {
    let mut p = json!({"protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "loadbalancer_id": LB});
    p.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    json!({"pool": p})
}

#[test]
fn pool_post_rejects() {
    table(
        "pool POST",
        pool_post,
        &[
            (
                json!({"pool": {"protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}}),
                400,
                "Validation failure: Must provide at least one of: loadbalancer_id, listener_id",
            ),
            (
                pool(json!({"lb_algorithm": "RANDOM"})),
                400,
                "Invalid input for field/attribute lb_algorithm. Value: 'RANDOM'. Value should be one of: LEAST_CONNECTIONS, ROUND_ROBIN, SOURCE_IP, SOURCE_IP_PORT",
            ),
            (
                pool(json!({"protocol": "TERMINATED_HTTPS"})),
                400,
                "Invalid input for field/attribute protocol. Value: 'TERMINATED_HTTPS'. Value should be one of: TCP, HTTP, HTTPS, PROXY, PROXYV2, UDP, SCTP",
            ),
            (
                pool(json!({"session_persistence": {"cookie_name": "c"}})),
                400,
                "Invalid input for field/attribute type. Value: 'None'. Mandatory field missing.",
            ),
            (
                pool(json!({"session_persistence": {"type": "SOURCE_IP", "bogus": 1}})),
                400,
                "Unknown attribute for argument pool_.pool.session_persistence: bogus",
            ),
            (
                pool(json!({"session_persistence": {"type": "SOURCE_IP", "cookie_name": "c"}})),
                400,
                "Validation failure: Field \"cookie_name\" can only be specified with session persistence of type \"APP_COOKIE\".",
            ),
            (
                pool(json!({"session_persistence": {"type": "APP_COOKIE"}})),
                400,
                "Validation failure: Field \"cookie_name\" must be specified when using the \"APP_COOKIE\" session persistence type.",
            ),
            (
                pool(json!({"session_persistence": {"type": "APP_COOKIE", "cookie_name": "a b"}})),
                400,
                "Invalid input for field/attribute cookie_name. Value: 'a b'. Value should match the pattern ^[^\\s,;\\\\]+$",
            ),
            (
                pool(json!({"session_persistence": {"type": "APP_COOKIE", "cookie_name": "a=b"}})),
                400,
                "Validation failure: Supplied \"cookie_name\" is invalid.",
            ),
            (
                pool(
                    json!({"session_persistence": {"type": "SOURCE_IP", "persistence_timeout": 5}}),
                ),
                400,
                "Validation failure: persistence_timeout and persistence_granularity is only for UDP and SCTP protocol pools.",
            ),
            (
                pool(json!({"protocol": "UDP", "session_persistence": {"type": "HTTP_COOKIE"}})),
                400,
                "Validation failure: Session persistence of type HTTP_COOKIE is not supported for UDP/SCTP protocol pools.",
            ),
            (
                pool(
                    json!({"protocol": "UDP", "session_persistence": {"type": "SOURCE_IP", "cookie_name": "c"}}),
                ),
                400,
                "Validation failure: session_persistence SOURCE_IP type for UDP and SCTP protocols only accepts: type, persistence_timeout, persistence_granularity.",
            ),
            (
                pool(json!({"crl_container_ref": "crl"})),
                400,
                "Validation failure: A CA certificate reference is required to specify a revocation list.",
            ),
            (
                pool(json!({"tls_enabled": true, "tls_versions": []})),
                400,
                "Validation failure: Empty TLS version list. Either specify at least one TLS version or remove this parameter to use the default.",
            ),
            (
                pool(
                    json!({"session_persistence": {"type": "SOURCE_IP", "persistence_granularity": "x"}}),
                ),
                400,
                "Invalid input for field/attribute persistence_granularity. Value: 'x'. Value should be IPv4 or IPv6 format",
            ),
        ],
    );
    let p = PoolCreate::parse(&pool(json!({"tls_enabled": true}))).unwrap();
    assert_eq!(
        p.tls_versions,
        Some(vec!["TLSv1.2".into(), "TLSv1.3".into()])
    );
    assert!(p.tls_ciphers.is_some());
    let plain = PoolCreate::parse(&pool(json!({}))).unwrap();
    assert_eq!((plain.tls_enabled, plain.tls_versions), (false, None));
}

fn stored_pool(protocol: Protocol) -> Pool {
    Pool {
        ca_tls_container_ref: Some("ca".into()),
        crl_container_ref: Some("crl".into()),
        created_at: "2026-01-01T00:00:00".into(),
        ..sample::pool(POOL, "p", LB, protocol)
    }
}

#[test]
fn pool_put() {
    table(
        "pool PUT",
        |b| PoolUpdate::parse(b)?.check(&stored_pool(Protocol::Http), &[]),
        &[
            (
                json!({"pool": {"session_persistence": {"cookie_name": "c"}}}),
                400,
                "Validation failure: Invalid session_persistence provided.",
            ),
            (
                json!({"pool": {"session_persistence": {"type": "SOURCE_IP", "persistence_timeout": 3}}}),
                400,
                "Validation failure: persistence_timeout and persistence_granularity is only for UDP protocol pools.",
            ),
            (
                json!({"pool": {"ca_tls_container_ref": null}}),
                400,
                "Validation failure: A CA reference cannot be removed when a certificate revocation list is present.",
            ),
            (
                json!({"pool": {"protocol": "TCP"}}),
                400,
                "Unknown attribute for argument pool_.pool: protocol",
            ),
        ],
    );
    let u = PoolUpdate::parse(&json!({"pool": {"session_persistence": {"type": "HTTP_COOKIE"}, "lb_algorithm": "SOURCE_IP"}})).unwrap();
    u.check(&stored_pool(Protocol::Http), &[]).unwrap();
    let after = u.apply(&stored_pool(Protocol::Http));
    assert_eq!(after.lb_algorithm.as_str(), "SOURCE_IP");
    assert_eq!(
        after.session_persistence.unwrap().sp_type.as_str(),
        "HTTP_COOKIE"
    );
}

fn member(extra: Value) -> Value {
    let mut m = json!({"address": "10.0.0.5", "protocol_port": 80});
    m.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    json!({"member": m})
}

#[test]
fn member_rejects_and_defaults() {
    let reserved = neutrino_lb_types::consts::DEFAULT_RESERVED_IPS;
    table(
        "member POST",
        |b| MemberCreate::parse(b)?.check(reserved),
        &[
            (
                member(json!({"address": "1.2.3"})),
                400,
                "Invalid input for field/attribute address. Value: '1.2.3'. Value should be IPv4 or IPv6 format",
            ),
            (
                member(json!({"weight": 257})),
                400,
                "Invalid input for field/attribute weight. Value: '257'. Value should be lower or equal to 256",
            ),
            (
                member(json!({"monitor_port": 0})),
                400,
                "Invalid input for field/attribute monitor_port. Value: '0'. Value should be greater or equal to 1",
            ),
            (
                member(json!({"subnet_id": "nope"})),
                400,
                "Invalid input for field/attribute subnet_id. Value: 'nope'. Value should be UUID format",
            ),
            (
                member(json!({"address": "169.254.169.254"})),
                400,
                "169.254.169.254 is not a valid option for member address",
            ),
            (
                member(json!({"request_sriov": true})),
                400,
                "The load balancer flavor does not allow SR-IOV member ports.",
            ),
            (
                json!({"member": {"protocol_port": 80}}),
                400,
                "Invalid input for field/attribute address. Value: 'None'. Mandatory field missing.",
            ),
        ],
    );
    let m = MemberCreate::parse(&member(json!({}))).unwrap();
    assert_eq!(
        (m.weight, m.backup, m.admin_state_up, m.request_sriov),
        (1, false, true, false)
    );

    let dup = json!({"members": [
        {"address": "10.0.0.5", "protocol_port": 80},
        {"address": "10.0.0.6", "protocol_port": 80},
        {"address": "10.0.0.5", "protocol_port": 80, "weight": 3},
    ]});
    let batch = parse_batch(&dup).unwrap();
    assert_eq!(batch.len(), 3);
    assert_eq!(
        check_batch(&batch, reserved).unwrap_err().faultstring,
        "Validation failure: Member must be updated only once in the same request."
    );
    assert_eq!(
        parse_batch(&json!({"members": [{"address": "10.0.0.5", "protocol_port": 80, "x": 1}]}))
            .unwrap_err()
            .faultstring,
        "Unknown attribute for argument members_.members: x"
    );
}

fn hm(extra: Value) -> Value {
    let mut h =
        json!({"type": "HTTP", "delay": 5, "timeout": 4, "max_retries": 3, "pool_id": POOL});
    h.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    json!({"healthmonitor": h})
}

#[test]
fn health_monitor_rejects_and_defaults() {
    let on = |pool_protocol: Protocol| {
        move |b: &Value| {
            let h = HealthMonitorCreate::parse(b)?;
            h.check()?;
            h.check_pool_protocol(pool_protocol)
        }
    };
    table(
        "health monitor POST on an HTTP pool",
        on(Protocol::Http),
        &[
            (
                json!({"healthmonitor": {"type": "HTTP", "timeout": 4, "max_retries": 3, "pool_id": POOL}}),
                400,
                "Invalid input for field/attribute delay. Value: 'None'. Mandatory field missing.",
            ),
            (
                hm(json!({"delay": null})),
                400,
                "None is not a valid option for delay",
            ),
            (
                hm(json!({"max_retries": 11})),
                400,
                "Invalid input for field/attribute max_retries. Value: '11'. Value should be lower or equal to 10",
            ),
            (
                hm(json!({"max_retries_down": 0})),
                400,
                "Invalid input for field/attribute max_retries_down. Value: '0'. Value should be greater or equal to 1",
            ),
            (
                hm(json!({"type": "ICMP"})),
                400,
                "Invalid input for field/attribute type. Value: 'ICMP'. Value should be one of: HTTP, HTTPS, PING, TCP, TLS-HELLO, UDP-CONNECT, SCTP",
            ),
            (
                hm(json!({"http_method": "FETCH"})),
                400,
                "Invalid input for field/attribute http_method. Value: 'FETCH'. Value should be one of: GET, HEAD, POST, PUT, DELETE, TRACE, OPTIONS, CONNECT, PATCH",
            ),
            (
                hm(json!({"url_path": "healthz"})),
                400,
                "Invalid input for field/attribute url_path. Value: 'healthz'. Value must be a valid URL Path string",
            ),
            (
                hm(json!({"expected_codes": "2xx"})),
                400,
                "Invalid input for field/attribute expected_codes. Value: '2xx'. Value should match the pattern ^(\\d{3}(\\s*,\\s*\\d{3})*)$|^(\\d{3}-\\d{3})$",
            ),
            (
                hm(json!({"type": "PING", "url_path": "/"})),
                400,
                "url_path is not a valid option for health monitors of type PING",
            ),
            (
                hm(json!({"type": "TCP", "http_method": "GET"})),
                400,
                "http_method is not a valid option for health monitors of type TCP",
            ),
            (
                hm(json!({"domain_name": "example.com"})),
                400,
                "Validation failure: 'http_version' must be specified when 'domain_name' is provided.",
            ),
            (
                hm(json!({"domain_name": "example.com", "http_version": 1.0})),
                400,
                "http_version 1.0 is not a valid option for health monitors HTTP 1.1 domain name health check",
            ),
            (
                hm(json!({"http_version": 2})),
                400,
                "Invalid input for field/attribute http_version. Value: '2.0'. Value should be one of: 1.0, 1.1",
            ),
            (
                hm(json!({"domain_name": "-bad-.com", "http_version": 1.1})),
                400,
                "Invalid input for field/attribute domain_name. Value: '-bad-.com'. Value should match the pattern ^(?=.{1,253}\\.?$)(?:(?!-|[^.]+_)[A-Za-z0-9-_]{1,63}(?<!-)(?:\\.|$))+$",
            ),
            (
                hm(json!({"type": "UDP-CONNECT"})),
                400,
                "Validation failure: The UDP-CONNECT type is only supported for pools of type UDP/SCTP.",
            ),
        ],
    );
    table(
        "health monitor POST on a UDP pool",
        on(Protocol::Udp),
        &[
            (
                hm(json!({"type": "PING"})),
                400,
                "Validation failure: The associated pool protocol is UDP, so only a UDP-CONNECT/SCTP/TCP/HTTP health monitor is supported.",
            ),
            (
                hm(json!({"type": "UDP-CONNECT", "delay": 2})),
                400,
                "Validation failure: The request delay value 2 should be larger than 3 for UDP-CONNECT health monitor type.",
            ),
        ],
    );
    let h = HealthMonitorCreate::parse(&hm(
        json!({"http_version": "1.1", "domain_name": "example.com"}),
    ))
    .unwrap();
    h.check().unwrap();
    assert_eq!(h.http_method.map(|m| m.as_str()), Some("GET"));
    assert_eq!(
        (h.url_path.as_deref(), h.expected_codes.as_deref()),
        (Some("/"), Some("200"))
    );
    assert_eq!((h.max_retries_down, h.http_version), (3, Some(1.1)));
    let ping = HealthMonitorCreate::parse(&hm(json!({"type": "PING"}))).unwrap();
    assert_eq!(
        (ping.http_method, ping.url_path, ping.expected_codes),
        (None, None, None)
    );
}

fn l7policy(extra: Value) -> Value {
    let mut p = json!({"listener_id": LB});
    p.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    json!({"l7policy": p})
}

#[test]
fn l7policy_rejects_and_sanitises() {
    table(
        "l7policy POST",
        |b| L7PolicyCreate::parse(b).map(|_| ()),
        &[
            (
                l7policy(json!({})),
                400,
                "Invalid input for field/attribute action. Value: 'None'. Mandatory field missing.",
            ),
            (
                l7policy(json!({"action": "DROP"})),
                400,
                "Invalid input for field/attribute action. Value: 'DROP'. Value should be one of: REJECT, REDIRECT_TO_URL, REDIRECT_TO_POOL, REDIRECT_PREFIX",
            ),
            (
                l7policy(json!({"action": "REDIRECT_TO_URL"})),
                400,
                "Invalid L7 Policy arguments: redirect_url must not be None",
            ),
            (
                l7policy(json!({"action": "REDIRECT_TO_POOL"})),
                400,
                "Invalid L7 Policy arguments: redirect_pool_id or redirect_pool must not be None",
            ),
            (
                l7policy(json!({"action": "REDIRECT_PREFIX"})),
                400,
                "Invalid L7 Policy arguments: redirect_prefix must not be None",
            ),
            (
                l7policy(
                    json!({"action": "REDIRECT_PREFIX", "redirect_prefix": "http://a.example", "redirect_pool_id": POOL}),
                ),
                400,
                "Invalid L7 Policy arguments: Cannot specify redirect_pool_id and redirect_url or redirect_prefix at the same time",
            ),
            (
                l7policy(json!({"action": "REDIRECT_TO_URL", "redirect_url": "not a url"})),
                400,
                "Invalid input for field/attribute redirect_url. Value: 'not a url'. Value must be a valid URL string",
            ),
            (
                l7policy(json!({"action": "REJECT", "redirect_http_code": 300})),
                400,
                "Invalid input for field/attribute redirect_http_code. Value: '300'. Value should be one of: 301, 302, 303, 307, 308",
            ),
            (
                l7policy(json!({"action": "REJECT", "position": 0})),
                400,
                "Invalid input for field/attribute position. Value: '0'. Value should be greater or equal to 1",
            ),
            (
                l7policy(
                    json!({"action": "REJECT", "rules": [{"type": "PATH", "compare_type": "EQUAL_TO"}]}),
                ),
                400,
                "Invalid input for field/attribute value. Value: 'None'. Mandatory field missing.",
            ),
        ],
    );
    let url = L7PolicyCreate::parse(&l7policy(json!({"action": "REDIRECT_TO_URL", "redirect_url": "http://www.example.com", "redirect_pool_id": POOL}))).unwrap();
    assert_eq!(url.redirect.redirect_http_code, Some(302));
    assert_eq!(
        url.redirect.redirect_pool_id, None,
        "the other target is cleared"
    );
    assert_eq!(url.position, 2147483647, "no position appends");
    // A pool id alone turns the action into REDIRECT_TO_POOL.
    let pool = L7PolicyCreate::parse(&l7policy(
        json!({"action": "REJECT", "redirect_pool_id": POOL}),
    ))
    .unwrap();
    assert_eq!(
        pool.redirect.action.as_str(),
        "REJECT",
        "REJECT clears the pool first"
    );
    let to_pool = L7PolicyCreate::parse(&l7policy(
        json!({"action": "REDIRECT_TO_POOL", "redirect_pool_id": POOL, "redirect_http_code": 301}),
    ))
    .unwrap();
    assert_eq!(
        (
            to_pool.redirect.redirect_pool_id.as_deref(),
            to_pool.redirect.redirect_http_code
        ),
        (Some(POOL), None)
    );

    assert_eq!(
        L7PolicyUpdate::parse(&json!({"l7policy": {}}))
            .unwrap_err()
            .faultstring,
        "Invalid L7 Policy arguments: Invalid update options"
    );
    let u = L7PolicyUpdate::parse(&json!({"l7policy": {"redirect_prefix": "https://b.example"}}))
        .unwrap();
    assert_eq!(
        u.redirect.unwrap().action.as_str(),
        "REDIRECT_PREFIX",
        "a target sets the action"
    );

    let too_many: Vec<Value> = (0..51)
        .map(|_| json!({"type": "PATH", "compare_type": "EQUAL_TO", "value": "/a"}))
        .collect();
    let p =
        L7PolicyCreate::parse(&l7policy(json!({"action": "REJECT", "rules": too_many}))).unwrap();
    let e = p.check_rules("pid").unwrap_err();
    assert_eq!(
        (e.status, e.faultstring.as_str()),
        (409, "Too many rules on L7 policy pid")
    );
}

fn rule(extra: Value) -> Value {
    let mut r = json!({"type": "PATH", "compare_type": "STARTS_WITH", "value": "/api"});
    r.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    json!({"rule": r})
}

#[test]
fn l7rule_rejects() {
    table(
        "l7rule POST",
        |b| L7RuleCreate::parse(b)?.check(),
        &[
            (
                rule(json!({"type": "URI"})),
                400,
                "Invalid input for field/attribute type. Value: 'URI'. Value should be one of: HOST_NAME, PATH, FILE_TYPE, HEADER, COOKIE, SSL_CONN_HAS_CERT, SSL_VERIFY_RESULT, SSL_DN_FIELD",
            ),
            (
                rule(json!({"value": "a\r\nb"})),
                400,
                "Invalid input for field/attribute value. Value: 'a\r\nb'. Value should match the pattern ^[^\\r\\n]*$",
            ),
            (
                rule(json!({"value": ""})),
                400,
                "Error parsing L7Rule: Invalid L7 Rule: L7 rule type requires a value",
            ),
            (
                rule(json!({"type": "HEADER"})),
                400,
                "Error parsing L7Rule: Invalid L7 Rule: L7 rule type requires a key",
            ),
            (
                rule(json!({"type": "HEADER", "key": "X Bad"})),
                400,
                "Error parsing L7Rule: Invalid characters in key",
            ),
            (
                rule(json!({"type": "HEADER", "key": "X-Ok", "value": "a b"})),
                400,
                "Error parsing L7Rule: Invalid characters in header value",
            ),
            (
                rule(json!({"type": "COOKIE", "key": "c", "value": "a;b"})),
                400,
                "Error parsing L7Rule: Invalid characters in cookie value",
            ),
            (
                rule(json!({"value": "/a b"})),
                400,
                "Error parsing L7Rule: Invalid characters in comparison value",
            ),
            (
                rule(json!({"type": "FILE_TYPE", "value": "jpg"})),
                400,
                "Error parsing L7Rule: Invalid L7 Rule: invalid comparison type for rule type",
            ),
            (
                rule(
                    json!({"type": "SSL_CONN_HAS_CERT", "compare_type": "EQUAL_TO", "key": "k", "value": "True"}),
                ),
                400,
                "Error parsing L7Rule: Invalid L7 Rule: L7rule type SSL_CONN_HAS_CERT does not use the \"key\" field.",
            ),
            (
                rule(
                    json!({"type": "SSL_CONN_HAS_CERT", "compare_type": "EQUAL_TO", "value": "yes"}),
                ),
                400,
                "Error parsing L7Rule: Invalid L7 Rule: L7rule value yes is not a boolean True string.",
            ),
            (
                rule(json!({"type": "SSL_CONN_HAS_CERT", "value": "true"})),
                400,
                "Error parsing L7Rule: Invalid L7 Rule: L7rule type SSL_CONN_HAS_CERT only supports the EQUAL_TO compare type.",
            ),
            (
                rule(
                    json!({"type": "SSL_VERIFY_RESULT", "compare_type": "EQUAL_TO", "value": "x"}),
                ),
                400,
                "Error parsing L7Rule: Invalid L7 Rule: L7rule type SSL_VERIFY_RESULT needs a int value, which is >= 0",
            ),
            (
                rule(json!({"type": "SSL_DN_FIELD", "value": "v"})),
                400,
                "Error parsing L7Rule: Invalid L7 Rule: L7rule type SSL_DN_FIELD needs to specify a key and a value.",
            ),
            (
                rule(json!({"type": "SSL_DN_FIELD", "key": "1CN", "value": "v"})),
                400,
                "Error parsing L7Rule: Invalid L7 Rule: Invalid L7rule distinguished name field.",
            ),
        ],
    );
    let e = L7RuleCreate::parse(&rule(
        json!({"compare_type": "REGEX", "value": "(unclosed"}),
    ))
    .unwrap()
    .check()
    .unwrap_err();
    assert!(
        e.faultstring
            .starts_with("Error parsing L7Rule: Unable to parse regular expression: "),
        "{}",
        e.faultstring
    );
    // Lookaround compiles, as in Python's re (and haproxy's PCRE).
    L7RuleCreate::parse(&rule(
        json!({"compare_type": "REGEX", "value": "^/(?!admin)"}),
    ))
    .unwrap()
    .check()
    .unwrap();
    for ok in [
        json!({"type": "HEADER", "key": "X-Forwarded-Proto", "compare_type": "EQUAL_TO", "value": "\"quoted value\""}),
        json!({"type": "SSL_CONN_HAS_CERT", "compare_type": "EQUAL_TO", "value": "TRUE"}),
        json!({"type": "SSL_DN_FIELD", "compare_type": "EQUAL_TO", "key": "CN", "value": "x"}),
        json!({"type": "FILE_TYPE", "compare_type": "EQUAL_TO", "value": "jpg"}),
    ] {
        L7RuleCreate::parse(&json!({"rule": ok}))
            .unwrap()
            .check()
            .unwrap();
    }
}

#[test]
fn l7rule_put_validates_the_merged_rule() {
    let stored = L7Rule {
        id: "r".into(),
        project_id: "p".into(),
        l7policy_id: "pol".into(),
        admin_state_up: true,
        provisioning_status: neutrino_lb_types::enums::ProvisioningStatus::Active,
        operating_status: neutrino_lb_types::enums::OperatingStatus::Online,
        rule_type: neutrino_lb_types::enums::L7RuleType::Path,
        compare_type: neutrino_lb_types::enums::L7RuleCompareType::StartsWith,
        key: None,
        value: "/api".into(),
        invert: true,
        tags: vec![],
        created_at: "2026-01-01T00:00:00".into(),
        updated_at: None,
    };
    let to_header = L7RuleUpdate::parse(&json!({"rule": {"type": "HEADER"}})).unwrap();
    assert_eq!(
        to_header.apply(&stored).unwrap_err().faultstring,
        "Error parsing L7Rule: Invalid L7 Rule: L7 rule type requires a key"
    );
    let ok =
        L7RuleUpdate::parse(&json!({"rule": {"type": "HEADER", "key": "X-A", "invert": null}}))
            .unwrap()
            .apply(&stored)
            .unwrap();
    assert_eq!(
        (ok.key.as_deref(), ok.value.as_str(), ok.invert),
        (Some("X-A"), "/api", false)
    );
}

#[test]
fn loadbalancer_rejects_and_graph() {
    table(
        "loadbalancer POST",
        |b| LoadBalancerCreate::parse(b)?.check_vip(),
        &[
            (
                json!({"loadbalancer": {"name": "x"}}),
                400,
                "Validation failure: VIP must contain one of: vip_port_id, vip_network_id, vip_subnet_id.",
            ),
            (
                json!({"loadbalancer": {"vip_subnet_id": LB, "vip_qos_policy_id": POOL}}),
                400,
                "Validation failure: VIP QoS policy is not allowed in this deployment.",
            ),
            (
                json!({"loadbalancer": {"vip_subnet_id": LB, "bogus": 1}}),
                400,
                "Unknown attribute for argument load_balancer.loadbalancer: bogus",
            ),
            (
                json!({"loadbalancer": {"vip_subnet_id": LB, "vip_address": "10.0.0.999"}}),
                400,
                "Invalid input for field/attribute vip_address. Value: '10.0.0.999'. Value should be IPv4 or IPv6 format",
            ),
            (
                json!({"loadbalancer": {"vip_subnet_id": LB, "additional_vips": [{"ip_address": "10.0.0.2"}]}}),
                400,
                "Invalid input for field/attribute subnet_id. Value: 'None'. Mandatory field missing.",
            ),
            (
                json!({"loadbalancer": {"vip_subnet_id": LB, "listeners": [{"protocol": "HTTP", "protocol_port": 80, "loadbalancer_id": LB}]}}),
                400,
                "Unknown attribute for argument load_balancer.loadbalancer.listeners: loadbalancer_id",
            ),
            (
                json!({"loadbalancer": {"vip_subnet_id": LB, "provider": "p".repeat(65)}}),
                400,
                &format!(
                    "Invalid input for field/attribute provider. Value: '{}'. Value should have a maximum character requirement of 64",
                    "p".repeat(65)
                ),
            ),
        ],
    );
    let graph = |listeners: Value, pools: Value| {
        let mut lb = LoadBalancerCreate::parse(&json!({"loadbalancer": {
            "vip_subnet_id": LB, "listeners": listeners, "pools": pools,
        }}))
        .unwrap();
        lb.hoist_graph_pools().map(|()| lb)
    };
    let http = |extra: Value| {
        let mut l = json!({"protocol": "HTTP", "protocol_port": 80});
        l.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        l
    };
    let def = json!({"name": "web", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"});
    let err = |r: Result<LoadBalancerCreate, LbError>| r.unwrap_err().faultstring;
    assert_eq!(
        err(graph(
            json!([http(json!({"default_pool": {"protocol": "HTTP"}}))]),
            json!([])
        )),
        "Validation failure: Pools must be named when creating a fully populated loadbalancer."
    );
    assert_eq!(
        err(graph(
            json!([http(json!({"default_pool": def}))]),
            json!([def])
        )),
        "Validation failure: Pool names must be unique when creating a fully populated loadbalancer."
    );
    assert_eq!(
        err(graph(
            json!([http(json!({"default_pool": {"name": "ghost"}}))]),
            json!([])
        )),
        "Validation failure: Pool 'ghost' was referenced but no full definition was found."
    );
    assert_eq!(
        err(graph(
            json!([http(
                json!({"default_pool": {"name": "web", "protocol": "HTTP"}})
            )]),
            json!([])
        )),
        "Validation failure: Pool definition for 'web' missing required attribute: lb_algorithm"
    );
    // An inline definition moves to `pools`, leaving a reference; a
    // name-only pool (name plus the always-present defaults) refers.
    let lb = graph(
        json!([
            http(json!({"default_pool": def})),
            http(json!({"protocol_port": 81, "default_pool": {"name": "web", "admin_state_up": true}})),
        ]),
        json!([]),
    )
    .unwrap();
    assert_eq!(lb.pools.len(), 1);
    assert_eq!(lb.pools[0].protocol.map(|p| p.as_str()), Some("HTTP"));
    for l in &lb.listeners {
        let reference = l.default_pool.as_ref().unwrap();
        assert_eq!(
            (reference.name.as_deref(), reference.is_definition()),
            (Some("web"), false)
        );
    }
}

#[test]
fn quota_and_admin_bodies() {
    table(
        "quota PUT",
        |b| QuotaUpdate::parse(b).map(|_| ()),
        &[
            (
                json!({"quota": {"listener": -2}}),
                400,
                "Invalid input for field/attribute listener. Value: '-2'. Value should be greater or equal to -1",
            ),
            (
                json!({"quota": {"pool": 2000000001}}),
                400,
                "Invalid input for field/attribute pool. Value: '2000000001'. Value should be lower or equal to 2000000000",
            ),
            (
                json!({"quota": {"l7": 1}}),
                400,
                "Unknown attribute for argument quotas.quota: l7",
            ),
        ],
    );
    let q = QuotaUpdate::parse(
        &json!({"quota": {"load_balancer": 5, "healthmonitor": 2, "member": null}}),
    )
    .unwrap();
    let after = q.apply(&Quota {
        member: Some(9),
        listener: Some(4),
        ..Quota::default()
    });
    assert_eq!(
        after,
        Quota {
            load_balancer: Some(5),
            health_monitor: Some(2),
            member: None,
            listener: Some(4),
            ..Quota::default()
        }
    );

    table(
        "flavor and profile POST",
        |b| {
            // The data's JSON is checked by the handler, after policy.
            if b.get("flavorprofile").is_some() {
                ProfileCreate::parse(b, ProfileKind::Flavor)
                    .and_then(|p| profile_data(&p.data, "flavor_data"))
                    .map(|_| ())
            } else if b.get("availability_zone_profile").is_some() {
                ProfileCreate::parse(b, ProfileKind::AvailabilityZone)
                    .and_then(|p| profile_data(&p.data, "availability_zone_data"))
                    .map(|_| ())
            } else {
                FlavorCreate::parse(b).map(|_| ())
            }
        },
        &[
            (
                json!({"flavor": {"flavor_profile_id": LB}}),
                400,
                "Invalid input for field/attribute name. Value: 'None'. Mandatory field missing.",
            ),
            (
                json!({"flavor": {"name": "f", "flavor_profile_id": "x"}}),
                400,
                "Invalid input for field/attribute flavor_profile_id. Value: 'x'. Value should be UUID format",
            ),
            (
                json!({"flavorprofile": {"name": "p", "provider_name": "amphora", "flavor_data": "{nope"}}),
                400,
                "{nope is not a valid option for flavor_data",
            ),
            (
                json!({"availability_zone_profile": {"name": "p", "provider_name": "amphora", "availability_zone_data": "x"}}),
                400,
                "x is not a valid option for availability_zone_data",
            ),
        ],
    );
    // parse leaves the data alone: a bad document is the handler's 400.
    let p = ProfileCreate::parse(
        &json!({"flavorprofile": {"name": "p", "provider_name": "x", "flavor_data": "{nope"}}),
        ProfileKind::Flavor,
    )
    .unwrap();
    assert_eq!(p.data, "{nope");
    // Both spellings of a quota: the current one wins, null included.
    let q = QuotaUpdate::parse(&json!({"quota": {
        "load_balancer": 5, "loadbalancer": 7, "health_monitor": 3, "healthmonitor": null}}))
    .unwrap();
    assert_eq!(q.load_balancer, neutrino_lb_types::Patch::Value(7));
    assert_eq!(q.health_monitor, neutrino_lb_types::Patch::Null);
    assert!(
        FlavorCreate::parse(&json!({"flavor": {"name": "f", "flavor_profile_id": LB}}))
            .unwrap()
            .enabled
    );
    assert_eq!(
        AvailabilityZoneUpdate::parse(&json!({"availability_zone": {"name": "x"}}))
            .unwrap_err()
            .faultstring,
        "Unknown attribute for argument availability_zone_.availability_zone: name"
    );
}
