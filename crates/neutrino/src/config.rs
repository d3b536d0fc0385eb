//! Resolving flags, environment and the config file into one [`Settings`].

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use neutrino_api::NetworkConfig;
use serde::Deserialize;

use crate::cli::{ServeArgs, UpArgs};

/// The config file: the long flag names, with dashes or underscores.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct FileConfig {
    #[serde(alias = "database_url")]
    database_url: Option<String>,
    #[serde(alias = "identity_listen")]
    identity_listen: Option<String>,
    #[serde(alias = "network_listen")]
    network_listen: Option<String>,
    #[serde(alias = "load_balancer_listen")]
    load_balancer_listen: Option<String>,
    #[serde(alias = "lb_network_driver")]
    lb_network_driver: Option<String>,
    #[serde(alias = "lb_backend")]
    lb_backend: Option<String>,
    #[serde(alias = "lb_mgmt_cidr")]
    lb_mgmt_cidr: Option<String>,
    #[serde(alias = "lb_heartbeat_key_file")]
    lb_heartbeat_key_file: Option<PathBuf>,
    #[serde(alias = "lb_heartbeat_interval")]
    lb_heartbeat_interval: Option<u64>,
    #[serde(alias = "lb_health_listen")]
    lb_health_listen: Option<String>,
    #[serde(alias = "lb_default_connection_limit")]
    lb_default_connection_limit: Option<i64>,
    #[serde(alias = "public_host")]
    public_host: Option<String>,
    #[serde(alias = "token_secret_file")]
    token_secret_file: Option<PathBuf>,
    #[serde(alias = "token_ttl")]
    token_ttl: Option<i64>,
    #[serde(alias = "admin_password")]
    admin_password: Option<String>,
    #[serde(alias = "admin_user")]
    admin_user: Option<String>,
    region: Option<String>,
    #[serde(alias = "tenant_network_type")]
    tenant_network_type: Option<String>,
    #[serde(alias = "ovn_nb")]
    ovn_nb: Option<String>,
    #[serde(alias = "ovn_sb")]
    ovn_sb: Option<String>,
    #[serde(alias = "ovn_audit_interval")]
    ovn_audit_interval: Option<u64>,
    #[serde(alias = "tunnel_id_range")]
    tunnel_id_range: Option<String>,
    #[serde(alias = "vlan_ranges")]
    vlan_ranges: Option<Vec<String>>,
    #[serde(alias = "global_physnet_mtu")]
    global_physnet_mtu: Option<i64>,
    #[serde(alias = "dns_domain")]
    dns_domain: Option<String>,
}

/// See `--lb-backend`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LbBackend {
    Auto,
    Local,
    Noop,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: String,
    pub identity_listen: String,
    pub network_listen: String,
    pub load_balancer_listen: String,
    /// Whether `load_balancer_listen` was asked for (flag, environment or
    /// file) rather than defaulted; see `server::bind_load_balancer`.
    pub load_balancer_listen_explicit: bool,
    /// See `--lb-network-driver`.
    pub lb_network_driver: neutrino_lb_api::NetworkDriver,
    /// See `--lb-backend`.
    pub lb_backend: LbBackend,
    /// See `--lb-mgmt-cidr`.
    pub lb_mgmt_cidr: String,
    /// See `--lb-heartbeat-key-file`.
    pub lb_heartbeat_key_file: PathBuf,
    /// See `--lb-heartbeat-interval`.
    pub lb_heartbeat_interval: u64,
    /// See `--lb-health-listen`.
    pub lb_health_listen: Option<std::net::SocketAddr>,
    /// See `--lb-default-connection-limit`.
    pub lb_default_connection_limit: i64,
    pub public_host: Option<String>,
    pub token_secret_file: PathBuf,
    pub token_ttl: i64,
    pub admin_user: String,
    pub admin_password: Option<String>,
    pub region: String,
    pub network: NetworkConfig,
    /// OVN northbound and southbound endpoints; `None` runs without a data plane.
    pub ovn_nb: Option<String>,
    pub ovn_sb: Option<String>,
    pub ovn_audit_interval: u64,
}

fn parse_range(s: &str) -> anyhow::Result<(i64, i64)> {
    let (a, b) = s
        .split_once(':')
        .with_context(|| format!("range {s:?} is not MIN:MAX"))?;
    let (a, b): (i64, i64) = (a.trim().parse()?, b.trim().parse()?);
    if a > b || a < 1 {
        bail!("range {s:?} is empty or starts below 1");
    }
    Ok((a, b))
}

