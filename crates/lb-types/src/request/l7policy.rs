//! L7 policy POST/PUT bodies (`L7PolicyPOST`, `L7PolicyPUT`,
//! `L7PolicySingleCreate`) and `validate.sanitize_l7policy_api_args`.

use super::l7rule::{L7RULE_SINGLE, L7RuleCreate};
use super::pool::{POOL_SINGLE, PoolCreate};
use crate::LbError;
use crate::consts::*;
use crate::enums::L7PolicyAction as Action;
use crate::model::L7Policy;
use crate::patch::{Fields, Patch};
use crate::wsme::{Attr, Kind, Schema, int, opt, parse_root, req, text};
use serde_json::Value;

const POSITION: Kind = int(Some(MIN_POLICY_POSITION), Some(MAX_POLICY_POSITION));
const NAME: Attr = opt("name", text(255));
const DESCRIPTION: Attr = opt("description", text(255));
const ADMIN: Attr = opt("admin_state_up", Kind::Bool);
const URL: Attr = opt("redirect_url", Kind::Url);
const PREFIX: Attr = opt("redirect_prefix", Kind::Url);
const TAGS: Attr = opt("tags", Kind::List(&text(255)));
const CODE: Attr = opt(
    "redirect_http_code",
    Kind::IntEnum(L7POLICY_REDIRECT_HTTP_CODES),
);

static L7POLICY_POST: Schema = Schema {
    attrs: &[
        NAME,
        DESCRIPTION,
        ADMIN,
        opt("project_id", text(36)),
        req("action", Kind::StrEnum(Action::WIRE)),
        opt("redirect_pool_id", Kind::Uuid),
        URL,
        PREFIX,
        opt("position", POSITION),
        req("listener_id", Kind::Uuid),
        opt("rules", Kind::ObjectList(&L7RULE_SINGLE)),
        TAGS,
        CODE,
    ],
    tenant_id: true,
};

pub(crate) static L7POLICY_SINGLE: Schema = Schema {
    attrs: &[
        NAME,
        DESCRIPTION,
        ADMIN,
        req("action", Kind::StrEnum(Action::WIRE)),
        opt("redirect_pool", Kind::Object(&POOL_SINGLE)),
        URL,
        PREFIX,
        opt("position", POSITION),
        opt("rules", Kind::ObjectList(&L7RULE_SINGLE)),
        TAGS,
        CODE,
    ],
    tenant_id: false,
};

static L7POLICY_PUT: Schema = Schema {
    attrs: &[
        NAME,
        DESCRIPTION,
        ADMIN,
        opt("action", Kind::StrEnum(Action::WIRE)),
        opt("redirect_pool_id", Kind::Uuid),
        URL,
        PREFIX,
        opt("position", POSITION),
        TAGS,
        CODE,
    ],
    tenant_id: false,
};

/// The redirect attributes after sanitising: exactly what one action
/// needs, the others cleared.
#[derive(Clone, Debug, PartialEq)]
pub struct Redirect {
    pub action: Action,
    pub redirect_pool_id: Option<String>,
    pub redirect_url: Option<String>,
    pub redirect_prefix: Option<String>,
    pub redirect_http_code: Option<i64>,
}

#[derive(Clone, Debug, Default)]
struct Args {
    action: Patch<Action>,
    pool_id: Patch<String>,
    /// Graph create: an inline pool in place of `redirect_pool_id`.
    has_pool: bool,
    url: Patch<String>,
    prefix: Patch<String>,
    code: Patch<i64>,
}

