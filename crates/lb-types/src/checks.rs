//! Cross-field rules that need no database: octavia 19's
//! `common/validate.py` and the static parts of the API controllers.

use crate::LbError;
use crate::consts::{
    SUPPORTED_ALPN_PROTOCOLS, SUPPORTED_HTTP_HEADERS, SUPPORTED_SSL_HEADERS, TLS_ALL_VERSIONS,
};
use crate::enums::{L7RuleCompareType as Cmp, L7RuleType, Protocol, SessionPersistenceType};
use crate::wsme::{Pattern, py_repr_str};
use std::net::IpAddr;

/// `VALID_LISTENER_POOL_PROTOCOL_MAP`, as the controllers'
/// `_validate_protocol` raises it.
pub fn listener_pool_protocols(listener: Protocol, pool: Protocol) -> Result<(), LbError> {
    if listener.compatible_pool_protocols().contains(&pool) {
        Ok(())
    } else {
        Err(LbError::validation(format!(
            "The pool protocol '{pool}' is invalid while the listener protocol is '{listener}'."
        )))
    }
}

fn is_unreserved_or_sub_delim(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~!$&'()*+,;=".contains(c)
}

/// rfc3986's path validity: pchar / "/" with well-formed %-escapes.
fn is_valid_path(p: &str) -> bool {
    let b = p.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i] as char;
        if c == '%' {
            let ok = b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
            if !ok {
                return false;
            }
            i += 3;
            continue;
        }
        if !(is_unreserved_or_sub_delim(c) || c == ':' || c == '@' || c == '/') {
            return false;
        }
        i += 1;
    }
    true
}

fn is_valid_host(h: &str) -> bool {
    if let Some(inner) = h.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        return inner.parse::<std::net::Ipv6Addr>().is_ok();
    }
    !h.is_empty() && h.chars().all(|c| is_unreserved_or_sub_delim(c) || c == '%')
}

/// The parts of a URI reference (RFC 3986 appendix B).
struct UriParts<'a> {
    scheme: Option<&'a str>,
    authority: Option<&'a str>,
    path: &'a str,
}

fn split_uri(s: &str) -> UriParts<'_> {
    let before_fragment = s.split('#').next().unwrap_or_default();
    let before_query = before_fragment.split('?').next().unwrap_or_default();
    let (scheme, rest) = match before_query.find(':') {
        Some(i)
            if i > 0
                && !before_query[..i].contains('/')
                && before_query[..i]
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic())
                && before_query[..i]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
        {
            (Some(&before_query[..i]), &before_query[i + 1..])
        }
        _ => (None, before_query),
    };
    match rest.strip_prefix("//") {
        Some(after) => {
            let end = after.find('/').unwrap_or(after.len());
            UriParts {
                scheme,
                authority: Some(&after[..end]),
                path: &after[end..],
            }
        }
        None => UriParts {
            scheme,
            authority: None,
            path: rest,
        },
    }
}

/// `validate.url(require_scheme=True)`: http(s) with a host.
pub fn is_url(s: &str) -> bool {
    if s.chars()
        .any(|c| (c as u32) <= 0x20 || (0x7f..=0x9f).contains(&(c as u32)))
    {
        return false;
    }
    if !s.is_ascii() {
        return false;
    }
    let parts = split_uri(s);
    let Some(scheme) = parts.scheme else {
        return false;
    };
    if scheme != "http" && scheme != "https" {
        return false;
    }
    let Some(authority) = parts.authority else {
        return false;
    };
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let host = match host_port.rfind(':') {
        Some(i) if !host_port.ends_with(']') => {
            let port = &host_port[i + 1..];
            if !port.chars().all(|c| c.is_ascii_digit()) {
                return false;
            }
            &host_port[..i]
        }
        _ => host_port,
    };
    is_valid_host(host) && is_valid_path(parts.path)
}