fn parse_vlan_range(s: &str) -> anyhow::Result<(String, i64, i64)> {
    let (net, range) = s
        .split_once(':')
        .with_context(|| format!("VLAN range {s:?} is not PHYSNET:MIN:MAX"))?;
    let (a, b) = parse_range(range)?;
    if b > 4094 {
        bail!("VLAN range {s:?} goes beyond 4094");
    }
    Ok((net.to_string(), a, b))
}

impl Settings {
    pub fn resolve(args: &ServeArgs) -> anyhow::Result<Settings> {
        Self::resolve_with_defaults(args, None)
    }

    pub fn resolve_up(up: &UpArgs) -> anyhow::Result<Settings> {
        std::fs::create_dir_all(&up.data_dir)
            .with_context(|| format!("cannot create data directory {}", up.data_dir.display()))?;
        Self::resolve_with_defaults(&up.serve, Some(&up.data_dir))
    }

    fn resolve_with_defaults(
        args: &ServeArgs,
        data_dir: Option<&Path>,
    ) -> anyhow::Result<Settings> {
        let file: FileConfig = match &args.config {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("cannot read {}", p.display()))?;
                toml::from_str(&text)
                    .with_context(|| format!("invalid config file {}", p.display()))?
            }
            None => FileConfig::default(),
        };
        let database_url = match (args.database_url.clone().or(file.database_url), data_dir) {
            (Some(u), _) => u,
            (None, Some(d)) => format!("sqlite://{}?mode=rwc", d.join("neutrino.db").display()),
            (None, None) => bail!(
                "--database-url (or NEUTRINO_DATABASE_URL, or database-url in the config file) is required"
            ),
        };
        let token_secret_file = match (
            args.token_secret_file.clone().or(file.token_secret_file),
            data_dir,
        ) {
            (Some(p), _) => p,
            (None, Some(d)) => d.join("token-secret"),
            (None, None) => PathBuf::from("token-secret"),
        };
        let lb_heartbeat_key_file = match (
            args.lb_heartbeat_key_file
                .clone()
                .or(file.lb_heartbeat_key_file),
            data_dir,
        ) {
            (Some(p), _) => p,
            (None, Some(d)) => d.join("lb-heartbeat-key"),
            (None, None) => PathBuf::from("lb-heartbeat-key"),
        };
        let mut network = NetworkConfig::default();
        if let Some(t) = args
            .tenant_network_type
            .clone()
            .or(file.tenant_network_type)
        {
            if t != "geneve" && t != "vxlan" {
                bail!("tenant network type must be geneve or vxlan, not {t:?}");
            }
            network.tenant_network_type = t;
        }
        if let Some(r) = args.tunnel_id_range.clone().or(file.tunnel_id_range) {
            network.tunnel_id_range = parse_range(&r)?;
        }
        let vlans = if args.vlan_ranges.is_empty() {
            file.vlan_ranges.unwrap_or_default()
        } else {
            args.vlan_ranges.clone()
        };
        network.vlan_ranges = vlans
            .iter()
            .map(|s| parse_vlan_range(s))
            .collect::<anyhow::Result<_>>()?;
        if let Some(m) = args.global_physnet_mtu.or(file.global_physnet_mtu) {
            network.global_physnet_mtu = m;
        }
        if let Some(d) = args.dns_domain.clone().or(file.dns_domain) {
            network.dns_domain = d.trim_end_matches('.').to_string();
        }
        let lb_listen = args
            .load_balancer_listen
            .clone()
            .or(file.load_balancer_listen);
        Ok(Settings {
            database_url,
            identity_listen: args
                .identity_listen
                .clone()
                .or(file.identity_listen)
                .unwrap_or_else(|| "127.0.0.1:5000".into()),
            network_listen: args
                .network_listen
                .clone()
                .or(file.network_listen)
                .unwrap_or_else(|| "127.0.0.1:9696".into()),
            load_balancer_listen_explicit: lb_listen.is_some(),
            load_balancer_listen: lb_listen.unwrap_or_else(|| "127.0.0.1:9876".into()),
            lb_network_driver: match args
                .lb_network_driver
                .clone()
                .or(file.lb_network_driver)
                .as_deref()
            {
                None | Some("neutrino") => neutrino_lb_api::NetworkDriver::Neutrino,
                Some("noop") => neutrino_lb_api::NetworkDriver::Noop,
                Some(other) => {
                    anyhow::bail!("--lb-network-driver must be neutrino or noop, not {other:?}")
                }
            },
            lb_backend: match args.lb_backend.clone().or(file.lb_backend).as_deref() {
                None | Some("auto") => LbBackend::Auto,
                Some("local") => LbBackend::Local,
                Some("noop") => LbBackend::Noop,
                Some(other) => {
                    anyhow::bail!("--lb-backend must be auto, local or noop, not {other:?}")
                }
            },
            lb_mgmt_cidr: {
                let c = args
                    .lb_mgmt_cidr
                    .clone()
                    .or(file.lb_mgmt_cidr)
                    .unwrap_or_else(|| crate::lb_mgmt::DEFAULT_CIDR.into());
                if c.parse::<ipnet::Ipv4Net>().is_err() {
                    anyhow::bail!("--lb-mgmt-cidr must be an IPv4 CIDR, not {c:?}");
                }
                c
            },
            lb_heartbeat_key_file,
            lb_heartbeat_interval: match args
                .lb_heartbeat_interval
                .or(file.lb_heartbeat_interval)
                .unwrap_or(10)
            {
                0 => anyhow::bail!("--lb-heartbeat-interval must be at least 1 second"),
                n => n,
            },
            lb_health_listen: match args.lb_health_listen.clone().or(file.lb_health_listen) {
                None => None,
                Some(a) => {
                    Some(a.parse().with_context(|| {
                        format!("--lb-health-listen must be IP:PORT, not {a:?}")
                    })?)
                }
            },
            lb_default_connection_limit: match args
                .lb_default_connection_limit
                .or(file.lb_default_connection_limit)
                .unwrap_or(50_000)
            {
                n if n < 1 => {
                    anyhow::bail!("--lb-default-connection-limit must be at least 1, not {n}")
                }
                n => n,
            },
            public_host: args.public_host.clone().or(file.public_host),
            token_secret_file,
            token_ttl: args.token_ttl.or(file.token_ttl).unwrap_or(3600),
            admin_user: args
                .admin_user
                .clone()
                .or(file.admin_user)
                .unwrap_or_else(|| "admin".into()),
            admin_password: args.admin_password.clone().or(file.admin_password),
            region: args
                .region
                .clone()
                .or(file.region)
                .unwrap_or_else(|| "RegionOne".into()),
            network,
            ovn_nb: args.ovn_nb.clone().or(file.ovn_nb),
            ovn_sb: args.ovn_sb.clone().or(file.ovn_sb),
            ovn_audit_interval: args
                .ovn_audit_interval
                .or(file.ovn_audit_interval)
                .unwrap_or(300),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_config(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("neutrino.toml");
        std::fs::write(&path, text).expect("write config");
        (dir, path)
    }

    #[test]
    fn file_values_apply_and_flags_win() {
        let (_d, path) = write_config(
            "database-url = \"sqlite://from-file.db\"\nnetwork_listen = \"127.0.0.1:19696\"\ntunnel-id-range = \"100:200\"\nvlan-ranges = [\"physnet1:10:20\"]\ndns-domain = \"example.org.\"\n",
        );
        let args = ServeArgs {
            config: Some(path),
            database_url: Some("postgres://flag/db".into()),
            ..ServeArgs::default()
        };
        let s = Settings::resolve(&args).expect("valid");
        assert_eq!(
            s.database_url, "postgres://flag/db",
            "a flag beats the file"
        );
        assert_eq!(
            s.network_listen, "127.0.0.1:19696",
            "dash and underscore keys both work"
        );
        assert_eq!(
            s.identity_listen, "127.0.0.1:5000",
            "defaults fill the rest"
        );
        assert_eq!(s.network.tunnel_id_range, (100, 200));
        assert_eq!(
            s.network.vlan_ranges,
            vec![("physnet1".to_string(), 10, 20)]
        );
        assert_eq!(s.network.dns_domain, "example.org");
    }

    #[test]
    fn load_balancer_listen_comes_from_flag_file_or_default() {
        let (_d, path) = write_config("load_balancer_listen = \"127.0.0.1:19876\"\n");
        let from_file = ServeArgs {
            config: Some(path.clone()),
            database_url: Some("sqlite::memory:".into()),
            ..ServeArgs::default()
        };
        let s = Settings::resolve(&from_file).expect("valid");
        assert_eq!(s.load_balancer_listen, "127.0.0.1:19876");
        assert!(s.load_balancer_listen_explicit);
        let s = Settings::resolve(&ServeArgs {
            load_balancer_listen: Some("0.0.0.0:29876".into()),
            ..from_file
        })
        .expect("valid");
        assert_eq!(
            s.load_balancer_listen, "0.0.0.0:29876",
            "a flag beats the file"
        );
        let s = Settings::resolve(&ServeArgs {
            database_url: Some("sqlite::memory:".into()),
            ..ServeArgs::default()
        })
        .expect("valid");
        assert_eq!(s.load_balancer_listen, "127.0.0.1:9876");
        assert!(!s.load_balancer_listen_explicit);
    }

    #[test]
    fn bad_settings_are_refused() {
        let (_d, path) = write_config("no-such-key = 1\n");
        let err = Settings::resolve(&ServeArgs {
            config: Some(path),
            ..ServeArgs::default()
        })
        .unwrap_err();
        assert!(format!("{err:#}").contains("no-such-key"), "{err:#}");
        let err = Settings::resolve(&ServeArgs::default()).unwrap_err();
        assert!(err.to_string().contains("--database-url"), "{err}");
        for range in ["5:1", "0:10", "x:y", "7"] {
            let args = ServeArgs {
                database_url: Some("sqlite::memory:".into()),
                tunnel_id_range: Some(range.into()),
                ..ServeArgs::default()
            };
            assert!(Settings::resolve(&args).is_err(), "{range} accepted");
        }
        let args = ServeArgs {
            database_url: Some("sqlite::memory:".into()),
            vlan_ranges: vec!["physnet1:1:5000".into()],
            ..ServeArgs::default()
        };
        assert!(Settings::resolve(&args).is_err(), "VLAN 5000 accepted");
        let args = ServeArgs {
            database_url: Some("sqlite::memory:".into()),
            tenant_network_type: Some("gre".into()),
            ..ServeArgs::default()
        };
        assert!(Settings::resolve(&args).is_err());
        for (interval, limit, listen) in [
            (Some(0), None, None),
            (None, Some(0), None),
            (None, None, Some("localhost")),
        ] {
            let args = ServeArgs {
                database_url: Some("sqlite::memory:".into()),
                lb_heartbeat_interval: interval,
                lb_default_connection_limit: limit,
                lb_health_listen: listen.map(str::to_string),
                ..ServeArgs::default()
            };
            assert!(
                Settings::resolve(&args).is_err(),
                "{interval:?} {limit:?} {listen:?} accepted"
            );
        }
    }

    #[test]
    fn load_balancer_health_settings_default_as_upstream() {
        let (_d, path) = write_config(
            "lb-heartbeat-interval = 3\nlb_default_connection_limit = 5000\n\
             lb-health-listen = \"192.0.2.1:5555\"\n",
        );
        let s = Settings::resolve(&ServeArgs {
            database_url: Some("sqlite::memory:".into()),
            config: Some(path),
            ..ServeArgs::default()
        })
        .expect("valid");
        assert_eq!(s.lb_heartbeat_interval, 3);
        assert_eq!(s.lb_default_connection_limit, 5000);
        assert_eq!(s.lb_health_listen, Some("192.0.2.1:5555".parse().unwrap()));
        let s = Settings::resolve(&ServeArgs {
            database_url: Some("sqlite::memory:".into()),
            ..ServeArgs::default()
        })
        .expect("valid");
        assert_eq!(
            (
                s.lb_heartbeat_interval,
                s.lb_default_connection_limit,
                s.lb_health_listen
            ),
            (10, 50_000, None)
        );
        assert_eq!(s.lb_heartbeat_key_file, PathBuf::from("lb-heartbeat-key"));
    }

    #[test]
    fn up_keeps_everything_in_the_data_dir() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("state");
        let s = Settings::resolve_up(&UpArgs {
            data_dir: data.clone(),
            serve: ServeArgs::default(),
            chassis: Default::default(),
        })
        .expect("valid");
        assert!(data.is_dir(), "the data directory is created");
        assert!(
            s.database_url.contains(&data.display().to_string()),
            "{}",
            s.database_url
        );
        assert_eq!(s.token_secret_file, data.join("token-secret"));
        assert_eq!(s.lb_heartbeat_key_file, data.join("lb-heartbeat-key"));
        assert!(
            s.identity_listen.starts_with("127.0.0.1:")
                && s.network_listen.starts_with("127.0.0.1:")
                && s.load_balancer_listen == "127.0.0.1:9876",
            "loopback by default"
        );
    }

    #[test]
    fn clouds_yaml_quotes_values() {
        let text = crate::clouds::render(&crate::clouds::CloudEntry {
            auth_url: "http://127.0.0.1:5000/v3",
            username: "admin",
            password: "it's: secret",
            project: "admin",
            region: "RegionOne",
        });
        assert!(text.contains("password: 'it''s: secret'"), "{text}");
        assert!(text.starts_with("clouds:\n  neutrino:\n"), "{text}");
    }
}
