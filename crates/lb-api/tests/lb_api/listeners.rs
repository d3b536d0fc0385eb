//! Listeners: create → ACTIVE with upstream's defaults, show/list with
//! filters, fields and pages, update, stats, delete; the statuses the
//! load balancer passes through; every validation rule with nothing
//! stored; policy; quota.

use axum::Router;
use neutrino_lb_api::LbConfig;
use neutrino_lb_types::model::Quota;
use serde_json::{Value, json};

use crate::fixtures::{
    Frozen, LBS, Lb, active_lb, active_lb_via, force_status, rows, seed_l7policy, set_quota,
};
use crate::pools::pool_on;
use crate::support::{
    Cloud, FORBIDDEN, all_refused, backends, client_fault, fault, refused, send, send_json,
};

pub const LISTENERS: &str = "/v2/lbaas/listeners";

/// Creates a listener and waits for it (and so its load balancer) to be
/// ACTIVE; returns its id.
pub async fn active_listener(cloud: &Cloud, app: &Router, body: Value) -> String {
    let a = send_json(
        app,
        "POST",
        LISTENERS,
        Some(&cloud.alice),
        json!({ "listener": body }),
    )
    .await;
    assert_eq!(a.status, 201, "{}: {}", cloud.backend, a.body);
    let id = a.body["listener"]["id"].as_str().expect("id").to_string();
    cloud
        .wait_for(app, &format!("{LISTENERS}/{id}"), "listener", "ACTIVE")
        .await;
    id
}

/// A listener of `protocol` on `port` of `lb`, waited ACTIVE.
pub async fn listener_on(
    cloud: &Cloud,
    app: &Router,
    lb: &str,
    protocol: &str,
    port: u16,
) -> String {
    active_listener(
        cloud,
        app,
        json!({"protocol": protocol, "protocol_port": port, "loadbalancer_id": lb}),
    )
    .await
}

/// Asserts the load balancer's provisioning status through the API.
pub async fn assert_lb_status(cloud: &Cloud, app: &Router, lb: &str, want: &str, what: &str) {
    let a = send(app, "GET", &format!("{LBS}/{lb}"), Some(&cloud.alice)).await;
    assert_eq!(
        a.body["loadbalancer"]["provisioning_status"], want,
        "{} {what}",
        cloud.backend
    );
}

