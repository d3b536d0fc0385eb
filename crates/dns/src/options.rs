//! DNSMasq `spec.options` → upstreams and local domains.

use std::net::{IpAddr, SocketAddr};

use crate::DnsError;
use crate::records::parse_name;

/// Turns a DNSMasq's `spec.options` (`key` and `values`, in order) into the
/// upstream servers and the local domains of a [`crate::ResponderConfig`].
///
/// - `server`: each value is `IP` or `IP#PORT` (port 53 by default, IPv4 or
///   IPv6), tried in the order given. `/domain/…/` with no address is
///   dnsmasq's spelling of `local` and is treated as one. A domain-specific
///   server (`/domain/IP`) or a source address or interface (`IP@…`) is
///   refused: the responder has one list of upstreams.
/// - `local`: each value is `/domain/` or `/domain1/domain2/…/`; names at or
///   under these domains are answered locally or get NXDOMAIN, never
///   forwarded. `//` stands for unqualified (single-label) names and comes
///   back as `""`. Domains come back lowercase, without a trailing dot.
/// - Any other key (`cname`, `local-ttl`, `no-negcache`, …) is accepted and
///   ignored, with a warning in the log.
///
/// Duplicates are dropped, first occurrence kept. A value that cannot be
/// used is an [`DnsError::InvalidOption`] naming the key, the value and why.
pub fn parse_dnsmasq_options(
    options: &[(String, Vec<String>)],
) -> Result<(Vec<SocketAddr>, Vec<String>), DnsError> {
    let mut upstreams = Vec::new();
    let mut local = Vec::new();
    for (key, values) in options {
        match key.as_str() {
            "server" => {
                for value in values {
                    let invalid = |reason: String| DnsError::InvalidOption {
                        key: key.clone(),
                        value: value.clone(),
                        reason,
                    };
                    if value.starts_with('/') {
                        let (domains, server) = split_domains(value).map_err(invalid)?;
                        if !server.is_empty() {
                            return Err(invalid(
                                "domain-specific servers (/domain/IP) are not supported; \
                                 list the server without a domain"
                                    .into(),
                            ));
                        }
                        push_domains(&mut local, domains, key, value)?;
                    } else {
                        let addr = parse_server(value).map_err(invalid)?;
                        if !upstreams.contains(&addr) {
                            upstreams.push(addr);
                        }
                    }
                }
            }
            "local" => {
                for value in values {
                    let (domains, rest) =
                        split_domains(value).map_err(|reason| DnsError::InvalidOption {
                            key: key.clone(),
                            value: value.clone(),
                            reason,
                        })?;
                    if !rest.is_empty() {
                        return Err(DnsError::InvalidOption {
                            key: key.clone(),
                            value: value.clone(),
                            reason: "expected /domain/ with nothing after the last '/'".into(),
                        });
                    }
                    push_domains(&mut local, domains, key, value)?;
                }
            }
            other => {
                tracing::warn!(
                    key = other,
                    ?values,
                    "DNSMasq option not implemented by Neutrino's DNS responder; ignored"
                );
            }
        }
    }
    Ok((upstreams, local))
}

/// `IP` or `IP#PORT`.
fn parse_server(value: &str) -> Result<SocketAddr, String> {
    if value.contains('@') {
        return Err("source addresses and interfaces (@…) are not supported".into());
    }
    let (ip, port) = match value.split_once('#') {
        Some((ip, port)) => {
            let port: u16 = port
                .parse()
                .map_err(|_| format!("port {port:?} is not a number from 1 to 65535"))?;
            if port == 0 {
                return Err("port 0 is not a valid port".into());
            }
            (ip, port)
        }
        None => (value, 53),
    };
    let ip: IpAddr = ip
        .parse()
        .map_err(|_| format!("{ip:?} is not an IPv4 or IPv6 address (expected IP or IP#PORT)"))?;
    if ip.is_unspecified() || ip.is_multicast() {
        return Err(format!("{ip} cannot be an upstream server"));
    }
    Ok(SocketAddr::new(ip, port))
}

