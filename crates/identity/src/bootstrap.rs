//! Setting up a fresh deployment: the default domain, the standard roles
//! and their implications, the admin and service projects, the admin user.
//! Every step tolerates having been done before (or concurrently by another
//! server sharing the database).

use crate::authn::new_id;
use crate::store::{self, DomainRow, ProjectRow, RoleRow, UserRow};
use crate::{
    ADMIN_ROLE, BootstrapOutcome, BootstrapParams, DEFAULT_DOMAIN_ID, DEFAULT_DOMAIN_NAME,
    IdentityError, Inner, MANAGER_ROLE, MEMBER_ROLE, READER_ROLE, password,
};

type Result<T> = std::result::Result<T, IdentityError>;

async fn ensure_role(inner: &Inner, name: &str) -> Result<String> {
    if let Some(r) = store::get_role_by_name(&inner.db, name).await? {
        return Ok(r.id);
    }
    let row = RoleRow {
        id: new_id(),
        name: name.into(),
        domain_id: String::new(),
        description: None,
    };
    match store::insert_role(&inner.db, &row).await {
        Ok(()) => Ok(row.id),
        // Another server bootstrapping at the same time won the race.
        Err(e) if e.is_unique_violation() => store::get_role_by_name(&inner.db, name)
            .await?
            .map(|r| r.id)
            .ok_or_else(|| IdentityError::Internal(format!("role {name} vanished"))),
        Err(e) => Err(e.into()),
    }
}

async fn ensure_project(inner: &Inner, name: &str, description: &str) -> Result<String> {
    if let Some(p) = store::get_project_by_name(&inner.db, DEFAULT_DOMAIN_ID, name).await? {
        return Ok(p.id);
    }
    let row = ProjectRow {
        id: new_id(),
        domain_id: DEFAULT_DOMAIN_ID.into(),
        name: name.into(),
        description: description.into(),
        enabled: true,
        parent_id: None,
        tags: "[]".into(),
    };
    match store::insert_project(&inner.db, &row).await {
        Ok(()) => Ok(row.id),
        Err(e) if e.is_unique_violation() => {
            store::get_project_by_name(&inner.db, DEFAULT_DOMAIN_ID, name)
                .await?
                .map(|p| p.id)
                .ok_or_else(|| IdentityError::Internal(format!("project {name} vanished")))
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn bootstrap(inner: &Inner, p: &BootstrapParams) -> Result<BootstrapOutcome> {
    if p.admin_user.is_empty() || p.admin_password.is_empty() || p.admin_project.is_empty() {
        return Err(IdentityError::BadRequest(
            "bootstrap needs an admin user name, password and project".into(),
        ));
    }
    if store::get_domain(&inner.db, DEFAULT_DOMAIN_ID)
        .await?
        .is_none()
    {
        let d = DomainRow {
            id: DEFAULT_DOMAIN_ID.into(),
            name: DEFAULT_DOMAIN_NAME.into(),
            description: "The default domain".into(),
            enabled: true,
            tags: "[]".into(),
        };
        if let Err(e) = store::insert_domain(&inner.db, &d).await
            && !e.is_unique_violation()
        {
            return Err(e.into());
        }
    }
    let admin_role_id = ensure_role(inner, ADMIN_ROLE).await?;
    let member_role_id = ensure_role(inner, MEMBER_ROLE).await?;
    let reader_role_id = ensure_role(inner, READER_ROLE).await?;
    // Keystone's bootstrap chain: admin ⇒ manager ⇒ member ⇒ reader.
    let manager_role_id = ensure_role(inner, MANAGER_ROLE).await?;
    store::add_implied_role(&inner.db, &admin_role_id, &manager_role_id).await?;
    store::add_implied_role(&inner.db, &manager_role_id, &member_role_id).await?;
    store::add_implied_role(&inner.db, &member_role_id, &reader_role_id).await?;
    for name in &p.extra_roles {
        ensure_role(inner, name).await?;
    }
    let admin_project_id = ensure_project(
        inner,
        &p.admin_project,
        "Bootstrap project for initializing the cloud.",
    )
    .await?;
    let service_project_id = if p.service_project.is_empty() {
        String::new()
    } else {
        ensure_project(inner, &p.service_project, "Service project").await?
    };

    let existing = store::get_user_by_name(&inner.db, DEFAULT_DOMAIN_ID, &p.admin_user).await?;
    let created_admin = existing.is_none();
    let admin_user_id = match existing {
        Some(mut u) => {
            let same = password::verify(&p.admin_password, u.password_hash.as_deref()).await;
            if !same || !u.enabled {
                if !same {
                    u.password_hash = Some(password::hash(&p.admin_password).await?);
                    // As Keystone does on a password change: older tokens die.
                    u.revoked_before = crate::authn::revoking_epoch(u.revoked_before);
                }
                u.enabled = true;
                store::update_user(&inner.db, &u).await?;
            }
            u.id
        }
        None => {
            let u = UserRow {
                id: new_id(),
                domain_id: DEFAULT_DOMAIN_ID.into(),
                name: p.admin_user.clone(),
                enabled: true,
                password_hash: Some(password::hash(&p.admin_password).await?),
                default_project_id: None,
                extra: "{}".into(),
                revoked_before: 0,
            };
            store::insert_user(&inner.db, &u).await?;
            u.id
        }
    };
    store::grant(
        &inner.db,
        &admin_user_id,
        store::TARGET_PROJECT,
        &admin_project_id,
        &admin_role_id,
    )
    .await?;
    // Keystone's bootstrap also makes the admin a system admin.
    store::grant(
        &inner.db,
        &admin_user_id,
        store::TARGET_SYSTEM,
        store::SYSTEM_ALL,
        &admin_role_id,
    )
    .await?;
    if !p.region.is_empty() {
        store::ensure_region(&inner.db, &p.region).await?;
    }
    Ok(BootstrapOutcome {
        admin_user_id,
        admin_project_id,
        service_project_id,
        admin_role_id,
        member_role_id,
        reader_role_id,
        created_admin,
    })
}
