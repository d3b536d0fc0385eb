//! `/v1/secrets` (barbican `api/controllers/secrets.py`): create (one
//! step with a payload, or metadata first and the payload by PUT), list,
//! metadata, payload (`/payload`, or GET on the secret with a non-JSON
//! `Accept`), delete.

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use neutrino_store::key_manager::acl::Entity;
use neutrino_store::key_manager::{self as store, Secret};
use serde_json::{Map, Value, json};

use crate::auth::Caller;
use crate::body::{
    self, MAX_REQUEST_BYTES, MAX_SECRET_BYTES, check_schema, invalid_object, parse_json,
};
use crate::fault::{Fault, json_response};
use crate::listing::{self, Query};
use crate::microversion::Microversion;
use crate::policy::{Action, enforce};
use crate::{KmState, acls, mime, timefmt};

pub fn routes(prefix: &str) -> Router<KmState> {
    Router::new()
        .route(&format!("{prefix}/v1/secrets"), any(collection))
        .route(&format!("{prefix}/v1/secrets/"), any(collection))
        .route(&format!("{prefix}/v1/secrets/{{id}}"), any(item))
        .route(&format!("{prefix}/v1/secrets/{{id}}/"), any(item))
        .route(&format!("{prefix}/v1/secrets/{{id}}/payload"), any(payload))
        .route(
            &format!("{prefix}/v1/secrets/{{id}}/payload/"),
            any(payload),
        )
        .route(
            &format!("{prefix}/v1/secrets/{{id}}/{{*rest}}"),
            any(sub_resource),
        )
}

const SECRET_TYPES: [&str; 6] = [
    "symmetric",
    "passphrase",
    "private",
    "public",
    "certificate",
    "opaque",
];

/// `NewSecretValidator`'s schema.
fn new_secret_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "name": {"type": ["string", "null"], "maxLength": 255},
            "algorithm": {"type": "string", "maxLength": 255},
            "mode": {"type": "string", "maxLength": 255},
            "bit_length": {"type": "integer", "minimum": 1, "maximum": 32767},
            "expiration": {"type": "string", "maxLength": 255},
            "payload": {"type": "string"},
            "secret_type": {"type": "string", "maxLength": 80, "enum": SECRET_TYPES},
            "payload_content_type": {"type": ["string", "null"], "maxLength": 255},
            "payload_content_encoding": {"type": "string", "maxLength": 255, "enum": ["base64"]},
            "transport_key_needed": {"type": "string", "enum": ["true", "false"]},
            "transport_key_id": {"type": "string"},
        },
    })
}

/// upstream's `validate_id_is_uuid`: the canonical lowercase form of a
/// version-4 UUID.
pub fn is_uuid4(id: &str) -> bool {
    match uuid::Uuid::parse_str(id) {
        Ok(u) => {
            u.get_version_num() == 4
                && u.get_variant() == uuid::Variant::RFC4122
                && u.hyphenated().to_string() == id
        }
        Err(_) => false,
    }
}

/// The request's media type without parameters, as webob's
/// `content_type` gives it ("" when absent).
pub fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().trim().to_string())
        .unwrap_or_default()
}

/// `enforce_content_types`.
pub fn require_content_type(headers: &HeaderMap, allowed: &[&str]) -> Result<(), Fault> {
    let ct = content_type(headers);
    if allowed.contains(&ct.as_str()) {
        return Ok(());
    }
    let list: Vec<String> = allowed.iter().map(|a| format!("'{a}'")).collect();
    Err(Fault::new(
        415,
        format!(
            "Unexpected content type. Expected content types are: [{}]",
            list.join(", ")
        ),
    ))
}

