//! Role assignments: grants of a role to a user on a project, a domain or
//! the system, and `/v3/role_assignments` to query them.

use std::collections::{HashMap, HashSet};

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::get;
use serde_json::{Value, json};

use super::roles::role_json;
use super::{AppState, Query, caller, list_links, query_bool, query_str, v3_url};
use crate::policy::require_admin;
use crate::store::{
    self, AssignmentFilter, AssignmentRow, RoleRow, TARGET_DOMAIN, TARGET_PROJECT, TARGET_SYSTEM,
};
use crate::{IdentityError, Inner};

type Result<T> = std::result::Result<T, IdentityError>;

pub fn routes() -> Router<std::sync::Arc<Inner>> {
    Router::new()
        .route(
            "/v3/projects/{target}/users/{user_id}/roles",
            get(list_project),
        )
        .route(
            "/v3/projects/{target}/users/{user_id}/roles/{role_id}",
            get(check_project).put(grant_project).delete(revoke_project),
        )
        .route(
            "/v3/domains/{target}/users/{user_id}/roles",
            get(list_domain),
        )
        .route(
            "/v3/domains/{target}/users/{user_id}/roles/{role_id}",
            get(check_domain).put(grant_domain).delete(revoke_domain),
        )
        .route("/v3/system/users/{user_id}/roles", get(list_system))
        .route(
            "/v3/system/users/{user_id}/roles/{role_id}",
            get(check_system).put(grant_system).delete(revoke_system),
        )
        .route("/v3/role_assignments", get(list_assignments))
}

/// Checks that the target exists (404 otherwise).
async fn check_target(inner: &Inner, kind: &str, target: &str) -> Result<()> {
    match kind {
        TARGET_PROJECT => super::projects::load(inner, target).await.map(drop),
        TARGET_DOMAIN => super::domains::load(inner, target).await.map(drop),
        _ => Ok(()),
    }
}

fn assignment_path(kind: &str, target: &str, user: &str, role: &str) -> String {
    match kind {
        TARGET_SYSTEM => format!("/system/users/{user}/roles/{role}"),
        _ => format!("/{kind}s/{target}/users/{user}/roles/{role}"),
    }
}

fn assignment_not_found(role: &str, user: &str, target: &str) -> IdentityError {
    IdentityError::NotFound(format!(
        "Could not find role assignment with role: {role}, user or group: {user}, project, domain, or system: {target}."
    ))
}

async fn list_roles(
    inner: &Inner,
    headers: &HeaderMap,
    uri: &Uri,
    kind: &str,
    target: &str,
    user: &str,
) -> Result<Json<Value>> {
    require_admin(caller(inner, headers).await?.as_ref(), "list_grants")?;
    check_target(inner, kind, target).await?;
    super::users::load(inner, user).await?;
    let roles = store::direct_roles(&inner.db, user, kind, target).await?;
    let roles: Vec<Value> = roles.iter().map(|r| role_json(inner, r)).collect();
    Ok(Json(
        json!({"roles": roles, "links": list_links(inner, uri)}),
    ))
}

