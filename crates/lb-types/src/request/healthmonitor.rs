//! Health monitor POST/PUT bodies (`HealthMonitorPOST`, `...PUT`,
//! `...SingleCreate`) and the controller's static checks.

use crate::LbError;
use crate::checks::DOMAIN_NAME;
use crate::consts::*;
use crate::enums::{HealthMonitorType as HmType, HttpMethod, Protocol};
use crate::model::HealthMonitor;
use crate::patch::{Fields, Patch};
use crate::wsme::{Attr, Kind, Pattern, Schema, int, opt, parse_root, py_float_str, req, text};
use serde_json::Value;

static EXPECTED_CODES: Pattern = Pattern {
    python: r"^(\d{3}(\s*,\s*\d{3})*)$|^(\d{3}-\d{3})$",
    rust: r"^(\d{3}(\s*,\s*\d{3})*)\n?\z|^(\d{3}-\d{3})\n?\z",
};

const RETRIES: Kind = int(Some(MIN_HM_RETRIES), Some(MAX_HM_RETRIES));
const NAME: Attr = opt("name", text(255));
const HTTP_METHOD: Attr = opt("http_method", Kind::StrEnum(HttpMethod::WIRE));
const URL_PATH: Attr = opt("url_path", Kind::UrlPath);
const CODES: Attr = opt(
    "expected_codes",
    Kind::Str {
        min: None,
        max: None,
        pattern: Some(&EXPECTED_CODES),
    },
);
const ADMIN: Attr = opt("admin_state_up", Kind::Bool);
const TAGS: Attr = opt("tags", Kind::List(&text(255)));
const HTTP_VERSION: Attr = opt("http_version", Kind::FloatEnum(HTTP_VERSIONS));
const DOMAIN: Attr = opt(
    "domain_name",
    Kind::Str {
        min: Some(1),
        max: Some(255),
        pattern: Some(&DOMAIN_NAME),
    },
);

static HM_POST: Schema = Schema {
    attrs: &[
        NAME,
        req("type", Kind::StrEnum(HmType::WIRE)),
        req("delay", int(Some(0), None)),
        req("timeout", int(Some(0), None)),
        opt("max_retries_down", RETRIES),
        req("max_retries", RETRIES),
        HTTP_METHOD,
        URL_PATH,
        CODES,
        ADMIN,
        opt("project_id", text(36)),
        req("pool_id", Kind::Uuid),
        TAGS,
        HTTP_VERSION,
        DOMAIN,
    ],
    tenant_id: true,
};

pub(crate) static HM_SINGLE: Schema = Schema {
    attrs: &[
        NAME,
        req("type", Kind::StrEnum(HmType::WIRE)),
        req("delay", int(Some(0), None)),
        req("timeout", int(Some(0), None)),
        opt("max_retries_down", RETRIES),
        req("max_retries", RETRIES),
        HTTP_METHOD,
        URL_PATH,
        CODES,
        ADMIN,
        TAGS,
        HTTP_VERSION,
        DOMAIN,
    ],
    tenant_id: false,
};

static HM_PUT: Schema = Schema {
    attrs: &[
        NAME,
        opt("delay", int(Some(0), None)),
        opt("timeout", int(Some(0), None)),
        opt("max_retries_down", RETRIES),
        opt("max_retries", RETRIES),
        HTTP_METHOD,
        URL_PATH,
        CODES,
        ADMIN,
        TAGS,
        HTTP_VERSION,
        DOMAIN,
    ],
    tenant_id: false,
};

#[derive(Clone, Debug, PartialEq)]
pub struct HealthMonitorCreate {
    pub name: Option<String>,
    pub hm_type: HmType,
    pub delay: i64,
    pub timeout: i64,
    pub max_retries: i64,
    pub max_retries_down: i64,
    pub http_method: Option<HttpMethod>,
    pub url_path: Option<String>,
    pub expected_codes: Option<String>,
    pub admin_state_up: bool,
    pub project_id: Option<String>,
    /// `None` in a graph create.
    pub pool_id: Option<String>,
    pub tags: Vec<String>,
    pub http_version: Option<f64>,
    pub domain_name: Option<String>,
}

fn none_option(field: &str) -> LbError {
    LbError::invalid_option("None", field)
}

impl HealthMonitorCreate {
    /// `POST /v2/lbaas/healthmonitors`.
    pub fn parse(body: &Value) -> Result<Self, LbError> {
        let f = Fields(parse_root(
            body,
            "health_monitor_",
            "healthmonitor",
            &HM_POST,
        )?);
        let hm = Self::from_fields(&f)?;
        if hm.pool_id.is_none() {
            return Err(none_option("pool_id"));
        }
        Ok(hm)
    }

