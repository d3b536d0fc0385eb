//! What the amphora provider accepts in profile data: the JSON schemas of
//! octavia 19's `flavor_schema.py` and `availability_zone_schema.py`, and
//! the message `jsonschema.validate` (4.26, the peer's) gives for the
//! error it deems most relevant, which the driver hands the client as an
//! unsupported option (`{property} ` prefixed when the error is inside
//! one). The noop backend checks nothing further: any compute or volume
//! zone, any network id (the peer's noop drivers accept them all too).

use neutrino_lb_types::LbError;
use neutrino_lb_types::wsme::py_repr;
use serde_json::Value;

use crate::providers;

/// The JSON types of the schemas' properties (the schemas themselves
/// are objects).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JsonType {
    String,
    Boolean,
    Array,
}

impl JsonType {
    fn name(self) -> &'static str {
        match self {
            JsonType::String => "string",
            JsonType::Boolean => "boolean",
            JsonType::Array => "array",
        }
    }

    fn holds(self, v: &Value) -> bool {
        match self {
            JsonType::String => v.is_string(),
            JsonType::Boolean => v.is_boolean(),
            JsonType::Array => v.is_array(),
        }
    }
}

/// One property of a schema; `one_of` non-empty is its `enum`.
#[derive(Clone, Copy, Debug)]
pub struct Property {
    pub name: &'static str,
    pub ty: JsonType,
    pub one_of: &'static [&'static str],
}

const fn prop(name: &'static str, ty: JsonType) -> Property {
    Property {
        name,
        ty,
        one_of: &[],
    }
}

/// `SUPPORTED_FLAVOR_SCHEMA` (an object, no other properties).
pub const FLAVOR: &[Property] = &[
    Property {
        name: "loadbalancer_topology",
        ty: JsonType::String,
        one_of: &["ACTIVE_STANDBY", "SINGLE"],
    },
    prop("compute_flavor", JsonType::String),
    prop("amp_image_tag", JsonType::String),
    prop("sriov_vip", JsonType::Boolean),
    prop("allow_member_sriov", JsonType::Boolean),
];

/// `SUPPORTED_AVAILABILITY_ZONE_SCHEMA` (an object, no other properties).
pub const AVAILABILITY_ZONE: &[Property] = &[
    prop("compute_zone", JsonType::String),
    prop("volume_zone", JsonType::String),
    prop("management_network", JsonType::String),
    prop("valid_vip_networks", JsonType::Array),
];

/// Upstream's `driver_factory.get_driver`: an empty name is the amphora
/// driver; anything else must be enabled. The name the driver answers
/// under (an alias keeps its own name in messages).
pub fn driver(provider: &str) -> Result<&str, LbError> {
    let name = if provider.is_empty() {
        "amphora"
    } else {
        provider
    };
    if providers::is_enabled(name) {
        Ok(name)
    } else {
        Err(LbError::provider_not_enabled(name))
    }
}

/// The message of jsonschema's best match for `data` against `schema`,
/// or `None` when it is valid. Errors at the top (not an object, unknown
/// keys) win over errors in a property; among properties the one whose
/// name sorts last wins (best_match takes the maximum path); within one,
/// the type error comes before the enum's.
pub fn schema_error(schema: &[Property], data: &Value) -> Option<String> {
    let Value::Object(map) = data else {
        return Some(format!("{} is not of type 'object'", py_repr(data)));
    };
    let mut extras: Vec<&str> = map
        .keys()
        .map(String::as_str)
        .filter(|k| !schema.iter().any(|p| p.name == *k))
        .collect();
    if !extras.is_empty() {
        extras.sort_unstable();
        let verb = if extras.len() == 1 { "was" } else { "were" };
        let names: Vec<String> = extras.iter().map(|k| py_repr(&Value::from(*k))).collect();
        return Some(format!(
            "Additional properties are not allowed ({} {verb} unexpected)",
            names.join(", ")
        ));
    }
    schema
        .iter()
        .filter_map(|p| {
            let v = map.get(p.name)?;
            let msg = if !p.ty.holds(v) {
                format!("{} is not of type '{}'", py_repr(v), p.ty.name())
            } else if !p.one_of.is_empty() && !v.as_str().is_some_and(|s| p.one_of.contains(&s)) {
                let allowed: Vec<String> = p.one_of.iter().map(|s| format!("'{s}'")).collect();
                format!("{} is not one of [{}]", py_repr(v), allowed.join(", "))
            } else {
                return None;
            };
            Some((p.name, msg))
        })
        .max_by(|a, b| a.0.cmp(b.0))
        .map(|(name, msg)| format!("{name} {msg}"))
}