#[tokio::test]
async fn create_show_list_update_stats_delete() {
    for cloud in backends().await {
        let b = cloud.backend;
        let app = cloud.lb(LbConfig::default());
        let Lb {
            id: lb, project, ..
        } = active_lb(&cloud, &app, &cloud.alice, "10.40.0.0/24").await;
        let a = send_json(
            &app,
            "POST",
            LISTENERS,
            Some(&cloud.alice),
            json!({"listener": {
            "name": "web", "description": "d", "protocol": "HTTP", "protocol_port": 80,
            "loadbalancer_id": lb, "connection_limit": 200, "tags": ["a", "b"],
            "insert_headers": {"X-Forwarded-For": "true"},
            "allowed_cidrs": ["10.1.2.3/8", "192.0.2.0/24", "10.0.0.0/8"],
            "timeout_client_data": 1000, "project_id": "ignored"}}),
        )
        .await;
        assert_eq!(a.status, 201, "{b}: {}", a.body);
        let got = a.body["listener"].clone();
        let id = got["id"].as_str().expect("id").to_string();
        assert!(
            got["created_at"]
                .as_str()
                .is_some_and(|s| s.len() == 19 && !s.ends_with('Z')),
            "{b}: {got}"
        );
        let expected = json!({
            "id": id, "name": "web", "description": "d",
            "provisioning_status": "PENDING_CREATE", "operating_status": "OFFLINE",
            "admin_state_up": true, "protocol": "HTTP", "protocol_port": 80,
            "connection_limit": 200, "default_tls_container_ref": null,
            "sni_container_refs": [], "project_id": project, "default_pool_id": null,
            "l7policies": [], "insert_headers": {"X-Forwarded-For": "true"},
            "created_at": got["created_at"], "updated_at": null,
            "loadbalancers": [{"id": lb}],
            "timeout_client_data": 1000, "timeout_member_connect": 5000,
            "timeout_member_data": 50000, "timeout_tcp_inspect": 0,
            "tags": ["a", "b"], "client_ca_tls_container_ref": null,
            "client_authentication": "NONE", "client_crl_container_ref": null,
            "allowed_cidrs": ["10.0.0.0/8", "192.0.2.0/24"],
            "tls_ciphers": null, "tls_versions": null, "alpn_protocols": null,
            "hsts_max_age": null, "hsts_include_subdomains": false, "hsts_preload": false,
            "tenant_id": project,
        });
        assert_eq!(got, expected, "{b}");
        let path = format!("{LISTENERS}/{id}");
        let active = cloud.wait_for(&app, &path, "listener", "ACTIVE").await;
        assert_eq!(active["operating_status"], "OFFLINE", "{b}");
        assert!(active["updated_at"].is_string(), "{b}");
        let lb_now = send(&app, "GET", &format!("{LBS}/{lb}"), Some(&cloud.alice)).await;
        assert_eq!(
            lb_now.body["loadbalancer"]["provisioning_status"], "ACTIVE",
            "{b}"
        );
        assert_eq!(
            lb_now.body["loadbalancer"]["listeners"],
            json!([{"id": id}]),
            "{b}"
        );
        cloud.assert_rows("lb_flows", 0).await;

        // show with fields; the LB's status tree lists it.
        let s = send(
            &app,
            "GET",
            &format!("{path}?fields=name&fields=protocol_port"),
            Some(&cloud.rita),
        )
        .await;
        assert_eq!(s.status, 200, "{b}");
        assert_eq!(
            s.body,
            json!({"listener": {"name": "web", "protocol_port": 80}}),
            "{b}"
        );
        let tree = send(
            &app,
            "GET",
            &format!("{LBS}/{lb}/status"),
            Some(&cloud.alice),
        )
        .await;
        assert_eq!(
            tree.body["statuses"]["loadbalancer"]["listeners"][0]["id"],
            id.as_str(),
            "{b}"
        );

        // Two more, then the list's filters, sorting, fields and pages.
        let tcp = active_listener(&cloud, &app, json!({"name": "tcp", "description": "A",
            "protocol": "TCP", "protocol_port": 81, "loadbalancer_id": lb, "admin_state_up": false})).await;
        let udp = active_listener(
            &cloud,
            &app,
            json!({"name": "udp", "description": "C",
            "protocol": "UDP", "protocol_port": 80, "loadbalancer_id": lb}),
        )
        .await;
        let list = |q: &str| {
            let app = app.clone();
            let tok = cloud.alice.clone();
            let q = q.to_string();
            async move { send(&app, "GET", &format!("{LISTENERS}{q}"), Some(&tok)).await }
        };
        let ids = |v: &Value| -> Vec<String> {
            v["listeners"]
                .as_array()
                .expect("listeners")
                .iter()
                .map(|l| l["id"].as_str().unwrap_or_default().to_string())
                .collect()
        };
        let all = list(&format!("?loadbalancer_id={lb}")).await;
        assert_eq!(all.status, 200, "{b}: {}", all.body);
        // Default order: created_at (whole seconds), then id.
        let order = ids(&all.body);
        let mut sorted = order.clone();
        sorted.sort();
        let mut want = vec![id.clone(), tcp.clone(), udp.clone()];
        want.sort();
        assert_eq!(sorted, want, "{b}");
        assert!(
            all.body["listeners"][0].get("loadbalancer_id").is_none(),
            "{b}: not shown"
        );
        assert_eq!(all.body["listeners_links"], json!([]), "{b}");
        let desc = list(&format!("?loadbalancer_id={lb}&sort=description:desc")).await;
        assert_eq!(
            ids(&desc.body),
            vec![id.clone(), udp.clone(), tcp.clone()],
            "{b}"
        );
        let port = list("?protocol_port=80&sort=protocol").await;
        assert_eq!(ids(&port.body), vec![id.clone(), udp.clone()], "{b}");
        let down = list("?admin_state_up=false&fields=id&fields=admin_state_up").await;
        assert_eq!(
            down.body["listeners"],
            json!([{"id": tcp, "admin_state_up": false}]),
            "{b}"
        );
        let tagged = list("?tags=a,b").await;
        assert_eq!(ids(&tagged.body), vec![id.clone()], "{b}");
        let only_lb = list("?fields=loadbalancer_id").await;
        assert_eq!(only_lb.body["listeners"][0], json!({}), "{b}");
        let page = list("?limit=2").await;
        assert_eq!(ids(&page.body), order[..2].to_vec(), "{b}");
        let second = &order[1];
        assert_eq!(
            page.body["listeners_links"],
            json!([{"rel": "next", "href": format!("http://127.0.0.1:9876/v2/lbaas/listeners?limit=2&marker={second}")}]),
            "{b}"
        );
        let next = list(&format!("?limit=2&marker={second}")).await;
        assert_eq!(ids(&next.body), order[2..].to_vec(), "{b}");
        assert_eq!(
            next.body["listeners_links"][0]["href"],
            format!(
                "http://127.0.0.1:9876/v2/lbaas/listeners?limit=2&marker={}&page_reverse=True",
                order[2]
            ),
            "{b}"
        );
        for (q, fs) in [
            (
                "?bogus=1",
                "One or more arguments are either duplicate or invalid",
            ),
            ("?sort=bogus", "Supplied sort key 'bogus' is not valid."),
            (
                "?marker=nope",
                "Supplied pagination marker 'nope' is not valid.",
            ),
        ] {
            fault(&list(q).await, 400, fs);
        }

        // Update: values, nulls back to defaults, then ACTIVE again.
        let u = send_json(
            &app,
            "PUT",
            &path,
            Some(&cloud.alice),
            json!({"listener": {
            "name": "web2", "connection_limit": null, "timeout_client_data": null,
            "insert_headers": {"X-Forwarded-Port": "true"}, "allowed_cidrs": null,
            "tags": ["c"], "admin_state_up": false}}),
        )
        .await;
        assert_eq!(u.status, 200, "{b}: {}", u.body);
        let l = &u.body["listener"];
        assert_eq!(l["provisioning_status"], "PENDING_UPDATE", "{b}");
        assert_eq!(l["name"], "web2", "{b}");
        assert_eq!(l["connection_limit"], -1, "{b}");
        assert_eq!(l["timeout_client_data"], 50000, "{b}");
        assert_eq!(
            l["insert_headers"],
            json!({"X-Forwarded-Port": "true"}),
            "{b}"
        );
        assert_eq!(l["allowed_cidrs"], Value::Null, "{b}");
        assert_eq!(l["tags"], json!(["c"]), "{b}");
        assert_eq!(l["description"], "d", "{b}: untouched");
        let done = cloud.wait_for(&app, &path, "listener", "ACTIVE").await;
        assert_eq!(done["admin_state_up"], false, "{b}");
        cloud
            .wait_for(&app, &format!("{LBS}/{lb}"), "loadbalancer", "ACTIVE")
            .await;

        // Stats: five zeros, readers may look.
        let st = send(&app, "GET", &format!("{path}/stats"), Some(&cloud.rita)).await;
        assert_eq!(st.status, 200, "{b}");
        assert_eq!(
            st.body,
            json!({"stats": {"bytes_in": 0, "bytes_out": 0,
            "active_connections": 0, "total_connections": 0, "request_errors": 0}}),
            "{b}"
        );
        let missing = "3d5c1e7a-1111-4a2b-9c3d-0e1f2a3b4c5d";
        let st = send(
            &app,
            "GET",
            &format!("{LISTENERS}/{missing}/stats"),
            Some(&cloud.alice),
        )
        .await;
        fault(&st, 404, &format!("Listener {missing} not found."));

        // Readers read but never write.
        assert_eq!(
            send(&app, "GET", &path, Some(&cloud.rita)).await.status,
            200,
            "{b}"
        );
        assert_eq!(
            send(&app, "GET", LISTENERS, Some(&cloud.olga)).await.status,
            200,
            "{b}"
        );
        let new =
            json!({"listener": {"protocol": "HTTP", "protocol_port": 90, "loadbalancer_id": lb}});
        let writes = [
            ("POST", LISTENERS, Some(new)),
            (
                "PUT",
                path.as_str(),
                Some(json!({"listener": {"name": "x"}})),
            ),
            ("DELETE", path.as_str(), None),
        ];
        all_refused(&app, &cloud.rita, &writes, 403, FORBIDDEN).await;
        cloud.assert_rows("lb_listeners", 3).await;

        // Delete: gone, with its SNI rows and tags.
        let d = send(&app, "DELETE", &path, Some(&cloud.alice)).await;
        assert_eq!(d.status, 204, "{b}: {}", d.body);
        cloud.wait_for(&app, &path, "listener", "DELETED").await;
        cloud
            .wait_for(&app, &format!("{LBS}/{lb}"), "loadbalancer", "ACTIVE")
            .await;
        let gone = send(&app, "GET", &path, Some(&cloud.alice)).await;
        fault(&gone, 404, &format!("Listener {id} not found."));
        cloud
            .assert_rows(&format!("lb_listeners WHERE id = '{id}'"), 0)
            .await;
        cloud
            .assert_rows(&format!("lb_tags WHERE resource_id = '{id}'"), 0)
            .await;
        let again = send(&app, "DELETE", &path, Some(&cloud.alice)).await;
        assert_eq!(again.status, 404, "{b}");
    }
}

