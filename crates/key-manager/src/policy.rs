//! Barbican's default policy (new defaults, enforced: oslo.policy's
//! `enforce_new_defaults` and `enforce_scope` are on), for the rules the
//! served routes use (`barbican/common/policies/{secrets,containers}.py`).
//!
//! Every rule wants a project-scoped token. Objects carry no ACLs here,
//! so `*_is_not_private` (read_project_access, true without ACLs) always
//! holds and `*_acl_read` never does. What follows:
//! - creating and listing take `member`; `reader` alone may do nothing;
//! - a member reads, decrypts, fills and deletes any secret and reads
//!   and deletes any container of their project;
//! - `admin` may read the metadata of, and delete, any project's secret,
//!   but decrypts and reads containers only in its own project.
//!   A member of another project is refused (403), not told "not found".

use crate::auth::Caller;
use crate::fault::Fault;

/// The object a rule is about.
pub struct Target<'a> {
    pub project_id: &'a str,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    SecretsPost,
    SecretsGet,
    SecretGet,
    SecretDecrypt,
    SecretPut,
    SecretDelete,
    ContainersPost,
    ContainersGet,
    ContainerGet,
    ContainerDelete,
}

fn allowed(caller: &Caller, action: Action, target: Option<&Target>) -> bool {
    let ctx = &caller.0;
    let Some(project) = ctx.project_id.as_deref() else {
        // scope_types=['project']
        return false;
    };
    let admin = ctx.has_role("admin");
    let member = ctx.has_role("member");
    let matches = target.is_some_and(|t| t.project_id == project);
    match action {
        Action::SecretsPost
        | Action::SecretsGet
        | Action::ContainersPost
        | Action::ContainersGet => member,
        // role:admin or secret_project_admin or (secret_project_member
        // and (secret_owner or secret_is_not_private)) or secret_acl_read
        Action::SecretGet | Action::SecretDelete => admin || (member && matches),
        // secret_project_admin or (secret_project_member and ...): both
        // need the project to match.
        Action::SecretDecrypt
        | Action::SecretPut
        | Action::ContainerGet
        | Action::ContainerDelete => (admin || member) && matches,
    }
}

/// `enforce_rbac`: a refusal is 403 with `handle_exceptions`' wording
/// for `operation`.
pub fn enforce(
    caller: &Caller,
    action: Action,
    target: Option<&Target>,
    operation: &str,
) -> Result<(), Fault> {
    if allowed(caller, action, target) {
        Ok(())
    } else {
        Err(Fault::forbidden(operation))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use neutrino_identity::AuthContext;

    fn caller(project: Option<&str>, roles: &[&str]) -> Caller {
        Caller(AuthContext {
            user_id: "u".into(),
            user_name: "u".into(),
            project_id: project.map(String::from),
            project_name: None,
            domain_id: None,
            roles: roles.iter().map(|r| r.to_string()).collect(),
            expires_at: String::new(),
        })
    }

    #[test]
    fn defaults() {
        let own = Target { project_id: "p" };
        let other = Target { project_id: "q" };
        let member = caller(Some("p"), &["member", "reader"]);
        let reader = caller(Some("p"), &["reader"]);
        let admin = caller(Some("p"), &["admin", "manager", "member", "reader"]);
        let unscoped = caller(None, &["admin", "member"]);
        for a in [
            Action::SecretGet,
            Action::SecretDecrypt,
            Action::SecretPut,
            Action::SecretDelete,
            Action::ContainerGet,
            Action::ContainerDelete,
        ] {
            assert!(allowed(&member, a, Some(&own)), "{a:?}");
            assert!(!allowed(&member, a, Some(&other)), "{a:?}");
            assert!(!allowed(&reader, a, Some(&own)), "{a:?}");
            assert!(!allowed(&unscoped, a, Some(&own)), "{a:?}");
        }
        for a in [
            Action::SecretsPost,
            Action::SecretsGet,
            Action::ContainersPost,
            Action::ContainersGet,
        ] {
            assert!(allowed(&member, a, None));
            assert!(!allowed(&reader, a, None));
        }
        assert!(allowed(&admin, Action::SecretGet, Some(&other)));
        assert!(allowed(&admin, Action::SecretDelete, Some(&other)));
        assert!(!allowed(&admin, Action::SecretDecrypt, Some(&other)));
        assert!(!allowed(&admin, Action::SecretPut, Some(&other)));
        assert!(!allowed(&admin, Action::ContainerGet, Some(&other)));
        assert!(!allowed(&admin, Action::ContainerDelete, Some(&other)));
    }
}
