//! Providers and their capabilities (design §2.14, decision D4;
//! octavia 19 `api/v2/controllers/provider.py`, the amphora driver's
//! `flavor_schema.py` and `availability_zone_schema.py`).

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use neutrino_lb_types::LbError;
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::fault::{Fault, json_response, method_not_allowed, only};
use crate::{LbState, listing};

/// Enabled providers, in upstream's order. Both names run the amphora
/// driver; `octavia` is its deprecated alias.
pub const PROVIDERS: &[(&str, &str)] = &[
    ("amphora", "The Octavia Amphora driver."),
    ("octavia", "Deprecated alias of the Octavia Amphora driver."),
];

/// What an amphora flavor profile's `flavor_data` may set.
pub const AMPHORA_FLAVOR_CAPABILITIES: &[(&str, &str)] = &[
    (
        "loadbalancer_topology",
        "The load balancer topology. One of: SINGLE - One amphora per load balancer. \
         ACTIVE_STANDBY - Two amphora per load balancer.",
    ),
    ("compute_flavor", "The compute driver flavor ID."),
    ("amp_image_tag", "The amphora image tag."),
    (
        "sriov_vip",
        "When true, the VIP port will be created using an SR-IOV VF port.",
    ),
    (
        "allow_member_sriov",
        "When true, users can request a member port be SR-IOV enabled at member creation time.",
    ),
];

/// What an amphora AZ profile's `availability_zone_data` may set.
pub const AMPHORA_AZ_CAPABILITIES: &[(&str, &str)] = &[
    ("compute_zone", "The compute availability zone."),
    ("volume_zone", "The volume availability zone."),
    (
        "management_network",
        "The management network ID for the amphora.",
    ),
    (
        "valid_vip_networks",
        "List of network IDs that are allowed for VIP use. This overrides/replaces the list \
         of allowed networks configured in `octavia.conf`.",
    ),
];

/// The provider of load balancers that name none (upstream's
/// `[api_settings] default_provider_driver`).
pub const DEFAULT: &str = "amphora";

/// Whether `provider` names an enabled provider.
pub fn is_enabled(provider: &str) -> bool {
    PROVIDERS.iter().any(|(name, _)| *name == provider)
}

pub fn routes(prefix: &str) -> Router<LbState> {
    let base = format!("{prefix}/lbaas/providers");
    Router::new()
        .route(&base, only(get(list), "GET"))
        .route(&format!("{base}/"), only(get(list), "GET"))
        // Upstream routes `providers/{p}` to the collection controller,
        // which only has GET-less sub-resources: 405, Allow: GET.
        .route(
            &format!("{base}/{{provider}}"),
            any(|| async { method_not_allowed("GET") }),
        )
        .route(
            &format!("{base}/{{provider}}/flavor_capabilities"),
            only(get(flavor_capabilities), "GET"),
        )
        .route(
            &format!("{base}/{{provider}}/availability_zone_capabilities"),
            only(get(az_capabilities), "GET"),
        )
}

fn query_pairs(raw: Option<String>) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

fn own_project(caller: &Caller) -> Result<String, LbError> {
    caller
        .project_id()
        .map(str::to_string)
        .ok_or_else(LbError::policy_forbidden)
}

fn entries(list: &[(&str, &str)]) -> Vec<Value> {
    list.iter()
        .map(|(name, description)| json!({"name": name, "description": description}))
        .collect()
}

/// `GET /v2/lbaas/providers`. Only `fields` applies: upstream ignores
/// every other query key here.
async fn list(
    State(state): State<LbState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Response, Fault> {
    let project = own_project(&caller)?;
    state
        .policy()
        .enforce("provider:get_all", &caller, &project)?;
    let fields = listing::fields(&query_pairs(raw));
    let items: Vec<Value> = entries(PROVIDERS)
        .into_iter()
        .map(|o| listing::select_fields(o, fields.as_deref()))
        .collect();
    Ok(json_response(StatusCode::OK, json!({ "providers": items })))
}

async fn flavor_capabilities(
    State(state): State<LbState>,
    caller: Caller,
    Path(provider): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Fault> {
    capabilities(
        &state,
        &caller,
        &provider,
        raw,
        "provider-flavor:get_all",
        "flavor_capabilities",
        AMPHORA_FLAVOR_CAPABILITIES,
    )
}

async fn az_capabilities(
    State(state): State<LbState>,
    caller: Caller,
    Path(provider): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Fault> {
    capabilities(
        &state,
        &caller,
        &provider,
        raw,
        "provider-availability-zone:get_all",
        "availability_zone_capabilities",
        AMPHORA_AZ_CAPABILITIES,
    )
}

/// Policy first (a non-admin learns nothing about providers), then the
/// provider, then upstream's `name`/`description` filters: a single
/// value matches exactly; a repeated key is a list upstream compares
/// against a string, so it matches nothing.
fn capabilities(
    state: &LbState,
    caller: &Caller,
    provider: &str,
    raw: Option<String>,
    action: &str,
    key: &str,
    catalogue: &[(&str, &str)],
) -> Result<Response, Fault> {
    let project = own_project(caller)?;
    state.policy().enforce(action, caller, &project)?;
    if !is_enabled(provider) {
        return Err(LbError::provider_not_enabled(provider).into());
    }
    let pairs = query_pairs(raw);
    let filter = |name: &str| -> Option<Option<&str>> {
        let values: Vec<&str> = pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect();
        match values.as_slice() {
            [] | [""] => None,
            [one] => Some(Some(*one)),
            _ => Some(None),
        }
    };
    let (by_name, by_description) = (filter("name"), filter("description"));
    let fields = listing::fields(&pairs);
    let items: Vec<Value> = catalogue
        .iter()
        .filter(|(name, _)| by_name.is_none_or(|want| want == Some(*name)))
        .filter(|(_, description)| by_description.is_none_or(|want| want == Some(*description)))
        .map(|(name, description)| {
            listing::select_fields(
                json!({"name": name, "description": description}),
                fields.as_deref(),
            )
        })
        .collect();
    let mut body = serde_json::Map::new();
    body.insert(key.to_string(), Value::Array(items));
    Ok(json_response(StatusCode::OK, Value::Object(body)).into_response())
}
