//! Collection GETs: filters, `fields=`, sorting and pagination, applied to
//! rendered resources exactly as Neutron's API layer applies them.
//!
//! The store pushes the selective filters (ids, network ids, visibility)
//! down into SQL; everything else is decided here on the rendered JSON, so
//! that every visible attribute filters and sorts the way a client sees it.

use std::cmp::Ordering;

use neutrino_types::ApiError;
use serde_json::{Map, Value};

/// What a resource supports in list queries.
pub struct ListSpec {
    pub plural: &'static str,
    /// Attributes that may be used as filters (besides the tag filters).
    pub filters: &'static [&'static str],
    pub sort_keys: &'static [&'static str],
}

#[derive(Debug, Default)]
pub struct ListParams {
    pub filters: Vec<(String, Vec<String>)>,
    pub fields: Vec<String>,
    pub sort: Vec<(String, bool)>,
    pub limit: Option<usize>,
    pub marker: Option<String>,
    pub page_reverse: bool,
    /// Every raw pair, to rebuild pagination links.
    raw: Vec<(String, String)>,
}

const TAG_FILTERS: &[&str] = &["tags", "tags-any", "not-tags", "not-tags-any"];

/// Filters whose values Neutron converts to integers before querying
/// (`convert_to_int`), so a non-integer is `InvalidInput` even when nothing
/// would match. `revision_number` has no converter upstream (MySQL coerces
/// the text, PostgreSQL fails); it is refused the same way here.
const INT_FILTERS: &[&str] = &[
    "revision_number",
    "mtu",
    "ip_version",
    "port_range_min",
    "port_range_max",
    "provider:segmentation_id",
];

/// Filters Neutron converts with `convert_to_boolean`.
const BOOL_FILTERS: &[&str] = &[
    "admin_state_up",
    "shared",
    "router:external",
    "port_security_enabled",
    "enable_dhcp",
    "stateful",
    "is_default",
    "distributed",
    "ha",
];

/// Checks a filter value as Neutron's converters would, before any item is
/// compared.
fn check_filter_value(key: &str, v: &str) -> Result<(), ApiError> {
    if INT_FILTERS.contains(&key) && v.trim().parse::<i64>().is_err() {
        return Err(ApiError::invalid_input(format!("'{v}' is not an integer")));
    }
    if BOOL_FILTERS.contains(&key) {
        crate::body::to_bool(key, &Value::String(v.to_owned()))?;
    }
    Ok(())
}

/// The NotFound Neutron raises for an unknown marker: the resource's own
/// (it looks the marker up with the resource's getter).
fn marker_not_found(plural: &str, id: &str) -> ApiError {
    match plural {
        "networks" => ApiError::network_not_found(id),
        "subnets" => ApiError::subnet_not_found(id),
        "ports" => ApiError::port_not_found(id),
        "routers" => {
            ApiError::not_found("RouterNotFound", format!("Router {id} could not be found"))
        }
        "floatingips" => ApiError::not_found(
            "FloatingIPNotFound",
            format!("Floating IP {id} could not be found"),
        ),
        "security_groups" => ApiError::not_found(
            "SecurityGroupNotFound",
            format!("Security group {id} does not exist"),
        ),
        "security_group_rules" => ApiError::not_found(
            "SecurityGroupRuleNotFound",
            format!("Security group rule {id} does not exist"),
        ),
        "rbac_policies" => ApiError::not_found(
            "RbacPolicyNotFound",
            format!("RBAC policy of type network with ID {id} not found"),
        ),
        _ => ApiError::not_found("NotFound", format!("Marker {id} could not be found.")),
    }
}

