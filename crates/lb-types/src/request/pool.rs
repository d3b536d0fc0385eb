//! Pool POST/PUT bodies (`PoolPOST`, `PoolPUT`, `PoolSingleCreate`) and
//! the pool controller's static checks.

use super::healthmonitor::{HM_SINGLE, HealthMonitorCreate};
use super::member::{MEMBER_SINGLE, MemberCreate};
use crate::LbError;
use crate::checks;
use crate::consts::{CIPHERS_OWASP_SUITE_B, DEFAULT_ALPN_PROTOCOLS, DEFAULT_TLS_VERSIONS};
use crate::enums::{LbAlgorithm, POOL_PROTOCOLS, Protocol, SessionPersistenceType};
use crate::model::{Pool, SessionPersistence};
use crate::patch::{Fields, Patch};
use crate::wsme::{Attr, Kind, Pattern, Schema, int, opt, parse_root, req, text};
use serde_json::Value;

static COOKIE_NAME: Pattern = Pattern {
    python: r"^[^\s,;\\]+$",
    rust: r"^[^\s,;\\]+\n?\z",
};

const SP_TYPE: Kind = Kind::StrEnum(SessionPersistenceType::WIRE);
const SP_COOKIE: Kind = Kind::Str {
    min: None,
    max: Some(255),
    pattern: Some(&COOKIE_NAME),
};

static SP_POST: Schema = Schema {
    attrs: &[
        req("type", SP_TYPE),
        opt("cookie_name", SP_COOKIE),
        opt("persistence_timeout", int(None, None)),
        opt("persistence_granularity", Kind::Ip),
    ],
    tenant_id: false,
};

static SP_PUT: Schema = Schema {
    attrs: &[
        opt("type", SP_TYPE),
        opt("cookie_name", SP_COOKIE),
        opt("persistence_timeout", int(None, None)),
        opt("persistence_granularity", Kind::Ip),
    ],
    tenant_id: false,
};

const TLS_CONTAINER: Attr = opt("tls_container_ref", text(255));
const CA_TLS_CONTAINER: Attr = opt("ca_tls_container_ref", text(255));
const CRL_CONTAINER: Attr = opt("crl_container_ref", text(255));
const TLS_ENABLED: Attr = opt("tls_enabled", Kind::Bool);
const TLS_CIPHERS: Attr = opt("tls_ciphers", text(2048));
const TLS_VERSIONS: Attr = opt("tls_versions", Kind::List(&text(32)));
const ALPN_PROTOCOLS: Attr = opt("alpn_protocols", Kind::List(&Kind::Alpn));

static POOL_POST: Schema = Schema {
    attrs: &[
        opt("name", text(255)),
        opt("description", text(255)),
        opt("admin_state_up", Kind::Bool),
        opt("listener_id", Kind::Uuid),
        opt("loadbalancer_id", Kind::Uuid),
        req("protocol", Kind::StrEnum(POOL_PROTOCOLS)),
        req("lb_algorithm", Kind::StrEnum(LbAlgorithm::WIRE)),
        opt("session_persistence", Kind::Object(&SP_POST)),
        opt("project_id", text(36)),
        opt("healthmonitor", Kind::Object(&HM_SINGLE)),
        opt("members", Kind::ObjectList(&MEMBER_SINGLE)),
        opt("tags", Kind::List(&text(255))),
        TLS_CONTAINER,
        CA_TLS_CONTAINER,
        CRL_CONTAINER,
        TLS_ENABLED,
        TLS_CIPHERS,
        TLS_VERSIONS,
        ALPN_PROTOCOLS,
    ],
    tenant_id: true,
};

