//! The one error type every Network API failure becomes.
//!
//! Neutron renders every failure as
//! `{"NeutronError": {"type": <exception class>, "message": ..., "detail": ""}}`
//! and clients (and tempest) match on both the status and the type name, so
//! we keep the upstream class names verbatim.

use std::borrow::Cow;
use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub kind: Cow<'static, str>,
    pub message: String,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status, self.kind, self.message)
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    pub fn new(
        status: u16,
        kind: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        ApiError {
            status,
            kind: kind.into(),
            message: message.into(),
        }
    }

    /// Body validation failures: Neutron raises webob's HTTPBadRequest.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "HTTPBadRequest", message)
    }

    /// `InvalidInput` raised by plugin-level checks.
    pub fn invalid_input(message: impl fmt::Display) -> Self {
        Self::new(
            400,
            "InvalidInput",
            format!("Invalid input for operation: {message}."),
        )
    }

    /// "Invalid input for <attr>. Reason: <why>." from attribute validators.
    pub fn invalid_attr(attr: &str, reason: impl fmt::Display) -> Self {
        Self::bad_request(format!("Invalid input for {attr}. Reason: {reason}."))
    }

    /// `BadRequest`: "Bad <resource> request: <msg>."
    pub fn bad_resource_request(resource: &str, msg: impl fmt::Display) -> Self {
        Self::new(400, "BadRequest", format!("Bad {resource} request: {msg}."))
    }

    pub fn not_found(kind: &'static str, message: impl Into<String>) -> Self {
        Self::new(404, kind, message)
    }

    pub fn conflict(kind: &'static str, message: impl Into<String>) -> Self {
        Self::new(409, kind, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, "HTTPForbidden", message)
    }

    pub fn policy_not_authorized(action: &str) -> Self {
        Self::new(
            403,
            "PolicyNotAuthorized",
            format!("rule:{action} is disallowed by policy"),
        )
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "HTTPInternalServerError", message)
    }

    pub fn service_unavailable(kind: &'static str, message: impl Into<String>) -> Self {
        Self::new(503, kind, message)
    }

    pub fn network_not_found(id: &str) -> Self {
        Self::not_found(
            "NetworkNotFound",
            format!("Network {id} could not be found."),
        )
    }

    pub fn subnet_not_found(id: &str) -> Self {
        Self::not_found("SubnetNotFound", format!("Subnet {id} could not be found."))
    }

    pub fn port_not_found(id: &str) -> Self {
        Self::not_found("PortNotFound", format!("Port {id} could not be found."))
    }

    pub fn revision_mismatch(expected: i64, current: i64) -> Self {
        Self::new(
            412,
            "RevisionNumberConstraintFailed",
            format!("Constrained to {expected}, but current revision is {current}"),
        )
    }

    /// The wire body.
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({
            "NeutronError": {"type": self.kind, "message": self.message, "detail": ""}
        })
    }
}
