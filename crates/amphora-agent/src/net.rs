//! Interfaces: lookups with `ip -j`, plugging with `ip`.

use std::net::IpAddr;

use serde_json::Value;

use crate::AgentConfig;
use crate::haproxy::run;

#[derive(Debug, Clone)]
pub struct Link {
    pub ifname: String,
    pub mac: String,
    pub addrs: Vec<IpAddr>,
}

fn ip(cfg: &AgentConfig, ns: Option<&str>) -> tokio::process::Command {
    let mut c = tokio::process::Command::new(&cfg.ip_cmd);
    if let Some(ns) = ns {
        c.arg("-n").arg(ns);
    }
    c
}

/// `ip -j addr show` in the agent's namespace (`None`) or `ns`.
pub async fn links(cfg: &AgentConfig, ns: Option<&str>) -> Result<Vec<Link>, String> {
    let mut c = ip(cfg, ns);
    c.args(["-j", "addr", "show"]);
    let out = run(c).await?;
    let v: Value = serde_json::from_str(&out).map_err(|e| format!("ip -j: {e}"))?;
    let mut res = Vec::new();
    for l in v.as_array().into_iter().flatten() {
        let addrs = l["addr_info"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a["local"].as_str()?.parse().ok())
            .collect();
        res.push(Link {
            ifname: l["ifname"].as_str().unwrap_or_default().to_string(),
            mac: l["address"]
                .as_str()
                .unwrap_or_default()
                .to_ascii_lowercase(),
            addrs,
        });
    }
    Ok(res)
}

async fn ip_do(cfg: &AgentConfig, ns: Option<&str>, args: &[&str]) -> Result<(), String> {
    let mut c = ip(cfg, ns);
    c.args(args);
    run(c)
        .await
        .map(|_| ())
        .map_err(|e| format!("ip {}: {e}", args.join(" ")))
}

async fn ns_links(cfg: &AgentConfig) -> Result<Vec<Link>, String> {
    match &cfg.inner_namespace {
        Some(ns) if std::path::Path::new("/run/netns").join(ns).exists() => {
            links(cfg, Some(ns)).await
        }
        Some(_) => Ok(Vec::new()),
        None => links(cfg, None).await,
    }
}

pub enum Found {
    /// Already in the inner namespace (or, without one, already addressed).
    Plugged(Link),
    Outer(Link),
    Missing,
}

pub async fn find_by_mac(cfg: &AgentConfig, mac: &str, ours: &[IpAddr]) -> Result<Found, String> {
    let mac = mac.to_ascii_lowercase();
    let inner = ns_links(cfg).await?;
    if let Some(l) = inner.iter().find(|l| l.mac == mac)
        && (cfg.inner_namespace.is_some() || ours.iter().any(|a| l.addrs.contains(a)))
    {
        return Ok(Found::Plugged(l.clone()));
    }
    if cfg.inner_namespace.is_none() {
        return Ok(match inner.into_iter().find(|l| l.mac == mac) {
            Some(l) => Found::Outer(l),
            None => Found::Missing,
        });
    }
    Ok(
        match links(cfg, None).await?.into_iter().find(|l| l.mac == mac) {
            Some(l) => Found::Outer(l),
            None => Found::Missing,
        },
    )
}

/// Moves `link` into the inner namespace as `name` (no-op without one);
/// returns the interface's name there.
pub async fn adopt(cfg: &AgentConfig, link: &Link, name: &str) -> Result<String, String> {
    let Some(ns) = cfg.inner_namespace.as_deref() else {
        return Ok(link.ifname.clone());
    };
    crate::haproxy::ensure_namespace(cfg).await?;
    ip_do(cfg, None, &["link", "set", &link.ifname, "netns", ns]).await?;
    if link.ifname != name {
        ip_do(cfg, Some(ns), &["link", "set", &link.ifname, "name", name]).await?;
    }
    Ok(name.to_string())
}

/// Next free `ethN` in the inner namespace (upstream numbering).
pub async fn next_ifname(cfg: &AgentConfig) -> Result<String, String> {
    let inner = ns_links(cfg).await?;
    let mut n = 1;
    while inner.iter().any(|l| l.ifname == format!("eth{n}")) {
        n += 1;
    }
    Ok(format!("eth{n}"))
}

pub async fn configure(
    cfg: &AgentConfig,
    ifname: &str,
    mtu: Option<u64>,
    addrs: &[String],
    routes: &[(String, String)],
) -> Result<(), String> {
    let ns = cfg.inner_namespace.as_deref();
    if let Some(mtu) = mtu {
        ip_do(cfg, ns, &["link", "set", ifname, "mtu", &mtu.to_string()]).await?;
    }
    ip_do(cfg, ns, &["link", "set", ifname, "up"]).await?;
    for a in addrs {
        ip_do(cfg, ns, &["addr", "replace", a, "dev", ifname]).await?;
    }
    for (dst, via) in routes {
        ip_do(
            cfg,
            ns,
            &["route", "replace", dst, "via", via, "dev", ifname],
        )
        .await?;
    }
    Ok(())
}
