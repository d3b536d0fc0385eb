//! Octavia 19's policy as a table: every API action names one rule, every
//! rule is a disjunction of role checks (design §4, decision D7).
//!
//! The new defaults (`admin`, `member`, `reader`, `service`) always apply;
//! with `legacy_roles` the deprecated `load-balancer_*` roles grant the
//! same, as oslo.policy does with `enforce_new_defaults=false`. Tokens not
//! scoped to a project are refused (`enforce_scope=true`,
//! `scope_types=['project']`). The identity service already expands
//! implied roles (admin ⇒ manager ⇒ member ⇒ reader).

use neutrino_lb_types::LbError;

use crate::auth::Caller;

/// The prefix of every action name (`os_load-balancer_api:<object>:<verb>`).
pub const ACTION_PREFIX: &str = "os_load-balancer_api:";

/// The named rules of octavia's `policies/base.py`, as used by actions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// `load-balancer:read`
    Read,
    /// `load-balancer:read-global`
    ReadGlobal,
    /// `load-balancer:write`
    Write,
    /// `load-balancer:read-quota`
    ReadQuota,
    /// `load-balancer:read-quota-global`
    ReadQuotaGlobal,
    /// `load-balancer:write-quota`
    WriteQuota,
    /// `load-balancer:admin`
    Admin,
    /// `load-balancer:read or rule:service` (member listing)
    ReadOrService,
}

/// The role checks rules are made of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Check {
    Admin,
    GlobalObserver,
    MemberAndOwner,
    ObserverAndOwner,
    QuotaAdmin,
    Service,
}

impl Rule {
    fn checks(self) -> &'static [Check] {
        use Check::*;
        match self {
            Rule::Read => &[ObserverAndOwner, GlobalObserver, MemberAndOwner, Admin],
            Rule::ReadGlobal => &[GlobalObserver, Admin],
            Rule::Write => &[MemberAndOwner, Admin],
            Rule::ReadQuota => &[
                ObserverAndOwner,
                GlobalObserver,
                MemberAndOwner,
                QuotaAdmin,
                Admin,
            ],
            Rule::ReadQuotaGlobal => &[GlobalObserver, QuotaAdmin, Admin],
            Rule::WriteQuota => &[QuotaAdmin, Admin],
            Rule::Admin => &[Admin],
            Rule::ReadOrService => &[
                ObserverAndOwner,
                GlobalObserver,
                MemberAndOwner,
                Admin,
                Service,
            ],
        }
    }
}

/// The per-object action families, with their rule for each verb.
const READ_WRITE: &[(&str, Rule)] = &[
    ("get_all", Rule::Read),
    ("get_all-global", Rule::ReadGlobal),
    ("get_one", Rule::Read),
    ("post", Rule::Write),
    ("put", Rule::Write),
    ("delete", Rule::Write),
];

/// Every action (without [`ACTION_PREFIX`]) and its rule.
pub fn table() -> Vec<(String, Rule)> {
    let mut out = Vec::new();
    for object in [
        "loadbalancer",
        "listener",
        "pool",
        "healthmonitor",
        "l7policy",
    ] {
        for (verb, rule) in READ_WRITE {
            out.push((format!("{object}:{verb}"), *rule));
        }
    }
    for (action, rule) in [
        ("loadbalancer:post:vip_sg_ids", Rule::Write),
        ("loadbalancer:put:vip_sg_ids", Rule::Write),
        ("loadbalancer:get_stats", Rule::Read),
        ("loadbalancer:get_status", Rule::Read),
        ("loadbalancer:put_failover", Rule::Admin),
        ("listener:get_stats", Rule::Read),
        ("member:get_all", Rule::ReadOrService),
        ("member:get_one", Rule::Read),
        ("member:post", Rule::Write),
        ("member:put", Rule::Write),
        ("member:delete", Rule::Write),
        ("l7rule:get_all", Rule::Read),
        ("l7rule:get_one", Rule::Read),
        ("l7rule:post", Rule::Write),
        ("l7rule:put", Rule::Write),
        ("l7rule:delete", Rule::Write),
        ("quota:get_all", Rule::ReadQuota),
        ("quota:get_all-global", Rule::ReadQuotaGlobal),
        ("quota:get_one", Rule::ReadQuota),
        ("quota:get_defaults", Rule::ReadQuota),
        ("quota:put", Rule::WriteQuota),
        ("quota:delete", Rule::WriteQuota),
        ("provider:get_all", Rule::Read),
        ("provider-flavor:get_all", Rule::Admin),
        ("provider-availability-zone:get_all", Rule::Admin),
    ] {
        out.push((action.to_string(), rule));
    }
    for object in ["flavor", "availability-zone"] {
        for (verb, rule) in [
            ("get_all", Rule::Read),
            ("get_one", Rule::Read),
            ("post", Rule::Admin),
            ("put", Rule::Admin),
            ("delete", Rule::Admin),
        ] {
            out.push((format!("{object}:{verb}"), rule));
        }
    }
    for object in ["flavor-profile", "availability-zone-profile"] {
        for verb in ["get_all", "get_one", "post", "put", "delete"] {
            out.push((format!("{object}:{verb}"), Rule::Admin));
        }
    }
    for verb in [
        "get_all",
        "get_one",
        "delete",
        "put_config",
        "put_failover",
        "get_stats",
    ] {
        out.push((format!("amphora:{verb}"), Rule::Admin));
    }
    out
}