/// `validate.url_path`: an absolute path, nothing else.
pub fn is_url_path(s: &str) -> bool {
    if s.chars().any(char::is_whitespace) || !s.is_ascii() {
        return false;
    }
    let parts = split_uri(s);
    parts.scheme.is_none()
        && parts.authority.is_none()
        && parts.path.starts_with('/')
        && is_valid_path(parts.path)
}

fn header_name_ok(s: &str) -> bool {
    // `[a-zA-Z0-9!#$%&'*+-.^_`|~]`: the `+-.` range also admits `,`.
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+,-.^_`|~".contains(c))
}

fn cookie_value_ok(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'()*+,-./:<=>?@[]^_`{|}~".contains(c))
}

fn header_value_ok(s: &str) -> bool {
    let plain = !s.is_empty() && s.chars().all(|c| ('\x21'..='\x7e').contains(&c));
    let quoted = s.len() >= 2
        && s.starts_with('"')
        && s.ends_with('"')
        && s[1..s.len() - 1]
            .chars()
            .all(|c| c == '\t' || (' '..='\x7e').contains(&c));
    plain || quoted
}

/// Whether `s` compiles as a regular expression. haproxy uses PCRE;
/// fancy-regex accepts the same lookaround and backreferences Python's
/// `re` (upstream's check) does.
fn regex_error(s: &str) -> Option<String> {
    fancy_regex::Regex::new(s).err().map(|e| e.to_string())
}

/// The L7 rule as `validate.l7rule_data` sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct L7RuleData<'a> {
    pub rule_type: L7RuleType,
    pub compare_type: L7RuleCompareType,
    pub key: Option<&'a str>,
    pub value: Option<&'a str>,
}

use crate::enums::L7RuleCompareType;

/// `validate.l7rule_data`; the error is the text `L7RuleValidation` wraps.
pub fn l7rule_data(rule: &L7RuleData<'_>) -> Result<(), String> {
    let invalid = |msg: &str| Err(format!("Invalid L7 Rule: {msg}"));
    let chars = |what: &str| Err(format!("Invalid characters in {what}"));
    let Some(value) = rule.value.filter(|v| !v.is_empty()) else {
        return invalid("L7 rule type requires a value");
    };
    let key = rule.key.filter(|k| !k.is_empty());
    let compiles = |v: &str| match regex_error(v) {
        Some(e) => Err(format!("Unable to parse regular expression: {e}")),
        None => Ok(()),
    };
    let text_cmp = matches!(
        rule.compare_type,
        Cmp::StartsWith | Cmp::EndsWith | Cmp::Contains | Cmp::EqualTo
    );
    match rule.rule_type {
        L7RuleType::Header | L7RuleType::Cookie => {
            let Some(key) = key else {
                return invalid("L7 rule type requires a key");
            };
            if !header_name_ok(key) {
                return chars("key");
            }
            if rule.compare_type == Cmp::Regex {
                compiles(value)
            } else if text_cmp {
                let (ok, what) = if rule.rule_type == L7RuleType::Header {
                    (header_value_ok(value), "header value")
                } else {
                    (cookie_value_ok(value), "cookie value")
                };
                if ok { Ok(()) } else { chars(what) }
            } else {
                invalid("invalid comparison type for rule type")
            }
        }
        L7RuleType::HostName | L7RuleType::Path => {
            if rule.compare_type == Cmp::Regex {
                compiles(value)
            } else if header_value_ok(value) {
                Ok(())
            } else {
                chars("comparison value")
            }
        }
        L7RuleType::FileType => match rule.compare_type {
            Cmp::Regex => compiles(value),
            Cmp::EqualTo if header_value_ok(value) => Ok(()),
            Cmp::EqualTo => chars("comparison value"),
            _ => invalid("invalid comparison type for rule type"),
        },
        L7RuleType::SslConnHasCert | L7RuleType::SslVerifyResult | L7RuleType::SslDnField => {
            l7rule_ssl_types(rule, key, value)
        }
    }
}