    /// Reads the body: mandatory nulls are `None is not a valid option
    /// for ...` (upstream finds them in `_validate_create_hm`), HTTP(S)
    /// defaults are filled in.
    pub(crate) fn from_fields(f: &Fields) -> Result<Self, LbError> {
        let hm_type = f
            .str("type")
            .value()
            .and_then(|t| HmType::parse(t))
            .ok_or_else(|| none_option("type"))?;
        let delay = f
            .int("delay")
            .into_option()
            .ok_or_else(|| none_option("delay"))?;
        let timeout = f
            .int("timeout")
            .into_option()
            .ok_or_else(|| none_option("timeout"))?;
        let max_retries = f
            .int("max_retries")
            .into_option()
            .ok_or_else(|| none_option("max_retries"))?;
        let mut http_method = f.str("http_method").into_option().filter(|s| !s.is_empty());
        let mut url_path = f.str("url_path").into_option().filter(|s| !s.is_empty());
        let mut expected_codes = f
            .str("expected_codes")
            .into_option()
            .filter(|s| !s.is_empty());
        if matches!(hm_type, HmType::Http | HmType::Https) {
            http_method.get_or_insert_with(|| HEALTH_MONITOR_DEFAULT_HTTP_METHOD.into());
            url_path.get_or_insert_with(|| HEALTH_MONITOR_DEFAULT_URL_PATH.into());
            expected_codes.get_or_insert_with(|| HEALTH_MONITOR_DEFAULT_EXPECTED_CODES.into());
        }
        let http_version = f.float("http_version").into_option();
        let domain_name = f.str("domain_name").into_option();
        Ok(HealthMonitorCreate {
            name: f.str("name").into_option(),
            hm_type,
            delay,
            timeout,
            max_retries,
            max_retries_down: f
                .int("max_retries_down")
                .into_option()
                .unwrap_or(DEFAULT_MAX_RETRIES_DOWN),
            http_method: http_method.and_then(|m| HttpMethod::parse(&m)),
            url_path,
            expected_codes,
            admin_state_up: f.flag("admin_state_up", true),
            project_id: f.str("project_id").into_option(),
            pool_id: f.str("pool_id").into_option(),
            tags: f.strs("tags").into_option().unwrap_or_default(),
            http_version,
            domain_name,
        })
    }

    /// The rest of `_validate_create_hm`: HTTP-only attributes on other
    /// types, and `domain_name` needs `http_version` ≥ 1.1.
    pub fn check(&self) -> Result<(), LbError> {
        if !matches!(self.hm_type, HmType::Http | HmType::Https) {
            for (field, given) in [
                ("http_method", self.http_method.is_some()),
                ("url_path", self.url_path.is_some()),
                ("expected_codes", self.expected_codes.is_some()),
            ] {
                if given {
                    return Err(LbError::invalid_option(
                        field,
                        format!("health monitors of type {}", self.hm_type),
                    ));
                }
            }
        }
        check_domain_name(self.http_version, self.domain_name.as_deref())
    }

    /// The type against the pool's protocol (POST and graph create).
    pub fn check_pool_protocol(&self, pool_protocol: Protocol) -> Result<(), LbError> {
        if pool_protocol.is_lvs() {
            if !matches!(
                self.hm_type,
                HmType::UdpConnect | HmType::Sctp | HmType::Tcp | HmType::Http
            ) {
                return Err(LbError::validation(format!(
                    "The associated pool protocol is {pool_protocol}, so only a \
                     UDP-CONNECT/SCTP/TCP/HTTP health monitor is supported."
                )));
            }
            if self.hm_type == HmType::UdpConnect
                && self.delay < UDP_CONNECT_MIN_INTERVAL_HEALTH_MONITOR
            {
                return Err(LbError::validation(format!(
                    "The request delay value {} should be larger than {} for UDP-CONNECT \
                     health monitor type.",
                    self.delay, UDP_CONNECT_MIN_INTERVAL_HEALTH_MONITOR
                )));
            }
        } else if matches!(self.hm_type, HmType::UdpConnect | HmType::Sctp) {
            return Err(LbError::validation(format!(
                "The {} type is only supported for pools of type UDP/SCTP.",
                self.hm_type
            )));
        }
        Ok(())
    }
}