/// In a graph create `protocol` and `lb_algorithm` are optional: a pool
/// named alone is a reference to a definition elsewhere in the graph.
pub(crate) static POOL_SINGLE: Schema = Schema {
    attrs: &[
        opt("name", text(255)),
        opt("description", text(255)),
        opt("admin_state_up", Kind::Bool),
        opt("protocol", Kind::StrEnum(POOL_PROTOCOLS)),
        opt("lb_algorithm", Kind::StrEnum(LbAlgorithm::WIRE)),
        opt("session_persistence", Kind::Object(&SP_POST)),
        opt("healthmonitor", Kind::Object(&HM_SINGLE)),
        opt("members", Kind::ObjectList(&MEMBER_SINGLE)),
        opt("tags", Kind::List(&text(255))),
        TLS_CONTAINER,
        CA_TLS_CONTAINER,
        CRL_CONTAINER,
        TLS_ENABLED,
        TLS_CIPHERS,
        TLS_VERSIONS,
        ALPN_PROTOCOLS,
    ],
    tenant_id: false,
};

static POOL_PUT: Schema = Schema {
    attrs: &[
        opt("name", text(255)),
        opt("description", text(255)),
        opt("admin_state_up", Kind::Bool),
        opt("lb_algorithm", Kind::StrEnum(LbAlgorithm::WIRE)),
        opt("session_persistence", Kind::Object(&SP_PUT)),
        opt("tags", Kind::List(&text(255))),
        TLS_CONTAINER,
        CA_TLS_CONTAINER,
        CRL_CONTAINER,
        TLS_ENABLED,
        TLS_CIPHERS,
        TLS_VERSIONS,
        ALPN_PROTOCOLS,
    ],
    tenant_id: false,
};

/// A session persistence as given (`type` may be absent only on PUT).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SessionPersistenceInput {
    pub sp_type: Option<SessionPersistenceType>,
    pub cookie_name: Option<String>,
    pub persistence_timeout: Option<i64>,
    pub persistence_granularity: Option<String>,
}

impl SessionPersistenceInput {
    fn from_fields(f: &Fields) -> Self {
        SessionPersistenceInput {
            sp_type: f
                .str("type")
                .value()
                .and_then(|t| SessionPersistenceType::parse(t)),
            cookie_name: f.str("cookie_name").into_option(),
            persistence_timeout: f.int("persistence_timeout").into_option(),
            persistence_granularity: f.str("persistence_granularity").into_option(),
        }
    }

    /// The pool controller's rules for `protocol` (a new pool's, or the
    /// stored one on PUT), then `check_session_persistence`.
    pub fn check(&self, protocol: Protocol, on_update: bool) -> Result<(), LbError> {
        if protocol.is_lvs() {
            let only_allowed = self.cookie_name.as_deref().is_none_or(str::is_empty);
            if self.sp_type == Some(SessionPersistenceType::SourceIp) && !only_allowed {
                return Err(LbError::validation(
                    "session_persistence SOURCE_IP type for UDP and SCTP protocols only \
                     accepts: type, persistence_timeout, persistence_granularity.",
                ));
            }
            if self.cookie_name.as_deref().is_some_and(|c| !c.is_empty()) {
                return Err(LbError::validation(
                    "Cookie names are not supported for UDP/SCTP pools.",
                ));
            }
            if let Some(
                t @ (SessionPersistenceType::HttpCookie | SessionPersistenceType::AppCookie),
            ) = self.sp_type
            {
                return Err(LbError::validation(format!(
                    "Session persistence of type {t} is not supported for UDP/SCTP protocol pools."
                )));
            }
        } else if self.persistence_timeout.is_some_and(|t| t != 0)
            || self
                .persistence_granularity
                .as_deref()
                .is_some_and(|g| !g.is_empty())
        {
            return Err(LbError::validation(if on_update {
                "persistence_timeout and persistence_granularity is only for UDP protocol pools."
            } else {
                "persistence_timeout and persistence_granularity is only for UDP and SCTP \
                 protocol pools."
            }));
        }
        // Upstream's `check_session_persistence` reads `type` from the
        // request alone; without it (a PUT may omit it) the lookup fails
        // and the whole object is refused.
        if self.sp_type.is_none() {
            return Err(LbError::validation("Invalid session_persistence provided."));
        }
        checks::session_persistence(self.sp_type, self.cookie_name.as_deref())
    }
}

