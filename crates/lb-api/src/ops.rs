//! What every resource handler shares: decoding bodies, scoping lists to
//! what the caller may read, the load balancer's compare-and-set, and
//! committing a change with the flow that settles it (design §3.3, D3).

use axum::http::HeaderMap;
use axum::response::Response;
use neutrino_lb_types::LbError;
use neutrino_lb_types::enums::ProvisioningStatus;
use neutrino_lb_types::state::{self, Operation, Role};
use neutrino_lbaas::engine::{EngineError, FlowSpec};
use neutrino_store::lb::load_balancers;
use neutrino_store::{StoreError, Tx, lb_flows};
use serde_json::Value;

use crate::auth::Caller;
use crate::fault::json_response;
use crate::listing::{Collection, ListQuery};
use crate::{LbState, listing, versions};

/// A storage failure as the client sees it: a conflict with a concurrent
/// request is a 409 worth retrying; anything else a 500 whose details go
/// to the log only.
pub fn db(e: StoreError) -> LbError {
    if e.is_conflict() {
        tracing::info!(error = ?e, "conflict with a concurrent request");
        return LbError::new(
            409,
            "Conflict",
            "A concurrent request changed the objects this request depends on; retry the request.",
        );
    }
    tracing::error!(error = ?e, "storage failure");
    LbError::new(500, "InternalError", "Internal Server Error")
}

fn engine(e: EngineError) -> LbError {
    match e {
        EngineError::Store(e) => db(e),
        other => {
            tracing::error!(error = %other, "flow could not be started");
            LbError::new(500, "InternalError", "Internal Server Error")
        }
    }
}

/// The query string as key/value pairs, in order.
pub fn pairs(raw: Option<String>) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

/// A request body as JSON. Strings with NUL bytes are refused here, once
/// for every resource (nothing of the kind is ever stored).
pub fn json_body(bytes: &[u8]) -> Result<Value, LbError> {
    let v: Value = serde_json::from_slice(bytes).map_err(|_| LbError::not_json())?;
    if let Some(path) = neutrino_types::input::find_nul(&v) {
        return Err(LbError::invalid_input(
            &path.join("."),
            "<redacted>",
            "NUL characters are not allowed",
        ));
    }
    Ok(v)
}

/// The caller's own project (policy refuses tokens without one).
pub fn own_project(caller: &Caller) -> Result<String, LbError> {
    caller
        .project_id()
        .map(str::to_string)
        .ok_or_else(LbError::policy_forbidden)
}

/// Whose objects a collection GET shows (upstream's `_auth_get_all`):
/// global readers see every project, or the one `project_id` names;
/// everybody else their own project (or the named one, if policy lets
/// them read it). `None`: every project.
pub fn list_scope(
    state: &LbState,
    caller: &Caller,
    object: &str,
    query: &ListQuery,
) -> Result<Option<String>, LbError> {
    let policy = state.policy();
    let named = query.project_id.clone();
    let global = policy.allows(
        &format!("{object}:get_all-global"),
        caller,
        named.as_deref().unwrap_or(""),
    );
    if global {
        return Ok(named);
    }
    let project = match named {
        Some(p) => p,
        None => own_project(caller)?,
    };
    policy.enforce(&format!("{object}:get_all"), caller, &project)?;
    Ok(Some(project))
}

/// Parses a collection query, filters, sorts and pages `items` (rendered
/// objects) and answers `{plural: [...], plural_links: [...]}`.
pub fn list_response(
    headers: &HeaderMap,
    path: &str,
    plural: &str,
    query: &ListQuery,
    items: Vec<Value>,
) -> Result<Response, LbError> {
    let url = format!("{}{path}", versions::base_url(headers));
    let page = query.page(items, &url)?;
    Ok(json_response(
        axum::http::StatusCode::OK,
        listing::body(plural, &format!("{plural}_links"), page),
    ))
}

/// Parses the listing query of a collection.
pub fn list_query(
    state: &LbState,
    pairs: &[(String, String)],
    collection: &Collection,
) -> Result<ListQuery, LbError> {
    ListQuery::parse(pairs, collection, state.config.pagination_max_limit)
}

/// The compare-and-set of §3.3 on load balancer `lb_id`: moves it to the
/// status `op` in `role` takes, or answers the 409 upstream gives (or
/// 404 when it is gone). Must be the transaction's first write on the
/// load balancer's tree.
pub async fn hold_lb(tx: &mut Tx, lb_id: &str, op: Operation, role: Role) -> Result<(), LbError> {
    let to = state::pending(op, role);
    let accepts = state::cas_accepts(op, role);
    // On PostgreSQL (READ COMMITTED) the status read after a lost set is
    // a newer snapshot than the set's: a flow may have settled the load
    // balancer in between. Then the set is tried again, so the 409 always
    // names a status that really refused it.
    for _ in 0..3 {
        if load_balancers::cas(tx, lb_id, accepts, to)
            .await
            .map_err(db)?
        {
            return Ok(());
        }
        match load_balancers::provisioning_status_tx(tx, lb_id)
            .await
            .map_err(db)?
        {
            Some(current) if accepts.contains(&current) => continue,
            Some(current) => return Err(state::cas_conflict(role, lb_id, current)),
            None => return Err(LbError::not_found("Load Balancer", lb_id)),
        }
    }
    Err(state::cas_conflict(role, lb_id, to))
}

/// Moves objects a change passes through (a pool's listeners, a member's
/// pool, ...) to PENDING_UPDATE, in the request's transaction.
pub async fn hold(
    tx: &mut Tx,
    object: neutrino_store::lb::Object,
    ids: &[&str],
) -> Result<(), LbError> {
    neutrino_store::lb::set_provisioning_status(tx, object, ids, ProvisioningStatus::PendingUpdate)
        .await
        .map_err(db)?;
    Ok(())
}

/// Inserts the flow that settles this change, commits, and wakes the
/// worker once the returned [`Held`] is dropped: keep it until the answer
/// is built (`let _held = ops::submit(...)`), so the answer shows what
/// this request wrote (PENDING_*), not what a fast worker made of it.
pub async fn submit(state: &LbState, mut tx: Tx, spec: &FlowSpec) -> Result<Held, LbError> {
    let flow_id = state
        .controller
        .submit(&mut tx, spec)
        .await
        .map_err(engine)?;
    let holder = format!("request/{}", uuid::Uuid::new_v4().simple());
    let until = chrono::Utc::now().timestamp_millis() + REQUEST_HOLD_MS;
    lb_flows::hold(&mut tx, &flow_id, &holder, until)
        .await
        .map_err(db)?;
    tx.commit().await.map_err(db)?;
    Ok(Held {
        state: state.clone(),
        flow_id,
        holder,
    })
}

/// How long a request may hold its new flow before any worker takes it
/// anyway (a server that died mid-answer).
const REQUEST_HOLD_MS: i64 = 5_000;

/// A flow its request still holds; dropping it hands the flow to the
/// workers and wakes this server's.
#[must_use = "the flow waits until this is dropped (or its hold expires)"]
pub struct Held {
    state: LbState,
    flow_id: String,
    holder: String,
}

impl Drop for Held {
    fn drop(&mut self) {
        let state = self.state.clone();
        let flow_id = std::mem::take(&mut self.flow_id);
        let holder = std::mem::take(&mut self.holder);
        tokio::spawn(async move {
            if let Err(e) = lb_flows::release(&state.db, &flow_id, &holder, 0).await {
                // The hold expires on its own; the flow only starts later.
                tracing::warn!(flow = %flow_id, error = %e, "handing a new flow to the workers failed");
            }
            state.controller.wake();
        });
    }
}
