//! `/v1/containers` (barbican `api/controllers/containers.py`): create
//! (generic, certificate, rsa, with upstream's rules for the secret names
//! of each type), list, show, delete.

use std::collections::HashSet;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use neutrino_store::key_manager::acl::Entity;
use neutrino_store::key_manager::{self as store, Container, ContainerSecret};
use serde_json::{Map, Value, json};

use crate::auth::Caller;
use crate::body::{self, MAX_REQUEST_BYTES, check_schema, invalid_object, parse_json};
use crate::fault::{Fault, json_response};
use crate::listing::{self, Query};
use crate::policy::{Action, enforce};
use crate::secrets::{is_uuid4, require_content_type};
use crate::{KmState, acls, timefmt};

pub fn routes(prefix: &str) -> Router<KmState> {
    Router::new()
        .route(&format!("{prefix}/v1/containers"), any(collection))
        .route(&format!("{prefix}/v1/containers/"), any(collection))
        .route(&format!("{prefix}/v1/containers/{{id}}"), any(item))
        .route(&format!("{prefix}/v1/containers/{{id}}/"), any(item))
        .route(
            &format!("{prefix}/v1/containers/{{id}}/{{*rest}}"),
            any(sub_resource),
        )
}

const SCHEMA: &str = "Container";

/// `ContainerValidator`'s schema.
fn schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "name": {"type": ["string", "null"], "maxLength": 255},
            "type": {"type": "string", "enum": ["generic", "rsa", "certificate"]},
            "secret_refs": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["secret_ref"],
                    "properties": {
                        "name": {"type": ["string", "null"], "maxLength": 255},
                        "secret_ref": {"type": "string", "minLength": 1},
                    },
                },
            },
        },
        "required": ["type"],
    })
}

/// The secret id at the end of a ref (`.../secrets/<id>`, a trailing
/// slash allowed, or a bare id), as upstream cuts it.
pub fn secret_id_from_ref(r: &str) -> String {
    if let Some(trimmed) = r.strip_suffix('/') {
        trimmed.rsplit('/').next().unwrap_or_default().to_string()
    } else {
        r.rsplit('/').next().unwrap_or_default().to_string()
    }
}

fn render(state: &KmState, c: &Container) -> Value {
    let refs: Vec<Value> = c
        .secrets
        .iter()
        .map(|s| {
            json!({"name": s.name,
                "secret_ref": state.config.href(&format!("secrets/{}", s.secret_id))})
        })
        .collect();
    let mut m = Map::new();
    m.insert("created".into(), json!(timefmt::render(&c.created_at)));
    m.insert("updated".into(), json!(timefmt::render(&c.updated_at)));
    m.insert("status".into(), json!(c.status));
    m.insert("name".into(), json!(c.name));
    m.insert("type".into(), json!(c.container_type));
    m.insert("creator_id".into(), json!(c.creator_id));
    m.insert("secret_refs".into(), Value::Array(refs));
    // Consumers are never registered here.
    m.insert("consumers".into(), json!([]));
    m.insert(
        "container_ref".into(),
        json!(state.config.href(&format!("containers/{}", c.id))),
    );
    Value::Object(m)
}