/// A pool to create, defaults applied (`db/prepare.create_pool`).
#[derive(Clone, Debug, PartialEq)]
pub struct PoolCreate {
    pub name: Option<String>,
    pub description: Option<String>,
    pub admin_state_up: bool,
    pub listener_id: Option<String>,
    pub loadbalancer_id: Option<String>,
    /// Mandatory on POST; in a graph create `None` marks a by-name
    /// reference (see [`crate::request::graph`]).
    pub protocol: Option<Protocol>,
    pub lb_algorithm: Option<LbAlgorithm>,
    pub session_persistence: Option<SessionPersistenceInput>,
    pub project_id: Option<String>,
    pub healthmonitor: Option<HealthMonitorCreate>,
    pub members: Vec<MemberCreate>,
    pub tags: Vec<String>,
    pub tls_container_ref: Option<String>,
    pub ca_tls_container_ref: Option<String>,
    pub crl_container_ref: Option<String>,
    pub tls_enabled: bool,
    pub tls_ciphers: Option<String>,
    pub tls_versions: Option<Vec<String>>,
    pub alpn_protocols: Option<Vec<String>>,
    /// Which attributes the body named (the graph create tells a
    /// reference from a definition by them).
    pub(crate) given: Vec<String>,
}

impl PoolCreate {
    /// `POST /v2/lbaas/pools`.
    pub fn parse(body: &Value) -> Result<Self, LbError> {
        let f = Fields(parse_root(body, "pool_", "pool", &POOL_POST)?);
        let pool = Self::from_fields(&f)?;
        if pool.protocol.is_none() {
            return Err(LbError::mandatory_missing("protocol"));
        }
        if pool.lb_algorithm.is_none() {
            return Err(LbError::mandatory_missing("lb_algorithm"));
        }
        if pool.loadbalancer_id.is_none() && pool.listener_id.is_none() {
            return Err(LbError::validation(
                "Must provide at least one of: loadbalancer_id, listener_id",
            ));
        }
        Ok(pool)
    }