impl ListParams {
    pub fn parse(query: Option<&str>, spec: &ListSpec) -> Result<ListParams, ApiError> {
        let raw: Vec<(String, String)> = form_urlencoded::parse(query.unwrap_or("").as_bytes())
            .into_owned()
            .collect();
        let mut p = ListParams::default();
        let mut sort_keys = Vec::new();
        let mut sort_dirs = Vec::new();
        for (k, v) in &raw {
            match k.as_str() {
                "fields" => p
                    .fields
                    .extend(v.split(',').filter(|s| !s.is_empty()).map(str::to_owned)),
                "sort_key" => sort_keys.push(v.clone()),
                "sort_dir" => sort_dirs.push(v.clone()),
                "limit" => {
                    let n: i64 = v.parse().map_err(|_| {
                        ApiError::bad_request(format!("Bad limit request: Limit must be an integer 0 or greater and not '{v}'."))
                    })?;
                    if n < 0 {
                        return Err(ApiError::bad_request(format!(
                            "Bad limit request: Limit must be an integer 0 or greater and not '{v}'."
                        )));
                    }
                    p.limit = if n == 0 { None } else { Some(n as usize) };
                }
                "marker" => p.marker = Some(v.clone()),
                "page_reverse" => p.page_reverse = v.eq_ignore_ascii_case("true"),
                _ => {
                    let key = if k == "tenant_id" {
                        "project_id".to_string()
                    } else {
                        k.clone()
                    };
                    if !spec.filters.contains(&key.as_str()) && !TAG_FILTERS.contains(&key.as_str())
                    {
                        return Err(ApiError::bad_request(format!(
                            "[{k}] is invalid attribute for filtering"
                        )));
                    }
                    check_filter_value(&key, v)?;
                    match p.filters.iter_mut().find(|(fk, _)| *fk == key) {
                        Some((_, vals)) => vals.push(v.clone()),
                        None => p.filters.push((key, vec![v.clone()])),
                    }
                }
            }
        }
        if !sort_dirs.is_empty() && sort_dirs.len() != sort_keys.len() {
            return Err(ApiError::bad_request(
                "The number of sort_keys and sort_dirs must be same",
            ));
        }
        for (i, key) in sort_keys.iter().enumerate() {
            let key = if key == "tenant_id" {
                "project_id"
            } else {
                key.as_str()
            };
            if !spec.sort_keys.contains(&key) {
                return Err(ApiError::bad_request(format!(
                    "{key} is invalid attribute for sort_keys"
                )));
            }
            let asc = match sort_dirs.get(i).map(String::as_str) {
                None | Some("asc") => true,
                Some("desc") => false,
                Some(other) => {
                    return Err(ApiError::bad_request(format!(
                        "{other} is invalid value for sort_dirs, valid value is 'asc' and 'desc'"
                    )));
                }
            };
            p.sort.push((key.to_string(), asc));
        }
        p.raw = raw;
        Ok(p)
    }

    /// True when the request only filters on `pushed` keys (which the store
    /// applies exactly) and asks for no fields, sorting or paging.
    pub fn is_plain(&self, pushed: &[&str]) -> bool {
        self.fields.is_empty()
            && self.sort.is_empty()
            && self.limit.is_none()
            && self.marker.is_none()
            && self
                .filters
                .iter()
                .all(|(k, _)| pushed.contains(&k.as_str()))
    }

    /// Values of a filter that the store can push down into SQL.
    pub fn values(&self, key: &str) -> Vec<String> {
        self.filters
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }
}