#[tokio::test]
async fn terminated_https_takes_any_reference_with_the_noop_driver_and_the_tls_defaults() {
    for cloud in backends().await {
        let b = cloud.backend;
        // Upstream's noop_cert_manager (tempest's noop mode) takes any
        // reference; so does the noop network driver.
        let app = cloud.lb(LbConfig {
            network_driver: neutrino_lb_api::NetworkDriver::Noop,
            ..LbConfig::default()
        });
        let Lb { id: lb, .. } = active_lb(&cloud, &app, &cloud.alice, "10.41.0.0/24").await;
        let a = send_json(
            &app,
            "POST",
            LISTENERS,
            Some(&cloud.alice),
            json!({"listener": {
            "protocol": "TERMINATED_HTTPS", "protocol_port": 443, "loadbalancer_id": lb,
            "default_tls_container_ref": "b6a3c0a2-5b43-4f6e-9b0f-0a1b2c3d4e5f",
            "sni_container_refs": ["sni-2", "sni-1"],
            "hsts_max_age": 10000, "hsts_preload": true, "hsts_include_subdomains": true}}),
        )
        .await;
        assert_eq!(a.status, 201, "{b}: {}", a.body);
        let l = &a.body["listener"];
        assert_eq!(
            l["default_tls_container_ref"], "b6a3c0a2-5b43-4f6e-9b0f-0a1b2c3d4e5f",
            "{b}"
        );
        assert_eq!(l["sni_container_refs"], json!(["sni-2", "sni-1"]), "{b}");
        assert_eq!(l["tls_versions"], json!(["TLSv1.2", "TLSv1.3"]), "{b}");
        assert_eq!(
            l["alpn_protocols"],
            json!(["h2", "http/1.1", "http/1.0"]),
            "{b}"
        );
        assert_eq!(
            l["tls_ciphers"],
            neutrino_lb_types::consts::CIPHERS_OWASP_SUITE_B,
            "{b}"
        );
        assert_eq!(
            (l["hsts_max_age"].clone(), l["hsts_preload"].clone()),
            (json!(10000), json!(true)),
            "{b}"
        );
        let id = l["id"].as_str().expect("id").to_string();
        let path = format!("{LISTENERS}/{id}");
        cloud.wait_for(&app, &path, "listener", "ACTIVE").await;
        let u = send_json(
            &app,
            "PUT",
            &path,
            Some(&cloud.alice),
            json!({"listener": {
            "default_tls_container_ref": "other", "sni_container_refs": ["sni-3"],
            "hsts_max_age": 0, "hsts_preload": false, "tls_versions": null}}),
        )
        .await;
        assert_eq!(u.status, 200, "{b}: {}", u.body);
        let l = cloud.wait_for(&app, &path, "listener", "ACTIVE").await;
        assert_eq!(l["default_tls_container_ref"], "other", "{b}");
        assert_eq!(l["sni_container_refs"], json!(["sni-3"]), "{b}");
        assert_eq!(l["hsts_max_age"], 0, "{b}");
        assert_eq!(l["tls_versions"], json!(["TLSv1.2", "TLSv1.3"]), "{b}");
        cloud
            .assert_rows(&format!("lb_listener_sni WHERE listener_id = '{id}'"), 1)
            .await;
    }
}