/// The provider's verdict on profile data: 400 ProviderNotEnabled for an
/// unknown provider, 501 ProviderUnsupportedOptionError for data its
/// schema refuses.
pub fn validate(provider: &str, schema: &[Property], data: &Value) -> Result<(), LbError> {
    let name = driver(provider)?;
    match schema_error(schema, data) {
        Some(msg) => Err(LbError::provider_unsupported_option(name, &msg)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn flavor(data: &str) -> Option<String> {
        schema_error(FLAVOR, &serde_json::from_str(data).expect("json"))
    }

    #[test]
    fn schemas_name_exactly_the_advertised_capabilities() {
        let names = |s: &[Property]| s.iter().map(|p| p.name).collect::<Vec<_>>();
        let caps = |c: &[(&'static str, &str)]| c.iter().map(|(n, _)| *n).collect::<Vec<_>>();
        assert_eq!(names(FLAVOR), caps(providers::AMPHORA_FLAVOR_CAPABILITIES));
        assert_eq!(
            names(AVAILABILITY_ZONE),
            caps(providers::AMPHORA_AZ_CAPABILITIES)
        );
    }

    /// Each expectation is what jsonschema 4.26 printed for the same
    /// document against upstream's schema.
    #[test]
    fn flavor_messages_are_jsonschemas() {
        for (data, want) in [
            ("{}", None),
            (
                r#"{"loadbalancer_topology": "SINGLE", "compute_flavor": "x"}"#,
                None,
            ),
            ("5", Some("5 is not of type 'object'")),
            ("[]", Some("[] is not of type 'object'")),
            ("null", Some("None is not of type 'object'")),
            (r#""abc""#, Some("'abc' is not of type 'object'")),
            ("true", Some("True is not of type 'object'")),
            ("1.5", Some("1.5 is not of type 'object'")),
            (
                r#"{"a": 1}"#,
                Some("Additional properties are not allowed ('a' was unexpected)"),
            ),
            (
                r#"{"b": 1, "a": 2}"#,
                Some("Additional properties are not allowed ('a', 'b' were unexpected)"),
            ),
            (
                r#"{"loadbalancer_topology": "X", "zz": 1}"#,
                Some("Additional properties are not allowed ('zz' was unexpected)"),
            ),
            (
                r#"{"loadbalancer_topology": "X"}"#,
                Some("loadbalancer_topology 'X' is not one of ['ACTIVE_STANDBY', 'SINGLE']"),
            ),
            (
                r#"{"loadbalancer_topology": 5}"#,
                Some("loadbalancer_topology 5 is not of type 'string'"),
            ),
            (
                r#"{"loadbalancer_topology": null}"#,
                Some("loadbalancer_topology None is not of type 'string'"),
            ),
            (
                r#"{"loadbalancer_topology": "X", "sriov_vip": "y"}"#,
                Some("sriov_vip 'y' is not of type 'boolean'"),
            ),
            (
                r#"{"compute_flavor": 1, "amp_image_tag": 2}"#,
                Some("compute_flavor 1 is not of type 'string'"),
            ),
            (
                r#"{"sriov_vip": 1}"#,
                Some("sriov_vip 1 is not of type 'boolean'"),
            ),
            (
                r#"{"compute_flavor": {"a": "b"}}"#,
                Some("compute_flavor {'a': 'b'} is not of type 'string'"),
            ),
            (
                r#"{"compute_flavor": 1.0}"#,
                Some("compute_flavor 1.0 is not of type 'string'"),
            ),
        ] {
            assert_eq!(flavor(data).as_deref(), want, "{data}");
        }
    }

    #[test]
    fn availability_zone_messages_are_jsonschemas() {
        let az = |v: Value| schema_error(AVAILABILITY_ZONE, &v);
        assert_eq!(
            az(json!({"valid_vip_networks": "x"})).as_deref(),
            Some("valid_vip_networks 'x' is not of type 'array'")
        );
        assert_eq!(az(json!({"valid_vip_networks": [1, 2]})), None);
        assert_eq!(
            az(json!({"volume_zone": true})).as_deref(),
            Some("volume_zone True is not of type 'string'")
        );
        assert_eq!(
            az(json!({"x": 1})).as_deref(),
            Some("Additional properties are not allowed ('x' was unexpected)")
        );
        assert_eq!(
            az(json!({"compute_zone": "nova", "management_network": "not-even-a-uuid"})),
            None
        );
    }

    #[test]
    fn providers_resolve_as_upstreams_driver_factory() {
        assert_eq!(driver(""), Ok("amphora"));
        assert_eq!(driver("octavia"), Ok("octavia"));
        let e = driver("noop_driver").expect_err("not enabled");
        assert_eq!(
            (e.status, e.faultstring.as_str()),
            (400, "Provider 'noop_driver' is not enabled.")
        );
        let e = validate("octavia", FLAVOR, &json!({"a": 1})).expect_err("unsupported");
        assert_eq!(e.status, 501);
        assert_eq!(
            e.faultstring,
            "Provider 'octavia' does not support a requested option: \
             Additional properties are not allowed ('a' was unexpected)"
        );
        assert_eq!(validate("", FLAVOR, &json!({})), Ok(()));
    }
}