/// A secret as upstream renders it (`to_dict_fields`, content types,
/// hrefs), keys in upstream's order.
fn render(state: &KmState, s: &Secret, v: Microversion) -> Value {
    let mut m = Map::new();
    m.insert("created".into(), json!(timefmt::render(&s.created_at)));
    m.insert("updated".into(), json!(timefmt::render(&s.updated_at)));
    m.insert("status".into(), json!(s.status));
    m.insert("name".into(), json!(s.name));
    m.insert("secret_type".into(), json!(s.secret_type));
    m.insert(
        "expiration".into(),
        json!(s.expiration.as_deref().map(timefmt::render)),
    );
    m.insert("algorithm".into(), json!(s.algorithm));
    m.insert("bit_length".into(), json!(s.bit_length));
    m.insert("mode".into(), json!(s.mode));
    m.insert("creator_id".into(), json!(s.creator_id));
    // Consumers arrived in 1.1; none are ever registered here.
    if v.at_least(1) {
        m.insert("consumers".into(), json!([]));
    }
    if let Some(ct) = s.content_type.as_deref().filter(|_| s.has_payload) {
        m.insert("content_types".into(), json!({"default": ct}));
    }
    m.insert(
        "secret_ref".into(),
        json!(state.config.href(&format!("secrets/{}", s.id))),
    );
    Value::Object(m)
}