/// Amphorae without keepalived/LVS cannot serve UDP or SCTP: such
/// listeners are refused with upstream's 501 and nothing is stored,
/// rather than accepted and never served.
#[tokio::test]
async fn lvs_listeners_are_refused_where_amphorae_cannot_serve_them() {
    for cloud in backends().await {
        let b = cloud.backend;
        let app = cloud.lb(LbConfig {
            lvs_listeners: false,
            ..LbConfig::default()
        });
        let Lb { id: lb, .. } = active_lb(&cloud, &app, &cloud.alice, "10.45.0.0/24").await;
        let before = rows(&cloud.db, "lb_listeners").await;
        for proto in ["UDP", "SCTP"] {
            let a = send_json(
                &app,
                "POST",
                LISTENERS,
                Some(&cloud.alice),
                json!({"listener": {"protocol": proto, "protocol_port": 53, "loadbalancer_id": lb}}),
            )
            .await;
            assert_eq!(a.status, 501, "{b} {proto}: {}", a.body);
            assert_eq!(
                a.body["faultstring"],
                format!(
                    "Provider 'amphora' does not support a requested option: {proto} listeners \
                     need keepalived/LVS in the amphorae, which this deployment's amphorae do not \
                     run yet"
                ),
                "{b}"
            );
        }
        cloud.assert_rows("lb_listeners", before).await;
        cloud.assert_rows("lb_flows", 0).await;
        listener_on(&cloud, &app, &lb, "TCP", 53).await;
    }
}

