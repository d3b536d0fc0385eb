//! Authentication: turning credentials into tokens, and tokens back into
//! who and what they stand for.

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::store::{self, DomainRow, ProjectRow, UserRow};
use crate::token::{self, Payload, Scope};
use crate::{ADMIN_ROLE, AuthContext, IdentityError, Inner, password};

type Result<T> = std::result::Result<T, IdentityError>;

/// A domain named in a request.
#[derive(Clone, Debug)]
pub enum DomainRef {
    Id(String),
    Name(String),
}

/// A user or project named in a request: by id, or by name within a domain.
#[derive(Clone, Debug)]
pub enum EntityRef {
    Id(String),
    Name(String, DomainRef),
}

#[derive(Clone, Debug)]
pub struct PasswordRequest {
    pub user: EntityRef,
    pub password: String,
}

#[derive(Clone, Debug)]
pub enum ScopeRequest {
    /// No scope given: the user's default project if usable, else unscoped.
    Default,
    /// `"scope": "unscoped"`.
    Unscoped,
    Project(EntityRef),
    Domain(DomainRef),
    System,
}

#[derive(Clone, Debug)]
pub struct AuthRequest {
    pub methods: Vec<String>,
    pub password: Option<PasswordRequest>,
    pub token: Option<String>,
    pub scope: ScopeRequest,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdName {
    pub id: String,
    pub name: String,
}

#[derive(Clone, Debug)]
pub enum ScopeData {
    Unscoped,
    Project {
        id: String,
        name: String,
        domain: IdName,
    },
    Domain(IdName),
    System,
}

/// A validated token with everything its rendering needs.
#[derive(Clone, Debug)]
pub struct TokenData {
    pub payload: Payload,
    pub user_name: String,
    pub user_domain: IdName,
    pub scope: ScopeData,
    /// Assigned roles first, then implied ones; no duplicates.
    pub roles: Vec<IdName>,
}

pub struct Issued {
    pub token: String,
    pub data: TokenData,
}

/// Keystone's timestamp format: `2026-11-22T02:56:22.000000Z`.
pub fn keystone_time(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S.000000Z")
        .to_string()
}

pub(crate) fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The revocation epoch that revokes every token of a user whose epoch is
/// `current` (password change, disable): past every epoch handed out so
/// far, and past the `issued_at` of every token without one.
pub(crate) fn revoking_epoch(current: i64) -> i64 {
    (now() + 1).max(current + 1)
}

impl TokenData {
    pub fn user_id(&self) -> &str {
        &self.payload.user_id
    }

    pub fn has_role(&self, name: &str) -> bool {
        self.roles.iter().any(|r| r.name == name)
    }

    pub fn is_admin(&self) -> bool {
        self.has_role(ADMIN_ROLE)
    }

    pub fn project_id(&self) -> Option<&str> {
        match &self.scope {
            ScopeData::Project { id, .. } => Some(id),
            _ => None,
        }
    }

    pub fn auth_context(&self) -> AuthContext {
        let (project_id, project_name, domain_id) = match &self.scope {
            ScopeData::Project { id, name, .. } => (Some(id.clone()), Some(name.clone()), None),
            ScopeData::Domain(d) => (None, None, Some(d.id.clone())),
            ScopeData::Unscoped | ScopeData::System => (None, None, None),
        };
        AuthContext {
            user_id: self.payload.user_id.clone(),
            user_name: self.user_name.clone(),
            project_id,
            project_name,
            domain_id,
            roles: self.roles.iter().map(|r| r.name.clone()).collect(),
            expires_at: keystone_time(self.payload.expires_at),
        }
    }

