//! Flavors — `/v2/lbaas/flavors[/{id}]` (design §2.14; octavia 19
//! `controllers/flavors.py`). Readers list and show; admins write.
//!
//! Deviations, each where upstream answers 500: an unknown
//! `flavor_profile_id` is 400 `{id} is not a valid option for
//! flavor_profile_id`; a PUT to a name already taken is 409
//! RecordAlreadyExists; a PUT of `name` or `enabled` null is 400 `None is
//! not a valid option for {attr}`; a POST of `enabled` null is true.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use neutrino_lb_types::consts::NIL_UUID;
use neutrino_lb_types::model::Flavor;
use neutrino_lb_types::request::admin::{FlavorCreate, FlavorUpdate};
use neutrino_lb_types::{LbError, Patch, render, resource};
use neutrino_store::StoreError;
use neutrino_store::lb::flavors as store;

use crate::auth::Caller;
use crate::common::{self, ALLOW};
use crate::fault::{Fault, only};
use crate::listing::{self, Collection, ListQuery};
use crate::{LbState, ops};

const COLLECTION: Collection = Collection {
    attributes: &["id", "name", "description", "enabled", "flavor_profile_id"],
    booleans: &["enabled"],
    tagged: false,
};

pub fn routes(prefix: &str) -> Router<LbState> {
    let base = format!("{prefix}/lbaas/flavors");
    let collection = || {
        only(
            get(list)
                .post(create)
                .put(|| async { Fault(LbError::missing_argument("id")) })
                .delete(|| async { Fault(LbError::missing_argument("flavor_id")) }),
            ALLOW,
        )
    };
    Router::new()
        .route(&base, collection())
        .route(&format!("{base}/"), collection())
        .route(
            &format!("{base}/{{id}}"),
            only(get(show).put(update).delete(delete), ALLOW),
        )
}

/// A name already taken (the unique index on `lb_flavors.name`).
fn unique(name: &str) -> impl FnOnce(StoreError) -> LbError + '_ {
    move |e| {
        if e.is_unique_violation() {
            LbError::record_already_exists("flavor", name)
        } else {
            ops::db(e)
        }
    }
}

async fn list(
    State(state): State<LbState>,
    caller: Caller,
    headers: HeaderMap,
    uri: Uri,
    RawQuery(raw): RawQuery,
) -> Result<Response, Fault> {
    common::enforce(&state, &caller, "flavor:get_all")?;
    let query = ListQuery::parse(
        &ops::pairs(raw),
        &COLLECTION,
        state.config.pagination_max_limit,
    )?;
    let items = store::list_flavors(&state.db)
        .await
        .map_err(ops::db)?
        .iter()
        .filter(|f| f.id != NIL_UUID)
        .map(render::flavor)
        .collect();
    Ok(common::page(
        &headers,
        &uri,
        &query,
        items,
        ("flavors", "flavors_links"),
        None,
    )?)
}

async fn show(
    State(state): State<LbState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Fault> {
    common::enforce(&state, &caller, "flavor:get_one")?;
    if id == NIL_UUID {
        return Err(LbError::not_found(resource::FLAVOR, &id).into());
    }
    let f = store::get_flavor(&state.db, &id)
        .await
        .map_err(ops::db)?
        .ok_or_else(|| LbError::not_found(resource::FLAVOR, &id))?;
    let fields = listing::fields(&ops::pairs(raw));
    let object = listing::select_fields(render::flavor(&f), fields.as_deref());
    Ok(common::one(StatusCode::OK, "flavor", object))
}

async fn create(
    State(state): State<LbState>,
    caller: Caller,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, Fault> {
    let body = common::body(&headers, &bytes, "flavor_")?;
    let req = FlavorCreate::parse(&body)?;
    common::enforce(&state, &caller, "flavor:post")?;
    let mut tx = state.db.begin().await.map_err(ops::db)?;
    // Queued behind (and ahead of) the profile's own writers, so its
    // in-use check sees this flavor.
    common::serialise(&mut tx, "lb_flavor_profiles", &req.flavor_profile_id)
        .await
        .map_err(ops::db)?;
    if store::get_flavor_profile_tx(&mut tx, &req.flavor_profile_id)
        .await
        .map_err(ops::db)?
        .is_none()
    {
        return Err(LbError::invalid_option(&req.flavor_profile_id, "flavor_profile_id").into());
    }
    let f = Flavor {
        id: uuid::Uuid::new_v4().to_string(),
        name: req.name,
        description: req.description,
        enabled: req.enabled,
        flavor_profile_id: req.flavor_profile_id,
    };
    store::insert_flavor(&mut tx, &f)
        .await
        .map_err(unique(&f.name))?;
    tx.commit().await.map_err(ops::db)?;
    Ok(common::one(
        StatusCode::CREATED,
        "flavor",
        render::flavor(&f),
    ))
}

async fn update(
    State(state): State<LbState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, Fault> {
    let body = common::body(&headers, &bytes, "flavor_")?;
    let req = FlavorUpdate::parse(&body)?;
    common::enforce(&state, &caller, "flavor:put")?;
    if id == NIL_UUID {
        return Err(LbError::not_found(resource::FLAVOR, &id).into());
    }
    if matches!(req.name, Patch::Null) {
        return Err(LbError::invalid_option("None", "name").into());
    }
    if matches!(req.enabled, Patch::Null) {
        return Err(LbError::invalid_option("None", "enabled").into());
    }
    let mut tx = state.db.begin().await.map_err(ops::db)?;
    common::serialise(&mut tx, "lb_flavors", &id)
        .await
        .map_err(ops::db)?;
    let mut f = store::get_flavor_tx(&mut tx, &id)
        .await
        .map_err(ops::db)?
        .ok_or_else(|| LbError::not_found(resource::FLAVOR, &id))?;
    if let Patch::Value(v) = req.name {
        f.name = v;
    }
    f.description = req.description.apply(f.description);
    if let Patch::Value(v) = req.enabled {
        f.enabled = v;
    }
    store::update_flavor(&mut tx, &f)
        .await
        .map_err(unique(&f.name))?;
    tx.commit().await.map_err(ops::db)?;
    Ok(common::one(StatusCode::OK, "flavor", render::flavor(&f)))
}

async fn delete(
    State(state): State<LbState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, Fault> {
    common::enforce(&state, &caller, "flavor:delete")?;
    if id == NIL_UUID {
        return Err(LbError::not_found(resource::FLAVOR, &id).into());
    }
    let in_use = || LbError::object_in_use(resource::FLAVOR, &id);
    let mut tx = state.db.begin().await.map_err(ops::db)?;
    common::serialise(&mut tx, "lb_flavors", &id)
        .await
        .map_err(ops::db)?;
    if store::get_flavor_tx(&mut tx, &id)
        .await
        .map_err(ops::db)?
        .is_none()
    {
        return Err(LbError::not_found(resource::FLAVOR, &id).into());
    }
    if store::flavor_in_use_tx(&mut tx, &id)
        .await
        .map_err(ops::db)?
    {
        return Err(in_use().into());
    }
    // A load balancer created meanwhile holds the row: the foreign key
    // refuses, which upstream answers as in use too.
    store::delete_flavor(&mut tx, &id).await.map_err(|e| {
        if e.is_conflict() {
            in_use()
        } else {
            ops::db(e)
        }
    })?;
    tx.commit().await.map_err(ops::db)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