/// `/a/b/rest` → (["a", "b"], "rest").
fn split_domains(value: &str) -> Result<(Vec<&str>, &str), String> {
    let Some(inner) = value.strip_prefix('/') else {
        return Err("expected /domain/".into());
    };
    let Some(last) = inner.rfind('/') else {
        return Err("expected /domain/ (missing closing '/')".into());
    };
    let domains = if last == 0 {
        vec![""]
    } else {
        inner[..last].split('/').collect()
    };
    Ok((domains, &inner[last + 1..]))
}

fn push_domains(
    local: &mut Vec<String>,
    domains: Vec<&str>,
    key: &str,
    value: &str,
) -> Result<(), DnsError> {
    for domain in domains {
        let normal = if domain.is_empty() {
            String::new()
        } else {
            parse_name(domain).map_err(|e| DnsError::InvalidOption {
                key: key.to_owned(),
                value: value.to_owned(),
                reason: e.to_string(),
            })?;
            domain.trim_end_matches('.').to_ascii_lowercase()
        };
        if !local.contains(&normal) {
            local.push(normal);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(list: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
        list.iter()
            .map(|(k, vs)| (k.to_string(), vs.iter().map(|v| v.to_string()).collect()))
            .collect()
    }

    fn parse(list: &[(&str, &[&str])]) -> Result<(Vec<SocketAddr>, Vec<String>), DnsError> {
        parse_dnsmasq_options(&opts(list))
    }

    #[test]
    fn servers_and_local_domains() {
        let (up, local) = parse(&[
            ("server", &["192.168.122.1", "10.0.0.53#5353"]),
            ("local", &["/openstack.svc/"]),
            ("server", &["fd00::1", "fd00::2#1053", "192.168.122.1"]),
            ("local", &["/Example.COM./corp/", "//"]),
            ("server", &["/lab/"]),
        ])
        .unwrap();
        assert_eq!(
            up,
            [
                "192.168.122.1:53",
                "10.0.0.53:5353",
                "[fd00::1]:53",
                "[fd00::2]:1053"
            ]
            .map(|s| s.parse::<SocketAddr>().unwrap())
        );
        assert_eq!(local, ["openstack.svc", "example.com", "corp", "", "lab"]);
    }

    #[test]
    fn other_keys_are_ignored() {
        let (up, local) = parse(&[
            ("cname", &["a,b"]),
            ("local-ttl", &["60"]),
            ("no-negcache", &[]),
            ("made-up", &["x"]),
        ])
        .unwrap();
        assert!(up.is_empty());
        assert!(local.is_empty());
    }

    #[test]
    fn bad_values_are_refused_with_the_reason() {
        let cases: &[(&str, &str, &str)] = &[
            ("server", "", "not an IPv4 or IPv6 address"),
            ("server", "dns.example.com", "not an IPv4 or IPv6 address"),
            ("server", "192.168.122.1#", "not a number"),
            ("server", "192.168.122.1#70000", "not a number"),
            ("server", "192.168.122.1#0", "port 0"),
            ("server", "192.168.122.1:53", "not an IPv4 or IPv6 address"),
            ("server", "1.1.1.1,8.8.8.8", "not an IPv4 or IPv6 address"),
            ("server", "0.0.0.0", "cannot be an upstream"),
            ("server", "192.168.122.1@eth0", "not supported"),
            ("server", "/corp/10.0.0.1", "domain-specific"),
            ("server", "/corp", "missing closing"),
            ("local", "openstack.svc", "expected /domain/"),
            ("local", "/openstack.svc", "missing closing"),
            ("local", "/openstack.svc/x", "nothing after"),
            ("local", "/bad name/", "character ' '"),
            ("local", "/a..b/", "empty label"),
        ];
        for (key, value, reason) in cases {
            match parse(&[(key, &[value])]) {
                Err(DnsError::InvalidOption {
                    key: k,
                    value: v,
                    reason: r,
                }) => {
                    assert_eq!((k.as_str(), v.as_str()), (*key, *value));
                    assert!(
                        r.contains(reason),
                        "{key}={value}: reason {r:?} lacks {reason:?}"
                    );
                }
                other => panic!("{key}={value:?} gave {other:?}"),
            }
        }
    }
}
