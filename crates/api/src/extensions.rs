//! Version documents, `/v2.0/extensions` and availability zones.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::get;
use axum::{Json, Router};
use neutrino_types::ApiError;
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::Caller;
use crate::reject::ApiResult;

/// Every extension this server implements: (alias, name, description).
/// A client (and tempest) enables features from this list, so it must
/// hold exactly what works.
pub const EXTENSIONS: &[(&str, &str, &str)] = &[
    (
        "allowed-address-pairs",
        "Allowed Address Pairs",
        "Provides allowed address pairs",
    ),
    (
        "availability_zone",
        "Availability Zone",
        "The availability zone extension.",
    ),
    (
        "network_availability_zone",
        "Network Availability Zone",
        "Availability zone support for network.",
    ),
    (
        "binding",
        "Port Binding",
        "Expose port bindings of a virtual port to external application",
    ),
    (
        "dns-integration",
        "DNS Integration",
        "Provides integration with DNS.",
    ),
    (
        "external-net",
        "Neutron external network",
        "Adds external network attribute to network resource.",
    ),
    (
        "filter-validation",
        "Filter parameters validation",
        "Provides validation on filter parameters.",
    ),
    (
        "l2_adjacency",
        "L2 Adjacency",
        "Display L2 Adjacency for Neutron Networks.",
    ),
    (
        "net-mtu",
        "Network MTU",
        "Provides MTU attribute for a network resource.",
    ),
    (
        "net-mtu-writable",
        "Network MTU (writable)",
        "Provides a writable MTU attribute for a network resource.",
    ),
    (
        "pagination",
        "Pagination support",
        "Extension that indicates that pagination is enabled.",
    ),
    ("port-security", "Port Security", "Provides port security"),
    (
        "project-id",
        "project_id field enabled",
        "Extension that indicates that project_id field is enabled.",
    ),
    (
        "provider",
        "Provider Network",
        "Expose mapping of virtual networks to physical networks",
    ),
    (
        "revision-if-match",
        "If-Match constraints based on revision_number",
        "Extension indicating that If-Match based on revision_number is supported.",
    ),
    (
        "security-group",
        "security-group",
        "The security groups extension.",
    ),
    (
        "security-groups-normalized-cidr",
        "Normalized CIDR field for security group rules",
        "Add new field with normalized remote_ip_prefix cidr in SG rule",
    ),
    (
        "security-groups-rules-belongs-to-default-sg",
        "Security group rule belongs to the project's default security group",
        "Flag to determine if the security group rule belongs to the project's default security group",
    ),
    (
        "port-security-groups-filtering",
        "Port filtering on security groups",
        "Provides security groups filtering when listing ports",
    ),
    (
        "stateful-security-group",
        "Stateful security group",
        "Indicates if the security group is stateful or not",
    ),
    (
        "sorting",
        "Sorting support",
        "Extension that indicates that sorting is enabled.",
    ),
    (
        "standard-attr-description",
        "standard-attr-description",
        "Extension to add descriptions to standard attributes",
    ),
    (
        "standard-attr-revisions",
        "Resource revision numbers",
        "This extension will display the revision number of neutron resources.",
    ),
    (
        "standard-attr-tag",
        "Tag support for resources with standard attribute: subnet, trunk, network_segment_range, router, network, policy, subnetpool, port, security_group, floatingip",
        "Enables to set tag on resources with standard attribute.",
    ),
    (
        "standard-attr-timestamp",
        "Resource timestamps",
        "Adds created_at and updated_at fields to all Neutron resources that have Neutron standard attributes.",
    ),
    (
        "subnet-dns-publish-fixed-ip",
        "Subnet DNS publish fixed IP",
        "Support choosing to publish DNS records for IPs from a subnet",
    ),
    (
        "subnet-external-network",
        "Subnet External Network",
        "Informs if the subnet is associated with an external network.",
    ),
    (
        "router",
        "Neutron L3 Router",
        "Router abstraction for basic L3 forwarding between L2 Neutron networks and access to external networks via a NAT gateway.",
    ),
    (
        "ext-gw-mode",
        "Neutron L3 Configurable external gateway mode",
        "Extension of the router abstraction for specifying whether SNAT should occur on the external gateway",
    ),
    (
        "extraroute",
        "Neutron Extra Route",
        "Extra routes configuration for L3 router",
    ),
    (
        "router_availability_zone",
        "Router Availability Zone",
        "Availability zone support for router.",
    ),
    (
        "quotas",
        "Quota management support",
        "Expose functions for quotas management per project",
    ),
    (
        "quota_details",
        "Quota details management support",
        "Expose functions for quotas usage statistics per project",
    ),
    (
        "quota-check-limit",
        "Quota engine limit check",
        "Support for checking the resource usage before applying a new quota limit",
    ),
    (
        "quota-check-limit-default",
        "Quota engine limit check by default",
        "By default, the Neutron quota engine checks the resource usage before applying a new quota limit",
    ),
    (
        "rbac-policies",
        "RBAC Policies",
        "Allows creation and modification of policies that control tenant access to resources.",
    ),
    (
        "tag-creation",
        "Tag creation extension",
        "Allow to add tags to resources upon creation.",
    ),
];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v2.0/extensions", get(list))
        .route("/v2.0/extensions/{alias}", get(show))
        .route("/v2.0/availability_zones", get(availability_zones))
}

fn extension(alias: &str, name: &str, description: &str) -> Value {
    json!({"alias": alias, "name": name, "description": description, "links": [], "updated": "2026-11-22T00:00:00-00:00"})
}

async fn list(_caller: Caller) -> Json<Value> {
    Json(
        json!({"extensions": EXTENSIONS.iter().map(|(a, n, d)| extension(a, n, d)).collect::<Vec<_>>()}),
    )
}

async fn show(_caller: Caller, Path(alias): Path<String>) -> ApiResult<Json<Value>> {
    match EXTENSIONS.iter().find(|(a, _, _)| *a == alias) {
        Some((a, n, d)) => Ok(Json(json!({"extension": extension(a, n, d)}))),
        None => Err(ApiError::not_found(
            "HTTPNotFound",
            format!("Extension with alias {alias} does not exist"),
        )
        .into()),
    }
}

async fn availability_zones(State(st): State<AppState>, _caller: Caller) -> Json<Value> {
    let zones: Vec<Value> = st
        .config
        .availability_zones
        .iter()
        .flat_map(|z| {
            ["network", "router"].map(|r| json!({"name": z, "resource": r, "state": "available"}))
        })
        .collect();
    Json(json!({"availability_zones": zones}))
}

fn host_url(headers: &HeaderMap) -> String {
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}")
}

fn v2_doc(base: &str) -> Value {
    json!({"id": "v2.0", "status": "CURRENT", "links": [{"href": format!("{base}/v2.0/"), "rel": "self"}]})
}

pub async fn versions(headers: HeaderMap) -> Json<Value> {
    Json(json!({"versions": [v2_doc(&host_url(&headers))]}))
}

pub async fn version_v2(headers: HeaderMap) -> Json<Value> {
    let base = host_url(&headers);
    let resources: Vec<Value> = ["subnet", "network", "port"]
        .iter()
        .map(|r| json!({"name": r, "collection": format!("{r}s"), "links": [{"href": format!("{base}/v2.0/{r}s"), "rel": "self"}]}))
        .collect();
    Json(json!({"resources": resources}))
}
