//! Quota, flavor, flavor profile, availability zone and AZ profile bodies.

use crate::LbError;
use crate::consts::{MAX_QUOTA, MIN_QUOTA};
use crate::model::Quota;
use crate::patch::{Fields, Patch};
use crate::wsme::{Kind, Schema, int, opt, parse_root, req, text};
use serde_json::Value;

const QUOTA: Kind = int(Some(MIN_QUOTA), Some(MAX_QUOTA));

static QUOTA_PUT: Schema = Schema {
    attrs: &[
        opt("loadbalancer", QUOTA),
        opt("load_balancer", QUOTA),
        opt("listener", QUOTA),
        opt("member", QUOTA),
        opt("pool", QUOTA),
        opt("healthmonitor", QUOTA),
        opt("health_monitor", QUOTA),
        opt("l7policy", QUOTA),
        opt("l7rule", QUOTA),
    ],
    tenant_id: false,
};

/// A quota PUT: each limit absent (unchanged), null (back to the
/// default) or a value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QuotaUpdate {
    pub load_balancer: Patch<i64>,
    pub listener: Patch<i64>,
    pub pool: Patch<i64>,
    pub health_monitor: Patch<i64>,
    pub member: Patch<i64>,
    pub l7policy: Patch<i64>,
    pub l7rule: Patch<i64>,
}

impl QuotaUpdate {
    /// `PUT /v2/lbaas/quotas/{project_id}`. The deprecated spellings
    /// `load_balancer` and `health_monitor` are read too. When both are
    /// given the current one wins, null included: upstream's `to_dict`
    /// walks the attributes alphabetically and maps `loadbalancer` onto
    /// `load_balancer` after it (the peer answers 7 to
    /// `{"load_balancer": 5, "loadbalancer": 7}`).
    pub fn parse(body: &Value) -> Result<Self, LbError> {
        let f = Fields(parse_root(body, "quotas", "quota", &QUOTA_PUT)?);
        let either = |new: &str, old: &str| match f.int(new) {
            Patch::Unset => f.int(old),
            given => given,
        };
        Ok(QuotaUpdate {
            load_balancer: either("loadbalancer", "load_balancer"),
            listener: f.int("listener"),
            pool: f.int("pool"),
            health_monitor: either("healthmonitor", "health_monitor"),
            member: f.int("member"),
            l7policy: f.int("l7policy"),
            l7rule: f.int("l7rule"),
        })
    }

    pub fn apply(&self, stored: &Quota) -> Quota {
        Quota {
            load_balancer: self.load_balancer.clone().apply(stored.load_balancer),
            listener: self.listener.clone().apply(stored.listener),
            pool: self.pool.clone().apply(stored.pool),
            health_monitor: self.health_monitor.clone().apply(stored.health_monitor),
            member: self.member.clone().apply(stored.member),
            l7policy: self.l7policy.clone().apply(stored.l7policy),
            l7rule: self.l7rule.clone().apply(stored.l7rule),
        }
    }
}

static FLAVOR_POST: Schema = Schema {
    attrs: &[
        req("name", text(255)),
        opt("description", text(255)),
        opt("enabled", Kind::Bool),
        req("flavor_profile_id", Kind::Uuid),
    ],
    tenant_id: false,
};

static FLAVOR_PUT: Schema = Schema {
    attrs: &[
        opt("name", text(255)),
        opt("description", text(255)),
        opt("enabled", Kind::Bool),
    ],
    tenant_id: false,
};

#[derive(Clone, Debug, PartialEq)]
pub struct FlavorCreate {
    pub name: String,
    pub description: Option<String>,
    pub enabled: bool,
    pub flavor_profile_id: String,
}

fn required(f: &Fields, k: &str) -> Result<String, LbError> {
    f.str(k)
        .into_option()
        .ok_or_else(|| LbError::mandatory_missing(k))
}