/// With the key manager, a reference must name a bundle the load
/// balancer's project can read (upstream `_validate_tls_refs`): on create
/// and update, 400 and nothing stored or changed.
#[tokio::test]
async fn unreadable_certificate_references_are_refused() {
    for cloud in backends().await {
        let b = cloud.backend;
        let app = cloud.lb(LbConfig::default());
        let Lb { id: lb, .. } = active_lb(&cloud, &app, &cloud.alice, "10.44.0.0/24").await;
        let before = rows(&cloud.db, "lb_listeners").await;
        for (body, bad) in [
            (
                json!({"default_tls_container_ref": "b6a3c0a2-5b43-4f6e-9b0f-0a1b2c3d4e5f"}),
                "b6a3c0a2-5b43-4f6e-9b0f-0a1b2c3d4e5f",
            ),
            (
                json!({"default_tls_container_ref": "http://km/v1/secrets/x", "sni_container_refs": ["y"]}),
                "http://km/v1/secrets/x",
            ),
        ] {
            let mut l = json!({"protocol": "TERMINATED_HTTPS", "protocol_port": 443, "loadbalancer_id": lb});
            for (k, v) in body.as_object().expect("object") {
                l[k] = v.clone();
            }
            let a = send_json(
                &app,
                "POST",
                LISTENERS,
                Some(&cloud.alice),
                json!({ "listener": l }),
            )
            .await;
            refused(
                &a,
                400,
                &format!("Could not retrieve certificate: ['{bad}']"),
                b,
            );
        }
        cloud.assert_rows("lb_listeners", before).await;
        cloud.assert_rows("lb_flows", 0).await;
    }
}

