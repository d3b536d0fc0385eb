//! Between request bodies, typed objects and stored rows.

use neutrino_store::infra::InfraObject;
use serde_json::{Map, Value};

use crate::error::InfraError;
use crate::meta::{API_VERSION, ObjectMeta};
use crate::resources::{Kind, Object, Spec};
use crate::validate::{FieldError, FieldErrorType};

/// A request body, checked against the URL and parsed into metadata and a
/// typed spec. `status` and unknown top-level fields are ignored.
pub fn parse_input<S: Spec>(
    namespace: &str,
    name: &str,
    body: Value,
) -> Result<(ObjectMeta, S), InfraError> {
    let kind = S::KIND;
    let Value::Object(mut top) = body else {
        return Err(InfraError::BadRequest(format!(
            "the body of a {} must be a JSON object",
            kind.name()
        )));
    };
    if let Some(v) = top.get("apiVersion").filter(|v| !v.is_null())
        && v.as_str() != Some(API_VERSION)
    {
        return Err(InfraError::BadRequest(format!(
            "the API version in the data ({}) does not match the expected API version ({API_VERSION})",
            v.as_str().unwrap_or("?")
        )));
    }
    if let Some(v) = top.get("kind").filter(|v| !v.is_null())
        && v.as_str() != Some(kind.name())
    {
        return Err(InfraError::BadRequest(format!(
            "the kind in the data ({}) does not match the expected kind ({})",
            v.as_str().unwrap_or("?"),
            kind.name()
        )));
    }
    let meta_value = top.remove("metadata").unwrap_or(Value::Object(Map::new()));
    let mut meta: ObjectMeta = deserialize_at("metadata", meta_value)
        .map_err(|e| InfraError::invalid(kind, name, vec![e]))?;
    if meta.name.is_empty() {
        meta.name = name.to_string();
    } else if meta.name != name {
        return Err(InfraError::BadRequest(format!(
            "the name of the object ({}) does not match the name on the URL ({name})",
            meta.name
        )));
    }
    if meta.namespace.is_empty() {
        meta.namespace = namespace.to_string();
    } else if meta.namespace != namespace {
        return Err(InfraError::BadRequest(format!(
            "the namespace of the provided object ({}) does not match the namespace sent on the request ({namespace})",
            meta.namespace
        )));
    }
    let spec_value = match top.remove("spec") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(v) => v,
    };
    let spec: S =
        deserialize_at("spec", spec_value).map_err(|e| InfraError::invalid(kind, name, vec![e]))?;
    Ok((meta, spec))
}

/// Deserializes `value`, turning a failure into an error on the field it
/// happened at (`spec.networks[0].vlan`).
pub fn deserialize_at<T: serde::de::DeserializeOwned>(
    prefix: &str,
    value: Value,
) -> Result<T, FieldError> {
    serde_path_to_error::deserialize::<_, T>(value).map_err(|e| {
        let path = e.path().to_string();
        let mut field = if path == "." || path.is_empty() {
            prefix.to_string()
        } else {
            format!("{prefix}.{path}")
        };
        let msg = e.into_inner().to_string();
        if let Some(rest) = msg.strip_prefix("missing field `") {
            let missing = rest.split('`').next().unwrap_or_default();
            return FieldError::required(format!("{field}.{missing}"), "");
        }
        if let Some(rest) = msg.strip_prefix("unknown field `") {
            let unknown = rest.split('`').next().unwrap_or_default();
            if !field.ends_with(&format!(".{unknown}")) {
                field = format!("{field}.{unknown}");
            }
            return FieldError {
                field,
                type_: FieldErrorType::NotFound,
                value: None,
                detail: format!("unknown field {unknown:?}"),
            };
        }
        FieldError {
            field,
            type_: FieldErrorType::Invalid,
            value: None,
            detail: msg,
        }
    })
}

fn json_or<T: serde::de::DeserializeOwned + Default>(s: &str) -> T {
    serde_json::from_str(s).unwrap_or_default()
}

/// The metadata of a stored row.
pub fn row_meta(row: &InfraObject) -> ObjectMeta {
    ObjectMeta {
        name: row.name.clone(),
        namespace: row.namespace.clone(),
        labels: json_or(&row.labels),
        annotations: json_or(&row.annotations),
        uid: row.uid.clone(),
        generation: row.generation,
        resource_version: row.resource_version.to_string(),
        creation_timestamp: Some(row.created_at.clone()),
        owner_references: json_or(&row.owner_references),
    }
}

