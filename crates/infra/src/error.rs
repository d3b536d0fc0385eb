//! Errors of the infra layer and their Kubernetes `Status` bodies.

use neutrino_store::StoreError;
use serde_json::{Value, json};

use crate::resources::Kind;
use crate::validate::FieldError;

#[derive(Debug, thiserror::Error)]
pub enum InfraError {
    /// A request that fails validation: 422 `Invalid`, one cause per field.
    #[error("{} is invalid: {}", describe(.kind, .name), join(.errors))]
    Invalid {
        kind: Kind,
        name: String,
        errors: Vec<FieldError>,
    },
    #[error("{} not found", describe(.kind, .name))]
    NotFound { kind: Kind, name: String },
    #[error("{} already exists", describe(.kind, .name))]
    AlreadyExists { kind: Kind, name: String },
    /// 409: the request is valid but clashes with what is stored
    /// (addresses taken, objects in use, a stale resourceVersion).
    #[error("Operation cannot be fulfilled on {} {:?}: {}", .kind.qualified(), .name, join_or(.errors, .message))]
    Conflict {
        kind: Kind,
        name: String,
        message: String,
        errors: Vec<FieldError>,
    },
    /// 403: policy (namespace of another project, reader role) or an
    /// admission rule that forbids the change outright.
    #[error("{} is forbidden: {}", describe(.kind, .name), .message)]
    Forbidden {
        kind: Kind,
        name: String,
        message: String,
    },
    #[error("{0}")]
    BadRequest(String),
    #[error("the server could not find the requested resource")]
    UnknownResource,
    #[error("storage error")]
    Store(#[from] StoreError),
}

fn describe(kind: &Kind, name: &str) -> String {
    if name.is_empty() {
        kind.qualified()
    } else {
        format!("{}.{} {name:?}", kind.name(), crate::meta::GROUP)
    }
}

fn join(errors: &[FieldError]) -> String {
    match errors {
        [one] => one.to_string(),
        many => format!(
            "[{}]",
            many.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn join_or(errors: &[FieldError], message: &str) -> String {
    if errors.is_empty() {
        message.to_string()
    } else {
        join(errors)
    }
}

impl InfraError {
    pub fn invalid(kind: Kind, name: &str, errors: Vec<FieldError>) -> InfraError {
        InfraError::Invalid {
            kind,
            name: name.to_string(),
            errors,
        }
    }

    pub fn conflict(kind: Kind, name: &str, message: impl Into<String>) -> InfraError {
        InfraError::Conflict {
            kind,
            name: name.to_string(),
            message: message.into(),
            errors: Vec::new(),
        }
    }

    pub fn forbidden(kind: Kind, name: &str, message: impl Into<String>) -> InfraError {
        InfraError::Forbidden {
            kind,
            name: name.to_string(),
            message: message.into(),
        }
    }

    pub fn code(&self) -> u16 {
        match self {
            InfraError::Invalid { .. } => 422,
            InfraError::NotFound { .. } | InfraError::UnknownResource => 404,
            InfraError::AlreadyExists { .. } | InfraError::Conflict { .. } => 409,
            InfraError::Forbidden { .. } => 403,
            InfraError::BadRequest(_) => 400,
            InfraError::Store(_) => 500,
        }
    }

    pub fn reason(&self) -> &'static str {
        match self {
            InfraError::Invalid { .. } => "Invalid",
            InfraError::NotFound { .. } | InfraError::UnknownResource => "NotFound",
            InfraError::AlreadyExists { .. } => "AlreadyExists",
            InfraError::Conflict { .. } => "Conflict",
            InfraError::Forbidden { .. } => "Forbidden",
            InfraError::BadRequest(_) => "BadRequest",
            InfraError::Store(_) => "InternalError",
        }
    }

    /// The Kubernetes `Status` body of this error.
    pub fn status_body(&self) -> Value {
        let message = match self {
            InfraError::Store(_) => "Internal error occurred: storage error".to_string(),
            other => other.to_string(),
        };
        let mut body = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": self.reason(),
            "code": self.code(),
        });
        let (kind, name, errors) = match self {
            InfraError::Invalid { kind, name, errors }
            | InfraError::Conflict {
                kind, name, errors, ..
            } => (Some(kind), Some(name), errors.as_slice()),
            InfraError::NotFound { kind, name }
            | InfraError::AlreadyExists { kind, name }
            | InfraError::Forbidden { kind, name, .. } => (Some(kind), Some(name), &[][..]),
            _ => (None, None, &[][..]),
        };
        if let (Some(kind), Some(name)) = (kind, name) {
            let mut details = json!({
                "name": name,
                "group": crate::meta::GROUP,
                "kind": kind.plural(),
            });
            if !errors.is_empty() {
                details["causes"] = errors
                    .iter()
                    .map(|e| {
                        json!({
                            "reason": e.type_.reason(),
                            "message": e.describe(),
                            "field": e.field,
                        })
                    })
                    .collect();
            }
            body["details"] = details;
        }
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_renders_a_kubernetes_status() {
        let e = InfraError::invalid(
            Kind::NetConfig,
            "netconfig",
            vec![FieldError::invalid(
                "spec.networks[0].subnets[0].cidr",
                "x",
                "not a valid CIDR",
            )],
        );
        let b = e.status_body();
        assert_eq!(b["kind"], "Status");
        assert_eq!(b["status"], "Failure");
        assert_eq!(b["code"], 422);
        assert_eq!(b["reason"], "Invalid");
        assert_eq!(
            b["message"],
            "NetConfig.network.openstack.org \"netconfig\" is invalid: spec.networks[0].subnets[0].cidr: Invalid value: \"x\": not a valid CIDR"
        );
        assert_eq!(
            b["details"]["causes"][0]["field"],
            "spec.networks[0].subnets[0].cidr"
        );
        let s = InfraError::Store(StoreError::Config("secret detail".into())).status_body();
        assert_eq!(s["code"], 500);
        assert!(!s["message"].as_str().unwrap().contains("secret"));
    }
}
