//! Availability zones — `/v2/lbaas/availabilityzones[/{name}]`, keyed by
//! name (design §2.14; octavia 19 `controllers/availability_zones.py`).
//! Readers list and show; admins write; PUT changes only `description`
//! and `enabled`.
//!
//! Deviations, each where upstream answers 500 (or pages by `None`): an
//! unknown `availability_zone_profile_id` is 400 `{id} is not a valid
//! option for availability_zone_profile_id`; a PUT of `enabled` null is
//! 400 `None is not a valid option for enabled`; a POST of `enabled` null
//! is true; `marker` is a zone's name.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use neutrino_lb_types::consts::NIL_UUID;
use neutrino_lb_types::model::AvailabilityZone;
use neutrino_lb_types::request::admin::{AvailabilityZoneCreate, AvailabilityZoneUpdate};
use neutrino_lb_types::{LbError, Patch, render, resource};
use neutrino_store::lb::flavors as store;

use crate::auth::Caller;
use crate::common::{self, ALLOW};
use crate::fault::{Fault, only};
use crate::listing::{self, Collection, ListQuery};
use crate::{LbState, ops};

const COLLECTION: Collection = Collection {
    attributes: &[
        "name",
        "description",
        "enabled",
        "availability_zone_profile_id",
    ],
    booleans: &["enabled"],
    tagged: false,
};

const AZ: &str = resource::AVAILABILITY_ZONE;

pub fn routes(prefix: &str) -> Router<LbState> {
    let base = format!("{prefix}/lbaas/availabilityzones");
    let collection = || {
        only(
            get(list)
                .post(create)
                .put(|| async { Fault(LbError::missing_argument("name")) })
                .delete(|| async { Fault(LbError::missing_argument("availability_zone_name")) }),
            ALLOW,
        )
    };
    Router::new()
        .route(&base, collection())
        .route(&format!("{base}/"), collection())
        .route(
            &format!("{base}/{{name}}"),
            only(get(show).put(update).delete(delete), ALLOW),
        )
}

async fn list(
    State(state): State<LbState>,
    caller: Caller,
    headers: HeaderMap,
    uri: Uri,
    RawQuery(raw): RawQuery,
) -> Result<Response, Fault> {
    common::enforce(&state, &caller, "availability-zone:get_all")?;
    let query = ListQuery::parse(
        &ops::pairs(raw),
        &COLLECTION,
        state.config.pagination_max_limit,
    )?;
    // By name (the store's order): zones have no id to sort on last.
    let items = store::list_azs(&state.db)
        .await
        .map_err(ops::db)?
        .iter()
        .filter(|a| a.name != NIL_UUID)
        .map(render::availability_zone)
        .collect();
    Ok(common::page(
        &headers,
        &uri,
        &query,
        items,
        ("availability_zones", "availability_zones_links"),
        Some("name"),
    )?)
}

async fn show(
    State(state): State<LbState>,
    caller: Caller,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Fault> {
    common::enforce(&state, &caller, "availability-zone:get_one")?;
    if name == NIL_UUID {
        return Err(LbError::not_found(AZ, &name).into());
    }
    let az = store::get_az(&state.db, &name)
        .await
        .map_err(ops::db)?
        .ok_or_else(|| LbError::not_found(AZ, &name))?;
    let fields = listing::fields(&ops::pairs(raw));
    let object = listing::select_fields(render::availability_zone(&az), fields.as_deref());
    Ok(common::one(StatusCode::OK, "availability_zone", object))
}

async fn create(
    State(state): State<LbState>,
    caller: Caller,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, Fault> {
    let body = common::body(&headers, &bytes, "availability_zone_")?;
    let req = AvailabilityZoneCreate::parse(&body)?;
    common::enforce(&state, &caller, "availability-zone:post")?;
    let profile = req.availability_zone_profile_id;
    let mut tx = state.db.begin().await.map_err(ops::db)?;
    common::serialise(&mut tx, "lb_az_profiles", &profile)
        .await
        .map_err(ops::db)?;
    if store::get_az_profile_tx(&mut tx, &profile)
        .await
        .map_err(ops::db)?
        .is_none()
    {
        return Err(LbError::invalid_option(&profile, "availability_zone_profile_id").into());
    }
    let az = AvailabilityZone {
        name: req.name,
        description: req.description,
        enabled: req.enabled,
        availability_zone_profile_id: profile,
    };
    store::insert_az(&mut tx, &az).await.map_err(|e| {
        if e.is_unique_violation() {
            LbError::record_already_exists("availability zone", &az.name)
        } else {
            ops::db(e)
        }
    })?;
    tx.commit().await.map_err(ops::db)?;
    Ok(common::one(
        StatusCode::CREATED,
        "availability_zone",
        render::availability_zone(&az),
    ))
}

async fn update(
    State(state): State<LbState>,
    caller: Caller,
    Path(name): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, Fault> {
    let body = common::body(&headers, &bytes, "availability_zone_")?;
    let req = AvailabilityZoneUpdate::parse(&body)?;
    common::enforce(&state, &caller, "availability-zone:put")?;
    if name == NIL_UUID {
        return Err(LbError::not_found(AZ, &name).into());
    }
    if matches!(req.enabled, Patch::Null) {
        return Err(LbError::invalid_option("None", "enabled").into());
    }
    let mut tx = state.db.begin().await.map_err(ops::db)?;
    common::serialise(&mut tx, "lb_availability_zones", &name)
        .await
        .map_err(ops::db)?;
    let mut az = store::get_az_tx(&mut tx, &name)
        .await
        .map_err(ops::db)?
        .ok_or_else(|| LbError::not_found(AZ, &name))?;
    az.description = req.description.apply(az.description);
    if let Patch::Value(v) = req.enabled {
        az.enabled = v;
    }
    store::update_az(&mut tx, &az).await.map_err(ops::db)?;
    tx.commit().await.map_err(ops::db)?;
    Ok(common::one(
        StatusCode::OK,
        "availability_zone",
        render::availability_zone(&az),
    ))
}

async fn delete(
    State(state): State<LbState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, Fault> {
    common::enforce(&state, &caller, "availability-zone:delete")?;
    if name == NIL_UUID {
        return Err(LbError::not_found(AZ, &name).into());
    }
    let in_use = || LbError::object_in_use(AZ, &name);
    let mut tx = state.db.begin().await.map_err(ops::db)?;
    common::serialise(&mut tx, "lb_availability_zones", &name)
        .await
        .map_err(ops::db)?;
    if store::get_az_tx(&mut tx, &name)
        .await
        .map_err(ops::db)?
        .is_none()
    {
        return Err(LbError::not_found(AZ, &name).into());
    }
    if store::az_in_use_tx(&mut tx, &name).await.map_err(ops::db)? {
        return Err(in_use().into());
    }
    store::delete_az(&mut tx, &name).await.map_err(|e| {
        if e.is_conflict() {
            in_use()
        } else {
            ops::db(e)
        }
    })?;
    tx.commit().await.map_err(ops::db)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
