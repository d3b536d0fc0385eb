//! Member POST/PUT bodies (`MemberPOST`, `MemberPUT`, `MembersRootPUT`,
//! `MemberSingleCreate`).

use crate::consts::*;
use crate::model::Member;
use crate::patch::{Fields, Patch};
use crate::wsme::{Attr, Kind, Schema, int, opt, parse_body, parse_root, req, text};
use crate::{LbError, checks};
use serde_json::Value;

const PORT: Kind = int(Some(MIN_PORT_NUMBER), Some(MAX_PORT_NUMBER));
const WEIGHT: Kind = int(Some(MIN_WEIGHT), Some(MAX_WEIGHT));
const NAME: Attr = opt("name", text(255));
const ADMIN: Attr = opt("admin_state_up", Kind::Bool);
const ADDRESS: Attr = req("address", Kind::Ip);
const PROTOCOL_PORT: Attr = req("protocol_port", PORT);
const WEIGHT_ATTR: Attr = opt("weight", WEIGHT);
const BACKUP: Attr = opt("backup", Kind::Bool);
const SUBNET: Attr = opt("subnet_id", Kind::Uuid);
const MONITOR_PORT: Attr = opt("monitor_port", PORT);
const MONITOR_ADDRESS: Attr = opt("monitor_address", Kind::Ip);
const TAGS: Attr = opt("tags", Kind::List(&text(255)));
const SRIOV: Attr = opt("request_sriov", Kind::Bool);

pub(crate) static MEMBER_POST: Schema = Schema {
    attrs: &[
        NAME,
        ADMIN,
        ADDRESS,
        PROTOCOL_PORT,
        WEIGHT_ATTR,
        BACKUP,
        SUBNET,
        opt("project_id", text(36)),
        MONITOR_PORT,
        MONITOR_ADDRESS,
        TAGS,
        SRIOV,
    ],
    tenant_id: true,
};

pub(crate) static MEMBER_SINGLE: Schema = Schema {
    attrs: &[
        NAME,
        ADMIN,
        ADDRESS,
        PROTOCOL_PORT,
        WEIGHT_ATTR,
        BACKUP,
        SUBNET,
        MONITOR_PORT,
        MONITOR_ADDRESS,
        TAGS,
        SRIOV,
    ],
    tenant_id: false,
};

static MEMBER_PUT: Schema = Schema {
    attrs: &[
        NAME,
        ADMIN,
        opt("weight", WEIGHT),
        opt("backup", Kind::Bool),
        opt("monitor_port", PORT),
        opt("monitor_address", Kind::Ip),
        TAGS,
    ],
    tenant_id: false,
};

static MEMBERS_PUT: Schema = Schema {
    attrs: &[opt("members", Kind::ObjectList(&MEMBER_POST))],
    tenant_id: false,
};

#[derive(Clone, Debug, PartialEq)]
pub struct MemberCreate {
    pub name: Option<String>,
    pub admin_state_up: bool,
    pub address: String,
    pub protocol_port: i64,
    pub weight: i64,
    pub backup: bool,
    pub subnet_id: Option<String>,
    pub project_id: Option<String>,
    pub monitor_port: Option<i64>,
    pub monitor_address: Option<String>,
    pub tags: Vec<String>,
    pub request_sriov: bool,
}

impl MemberCreate {
    /// `POST /v2/lbaas/pools/{pool_id}/members`.
    pub fn parse(body: &Value) -> Result<Self, LbError> {
        let f = Fields(parse_root(body, "member_", "member", &MEMBER_POST)?);
        Self::from_fields(&f)
    }