/// Does one rendered item pass every filter?
fn matches(item: &Map<String, Value>, filters: &[(String, Vec<String>)]) -> Result<bool, ApiError> {
    for (key, wanted) in filters {
        let ok = match key.as_str() {
            "tags" | "tags-any" | "not-tags" | "not-tags-any" => tag_match(item, key, wanted),
            _ => {
                let have = item.get(key).unwrap_or(&Value::Null);
                let mut any = false;
                for w in wanted {
                    if value_matches(key, have, w)? {
                        any = true;
                        break;
                    }
                }
                any
            }
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

fn tag_match(item: &Map<String, Value>, key: &str, wanted: &[String]) -> bool {
    let have: Vec<&str> = item
        .get("tags")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let wanted: Vec<&str> = wanted
        .iter()
        .flat_map(|w| w.split(','))
        .filter(|s| !s.is_empty())
        .collect();
    let all = wanted.iter().all(|t| have.contains(t));
    let any = wanted.iter().any(|t| have.contains(t));
    match key {
        "tags" => all,
        "tags-any" => any,
        "not-tags" => !all,
        _ => !any,
    }
}

fn value_matches(key: &str, have: &Value, wanted: &str) -> Result<bool, ApiError> {
    Ok(match have {
        Value::String(s) => s == wanted,
        Value::Bool(b) => *b == crate::body::to_bool(key, &Value::String(wanted.to_string()))?,
        Value::Number(n) => n.to_string() == wanted,
        Value::Null => wanted.is_empty() || wanted == "None",
        Value::Array(items) => items.iter().any(|i| match i {
            Value::Object(o) => object_matches(o, wanted),
            other => value_matches(key, other, wanted).unwrap_or(false),
        }),
        Value::Object(o) => object_matches(o, wanted),
    })
}

/// `fixed_ips=ip_address=10.0.0.3` style filters on lists of objects.
fn object_matches(o: &Map<String, Value>, wanted: &str) -> bool {
    match wanted.split_once('=') {
        Some((k, v)) => o.get(k).and_then(Value::as_str) == Some(v),
        None => false,
    }
}

fn compare(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .unwrap_or(0.0)
            .partial_cmp(&y.as_f64().unwrap_or(0.0))
            .unwrap_or(Ordering::Equal),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Less,
        (_, Value::Null) => Ordering::Greater,
        (x, y) => x.to_string().cmp(&y.to_string()),
    }
}

/// Filters, sorts, pages and trims `items` and wraps them in the collection
/// body `{"<plural>": [...], "<plural>_links": [...]}`.
pub fn respond(
    items: Vec<Map<String, Value>>,
    params: &ListParams,
    spec: &ListSpec,
    base_url: &str,
) -> Result<Value, ApiError> {
    let mut kept = Vec::with_capacity(items.len());
    for item in items {
        if matches(&item, &params.filters)? {
            kept.push(item);
        }
    }
    // Ids break ties so that paging is stable.
    let mut keys = params.sort.clone();
    if params.limit.is_some() || params.marker.is_some() || !keys.is_empty() {
        if !keys.iter().any(|(k, _)| k == "id") {
            keys.push(("id".into(), keys.first().map(|(_, a)| *a).unwrap_or(true)));
        }
        kept.sort_by(|a, b| {
            for (k, asc) in &keys {
                let o = compare(
                    a.get(k).unwrap_or(&Value::Null),
                    b.get(k).unwrap_or(&Value::Null),
                );
                let o = if *asc { o } else { o.reverse() };
                if o != Ordering::Equal {
                    return o;
                }
            }
            Ordering::Equal
        });
    }

    let mut links = Vec::new();
    let page: Vec<Map<String, Value>> = if let Some(limit) = params.limit {
        let pos = |id: &str| {
            kept.iter()
                .position(|i| i.get("id").and_then(Value::as_str) == Some(id))
        };
        let marker_pos = match &params.marker {
            Some(m) => Some(pos(m).ok_or_else(|| marker_not_found(spec.plural, m))?),
            None => None,
        };
        let page: Vec<_> = if params.page_reverse {
            let end = marker_pos.unwrap_or(kept.len());
            let start = end.saturating_sub(limit);
            kept[start..end].to_vec()
        } else {
            let start = marker_pos.map(|p| p + 1).unwrap_or(0);
            kept.into_iter().skip(start).take(limit).collect()
        };
        let first = page
            .first()
            .and_then(|i| i.get("id"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let last = page
            .last()
            .and_then(|i| i.get("id"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        // As Neutron's get_pagination_links: the links carry the page's own
        // first/last id, and no marker at all when the page is empty (so the
        // previous link of the empty page past the end is the last page).
        let short = page.len() < limit;
        if !short || params.page_reverse {
            links.push(serde_json::json!({"rel": "next", "href": link(base_url, &params.raw, last.as_deref(), false)}));
        }
        if !short || !params.page_reverse {
            links.push(serde_json::json!({"rel": "previous", "href": link(base_url, &params.raw, first.as_deref(), true)}));
        }
        page
    } else {
        kept
    };

    let page: Vec<Value> = page
        .into_iter()
        .map(|i| Value::Object(select_fields(i, &params.fields)))
        .collect();
    let mut body = Map::new();
    body.insert(spec.plural.to_string(), Value::Array(page));
    if !links.is_empty() {
        body.insert(format!("{}_links", spec.plural), Value::Array(links));
    }
    Ok(Value::Object(body))
}

fn link(base: &str, raw: &[(String, String)], marker: Option<&str>, reverse: bool) -> String {
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for (k, v) in raw {
        if k != "marker" && k != "page_reverse" {
            ser.append_pair(k, v);
        }
    }
    if let Some(marker) = marker {
        ser.append_pair("marker", marker);
    }
    if reverse {
        ser.append_pair("page_reverse", "True");
    }
    format!("{base}?{}", ser.finish())
}

/// Keeps only the requested fields (all when none were asked for).
pub fn select_fields(mut item: Map<String, Value>, fields: &[String]) -> Map<String, Value> {
    if fields.is_empty() {
        return item;
    }
    let fields: Vec<&str> = fields
        .iter()
        .map(|f| {
            if f == "tenant_id" {
                "tenant_id"
            } else {
                f.as_str()
            }
        })
        .collect();
    item.retain(|k, _| fields.contains(&k.as_str()));
    item
}