#[tokio::test]
async fn bad_creates_answer_upstreams_faults_and_store_nothing() {
    for cloud in backends().await {
        let b = cloud.backend;
        let app = cloud.lb(LbConfig::default());
        let Lb { id: lb, vip, .. } = active_lb(&cloud, &app, &cloud.alice, "10.42.0.0/24").await;
        let Lb { id: other_lb, .. } = active_lb(&cloud, &app, &cloud.alice, "10.43.0.0/24").await;
        listener_on(&cloud, &app, &lb, "HTTP", 80).await;
        let udp_pool = pool_on(&cloud, &app, &lb, "UDP").await;
        let foreign_pool = pool_on(&cloud, &app, &other_lb, "HTTP").await;
        let missing = "8b1a6f2e-7a07-4a47-9c4b-7a6f3a1e0d11";
        let with = |extra: Value| {
            let mut body =
                json!({"protocol": "HTTP", "protocol_port": 8080, "loadbalancer_id": lb});
            for (k, v) in extra.as_object().expect("object") {
                body[k] = v.clone();
            }
            json!({"listener": body})
        };
        let tls = json!({"protocol": "TERMINATED_HTTPS", "default_tls_container_ref": "ref"});
        let with_tls = |extra: Value| {
            let mut e = tls.clone();
            for (k, v) in extra.as_object().expect("object") {
                e[k] = v.clone();
            }
            with(e)
        };
        let cases: Vec<(Value, u16, String)> = vec![
            (json!({"listener": {"protocol": "HTTP", "protocol_port": 1}}), 400,
             "Invalid input for field/attribute loadbalancer_id. Value: 'None'. Mandatory field missing.".into()),
            (json!({"listener": {"protocol": "HTTP", "loadbalancer_id": lb}}), 400,
             "Invalid input for field/attribute protocol_port. Value: 'None'. Mandatory field missing.".into()),
            (json!({"listener": {"protocol": "HTTP", "protocol_port": 1, "loadbalancer_id": missing}}), 404,
             format!("Load Balancer {missing} not found.")),
            (with(json!({"protocol_port": 0})), 400,
             "Invalid input for field/attribute protocol_port. Value: '0'. Value should be greater or equal to 1".into()),
            (with(json!({"bogus": 1})), 400, "Unknown attribute for argument listener_.listener: bogus".into()),
            (with(json!({"protocol_port": 80})), 409,
             "Another Listener on this Load Balancer is already using protocol HTTP and protocol_port 80".into()),
            (with(json!({"protocol": "TCP", "protocol_port": 80})), 409,
             "Another Listener on this Load Balancer is already using protocol HTTP and protocol_port 80".into()),
            (with(json!({"protocol": "TCP", "insert_headers": {"X-Forwarded-For": "true"}})), 400,
             "insert-headers is not a valid option for a TCP protocol listener.".into()),
            (with(json!({"insert_headers": {"X-Bogus": "true"}})), 400,
             "dict_keys(['X-Bogus']) is not a valid option for insert_headers".into()),
            (with(json!({"insert_headers": {"X-SSL-Client-DN": "true"}})), 400,
             "['X-SSL-Client-DN'] is not a valid option for HTTP protocol listener.".into()),
            (with(json!({"default_tls_container_ref": "ref"})), 400,
             "Validation failure: Certificate container references are not allowed on HTTP protocol listeners.".into()),
            (with(json!({"protocol": "UDP", "sni_container_refs": ["ref"]})), 400,
             "Validation failure: UDP protocol listener does not support TLS.".into()),
            (with(json!({"protocol": "TERMINATED_HTTPS"})), 400,
             "Validation failure: An SNI or default certificate container reference must be provided for TERMINATED_HTTPS protocol listeners.".into()),
            (with(json!({"protocol": "TERMINATED_HTTPS", "client_ca_tls_container_ref": "ca"})), 400,
             "Validation failure: An SNI or default certificate container reference must be provided with a client CA container reference.".into()),
            (with_tls(json!({"client_authentication": "MANDATORY"})), 400,
             "Validation failure: Client authentication setting MANDATORY requires a client CA container reference.".into()),
            (with_tls(json!({"client_crl_container_ref": "crl"})), 400,
             "Validation failure: A client authentication CA reference is required to specify a client authentication revocation list.".into()),
            (with_tls(json!({"tls_versions": []})), 400,
             "Validation failure: Empty TLS version list. Either specify at least one TLS version or remove this parameter to use the default.".into()),
            (with_tls(json!({"tls_versions": ["TLSv9"]})), 400,
             "Validation failure: Invalid TLS versions: TLSv9".into()),
            (with_tls(json!({"hsts_preload": true})), 400,
             "Validation failure: HSTS configuration options hsts_include_subdomains and hsts_preload only make sense if hsts_max_age is set as well.".into()),
            (with(json!({"hsts_max_age": 5})), 400,
             "Validation failure: The HSTS feature can only be used for listeners using the TERMINATED_HTTPS protocol.".into()),
            (with(json!({"allowed_cidrs": ["2001:db8::/64"]})), 400,
             format!("Validation failure: CIDR 2001:db8::/64 IP version incompatible with all VIPs ['{vip}'] IP version.")),
            (with(json!({"allowed_cidrs": ["nope"]})), 400,
             "Invalid input for field/attribute allowed_cidrs. Value: '['nope']'. Value should be IPv4 or IPv6 CIDR format".into()),
            (with(json!({"default_pool_id": missing})), 404, format!("Pool {missing} not found.")),
            (with(json!({"default_pool_id": foreign_pool})), 404, format!("Pool {foreign_pool} not found.")),
            (with(json!({"default_pool_id": udp_pool})), 400,
             "Validation failure: The pool protocol 'UDP' is invalid while the listener protocol is 'HTTP'.".into()),
            (with(json!({"protocol": "PROMETHEUS", "default_pool_id": udp_pool})), 400,
             "Protocol PROMETHEUS listeners cannot have child objects.".into()),
            (with(json!({"default_pool": {"name": "p", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}})), 400,
             "Validation failure: default_pool and l7policies can only be given when creating a fully populated load balancer.".into()),
            (with(json!({"tls_ciphers": "A B"})), 400, String::new()),
        ];
        let before = rows(&cloud.db, "lb_listeners").await;
        for (body, status, text) in cases {
            let a = send_json(&app, "POST", LISTENERS, Some(&cloud.alice), body.clone()).await;
            refused(&a, status, &text, &format!("{b} {body}"));
            assert_lb_status(&cloud, &app, &lb, "ACTIVE", &body.to_string()).await;
        }
        let bad = send_json(&app, "POST", LISTENERS, Some(&cloud.alice), json!("nope")).await;
        assert_eq!(bad.status, 400, "{b}");
        cloud.assert_rows("lb_listeners", before).await;
        cloud.assert_rows("lb_flows", 0).await;

        // Other L4 families may share the port; the same family may not.
        listener_on(&cloud, &app, &lb, "UDP", 80).await;
        listener_on(&cloud, &app, &lb, "SCTP", 80).await;
        let dup = send_json(
            &app,
            "POST",
            LISTENERS,
            Some(&cloud.alice),
            with(json!({"protocol": "HTTPS", "protocol_port": 80})),
        )
        .await;
        assert_eq!(dup.status, 409, "{b}");
        let dup = send_json(
            &app,
            "POST",
            LISTENERS,
            Some(&cloud.alice),
            with(json!({"protocol": "UDP", "protocol_port": 80})),
        )
        .await;
        assert_eq!(
            dup.body,
            client_fault(
                "Another Listener on this Load Balancer is already using protocol UDP and protocol_port 80"
            ),
            "{b}"
        );
        // The same port on another load balancer is fine.
        listener_on(&cloud, &app, &other_lb, "HTTP", 80).await;
        cloud.assert_rows("lb_listeners", before + 3).await;
    }
}

