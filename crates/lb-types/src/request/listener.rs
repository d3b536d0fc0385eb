//! Listener POST/PUT bodies (octavia 19 `ListenerPOST`, `ListenerPUT`,
//! `ListenerSingleCreate`) and the listener controller's static checks.

use super::l7policy::{L7POLICY_SINGLE, L7PolicyCreate};
use super::pool::{POOL_SINGLE, PoolCreate};
use crate::LbError;
use crate::checks;
use crate::consts::*;
use crate::enums::{ClientAuthentication, LISTENER_PROTOCOLS, Protocol};
use crate::model::Listener;
use crate::patch::{Fields, Patch};
use crate::wsme::{Attr, Kind, Schema, int, opt, parse_root, req, text};
use serde_json::{Map, Value};
use std::net::IpAddr;

const PORT: Kind = int(Some(MIN_PORT_NUMBER), Some(MAX_PORT_NUMBER));
const TIMEOUT: Kind = int(Some(MIN_TIMEOUT), Some(MAX_TIMEOUT));
const CLIENT_AUTH: Kind = Kind::StrEnum(ClientAuthentication::WIRE);
const TAGS: Kind = Kind::List(&text(255));

macro_rules! listener_attrs {
    ($($head:expr),* ; $($tail:expr),*) => {
        &[
            $($head,)*
            opt("connection_limit", int(Some(MIN_CONNECTION_LIMIT), None)),
            opt("default_tls_container_ref", text(255)),
            opt("sni_container_refs", Kind::List(&text(255))),
            $($tail,)*
            opt("timeout_client_data", TIMEOUT),
            opt("timeout_member_connect", TIMEOUT),
            opt("timeout_member_data", TIMEOUT),
            opt("timeout_tcp_inspect", TIMEOUT),
            opt("tags", TAGS),
            opt("client_ca_tls_container_ref", text(255)),
            opt("client_authentication", CLIENT_AUTH),
            opt("client_crl_container_ref", text(255)),
            opt("allowed_cidrs", Kind::List(&Kind::Cidr)),
            opt("tls_ciphers", text(2048)),
            opt("tls_versions", Kind::List(&text(32))),
            opt("alpn_protocols", Kind::List(&Kind::Alpn)),
            opt("hsts_max_age", int(Some(0), None)),
            opt("hsts_include_subdomains", Kind::Bool),
            opt("hsts_preload", Kind::Bool),
        ]
    };
}

const NAME: Attr = opt("name", text(255));
const DESCRIPTION: Attr = opt("description", text(255));
const ADMIN: Attr = opt("admin_state_up", Kind::Bool);

static LISTENER_POST: Schema = Schema {
    attrs: listener_attrs!(
        NAME, DESCRIPTION, ADMIN,
        req("protocol", Kind::StrEnum(LISTENER_PROTOCOLS)),
        req("protocol_port", PORT);
        opt("project_id", text(36)),
        opt("default_pool_id", Kind::Uuid),
        opt("default_pool", Kind::Object(&POOL_SINGLE)),
        opt("l7policies", Kind::ObjectList(&L7POLICY_SINGLE)),
        opt("insert_headers", Kind::StrMap(&text(255))),
        req("loadbalancer_id", Kind::Uuid)
    ),
    tenant_id: true,
};

pub(crate) static LISTENER_SINGLE: Schema = Schema {
    attrs: listener_attrs!(
        NAME, DESCRIPTION, ADMIN,
        req("protocol", Kind::StrEnum(LISTENER_PROTOCOLS)),
        req("protocol_port", PORT);
        opt("default_pool_id", Kind::Uuid),
        opt("default_pool", Kind::Object(&POOL_SINGLE)),
        opt("l7policies", Kind::ObjectList(&L7POLICY_SINGLE)),
        opt("insert_headers", Kind::StrMap(&text(255)))
    ),
    tenant_id: false,
};

