//! `LbError`, the one error of the Load-balancer API.
//!
//! Octavia answers every failure with WSME's fault body
//! `{"faultcode": "Client"|"Server", "faultstring": ..., "debuginfo": null}`.
//! Clients (octaviaclient, tempest) show and match `faultstring`, so the
//! texts below are upstream's templates (octavia 19 `common/exceptions.py`,
//! WSME 0.13 `exc.py`), verbatim. `kind` is upstream's exception class
//! name: it is not on the wire, but tests and logs use it.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{status} {kind}: {faultstring}")]
pub struct LbError {
    pub status: u16,
    pub kind: &'static str,
    pub faultstring: String,
}

/// The resource names upstream puts into `NotFound`, `ImmutableObject`
/// and friends (each data model's `_name()`).
pub mod resource {
    pub const LOAD_BALANCER: &str = "Load Balancer";
    pub const LISTENER: &str = "Listener";
    pub const POOL: &str = "Pool";
    pub const MEMBER: &str = "Member";
    pub const HEALTH_MONITOR: &str = "Health Monitor";
    pub const L7_POLICY: &str = "L7 Policy";
    pub const L7_RULE: &str = "L7 Rule";
    pub const AMPHORA: &str = "Amphora";
    pub const FLAVOR: &str = "Flavor";
    pub const FLAVOR_PROFILE: &str = "Flavor profile";
    /// What a lookup of a missing flavor profile says (the model's
    /// `_name()`); the controllers' own checks (nil id, delete, in use)
    /// spell it [`FLAVOR_PROFILE`].
    pub const FLAVOR_PROFILE_MODEL: &str = "Flavor Profile";
    pub const AVAILABILITY_ZONE: &str = "Availability Zone";
    pub const AVAILABILITY_ZONE_PROFILE: &str = "Availability Zone Profile";
    pub const SUBNET: &str = "Subnet";
    pub const QUOTAS: &str = "Quotas";
}

impl LbError {
    pub fn new(status: u16, kind: &'static str, faultstring: impl Into<String>) -> Self {
        LbError {
            status,
            kind,
            faultstring: faultstring.into(),
        }
    }