async fn collection(
    State(state): State<KmState>,
    method: Method,
    caller: Caller,
    axum::Extension(v): axum::Extension<Microversion>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = match method {
        Method::GET => list(&state, &caller, v, uri.query()).await,
        Method::POST => create(&state, &caller, &headers, body).await,
        _ => Err(Fault::bare(405)),
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

// ------------------------------------------------------------------ create

/// What a validated create asks for.
struct NewSecret {
    name: Option<String>,
    secret_type: String,
    algorithm: Option<String>,
    bit_length: Option<i64>,
    mode: Option<String>,
    expiration: Option<String>,
    /// The bytes to store, their normalised type and the encoding named.
    payload: Option<(Vec<u8>, String, Option<String>)>,
    transport_key_needed: bool,
    transport_key_id: Option<String>,
}

const SCHEMA: &str = "Secret";

/// `NewSecretValidator.validate`, then what `store_secret` refuses.
fn validate_new(v: &Value, now: &str) -> Result<NewSecret, Fault> {
    check_schema(v, &new_secret_schema(), SCHEMA)?;
    let obj = v
        .as_object()
        .ok_or_else(|| Fault::new(400, "Malformed JSON"))?;
    let text = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_string);

    let mut expiration = None;
    if let Some(raw) = text("expiration").filter(|e| !body::py_strip(e).is_empty()) {
        let parsed = timefmt::parse_isotime(&raw).ok_or_else(|| {
            invalid_object(SCHEMA, "Invalid date for 'expiration'", Some("expiration"))
        })?;
        let stored = timefmt::to_stored(parsed);
        if stored.as_str() <= now {
            return Err(invalid_object(
                SCHEMA,
                "'expiration' is before current time",
                Some("expiration"),
            ));
        }
        expiration = Some(stored);
    }

    let content_type = obj.get("payload_content_type").and_then(Value::as_str);
    let encoding = text("payload_content_encoding");
    let mut payload = None;
    if let Some(p) = obj.get("payload").and_then(Value::as_str) {
        let Some(ct) = content_type else {
            return Err(invalid_object(
                SCHEMA,
                "If 'payload' is supplied, 'payload_content_type' must also be supplied.",
                Some("payload_content_type"),
            ));
        };
        if !mime::is_supported(ct) {
            return Err(invalid_object(
                SCHEMA,
                &format!(
                    "payload_content_type is not one of {}",
                    mime::SUPPORTED_TEXT
                ),
                Some("payload_content_type"),
            ));
        }
        if !mime::encoding_allowed(ct, encoding.as_deref()) {
            return Err(invalid_object(
                SCHEMA,
                &format!(
                    "payload_content_encoding is not one of {}",
                    mime::encodings_text(ct)
                ),
                Some("payload_content_encoding"),
            ));
        }
        if p.len() > MAX_SECRET_BYTES {
            return Err(Fault::new(413, "Provided information too large to process"));
        }
        let p = body::py_strip(p);
        if p.is_empty() {
            return Err(invalid_object(
                SCHEMA,
                "If 'payload' specified, must be non empty",
                Some("payload"),
            ));
        }
        let normalized = mime::normalize(ct);
        let bytes = if mime::PLAIN_TEXT.contains(&normalized.as_str()) {
            p.as_bytes().to_vec()
        } else {
            // The encoding is `base64` here (the schema's enum and the
            // binary types' required encoding leave nothing else).
            mime::b64decode_lenient(p).ok_or_else(|| {
                invalid_object(
                    SCHEMA,
                    "Invalid payload for payload_content_encoding",
                    Some("payload"),
                )
            })?
        };
        payload = Some((bytes, normalized, encoding.clone()));
    } else if obj.contains_key("payload_content_type") {
        return Err(invalid_object(
            SCHEMA,
            "payload must be provided when payload_content_type is specified",
            Some("payload"),
        ));
    }

    Ok(NewSecret {
        name: obj
            .get("name")
            .and_then(Value::as_str)
            .map(|n| body::py_strip(n).to_string()),
        secret_type: text("secret_type").unwrap_or_else(|| "opaque".into()),
        algorithm: text("algorithm"),
        bit_length: obj
            .get("bit_length")
            .and_then(|b| b.as_i64().or_else(|| b.as_f64().map(|f| f as i64))),
        mode: text("mode"),
        expiration,
        payload,
        transport_key_needed: text("transport_key_needed").as_deref() == Some("true"),
        transport_key_id: text("transport_key_id"),
    })
}

async fn create(
    state: &KmState,
    caller: &Caller,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, Fault> {
    const OP: &str = "Secret creation";
    enforce(caller, Action::SecretsPost, None, OP)?;
    require_content_type(headers, &["application/json"])?;
    let project = caller.0.project_id.clone().unwrap_or_default();
    let bytes = body::read_prefix(body, MAX_REQUEST_BYTES).await?;
    let v = parse_json(&bytes, SCHEMA)?;
    let now = timefmt::now();
    let new = validate_new(&v, &now)?;
    // No secret store here keeps transport keys: upstream's answers when
    // the default (simple_crypto) store is asked for one.
    match &new.payload {
        None if new.transport_key_needed => {
            return Err(Fault::issue(
                OP,
                400,
                "Secret store supported plugin not found",
            ));
        }
        Some(_) if new.transport_key_id.is_some() => {
            return Err(Fault::issue(
                OP,
                400,
                "Provided transport key was not found",
            ));
        }
        _ => {}
    }
    let id = uuid::Uuid::new_v4().to_string();
    let (payload, content_type, content_encoding) = match new.payload {
        Some((bytes, ct, enc)) => (Some(bytes), Some(ct), enc),
        None => (None, None, None),
    };
    let secret = Secret {
        id: id.clone(),
        project_id: project,
        creator_id: caller.0.user_id.clone(),
        name: new.name,
        secret_type: new.secret_type,
        algorithm: new.algorithm,
        bit_length: new.bit_length,
        mode: new.mode,
        expiration: new.expiration,
        content_type,
        content_encoding,
        has_payload: payload.is_some(),
        status: "ACTIVE".into(),
        created_at: now.clone(),
        updated_at: now,
    };
    let mut tx = state.db.begin().await.map_err(|e| Fault::store(OP, e))?;
    store::insert_secret(&mut tx, &secret, payload.as_deref())
        .await
        .map_err(|e| Fault::store(OP, e))?;
    tx.commit().await.map_err(|e| Fault::store(OP, e))?;
    let href = state.config.href(&format!("secrets/{id}"));
    let mut resp = json_response(StatusCode::CREATED, &json!({"secret_ref": href}));
    if let Ok(loc) = HeaderValue::from_str(&href) {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    Ok(resp)
}

// ------------------------------------------------------------------ list

/// One `created`/`updated`/`expiration` filter term.
enum DateOp {
    Gt,
    Gte,
    Lt,
    Lte,
    Eq,
}

/// `_is_valid_date_filter`, returning the parsed terms.
fn date_filter(raw: &str) -> Option<Vec<(DateOp, String)>> {
    let mut seen = (false, false, false, false, false); // gt gte lt lte eq
    let mut out = Vec::new();
    for term in raw.split(',') {
        let (op, text) = if let Some(t) = term.strip_prefix("gt:") {
            if seen.0 || seen.1 {
                return None;
            }
            seen.0 = true;
            (DateOp::Gt, t)
        } else if let Some(t) = term.strip_prefix("gte:") {
            if seen.0 || seen.1 || seen.4 {
                return None;
            }
            seen.1 = true;
            (DateOp::Gte, t)
        } else if let Some(t) = term.strip_prefix("lt:") {
            if seen.2 || seen.3 {
                return None;
            }
            seen.2 = true;
            (DateOp::Lt, t)
        } else if let Some(t) = term.strip_prefix("lte:") {
            if seen.2 || seen.3 || seen.4 {
                return None;
            }
            seen.3 = true;
            (DateOp::Lte, t)
        } else {
            if seen.4 || seen.1 || seen.3 {
                return None;
            }
            seen.4 = true;
            (DateOp::Eq, term)
        };
        let at = timefmt::parse_isotime(text)?;
        out.push((op, timefmt::to_stored(at)));
    }
    Some(out)
}

fn date_matches(value: Option<&str>, terms: &[(DateOp, String)]) -> bool {
    let Some(value) = value else {
        return false;
    };
    terms.iter().all(|(op, at)| {
        let at = at.as_str();
        match op {
            DateOp::Gt => value > at,
            DateOp::Gte => value >= at,
            DateOp::Lt => value < at,
            DateOp::Lte => value <= at,
            DateOp::Eq => value == at,
        }
    })
}

const SORT_KEYS: [&str; 9] = [
    "algorithm",
    "bit_length",
    "created",
    "expiration",
    "mode",
    "name",
    "secret_type",
    "status",
    "updated",
];

/// `_is_valid_sorting`, returning (key, descending) pairs.
fn sorting(raw: &str) -> Option<Vec<(String, bool)>> {
    let mut out: Vec<(String, bool)> = Vec::new();
    for term in raw.split(',') {
        let parts: Vec<&str> = term.split(':').collect();
        let (key, dir) = match parts.as_slice() {
            [k] => (*k, "asc"),
            [k, d] => (*k, *d),
            _ => return None,
        };
        if !SORT_KEYS.contains(&key) || !matches!(dir, "asc" | "desc") {
            return None;
        }
        if out.iter().any(|(k, _)| k == key) {
            return None;
        }
        out.push((key.to_string(), dir == "desc"));
    }
    Some(out)
}

/// Compares two secrets on one sort key; NULLs first, as MySQL orders
/// them ascending.
fn compare(a: &Secret, b: &Secret, key: &str) -> std::cmp::Ordering {
    fn text(s: &Secret, key: &str) -> Option<String> {
        match key {
            "algorithm" => s.algorithm.clone(),
            "created" => Some(s.created_at.clone()),
            "expiration" => s.expiration.clone(),
            "mode" => s.mode.clone(),
            "name" => s.name.clone(),
            "secret_type" => Some(s.secret_type.clone()),
            "status" => Some(s.status.clone()),
            "updated" => Some(s.updated_at.clone()),
            _ => None,
        }
    }
    if key == "bit_length" {
        return a.bit_length.cmp(&b.bit_length);
    }
    text(a, key).cmp(&text(b, key))
}

fn bad_query() -> Fault {
    Fault::new(400, "URI provided invalid query string parameters.")
}

async fn list(
    state: &KmState,
    caller: &Caller,
    v: Microversion,
    raw_query: Option<&str>,
) -> Result<Response, Fault> {
    const OP: &str = "Secret(s) retrieval";
    enforce(caller, Action::SecretsGet, None, OP)?;
    let project = caller.0.project_id.clone().unwrap_or_default();
    let q = Query::parse(raw_query);
    // Upstream decodes `name` once more.
    let name = q
        .get("name")
        .filter(|n| !n.is_empty())
        .map(listing::unquote_plus);
    let bits = q
        .get("bits")
        .and_then(|b| b.trim().parse::<i64>().ok())
        .unwrap_or(0);
    let mut dates = Vec::new();
    for key in ["created", "updated", "expiration"] {
        if let Some(raw) = q.get(key).filter(|r| !r.is_empty()) {
            dates.push((key, date_filter(raw).ok_or_else(bad_query)?));
        }
    }
    let sort = match q.get("sort").filter(|s| !s.is_empty()) {
        Some(raw) => Some(sorting(raw).ok_or_else(bad_query)?),
        None => None,
    };
    let (offset, limit) = listing::paging(q.get("offset"), q.get("limit"));

    let now = timefmt::now();
    // `acl_only`: the secrets of any project whose ACLs name the caller,
    // instead of the project's.
    let acl_only = q
        .get("acl_only")
        .is_some_and(|a| a.eq_ignore_ascii_case("true"));
    let all = if acl_only {
        store::acl::secrets_shared_with(&state.db, &caller.0.user_id, &now).await
    } else {
        store::secrets_of_project(&state.db, &project, &now).await
    }
    .map_err(|e| Fault::store(OP, e))?;
    let like = |pattern: Option<&str>, value: Option<&str>| match pattern {
        Some(p) if !p.is_empty() => value.is_some_and(|v| listing::like(p, v)),
        _ => true,
    };
    let mut matching: Vec<Secret> = all
        .into_iter()
        .filter(|s| like(name.as_deref(), s.name.as_deref()))
        .filter(|s| like(q.get("alg"), s.algorithm.as_deref()))
        .filter(|s| like(q.get("mode"), s.mode.as_deref()))
        .filter(|s| bits <= 0 || s.bit_length == Some(bits))
        .filter(|s| {
            q.get("secret_type")
                .filter(|t| !t.is_empty())
                .is_none_or(|t| s.secret_type == t)
        })
        .filter(|s| {
            dates.iter().all(|(key, terms)| {
                let value = match *key {
                    "created" => Some(s.created_at.as_str()),
                    "updated" => Some(s.updated_at.as_str()),
                    _ => s.expiration.as_deref(),
                };
                date_matches(value, terms)
            })
        })
        .collect();
    if let Some(keys) = &sort {
        matching.sort_by(|a, b| {
            keys.iter()
                .map(|(k, desc)| {
                    let o = compare(a, b, k);
                    if *desc { o.reverse() } else { o }
                })
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        });
    }
    let total = matching.len();
    let page: Vec<Value> = matching
        .iter()
        .skip(offset)
        .take(limit)
        .map(|s| render(state, s, v))
        .collect();
    let mut out = Map::new();
    if !page.is_empty() {
        out.insert("secrets".into(), Value::Array(page));
        let filters = q.filters_string();
        listing::nav(&mut out, offset, limit, total, |o, l| {
            let mut href = state.config.href(&format!("secrets?limit={l}&offset={o}"));
            if !filters.is_empty() {
                href.push('&');
                href.push_str(&filters);
            }
            href
        });
    } else {
        out.insert("secrets".into(), json!([]));
    }
    out.insert("total".into(), json!(total));
    Ok(json_response(StatusCode::OK, &Value::Object(out)))
}

// ------------------------------------------------------------------ one secret

/// `SecretsController._lookup`: the id's form, then the live secret.
pub(crate) async fn lookup(state: &KmState, id: &str, op: &str) -> Result<Secret, Fault> {
    if !is_uuid4(id) {
        return Err(Fault::new(404, "Not Found. Provided secret id is invalid."));
    }
    store::secret(&state.db, id, &timefmt::now())
        .await
        .map_err(|e| Fault::store(op, e))?
        .ok_or_else(|| Fault::new(404, "Secret not found."))
}

/// `is_json_request_accept`: no `Accept`, or exactly JSON or `*/*`.
fn wants_json(headers: &HeaderMap) -> bool {
    match headers.get(header::ACCEPT) {
        None => true,
        Some(v) => matches!(v.to_str(), Ok("application/json" | "*/*")),
    }
}

#[allow(clippy::too_many_arguments)]
async fn item(
    State(state): State<KmState>,
    method: Method,
    caller: Caller,
    axum::Extension(v): axum::Extension<Microversion>,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let secret = lookup(&state, &id, "Secret retrieval").await?;
        match method {
            Method::GET => {
                const OP: &str = "Secret retrieval";
                let acls = acls::of(&state, Entity::Secret, &secret.id, OP).await?;
                let target = acls::target(&caller, &secret.project_id, &secret.creator_id, &acls);
                if wants_json(&headers) {
                    enforce(&caller, Action::SecretGet, Some(&target), OP)?;
                    Ok(json_response(StatusCode::OK, &render(&state, &secret, v)))
                } else {
                    // A non-JSON Accept asks for the payload (deprecated
                    // upstream, still served), under the decrypt rule.
                    enforce(&caller, Action::SecretDecrypt, Some(&target), OP)?;
                    payload_answer(&state, &secret, &headers, OP).await
                }
            }
            Method::PUT => put_payload(&state, &caller, &secret, &headers, body).await,
            Method::DELETE => delete(&state, &caller, &secret, v, uri.query()).await,
            _ => Err(Fault::bare(405)),
        }
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

async fn payload(
    State(state): State<KmState>,
    method: Method,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    const OP: &str = "Secret payload retrieval";
    let result = async {
        let secret = lookup(&state, &id, OP).await?;
        let acls = acls::of(&state, Entity::Secret, &secret.id, OP).await?;
        let target = acls::target(&caller, &secret.project_id, &secret.creator_id, &acls);
        // Upstream checks the policy before the method.
        enforce(&caller, Action::SecretDecrypt, Some(&target), OP)?;
        if method != Method::GET {
            return Err(Fault::bare(405));
        }
        payload_answer(&state, &secret, &headers, OP).await
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// Sub-resources upstream has and this server does not (`metadata`,
/// `consumers`): 404 once the secret is found.
async fn sub_resource(
    State(state): State<KmState>,
    Path((id, _rest)): Path<(String, String)>,
) -> Response {
    match lookup(&state, &id, "Secret retrieval").await {
        Ok(_) => Fault::bare(404).into_response(),
        Err(f) => f.into_response(),
    }
}

/// `_on_get_secret_payload` and `plugin.get_secret`: the stored bytes in
/// the type the client accepts.
async fn payload_answer(
    state: &KmState,
    secret: &Secret,
    headers: &HeaderMap,
    op: &str,
) -> Result<Response, Fault> {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .filter(|a| !a.is_empty())
        .unwrap_or("application/octet-stream")
        .to_string();
    let (_, payload) = store::secret_with_payload(&state.db, &secret.id, &timefmt::now())
        .await
        .map_err(|e| Fault::store(op, e))?
        .ok_or_else(|| Fault::new(404, "Secret not found."))?;
    let Some(payload) = payload else {
        return Err(Fault::new(
            404,
            "Not Found. Sorry but your secret has no payload.",
        ));
    };
    // `*/*` means the type it was stored as.
    let wanted = if accept == "*/*" {
        secret.content_type.clone().unwrap_or_default()
    } else {
        accept.clone()
    };
    if !mime::is_supported(&wanted) {
        return Err(Fault::issue(op, 406, "Wrong payload content-type"));
    }
    let body = if mime::PLAIN_TEXT.contains(&wanted.as_str()) {
        if std::str::from_utf8(&payload).is_err() {
            return Err(Fault::issue(op, 406, "Wrong payload content-type"));
        }
        payload
    } else if mime::BINARY.contains(&wanted.as_str()) {
        payload
    } else {
        return Err(Fault::issue(
            op,
            400,
            &format!("content-type of '{wanted}' not supported"),
        ));
    };
    // The answer's type is the Accept header as sent (pecan's
    // override_template), with webob's charset for text.
    let mut ct = accept;
    if ct.starts_with("text/") && !ct.to_ascii_lowercase().contains("charset") {
        ct.push_str("; charset=UTF-8");
    }
    let mut resp = (StatusCode::OK, body).into_response();
    if let Ok(v) = HeaderValue::from_str(&ct) {
        resp.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    Ok(resp)
}

/// The second step of a two-step create: the payload, once.
async fn put_payload(
    state: &KmState,
    caller: &Caller,
    secret: &Secret,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, Fault> {
    const OP: &str = "Secret update";
    let acls = acls::of(state, Entity::Secret, &secret.id, OP).await?;
    let target = acls::target(caller, &secret.project_id, &secret.creator_id, &acls);
    enforce(caller, Action::SecretPut, Some(&target), OP)?;
    require_content_type(headers, &["application/octet-stream", "text/plain"])?;
    let bytes = body::read_all(body, MAX_SECRET_BYTES).await?;
    let bytes = match bytes {
        Some(b) if b.is_empty() => {
            return Err(Fault::issue(OP, 400, "No data supplied to process"));
        }
        Some(b) => b,
        None => {
            return Err(Fault::issue(
                OP,
                413,
                "Provided information too large to process",
            ));
        }
    };
    if secret.has_payload {
        return Err(Fault::new(
            409,
            "Secret already has data, cannot modify it.",
        ));
    }
    let ct = content_type(headers);
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let stored = if mime::PLAIN_TEXT.contains(&mime::normalize(&ct).as_str()) {
        bytes
    } else {
        match encoding.as_deref().map(str::to_ascii_lowercase).as_deref() {
            None => bytes,
            // Upstream keeps base64 text as given and, when it does not
            // decode on the way out, answers it raw: the same bytes.
            Some("base64") => std::str::from_utf8(&bytes)
                .ok()
                .and_then(mime::b64decode_lenient)
                .unwrap_or(bytes),
            Some(_) => {
                return Err(Fault::issue(
                    OP,
                    400,
                    "Text-based binary secret payloads must specify a content-encoding of 'base64'",
                ));
            }
        }
    };
    let now = timefmt::now();
    let mut tx = state.db.begin().await.map_err(|e| Fault::store(OP, e))?;
    // Locked, then written only if still without a payload: two PUTs
    // racing store one payload and the other answers 409.
    let current = store::lock_secret(&mut tx, &secret.id, &now)
        .await
        .map_err(|e| Fault::store(OP, e))?
        .ok_or_else(|| Fault::new(404, "Secret not found."))?;
    if current.has_payload {
        return Err(Fault::new(
            409,
            "Secret already has data, cannot modify it.",
        ));
    }
    let normalized = mime::normalize(&ct);
    let written = store::store_payload(
        &mut tx,
        &secret.id,
        &stored,
        &normalized,
        encoding.as_deref(),
        &now,
    )
    .await
    .map_err(|e| Fault::store(OP, e))?;
    if !written {
        return Err(Fault::new(
            409,
            "Secret already has data, cannot modify it.",
        ));
    }
    tx.commit().await.map_err(|e| Fault::store(OP, e))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// oslo's `bool_from_string(strict=True)`.
fn strict_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "1" | "t" | "true" | "on" | "y" | "yes" => Some(true),
        "0" | "f" | "false" | "off" | "n" | "no" => Some(false),
        _ => None,
    }
}

async fn delete(
    state: &KmState,
    caller: &Caller,
    secret: &Secret,
    v: Microversion,
    raw_query: Option<&str>,
) -> Result<Response, Fault> {
    const OP: &str = "Secret deletion";
    let acls = acls::of(state, Entity::Secret, &secret.id, OP).await?;
    let target = acls::target(caller, &secret.project_id, &secret.creator_id, &acls);
    enforce(caller, Action::SecretDelete, Some(&target), OP)?;
    // From 1.2 a secret with consumers needs `force`; there are never
    // consumers here, but a malformed `force` is still refused.
    if v.at_least(2)
        && let Some(force) = Query::parse(raw_query).get("force")
        && strict_bool(force).is_none()
    {
        return Err(bad_query());
    }
    let mut tx = state.db.begin().await.map_err(|e| Fault::store(OP, e))?;
    store::lock_secret(&mut tx, &secret.id, &timefmt::now())
        .await
        .map_err(|e| Fault::store(OP, e))?
        .ok_or_else(|| Fault::new(404, "Secret not found."))?;
    store::delete_secret(&mut tx, &secret.id)
        .await
        .map_err(|e| Fault::store(OP, e))?;
    tx.commit().await.map_err(|e| Fault::store(OP, e))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid4_form() {
        assert!(is_uuid4("0f5d2b8e-3c0a-4d5e-9f1a-2b3c4d5e6f70"));
        assert!(!is_uuid4("0F5D2B8E-3C0A-4D5E-9F1A-2B3C4D5E6F70"));
        assert!(!is_uuid4("0f5d2b8e3c0a4d5e9f1a2b3c4d5e6f70"));
        assert!(!is_uuid4("0f5d2b8e-3c0a-1d5e-9f1a-2b3c4d5e6f70"));
        assert!(!is_uuid4("0f5d2b8e-3c0a-4d5e-cf1a-2b3c4d5e6f70"));
        assert!(!is_uuid4("nope"));
    }

    #[test]
    fn filters() {
        assert!(date_filter("gt:2026-01-01,lt:2027-01-01").is_some());
        assert!(date_filter("gt:2026-01-01,gte:2026-01-01").is_none());
        assert!(date_filter("2026-01-01,lte:2027-01-01").is_none());
        assert!(date_filter("gt:yesterday").is_none());
        assert!(sorting("name,created:desc").is_some());
        assert!(sorting("name:up").is_none());
        assert!(sorting("name,name").is_none());
        assert!(sorting("a:b:c").is_none());
        assert!(sorting("payload").is_none());
    }
}