/// `validate.validate_l7rule_ssl_types`.
fn l7rule_ssl_types(rule: &L7RuleData<'_>, key: Option<&str>, value: &str) -> Result<(), String> {
    let t = rule.rule_type;
    let only_equal = || {
        format!(
            "L7rule type {t} only supports the {} compare type.",
            Cmp::EqualTo
        )
    };
    let msg = match t {
        L7RuleType::SslConnHasCert => {
            if key.is_some() {
                Some(format!("L7rule type {t} does not use the \"key\" field."))
            } else if value.to_lowercase() != "true" {
                Some(format!(
                    "L7rule value {value} is not a boolean True string."
                ))
            } else if rule.compare_type != Cmp::EqualTo {
                Some(only_equal())
            } else {
                None
            }
        }
        L7RuleType::SslVerifyResult => {
            if key.is_some() {
                Some(format!("L7rule type {t} does not use the \"key\" field."))
            } else if !value.chars().all(|c| c.is_ascii_digit()) {
                Some(format!("L7rule type {t} needs a int value, which is >= 0"))
            } else if rule.compare_type != Cmp::EqualTo {
                Some(only_equal())
            } else {
                None
            }
        }
        _ => {
            if rule.compare_type == Cmp::Regex
                && let Some(e) = regex_error(value)
            {
                return Err(format!("Unable to parse regular expression: {e}"));
            }
            match key {
                None => Some(format!(
                    "L7rule type {t} needs to specify a key and a value."
                )),
                Some(k) if !dn_field_ok(k) => {
                    Some("Invalid L7rule distinguished name field.".to_string())
                }
                Some(_) => None,
            }
        }
    };
    match msg {
        Some(m) => Err(format!("Invalid L7 Rule: {m}")),
        None => Ok(()),
    }
}