static LISTENER_PUT: Schema = Schema {
    attrs: &[
        NAME,
        DESCRIPTION,
        ADMIN,
        opt("connection_limit", int(Some(MIN_CONNECTION_LIMIT), None)),
        opt("default_tls_container_ref", text(255)),
        opt("sni_container_refs", Kind::List(&text(255))),
        opt("default_pool_id", Kind::Uuid),
        opt("insert_headers", Kind::StrMap(&text(255))),
        opt("timeout_client_data", TIMEOUT),
        opt("timeout_member_connect", TIMEOUT),
        opt("timeout_member_data", TIMEOUT),
        opt("timeout_tcp_inspect", TIMEOUT),
        opt("tags", TAGS),
        opt("client_ca_tls_container_ref", text(255)),
        opt("client_authentication", CLIENT_AUTH),
        opt("client_crl_container_ref", text(255)),
        opt("allowed_cidrs", Kind::List(&Kind::Cidr)),
        opt("tls_ciphers", text(2048)),
        opt("tls_versions", Kind::List(&text(32))),
        opt("alpn_protocols", Kind::List(&Kind::Alpn)),
        opt("hsts_max_age", int(Some(0), None)),
        opt("hsts_include_subdomains", Kind::Bool),
        opt("hsts_preload", Kind::Bool),
    ],
    tenant_id: false,
};

/// A listener to create, defaults applied (`db/prepare.create_listener`).
#[derive(Clone, Debug, PartialEq)]
pub struct ListenerCreate {
    pub name: Option<String>,
    pub description: Option<String>,
    pub admin_state_up: bool,
    pub protocol: Protocol,
    pub protocol_port: i64,
    pub connection_limit: i64,
    pub default_tls_container_ref: Option<String>,
    pub sni_container_refs: Vec<String>,
    /// Given in the body (deprecated, ignored: the LB's project wins).
    pub project_id: Option<String>,
    /// `None` in a graph create (the LB is being made).
    pub loadbalancer_id: Option<String>,
    pub default_pool_id: Option<String>,
    /// Graph create: an inline pool, a definition or a by-name reference.
    pub default_pool: Option<PoolCreate>,
    pub l7policies: Vec<L7PolicyCreate>,
    pub insert_headers: Map<String, Value>,
    pub timeout_client_data: i64,
    pub timeout_member_connect: i64,
    pub timeout_member_data: i64,
    pub timeout_tcp_inspect: i64,
    pub tags: Vec<String>,
    pub client_ca_tls_container_ref: Option<String>,
    pub client_authentication: ClientAuthentication,
    pub client_crl_container_ref: Option<String>,
    pub allowed_cidrs: Vec<String>,
    pub tls_ciphers: Option<String>,
    pub tls_versions: Option<Vec<String>>,
    pub alpn_protocols: Option<Vec<String>>,
    pub hsts_max_age: Option<i64>,
    pub hsts_include_subdomains: bool,
    pub hsts_preload: bool,
}

impl ListenerCreate {
    /// `POST /v2/lbaas/listeners`.
    pub fn parse(body: &Value) -> Result<Self, LbError> {
        let f = Fields(parse_root(body, "listener_", "listener", &LISTENER_POST)?);
        Self::from_fields(&f)
    }