    pub(crate) fn from_fields(f: &Fields) -> Result<Self, LbError> {
        Ok(MemberCreate {
            name: f.str("name").into_option(),
            admin_state_up: f.flag("admin_state_up", true),
            address: f
                .str("address")
                .into_option()
                .ok_or_else(|| LbError::mandatory_missing("address"))?,
            protocol_port: f
                .int("protocol_port")
                .into_option()
                .ok_or_else(|| LbError::mandatory_missing("protocol_port"))?,
            weight: f.int("weight").into_option().unwrap_or(DEFAULT_WEIGHT),
            backup: f.bool("backup").into_option().unwrap_or(false),
            subnet_id: f.str("subnet_id").into_option(),
            project_id: f.str("project_id").into_option(),
            monitor_port: f.int("monitor_port").into_option(),
            monitor_address: f.str("monitor_address").into_option(),
            tags: f.strs("tags").into_option().unwrap_or_default(),
            request_sriov: f.bool("request_sriov").into_option().unwrap_or(false),
        })
    }

    /// The member controller's checks that need no database: reserved
    /// addresses, then SR-IOV (no flavor here allows it).
    pub fn check(&self, reserved_ips: &[&str]) -> Result<(), LbError> {
        checks::member_address_not_reserved(&self.address, reserved_ips)?;
        if self.request_sriov {
            return Err(LbError::member_sriov_disabled());
        }
        Ok(())
    }
}

/// `PUT /v2/lbaas/pools/{pool_id}/members`: the batch update.
pub fn parse_batch(body: &Value) -> Result<Vec<MemberCreate>, LbError> {
    let f = Fields(parse_body(body, "members_", &MEMBERS_PUT)?);
    f.objects("members")
        .into_option()
        .ok_or_else(|| LbError::mandatory_missing("members"))?
        .iter()
        .map(MemberCreate::from_fields)
        .collect()
}

/// Checks a batch: each (address, port) at most once.
pub fn check_batch(members: &[MemberCreate], reserved_ips: &[&str]) -> Result<(), LbError> {
    let mut seen = std::collections::HashSet::new();
    for m in members {
        checks::member_address_not_reserved(&m.address, reserved_ips)?;
        let addr = m
            .address
            .parse::<std::net::IpAddr>()
            .map(|a| a.to_string())
            .unwrap_or_else(|_| m.address.clone());
        if !seen.insert((addr, m.protocol_port)) {
            return Err(LbError::validation(
                "Member must be updated only once in the same request.",
            ));
        }
    }
    Ok(())
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct MemberUpdate {
    pub name: Patch<String>,
    pub admin_state_up: Patch<bool>,
    pub weight: Patch<i64>,
    pub backup: Patch<bool>,
    pub monitor_port: Patch<i64>,
    pub monitor_address: Patch<String>,
    pub tags: Patch<Vec<String>>,
}

impl MemberUpdate {
    /// `PUT /v2/lbaas/pools/{pool_id}/members/{id}`; a null weight is the
    /// default weight, a null backup is false.
    pub fn parse(body: &Value) -> Result<Self, LbError> {
        let f = Fields(parse_root(body, "member_", "member", &MEMBER_PUT)?);
        Ok(MemberUpdate {
            name: f.str("name"),
            admin_state_up: f.bool("admin_state_up").null_as(|| false),
            weight: f.int("weight").null_as(|| DEFAULT_WEIGHT),
            backup: f.bool("backup").null_as(|| false),
            monitor_port: f.int("monitor_port"),
            monitor_address: f.str("monitor_address"),
            tags: f.strs("tags"),
        })
    }

    pub fn apply(&self, stored: &Member) -> Member {
        let mut m = stored.clone();
        m.name = self.name.clone().apply(m.name);
        if let Patch::Value(v) = self.admin_state_up {
            m.admin_state_up = v;
        }
        if let Patch::Value(v) = self.weight {
            m.weight = v;
        }
        if let Patch::Value(v) = self.backup {
            m.backup = v;
        }
        m.monitor_port = self.monitor_port.clone().apply(m.monitor_port);
        m.monitor_address = self.monitor_address.clone().apply(m.monitor_address);
        if let Patch::Value(t) = &self.tags {
            m.tags = t.clone();
        }
        m
    }
}