    /// WSME: 4xx are the client's fault, everything else the server's.
    pub fn faultcode(&self) -> &'static str {
        if (400..500).contains(&self.status) {
            "Client"
        } else {
            "Server"
        }
    }

    /// The wire body. `debuginfo` is always null: no stack traces.
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({
            "faultcode": self.faultcode(),
            "faultstring": self.faultstring,
            "debuginfo": null,
        })
    }

    // ---- WSME body errors (all 400, faultcode Client) ----

    pub fn client_side(kind: &'static str, faultstring: impl Into<String>) -> Self {
        Self::new(400, kind, faultstring)
    }

    pub fn not_json() -> Self {
        Self::client_side("ClientSideError", "Request is not in valid JSON format")
    }

    /// `InvalidInput`: `value` is Python's `str()` of the offending value.
    pub fn invalid_input(field: &str, value: &str, reason: impl fmt::Display) -> Self {
        Self::client_side(
            "InvalidInput",
            format!("Invalid input for field/attribute {field}. Value: '{value}'. {reason}"),
        )
    }

    pub fn mandatory_missing(field: &str) -> Self {
        Self::invalid_input(field, "None", "Mandatory field missing.")
    }

    pub fn unknown_attributes(argument: &str, names: &[String]) -> Self {
        let noun = if names.len() > 1 {
            "Unknown attributes"
        } else {
            "Unknown attribute"
        };
        Self::client_side(
            "UnknownAttribute",
            format!("{noun} for argument {argument}: {}", names.join(", ")),
        )
    }

    /// WSME's `MissingArgument`: a controller parameter with nothing to
    /// fill it (no body, no id in the path).
    pub fn missing_argument(argname: &str) -> Self {
        Self::client_side(
            "MissingArgument",
            format!("Missing argument: \"{argname}\""),
        )
    }

    /// WSME's answer to a body whose `Content-Type` it cannot read.
    pub fn unknown_mimetype(mimetype: &str) -> Self {
        Self::new(
            415,
            "ClientSideError",
            format!("Unknown mimetype: {mimetype}"),
        )
    }

    // ---- Octavia API exceptions ----

    pub fn not_found(resource: &str, id: &str) -> Self {
        Self::new(404, "NotFound", format!("{resource} {id} not found."))
    }

    pub fn amphora_stats_not_found(id: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("Amphora stats for {id} not found."),
        )
    }

    pub fn policy_forbidden() -> Self {
        Self::new(
            403,
            "PolicyForbidden",
            "Policy does not allow this request to be performed.",
        )
    }

    pub fn quota_exceeded(resource: &str) -> Self {
        Self::new(
            403,
            "QuotaException",
            format!("Quota has been met for resources: {resource}"),
        )
    }

    pub fn immutable(resource: &str, id: &str) -> Self {
        Self::new(
            409,
            "ImmutableObject",
            format!("{resource} {id} is immutable and cannot be updated."),
        )
    }

    pub fn lb_pending_state(state: &str, id: &str) -> Self {
        Self::new(
            409,
            "LBPendingStateError",
            format!("Invalid state {state} of loadbalancer resource {id}"),
        )
    }

    pub fn duplicate_listener(protocol: &str, port: i64) -> Self {
        Self::new(
            409,
            "DuplicateListenerEntry",
            format!(
                "Another Listener on this Load Balancer is already using protocol {protocol} \
                 and protocol_port {port}"
            ),
        )
    }

    pub fn duplicate_member(ip_address: &str, port: i64) -> Self {
        Self::new(
            409,
            "DuplicateMemberEntry",
            format!(
                "Another member on this pool is already using ip {ip_address} on \
                 protocol_port {port}"
            ),
        )
    }

    pub fn duplicate_health_monitor() -> Self {
        Self::new(
            409,
            "DuplicateHealthMonitor",
            "This pool already has a health monitor",
        )
    }

    pub fn duplicate_pool() -> Self {
        Self::new(
            409,
            "DuplicatePoolEntry",
            "This listener already has a default pool",
        )
    }

    pub fn pool_in_use_by_l7policy(pool_id: &str, l7policy_id: &str) -> Self {
        Self::new(
            409,
            "PoolInUseByL7Policy",
            format!("Pool {pool_id} is in use by L7 policy {l7policy_id}"),
        )
    }

    pub fn too_many_l7rules(l7policy_id: &str) -> Self {
        Self::new(
            409,
            "TooManyL7RulesOnL7Policy",
            format!("Too many rules on L7 policy {l7policy_id}"),
        )
    }

    pub fn record_already_exists(field: &str, name: &str) -> Self {
        Self::new(
            409,
            "RecordAlreadyExists",
            format!("A {field} of {name} already exists."),
        )
    }

    pub fn id_already_exists() -> Self {
        Self::new(
            409,
            "IDAlreadyExists",
            "Already an entity with that specified id.",
        )
    }

    pub fn object_in_use(object: &str, id: &str) -> Self {
        Self::new(
            409,
            "ObjectInUse",
            format!("{object} {id} is in use and cannot be modified."),
        )
    }

    pub fn vip_address_conflict(msg: &str) -> Self {
        Self::new(
            409,
            "VIPAddressConflict",
            format!("The VIP IP address is already in use: {msg}"),
        )
    }

    pub fn validation(detail: impl fmt::Display) -> Self {
        Self::new(
            400,
            "ValidationException",
            format!("Validation failure: {detail}"),
        )
    }

    pub fn vip_validation() -> Self {
        Self::new(
            400,
            "VIPValidationException",
            "Validation failure: VIP must contain one of: vip_port_id, vip_network_id, \
             vip_subnet_id.",
        )
    }

    pub fn invalid_subresource(resource: &str, id: &str) -> Self {
        Self::new(
            400,
            "InvalidSubresource",
            format!("{resource} {id} not found."),
        )
    }

    pub fn invalid_option(value: impl fmt::Display, option: impl fmt::Display) -> Self {
        Self::new(
            400,
            "InvalidOption",
            format!("{value} is not a valid option for {option}"),
        )
    }

    pub fn disabled_option(option: &str, value: &str) -> Self {
        Self::new(
            400,
            "DisabledOption",
            format!("The selected {option} is not allowed in this deployment: {value}"),
        )
    }

    pub fn invalid_l7policy_action(action: &str) -> Self {
        Self::new(
            400,
            "InvalidL7PolicyAction",
            format!("Invalid L7 Policy action specified: {action}"),
        )
    }

    pub fn invalid_l7policy_args(msg: &str) -> Self {
        Self::new(
            400,
            "InvalidL7PolicyArgs",
            format!("Invalid L7 Policy arguments: {msg}"),
        )
    }

    /// `L7RuleValidation` wrapping the inner error's text (e.g.
    /// `Invalid L7 Rule: L7 rule type requires a value`).
    pub fn l7rule_validation(error: impl fmt::Display) -> Self {
        Self::new(
            400,
            "L7RuleValidation",
            format!("Error parsing L7Rule: {error}"),
        )
    }

    pub fn listener_no_children(protocol: &str) -> Self {
        Self::new(
            400,
            "ListenerNoChildren",
            format!("Protocol {protocol} listeners cannot have child objects."),
        )
    }

    pub fn single_create_details_missing(kind: &str, name: &str) -> Self {
        Self::new(
            400,
            "SingleCreateDetailsMissing",
            format!("Missing details for {kind} object: {name}"),
        )
    }

    pub fn member_sriov_disabled() -> Self {
        Self::new(
            400,
            "MemberSRIOVDisabled",
            "The load balancer flavor does not allow SR-IOV member ports.",
        )
    }

    pub fn certificate_retrieval(refs: &str) -> Self {
        Self::new(
            400,
            "CertificateRetrievalException",
            format!("Could not retrieve certificate: {refs}"),
        )
    }

    pub fn invalid_filter_argument() -> Self {
        Self::new(
            400,
            "InvalidFilterArgument",
            "One or more arguments are either duplicate or invalid",
        )
    }

    pub fn invalid_sort_key(key: &str) -> Self {
        Self::new(
            400,
            "InvalidSortKey",
            format!("Supplied sort key '{key}' is not valid."),
        )
    }

    pub fn invalid_sort_direction(key: &str) -> Self {
        Self::new(
            400,
            "InvalidSortDirection",
            format!("Supplied sort direction '{key}' is not valid."),
        )
    }

    pub fn invalid_marker(key: &str) -> Self {
        Self::new(
            400,
            "InvalidMarker",
            format!("Supplied pagination marker '{key}' is not valid."),
        )
    }

    pub fn invalid_limit(key: &str) -> Self {
        Self::new(
            400,
            "InvalidLimit",
            format!("Supplied pagination limit '{key}' is not valid."),
        )
    }

    pub fn provider_not_enabled(provider: &str) -> Self {
        Self::new(
            400,
            "ProviderNotEnabled",
            format!("Provider '{provider}' is not enabled."),
        )
    }

    pub fn provider_flavor_mismatch(flavor: &str, provider: &str) -> Self {
        Self::new(
            400,
            "ProviderFlavorMismatchError",
            format!("Flavor '{flavor}' is not compatible with provider '{provider}'"),
        )
    }

    pub fn provider_unsupported_option(provider: &str, msg: &str) -> Self {
        Self::new(
            501,
            "ProviderUnsupportedOptionError",
            format!("Provider '{provider}' does not support a requested option: {msg}"),
        )
    }

    pub fn provider_not_implemented(provider: &str, msg: &str) -> Self {
        Self::new(
            501,
            "ProviderNotImplementedError",
            format!("Provider '{provider}' does not support a requested action: {msg}"),
        )
    }

    pub fn provider_driver_error(provider: &str, msg: &str) -> Self {
        Self::new(
            500,
            "ProviderDriverError",
            format!("Provider '{provider}' reports error: {msg}"),
        )
    }

    /// Upstream's `MissingAPIProjectID` sets `message` where its base reads
    /// `msg`, so what clients see is the base class's text.
    pub fn missing_api_project_id() -> Self {
        Self::new(400, "MissingAPIProjectID", "Something unknown went wrong")
    }
}
