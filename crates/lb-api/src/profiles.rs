//! Flavor profiles — `/v2/lbaas/flavorprofiles[/{id}]` — and
//! availability-zone profiles — `/v2/lbaas/availabilityzoneprofiles[/{id}]`
//! (design §2.14; octavia 19 `controllers/flavor_profiles.py`,
//! `availability_zone_profiles.py`). Admin only. The two controllers are
//! one shape with different names, and so is this module: a [`Spec`]
//! per kind.
//!
//! Deviation: a PUT that names a provider must name an enabled one even
//! without new data (upstream stores any name then).

mod data;
mod records;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use neutrino_lb_types::consts::NIL_UUID;
use neutrino_lb_types::request::admin::{ProfileCreate, ProfileKind, ProfileUpdate, profile_data};
use neutrino_lb_types::{LbError, Patch, resource};

use crate::auth::Caller;
use crate::common::{self, ALLOW};
use crate::fault::{Fault, only};
use crate::listing::{self, Collection, ListQuery};
use crate::{LbState, ops};
use records::Profile;

/// The names one kind of profile goes by.
pub struct Spec {
    kind: ProfileKind,
    /// The path segment under `/lbaas/`.
    path: &'static str,
    /// The policy object (`flavor-profile:get_all`, ...).
    rbac: &'static str,
    single: &'static str,
    plural: &'static str,
    links: &'static str,
    /// The body's WSME argument and the DELETE's id parameter.
    argname: &'static str,
    delete_arg: &'static str,
    /// The data attribute, and what upstream's PUT calls it when it is
    /// not JSON (the AZ controller says `flavor_data`).
    data: &'static str,
    put_data_option: &'static str,
    /// The controllers' literal resource name, and the model's (missing
    /// object found by a lookup).
    literal: &'static str,
    model: &'static str,
    schema: &'static [data::Property],
    collection: Collection,
}

static FLAVOR_PROFILES: Spec = Spec {
    kind: ProfileKind::Flavor,
    path: "flavorprofiles",
    rbac: "flavor-profile",
    single: "flavorprofile",
    plural: "flavorprofiles",
    links: "flavorprofile_links",
    argname: "flavor_profile_",
    delete_arg: "flavor_profile_id",
    data: "flavor_data",
    put_data_option: "flavor_data",
    literal: resource::FLAVOR_PROFILE,
    model: resource::FLAVOR_PROFILE_MODEL,
    schema: data::FLAVOR,
    collection: Collection {
        attributes: &["id", "name", "provider_name", "flavor_data"],
        booleans: &[],
        tagged: false,
    },
};

static AZ_PROFILES: Spec = Spec {
    kind: ProfileKind::AvailabilityZone,
    path: "availabilityzoneprofiles",
    rbac: "availability-zone-profile",
    single: "availability_zone_profile",
    plural: "availability_zone_profiles",
    links: "availability_zone_profile_links",
    argname: "availability_zone_profile_",
    delete_arg: "availability_zone_profile_id",
    data: "availability_zone_data",
    put_data_option: "flavor_data",
    literal: resource::AVAILABILITY_ZONE_PROFILE,
    model: resource::AVAILABILITY_ZONE_PROFILE,
    schema: data::AVAILABILITY_ZONE,
    collection: Collection {
        attributes: &["id", "name", "provider_name", "availability_zone_data"],
        booleans: &[],
        tagged: false,
    },
};

pub fn routes(prefix: &str) -> Router<LbState> {
    Router::new()
        .merge(spec_routes(prefix, &FLAVOR_PROFILES))
        .merge(spec_routes(prefix, &AZ_PROFILES))
}

fn spec_routes(prefix: &str, s: &'static Spec) -> Router<LbState> {
    let base = format!("{prefix}/lbaas/{}", s.path);
    let collection = || {
        only(
            get(
                move |State(st): State<LbState>, c: Caller, h: HeaderMap, u: Uri, RawQuery(q)| {
                    list(s, st, c, h, u, q)
                },
            )
            .post(
                move |State(st): State<LbState>, c: Caller, h: HeaderMap, b: Bytes| {
                    create(s, st, c, h, b)
                },
            )
            // Upstream's PUT and DELETE want the id as a parameter.
            .put(|| async { Fault(LbError::missing_argument("id")) })
            .delete(move || async move { Fault(LbError::missing_argument(s.delete_arg)) }),
            ALLOW,
        )
    };
    Router::new()
        .route(&base, collection())
        .route(&format!("{base}/"), collection())
        .route(
            &format!("{base}/{{id}}"),
            only(
                get(
                    move |State(st): State<LbState>,
                          c: Caller,
                          Path(id): Path<String>,
                          RawQuery(q)| { show(s, st, c, id, q) },
                )
                .put(
                    move |State(st): State<LbState>,
                          c: Caller,
                          Path(id): Path<String>,
                          h: HeaderMap,
                          b: Bytes| update(s, st, c, id, h, b),
                )
                .delete(
                    move |State(st): State<LbState>, c: Caller, Path(id): Path<String>| {
                        delete(s, st, c, id)
                    },
                ),
                ALLOW,
            ),
        )
}

fn action(s: &Spec, verb: &str) -> String {
    format!("{}:{verb}", s.rbac)
}