    pub(crate) fn from_fields(f: &Fields) -> Result<Self, LbError> {
        let tls_enabled = f.bool("tls_enabled").into_option().unwrap_or(false);
        let tls_default = |p: Patch<Vec<String>>, d: &[&str]| match p {
            Patch::Value(v) => Some(v),
            _ if tls_enabled => Some(d.iter().map(|s| s.to_string()).collect()),
            _ => None,
        };
        let healthmonitor = match f.object("healthmonitor") {
            Patch::Value(h) => Some(HealthMonitorCreate::from_fields(&h)?),
            _ => None,
        };
        let members = f
            .objects("members")
            .into_option()
            .unwrap_or_default()
            .iter()
            .map(MemberCreate::from_fields)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PoolCreate {
            name: f.str("name").into_option(),
            description: f.str("description").into_option(),
            admin_state_up: f.flag("admin_state_up", true),
            listener_id: f.str("listener_id").into_option(),
            loadbalancer_id: f.str("loadbalancer_id").into_option(),
            protocol: f.str("protocol").value().and_then(|p| Protocol::parse(p)),
            lb_algorithm: f
                .str("lb_algorithm")
                .value()
                .and_then(|a| LbAlgorithm::parse(a)),
            session_persistence: f
                .object("session_persistence")
                .into_option()
                .map(|sp| SessionPersistenceInput::from_fields(&sp)),
            project_id: f.str("project_id").into_option(),
            healthmonitor,
            members,
            tags: f.strs("tags").into_option().unwrap_or_default(),
            tls_container_ref: f.str("tls_container_ref").into_option(),
            ca_tls_container_ref: f.str("ca_tls_container_ref").into_option(),
            crl_container_ref: f.str("crl_container_ref").into_option(),
            tls_enabled,
            tls_ciphers: match f.str("tls_ciphers") {
                Patch::Value(c) => Some(c),
                _ if tls_enabled => Some(CIPHERS_OWASP_SUITE_B.to_string()),
                _ => None,
            },
            tls_versions: tls_default(f.strs("tls_versions"), DEFAULT_TLS_VERSIONS),
            alpn_protocols: tls_default(f.strs("alpn_protocols"), DEFAULT_ALPN_PROTOCOLS),
            given: f.0.keys().cloned().collect(),
        })
    }

    /// The session persistence rules of the pool controller's `post`.
    pub fn check_session_persistence(&self) -> Result<(), LbError> {
        match (&self.session_persistence, self.protocol) {
            (Some(sp), Some(p)) => sp.check(p, false),
            _ => Ok(()),
        }
    }

    /// `_validate_create_pool` without the certificate lookups.
    pub fn check_tls(&self, prohibited_ciphers: &[&str]) -> Result<(), LbError> {
        if self
            .crl_container_ref
            .as_deref()
            .is_some_and(|s| !s.is_empty())
            && self
                .ca_tls_container_ref
                .as_deref()
                .is_none_or(str::is_empty)
        {
            return Err(LbError::validation(
                "A CA certificate reference is required to specify a revocation list.",
            ));
        }
        if let Some(c) = self.tls_ciphers.as_deref().filter(|c| !c.is_empty()) {
            checks::cipher_string(c, prohibited_ciphers)?;
        }
        if self.tls_enabled {
            checks::tls_versions(self.tls_versions.as_deref())?;
            checks::alpn_protocols(self.alpn_protocols.as_deref())?;
        }
        Ok(())
    }

    /// The session persistence to store.
    pub fn stored_session_persistence(&self) -> Option<SessionPersistence> {
        let sp = self.session_persistence.as_ref()?;
        Some(SessionPersistence {
            sp_type: sp.sp_type?,
            cookie_name: sp.cookie_name.clone(),
            persistence_timeout: sp.persistence_timeout,
            persistence_granularity: sp.persistence_granularity.clone(),
        })
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct PoolUpdate {
    pub name: Patch<String>,
    pub description: Patch<String>,
    pub admin_state_up: Patch<bool>,
    pub lb_algorithm: Patch<LbAlgorithm>,
    pub session_persistence: Patch<SessionPersistenceInput>,
    pub tags: Patch<Vec<String>>,
    pub tls_container_ref: Patch<String>,
    pub ca_tls_container_ref: Patch<String>,
    pub crl_container_ref: Patch<String>,
    pub tls_enabled: Patch<bool>,
    pub tls_ciphers: Patch<String>,
    pub tls_versions: Patch<Vec<String>>,
    pub alpn_protocols: Patch<Vec<String>>,
}

impl PoolUpdate {
    /// `PUT /v2/lbaas/pools/{id}`.
    pub fn parse(body: &Value) -> Result<Self, LbError> {
        let f = Fields(parse_root(body, "pool_", "pool", &POOL_PUT)?);
        Ok(PoolUpdate {
            name: f.str("name"),
            description: f.str("description"),
            admin_state_up: f.bool("admin_state_up").null_as(|| false),
            lb_algorithm: f
                .str("lb_algorithm")
                .map(|a| LbAlgorithm::parse(&a).unwrap_or(LbAlgorithm::RoundRobin)),
            session_persistence: f
                .object("session_persistence")
                .map(|sp| SessionPersistenceInput::from_fields(&sp)),
            tags: f.strs("tags"),
            tls_container_ref: f.str("tls_container_ref"),
            ca_tls_container_ref: f.str("ca_tls_container_ref"),
            crl_container_ref: f.str("crl_container_ref"),
            tls_enabled: f.bool("tls_enabled"),
            tls_ciphers: f
                .str("tls_ciphers")
                .null_as(|| CIPHERS_OWASP_SUITE_B.to_string()),
            tls_versions: f
                .strs("tls_versions")
                .null_as(|| DEFAULT_TLS_VERSIONS.iter().map(|s| s.to_string()).collect()),
            alpn_protocols: f.strs("alpn_protocols"),
        })
    }

    /// `_validate_pool_PUT` without the certificate lookups.
    pub fn check(&self, stored: &Pool, prohibited_ciphers: &[&str]) -> Result<(), LbError> {
        if let Some(sp) = self.session_persistence.value() {
            sp.check(stored.protocol, true)?;
        }
        let crl = match &self.crl_container_ref {
            Patch::Value(c) if !c.is_empty() => Some(c.clone()),
            Patch::Unset => stored.crl_container_ref.clone(),
            _ => None,
        };
        let db_ca = stored.ca_tls_container_ref.as_deref();
        let no_ca_msg = "A CA reference is required to specify a certificate revocation list.";
        match &self.ca_tls_container_ref {
            Patch::Unset => {
                if db_ca.is_none() && crl.is_some() {
                    return Err(LbError::validation(no_ca_msg));
                }
            }
            given => {
                let given_ca = given.value().is_some_and(|c| !c.is_empty());
                if !given_ca && db_ca.is_some() && crl.is_some() {
                    return Err(LbError::validation(
                        "A CA reference cannot be removed when a certificate revocation list is \
                         present.",
                    ));
                }
                if !given_ca && db_ca.is_none() && crl.is_some() {
                    return Err(LbError::validation(no_ca_msg));
                }
            }
        }
        if let Some(c) = self.tls_ciphers.value().filter(|c| !c.is_empty()) {
            checks::cipher_string(c, prohibited_ciphers)?;
        }
        if self.tls_versions.is_set() {
            checks::tls_versions(self.tls_versions.value().map(Vec::as_slice))?;
        }
        if self.alpn_protocols.is_set() {
            checks::alpn_protocols(self.alpn_protocols.value().map(Vec::as_slice))?;
        }
        Ok(())
    }

    pub fn apply(&self, stored: &Pool) -> Pool {
        let mut p = stored.clone();
        p.name = self.name.clone().apply(p.name);
        p.description = self.description.clone().apply(p.description);
        if let Patch::Value(v) = self.admin_state_up {
            p.admin_state_up = v;
        }
        if let Patch::Value(a) = self.lb_algorithm {
            p.lb_algorithm = a;
        }
        match &self.session_persistence {
            Patch::Unset => {}
            Patch::Null => p.session_persistence = None,
            Patch::Value(sp) => {
                p.session_persistence = sp.sp_type.map(|sp_type| SessionPersistence {
                    sp_type,
                    cookie_name: sp.cookie_name.clone(),
                    persistence_timeout: sp.persistence_timeout,
                    persistence_granularity: sp.persistence_granularity.clone(),
                });
            }
        }
        if let Patch::Value(t) = &self.tags {
            p.tags = t.clone();
        }
        p.tls_container_ref = self.tls_container_ref.clone().apply(p.tls_container_ref);
        p.ca_tls_container_ref = self
            .ca_tls_container_ref
            .clone()
            .apply(p.ca_tls_container_ref);
        p.crl_container_ref = self.crl_container_ref.clone().apply(p.crl_container_ref);
        match self.tls_enabled {
            Patch::Value(v) => p.tls_enabled = v,
            Patch::Null => p.tls_enabled = false,
            Patch::Unset => {}
        }
        p.tls_ciphers = self.tls_ciphers.clone().apply(p.tls_ciphers);
        p.tls_versions = self.tls_versions.clone().apply(p.tls_versions);
        p.alpn_protocols = self.alpn_protocols.clone().apply(p.alpn_protocols);
        p
    }
}