    pub(crate) fn from_fields(f: &Fields) -> Result<Self, LbError> {
        let protocol = f
            .str("protocol")
            .value()
            .and_then(|p| Protocol::parse(p))
            .ok_or_else(|| LbError::mandatory_missing("protocol"))?;
        let protocol_port = f
            .int("protocol_port")
            .into_option()
            .ok_or_else(|| LbError::mandatory_missing("protocol_port"))?;
        let loadbalancer_id = if f.has("loadbalancer_id") {
            Some(
                f.str("loadbalancer_id")
                    .into_option()
                    .ok_or_else(|| LbError::mandatory_missing("loadbalancer_id"))?,
            )
        } else {
            None
        };
        let terminated = protocol == Protocol::TerminatedHttps;
        let tls_default = |p: Patch<Vec<String>>, d: &[&str]| match p {
            Patch::Value(v) => Some(v),
            _ if terminated => Some(d.iter().map(|s| s.to_string()).collect()),
            _ => None,
        };
        let default_pool = match f.object("default_pool") {
            Patch::Value(p) => Some(PoolCreate::from_fields(&p)?),
            _ => None,
        };
        let l7policies = f
            .objects("l7policies")
            .into_option()
            .unwrap_or_default()
            .iter()
            .map(L7PolicyCreate::from_fields)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ListenerCreate {
            name: f.str("name").into_option(),
            description: f.str("description").into_option(),
            admin_state_up: f.flag("admin_state_up", true),
            protocol,
            protocol_port,
            connection_limit: f
                .int("connection_limit")
                .into_option()
                .unwrap_or(DEFAULT_CONNECTION_LIMIT),
            default_tls_container_ref: f.str("default_tls_container_ref").into_option(),
            sni_container_refs: f
                .strs("sni_container_refs")
                .into_option()
                .unwrap_or_default(),
            project_id: f.str("project_id").into_option(),
            loadbalancer_id,
            default_pool_id: f.str("default_pool_id").into_option(),
            default_pool,
            l7policies,
            insert_headers: f.map("insert_headers").into_option().unwrap_or_default(),
            timeout_client_data: f
                .int("timeout_client_data")
                .into_option()
                .unwrap_or(DEFAULT_TIMEOUT_CLIENT_DATA),
            timeout_member_connect: f
                .int("timeout_member_connect")
                .into_option()
                .unwrap_or(DEFAULT_TIMEOUT_MEMBER_CONNECT),
            timeout_member_data: f
                .int("timeout_member_data")
                .into_option()
                .unwrap_or(DEFAULT_TIMEOUT_MEMBER_DATA),
            timeout_tcp_inspect: f
                .int("timeout_tcp_inspect")
                .into_option()
                .unwrap_or(DEFAULT_TIMEOUT_TCP_INSPECT),
            tags: f.strs("tags").into_option().unwrap_or_default(),
            client_ca_tls_container_ref: f.str("client_ca_tls_container_ref").into_option(),
            client_authentication: f
                .str("client_authentication")
                .value()
                .and_then(|c| ClientAuthentication::parse(c))
                .unwrap_or(ClientAuthentication::None),
            client_crl_container_ref: f.str("client_crl_container_ref").into_option(),
            allowed_cidrs: f.strs("allowed_cidrs").into_option().unwrap_or_default(),
            tls_ciphers: match f.str("tls_ciphers") {
                Patch::Value(c) => Some(c),
                _ if terminated => Some(CIPHERS_OWASP_SUITE_B.to_string()),
                _ => None,
            },
            tls_versions: tls_default(f.strs("tls_versions"), DEFAULT_TLS_VERSIONS),
            alpn_protocols: tls_default(f.strs("alpn_protocols"), DEFAULT_ALPN_PROTOCOLS),
            hsts_max_age: f.int("hsts_max_age").into_option(),
            hsts_include_subdomains: f
                .bool("hsts_include_subdomains")
                .into_option()
                .unwrap_or(false),
            hsts_preload: f.bool("hsts_preload").into_option().unwrap_or(false),
        })
    }

    fn has_tls_refs(&self) -> bool {
        self.default_tls_container_ref
            .as_deref()
            .is_some_and(|s| !s.is_empty())
            || self
                .client_ca_tls_container_ref
                .as_deref()
                .is_some_and(|s| !s.is_empty())
            || !self.sni_container_refs.is_empty()
    }

    fn can_tls_offload(&self) -> bool {
        self.protocol == Protocol::TerminatedHttps
            || (self.protocol == Protocol::Prometheus && self.has_tls_refs())
    }

    /// PROMETHEUS listeners take no default pool and no L7 policies
    /// (`ListenerNoChildren`; upstream checks the pool before and the
    /// policies after `_validate_create_listener`).
    pub fn check_no_children(&self) -> Result<(), LbError> {
        let children = self.default_pool_id.is_some()
            || self.default_pool.is_some()
            || !self.l7policies.is_empty();
        if self.protocol == Protocol::Prometheus && children {
            return Err(LbError::listener_no_children(Protocol::Prometheus.as_str()));
        }
        Ok(())
    }

    /// The first half of `_validate_create_listener`, up to (not
    /// including) the certificate lookups and the duplicate check.
    /// `prohibited_ciphers` is the operator's prohibit list.
    pub fn check_options(&self, prohibited_ciphers: &[&str]) -> Result<(), LbError> {
        let p = self.protocol;
        if !self.insert_headers.is_empty() {
            let names: Vec<&str> = self.insert_headers.keys().map(String::as_str).collect();
            checks::insert_headers(&names, p, true)?;
        }
        if p.is_lvs() && (self.has_tls_refs() || !self.insert_headers.is_empty()) {
            return Err(LbError::validation(format!(
                "{p} protocol listener does not support TLS."
            )));
        }
        if !self.can_tls_offload() && self.has_tls_refs() {
            return Err(LbError::validation(format!(
                "Certificate container references are not allowed on {p} protocol listeners."
            )));
        }
        let has_cert = self
            .default_tls_container_ref
            .as_deref()
            .is_some_and(|s| !s.is_empty())
            || !self.sni_container_refs.is_empty();
        let has_ca = self
            .client_ca_tls_container_ref
            .as_deref()
            .is_some_and(|s| !s.is_empty());
        if has_ca && !has_cert {
            return Err(LbError::validation(
                "An SNI or default certificate container reference must be provided with a \
                 client CA container reference.",
            ));
        }
        if self.can_tls_offload() && !has_cert {
            let what = if p == Protocol::Prometheus {
                format!("{p} with TLS")
            } else {
                p.to_string()
            };
            return Err(LbError::validation(format!(
                "An SNI or default certificate container reference must be provided for {what} \
                 protocol listeners."
            )));
        }
        if self.client_authentication != ClientAuthentication::None && !has_ca {
            return Err(LbError::validation(format!(
                "Client authentication setting {} requires a client CA container reference.",
                self.client_authentication
            )));
        }
        if self
            .client_crl_container_ref
            .as_deref()
            .is_some_and(|s| !s.is_empty())
            && !has_ca
        {
            return Err(LbError::validation(
                "A client authentication CA reference is required to specify a client \
                 authentication revocation list.",
            ));
        }
        if let Some(c) = self.tls_ciphers.as_deref().filter(|c| !c.is_empty()) {
            checks::cipher_string(c, prohibited_ciphers)?;
        }
        Ok(())
    }

    /// The second half of `_validate_create_listener`, after the duplicate
    /// check: allowed CIDRs against the load balancer's VIPs, TLS versions,
    /// ALPN and HSTS.
    pub fn check_against_vips(&self, vips: &[IpAddr], vip_has_sg_ids: bool) -> Result<(), LbError> {
        checks::allowed_cidrs_vs_vips(&self.allowed_cidrs, vips, vip_has_sg_ids)?;
        if self.can_tls_offload() {
            checks::tls_versions(self.tls_versions.as_deref())?;
            checks::alpn_protocols(self.alpn_protocols.as_deref())?;
        }
        if (self.hsts_include_subdomains || self.hsts_preload) && self.hsts_max_age.is_none() {
            return Err(LbError::validation(
                "HSTS configuration options hsts_include_subdomains and hsts_preload only make \
                 sense if hsts_max_age is set as well.",
            ));
        }
        if self.hsts_max_age.is_some() && self.protocol != Protocol::TerminatedHttps {
            return Err(LbError::validation(
                "The HSTS feature can only be used for listeners using the TERMINATED_HTTPS \
                 protocol.",
            ));
        }
        Ok(())
    }
}