/// `sanitize_l7policy_api_args`: which action the body really asks for.
/// Returns the sanitised redirect, or on update only the attributes that
/// change (`None` entries of [`Redirect`] meaning "clear").
fn sanitize(a: &Args, create: bool) -> Result<Option<Redirect>, LbError> {
    let truthy = |p: &Patch<String>| p.value().is_some_and(|s| !s.is_empty());
    let pool = truthy(&a.pool_id) || a.has_pool;
    if let Patch::Value(action) = a.action {
        match action {
            Action::RedirectToUrl if !truthy(&a.url) => {
                return Err(LbError::invalid_l7policy_args(
                    "redirect_url must not be None",
                ));
            }
            Action::RedirectToPool if !pool => {
                return Err(LbError::invalid_l7policy_args(
                    "redirect_pool_id or redirect_pool must not be None",
                ));
            }
            Action::RedirectPrefix if !truthy(&a.prefix) => {
                return Err(LbError::invalid_l7policy_args(
                    "redirect_prefix must not be None",
                ));
            }
            _ => {}
        }
    } else if matches!(a.action, Patch::Null) {
        return Err(LbError::invalid_l7policy_action("None"));
    }
    let url = truthy(&a.url)
        && !matches!(
            a.action,
            Patch::Value(Action::Reject | Action::RedirectToPool)
        );
    let prefix = truthy(&a.prefix);
    let pool = pool
        && !matches!(
            a.action,
            Patch::Value(Action::Reject | Action::RedirectToUrl)
        );
    if pool && (url || prefix) {
        return Err(LbError::invalid_l7policy_args(
            "Cannot specify redirect_pool_id and redirect_url or redirect_prefix at the same time",
        ));
    }
    let code = a.code.value().copied().filter(|c| *c != 0);
    let redirect = if pool {
        Some(Redirect {
            action: Action::RedirectToPool,
            redirect_pool_id: a.pool_id.value().cloned(),
            redirect_url: None,
            redirect_prefix: None,
            redirect_http_code: None,
        })
    } else if url {
        Some(Redirect {
            action: Action::RedirectToUrl,
            redirect_pool_id: None,
            redirect_url: a.url.value().cloned(),
            redirect_prefix: None,
            redirect_http_code: Some(code.unwrap_or(DEFAULT_REDIRECT_HTTP_CODE)),
        })
    } else if prefix {
        Some(Redirect {
            action: Action::RedirectPrefix,
            redirect_pool_id: None,
            redirect_url: None,
            redirect_prefix: a.prefix.value().cloned(),
            redirect_http_code: Some(code.unwrap_or(DEFAULT_REDIRECT_HTTP_CODE)),
        })
    } else if let Patch::Value(action) = a.action {
        Some(Redirect {
            action,
            redirect_pool_id: None,
            redirect_url: None,
            redirect_prefix: None,
            redirect_http_code: if create { code } else { None },
        })
    } else {
        None
    };
    if create && redirect.is_none() {
        return Err(LbError::invalid_l7policy_action("None"));
    }
    Ok(redirect)
}

#[derive(Clone, Debug, PartialEq)]
pub struct L7PolicyCreate {
    pub name: Option<String>,
    pub description: Option<String>,
    pub admin_state_up: bool,
    pub project_id: Option<String>,
    /// `None` in a graph create.
    pub listener_id: Option<String>,
    pub redirect: Redirect,
    /// Graph create: the pool to redirect to, defined or named inline.
    pub redirect_pool: Option<PoolCreate>,
    /// 1..; values past the end append.
    pub position: i64,
    pub rules: Vec<L7RuleCreate>,
    pub tags: Vec<String>,
}

impl L7PolicyCreate {
    /// `POST /v2/lbaas/l7policies`.
    pub fn parse(body: &Value) -> Result<Self, LbError> {
        let f = Fields(parse_root(body, "l7policy_", "l7policy", &L7POLICY_POST)?);
        Self::from_fields(&f)
    }