#[tokio::test]
async fn updates_follow_upstreams_rules() {
    for cloud in backends().await {
        let b = cloud.backend;
        let app = cloud.lb(LbConfig::default());
        let Lb { id: lb, vip, .. } = active_lb(&cloud, &app, &cloud.alice, "10.44.0.0/24").await;
        let http = listener_on(&cloud, &app, &lb, "HTTP", 80).await;
        let udp = listener_on(&cloud, &app, &lb, "UDP", 53).await;
        let prom = listener_on(&cloud, &app, &lb, "PROMETHEUS", 9100).await;
        let pool = pool_on(&cloud, &app, &lb, "PROXY").await;
        let udp_pool = pool_on(&cloud, &app, &lb, "UDP").await;
        let missing = "8b1a6f2e-7a07-4a47-9c4b-7a6f3a1e0d11";
        let put = |id: &str, body: Value| {
            let app = app.clone();
            let tok = cloud.alice.clone();
            let path = format!("{LISTENERS}/{id}");
            async move { send_json(&app, "PUT", &path, Some(&tok), json!({ "listener": body })).await }
        };
        let cases: Vec<(String, Value, u16, String)> = vec![
            (missing.into(), json!({"name": "x"}), 404, format!("Listener {missing} not found.")),
            (udp.clone(), json!({"insert_headers": {"X-Forwarded-For": "true"}}), 400,
             "Validation failure: UDP protocol listener does not support TLS or header insertion.".into()),
            (http.clone(), json!({"default_tls_container_ref": "ref"}), 400,
             "Validation failure: Certificate container references are not allowed on HTTP protocol listeners.".into()),
            (http.clone(), json!({"insert_headers": {"X-Nope": "1"}}), 400,
             "['X-Nope'] is not a valid option for insert_headers".into()),
            (http.clone(), json!({"allowed_cidrs": ["2001:db8::/64"]}), 400,
             format!("Validation failure: CIDR 2001:db8::/64 IP version incompatible with all VIPs ['{vip}'] IP version.")),
            (http.clone(), json!({"hsts_preload": true}), 400,
             "Validation failure: Cannot enable hsts_include_subdomains or hsts_preload if hsts_max_age was not set as well.".into()),
            (http.clone(), json!({"default_pool_id": missing}), 404, format!("Pool {missing} not found.")),
            (http.clone(), json!({"default_pool_id": udp_pool}), 400,
             "Validation failure: The pool protocol 'UDP' is invalid while the listener protocol is 'HTTP'.".into()),
            (prom.clone(), json!({"default_pool_id": pool}), 400,
             "Protocol PROMETHEUS listeners cannot have child objects.".into()),
            (http.clone(), json!({"protocol_port": 81}), 400,
             "Unknown attribute for argument listener_.listener: protocol_port".into()),
        ];
        for (id, body, status, text) in cases {
            let a = put(&id, body.clone()).await;
            assert_eq!(
                (a.status.as_u16(), a.body["faultstring"].clone()),
                (status, json!(text)),
                "{b} {body}"
            );
            let l = send(
                &app,
                "GET",
                &format!("{LISTENERS}/{http}"),
                Some(&cloud.alice),
            )
            .await;
            assert_eq!(
                l.body["listener"]["provisioning_status"], "ACTIVE",
                "{b} {body}"
            );
            assert_eq!(
                l.body["listener"]["default_pool_id"],
                Value::Null,
                "{b} {body}"
            );
        }

        // A default pool of the same load balancer and protocol family.
        let a = put(&http, json!({"default_pool_id": pool})).await;
        assert_eq!(a.status, 200, "{b}: {}", a.body);
        assert_eq!(a.body["listener"]["default_pool_id"], pool.as_str(), "{b}");
        cloud
            .wait_for(&app, &format!("{LISTENERS}/{http}"), "listener", "ACTIVE")
            .await;
        let p = send(
            &app,
            "GET",
            &format!("/v2/lbaas/pools/{pool}"),
            Some(&cloud.alice),
        )
        .await;
        assert_eq!(p.body["pool"]["listeners"], json!([{"id": http}]), "{b}");
        let a = put(&http, json!({"default_pool_id": null})).await;
        assert_eq!(a.body["listener"]["default_pool_id"], Value::Null, "{b}");
        cloud
            .wait_for(&app, &format!("{LISTENERS}/{http}"), "listener", "ACTIVE")
            .await;

        // While the load balancer is busy: 409, nothing changes.
        force_status(&cloud.db, "lb_load_balancers", &lb, "PENDING_UPDATE").await;
        let immutable = format!("Load Balancer {lb} is immutable and cannot be updated.");
        let one = format!("{LISTENERS}/{http}");
        let new =
            json!({"listener": {"protocol": "HTTP", "protocol_port": 8000, "loadbalancer_id": lb}});
        let writes = [
            (
                "PUT",
                one.as_str(),
                Some(json!({"listener": {"name": "busy"}})),
            ),
            ("DELETE", one.as_str(), None),
            ("POST", LISTENERS, Some(new)),
        ];
        all_refused(&app, &cloud.alice, &writes, 409, &immutable).await;
        force_status(&cloud.db, "lb_load_balancers", &lb, "ACTIVE").await;
        let l = send(
            &app,
            "GET",
            &format!("{LISTENERS}/{http}"),
            Some(&cloud.alice),
        )
        .await;
        assert_ne!(l.body["listener"]["name"], "busy", "{b}");
        assert_eq!(l.body["listener"]["provisioning_status"], "ACTIVE", "{b}");
        cloud.assert_rows("lb_listeners", 3).await;
        cloud.assert_rows("lb_flows", 0).await;
    }
}