async fn check(
    inner: &Inner,
    headers: &HeaderMap,
    kind: &str,
    target: &str,
    user: &str,
    role: &str,
) -> Result<StatusCode> {
    require_admin(caller(inner, headers).await?.as_ref(), "check_grant")?;
    check_target(inner, kind, target).await?;
    super::users::load(inner, user).await?;
    super::roles::load(inner, role).await?;
    let filter = AssignmentFilter {
        user_id: Some(user),
        target_kind: Some(kind),
        target_id: Some(target),
        role_id: Some(role),
    };
    if store::list_assignments(&inner.db, &filter)
        .await?
        .is_empty()
    {
        return Err(assignment_not_found(role, user, target));
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn grant(
    inner: &Inner,
    headers: &HeaderMap,
    kind: &str,
    target: &str,
    user: &str,
    role: &str,
) -> Result<StatusCode> {
    require_admin(caller(inner, headers).await?.as_ref(), "create_grant")?;
    check_target(inner, kind, target).await?;
    super::users::load(inner, user).await?;
    super::roles::load(inner, role).await?;
    // Granting twice is not an error in Keystone.
    store::grant(&inner.db, user, kind, target, role).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn revoke(
    inner: &Inner,
    headers: &HeaderMap,
    kind: &str,
    target: &str,
    user: &str,
    role: &str,
) -> Result<StatusCode> {
    require_admin(caller(inner, headers).await?.as_ref(), "revoke_grant")?;
    check_target(inner, kind, target).await?;
    super::users::load(inner, user).await?;
    super::roles::load(inner, role).await?;
    if !store::revoke_grant(&inner.db, user, kind, target, role).await? {
        return Err(assignment_not_found(role, user, target));
    }
    Ok(StatusCode::NO_CONTENT)
}

type TargetUser = Path<(String, String)>;
type TargetUserRole = Path<(String, String, String)>;

async fn list_project(
    State(i): AppState,
    h: HeaderMap,
    uri: Uri,
    Path((t, u)): TargetUser,
) -> Result<Json<Value>> {
    list_roles(&i, &h, &uri, TARGET_PROJECT, &t, &u).await
}
async fn check_project(
    State(i): AppState,
    h: HeaderMap,
    Path((t, u, r)): TargetUserRole,
) -> Result<StatusCode> {
    check(&i, &h, TARGET_PROJECT, &t, &u, &r).await
}
async fn grant_project(
    State(i): AppState,
    h: HeaderMap,
    Path((t, u, r)): TargetUserRole,
) -> Result<StatusCode> {
    grant(&i, &h, TARGET_PROJECT, &t, &u, &r).await
}
async fn revoke_project(
    State(i): AppState,
    h: HeaderMap,
    Path((t, u, r)): TargetUserRole,
) -> Result<StatusCode> {
    revoke(&i, &h, TARGET_PROJECT, &t, &u, &r).await
}
async fn list_domain(
    State(i): AppState,
    h: HeaderMap,
    uri: Uri,
    Path((t, u)): TargetUser,
) -> Result<Json<Value>> {
    list_roles(&i, &h, &uri, TARGET_DOMAIN, &t, &u).await
}
async fn check_domain(
    State(i): AppState,
    h: HeaderMap,
    Path((t, u, r)): TargetUserRole,
) -> Result<StatusCode> {
    check(&i, &h, TARGET_DOMAIN, &t, &u, &r).await
}
async fn grant_domain(
    State(i): AppState,
    h: HeaderMap,
    Path((t, u, r)): TargetUserRole,
) -> Result<StatusCode> {
    grant(&i, &h, TARGET_DOMAIN, &t, &u, &r).await
}
async fn revoke_domain(
    State(i): AppState,
    h: HeaderMap,
    Path((t, u, r)): TargetUserRole,
) -> Result<StatusCode> {
    revoke(&i, &h, TARGET_DOMAIN, &t, &u, &r).await
}
async fn list_system(
    State(i): AppState,
    h: HeaderMap,
    uri: Uri,
    Path(u): Path<String>,
) -> Result<Json<Value>> {
    list_roles(&i, &h, &uri, TARGET_SYSTEM, store::SYSTEM_ALL, &u).await
}
async fn check_system(
    State(i): AppState,
    h: HeaderMap,
    Path((u, r)): TargetUser,
) -> Result<StatusCode> {
    check(&i, &h, TARGET_SYSTEM, store::SYSTEM_ALL, &u, &r).await
}
async fn grant_system(
    State(i): AppState,
    h: HeaderMap,
    Path((u, r)): TargetUser,
) -> Result<StatusCode> {
    grant(&i, &h, TARGET_SYSTEM, store::SYSTEM_ALL, &u, &r).await
}
async fn revoke_system(
    State(i): AppState,
    h: HeaderMap,
    Path((u, r)): TargetUser,
) -> Result<StatusCode> {
    revoke(&i, &h, TARGET_SYSTEM, store::SYSTEM_ALL, &u, &r).await
}

// ---------------------------------------------------------------- /v3/role_assignments

/// One row of the listing: an assignment, and for an effective listing the
/// role it was implied by.
struct Listed {
    row: AssignmentRow,
    prior_role: Option<String>,
}

/// Adds, after each assignment, the roles it implies (transitively).
fn expand_implied(rows: Vec<AssignmentRow>, rules: &[(String, String)]) -> Vec<Listed> {
    let mut out = Vec::new();
    let mut seen: HashSet<(String, String, String, String)> = HashSet::new();
    let key = |r: &AssignmentRow| {
        (
            r.user_id.clone(),
            r.target_kind.clone(),
            r.target_id.clone(),
            r.role_id.clone(),
        )
    };
    for row in &rows {
        seen.insert(key(row));
    }
    for row in rows {
        let mut frontier = vec![row.role_id.clone()];
        out.push(Listed {
            row: row.clone(),
            prior_role: None,
        });
        while let Some(prior) = frontier.pop() {
            for (_, implied) in rules.iter().filter(|(p, _)| *p == prior) {
                let derived = AssignmentRow {
                    role_id: implied.clone(),
                    ..row.clone()
                };
                if seen.insert(key(&derived)) {
                    frontier.push(implied.clone());
                    out.push(Listed {
                        row: derived,
                        prior_role: Some(prior.clone()),
                    });
                }
            }
        }
    }
    out
}

/// Names for `include_names`, looked up once each.
#[derive(Default)]
struct Names {
    roles: HashMap<String, Option<RoleRow>>,
    users: HashMap<String, Option<(String, String)>>,
    projects: HashMap<String, Option<(String, String)>>,
    domains: HashMap<String, Option<String>>,
}

impl Names {
    async fn domain(&mut self, inner: &Inner, id: &str) -> Result<Value> {
        if !self.domains.contains_key(id) {
            let d = store::get_domain(&inner.db, id).await?.map(|d| d.name);
            self.domains.insert(id.into(), d);
        }
        Ok(json!({"id": id, "name": self.domains[id]}))
    }

    async fn role(&mut self, inner: &Inner, id: &str) -> Result<Value> {
        if !self.roles.contains_key(id) {
            let r = store::get_role(&inner.db, id).await?;
            self.roles.insert(id.into(), r);
        }
        let domain_id = match &self.roles[id] {
            Some(r) if !r.domain_id.is_empty() => Some(r.domain_id.clone()),
            _ => None,
        };
        let mut v = json!({"id": id, "name": self.roles[id].as_ref().map(|r| r.name.clone())});
        if let Some(d) = domain_id {
            v["domain"] = self.domain(inner, &d).await?;
        }
        Ok(v)
    }

    async fn user(&mut self, inner: &Inner, id: &str) -> Result<Value> {
        if !self.users.contains_key(id) {
            let u = store::get_user(&inner.db, id)
                .await?
                .map(|u| (u.name, u.domain_id));
            self.users.insert(id.into(), u);
        }
        match self.users[id].clone() {
            Some((name, domain_id)) => {
                Ok(json!({"id": id, "name": name, "domain": self.domain(inner, &domain_id).await?}))
            }
            None => Ok(json!({"id": id})),
        }
    }

    async fn project(&mut self, inner: &Inner, id: &str) -> Result<Value> {
        if !self.projects.contains_key(id) {
            let p = store::get_project(&inner.db, id)
                .await?
                .map(|p| (p.name, p.domain_id));
            self.projects.insert(id.into(), p);
        }
        match self.projects[id].clone() {
            Some((name, domain_id)) => {
                Ok(json!({"id": id, "name": name, "domain": self.domain(inner, &domain_id).await?}))
            }
            None => Ok(json!({"id": id})),
        }
    }
}

async fn list_assignments(
    State(inner): AppState,
    headers: HeaderMap,
    q: Query,
    uri: Uri,
) -> Result<Json<Value>> {
    require_admin(
        caller(&inner, &headers).await?.as_ref(),
        "list_role_assignments",
    )?;
    let links = list_links(&inner, &uri);
    // No groups and no inherited assignments here: such queries match nothing.
    if q.contains_key("group.id") || q.contains_key("scope.OS-INHERIT:inherited_to") {
        return Ok(Json(json!({"role_assignments": [], "links": links})));
    }
    let effective = query_bool(&q, "effective").unwrap_or(false);
    let include_names = query_bool(&q, "include_names").unwrap_or(false);
    let (kind, target) = if let Some(p) = query_str(&q, "scope.project.id") {
        (Some(TARGET_PROJECT), Some(p))
    } else if let Some(d) = query_str(&q, "scope.domain.id") {
        (Some(TARGET_DOMAIN), Some(d))
    } else if q.contains_key("scope.system") {
        (Some(TARGET_SYSTEM), Some(store::SYSTEM_ALL))
    } else {
        (None, None)
    };
    let role_filter = query_str(&q, "role.id");
    let filter = AssignmentFilter {
        user_id: query_str(&q, "user.id"),
        target_kind: kind,
        target_id: target,
        // With effective, a role may be held by implication: filter later.
        role_id: if effective { None } else { role_filter },
    };
    let rows = store::list_assignments(&inner.db, &filter).await?;
    let listed = if effective {
        expand_implied(rows, &store::list_implied_roles(&inner.db).await?)
    } else {
        rows.into_iter()
            .map(|row| Listed {
                row,
                prior_role: None,
            })
            .collect()
    };

    let mut names = Names::default();
    let mut out = Vec::new();
    for Listed { row, prior_role } in listed {
        if role_filter.is_some_and(|r| r != row.role_id) {
            continue;
        }
        let (role, user, scope_target) = if include_names {
            let scope_target = match row.target_kind.as_str() {
                TARGET_PROJECT => names.project(&inner, &row.target_id).await?,
                TARGET_DOMAIN => names.domain(&inner, &row.target_id).await?,
                _ => Value::Null,
            };
            (
                names.role(&inner, &row.role_id).await?,
                names.user(&inner, &row.user_id).await?,
                scope_target,
            )
        } else {
            (
                json!({"id": row.role_id}),
                json!({"id": row.user_id}),
                json!({"id": row.target_id}),
            )
        };
        let scope = match row.target_kind.as_str() {
            TARGET_SYSTEM => json!({"system": {"all": true}}),
            kind => json!({ kind: scope_target }),
        };
        let assigned_role = prior_role.as_deref().unwrap_or(&row.role_id);
        let mut links = json!({"assignment": v3_url(&inner, &assignment_path(&row.target_kind, &row.target_id, &row.user_id, assigned_role))});
        if let Some(prior) = &prior_role {
            // Keystone's (odd) form of this link, reproduced as is.
            links["prior_role"] = json!(v3_url(
                &inner,
                &format!("/prior_role/{}/implies/{prior}", row.role_id)
            ));
        }
        out.push(json!({"role": role, "user": user, "scope": scope, "links": links}));
    }
    Ok(Json(json!({"role_assignments": out, "links": links})))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(role: &str) -> AssignmentRow {
        AssignmentRow {
            user_id: "u".into(),
            target_kind: "project".into(),
            target_id: "p".into(),
            role_id: role.into(),
        }
    }

    #[test]
    fn implied_roles_expand_transitively_without_duplicates() {
        let rules = vec![
            ("admin".to_string(), "member".to_string()),
            ("member".into(), "reader".into()),
        ];
        let out = expand_implied(vec![row("admin"), row("member")], &rules);
        let roles: Vec<(&str, Option<&str>)> = out
            .iter()
            .map(|l| (l.row.role_id.as_str(), l.prior_role.as_deref()))
            .collect();
        assert_eq!(
            roles,
            [
                ("admin", None),
                ("member", None),
                ("reader", Some("member"))
            ]
        );
        let only_admin = expand_implied(vec![row("admin")], &rules);
        let roles: Vec<(&str, Option<&str>)> = only_admin
            .iter()
            .map(|l| (l.row.role_id.as_str(), l.prior_role.as_deref()))
            .collect();
        assert_eq!(
            roles,
            [
                ("admin", None),
                ("member", Some("admin")),
                ("reader", Some("member"))
            ]
        );
    }

    #[test]
    fn cycles_terminate() {
        let rules = vec![("a".to_string(), "b".to_string()), ("b".into(), "a".into())];
        let out = expand_implied(vec![row("a")], &rules);
        assert_eq!(out.len(), 2);
    }
}
