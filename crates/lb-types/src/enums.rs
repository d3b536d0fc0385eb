//! The enumerations of the Octavia v2 model with their wire strings
//! (octavia-lib 3.12 `common/constants.py`, octavia 19 `common/constants.py`).
//! The order of `ALL` is upstream's declaration order.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub const WIRE: &'static [&'static str] = &[$($wire),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }

            /// The variant whose wire string is exactly `s`.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($wire => Some($name::$variant),)+ _ => None }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $name::parse(&s).ok_or_else(|| {
                    serde::de::Error::custom(format!("unknown {} {s:?}", stringify!($name)))
                })
            }
        }
    };
}

wire_enum!(
    /// Provisioning status of every LBaaS object and of amphorae.
    ProvisioningStatus {
        Active = "ACTIVE",
        PendingCreate = "PENDING_CREATE",
        PendingUpdate = "PENDING_UPDATE",
        PendingDelete = "PENDING_DELETE",
        Error = "ERROR",
    }
);

wire_enum!(OperatingStatus {
    Online = "ONLINE",
    Offline = "OFFLINE",
    Degraded = "DEGRADED",
    Error = "ERROR",
    Draining = "DRAINING",
    NoMonitor = "NO_MONITOR",
});

wire_enum!(
    /// `protocol` of a listener (`LISTENER_SUPPORTED_PROTOCOLS`) and of a
    /// pool (`POOL_SUPPORTED_PROTOCOLS`); see [`Protocol::is_listener`]
    /// and [`Protocol::is_pool`].
    Protocol {
        Tcp = "TCP",
        Http = "HTTP",
        Https = "HTTPS",
        TerminatedHttps = "TERMINATED_HTTPS",
        Proxy = "PROXY",
        ProxyV2 = "PROXYV2",
        Udp = "UDP",
        Sctp = "SCTP",
        Prometheus = "PROMETHEUS",
    }
);

/// `LISTENER_SUPPORTED_PROTOCOLS`, upstream's order.
pub const LISTENER_PROTOCOLS: &[&str] = &[
    "TCP",
    "HTTPS",
    "HTTP",
    "TERMINATED_HTTPS",
    "UDP",
    "SCTP",
    "PROMETHEUS",
];
/// `POOL_SUPPORTED_PROTOCOLS`, upstream's order.
pub const POOL_PROTOCOLS: &[&str] = &["TCP", "HTTP", "HTTPS", "PROXY", "PROXYV2", "UDP", "SCTP"];

impl Protocol {
    pub fn is_listener(self) -> bool {
        LISTENER_PROTOCOLS.contains(&self.as_str())
    }

    pub fn is_pool(self) -> bool {
        POOL_PROTOCOLS.contains(&self.as_str())
    }

    /// `L4_PROTOCOL_MAP`: which transport a listener's port occupies.
    pub fn l4(self) -> Protocol {
        match self {
            Protocol::Udp => Protocol::Udp,
            Protocol::Sctp => Protocol::Sctp,
            _ => Protocol::Tcp,
        }
    }

    /// UDP and SCTP listeners and pools (LVS, not haproxy, upstream).
    pub fn is_lvs(self) -> bool {
        matches!(self, Protocol::Udp | Protocol::Sctp)
    }

    /// `VALID_LISTENER_POOL_PROTOCOL_MAP`: the pool protocols a listener of
    /// this protocol may use, upstream's order.
    pub fn compatible_pool_protocols(self) -> &'static [Protocol] {
        use Protocol::*;
        match self {
            Tcp => &[Http, Https, Proxy, ProxyV2, Tcp],
            Http => &[Http, Proxy, ProxyV2],
            Https => &[Https, Proxy, ProxyV2, Tcp],
            TerminatedHttps => &[Http, Proxy, ProxyV2],
            Udp => &[Udp],
            Sctp => &[Sctp],
            Prometheus | Proxy | ProxyV2 => &[],
        }
    }
}

wire_enum!(LbAlgorithm {
    LeastConnections = "LEAST_CONNECTIONS",
    RoundRobin = "ROUND_ROBIN",
    SourceIp = "SOURCE_IP",
    SourceIpPort = "SOURCE_IP_PORT",
});

wire_enum!(SessionPersistenceType {
    SourceIp = "SOURCE_IP",
    HttpCookie = "HTTP_COOKIE",
    AppCookie = "APP_COOKIE",
});

wire_enum!(HealthMonitorType {
    Http = "HTTP",
    Https = "HTTPS",
    Ping = "PING",
    Tcp = "TCP",
    TlsHello = "TLS-HELLO",
    UdpConnect = "UDP-CONNECT",
    Sctp = "SCTP",
});

wire_enum!(HttpMethod {
    Get = "GET",
    Head = "HEAD",
    Post = "POST",
    Put = "PUT",
    Delete = "DELETE",
    Trace = "TRACE",
    Options = "OPTIONS",
    Connect = "CONNECT",
    Patch = "PATCH",
});

wire_enum!(L7PolicyAction {
    Reject = "REJECT",
    RedirectToUrl = "REDIRECT_TO_URL",
    RedirectToPool = "REDIRECT_TO_POOL",
    RedirectPrefix = "REDIRECT_PREFIX",
});

wire_enum!(L7RuleType {
    HostName = "HOST_NAME",
    Path = "PATH",
    FileType = "FILE_TYPE",
    Header = "HEADER",
    Cookie = "COOKIE",
    SslConnHasCert = "SSL_CONN_HAS_CERT",
    SslVerifyResult = "SSL_VERIFY_RESULT",
    SslDnField = "SSL_DN_FIELD",
});

wire_enum!(L7RuleCompareType {
    Regex = "REGEX",
    StartsWith = "STARTS_WITH",
    EndsWith = "ENDS_WITH",
    Contains = "CONTAINS",
    EqualTo = "EQUAL_TO",
});

wire_enum!(ClientAuthentication {
    None = "NONE",
    Optional = "OPTIONAL",
    Mandatory = "MANDATORY",
});

wire_enum!(Topology {
    Single = "SINGLE",
    ActiveStandby = "ACTIVE_STANDBY",
});

wire_enum!(AmphoraRole {
    Master = "MASTER",
    Backup = "BACKUP",
    Standalone = "STANDALONE",
});

wire_enum!(
    /// An amphora's `status`: the provisioning statuses plus the amphora
    /// lifecycle ones.
    AmphoraStatus {
        Booting = "BOOTING",
        Allocated = "ALLOCATED",
        Ready = "READY",
        PendingCreate = "PENDING_CREATE",
        PendingUpdate = "PENDING_UPDATE",
        PendingDelete = "PENDING_DELETE",
        Active = "ACTIVE",
        Error = "ERROR",
        FailoverStopped = "FAILOVER_STOPPED",
        Deleted = "DELETED",
    }
);

wire_enum!(VnicType {
    Normal = "normal",
    Direct = "direct",
});
