//! The REST API of the infra layer, Kubernetes-shaped:
//!
//! ```text
//! GET    /infra/v1beta1                                   resource discovery
//! GET    /infra/v1beta1/{plural}                          list in every visible namespace
//! GET    /infra/v1beta1/namespaces/{ns}/{plural}          list
//! POST   /infra/v1beta1/namespaces/{ns}/{plural}          create (409 if it exists)
//! GET    /infra/v1beta1/namespaces/{ns}/{plural}/{name}   read
//! PUT    /infra/v1beta1/namespaces/{ns}/{plural}/{name}   create or replace
//! DELETE /infra/v1beta1/namespaces/{ns}/{plural}/{name}   delete
//! ```
//!
//! Requests carry a Keystone token (`X-Auth-Token`), validated like the
//! Network API's. Errors are Kubernetes `Status` objects.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use neutrino_identity::Identity;
use serde_json::{Value, json};

use crate::codec::kind_of;
use crate::error::InfraError;
use crate::meta::API_VERSION;
use crate::resources::Kind;
use crate::service::{Actor, Infra, Mode, Outcome};

/// Path prefix of the API; the service catalog's `network-infra` endpoint
/// is the server's URL followed by `/infra`.
pub const PREFIX: &str = "/infra";

#[derive(Clone)]
struct ApiState {
    infra: Infra,
    identity: Identity,
}

/// The infra API router, authentication included. It has no fallback, so
/// it merges into the Network API's router.
pub fn router(infra: Infra, identity: Identity) -> Router {
    let state = ApiState { infra, identity };
    Router::new()
        .route("/infra/v1beta1", get(discovery))
        .route("/infra/v1beta1/{plural}", get(list_all))
        .route(
            "/infra/v1beta1/namespaces/{ns}/{plural}",
            get(list_ns).post(create),
        )
        .route(
            "/infra/v1beta1/namespaces/{ns}/{plural}/{name}",
            get(read).put(replace).delete(remove),
        )
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            authenticate,
        ))
        .layer(axum::middleware::from_fn(check_url))
        .with_state(state)
}

fn respond(code: StatusCode, body: Value) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

impl IntoResponse for InfraError {
    fn into_response(self) -> Response {
        if let InfraError::Store(e) = &self {
            tracing::error!(error = ?e, "infra storage error");
        }
        let code = StatusCode::from_u16(self.code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        respond(code, self.status_body())
    }
}

async fn authenticate(State(state): State<ApiState>, mut req: Request, next: Next) -> Response {
    let token = req
        .headers()
        .get("x-auth-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let ctx = match token {
        Some(t) => state.identity.validate(&t).await.ok(),
        None => None,
    };
    let Some(ctx) = ctx else {
        let mut resp = respond(
            StatusCode::UNAUTHORIZED,
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                   "message": "The request you have made requires authentication.",
                   "reason": "Unauthorized", "code": 401}),
        );
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Keystone"),
        );
        return resp;
    };
    req.extensions_mut().insert(Actor {
        project_id: ctx.project_id.clone(),
        admin: ctx.is_admin(),
        can_write: ctx.can_write(),
    });
    next.run(req).await
}

fn actor(req_actor: Option<axum::Extension<Actor>>) -> Actor {
    req_actor.map(|a| a.0).unwrap_or(Actor {
        project_id: None,
        admin: false,
        can_write: false,
    })
}

async fn discovery() -> Response {
    let resources: Vec<Value> = Kind::ALL
        .iter()
        .map(|k| {
            json!({
                "name": k.plural(),
                "singularName": k.singular(),
                "namespaced": true,
                "kind": k.name(),
                "shortNames": k.short_names(),
                "verbs": ["create", "delete", "get", "list", "update"],
            })
        })
        .collect();
    respond(
        StatusCode::OK,
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": API_VERSION, "resources": resources}),
    )
}

fn list_body(kind: Kind, items: Vec<Value>) -> Value {
    json!({
        "apiVersion": API_VERSION,
        "kind": format!("{}List", kind.name()),
        "metadata": {},
        "items": items,
    })
}

