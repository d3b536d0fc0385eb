//! Amphorae (admin) — `/v2/octavia/amphorae[/{id}]` with `/stats`,
//! `/config` and `/failover` (design §2.15; octavia 19
//! `api/v2/controllers/amphora.py`).

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use neutrino_lb_types::LbError;
use neutrino_lb_types::enums::AmphoraStatus;
use neutrino_lb_types::model::Amphora;
use neutrino_lb_types::render;
use neutrino_lb_types::state::{Object, Operation, Role};
use neutrino_lbaas::flows::{NewAmphora, Plan, Touched, kind};
use neutrino_store::lb::{amphorae, stats};
use serde_json::{Value, json};

use crate::LbState;
use crate::auth::Caller;
use crate::fault::{Fault, json_response, only};
use crate::listing::{self, Collection};
use crate::ops::{self, db};

const COLLECTION: Collection = Collection {
    attributes: &[
        "id",
        "loadbalancer_id",
        "compute_id",
        "lb_network_ip",
        "vrrp_ip",
        "ha_ip",
        "vrrp_port_id",
        "ha_port_id",
        "cert_expiration",
        "cert_busy",
        "role",
        "status",
        "vrrp_interface",
        "vrrp_id",
        "vrrp_priority",
        "cached_zone",
        "created_at",
        "updated_at",
        "image_id",
        "compute_flavor",
    ],
    booleans: &["cert_busy"],
    tagged: false,
};

pub fn routes(prefix: &str) -> Router<LbState> {
    let base = format!("{prefix}/octavia/amphorae");
    let one = format!("{base}/{{id}}");
    Router::new()
        .route(&base, only(get(list), "GET"))
        .route(&format!("{base}/"), only(get(list), "GET"))
        .route(&one, only(get(show).delete(delete), "GET, DELETE"))
        .route(&format!("{one}/stats"), only(get(amphora_stats), "GET"))
        .route(&format!("{one}/config"), only(put(config), "PUT"))
        .route(&format!("{one}/failover"), only(put(failover), "PUT"))
}

/// Upstream checks amphora policy against the caller's own project.
fn enforce(state: &LbState, caller: &Caller, verb: &str) -> Result<(), LbError> {
    let project = ops::own_project(caller)?;
    state
        .policy()
        .enforce(&format!("amphora:{verb}"), caller, &project)
}

async fn found(state: &LbState, id: &str) -> Result<Amphora, LbError> {
    amphorae::get(&state.db, id)
        .await
        .map_err(db)?
        .ok_or_else(|| LbError::not_found("Amphora", id))
}

async fn list(
    State(state): State<LbState>,
    caller: Caller,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, Fault> {
    enforce(&state, &caller, "get_all")?;
    let pairs = ops::pairs(raw);
    let query = ops::list_query(&state, &pairs, &COLLECTION)?;
    let items: Vec<Value> = amphorae::list(&state.db, None)
        .await
        .map_err(db)?
        .iter()
        .map(render::amphora)
        .collect();
    Ok(ops::list_response(
        &headers,
        "/v2/octavia/amphorae",
        "amphorae",
        &query,
        items,
    )?)
}

async fn show(
    State(state): State<LbState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Fault> {
    let amp = found(&state, &id).await?;
    enforce(&state, &caller, "get_one")?;
    let fields = listing::fields(&ops::pairs(raw));
    let body = listing::select_fields(render::amphora(&amp), fields.as_deref());
    Ok(json_response(StatusCode::OK, json!({ "amphora": body })))
}

async fn amphora_stats(
    State(state): State<LbState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, Fault> {
    enforce(&state, &caller, "get_stats")?;
    let rows = stats::for_amphora(&state.db, &id).await.map_err(db)?;
    if rows.is_empty() {
        return Err(LbError::amphora_stats_not_found(&id).into());
    }
    let items: Vec<Value> = rows
        .into_iter()
        .map(|(listener_id, lb_id, s)| {
            json!({
                "id": id,
                "loadbalancer_id": lb_id,
                "listener_id": listener_id,
                "active_connections": s.active_connections,
                "bytes_in": s.bytes_in,
                "bytes_out": s.bytes_out,
                "request_errors": s.request_errors,
                "total_connections": s.total_connections,
            })
        })
        .collect();
    Ok(json_response(
        StatusCode::OK,
        json!({ "amphora_stats": items }),
    ))
}

/// `DELETE`: only an amphora in ERROR (upstream's
/// `test_and_set_status_for_delete`); it goes PENDING_DELETE and a flow
/// removes it.
async fn delete(
    State(state): State<LbState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, Fault> {
    enforce(&state, &caller, "delete")?;
    let mut tx = state.db.begin().await.map_err(db)?;
    let mut amp = amphorae::get_tx(&mut tx, &id)
        .await
        .map_err(db)?
        .ok_or_else(|| LbError::not_found("Amphora", &id))?;
    if amp.status != AmphoraStatus::Error {
        return Err(LbError::immutable("amphora", &id).into());
    }
    amp.status = AmphoraStatus::PendingDelete;
    amp.updated_at = Some(neutrino_store::lb::now());
    amphorae::update(&mut tx, &amp).await.map_err(db)?;
    let _held = ops::submit(&state, tx, &Plan::amphora_spec(kind::AMP_DELETE, &id)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `PUT .../config`: pushes the agent configuration again (202).
async fn config(
    State(state): State<LbState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, Fault> {
    let amp = found(&state, &id).await?;
    let owner = owner_project(&state, &amp).await?;
    state
        .policy()
        .enforce("amphora:put_config", &caller, &owner)?;
    let tx = state.db.begin().await.map_err(db)?;
    let _held = ops::submit(&state, tx, &Plan::amphora_spec(kind::AMP_CONFIG, &id)).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

/// The project of an amphora's load balancer (policy target upstream).
async fn owner_project(state: &LbState, amp: &Amphora) -> Result<String, LbError> {
    let Some(lb_id) = amp.load_balancer_id.as_deref() else {
        return Err(LbError::not_found("Amphora", &amp.id));
    };
    let lb = neutrino_store::lb::load_balancers::get(&state.db, lb_id)
        .await
        .map_err(db)?
        .ok_or_else(|| LbError::not_found("Amphora", &amp.id))?;
    Ok(lb.project_id)
}

/// `PUT .../failover`: replaces this amphora by a new one of the same
/// role; its load balancer is PENDING_UPDATE meanwhile (202).
async fn failover(
    State(state): State<LbState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, Fault> {
    let amp = found(&state, &id).await?;
    let owner = owner_project(&state, &amp).await?;
    state
        .policy()
        .enforce("amphora:put_failover", &caller, &owner)?;
    let lb_id = amp.load_balancer_id.clone().unwrap_or_default();
    let mut tx = state.db.begin().await.map_err(db)?;
    ops::hold_lb(&mut tx, &lb_id, Operation::Failover, Role::Own).await?;
    let plan = Plan {
        // The load balancer is back to ACTIVE when the new amphora serves
        // (ERROR if it could not be built).
        touched: vec![Touched::own(
            Object::LoadBalancer,
            &lb_id,
            Operation::Failover,
        )],
        amphorae: vec![NewAmphora {
            id: uuid::Uuid::new_v4().to_string(),
            role: amp
                .role
                .unwrap_or(neutrino_lb_types::enums::AmphoraRole::Standalone),
            vrrp_priority: amp.vrrp_priority,
        }],
        retire: vec![id],
        zone: amp.cached_zone.clone(),
    };
    let _held = ops::submit(&state, tx, &plan.into_spec(kind::LB_FAILOVER, &lb_id)).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}
