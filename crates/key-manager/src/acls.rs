//! `/v1/secrets/{id}/acl` and `/v1/containers/{id}/acl` (barbican
//! `api/controllers/acls.py`): read, replace (PUT), merge (PATCH) and
//! delete an object's ACL, and what the ACLs mean for the policy
//! ([`target`]). Only the `read` operation exists, as upstream's
//! validator allows.

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use neutrino_store::key_manager::acl::{self as store, Acl, Entity};
use neutrino_store::key_manager::{lock_container, lock_secret};
use serde_json::{Map, Value, json};

use crate::auth::Caller;
use crate::body::{self, MAX_REQUEST_BYTES, check_schema, parse_json};
use crate::fault::{Fault, json_response};
use crate::policy::{Action, Target, enforce};
use crate::secrets::require_content_type;
use crate::{KmState, containers, secrets, timefmt};

pub fn routes(prefix: &str) -> Router<KmState> {
    Router::new()
        .route(&format!("{prefix}/v1/secrets/{{id}}/acl"), any(secret_acl))
        .route(&format!("{prefix}/v1/secrets/{{id}}/acl/"), any(secret_acl))
        .route(
            &format!("{prefix}/v1/containers/{{id}}/acl"),
            any(container_acl),
        )
        .route(
            &format!("{prefix}/v1/containers/{{id}}/acl/"),
            any(container_acl),
        )
}

/// The operation the API takes (`ACLValidator`'s only property).
const READ: &str = "read";

/// The ACLs of an object, for the policy and the answers.
pub async fn of(state: &KmState, entity: Entity, id: &str, op: &str) -> Result<Vec<Acl>, Fault> {
    store::acls(&state.db, entity, id)
        .await
        .map_err(|e| Fault::store(op, e))
}

/// The policy target of an object with these ACLs, for this caller
/// (`ACLMixin.get_acl_dict_for_user`): without a read ACL the project
/// keeps access; the caller reads if the read ACL names them.
pub fn target<'a>(
    caller: &Caller,
    project_id: &'a str,
    creator_id: &'a str,
    acls: &[Acl],
) -> Target<'a> {
    let read = acls.iter().find(|a| a.operation == READ);
    Target {
        project_id,
        creator_id,
        not_private: read.is_none_or(|a| a.project_access),
        acl_read: read.is_some_and(|a| a.users.contains(&caller.0.user_id)),
    }
}

/// `ACLValidator`'s schema (draft 4; the definition inlined). Upstream's
/// `items` is the list form, which checks only the first user; every
/// user is checked here, so a later non-string is refused, not stored.
fn schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "read": {
                "type": "object",
                "properties": {
                    "users": {"type": "array", "items": {"type": "string", "maxLength": 255}},
                    "project-access": {"type": "boolean"},
                },
                "additionalProperties": false,
            },
        },
        "additionalProperties": false,
    })
}

/// The object an ACL request is about.
struct Object<'a> {
    entity: Entity,
    id: &'a str,
    project_id: &'a str,
    creator_id: &'a str,
    /// The collection in hrefs.
    collection: &'static str,
    /// `SecretACL(s)` or `ContainerACL(s)`, for the error wordings.
    noun: &'static str,
}