fn check_domain_name(http_version: Option<f64>, domain_name: Option<&str>) -> Result<(), LbError> {
    let domain = domain_name.filter(|d| !d.is_empty());
    if domain.is_some() && http_version.is_none_or(|v| v == 0.0) {
        return Err(LbError::validation(
            "'http_version' must be specified when 'domain_name' is provided.",
        ));
    }
    if let (Some(v), Some(_)) = (http_version, domain)
        && v < 1.1
    {
        return Err(LbError::invalid_option(
            format!("http_version {}", py_float_str(v)),
            "health monitors HTTP 1.1 domain name health check",
        ));
    }
    Ok(())
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct HealthMonitorUpdate {
    pub name: Patch<String>,
    pub delay: Patch<i64>,
    pub timeout: Patch<i64>,
    pub max_retries_down: Patch<i64>,
    pub max_retries: Patch<i64>,
    pub http_method: Patch<HttpMethod>,
    pub url_path: Patch<String>,
    pub expected_codes: Patch<String>,
    pub admin_state_up: Patch<bool>,
    pub tags: Patch<Vec<String>>,
    pub http_version: Patch<f64>,
    pub domain_name: Patch<String>,
}

impl HealthMonitorUpdate {
    /// `PUT /v2/lbaas/healthmonitors/{id}`.
    pub fn parse(body: &Value) -> Result<Self, LbError> {
        let f = Fields(parse_root(
            body,
            "health_monitor_",
            "healthmonitor",
            &HM_PUT,
        )?);
        Ok(HealthMonitorUpdate {
            name: f.str("name"),
            delay: f.int("delay"),
            timeout: f.int("timeout"),
            max_retries_down: f
                .int("max_retries_down")
                .null_as(|| DEFAULT_MAX_RETRIES_DOWN),
            max_retries: f.int("max_retries"),
            http_method: f
                .str("http_method")
                .map(|m| HttpMethod::parse(&m).unwrap_or(HttpMethod::Get)),
            url_path: f.str("url_path"),
            expected_codes: f.str("expected_codes"),
            admin_state_up: f.bool("admin_state_up").null_as(|| false),
            tags: f.strs("tags"),
            http_version: f.float("http_version"),
            domain_name: f.str("domain_name"),
        })
    }

    /// `_validate_update_hm`.
    pub fn check(&self, stored: &HealthMonitor) -> Result<(), LbError> {
        if !matches!(stored.hm_type, HmType::Http | HmType::Https) {
            for (field, set) in [
                ("http_method", self.http_method.is_set()),
                ("url_path", self.url_path.is_set()),
                ("expected_codes", self.expected_codes.is_set()),
            ] {
                if set {
                    return Err(LbError::invalid_option(
                        field,
                        format!("health monitors of type {}", stored.hm_type),
                    ));
                }
            }
        }
        for (field, null) in [
            ("delay", matches!(self.delay, Patch::Null)),
            ("max_retries", matches!(self.max_retries, Patch::Null)),
            ("timeout", matches!(self.timeout, Patch::Null)),
        ] {
            if null {
                return Err(none_option(field));
            }
        }
        let version = self.http_version.value().copied().or(stored.http_version);
        let domain = self
            .domain_name
            .value()
            .filter(|d| !d.is_empty())
            .or(stored.domain_name.as_ref());
        if self.domain_name.value().is_some_and(|d| !d.is_empty()) && version.is_none() {
            return Err(LbError::validation(
                "'http_version' must be specified when 'domain_name' is provided.",
            ));
        }
        if let (Some(v), Some(_)) = (version, domain)
            && v < 1.1
        {
            return Err(LbError::invalid_option(
                format!("http_version {}", py_float_str(v)),
                "health monitors HTTP 1.1 domain name health check",
            ));
        }
        Ok(())
    }

    /// The stored monitor with this update applied; nulls of the HTTP
    /// attributes go back to their defaults on HTTP(S) monitors
    /// (`_set_default_on_none`).
    pub fn apply(&self, stored: &HealthMonitor) -> HealthMonitor {
        let mut h = stored.clone();
        let http = matches!(h.hm_type, HmType::Http | HmType::Https);
        h.name = self.name.clone().apply(h.name);
        for (patch, field) in [
            (&self.delay, &mut h.delay),
            (&self.timeout, &mut h.timeout),
            (&self.max_retries, &mut h.max_retries),
            (&self.max_retries_down, &mut h.max_retries_down),
        ] {
            if let Patch::Value(v) = patch {
                *field = *v;
            }
        }
        match self.http_method {
            Patch::Value(m) => h.http_method = Some(m),
            Patch::Null if http => h.http_method = Some(HttpMethod::Get),
            Patch::Null => h.http_method = None,
            Patch::Unset => {}
        }
        match &self.url_path {
            Patch::Value(p) => h.url_path = Some(p.clone()),
            Patch::Null if http => h.url_path = Some(HEALTH_MONITOR_DEFAULT_URL_PATH.into()),
            Patch::Null => h.url_path = None,
            Patch::Unset => {}
        }
        match &self.expected_codes {
            Patch::Value(c) => h.expected_codes = Some(c.clone()),
            Patch::Null if http => {
                h.expected_codes = Some(HEALTH_MONITOR_DEFAULT_EXPECTED_CODES.into())
            }
            Patch::Null => h.expected_codes = None,
            Patch::Unset => {}
        }
        if let Patch::Value(v) = self.admin_state_up {
            h.admin_state_up = v;
        }
        if let Patch::Value(t) = &self.tags {
            h.tags = t.clone();
        }
        h.http_version = self.http_version.clone().apply(h.http_version);
        h.domain_name = self.domain_name.clone().apply(h.domain_name);
        h
    }
}