/// A listener PUT: each attribute absent, null or a value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ListenerUpdate {
    pub name: Patch<String>,
    pub description: Patch<String>,
    pub admin_state_up: Patch<bool>,
    pub connection_limit: Patch<i64>,
    pub default_tls_container_ref: Patch<String>,
    pub sni_container_refs: Patch<Vec<String>>,
    pub default_pool_id: Patch<String>,
    pub insert_headers: Patch<Map<String, Value>>,
    pub timeout_client_data: Patch<i64>,
    pub timeout_member_connect: Patch<i64>,
    pub timeout_member_data: Patch<i64>,
    pub timeout_tcp_inspect: Patch<i64>,
    pub tags: Patch<Vec<String>>,
    pub client_ca_tls_container_ref: Patch<String>,
    pub client_authentication: Patch<ClientAuthentication>,
    pub client_crl_container_ref: Patch<String>,
    pub allowed_cidrs: Patch<Vec<String>>,
    pub tls_ciphers: Patch<String>,
    pub tls_versions: Patch<Vec<String>>,
    pub alpn_protocols: Patch<Vec<String>>,
    pub hsts_max_age: Patch<i64>,
    pub hsts_include_subdomains: Patch<bool>,
    pub hsts_preload: Patch<bool>,
}

fn strings(d: &[&str]) -> Vec<String> {
    d.iter().map(|s| s.to_string()).collect()
}

