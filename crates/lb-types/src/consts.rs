//! Limits and defaults of octavia 19 (`common/constants.py`, the defaults
//! of `common/config.py`).

pub const MIN_PORT_NUMBER: i64 = 1;
pub const MAX_PORT_NUMBER: i64 = 65535;
pub const DEFAULT_CONNECTION_LIMIT: i64 = -1;
pub const MIN_CONNECTION_LIMIT: i64 = -1;
pub const DEFAULT_WEIGHT: i64 = 1;
pub const MIN_WEIGHT: i64 = 0;
pub const MAX_WEIGHT: i64 = 256;
pub const DEFAULT_MAX_RETRIES_DOWN: i64 = 3;
pub const MIN_HM_RETRIES: i64 = 1;
pub const MAX_HM_RETRIES: i64 = 10;
/// 24 days in milliseconds.
pub const MAX_TIMEOUT: i64 = 24 * 24 * 60 * 60 * 1000;
pub const MIN_TIMEOUT: i64 = 0;
pub const DEFAULT_TIMEOUT_CLIENT_DATA: i64 = 50000;
pub const DEFAULT_TIMEOUT_MEMBER_CONNECT: i64 = 5000;
pub const DEFAULT_TIMEOUT_MEMBER_DATA: i64 = 50000;
pub const DEFAULT_TIMEOUT_TCP_INSPECT: i64 = 0;
pub const MIN_POLICY_POSITION: i64 = 1;
pub const MAX_POLICY_POSITION: i64 = 2147483647;
pub const MAX_L7RULES_PER_L7POLICY: usize = 50;
/// -1 means unlimited.
pub const MIN_QUOTA: i64 = -1;
pub const MAX_QUOTA: i64 = 2000000000;
/// `[api_settings] udp_connect_min_interval_health_monitor`.
pub const UDP_CONNECT_MIN_INTERVAL_HEALTH_MONITOR: i64 = 3;
pub const L7POLICY_REDIRECT_HTTP_CODES: &[i64] = &[301, 302, 303, 307, 308];
pub const DEFAULT_REDIRECT_HTTP_CODE: i64 = 302;
pub const HTTP_VERSIONS: &[f64] = &[1.0, 1.1];

pub const HEALTH_MONITOR_DEFAULT_HTTP_METHOD: &str = "GET";
pub const HEALTH_MONITOR_DEFAULT_URL_PATH: &str = "/";
pub const HEALTH_MONITOR_DEFAULT_EXPECTED_CODES: &str = "200";

/// `[networking] reserved_ips`: never a member address.
pub const DEFAULT_RESERVED_IPS: &[&str] = &["169.254.169.254"];

pub const CIPHERS_OWASP_SUITE_B: &str = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:\
TLS_CHACHA20_POLY1305_SHA256:\
ECDHE-ECDSA-AES128-GCM-SHA256:\
ECDHE-RSA-AES128-GCM-SHA256:\
ECDHE-ECDSA-AES256-GCM-SHA384:\
ECDHE-RSA-AES256-GCM-SHA384:\
ECDHE-ECDSA-CHACHA20-POLY1305:\
ECDHE-RSA-CHACHA20-POLY1305:\
DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:\
DHE-RSA-CHACHA20-POLY1305";

/// `TLS_ALL_VERSIONS`, oldest first.
pub const TLS_ALL_VERSIONS: &[&str] = &["SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"];
/// `TLS_VERSIONS_OWASP_SUITE_B`: the default for listeners and pools.
pub const DEFAULT_TLS_VERSIONS: &[&str] = &["TLSv1.2", "TLSv1.3"];
pub const SUPPORTED_ALPN_PROTOCOLS: &[&str] = &["h2", "http/1.1", "http/1.0"];
pub const DEFAULT_ALPN_PROTOCOLS: &[&str] = &["h2", "http/1.1", "http/1.0"];

pub const SUPPORTED_HTTP_HEADERS: &[&str] = &[
    "X-Forwarded-For",
    "X-Forwarded-Port",
    "X-Forwarded-Proto",
    "X-Forwarded-IP",
    "X-Client-IP",
    "X-Real-IP",
];
pub const SUPPORTED_SSL_HEADERS: &[&str] = &[
    "X-SSL-Client-Verify",
    "X-SSL-Client-Has-Cert",
    "X-SSL-Client-DN",
    "X-SSL-Client-CN",
    "X-SSL-Issuer",
    "X-SSL-Client-SHA1",
    "X-SSL-Client-Not-Before",
    "X-SSL-Client-Not-After",
];

/// The nil UUID, which upstream uses for deleted references.
pub const NIL_UUID: &str = "00000000-0000-0000-0000-000000000000";

/// What `provider` shows when none is stored.
pub const DEFAULT_PROVIDER_SHOWN: &str = "octavia";
