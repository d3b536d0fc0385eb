//! `/v3/auth/...`: issuing, validating and revoking tokens, and what the
//! caller's token gives access to.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value, json};

use super::{
    AppState, Query, caller, domains::domain_json, list_links, parse_json, projects::project_json,
};
use crate::authn::{self, AuthRequest, DomainRef, EntityRef, PasswordRequest, ScopeRequest};
use crate::{IdentityError, Inner, catalog, store};

type Result<T> = std::result::Result<T, IdentityError>;

pub fn routes() -> Router<std::sync::Arc<Inner>> {
    Router::new()
        .route("/v3/auth/tokens", get(validate).post(issue).delete(revoke))
        .route("/v3/auth/projects", get(my_projects))
        .route("/v3/auth/domains", get(my_domains))
        .route("/v3/auth/catalog", get(my_catalog))
        .route("/v3/auth/system", get(my_system))
}

fn bad(msg: &str) -> IdentityError {
    IdentityError::BadRequest(msg.into())
}

fn object<'a>(v: &'a Value, what: &str) -> Result<&'a Map<String, Value>> {
    v.as_object()
        .ok_or_else(|| bad(&format!("Expecting to find {what} as an object.")))
}

fn string(obj: &Map<String, Value>, key: &str) -> Option<String> {
    obj.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn parse_domain(v: &Value) -> Result<DomainRef> {
    let d = object(v, "domain")?;
    if let Some(id) = string(d, "id") {
        Ok(DomainRef::Id(id))
    } else if let Some(name) = string(d, "name") {
        Ok(DomainRef::Name(name))
    } else {
        Err(bad("Expecting to find id or name in domain."))
    }
}

/// A user or project by id, or by name plus domain.
fn parse_entity(obj: &Map<String, Value>, what: &str) -> Result<EntityRef> {
    if let Some(id) = string(obj, "id") {
        return Ok(EntityRef::Id(id));
    }
    let name = string(obj, "name")
        .ok_or_else(|| bad(&format!("Expecting to find id or name in {what}.")))?;
    let domain = obj
        .get("domain")
        .ok_or_else(|| bad(&format!("Expecting to find domain in {what}.")))?;
    Ok(EntityRef::Name(name, parse_domain(domain)?))
}

fn parse_auth(body: &Value) -> Result<AuthRequest> {
    let auth = object(
        body.get("auth")
            .ok_or_else(|| bad("Expecting to find auth in request body."))?,
        "auth",
    )?;
    let identity = object(
        auth.get("identity")
            .ok_or_else(|| bad("Expecting to find identity in auth."))?,
        "identity",
    )?;
    let methods: Vec<String> = identity
        .get("methods")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("Expecting to find methods in identity."))?
        .iter()
        .map(|m| {
            m.as_str()
                .map(str::to_owned)
                .ok_or_else(|| bad("Auth methods must be strings."))
        })
        .collect::<Result<_>>()?;
    let password = match identity.get("password") {
        Some(p) if methods.iter().any(|m| m == "password") => {
            let user = object(
                object(p, "password")?
                    .get("user")
                    .ok_or_else(|| bad("Expecting to find user in password."))?,
                "user",
            )?;
            Some(PasswordRequest {
                user: parse_entity(user, "user")?,
                password: string(user, "password").unwrap_or_default(),
            })
        }
        _ => None,
    };
    let token = identity
        .get("token")
        .and_then(|t| t.get("id"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let scope = match auth.get("scope") {
        None | Some(Value::Null) => ScopeRequest::Default,
        Some(Value::String(s)) if s == "unscoped" => ScopeRequest::Unscoped,
        Some(Value::Object(s)) => {
            if let Some(p) = s.get("project") {
                ScopeRequest::Project(parse_entity(object(p, "project")?, "project")?)
            } else if let Some(d) = s.get("domain") {
                ScopeRequest::Domain(parse_domain(d)?)
            } else if s
                .get("system")
                .and_then(|v| v.get("all"))
                .and_then(Value::as_bool)
                == Some(true)
            {
                ScopeRequest::System
            } else {
                return Err(bad("Specify a project, domain or system in scope."));
            }
        }
        Some(_) => return Err(bad("Invalid scope.")),
    };
    Ok(AuthRequest {
        methods,
        password,
        token,
        scope,
    })
}

fn with_subject_token(status: StatusCode, token: &str, body: Value) -> Response {
    let mut resp = (status, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(token) {
        resp.headers_mut().insert("x-subject-token", v);
    }
    resp
}

fn catalog_unless(inner: &Inner, q: &Query) -> Option<Vec<Value>> {
    (!q.contains_key("nocatalog")).then(|| catalog::catalog(&inner.config.catalog))
}

async fn issue(State(inner): AppState, q: Query, body: Bytes) -> Result<Response> {
    let req = parse_auth(&parse_json(&body)?)?;
    let issued = authn::issue(&inner, &req).await?;
    let body = json!({"token": issued.data.to_json(catalog_unless(&inner, &q))});
    Ok(with_subject_token(StatusCode::CREATED, &issued.token, body))
}

/// The subject token, which the caller must be allowed to look at; 404
/// when it is not valid.
async fn subject(
    inner: &Inner,
    headers: &HeaderMap,
) -> Result<(String, std::sync::Arc<authn::TokenData>)> {
    let me = caller(inner, headers).await?;
    let not_found = || IdentityError::NotFound("Failed to validate token".into());
    let token = headers
        .get("x-subject-token")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(not_found)?
        .to_owned();
    let data = authn::validate(inner, &token)
        .await
        .map_err(|e| if e.is_auth_failure() { not_found() } else { e })?;
    if !crate::policy::may_inspect_token(&me, &data) {
        return Err(IdentityError::forbidden_action("identity:validate_token"));
    }
    Ok((token, data))
}

/// GET, and HEAD (which axum answers from GET without the body).
async fn validate(State(inner): AppState, q: Query, headers: HeaderMap) -> Result<Response> {
    let (token, data) = subject(&inner, &headers).await?;
    let body = json!({"token": data.to_json(catalog_unless(&inner, &q))});
    Ok(with_subject_token(StatusCode::OK, &token, body))
}

async fn revoke(State(inner): AppState, headers: HeaderMap) -> Result<StatusCode> {
    let (_, data) = subject(&inner, &headers).await?;
    authn::revoke(&inner, &data).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn my_projects(State(inner): AppState, headers: HeaderMap, uri: Uri) -> Result<Json<Value>> {
    let me = caller(&inner, &headers).await?;
    let mut out = Vec::new();
    for p in store::projects_of_user(&inner.db, me.user_id()).await? {
        if p.enabled {
            out.push(project_json(&inner, &p));
        }
    }
    Ok(Json(
        json!({"projects": out, "links": list_links(&inner, &uri)}),
    ))
}

async fn my_domains(State(inner): AppState, headers: HeaderMap, uri: Uri) -> Result<Json<Value>> {
    let me = caller(&inner, &headers).await?;
    let domains = store::domains_of_user(&inner.db, me.user_id()).await?;
    let out: Vec<Value> = domains
        .iter()
        .filter(|d| d.enabled)
        .map(|d| domain_json(&inner, d))
        .collect();
    Ok(Json(
        json!({"domains": out, "links": list_links(&inner, &uri)}),
    ))
}

async fn my_catalog(State(inner): AppState, headers: HeaderMap, uri: Uri) -> Result<Json<Value>> {
    let me = caller(&inner, &headers).await?;
    if matches!(me.scope, authn::ScopeData::Unscoped) {
        return Err(IdentityError::Forbidden(
            "A catalog can only be retrieved with a scoped token.".into(),
        ));
    }
    let c = catalog::catalog(&inner.config.catalog);
    Ok(Json(
        json!({"catalog": c, "links": list_links(&inner, &uri)}),
    ))
}

async fn my_system(State(inner): AppState, headers: HeaderMap, uri: Uri) -> Result<Json<Value>> {
    let me = caller(&inner, &headers).await?;
    let roles = authn::effective_roles(
        &inner,
        me.user_id(),
        store::TARGET_SYSTEM,
        store::SYSTEM_ALL,
    )
    .await?;
    let system: Vec<Value> = if roles.is_empty() {
        vec![]
    } else {
        vec![json!({"all": true})]
    };
    Ok(Json(
        json!({"system": system, "links": list_links(&inner, &uri)}),
    ))
}