impl ListenerUpdate {
    /// `PUT /v2/lbaas/listeners/{id}`. Nulls that mean "the default"
    /// (upstream's `_set_default_on_none`) are already replaced.
    pub fn parse(body: &Value) -> Result<Self, LbError> {
        let f = Fields(parse_root(body, "listener_", "listener", &LISTENER_PUT)?);
        Ok(ListenerUpdate {
            name: f.str("name"),
            description: f.str("description"),
            admin_state_up: f.bool("admin_state_up").null_as(|| false),
            connection_limit: f
                .int("connection_limit")
                .null_as(|| DEFAULT_CONNECTION_LIMIT),
            default_tls_container_ref: f.str("default_tls_container_ref"),
            sni_container_refs: f.strs("sni_container_refs"),
            default_pool_id: f.str("default_pool_id"),
            insert_headers: f.map("insert_headers"),
            timeout_client_data: f
                .int("timeout_client_data")
                .null_as(|| DEFAULT_TIMEOUT_CLIENT_DATA),
            timeout_member_connect: f
                .int("timeout_member_connect")
                .null_as(|| DEFAULT_TIMEOUT_MEMBER_CONNECT),
            timeout_member_data: f
                .int("timeout_member_data")
                .null_as(|| DEFAULT_TIMEOUT_MEMBER_DATA),
            timeout_tcp_inspect: f
                .int("timeout_tcp_inspect")
                .null_as(|| DEFAULT_TIMEOUT_TCP_INSPECT),
            tags: f.strs("tags"),
            client_ca_tls_container_ref: f.str("client_ca_tls_container_ref"),
            client_authentication: f
                .str("client_authentication")
                .map(|c| ClientAuthentication::parse(&c).unwrap_or(ClientAuthentication::None))
                .null_as(|| ClientAuthentication::None),
            client_crl_container_ref: f.str("client_crl_container_ref"),
            allowed_cidrs: f.strs("allowed_cidrs"),
            tls_ciphers: f
                .str("tls_ciphers")
                .null_as(|| CIPHERS_OWASP_SUITE_B.to_string()),
            tls_versions: f
                .strs("tls_versions")
                .null_as(|| strings(DEFAULT_TLS_VERSIONS)),
            alpn_protocols: f
                .strs("alpn_protocols")
                .null_as(|| strings(DEFAULT_ALPN_PROTOCOLS)),
            hsts_max_age: f.int("hsts_max_age"),
            hsts_include_subdomains: f.bool("hsts_include_subdomains").null_as(|| false),
            hsts_preload: f.bool("hsts_preload").null_as(|| false),
        })
    }

    fn has_tls_refs(&self) -> bool {
        let set = |p: &Patch<String>| p.value().is_some_and(|s| !s.is_empty());
        set(&self.default_tls_container_ref)
            || set(&self.client_ca_tls_container_ref)
            || self
                .sni_container_refs
                .value()
                .is_some_and(|v| !v.is_empty())
    }