impl FlavorCreate {
    pub fn parse(body: &Value) -> Result<Self, LbError> {
        let f = Fields(parse_root(body, "flavor_", "flavor", &FLAVOR_POST)?);
        Ok(FlavorCreate {
            name: required(&f, "name")?,
            description: f.str("description").into_option(),
            enabled: f.bool("enabled").into_option().unwrap_or(true),
            flavor_profile_id: required(&f, "flavor_profile_id")?,
        })
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct FlavorUpdate {
    pub name: Patch<String>,
    pub description: Patch<String>,
    pub enabled: Patch<bool>,
}

impl FlavorUpdate {
    pub fn parse(body: &Value) -> Result<Self, LbError> {
        let f = Fields(parse_root(body, "flavor_", "flavor", &FLAVOR_PUT)?);
        Ok(FlavorUpdate {
            name: f.str("name"),
            description: f.str("description"),
            enabled: f.bool("enabled"),
        })
    }
}

/// Flavor profiles and AZ profiles share a shape: name, provider and a
/// JSON document as text.
#[derive(Clone, Debug, PartialEq)]
pub struct ProfileCreate {
    pub name: String,
    pub provider_name: String,
    pub data: String,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProfileUpdate {
    pub name: Patch<String>,
    pub provider_name: Patch<String>,
    pub data: Patch<String>,
}

/// Which profile: its JSON names and WSME argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProfileKind {
    Flavor,
    AvailabilityZone,
}

impl ProfileKind {
    fn names(self) -> (&'static str, &'static str, &'static str) {
        match self {
            ProfileKind::Flavor => ("flavor_profile_", "flavorprofile", "flavor_data"),
            ProfileKind::AvailabilityZone => (
                "availability_zone_profile_",
                "availability_zone_profile",
                "availability_zone_data",
            ),
        }
    }
}

static FLAVOR_PROFILE_POST: Schema = Schema {
    attrs: &[
        req("name", text(255)),
        req("provider_name", text(255)),
        req("flavor_data", text(4096)),
    ],
    tenant_id: false,
};
static FLAVOR_PROFILE_PUT: Schema = Schema {
    attrs: &[
        opt("name", text(255)),
        opt("provider_name", text(255)),
        opt("flavor_data", text(4096)),
    ],
    tenant_id: false,
};
static AZ_PROFILE_POST: Schema = Schema {
    attrs: &[
        req("name", text(255)),
        req("provider_name", text(255)),
        req("availability_zone_data", text(4096)),
    ],
    tenant_id: false,
};
static AZ_PROFILE_PUT: Schema = Schema {
    attrs: &[
        opt("name", text(255)),
        opt("provider_name", text(255)),
        opt("availability_zone_data", text(4096)),
    ],
    tenant_id: false,
};

/// A profile's data as JSON, or `{data} is not a valid option for
/// {option}`. Upstream's controllers check this after policy (and, on
/// PUT, after the in-use check), so `parse` leaves it to the handler;
/// `option` is the data attribute's name, except that upstream's AZ
/// profile PUT says `flavor_data`. Its keys are the provider's business.
pub fn profile_data(data: &str, option: &str) -> Result<Value, LbError> {
    serde_json::from_str::<Value>(data).map_err(|_| LbError::invalid_option(data, option))
}

impl ProfileCreate {
    pub fn parse(body: &Value, kind: ProfileKind) -> Result<Self, LbError> {
        let (arg, root, data) = kind.names();
        let schema = match kind {
            ProfileKind::Flavor => &FLAVOR_PROFILE_POST,
            ProfileKind::AvailabilityZone => &AZ_PROFILE_POST,
        };
        let f = Fields(parse_root(body, arg, root, schema)?);
        Ok(ProfileCreate {
            name: required(&f, "name")?,
            provider_name: required(&f, "provider_name")?,
            data: required(&f, data)?,
        })
    }
}

impl ProfileUpdate {
    pub fn parse(body: &Value, kind: ProfileKind) -> Result<Self, LbError> {
        let (arg, root, data) = kind.names();
        let schema = match kind {
            ProfileKind::Flavor => &FLAVOR_PROFILE_PUT,
            ProfileKind::AvailabilityZone => &AZ_PROFILE_PUT,
        };
        let f = Fields(parse_root(body, arg, root, schema)?);
        Ok(ProfileUpdate {
            name: f.str("name"),
            provider_name: f.str("provider_name"),
            data: f.str(data),
        })
    }
}

static AZ_POST: Schema = Schema {
    attrs: &[
        req("name", text(255)),
        opt("description", text(255)),
        opt("enabled", Kind::Bool),
        req("availability_zone_profile_id", Kind::Uuid),
    ],
    tenant_id: false,
};
static AZ_PUT: Schema = Schema {
    attrs: &[opt("description", text(255)), opt("enabled", Kind::Bool)],
    tenant_id: false,
};

#[derive(Clone, Debug, PartialEq)]
pub struct AvailabilityZoneCreate {
    pub name: String,
    pub description: Option<String>,
    pub enabled: bool,
    pub availability_zone_profile_id: String,
}

impl AvailabilityZoneCreate {
    pub fn parse(body: &Value) -> Result<Self, LbError> {
        let f = Fields(parse_root(
            body,
            "availability_zone_",
            "availability_zone",
            &AZ_POST,
        )?);
        Ok(AvailabilityZoneCreate {
            name: required(&f, "name")?,
            description: f.str("description").into_option(),
            enabled: f.bool("enabled").into_option().unwrap_or(true),
            availability_zone_profile_id: required(&f, "availability_zone_profile_id")?,
        })
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct AvailabilityZoneUpdate {
    pub description: Patch<String>,
    pub enabled: Patch<bool>,
}

impl AvailabilityZoneUpdate {
    pub fn parse(body: &Value) -> Result<Self, LbError> {
        let f = Fields(parse_root(
            body,
            "availability_zone_",
            "availability_zone",
            &AZ_PUT,
        )?);
        Ok(AvailabilityZoneUpdate {
            description: f.str("description"),
            enabled: f.bool("enabled"),
        })
    }
}