/// The rule of an action, given with or without [`ACTION_PREFIX`].
pub fn rule_for(action: &str) -> Option<Rule> {
    let action = action.strip_prefix(ACTION_PREFIX).unwrap_or(action);
    table()
        .into_iter()
        .find(|(a, _)| a == action)
        .map(|(_, rule)| rule)
}

/// The policy in force for a server.
#[derive(Clone, Copy, Debug)]
pub struct Policy {
    pub legacy_roles: bool,
}

impl Policy {
    /// Whether `caller` may perform `action` on objects of `target_project`.
    pub fn allows(&self, action: &str, caller: &Caller, target_project: &str) -> bool {
        let Some(rule) = rule_for(action) else {
            // An action missing from the table is a bug; refusing is the
            // safe answer.
            tracing::error!(action, "no policy rule for action");
            return false;
        };
        let Some(own_project) = caller.project_id() else {
            return false;
        };
        let owner = own_project == target_project;
        rule.checks().iter().any(|c| self.check(*c, caller, owner))
    }

    /// [`Policy::allows`], or 403 PolicyForbidden.
    pub fn enforce(
        &self,
        action: &str,
        caller: &Caller,
        target_project: &str,
    ) -> Result<(), LbError> {
        if self.allows(action, caller, target_project) {
            Ok(())
        } else {
            Err(LbError::policy_forbidden())
        }
    }

