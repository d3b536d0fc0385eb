//! L7 rule POST/PUT bodies (`L7RulePOST`, `L7RulePUT`,
//! `L7RuleSingleCreate`) and `validate.l7rule_data`.

use crate::LbError;
use crate::checks::{self, L7RuleData};
use crate::enums::{L7RuleCompareType, L7RuleType};
use crate::model::L7Rule;
use crate::patch::{Fields, Patch};
use crate::wsme::{Attr, Kind, Pattern, Schema, opt, parse_root, req, text};
use serde_json::Value;

static NO_NEWLINES: Pattern = Pattern {
    python: r"^[^\r\n]*$",
    rust: r"^[^\r\n]*\n?\z",
};

const ONE_LINE: Kind = Kind::Str {
    min: None,
    max: Some(255),
    pattern: Some(&NO_NEWLINES),
};
const TYPE: Kind = Kind::StrEnum(L7RuleType::WIRE);
const COMPARE: Kind = Kind::StrEnum(L7RuleCompareType::WIRE);
const INVERT: Attr = opt("invert", Kind::Bool);
const ADMIN: Attr = opt("admin_state_up", Kind::Bool);
const TAGS: Attr = opt("tags", Kind::List(&text(255)));

static L7RULE_POST: Schema = Schema {
    attrs: &[
        req("type", TYPE),
        req("compare_type", COMPARE),
        opt("key", ONE_LINE),
        req("value", ONE_LINE),
        INVERT,
        ADMIN,
        opt("project_id", text(36)),
        TAGS,
    ],
    tenant_id: true,
};

/// Unlike POST and PUT, the graph-create type has no newline pattern.
pub(crate) static L7RULE_SINGLE: Schema = Schema {
    attrs: &[
        req("type", TYPE),
        req("compare_type", COMPARE),
        opt("key", text(255)),
        req("value", text(255)),
        INVERT,
        ADMIN,
        TAGS,
    ],
    tenant_id: false,
};

static L7RULE_PUT: Schema = Schema {
    attrs: &[
        opt("type", TYPE),
        opt("compare_type", COMPARE),
        opt("key", ONE_LINE),
        opt("value", ONE_LINE),
        INVERT,
        ADMIN,
        TAGS,
    ],
    tenant_id: false,
};

#[derive(Clone, Debug, PartialEq)]
pub struct L7RuleCreate {
    pub rule_type: L7RuleType,
    pub compare_type: L7RuleCompareType,
    pub key: Option<String>,
    pub value: String,
    pub invert: bool,
    pub admin_state_up: bool,
    pub project_id: Option<String>,
    pub tags: Vec<String>,
}

impl L7RuleCreate {
    /// `POST /v2/lbaas/l7policies/{id}/rules`; see [`L7RuleCreate::check`].
    pub fn parse(body: &Value) -> Result<Self, LbError> {
        let f = Fields(parse_root(body, "rule_", "rule", &L7RULE_POST)?);
        Self::from_fields(&f)
    }

    pub(crate) fn from_fields(f: &Fields) -> Result<Self, LbError> {
        let rule_type = f
            .str("type")
            .value()
            .and_then(|t| L7RuleType::parse(t))
            .ok_or_else(|| LbError::mandatory_missing("type"))?;
        let compare_type = f
            .str("compare_type")
            .value()
            .and_then(|c| L7RuleCompareType::parse(c))
            .ok_or_else(|| LbError::mandatory_missing("compare_type"))?;
        Ok(L7RuleCreate {
            rule_type,
            compare_type,
            key: f.str("key").into_option(),
            value: f
                .str("value")
                .into_option()
                .ok_or_else(|| LbError::mandatory_missing("value"))?,
            invert: f.bool("invert").into_option().unwrap_or(false),
            admin_state_up: f.flag("admin_state_up", true),
            project_id: f.str("project_id").into_option(),
            tags: f.strs("tags").into_option().unwrap_or_default(),
        })
    }

    /// `validate.l7rule_data`, as the controller runs it after policy.
    pub fn check(&self) -> Result<(), LbError> {
        checks::l7rule_data(&L7RuleData {
            rule_type: self.rule_type,
            compare_type: self.compare_type,
            key: self.key.as_deref(),
            value: Some(&self.value),
        })
        .map_err(LbError::l7rule_validation)
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct L7RuleUpdate {
    pub rule_type: Patch<L7RuleType>,
    pub compare_type: Patch<L7RuleCompareType>,
    pub key: Patch<String>,
    pub value: Patch<String>,
    pub invert: Patch<bool>,
    pub admin_state_up: Patch<bool>,
    pub tags: Patch<Vec<String>>,
}

impl L7RuleUpdate {
    /// `PUT /v2/lbaas/l7policies/{id}/rules/{rule_id}`.
    pub fn parse(body: &Value) -> Result<Self, LbError> {
        let f = Fields(parse_root(body, "l7rule_", "rule", &L7RULE_PUT)?);
        Ok(L7RuleUpdate {
            rule_type: f
                .str("type")
                .map(|t| L7RuleType::parse(&t).unwrap_or(L7RuleType::Path)),
            compare_type: f
                .str("compare_type")
                .map(|c| L7RuleCompareType::parse(&c).unwrap_or(L7RuleCompareType::EqualTo)),
            key: f.str("key"),
            value: f.str("value"),
            invert: f.bool("invert").null_as(|| false),
            admin_state_up: f.bool("admin_state_up").null_as(|| false),
            tags: f.strs("tags"),
        })
    }

    /// The stored rule with this update applied, validated as a whole
    /// (upstream merges, then runs `l7rule_data`). A null type or
    /// compare type leaves nothing to validate against: refused as
    /// `invalid rule type` / `invalid comparison type for rule type`.
    pub fn apply(&self, stored: &L7Rule) -> Result<L7Rule, LbError> {
        let mut r = stored.clone();
        match self.rule_type {
            Patch::Value(t) => r.rule_type = t,
            Patch::Null => {
                return Err(LbError::l7rule_validation(
                    "Invalid L7 Rule: invalid rule type",
                ));
            }
            Patch::Unset => {}
        }
        match self.compare_type {
            Patch::Value(c) => r.compare_type = c,
            Patch::Null => {
                return Err(LbError::l7rule_validation(
                    "Invalid L7 Rule: invalid comparison type for rule type",
                ));
            }
            Patch::Unset => {}
        }
        r.key = self.key.clone().apply(r.key);
        let value = self.value.clone().apply(Some(r.value.clone()));
        checks::l7rule_data(&L7RuleData {
            rule_type: r.rule_type,
            compare_type: r.compare_type,
            key: r.key.as_deref(),
            value: value.as_deref(),
        })
        .map_err(LbError::l7rule_validation)?;
        r.value = value.unwrap_or_default();
        if let Patch::Value(v) = self.invert {
            r.invert = v;
        }
        if let Patch::Value(v) = self.admin_state_up {
            r.admin_state_up = v;
        }
        if let Patch::Value(t) = &self.tags {
            r.tags = t.clone();
        }
        Ok(r)
    }
}