    /// The `token` object of Keystone's responses.
    pub fn to_json(&self, catalog: Option<Vec<Value>>) -> Value {
        let p = &self.payload;
        let mut t = json!({
            "methods": p.methods,
            "user": {
                "id": p.user_id,
                "name": self.user_name,
                "domain": {"id": self.user_domain.id, "name": self.user_domain.name},
                "password_expires_at": null,
            },
            "audit_ids": p.audit_ids(),
            "expires_at": keystone_time(p.expires_at),
            "issued_at": keystone_time(p.issued_at),
        });
        let scoped = match &self.scope {
            ScopeData::Unscoped => false,
            ScopeData::Project { id, name, domain } => {
                t["project"] = json!({"id": id, "name": name,
                                      "domain": {"id": domain.id, "name": domain.name}});
                t["is_domain"] = json!(false);
                true
            }
            ScopeData::Domain(d) => {
                t["domain"] = json!({"id": d.id, "name": d.name});
                true
            }
            ScopeData::System => {
                t["system"] = json!({"all": true});
                true
            }
        };
        if scoped {
            t["roles"] = self
                .roles
                .iter()
                .map(|r| json!({"id": r.id, "name": r.name}))
                .collect();
            if let Some(c) = catalog {
                t["catalog"] = Value::Array(c);
            }
        }
        t
    }
}

// ---------------------------------------------------------------- lookups

pub async fn find_domain(inner: &Inner, r: &DomainRef) -> Result<Option<DomainRow>> {
    Ok(match r {
        DomainRef::Id(id) => store::get_domain(&inner.db, id).await?,
        DomainRef::Name(n) => store::get_domain_by_name(&inner.db, n).await?,
    })
}

async fn find_user(inner: &Inner, r: &EntityRef) -> Result<Option<UserRow>> {
    Ok(match r {
        EntityRef::Id(id) => store::get_user(&inner.db, id).await?,
        EntityRef::Name(name, d) => match find_domain(inner, d).await? {
            Some(d) => store::get_user_by_name(&inner.db, &d.id, name).await?,
            None => None,
        },
    })
}

async fn find_project(inner: &Inner, r: &EntityRef) -> Result<Option<ProjectRow>> {
    Ok(match r {
        EntityRef::Id(id) => store::get_project(&inner.db, id).await?,
        EntityRef::Name(name, d) => match find_domain(inner, d).await? {
            Some(d) => store::get_project_by_name(&inner.db, &d.id, name).await?,
            None => None,
        },
    })
}

/// Roles held directly on the target, followed by those they imply.
pub async fn effective_roles(
    inner: &Inner,
    user_id: &str,
    kind: &str,
    target: &str,
) -> Result<Vec<IdName>> {
    let direct = store::direct_roles(&inner.db, user_id, kind, target).await?;
    if direct.is_empty() {
        return Ok(vec![]);
    }
    let mut roles: Vec<IdName> = direct
        .into_iter()
        .map(|r| IdName {
            id: r.id,
            name: r.name,
        })
        .collect();
    let edges = store::implied_role_edges(&inner.db).await?;
    let mut seen: HashSet<String> = roles.iter().map(|r| r.id.clone()).collect();
    // Breadth-first over the (tiny) implication graph; `seen` stops cycles.
    let mut i = 0;
    while i < roles.len() {
        let prior = roles[i].id.clone();
        for (p, id, name) in &edges {
            if *p == prior && seen.insert(id.clone()) {
                roles.push(IdName {
                    id: id.clone(),
                    name: name.clone(),
                });
            }
        }
        i += 1;
    }
    Ok(roles)
}

fn no_access(user_id: &str, what: &str, id: &str) -> IdentityError {
    IdentityError::Unauthorized(format!("User {user_id} has no access to {what} {id}"))
}

/// Checks that `user` may hold a token with `scope` right now, and gathers
/// what the token shows.
async fn resolve_scope(
    inner: &Inner,
    user: &UserRow,
    scope: &Scope,
) -> Result<(ScopeData, Vec<IdName>)> {
    match scope {
        Scope::Unscoped => Ok((ScopeData::Unscoped, vec![])),
        Scope::Project(pid) => {
            let project = store::get_project(&inner.db, pid)
                .await?
                .filter(|p| p.enabled)
                .ok_or_else(|| no_access(&user.id, "project", pid))?;
            let domain = store::get_domain(&inner.db, &project.domain_id)
                .await?
                .filter(|d| d.enabled)
                .ok_or_else(|| no_access(&user.id, "project", pid))?;
            let roles = effective_roles(inner, &user.id, store::TARGET_PROJECT, pid).await?;
            if roles.is_empty() {
                return Err(no_access(&user.id, "project", pid));
            }
            let scope = ScopeData::Project {
                id: project.id,
                name: project.name,
                domain: IdName {
                    id: domain.id,
                    name: domain.name,
                },
            };
            Ok((scope, roles))
        }
        Scope::Domain(did) => {
            let domain = store::get_domain(&inner.db, did)
                .await?
                .filter(|d| d.enabled)
                .ok_or_else(|| no_access(&user.id, "domain", did))?;
            let roles = effective_roles(inner, &user.id, store::TARGET_DOMAIN, did).await?;
            if roles.is_empty() {
                return Err(no_access(&user.id, "domain", did));
            }
            Ok((
                ScopeData::Domain(IdName {
                    id: domain.id,
                    name: domain.name,
                }),
                roles,
            ))
        }
        Scope::System => {
            let roles =
                effective_roles(inner, &user.id, store::TARGET_SYSTEM, store::SYSTEM_ALL).await?;
            if roles.is_empty() {
                return Err(no_access(&user.id, "system", store::SYSTEM_ALL));
            }
            Ok((ScopeData::System, roles))
        }
    }
}

/// The user, if it exists and may authenticate (enabled, in an enabled
/// domain), with its domain.
async fn active_user(inner: &Inner, user: Option<UserRow>) -> Result<(UserRow, DomainRow)> {
    let user = user
        .filter(|u| u.enabled)
        .ok_or_else(IdentityError::unauthorized)?;
    let domain = store::get_domain(&inner.db, &user.domain_id)
        .await?
        .filter(|d| d.enabled)
        .ok_or_else(IdentityError::unauthorized)?;
    Ok((user, domain))
}

// ---------------------------------------------------------------- issue

pub async fn issue_password_token(
    inner: &Inner,
    creds: &PasswordRequest,
    scope: &ScopeRequest,
) -> Result<Issued> {
    issue(
        inner,
        &AuthRequest {
            methods: vec!["password".into()],
            password: Some(creds.clone()),
            token: None,
            scope: scope.clone(),
        },
    )
    .await
}

pub async fn issue(inner: &Inner, req: &AuthRequest) -> Result<Issued> {
    if req.methods.is_empty() {
        return Err(IdentityError::BadRequest(
            "Invalid input for field 'identity/methods': [] is too short".into(),
        ));
    }
    if let Some(m) = req
        .methods
        .iter()
        .find(|m| *m != "password" && *m != "token")
    {
        tracing::debug!(method = %m, "unsupported auth method");
        return Err(IdentityError::Unauthorized(
            "Attempted to authenticate with an unsupported method.".into(),
        ));
    }
    let mut user: Option<UserRow> = None;
    let mut expires_at = now() + inner.config.token_ttl_secs;
    let mut chain: Option<String> = None;
    // A token made from another cannot outlive it on a password change.
    let mut inherited_epoch: Option<i64> = None;

    if req.methods.iter().any(|m| m == "password") {
        let creds = req.password.as_ref().ok_or_else(|| {
            IdentityError::BadRequest("Expecting to find password in identity.".into())
        })?;
        let found = find_user(inner, &creds.user).await?;
        if !password::verify(
            &creds.password,
            found.as_ref().and_then(|u| u.password_hash.as_deref()),
        )
        .await
        {
            return Err(IdentityError::unauthorized());
        }
        user = found;
    }
    if req.methods.iter().any(|m| m == "token") {
        let id = req.token.as_deref().ok_or_else(|| {
            IdentityError::BadRequest("Expecting to find token in identity.".into())
        })?;
        let original = validate(inner, id).await?;
        if user
            .as_ref()
            .is_some_and(|u| u.id != original.payload.user_id)
        {
            return Err(IdentityError::unauthorized());
        }
        if user.is_none() {
            user = store::get_user(&inner.db, &original.payload.user_id).await?;
        }
        // An exchanged token cannot outlive the one it came from.
        expires_at = expires_at.min(original.payload.expires_at);
        inherited_epoch = Some(original.payload.effective_epoch());
        chain = Some(
            original
                .payload
                .audit_chain_id
                .clone()
                .unwrap_or(original.payload.audit_id.clone()),
        );
    }
    let (user, user_domain) = active_user(inner, user).await?;

    let scope = match &req.scope {
        ScopeRequest::Unscoped => Scope::Unscoped,
        ScopeRequest::System => Scope::System,
        ScopeRequest::Default => default_scope(inner, &user).await?,
        ScopeRequest::Project(r) => match find_project(inner, r).await? {
            Some(p) => Scope::Project(p.id),
            None => {
                return Err(IdentityError::Unauthorized(match r {
                    EntityRef::Id(id) => format!("Could not find project: {id}."),
                    EntityRef::Name(n, _) => format!("Could not find project: {n}."),
                }));
            }
        },
        ScopeRequest::Domain(r) => match find_domain(inner, r).await? {
            Some(d) => Scope::Domain(d.id),
            None => return Err(IdentityError::Unauthorized("Could not find domain.".into())),
        },
    };
    let (scope_data, roles) = resolve_scope(inner, &user, &scope).await?;
    let mut methods = req.methods.clone();
    methods.dedup();
    let mut payload = Payload::new(user.id.clone(), scope, methods, now(), expires_at);
    payload.audit_chain_id = chain;
    // The epoch of the row the credentials were checked against: a
    // password change committed since then already revokes this token.
    let epoch = user.revoked_before;
    payload.user_epoch = Some(inherited_epoch.map_or(epoch, |e| e.min(epoch)));
    let token = token::encode(&payload, &inner.config.token_secret);
    let data = TokenData {
        payload,
        user_name: user.name,
        user_domain: IdName {
            id: user_domain.id,
            name: user_domain.name,
        },
        scope: scope_data,
        roles,
    };
    Ok(Issued { token, data })
}

/// Keystone scopes a token that asks for no scope to the user's default
/// project when the user has a role there, and leaves it unscoped otherwise.
async fn default_scope(inner: &Inner, user: &UserRow) -> Result<Scope> {
    if let Some(pid) = &user.default_project_id {
        let scope = Scope::Project(pid.clone());
        if resolve_scope(inner, user, &scope).await.is_ok() {
            return Ok(scope);
        }
    }
    Ok(Scope::Unscoped)
}

// ---------------------------------------------------------------- validate

pub async fn validate(inner: &Inner, token: &str) -> Result<Arc<TokenData>> {
    let now = now();
    // Read first: everything read below is at least this new.
    let epoch = match inner.cache.enabled() {
        true => Some(store::epoch(&inner.db).await?),
        false => None,
    };
    if let Some(data) = epoch.and_then(|e| inner.cache.get(e, token)) {
        return if data.payload.expires_at > now {
            Ok(data)
        } else {
            Err(IdentityError::unauthorized())
        };
    }
    let payload =
        token::decode(token, &inner.config.token_secret).ok_or_else(IdentityError::unauthorized)?;
    if payload.expires_at <= now {
        return Err(IdentityError::unauthorized());
    }
    if store::is_revoked(
        &inner.db,
        &payload.audit_id,
        payload.audit_chain_id.as_deref(),
    )
    .await?
    {
        return Err(IdentityError::unauthorized());
    }
    let user = store::get_user(&inner.db, &payload.user_id).await?;
    let (user, user_domain) = active_user(inner, user).await?;
    if payload.effective_epoch() < user.revoked_before {
        return Err(IdentityError::unauthorized());
    }
    let (scope, roles) = resolve_scope(inner, &user, &payload.scope)
        .await
        .map_err(|e| {
            if e.is_auth_failure() {
                IdentityError::unauthorized()
            } else {
                e
            }
        })?;
    let data = Arc::new(TokenData {
        payload,
        user_name: user.name,
        user_domain: IdName {
            id: user_domain.id,
            name: user_domain.name,
        },
        scope,
        roles,
    });
    if let Some(epoch) = epoch {
        inner.cache.insert(epoch, token, data.clone());
    }
    Ok(data)
}

pub async fn revoke(inner: &Inner, data: &TokenData) -> Result<()> {
    store::revoke_token(&inner.db, &data.payload.audit_id, data.payload.expires_at).await?;
    // Records of expired tokens are useless (expiry alone refuses them);
    // dropping them here keeps the table small without a background task.
    store::prune_revocations(&inner.db, now()).await?;
    Ok(())
}

/// A new Keystone-style id: 32 hex digits.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}
