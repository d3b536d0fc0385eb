//! Records with the API's defaults, for tests and benches: ACTIVE and
//! enabled, unnamed, with octavia 19's default timeouts, limits and
//! health-monitor settings, created at [`CREATED_AT`]. Change what a test
//! is about with struct update syntax:
//! `Listener { name: Some("web".into()), ..sample::listener(..) }`.

use crate::enums::{
    ClientAuthentication, HealthMonitorType, HttpMethod, L7PolicyAction, LbAlgorithm,
    OperatingStatus, Protocol, ProvisioningStatus, Topology, VnicType,
};
use crate::model::{HealthMonitor, L7Policy, Listener, LoadBalancer, Member, Pool, Vip};

/// An arbitrary fixed creation time, so that records compare equal.
pub const CREATED_AT: &str = "2026-12-03T10:00:00";

/// A VIP without a port: what a load balancer row has before its port
/// is made.
pub fn no_vip() -> Vip {
    Vip {
        ip_address: None,
        port_id: None,
        subnet_id: None,
        network_id: None,
        qos_policy_id: None,
        octavia_owned: false,
        vnic_type: VnicType::Normal,
        sg_ids: vec![],
    }
}

/// A VIP on a port Neutrino made (and so deletes).
pub fn vip(ip_address: &str, port_id: &str, subnet_id: &str, network_id: &str) -> Vip {
    Vip {
        ip_address: Some(ip_address.into()),
        port_id: Some(port_id.into()),
        subnet_id: Some(subnet_id.into()),
        network_id: Some(network_id.into()),
        octavia_owned: true,
        ..no_vip()
    }
}

/// An OFFLINE single-topology amphora load balancer without a VIP port.
pub fn load_balancer(id: &str, project: &str) -> LoadBalancer {
    LoadBalancer {
        id: id.into(),
        project_id: project.into(),
        name: None,
        description: None,
        admin_state_up: true,
        provisioning_status: ProvisioningStatus::Active,
        operating_status: OperatingStatus::Offline,
        topology: Topology::Single,
        provider: Some("amphora".into()),
        flavor_id: None,
        availability_zone: None,
        vip: no_vip(),
        additional_vips: vec![],
        tags: vec![],
        created_at: CREATED_AT.into(),
        updated_at: None,
    }
}

/// An OFFLINE listener without a default pool, TLS or L7 policies.
pub fn listener(id: &str, project: &str, lb: &str, protocol: Protocol, port: i64) -> Listener {
    Listener {
        id: id.into(),
        project_id: project.into(),
        load_balancer_id: lb.into(),
        name: None,
        description: None,
        admin_state_up: true,
        provisioning_status: ProvisioningStatus::Active,
        operating_status: OperatingStatus::Offline,
        protocol,
        protocol_port: port,
        connection_limit: -1,
        default_pool_id: None,
        default_tls_container_ref: None,
        sni_container_refs: vec![],
        client_ca_tls_container_ref: None,
        client_authentication: ClientAuthentication::None,
        client_crl_container_ref: None,
        insert_headers: Default::default(),
        timeout_client_data: 50000,
        timeout_member_connect: 5000,
        timeout_member_data: 50000,
        timeout_tcp_inspect: 0,
        allowed_cidrs: vec![],
        tls_ciphers: None,
        tls_versions: None,
        alpn_protocols: None,
        hsts_max_age: None,
        hsts_include_subdomains: false,
        hsts_preload: false,
        tags: vec![],
        l7policy_ids: vec![],
        created_at: CREATED_AT.into(),
        updated_at: None,
    }
}

/// An OFFLINE round-robin pool without members, monitor or TLS.
pub fn pool(id: &str, project: &str, lb: &str, protocol: Protocol) -> Pool {
    Pool {
        id: id.into(),
        project_id: project.into(),
        load_balancer_id: lb.into(),
        name: None,
        description: None,
        admin_state_up: true,
        provisioning_status: ProvisioningStatus::Active,
        operating_status: OperatingStatus::Offline,
        protocol,
        lb_algorithm: LbAlgorithm::RoundRobin,
        session_persistence: None,
        tls_enabled: false,
        tls_container_ref: None,
        ca_tls_container_ref: None,
        crl_container_ref: None,
        tls_ciphers: None,
        tls_versions: None,
        alpn_protocols: None,
        tags: vec![],
        listener_ids: vec![],
        member_ids: vec![],
        healthmonitor_id: None,
        created_at: CREATED_AT.into(),
        updated_at: None,
    }
}

/// A NO_MONITOR member of weight 1 on the pool's subnet.
pub fn member(id: &str, project: &str, pool: &str, address: &str, port: i64) -> Member {
    Member {
        id: id.into(),
        project_id: project.into(),
        pool_id: pool.into(),
        name: None,
        admin_state_up: true,
        provisioning_status: ProvisioningStatus::Active,
        operating_status: OperatingStatus::NoMonitor,
        address: address.into(),
        protocol_port: port,
        weight: 1,
        backup: false,
        subnet_id: None,
        monitor_address: None,
        monitor_port: None,
        vnic_type: VnicType::Normal,
        tags: vec![],
        created_at: CREATED_AT.into(),
        updated_at: None,
    }
}

/// An ONLINE health monitor checking every 5 s (timeout 5 s, 3 tries
/// either way); an HTTP(S) one sends `GET /` and expects 200.
pub fn health_monitor(
    id: &str,
    project: &str,
    pool: &str,
    hm_type: HealthMonitorType,
) -> HealthMonitor {
    let http = matches!(hm_type, HealthMonitorType::Http | HealthMonitorType::Https);
    HealthMonitor {
        id: id.into(),
        project_id: project.into(),
        pool_id: pool.into(),
        name: None,
        admin_state_up: true,
        provisioning_status: ProvisioningStatus::Active,
        operating_status: OperatingStatus::Online,
        hm_type,
        delay: 5,
        timeout: 5,
        max_retries: 3,
        max_retries_down: 3,
        http_method: http.then_some(HttpMethod::Get),
        url_path: http.then(|| "/".into()),
        expected_codes: http.then(|| "200".into()),
        http_version: None,
        domain_name: None,
        tags: vec![],
        created_at: CREATED_AT.into(),
        updated_at: None,
    }
}

/// An ONLINE policy of `listener` at `position`: REJECT, or redirecting
/// to `redirect_pool` when given.
pub fn l7policy(
    id: &str,
    project: &str,
    listener: &str,
    redirect_pool: Option<&str>,
    position: i64,
) -> L7Policy {
    L7Policy {
        id: id.into(),
        project_id: project.into(),
        listener_id: listener.into(),
        name: None,
        description: None,
        admin_state_up: true,
        provisioning_status: ProvisioningStatus::Active,
        operating_status: OperatingStatus::Online,
        action: match redirect_pool {
            Some(_) => L7PolicyAction::RedirectToPool,
            None => L7PolicyAction::Reject,
        },
        redirect_pool_id: redirect_pool.map(Into::into),
        redirect_url: None,
        redirect_prefix: None,
        redirect_http_code: None,
        position,
        rule_ids: vec![],
        tags: vec![],
        created_at: CREATED_AT.into(),
        updated_at: None,
    }
}