async fn list_all(
    State(s): State<ApiState>,
    a: Option<axum::Extension<Actor>>,
    Path(plural): Path<String>,
) -> Result<Response, InfraError> {
    let kind = kind_of(&plural)?;
    let items = s.infra.list(&actor(a), kind, None).await?;
    Ok(respond(StatusCode::OK, list_body(kind, items)))
}

async fn list_ns(
    State(s): State<ApiState>,
    a: Option<axum::Extension<Actor>>,
    Path((ns, plural)): Path<(String, String)>,
) -> Result<Response, InfraError> {
    let kind = kind_of(&plural)?;
    let items = s.infra.list(&actor(a), kind, Some(&ns)).await?;
    Ok(respond(StatusCode::OK, list_body(kind, items)))
}

async fn read(
    State(s): State<ApiState>,
    a: Option<axum::Extension<Actor>>,
    Path((ns, plural, name)): Path<(String, String, String)>,
) -> Result<Response, InfraError> {
    let kind = kind_of(&plural)?;
    let obj = s.infra.get(&actor(a), kind, &ns, &name).await?;
    Ok(respond(StatusCode::OK, obj))
}

fn parse_body(bytes: &Bytes) -> Result<Value, InfraError> {
    let v: Value = serde_json::from_slice(bytes)
        .map_err(|e| InfraError::BadRequest(format!("the request body is not valid JSON: {e}")))?;
    // PostgreSQL cannot store a NUL (SQLite would): refuse it on both.
    if let Some(path) = neutrino_types::input::find_nul(&v) {
        return Err(InfraError::BadRequest(format!(
            "the request body contains a NUL character at {}",
            path.join(".").replace('\0', "\\0")
        )));
    }
    Ok(v)
}

/// Refuses URLs whose path or query decode to invalid UTF-8 or contain NUL
/// with a `Status` body, before the router's plain-text rejection.
async fn check_url(req: Request, next: Next) -> Response {
    let uri = req.uri();
    match neutrino_types::input::check_url(uri.path(), uri.query()) {
        Ok(()) => next.run(req).await,
        Err(why) => InfraError::BadRequest(format!("invalid URL: {why}")).into_response(),
    }
}

async fn write(
    s: &ApiState,
    actor: &Actor,
    kind: Kind,
    ns: &str,
    name: &str,
    body: Value,
    mode: Mode,
) -> Result<Response, InfraError> {
    let (obj, outcome) = s.infra.apply(actor, kind, ns, name, body, mode).await?;
    let code = if outcome == Outcome::Created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut resp = respond(code, obj);
    let word = match outcome {
        Outcome::Created => "created",
        Outcome::Configured => "configured",
        Outcome::Unchanged => "unchanged",
    };
    resp.headers_mut()
        .insert("x-neutrino-outcome", header::HeaderValue::from_static(word));
    Ok(resp)
}

async fn create(
    State(s): State<ApiState>,
    a: Option<axum::Extension<Actor>>,
    Path((ns, plural)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, InfraError> {
    let kind = kind_of(&plural)?;
    let body = parse_body(&body)?;
    let name = body["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if name.is_empty() {
        return Err(InfraError::invalid(
            kind,
            "",
            vec![crate::validate::FieldError::required(
                "metadata.name",
                "name is required",
            )],
        ));
    }
    write(&s, &actor(a), kind, &ns, &name, body, Mode::CreateOnly).await
}

async fn replace(
    State(s): State<ApiState>,
    a: Option<axum::Extension<Actor>>,
    Path((ns, plural, name)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Response, InfraError> {
    let kind = kind_of(&plural)?;
    let body = parse_body(&body)?;
    write(&s, &actor(a), kind, &ns, &name, body, Mode::CreateOrReplace).await
}

async fn remove(
    State(s): State<ApiState>,
    a: Option<axum::Extension<Actor>>,
    Path((ns, plural, name)): Path<(String, String, String)>,
) -> Result<Response, InfraError> {
    let kind = kind_of(&plural)?;
    let status = s.infra.delete(&actor(a), kind, &ns, &name).await?;
    Ok(respond(StatusCode::OK, status))
}