async fn list(
    s: &'static Spec,
    state: LbState,
    caller: Caller,
    headers: HeaderMap,
    uri: Uri,
    raw: Option<String>,
) -> Result<Response, Fault> {
    common::enforce(&state, &caller, &action(s, "get_all"))?;
    let pairs = ops::pairs(raw);
    let query = ListQuery::parse(&pairs, &s.collection, state.config.pagination_max_limit)?;
    let items = records::list(&state.db, s.kind)
        .await
        .map_err(ops::db)?
        .iter()
        .filter(|p| p.id != NIL_UUID)
        .map(|p| p.render(s.kind))
        .collect();
    Ok(common::page(
        &headers,
        &uri,
        &query,
        items,
        (s.plural, s.links),
        None,
    )?)
}

async fn show(
    s: &'static Spec,
    state: LbState,
    caller: Caller,
    id: String,
    raw: Option<String>,
) -> Result<Response, Fault> {
    common::enforce(&state, &caller, &action(s, "get_one"))?;
    if id == NIL_UUID {
        return Err(LbError::not_found(s.literal, &id).into());
    }
    let p = records::get(&state.db, s.kind, &id)
        .await
        .map_err(ops::db)?
        .ok_or_else(|| LbError::not_found(s.model, &id))?;
    let fields = listing::fields(&ops::pairs(raw));
    let object = listing::select_fields(p.render(s.kind), fields.as_deref());
    Ok(common::one(StatusCode::OK, s.single, object))
}

async fn create(
    s: &'static Spec,
    state: LbState,
    caller: Caller,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, Fault> {
    let body = common::body(&headers, &bytes, s.argname)?;
    let req = ProfileCreate::parse(&body, s.kind)?;
    common::enforce(&state, &caller, &action(s, "post"))?;
    let doc = profile_data(&req.data, s.data)?;
    data::validate(&req.provider_name, s.schema, &doc)?;
    let p = Profile {
        id: uuid::Uuid::new_v4().to_string(),
        name: req.name,
        provider_name: req.provider_name,
        data: req.data,
    };
    let mut tx = state.db.begin().await.map_err(ops::db)?;
    records::insert(&mut tx, s.kind, &p)
        .await
        .map_err(ops::db)?;
    tx.commit().await.map_err(ops::db)?;
    Ok(common::one(StatusCode::CREATED, s.single, p.render(s.kind)))
}

/// Upstream's order: nulls, then in use (data or provider changing), the
/// nil id, the data's JSON, the provider's verdict, then the lookup.
async fn update(
    s: &'static Spec,
    state: LbState,
    caller: Caller,
    id: String,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, Fault> {
    let body = common::body(&headers, &bytes, s.argname)?;
    let req = ProfileUpdate::parse(&body, s.kind)?;
    common::enforce(&state, &caller, &action(s, "put"))?;
    for (field, patch) in [
        ("name", &req.name),
        ("provider_name", &req.provider_name),
        (s.data, &req.data),
    ] {
        if matches!(patch, Patch::Null) {
            return Err(LbError::invalid_option("None", field).into());
        }
    }
    let mut tx = state.db.begin().await.map_err(ops::db)?;
    common::serialise(&mut tx, records::table(s.kind), &id)
        .await
        .map_err(ops::db)?;
    if (req.data.is_set() || req.provider_name.is_set())
        && records::in_use(&mut tx, s.kind, &id)
            .await
            .map_err(ops::db)?
    {
        return Err(LbError::object_in_use(s.literal, &id).into());
    }
    if id == NIL_UUID {
        return Err(LbError::not_found(s.literal, &id).into());
    }
    let stored = records::get_tx(&mut tx, s.kind, &id)
        .await
        .map_err(ops::db)?;
    let missing = || LbError::not_found(s.model, &id);
    match (&req.data, &req.provider_name) {
        (Patch::Value(d), provider) => {
            let doc = profile_data(d, s.put_data_option)?;
            let provider = match provider {
                Patch::Value(p) => p.clone(),
                _ => stored.as_ref().ok_or_else(missing)?.provider_name.clone(),
            };
            data::validate(&provider, s.schema, &doc)?;
        }
        // Every enabled provider reads the amphora schema the stored
        // data already passed: the new name only has to be enabled.
        (_, Patch::Value(p)) => {
            data::driver(p)?;
        }
        _ => {}
    }
    let mut p = stored.ok_or_else(missing)?;
    if let Patch::Value(v) = req.name {
        p.name = v;
    }
    if let Patch::Value(v) = req.provider_name {
        p.provider_name = v;
    }
    if let Patch::Value(v) = req.data {
        p.data = v;
    }
    records::update(&mut tx, s.kind, &p)
        .await
        .map_err(ops::db)?;
    tx.commit().await.map_err(ops::db)?;
    Ok(common::one(StatusCode::OK, s.single, p.render(s.kind)))
}

async fn delete(
    s: &'static Spec,
    state: LbState,
    caller: Caller,
    id: String,
) -> Result<Response, Fault> {
    common::enforce(&state, &caller, &action(s, "delete"))?;
    if id == NIL_UUID {
        return Err(LbError::not_found(s.literal, &id).into());
    }
    let mut tx = state.db.begin().await.map_err(ops::db)?;
    common::serialise(&mut tx, records::table(s.kind), &id)
        .await
        .map_err(ops::db)?;
    if records::in_use(&mut tx, s.kind, &id)
        .await
        .map_err(ops::db)?
    {
        return Err(LbError::object_in_use(s.literal, &id).into());
    }
    if !records::delete(&mut tx, s.kind, &id)
        .await
        .map_err(ops::db)?
    {
        return Err(LbError::not_found(s.literal, &id).into());
    }
    tx.commit().await.map_err(ops::db)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
