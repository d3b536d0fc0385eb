//! Kubernetes-style object metadata, owner references and status
//! conditions, as the upstream CRDs carry them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The API group and version of every infra resource.
pub const API_VERSION: &str = "network.openstack.org/v1beta1";
pub const GROUP: &str = "network.openstack.org";

fn is_zero(v: &i64) -> bool {
    *v == 0
}

/// `metadata` of an object. Fields a client cannot set (uid, generation,
/// resourceVersion, creationTimestamp) are ignored on create; unknown
/// metadata (finalizers, managedFields, ...) is accepted and dropped, so
/// `kubectl get -o yaml` output applies as it is.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub generation: i64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub resource_version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_timestamp: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub owner_references: Vec<OwnerReference>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OwnerReference {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    pub uid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_owner_deletion: Option<bool>,
}

/// A status condition as lib-common writes them.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub severity: String,
    pub last_transition_time: String,
}

impl Condition {
    pub fn is_true(&self) -> bool {
        self.status == "True"
    }
}

/// Builds a condition list, keeping the transition time of every condition
/// whose status did not change since `previous`.
pub fn conditions(
    previous: &[Condition],
    now: &str,
    wanted: &[(&str, bool, &str, &str)],
) -> Vec<Condition> {
    wanted
        .iter()
        .map(|(type_, ok, reason, message)| {
            let status = if *ok { "True" } else { "False" };
            let last = previous
                .iter()
                .find(|c| c.type_ == *type_ && c.status == status)
                .map(|c| c.last_transition_time.clone())
                .unwrap_or_else(|| now.to_string());
            Condition {
                type_: (*type_).to_string(),
                status: status.to_string(),
                reason: (*reason).to_string(),
                message: (*message).to_string(),
                severity: if *ok {
                    String::new()
                } else {
                    "Error".to_string()
                },
                last_transition_time: last,
            }
        })
        .collect()
}

/// The standard Ready / InputReady / ReservationReady set of an IPSet whose
/// reservation succeeded, with upstream's messages.
pub fn ipset_ready_conditions(previous: &[Condition], now: &str) -> Vec<Condition> {
    conditions(
        previous,
        now,
        &[
            ("Ready", true, "Ready", "Setup complete"),
            ("InputReady", true, "Ready", "Input data complete"),
            ("ReservationReady", true, "Ready", "Reservation successful"),
        ],
    )
}

/// Kubernetes names: a DNS-1123 subdomain (lower case alphanumerics, '-'
/// and '.', starting and ending alphanumeric, at most 253 characters).
pub fn check_object_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("Required value: name is required".into());
    }
    if name.len() > 253 {
        return Err(format!(
            "Invalid value: {name:?}: must be no more than 253 characters"
        ));
    }
    let ok = name.split('.').all(is_dns_label);
    if ok {
        Ok(())
    } else {
        Err(format!(
            "Invalid value: {name:?}: a lowercase RFC 1123 subdomain must consist of lower case \
             alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
        ))
    }
}

/// Kubernetes namespaces: a DNS-1123 label (at most 63 characters).
pub fn check_namespace(ns: &str) -> Result<(), String> {
    if ns.is_empty() {
        return Err("Required value: namespace is required".into());
    }
    if is_dns_label(ns) {
        Ok(())
    } else {
        Err(format!(
            "Invalid value: {ns:?}: a lowercase RFC 1123 label must consist of lower case alphanumeric \
             characters or '-', start and end with an alphanumeric character, and be at most 63 characters"
        ))
    }
}

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// Label keys (`prefix/name`) and values, as Kubernetes checks them.
pub fn check_label(key: &str, value: &str) -> Result<(), String> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(p) = prefix
        && (p.is_empty() || p.len() > 253 || !p.split('.').all(is_dns_label))
    {
        return Err(format!(
            "Invalid value: {key:?}: prefix part must be a DNS subdomain"
        ));
    }
    if !is_label_value(name) || name.is_empty() {
        return Err(format!(
            "Invalid value: {key:?}: name part must consist of alphanumeric characters, '-', '_' or '.', \
             and must start and end with an alphanumeric character (at most 63 characters)"
        ));
    }
    if !is_label_value(value) {
        return Err(format!(
            "Invalid value: {value:?}: a valid label must be an empty string or consist of alphanumeric \
             characters, '-', '_' or '.', and must start and end with an alphanumeric character (at most 63 characters)"
        ));
    }
    Ok(())
}

fn is_label_value(s: &str) -> bool {
    if s.is_empty() {
        return true;
    }
    let b = s.as_bytes();
    s.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_kubernetes() {
        assert!(check_object_name("edpm-compute-0").is_ok());
        assert!(check_object_name("a.b-c").is_ok());
        assert!(check_object_name("Edpm").is_err());
        assert!(check_object_name("-a").is_err());
        assert!(check_object_name("a_b").is_err());
        assert!(check_object_name("").is_err());
        assert!(check_namespace("openstack").is_ok());
        assert!(check_namespace("open.stack").is_err());
        assert!(check_namespace(&"a".repeat(64)).is_err());
    }

    #[test]
    fn labels_follow_kubernetes() {
        assert!(check_label("ipam.network.openstack.org/CtlPlane", "subnet1").is_ok());
        assert!(check_label("app", "").is_ok());
        assert!(check_label("a/b/c", "x").is_err());
        assert!(check_label("app", "-x").is_err());
        assert!(check_label("/app", "x").is_err());
    }

    #[test]
    fn unchanged_conditions_keep_their_time() {
        let first = ipset_ready_conditions(&[], "t1");
        let again = ipset_ready_conditions(&first, "t2");
        assert!(again.iter().all(|c| c.last_transition_time == "t1"));
        let failed = conditions(&first, "t3", &[("Ready", false, "Error", "boom")]);
        assert_eq!(failed[0].last_transition_time, "t3");
        assert_eq!(failed[0].severity, "Error");
    }
}
