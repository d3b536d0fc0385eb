//! Who may call what. Keystone's defaults, reduced to what we serve: the
//! admin role may do anything; others may read themselves and their scope.

use crate::IdentityError;
use crate::authn::{ScopeData, TokenData};

/// Refuses anyone without the admin role, naming the policy as Keystone does.
pub fn require_admin(caller: &TokenData, action: &str) -> Result<(), IdentityError> {
    if caller.is_admin() {
        Ok(())
    } else {
        Err(IdentityError::forbidden_action(&format!(
            "identity:{action}"
        )))
    }
}

/// Admins, or the user acting on itself.
pub fn require_admin_or_self(
    caller: &TokenData,
    user_id: &str,
    action: &str,
) -> Result<(), IdentityError> {
    if caller.user_id() == user_id {
        Ok(())
    } else {
        require_admin(caller, action)
    }
}

/// Admins, or a token scoped to this project.
pub fn require_admin_or_project(
    caller: &TokenData,
    project_id: &str,
    action: &str,
) -> Result<(), IdentityError> {
    if caller.project_id() == Some(project_id) {
        Ok(())
    } else {
        require_admin(caller, action)
    }
}

/// Admins, or a token scoped to this domain or to a project in it.
pub fn require_admin_or_domain(
    caller: &TokenData,
    domain_id: &str,
    action: &str,
) -> Result<(), IdentityError> {
    let within = match &caller.scope {
        ScopeData::Domain(d) => d.id == domain_id,
        ScopeData::Project { domain, .. } => domain.id == domain_id,
        _ => false,
    };
    if within {
        Ok(())
    } else {
        require_admin(caller, action)
    }
}

/// Token validation and revocation: one's own tokens, or any for admins and
/// services (which validate their users' tokens).
pub fn may_inspect_token(caller: &TokenData, subject: &TokenData) -> bool {
    caller.user_id() == subject.user_id()
        || caller.is_admin()
        || caller.has_role(crate::SERVICE_ROLE)
}