async fn collection(
    State(state): State<KmState>,
    method: Method,
    caller: Caller,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = match method {
        Method::GET => list(&state, &caller, uri.query()).await,
        Method::POST => create(&state, &caller, &headers, body).await,
        _ => Err(Fault::bare(405)),
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

/// `ContainerValidator.validate` past the schema: the references' names
/// and ids, their host, and the names each type allows.
fn validate_refs(state: &KmState, v: &Value) -> Result<(), Fault> {
    let container_type = v.get("type").and_then(Value::as_str).unwrap_or_default();
    let refs = match v.get("secret_refs").and_then(Value::as_array) {
        Some(r) if !r.is_empty() => r,
        _ => return Ok(()),
    };
    let invalid = |reason: &str| invalid_object(SCHEMA, reason, Some("secret_refs"));
    // A missing name counts as '' and a null one as None, as upstream's
    // `secret_ref.get('name', '')` keeps them apart.
    let names: HashSet<Option<&str>> = refs
        .iter()
        .map(|r| match r.get("name") {
            None => Some(""),
            Some(Value::Null) => None,
            Some(n) => n.as_str(),
        })
        .collect();
    if names.len() != refs.len() {
        return Err(invalid("Duplicate reference names are not allowed"));
    }
    let ids: HashSet<String> = refs
        .iter()
        .filter_map(|r| r.get("secret_ref").and_then(Value::as_str))
        .map(secret_id_from_ref)
        .collect();
    if ids.len() != refs.len() {
        return Err(invalid("Duplicate secret ids are not allowed"));
    }
    // No spoofing: a ref must point at this service.
    let base = state.config.base();
    if refs.iter().any(|r| {
        !r.get("secret_ref")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .starts_with(base)
    }) {
        return Err(Fault::new(400, "Provided field value is not supported"));
    }
    let has_only = |allowed: &[&str]| {
        names
            .iter()
            .all(|n| n.is_some_and(|n| allowed.contains(&n)))
    };
    let has_all = |required: &[&str]| required.iter().all(|r| names.contains(&Some(*r)));
    match container_type {
        "rsa" => {
            if !has_only(&["public_key", "private_key", "private_key_passphrase"]) {
                return Err(invalid(
                    "only 'private_key', 'public_key' and 'private_key_passphrase' reference \
                     names are allowed for RSA type",
                ));
            }
            if !has_all(&["public_key", "private_key"]) {
                // Upstream's message lacks the space after "and".
                return Err(invalid(
                    "The minimum required reference names are 'public_key' and'private_key' \
                     for RSA type",
                ));
            }
        }
        "certificate" => {
            if !has_only(&[
                "certificate",
                "private_key",
                "private_key_passphrase",
                "intermediates",
            ]) {
                return Err(invalid(
                    "only 'private_key', 'certificate' , 'private_key_passphrase',  or \
                     'intermediates' reference names are allowed for Certificate type",
                ));
            }
            if !has_all(&["certificate"]) {
                return Err(invalid(
                    "The minimum required reference name is 'certificate' for Certificate type",
                ));
            }
        }
        _ => {}
    }
    Ok(())
}

async fn create(
    state: &KmState,
    caller: &Caller,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, Fault> {
    const OP: &str = "Container creation";
    enforce(caller, Action::ContainersPost, None, OP)?;
    require_content_type(headers, &["application/json"])?;
    let project = caller.0.project_id.clone().unwrap_or_default();
    let bytes = body::read_prefix(body, MAX_REQUEST_BYTES).await?;
    let v = parse_json(&bytes, SCHEMA)?;
    check_schema(&v, &schema(), SCHEMA)?;
    validate_refs(state, &v)?;

    let secrets: Vec<ContainerSecret> = v
        .get("secret_refs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|r| ContainerSecret {
            name: r.get("name").and_then(Value::as_str).map(str::to_string),
            secret_id: secret_id_from_ref(
                r.get("secret_ref")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
            ),
        })
        .collect();
    let now = timefmt::now();
    let container = Container {
        id: uuid::Uuid::new_v4().to_string(),
        project_id: project.clone(),
        creator_id: caller.0.user_id.clone(),
        name: v.get("name").and_then(Value::as_str).map(str::to_string),
        container_type: v
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        status: "ACTIVE".into(),
        created_at: now.clone(),
        updated_at: now.clone(),
        secrets,
    };

    let mut tx = state.db.begin().await.map_err(|e| Fault::store(OP, e))?;
    // Every secret must be a live one of the caller's own project; they
    // stay held until the container that names them is committed.
    let ids: Vec<String> = container
        .secrets
        .iter()
        .map(|s| s.secret_id.clone())
        .collect();
    let found = store::share_secrets(&mut tx, &project, &ids, &now)
        .await
        .map_err(|e| Fault::store(OP, e))?;
    if let Some(missing) = container
        .secrets
        .iter()
        .find(|s| !found.contains(&s.secret_id))
    {
        return Err(Fault::new(
            404,
            format!(
                "Secret provided for '{}' doesn't exist.",
                missing.name.as_deref().unwrap_or("None")
            ),
        ));
    }
    store::insert_container(&mut tx, &container)
        .await
        .map_err(|e| Fault::store(OP, e))?;
    tx.commit().await.map_err(|e| Fault::store(OP, e))?;
    let href = state.config.href(&format!("containers/{}", container.id));
    let mut resp = json_response(StatusCode::CREATED, &json!({"container_ref": href}));
    if let Ok(loc) = HeaderValue::from_str(&href) {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    Ok(resp)
}

async fn list(
    state: &KmState,
    caller: &Caller,
    raw_query: Option<&str>,
) -> Result<Response, Fault> {
    const OP: &str = "Containers(s) retrieval";
    enforce(caller, Action::ContainersGet, None, OP)?;
    let project = caller.0.project_id.clone().unwrap_or_default();
    let q = Query::parse(raw_query);
    let (offset, limit) = listing::paging(q.get("offset"), q.get("limit"));
    let all = store::containers_of_project(&state.db, &project)
        .await
        .map_err(|e| Fault::store(OP, e))?;
    let matching: Vec<&Container> = all
        .iter()
        .filter(|c| match q.get("name").filter(|n| !n.is_empty()) {
            Some(p) => c.name.as_deref().is_some_and(|n| listing::like(p, n)),
            None => true,
        })
        .filter(|c| {
            q.get("type")
                .filter(|t| !t.is_empty())
                .is_none_or(|t| c.container_type == t)
        })
        .collect();
    let total = matching.len();
    let page: Vec<Value> = matching
        .iter()
        .skip(offset)
        .take(limit)
        .map(|c| render(state, c))
        .collect();
    let mut out = Map::new();
    if page.is_empty() {
        out.insert("containers".into(), json!([]));
    } else {
        out.insert("containers".into(), Value::Array(page));
        // Upstream's container links carry no filters.
        listing::nav(&mut out, offset, limit, total, |o, l| {
            state
                .config
                .href(&format!("containers?limit={l}&offset={o}"))
        });
    }
    out.insert("total".into(), json!(total));
    Ok(json_response(StatusCode::OK, &Value::Object(out)))
}

/// `ContainersController._lookup`.
pub(crate) async fn lookup(state: &KmState, id: &str, op: &str) -> Result<Container, Fault> {
    if !is_uuid4(id) {
        return Err(Fault::new(
            404,
            "Not Found. Provided container id is invalid.",
        ));
    }
    store::get_container(&state.db, id)
        .await
        .map_err(|e| Fault::store(op, e))?
        .ok_or_else(not_found)
}

fn not_found() -> Fault {
    Fault::new(404, "Secrets container not found.")
}

async fn item(
    State(state): State<KmState>,
    method: Method,
    caller: Caller,
    Path(id): Path<String>,
) -> Response {
    let result = async {
        let container = lookup(&state, &id, "Container retrieval").await?;
        let acls = acls::of(
            &state,
            Entity::Container,
            &container.id,
            "Container retrieval",
        )
        .await?;
        let target = acls::target(&caller, &container.project_id, &container.creator_id, &acls);
        match method {
            Method::GET => {
                enforce(
                    &caller,
                    Action::ContainerGet,
                    Some(&target),
                    "Container retrieval",
                )?;
                Ok(json_response(StatusCode::OK, &render(&state, &container)))
            }
            Method::DELETE => {
                const OP: &str = "Container deletion";
                enforce(&caller, Action::ContainerDelete, Some(&target), OP)?;
                let mut tx = state.db.begin().await.map_err(|e| Fault::store(OP, e))?;
                // Upstream deletes within the caller's project.
                let current = store::lock_container(&mut tx, &container.id)
                    .await
                    .map_err(|e| Fault::store(OP, e))?
                    .filter(|c| Some(c.project_id.as_str()) == caller.0.project_id.as_deref())
                    .ok_or_else(not_found)?;
                store::delete_container(&mut tx, &current.id)
                    .await
                    .map_err(|e| Fault::store(OP, e))?;
                tx.commit().await.map_err(|e| Fault::store(OP, e))?;
                Ok(StatusCode::NO_CONTENT.into_response())
            }
            _ => Err(Fault::bare(405)),
        }
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// Sub-resources upstream has and this server does not (`secrets` of
/// generic containers, `consumers`): 404 once the container is found.
async fn sub_resource(
    State(state): State<KmState>,
    Path((id, _rest)): Path<(String, String)>,
) -> Response {
    match lookup(&state, &id, "Container retrieval").await {
        Ok(_) => Fault::bare(404).into_response(),
        Err(f) => f.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::secret_id_from_ref;

    #[test]
    fn ids_from_refs() {
        assert_eq!(secret_id_from_ref("http://h/v1/secrets/abc"), "abc");
        assert_eq!(secret_id_from_ref("http://h/v1/secrets/abc/"), "abc");
        assert_eq!(secret_id_from_ref("abc"), "abc");
    }
}