/// `DISTINGUISHED_NAME_FIELD_REGEX` `^([a-zA-Z][A-Za-z0-9-]*)$`.
fn dn_field_ok(k: &str) -> bool {
    let k = k.strip_suffix('\n').unwrap_or(k);
    let mut cs = k.chars();
    cs.next().is_some_and(|c| c.is_ascii_alphabetic())
        && cs.all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// `check_tls_version_list`: `None` is "use the default".
pub fn tls_versions(versions: Option<&[String]>) -> Result<(), LbError> {
    let Some(versions) = versions else {
        return Ok(());
    };
    if versions.is_empty() {
        return Err(LbError::validation(
            "Empty TLS version list. Either specify at least one TLS version or remove this \
             parameter to use the default.",
        ));
    }
    let invalid: Vec<&str> = versions
        .iter()
        .map(String::as_str)
        .filter(|v| !TLS_ALL_VERSIONS.contains(v))
        .collect();
    if invalid.is_empty() {
        Ok(())
    } else {
        Err(LbError::validation(format!(
            "Invalid TLS versions: {}",
            invalid.join(", ")
        )))
    }
}

/// `check_alpn_protocols`.
pub fn alpn_protocols(protocols: Option<&[String]>) -> Result<(), LbError> {
    let Some(protocols) = protocols else {
        return Ok(());
    };
    if protocols.is_empty() {
        return Err(LbError::validation(
            "Empty ALPN protocol list. Either specify at least one ALPN protocol or remove \
             this parameter to use the default.",
        ));
    }
    let invalid: Vec<&str> = protocols
        .iter()
        .map(String::as_str)
        .filter(|p| !SUPPORTED_ALPN_PROTOCOLS.contains(p))
        .collect();
    if invalid.is_empty() {
        Ok(())
    } else {
        Err(LbError::validation(format!(
            "Invalid ALPN protocol: {}",
            invalid.join(", ")
        )))
    }
}

/// `check_cipher_string` then the operator's prohibit list
/// (`[api_settings] tls_cipher_prohibit_list`, empty by default).
pub fn cipher_string(ciphers: &str, prohibited: &[&str]) -> Result<(), LbError> {
    let safe = !ciphers.is_empty()
        && ciphers
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-+!:@=_.".contains(c));
    if !safe {
        return Err(LbError::validation(
            "Invalid characters in cipher string. Only alphanumeric, -, +, !, :, @, =, _, and . \
             are allowed.",
        ));
    }
    let rejected: Vec<&str> = ciphers
        .split(':')
        .filter(|c| prohibited.contains(c))
        .collect();
    if rejected.is_empty() {
        Ok(())
    } else {
        Err(LbError::validation(format!(
            "The following ciphers have been prohibited by an administrator: {}",
            rejected.join(", ")
        )))
    }
}

/// The session persistence as `check_session_persistence` sees it.
pub fn session_persistence(
    sp_type: Option<SessionPersistenceType>,
    cookie_name: Option<&str>,
) -> Result<(), LbError> {
    if let Some(name) = cookie_name.filter(|n| !n.is_empty()) {
        if sp_type != Some(SessionPersistenceType::AppCookie) {
            return Err(LbError::validation(
                "Field \"cookie_name\" can only be specified with session persistence of type \
                 \"APP_COOKIE\".",
            ));
        }
        // `[\x00-\x20\x22\x28-\x29\x2c\x2f\x3a-\x40\x5b-\x5d\x7b\x7d\x7f]`
        let bad = name.chars().any(|c| {
            let u = c as u32;
            u <= 0x20
                || u == 0x22
                || (0x28..=0x29).contains(&u)
                || u == 0x2c
                || u == 0x2f
                || (0x3a..=0x40).contains(&u)
                || (0x5b..=0x5d).contains(&u)
                || u == 0x7b
                || u == 0x7d
                || u == 0x7f
        });
        let latin1 = name.chars().any(|c| (c as u32) <= 0xff);
        if bad || !latin1 {
            return Err(LbError::validation("Supplied \"cookie_name\" is invalid."));
        }
    }
    if sp_type == Some(SessionPersistenceType::AppCookie) && cookie_name.is_none_or(str::is_empty) {
        return Err(LbError::validation(
            "Field \"cookie_name\" must be specified when using the \"APP_COOKIE\" session \
             persistence type.",
        ));
    }
    Ok(())
}

/// Python's repr of a list of strings: `['a', 'b']`.
pub(crate) fn py_list(items: &[&str]) -> String {
    let inner: Vec<String> = items.iter().map(|s| py_repr_str(s)).collect();
    format!("[{}]", inner.join(", "))
}

/// The listener controller's `_validate_insert_headers`. `on_create`
/// matters for the text only: upstream passes the keys of the dict on
/// POST (printed `dict_keys([...])`) and a list on PUT.
pub fn insert_headers(names: &[&str], protocol: Protocol, on_create: bool) -> Result<(), LbError> {
    if !matches!(protocol, Protocol::Http | Protocol::TerminatedHttps) {
        return Err(LbError::invalid_option(
            "insert-headers",
            format!("a {protocol} protocol listener."),
        ));
    }
    let known = |h: &&str| SUPPORTED_HTTP_HEADERS.contains(h) || SUPPORTED_SSL_HEADERS.contains(h);
    if !names.iter().all(known) {
        let shown = if on_create {
            format!("dict_keys({})", py_list(names))
        } else {
            py_list(names)
        };
        return Err(LbError::invalid_option(shown, "insert_headers"));
    }
    if protocol != Protocol::TerminatedHttps {
        let ssl: Vec<&str> = names
            .iter()
            .copied()
            .filter(|h| SUPPORTED_SSL_HEADERS.contains(h))
            .collect();
        if !ssl.is_empty() {
            return Err(LbError::invalid_option(
                py_list(&ssl),
                format!("{protocol} protocol listener."),
            ));
        }
    }
    Ok(())
}

/// `_validate_cidr_compatible_with_vip`: each allowed CIDR must share an
/// IP version with some VIP; custom VIP security groups exclude them.
pub fn allowed_cidrs_vs_vips(
    cidrs: &[String],
    vips: &[IpAddr],
    vip_has_sg_ids: bool,
) -> Result<(), LbError> {
    if !cidrs.is_empty() && vip_has_sg_ids {
        return Err(LbError::validation(
            "Allowed CIDRs are not allowed when using custom VIP Security Groups.",
        ));
    }
    for cidr in cidrs {
        let v6 = cidr.contains(':');
        if !vips.iter().any(|ip| ip.is_ipv6() == v6) {
            let shown: Vec<String> = vips.iter().map(|ip| ip.to_string()).collect();
            let shown: Vec<&str> = shown.iter().map(String::as_str).collect();
            return Err(LbError::validation(format!(
                "CIDR {cidr} IP version incompatible with all VIPs {} IP version.",
                py_list(&shown)
            )));
        }
    }
    Ok(())
}

/// `DOMAIN_NAME_REGEX`, for a health monitor's `domain_name`.
pub(crate) static DOMAIN_NAME: Pattern = Pattern {
    python: r"^(?=.{1,253}\.?$)(?:(?!-|[^.]+_)[A-Za-z0-9-_]{1,63}(?<!-)(?:\.|$))+$",
    rust: r"^(?=.{1,253}\.?(?=\n?\z))(?:(?!-|[^.]+_)[A-Za-z0-9_\-]{1,63}(?<!-)(?:\.|(?=\n?\z)))+\n?\z",
};

/// Member addresses in `[networking] reserved_ips` are refused; upstream
/// compares (and prints) the exploded, upper-case form.
pub fn member_address_not_reserved(address: &str, reserved: &[&str]) -> Result<(), LbError> {
    let Ok(ip) = address.parse::<IpAddr>() else {
        return Ok(());
    };
    let exploded = exploded_upper(ip);
    let hit = reserved
        .iter()
        .filter_map(|r| r.parse::<IpAddr>().ok())
        .any(|r| exploded_upper(r) == exploded);
    if hit {
        Err(LbError::invalid_option(exploded, "member address"))
    } else {
        Ok(())
    }
}

/// Python's `ipaddress.ip_address(a).exploded.upper()`.
fn exploded_upper(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => v6
            .segments()
            .iter()
            .map(|s| format!("{s:04X}"))
            .collect::<Vec<_>>()
            .join(":"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert!(is_url("http://www.example.com"));
        assert!(is_url("https://www.example.com:8443/a/b?x=1#f"));
        assert!(is_url("http://[2001:db8::1]/"));
        assert!(!is_url("www.example.com"));
        assert!(!is_url("ftp://example.com"));
        assert!(!is_url("http://exa mple.com"));
        assert!(!is_url("http://example.com/a<b"));
        assert!(!is_url("http://"));
    }

    #[test]
    fn url_paths() {
        assert!(is_url_path("/"));
        assert!(is_url_path("/healthz?full=1"));
        assert!(!is_url_path("healthz"));
        assert!(!is_url_path("http://example.com/"));
        assert!(!is_url_path("//example.com/x"));
        assert!(!is_url_path("/a b"));
        assert!(!is_url_path("/%zz"));
    }

    #[test]
    fn domain_names() {
        for ok in ["example.com", "a.b-c.d", "_srv.example.com", "example.com."] {
            assert!(DOMAIN_NAME.search(ok), "{ok}");
        }
        for bad in ["-a.com", "a-.com", "a_b.com", "", "a..b"] {
            assert!(!DOMAIN_NAME.search(bad), "{bad}");
        }
    }

    #[test]
    fn reserved_member_addresses() {
        let err = member_address_not_reserved("169.254.169.254", &["169.254.169.254"]).unwrap_err();
        assert_eq!(
            err.faultstring,
            "169.254.169.254 is not a valid option for member address"
        );
        let err = member_address_not_reserved("fd00::1", &["fd00:0::1"]).unwrap_err();
        assert_eq!(
            err.faultstring,
            "FD00:0000:0000:0000:0000:0000:0000:0001 is not a valid option for member address"
        );
        assert!(member_address_not_reserved("10.0.0.1", &["169.254.169.254"]).is_ok());
    }
}