    pub(crate) fn from_fields(f: &Fields) -> Result<Self, LbError> {
        if !f.has("action") {
            return Err(LbError::mandatory_missing("action"));
        }
        let redirect_pool = match f.object("redirect_pool") {
            Patch::Value(p) => Some(PoolCreate::from_fields(&p)?),
            _ => None,
        };
        let args = Args {
            action: f
                .str("action")
                .map(|a| Action::parse(&a).unwrap_or(Action::Reject)),
            pool_id: f.str("redirect_pool_id"),
            has_pool: redirect_pool.is_some(),
            url: f.str("redirect_url"),
            prefix: f.str("redirect_prefix"),
            code: f.int("redirect_http_code"),
        };
        let redirect =
            sanitize(&args, true)?.ok_or_else(|| LbError::invalid_l7policy_action("None"))?;
        let redirect_pool = if redirect.action == Action::RedirectToPool {
            redirect_pool
        } else {
            None
        };
        let rules = f
            .objects("rules")
            .into_option()
            .unwrap_or_default()
            .iter()
            .map(L7RuleCreate::from_fields)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(L7PolicyCreate {
            name: f.str("name").into_option(),
            description: f.str("description").into_option(),
            admin_state_up: f.flag("admin_state_up", true),
            project_id: f.str("project_id").into_option(),
            listener_id: f.str("listener_id").into_option(),
            redirect,
            redirect_pool,
            position: f
                .int("position")
                .into_option()
                .unwrap_or(MAX_POLICY_POSITION),
            rules,
            tags: f.strs("tags").into_option().unwrap_or_default(),
        })
    }

    /// Rules checked as upstream's `create_l7policy` does: at most 50,
    /// each through `l7rule_data`. `id` names the policy in the error.
    pub fn check_rules(&self, id: &str) -> Result<(), LbError> {
        if self.rules.len() > MAX_L7RULES_PER_L7POLICY {
            return Err(LbError::too_many_l7rules(id));
        }
        self.rules.iter().try_for_each(L7RuleCreate::check)
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct L7PolicyUpdate {
    pub name: Patch<String>,
    pub description: Patch<String>,
    pub admin_state_up: Patch<bool>,
    /// The sanitised redirect when the body touched any redirect
    /// attribute; `None` leaves the stored one.
    pub redirect: Option<Redirect>,
    pub position: Patch<i64>,
    pub tags: Patch<Vec<String>>,
    /// `redirect_http_code` as given: what a body that touches no other
    /// redirect attribute changes (upstream stores it alone).
    pub redirect_http_code: Patch<i64>,
}

impl L7PolicyUpdate {
    /// `PUT /v2/lbaas/l7policies/{id}`.
    pub fn parse(body: &Value) -> Result<Self, LbError> {
        let f = Fields(parse_root(body, "l7policy_", "l7policy", &L7POLICY_PUT)?);
        let args = Args {
            action: f
                .str("action")
                .map(|a| Action::parse(&a).unwrap_or(Action::Reject)),
            pool_id: f.str("redirect_pool_id"),
            has_pool: false,
            url: f.str("redirect_url"),
            prefix: f.str("redirect_prefix"),
            code: f.int("redirect_http_code"),
        };
        let redirect = sanitize(&args, false)?;
        if f.0.is_empty() {
            return Err(LbError::invalid_l7policy_args("Invalid update options"));
        }
        Ok(L7PolicyUpdate {
            name: f.str("name"),
            description: f.str("description"),
            admin_state_up: f.bool("admin_state_up").null_as(|| false),
            redirect,
            position: f.int("position").null_as(|| MAX_POLICY_POSITION),
            tags: f.strs("tags"),
            redirect_http_code: f.int("redirect_http_code"),
        })
    }

    pub fn apply(&self, stored: &L7Policy) -> L7Policy {
        let mut p = stored.clone();
        p.name = self.name.clone().apply(p.name);
        p.description = self.description.clone().apply(p.description);
        if let Patch::Value(v) = self.admin_state_up {
            p.admin_state_up = v;
        }
        if let Some(r) = &self.redirect {
            p.action = r.action;
            p.redirect_pool_id = r.redirect_pool_id.clone();
            p.redirect_url = r.redirect_url.clone();
            p.redirect_prefix = r.redirect_prefix.clone();
            p.redirect_http_code = r.redirect_http_code;
        } else {
            p.redirect_http_code = self.redirect_http_code.clone().apply(p.redirect_http_code);
        }
        if let Patch::Value(pos) = self.position {
            p.position = pos;
        }
        if let Patch::Value(t) = &self.tags {
            p.tags = t.clone();
        }
        p
    }
}