    /// `_validate_listener_PUT` without the certificate lookups; `vips`
    /// are the addresses of the listener's load balancer.
    pub fn check(
        &self,
        stored: &Listener,
        vips: &[IpAddr],
        vip_has_sg_ids: bool,
        prohibited_ciphers: &[&str],
    ) -> Result<(), LbError> {
        let p = stored.protocol;
        let can_tls_offload =
            p == Protocol::TerminatedHttps || (p == Protocol::Prometheus && self.has_tls_refs());
        let headers = self.insert_headers.value().filter(|h| !h.is_empty());
        if p.is_lvs() && (self.has_tls_refs() || headers.is_some()) {
            return Err(LbError::validation(format!(
                "{p} protocol listener does not support TLS or header insertion."
            )));
        }
        if !can_tls_offload && self.has_tls_refs() {
            return Err(LbError::validation(format!(
                "Certificate container references are not allowed on {p} protocol listeners."
            )));
        }
        if let Patch::Value(auth) = self.client_authentication
            && auth != ClientAuthentication::None
            && stored.client_ca_tls_container_ref.is_none()
            && self
                .client_ca_tls_container_ref
                .value()
                .is_none_or(String::is_empty)
        {
            return Err(LbError::validation(format!(
                "Client authentication setting {auth} requires a client CA container reference."
            )));
        }
        if let Some(h) = headers {
            let names: Vec<&str> = h.keys().map(String::as_str).collect();
            checks::insert_headers(&names, p, false)?;
        }
        let given = |p: &Patch<String>| p.value().filter(|s| !s.is_empty()).cloned();
        let ca =
            given(&self.client_ca_tls_container_ref).or(stored.client_ca_tls_container_ref.clone());
        let crl = given(&self.client_crl_container_ref).or(stored.client_crl_container_ref.clone());
        if crl.is_some() && ca.is_none() {
            return Err(LbError::validation(
                "A client authentication CA reference is required to specify a client \
                 authentication revocation list.",
            ));
        }
        if let Some(cidrs) = self.allowed_cidrs.value().filter(|c| !c.is_empty()) {
            checks::allowed_cidrs_vs_vips(cidrs, vips, vip_has_sg_ids)?;
        }
        if let Some(c) = self.tls_ciphers.value().filter(|c| !c.is_empty()) {
            checks::cipher_string(c, prohibited_ciphers)?;
        }
        if let Patch::Value(v) = &self.tls_versions {
            checks::tls_versions(Some(v))?;
        }
        if let Patch::Value(a) = &self.alpn_protocols {
            checks::alpn_protocols(Some(a))?;
        }
        let hsts_disabled = stored.hsts_max_age.is_none() && self.hsts_max_age.value().is_none();
        let wants = |p: &Patch<bool>| p.value().copied().unwrap_or(false);
        if (wants(&self.hsts_include_subdomains) || wants(&self.hsts_preload)) && hsts_disabled {
            return Err(LbError::validation(
                "Cannot enable hsts_include_subdomains or hsts_preload if hsts_max_age was not \
                 set as well.",
            ));
        }
        if self.hsts_max_age.value().is_some() && p != Protocol::TerminatedHttps {
            return Err(LbError::validation(
                "The HSTS feature can only be used for listeners using the TERMINATED_HTTPS \
                 protocol.",
            ));
        }
        Ok(())
    }

    /// The stored listener with this update applied.
    pub fn apply(&self, stored: &Listener) -> Listener {
        let mut l = stored.clone();
        l.name = self.name.clone().apply(l.name);
        l.description = self.description.clone().apply(l.description);
        if let Patch::Value(v) = self.admin_state_up {
            l.admin_state_up = v;
        }
        if let Patch::Value(v) = self.connection_limit {
            l.connection_limit = v;
        }
        l.default_tls_container_ref = self
            .default_tls_container_ref
            .clone()
            .apply(l.default_tls_container_ref);
        if self.sni_container_refs.is_set() {
            l.sni_container_refs = self
                .sni_container_refs
                .clone()
                .into_option()
                .unwrap_or_default();
        }
        l.default_pool_id = self.default_pool_id.clone().apply(l.default_pool_id);
        if self.insert_headers.is_set() {
            l.insert_headers = self
                .insert_headers
                .clone()
                .into_option()
                .unwrap_or_default();
        }
        for (patch, field) in [
            (&self.timeout_client_data, &mut l.timeout_client_data),
            (&self.timeout_member_connect, &mut l.timeout_member_connect),
            (&self.timeout_member_data, &mut l.timeout_member_data),
            (&self.timeout_tcp_inspect, &mut l.timeout_tcp_inspect),
        ] {
            if let Patch::Value(v) = patch {
                *field = *v;
            }
        }
        if let Patch::Value(t) = &self.tags {
            l.tags = t.clone();
        }
        l.client_ca_tls_container_ref = self
            .client_ca_tls_container_ref
            .clone()
            .apply(l.client_ca_tls_container_ref);
        if let Patch::Value(c) = self.client_authentication {
            l.client_authentication = c;
        }
        l.client_crl_container_ref = self
            .client_crl_container_ref
            .clone()
            .apply(l.client_crl_container_ref);
        if self.allowed_cidrs.is_set() {
            l.allowed_cidrs = self.allowed_cidrs.clone().into_option().unwrap_or_default();
        }
        l.tls_ciphers = self.tls_ciphers.clone().apply(l.tls_ciphers);
        l.tls_versions = self.tls_versions.clone().apply(l.tls_versions);
        l.alpn_protocols = self.alpn_protocols.clone().apply(l.alpn_protocols);
        l.hsts_max_age = self.hsts_max_age.clone().apply(l.hsts_max_age);
        if let Patch::Value(v) = self.hsts_include_subdomains {
            l.hsts_include_subdomains = v;
        }
        if let Patch::Value(v) = self.hsts_preload {
            l.hsts_preload = v;
        }
        l
    }
}
