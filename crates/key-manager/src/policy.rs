//! Barbican's default policy (new defaults, enforced: oslo.policy's
//! `enforce_new_defaults` and `enforce_scope` are on), for the rules the
//! served routes use (`barbican/common/policies/{secrets,containers,
//! acls}.py`).
//!
//! Every rule wants a project-scoped token. What follows:
//! - creating and listing take `member`; `reader` alone may do nothing;
//! - a member reads, decrypts, fills and deletes the secrets and reads
//!   and deletes the containers of their project, unless the object is
//!   private (its read ACL has `project-access: false`): then only its
//!   creator and the project's admins may;
//! - a user named in an object's read ACL reads it (secret metadata and
//!   payload, container) from any project, whatever their roles;
//! - `admin` may read the metadata of, and delete, any project's secret,
//!   but decrypts and reads containers only in its own project;
//! - ACLs are read and set by the object's creator (a member) and its
//!   project's admins only: upstream's ACL controllers leave
//!   `read_project_access` out of the policy target, so `*_is_not_private`
//!   never holds for them.
//!
//! A member of another project is refused (403), not told "not found".

use crate::auth::Caller;
use crate::fault::Fault;

/// The object a rule is about, with what its ACLs say for this caller
/// (upstream's `get_acl_tuple`).
pub struct Target<'a> {
    pub project_id: &'a str,
    pub creator_id: &'a str,
    /// `read_project_access`: true without a read ACL.
    pub not_private: bool,
    /// The caller is among the read ACL's users.
    pub acl_read: bool,
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
    /// `secret_acls:*` and `container_acls:*` (get, put_patch, delete:
    /// one rule).
    AclGet,
    AclPutPatch,
    AclDelete,
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
    let owner = target.is_some_and(|t| t.creator_id == ctx.user_id);
    let not_private = target.is_some_and(|t| t.not_private);
    let acl_read = target.is_some_and(|t| t.acl_read);
    // secret_project_admin or (secret_project_member and (secret_owner
    // or secret_is_not_private)), and the same for containers.
    let project_rule = matches && (admin || (member && (owner || not_private)));
    match action {
        Action::SecretsPost
        | Action::SecretsGet
        | Action::ContainersPost
        | Action::ContainersGet => member,
        Action::SecretGet => admin || project_rule || acl_read,
        Action::SecretDelete => admin || project_rule,
        Action::SecretDecrypt | Action::ContainerGet => project_rule || acl_read,
        Action::SecretPut | Action::ContainerDelete => project_rule,
        // Without `read_project_access` in the target: owner or admin.
        Action::AclGet | Action::AclPutPatch | Action::AclDelete => {
            matches && (admin || (member && owner))
        }
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
        caller_as("u", project, roles)
    }

    fn caller_as(user: &str, project: Option<&str>, roles: &[&str]) -> Caller {
        Caller(AuthContext {
            user_id: user.into(),
            user_name: "u".into(),
            project_id: project.map(String::from),
            project_name: None,
            domain_id: None,
            roles: roles.iter().map(|r| r.to_string()).collect(),
            expires_at: String::new(),
        })
    }

    fn target<'a>(project: &'a str, creator: &'a str, not_private: bool, acl: bool) -> Target<'a> {
        Target {
            project_id: project,
            creator_id: creator,
            not_private,
            acl_read: acl,
        }
    }

    #[test]
    fn defaults() {
        // Created by someone else, no ACL.
        let own = target("p", "c", true, false);
        let other = target("q", "c", true, false);
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

    #[test]
    fn private_objects_and_read_acls() {
        let member = caller(Some("p"), &["member", "reader"]);
        let creator = caller_as("c", Some("p"), &["member", "reader"]);
        let project_admin = caller(Some("p"), &["admin", "member", "reader"]);
        let admin_elsewhere = caller(Some("q"), &["admin", "member", "reader"]);
        let private = target("p", "c", false, false);
        for a in [
            Action::SecretGet,
            Action::SecretDecrypt,
            Action::SecretPut,
            Action::SecretDelete,
            Action::ContainerGet,
            Action::ContainerDelete,
        ] {
            assert!(!allowed(&member, a, Some(&private)), "{a:?}");
            assert!(allowed(&creator, a, Some(&private)), "{a:?}");
            assert!(allowed(&project_admin, a, Some(&private)), "{a:?}");
        }
        assert!(allowed(&admin_elsewhere, Action::SecretGet, Some(&private)));
        assert!(!allowed(
            &admin_elsewhere,
            Action::SecretDecrypt,
            Some(&private)
        ));

        // Named in the read ACL: reads from anywhere, with any role, but
        // changes nothing.
        let reader_elsewhere = caller(Some("q"), &["reader"]);
        let shared = target("p", "c", false, true);
        for a in [
            Action::SecretGet,
            Action::SecretDecrypt,
            Action::ContainerGet,
        ] {
            assert!(allowed(&reader_elsewhere, a, Some(&shared)), "{a:?}");
            assert!(allowed(&member, a, Some(&shared)), "{a:?}");
        }
        for a in [
            Action::SecretPut,
            Action::SecretDelete,
            Action::ContainerDelete,
            Action::AclGet,
            Action::AclPutPatch,
        ] {
            assert!(!allowed(&reader_elsewhere, a, Some(&shared)), "{a:?}");
        }
        let unscoped = caller_as("u", None, &["member"]);
        assert!(!allowed(&unscoped, Action::SecretGet, Some(&shared)));
    }

    #[test]
    fn acls_are_for_the_creator_and_project_admins() {
        let public = target("p", "c", true, true);
        let creator = caller_as("c", Some("p"), &["member", "reader"]);
        let member = caller(Some("p"), &["member", "reader"]);
        let reader_creator = caller_as("c", Some("p"), &["reader"]);
        let project_admin = caller(Some("p"), &["admin", "member", "reader"]);
        let admin_elsewhere = caller(Some("q"), &["admin", "member", "reader"]);
        for a in [Action::AclGet, Action::AclPutPatch, Action::AclDelete] {
            assert!(allowed(&creator, a, Some(&public)), "{a:?}");
            assert!(allowed(&project_admin, a, Some(&public)), "{a:?}");
            assert!(!allowed(&member, a, Some(&public)), "{a:?}");
            assert!(!allowed(&reader_creator, a, Some(&public)), "{a:?}");
            assert!(!allowed(&admin_elsewhere, a, Some(&public)), "{a:?}");
        }
    }
}