#[tokio::test]
async fn a_quota_of_one_listener() {
    for cloud in backends().await {
        let app = cloud.lb(LbConfig::default());
        let Lb {
            id: lb, project, ..
        } = active_lb(&cloud, &app, &cloud.alice, "10.45.0.0/24").await;
        let one = Quota {
            listener: Some(1),
            ..Quota::default()
        };
        set_quota(&cloud.db, &project, one).await;
        listener_on(&cloud, &app, &lb, "HTTP", 80).await;
        let a = send_json(
            &app,
            "POST",
            LISTENERS,
            Some(&cloud.alice),
            json!({"listener": {
            "protocol": "HTTP", "protocol_port": 81, "loadbalancer_id": lb}}),
        )
        .await;
        fault(&a, 403, "Quota has been met for resources: Listener");
        cloud.assert_rows("lb_listeners", 1).await;
        assert_lb_status(&cloud, &app, &lb, "ACTIVE", "").await;
    }
}

#[tokio::test]
async fn the_load_balancer_is_held_until_the_flow_settles() {
    let clouds = backends().await;
    let cloud = &clouds[0];
    let mut f = Frozen::new(cloud).await;
    f.run();
    let lb = active_lb_via(cloud, &f.app, &f.net, &cloud.alice, "10.46.0.0/24")
        .await
        .id;
    f.stop().await;

    let a = send_json(
        &f.app,
        "POST",
        LISTENERS,
        Some(&cloud.alice),
        json!({"listener": {
        "protocol": "HTTP", "protocol_port": 80, "loadbalancer_id": lb}}),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.body);
    let id = a.body["listener"]["id"].as_str().expect("id").to_string();
    let both = [
        ("lb_listeners", id.as_str()),
        ("lb_load_balancers", lb.as_str()),
    ];
    f.assert_statuses("PENDING_CREATE", &both[..1]).await;
    f.assert_statuses("PENDING_UPDATE", &both[1..]).await;
    let busy = send_json(
        &f.app,
        "POST",
        LISTENERS,
        Some(&cloud.alice),
        json!({"listener": {
        "protocol": "TCP", "protocol_port": 81, "loadbalancer_id": lb}}),
    )
    .await;
    fault(
        &busy,
        409,
        &format!("Load Balancer {lb} is immutable and cannot be updated."),
    );
    f.settle().await;
    f.assert_statuses("ACTIVE", &both).await;

    let path = format!("{LISTENERS}/{id}");
    let u = send_json(
        &f.app,
        "PUT",
        &path,
        Some(&cloud.alice),
        json!({"listener": {"name": "n"}}),
    )
    .await;
    assert_eq!(u.status, 200);
    f.assert_statuses("PENDING_UPDATE", &both).await;
    f.settle().await;
    f.assert_statuses("ACTIVE", &both).await;

    // Its L7 policies and rules go with it.
    let policy = seed_l7policy(&f.db, &id, None).await;
    let d = send(&f.app, "DELETE", &path, Some(&cloud.alice)).await;
    assert_eq!(d.status, 204);
    f.assert_statuses("PENDING_DELETE", &both[..1]).await;
    f.assert_statuses("PENDING_UPDATE", &both[1..]).await;
    f.settle().await;
    assert_eq!(rows(&f.db, "lb_listeners").await, 0);
    assert_eq!(
        rows(&f.db, &format!("lb_l7policies WHERE id = '{policy}'")).await,
        0
    );
    f.assert_statuses("ACTIVE", &both[1..]).await;
}