/// A stored row as the API renders it.
pub fn row_to_json(row: &InfraObject) -> Value {
    let mut out = Map::new();
    out.insert("apiVersion".into(), Value::from(API_VERSION));
    out.insert("kind".into(), Value::from(row.kind.clone()));
    out.insert(
        "metadata".into(),
        serde_json::to_value(row_meta(row)).expect("metadata serialises"),
    );
    out.insert(
        "spec".into(),
        serde_json::from_str(&row.spec).unwrap_or(Value::Object(Map::new())),
    );
    let status: Value = serde_json::from_str(&row.status).unwrap_or(Value::Null);
    if status.as_object().is_some_and(|m| !m.is_empty()) {
        out.insert("status".into(), status);
    }
    Value::Object(out)
}

/// A stored row as a typed object.
pub fn decode<S: Spec>(row: &InfraObject) -> Result<Object<S, S::Status>, InfraError> {
    let spec: S = serde_json::from_str(&row.spec).map_err(|e| {
        tracing::error!(kind = %row.kind, namespace = %row.namespace, name = %row.name, error = %e,
            "stored spec does not parse");
        InfraError::Store(neutrino_store::StoreError::Config(format!(
            "stored {} spec does not parse",
            row.kind
        )))
    })?;
    let status: S::Status = serde_json::from_str(&row.status).unwrap_or_default();
    Ok(Object {
        api_version: API_VERSION.to_string(),
        kind: S::KIND.name().to_string(),
        metadata: row_meta(row),
        spec,
        status,
    })
}

/// A typed object as a row. `resource_version` and timestamps come from
/// the caller.
pub fn encode<S: Spec>(
    obj: &Object<S, S::Status>,
    resource_version: i64,
    created_at: &str,
    updated_at: &str,
) -> InfraObject {
    InfraObject {
        kind: S::KIND.name().to_string(),
        namespace: obj.metadata.namespace.clone(),
        name: obj.metadata.name.clone(),
        uid: obj.metadata.uid.clone(),
        generation: obj.metadata.generation,
        resource_version,
        labels: to(&obj.metadata.labels),
        annotations: to(&obj.metadata.annotations),
        owner_references: to(&obj.metadata.owner_references),
        spec: to(&obj.spec),
        status: to(&obj.status),
        created_at: created_at.to_string(),
        updated_at: updated_at.to_string(),
    }
}

fn to<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("plain data serialises")
}

/// Whether a kind is known by this plural.
pub fn kind_of(plural: &str) -> Result<Kind, InfraError> {
    Kind::from_plural(plural).ok_or(InfraError::UnknownResource)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{IPSetSpec, NetConfigSpec};
    use serde_json::json;

    #[test]
    fn errors_name_the_failing_field() {
        let e = parse_input::<NetConfigSpec>(
            "openstack",
            "n",
            json!({"spec": {"networks": [{"name": "a1", "subnets": []}]}}),
        )
        .unwrap_err();
        let InfraError::Invalid { errors, .. } = e else {
            panic!()
        };
        assert_eq!(errors[0].field, "spec.networks[0].dnsDomain");
        assert_eq!(errors[0].type_, FieldErrorType::Required);

        let e = parse_input::<NetConfigSpec>(
            "openstack",
            "n",
            json!({"spec": {"networks": [{"name": "a1", "dnsDomain": "a.bc", "subnets": [
                {"name": "s1", "cidr": "10.0.0.0/24", "allocationRanges": [], "vlan": "x"}]}]}}),
        )
        .unwrap_err();
        let InfraError::Invalid { errors, .. } = e else {
            panic!()
        };
        assert_eq!(errors[0].field, "spec.networks[0].subnets[0].vlan");

        let e = parse_input::<IPSetSpec>(
            "openstack",
            "n",
            json!({"spec": {"networks": [{"name": "a1", "subnetName": "s1", "fixedIp": "1.2.3.4"}]}}),
        )
        .unwrap_err();
        let InfraError::Invalid { errors, .. } = e else {
            panic!()
        };
        assert_eq!(errors[0].field, "spec.networks[0].fixedIp");
        assert!(
            errors[0].to_string().contains("unknown field"),
            "{}",
            errors[0]
        );
    }

    #[test]
    fn url_and_body_must_agree() {
        let r = parse_input::<IPSetSpec>(
            "openstack",
            "a",
            json!({"metadata": {"name": "b"}, "spec": {"networks": []}}),
        );
        assert!(matches!(r, Err(InfraError::BadRequest(_))));
        let r = parse_input::<IPSetSpec>(
            "openstack",
            "a",
            json!({"apiVersion": "v1", "spec": {"networks": []}}),
        );
        assert!(matches!(r, Err(InfraError::BadRequest(_))));
        let (meta, _) = parse_input::<IPSetSpec>(
            "openstack",
            "a",
            json!({"kind": "IPSet", "spec": {"networks": []}, "status": {"anything": 1}}),
        )
        .unwrap();
        assert_eq!(meta.namespace, "openstack");
        assert_eq!(meta.name, "a");
    }
}