    fn check(&self, check: Check, caller: &Caller, owner: bool) -> bool {
        let (role, legacy) = match check {
            Check::Admin => ("admin", Some("load-balancer_admin")),
            Check::GlobalObserver => ("admin", Some("load-balancer_global_observer")),
            Check::MemberAndOwner => ("member", Some("load-balancer_member")),
            Check::ObserverAndOwner => ("reader", Some("load-balancer_observer")),
            Check::QuotaAdmin => ("admin", Some("load-balancer_quota_admin")),
            Check::Service => ("service", None),
        };
        let needs_owner = matches!(check, Check::MemberAndOwner | Check::ObserverAndOwner);
        if needs_owner && !owner {
            return false;
        }
        caller.has_role(role) || (self.legacy_roles && legacy.is_some_and(|r| caller.has_role(r)))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use neutrino_identity::AuthContext;

    use super::*;

    const OWN: &str = "p-own";
    const OTHER: &str = "p-other";

    fn caller(roles: &[&str]) -> Caller {
        Caller(AuthContext {
            user_id: "u".into(),
            user_name: "u".into(),
            project_id: Some(OWN.into()),
            project_name: Some("own".into()),
            domain_id: None,
            roles: roles.iter().map(|r| r.to_string()).collect(),
            expires_at: String::new(),
        })
    }

    /// Roles as the identity service hands them out, implied ones included.
    const ADMIN: &[&str] = &["admin", "manager", "member", "reader"];
    const MEMBER: &[&str] = &["member", "reader"];
    const READER: &[&str] = &["reader"];

    const NEW: Policy = Policy {
        legacy_roles: false,
    };
    const LEGACY: Policy = Policy { legacy_roles: true };

    #[test]
    fn every_action_has_exactly_one_rule() {
        let t = table();
        let names: BTreeSet<&str> = t.iter().map(|(a, _)| a.as_str()).collect();
        assert_eq!(names.len(), t.len(), "duplicate action in the table");
        // 5 read/write families × 6, LB extras 5, listener stats 1, member 5,
        // l7rule 5, quota 6, provider 3, flavor/AZ 2 × 5, profiles 2 × 5,
        // amphora 6.
        assert_eq!(t.len(), 30 + 5 + 1 + 5 + 5 + 6 + 3 + 10 + 10 + 6);
        assert_eq!(
            rule_for("os_load-balancer_api:loadbalancer:put_failover"),
            Some(Rule::Admin)
        );
        assert_eq!(rule_for("member:get_all"), Some(Rule::ReadOrService));
        assert_eq!(rule_for("loadbalancer:fly"), None);
    }

    #[test]
    fn reader_reads_own_project_but_cannot_write() {
        let c = caller(READER);
        assert!(NEW.allows("loadbalancer:get_one", &c, OWN));
        assert!(NEW.allows("provider:get_all", &c, OWN));
        assert!(!NEW.allows("loadbalancer:get_one", &c, OTHER));
        assert!(!NEW.allows("loadbalancer:post", &c, OWN));
        assert!(!NEW.allows("loadbalancer:get_all-global", &c, OWN));
    }

    #[test]
    fn member_writes_own_project_only_and_never_admin_actions() {
        let c = caller(MEMBER);
        assert!(NEW.allows("pool:post", &c, OWN));
        assert!(NEW.allows("l7rule:delete", &c, OWN));
        assert!(!NEW.allows("pool:post", &c, OTHER));
        for admin_only in [
            "loadbalancer:put_failover",
            "provider-flavor:get_all",
            "provider-availability-zone:get_all",
            "flavor:post",
            "flavor-profile:get_all",
            "amphora:get_all",
            "quota:put",
        ] {
            assert!(!NEW.allows(admin_only, &c, OWN), "{admin_only}");
        }
        // Flavors and AZs are readable by anyone who may read.
        assert!(NEW.allows("flavor:get_all", &c, OWN));
        assert!(NEW.allows("availability-zone:get_one", &c, OWN));
    }

    #[test]
    fn admin_may_do_anything_in_any_project() {
        let c = caller(ADMIN);
        for (action, _) in table() {
            assert!(NEW.allows(&action, &c, OTHER), "{action}");
        }
    }

    #[test]
    fn a_role_less_user_may_do_nothing() {
        let c = caller(&[]);
        for (action, _) in table() {
            assert!(!LEGACY.allows(&action, &c, OWN), "{action}");
        }
    }

    #[test]
    fn legacy_observer_reads_only_with_legacy_roles() {
        let c = caller(&["load-balancer_observer"]);
        assert!(LEGACY.allows("listener:get_all", &c, OWN));
        assert!(LEGACY.allows("listener:get_stats", &c, OWN));
        assert!(!LEGACY.allows("listener:get_all", &c, OTHER));
        assert!(!LEGACY.allows("listener:post", &c, OWN));
        assert!(!NEW.allows("listener:get_all", &c, OWN));
    }

    #[test]
    fn legacy_global_observer_reads_everywhere_but_writes_nowhere() {
        let c = caller(&["load-balancer_global_observer"]);
        assert!(LEGACY.allows("loadbalancer:get_all-global", &c, OTHER));
        assert!(LEGACY.allows("pool:get_one", &c, OTHER));
        assert!(!LEGACY.allows("pool:put", &c, OWN));
        assert!(!LEGACY.allows("amphora:get_all", &c, OWN));
    }

    #[test]
    fn legacy_member_writes_own_project() {
        let c = caller(&["load-balancer_member"]);
        assert!(LEGACY.allows("member:post", &c, OWN));
        assert!(!LEGACY.allows("member:post", &c, OTHER));
        assert!(!NEW.allows("member:post", &c, OWN));
    }

    #[test]
    fn quota_admin_manages_quotas_and_nothing_else() {
        let c = caller(&["load-balancer_quota_admin"]);
        assert!(LEGACY.allows("quota:put", &c, OTHER));
        assert!(LEGACY.allows("quota:get_all-global", &c, OTHER));
        assert!(!LEGACY.allows("loadbalancer:get_one", &c, OWN));
        assert!(!NEW.allows("quota:put", &c, OWN));
    }

    #[test]
    fn legacy_admin_is_admin() {
        let c = caller(&["load-balancer_admin"]);
        assert!(LEGACY.allows("amphora:put_failover", &c, OTHER));
        assert!(!NEW.allows("amphora:put_failover", &c, OTHER));
    }

    #[test]
    fn service_role_may_list_members_only() {
        let c = caller(&["service"]);
        assert!(NEW.allows("member:get_all", &c, OTHER));
        assert!(!NEW.allows("member:get_one", &c, OTHER));
    }

    #[test]
    fn tokens_without_a_project_are_refused_even_for_admins() {
        let mut c = caller(ADMIN);
        c.0.project_id = None;
        c.0.domain_id = Some("default".into());
        assert!(!NEW.allows("provider:get_all", &c, OWN));
        let e = NEW
            .enforce("provider:get_all", &c, OWN)
            .expect_err("refused");
        assert_eq!(e.status, 403);
        assert_eq!(
            e.faultstring,
            "Policy does not allow this request to be performed."
        );
    }
}