async fn secret_acl(
    State(state): State<KmState>,
    method: Method,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let secret = secrets::lookup(&state, &id, "SecretACL(s) retrieval").await?;
        let object = Object {
            entity: Entity::Secret,
            id: &secret.id,
            project_id: &secret.project_id,
            creator_id: &secret.creator_id,
            collection: "secrets",
            noun: "SecretACL(s)",
        };
        handle(&state, &caller, method, &headers, body, &object).await
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

async fn container_acl(
    State(state): State<KmState>,
    method: Method,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let container = containers::lookup(&state, &id, "ContainerACL(s) retrieval").await?;
        let object = Object {
            entity: Entity::Container,
            id: &container.id,
            project_id: &container.project_id,
            creator_id: &container.creator_id,
            collection: "containers",
            noun: "ContainerACL(s)",
        };
        handle(&state, &caller, method, &headers, body, &object).await
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

async fn handle(
    state: &KmState,
    caller: &Caller,
    method: Method,
    headers: &HeaderMap,
    body: Body,
    object: &Object<'_>,
) -> Result<Response, Fault> {
    // The ACL rules do not look at the ACLs themselves.
    let target = target(caller, object.project_id, object.creator_id, &[]);
    match method {
        Method::GET => {
            let op = format!("{} retrieval", object.noun);
            enforce(caller, Action::AclGet, Some(&target), &op)?;
            let acls = of(state, object.entity, object.id, &op).await?;
            Ok(json_response(StatusCode::OK, &render(&acls)))
        }
        Method::PUT | Method::PATCH => {
            let op = format!("{} Update", object.noun);
            enforce(caller, Action::AclPutPatch, Some(&target), &op)?;
            require_content_type(headers, &["application/json"])?;
            let bytes = body::read_prefix(body, MAX_REQUEST_BYTES).await?;
            let v = parse_json(&bytes, "ACL")?;
            check_schema(&v, &schema(), "ACL")?;
            update(state, object, &v, method == Method::PUT, &op).await?;
            let acl_ref = state
                .config
                .href(&format!("{}/{}/acl", object.collection, object.id));
            Ok(json_response(StatusCode::OK, &json!({"acl_ref": acl_ref})))
        }
        Method::DELETE => {
            let op = format!("{} deletion", object.noun);
            enforce(caller, Action::AclDelete, Some(&target), &op)?;
            let mut tx = state.db.begin().await.map_err(|e| Fault::store(&op, e))?;
            lock(&mut tx, object, &op).await?;
            store::delete_acls(&mut tx, object.entity, object.id, &[])
                .await
                .map_err(|e| Fault::store(&op, e))?;
            tx.commit().await.map_err(|e| Fault::store(&op, e))?;
            // pecan renders the handler's `None` as JSON.
            Ok(json_response(StatusCode::OK, &Value::Null))
        }
        _ => Err(Fault::bare(405)),
    }
}

/// Locks the object for an ACL change; gone in between: 404.
async fn lock(tx: &mut neutrino_store::Tx, object: &Object<'_>, op: &str) -> Result<(), Fault> {
    let found = match object.entity {
        Entity::Secret => lock_secret(tx, object.id, &timefmt::now())
            .await
            .map(|s| s.is_some()),
        Entity::Container => lock_container(tx, object.id).await.map(|c| c.is_some()),
    }
    .map_err(|e| Fault::store(op, e))?;
    if found {
        return Ok(());
    }
    Err(match object.entity {
        Entity::Secret => Fault::new(404, "Secret not found."),
        Entity::Container => Fault::new(404, "Secrets container not found."),
    })
}

/// `on_put` (`replace`) or `on_patch`: an operation given as an empty
/// object is skipped, as upstream's truthiness test skips it; PUT
/// defaults what is left out (project access, no users) and deletes
/// the ACLs not given, PATCH keeps them.
async fn update(
    state: &KmState,
    object: &Object<'_>,
    v: &Value,
    replace: bool,
    op: &str,
) -> Result<(), Fault> {
    let now = timefmt::now();
    let mut tx = state.db.begin().await.map_err(|e| Fault::store(op, e))?;
    lock(&mut tx, object, op).await?;
    let mut given: Vec<&str> = Vec::new();
    for operation in [READ] {
        let Some(acl) = v
            .get(operation)
            .and_then(Value::as_object)
            .filter(|a| !a.is_empty())
        else {
            continue;
        };
        given.push(operation);
        let mut project_access = acl.get("project-access").and_then(Value::as_bool);
        let mut users: Option<Vec<String>> = acl.get("users").and_then(Value::as_array).map(|u| {
            u.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        });
        if replace {
            project_access = project_access.or(Some(true));
            users = users.or_else(|| Some(Vec::new()));
        }
        store::put_acl(
            &mut tx,
            object.entity,
            object.id,
            operation,
            project_access,
            users.as_deref(),
            &now,
        )
        .await
        .map_err(|e| Fault::store(op, e))?;
    }
    if replace {
        store::delete_acls(&mut tx, object.entity, object.id, &given)
            .await
            .map_err(|e| Fault::store(op, e))?;
    }
    tx.commit().await.map_err(|e| Fault::store(op, e))
}

/// `_return_acl_list_response`: each operation's ACL, or the default.
fn render(acls: &[Acl]) -> Value {
    if acls.is_empty() {
        return json!({"read": {"project-access": true}});
    }
    let mut out = Map::new();
    for a in acls {
        let mut m = Map::new();
        m.insert("project-access".into(), json!(a.project_access));
        m.insert("users".into(), json!(a.users));
        m.insert("created".into(), json!(timefmt::render(&a.created_at)));
        m.insert("updated".into(), json!(timefmt::render(&a.updated_at)));
        out.insert(a.operation.clone(), Value::Object(m));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use neutrino_identity::AuthContext;

    fn acl(project_access: bool, users: &[&str]) -> Acl {
        Acl {
            operation: READ.into(),
            project_access,
            users: users.iter().map(|u| u.to_string()).collect(),
            created_at: "2026-12-03T10:11:12.000000".into(),
            updated_at: "2026-12-03T10:11:13.500000".into(),
        }
    }

    #[test]
    fn targets_and_renders() {
        let caller = Caller(AuthContext {
            user_id: "u".into(),
            user_name: "u".into(),
            project_id: Some("q".into()),
            project_name: None,
            domain_id: None,
            roles: vec![],
            expires_at: String::new(),
        });
        let t = target(&caller, "p", "c", &[]);
        assert!(t.not_private && !t.acl_read);
        let acls = [acl(false, &["x", "u"])];
        let t = target(&caller, "p", "c", &acls);
        assert!(!t.not_private && t.acl_read);
        assert_eq!(render(&[]), json!({"read": {"project-access": true}}));
        assert_eq!(
            render(&acls),
            json!({"read": {"project-access": false, "users": ["x", "u"],
                "created": "2026-12-03T10:11:12", "updated": "2026-12-03T10:11:13.500000"}})
        );
    }
}
