//! The service catalog, built from configuration rather than stored: the
//! only endpoints are this deployment's own.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::CatalogConfig;

pub const INTERFACES: [&str; 3] = ["public", "internal", "admin"];

pub struct Service {
    pub id: String,
    pub kind: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub url: String,
}

pub struct Endpoint {
    pub id: String,
    pub service_id: String,
    pub interface: &'static str,
    pub url: String,
}

/// Ids must not change between restarts or servers: derive them.
fn stable_id(seed: &str) -> String {
    let digest = Sha256::digest(seed.as_bytes());
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

pub fn services(cfg: &CatalogConfig) -> Vec<Service> {
    let mut out = vec![
        (
            "identity",
            "keystone",
            "Identity Service",
            Some(&cfg.identity_url),
        ),
        (
            "network",
            "neutron",
            "Networking Service",
            Some(&cfg.network_url),
        ),
        (
            "load-balancer",
            "octavia",
            "Load Balancing Service",
            cfg.load_balancer_url.as_ref(),
        ),
        (
            "key-manager",
            "barbican",
            "Key Manager Service",
            cfg.key_manager_url.as_ref(),
        ),
        (
            "network-infra",
            "neutrino-infra",
            "Infra Network Service (NetConfig, IPSet, DNSData)",
            cfg.infra_url.as_ref(),
        ),
    ];
    out.retain(|s| s.3.is_some());
    out.into_iter()
        .filter_map(|(kind, name, description, url)| {
            Some(Service {
                id: stable_id(&format!("service/{kind}")),
                kind,
                name,
                description,
                url: url?.clone(),
            })
        })
        .collect()
}

pub fn endpoints(cfg: &CatalogConfig) -> Vec<Endpoint> {
    services(cfg)
        .into_iter()
        .flat_map(|s| {
            INTERFACES.map(|interface| Endpoint {
                id: stable_id(&format!("endpoint/{}/{interface}", s.kind)),
                service_id: s.id.clone(),
                interface,
                url: s.url.clone(),
            })
        })
        .collect()
}

/// The `catalog` array of a token.
pub fn catalog(cfg: &CatalogConfig) -> Vec<Value> {
    let endpoints = endpoints(cfg);
    services(cfg)
        .into_iter()
        .map(|s| {
            let eps: Vec<Value> = endpoints
                .iter()
                .filter(|e| e.service_id == s.id)
                .map(|e| {
                    json!({
                        "id": e.id,
                        "interface": e.interface,
                        "region": cfg.region,
                        "region_id": cfg.region,
                        "url": e.url,
                    })
                })
                .collect();
            json!({"endpoints": eps, "id": s.id, "type": s.kind, "name": s.name})
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(lb: Option<&str>) -> CatalogConfig {
        CatalogConfig {
            region: "RegionOne".into(),
            identity_url: "http://h:5000/v3".into(),
            network_url: "http://h:9696".into(),
            load_balancer_url: lb.map(String::from),
            key_manager_url: None,
            infra_url: None,
        }
    }

    #[test]
    fn catalog_has_three_interfaces_per_service() {
        let c = catalog(&cfg(Some("http://h:9876")));
        let types: Vec<&str> = c.iter().map(|s| s["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["identity", "network", "load-balancer"]);
        for s in &c {
            let ifaces: Vec<&str> = s["endpoints"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["interface"].as_str().unwrap())
                .collect();
            assert_eq!(ifaces, INTERFACES);
        }
        assert_eq!(c[1]["endpoints"][0]["url"], "http://h:9696");
        assert_eq!(c[1]["name"], "neutron");
        assert_eq!(c[0]["endpoints"][2]["region_id"], "RegionOne");
    }

    #[test]
    fn load_balancer_omitted_without_url_and_ids_are_stable() {
        let c = catalog(&cfg(None));
        assert_eq!(c.len(), 2);
        assert_eq!(catalog(&cfg(None)), c);
        let ids: std::collections::HashSet<_> = endpoints(&cfg(Some("x")))
            .into_iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(ids.len(), 9);
    }

    #[test]
    fn key_manager_is_listed_when_configured() {
        let mut c = cfg(Some("http://h:9876"));
        c.key_manager_url = Some("http://h:9696/key-manager".into());
        let cat = catalog(&c);
        let types: Vec<&str> = cat.iter().map(|s| s["type"].as_str().unwrap()).collect();
        assert_eq!(
            types,
            ["identity", "network", "load-balancer", "key-manager"]
        );
        let km = &cat[3];
        assert_eq!(km["name"], "barbican");
        assert_eq!(km["endpoints"][0]["url"], "http://h:9696/key-manager");
        assert_eq!(km["endpoints"].as_array().unwrap().len(), 3);
        assert!(
            catalog(&cfg(None))
                .iter()
                .all(|s| s["type"] != "key-manager")
        );
    }

    #[test]
    fn infra_endpoint_is_listed_when_configured() {
        let mut c = cfg(None);
        c.infra_url = Some("http://h:9696/infra".into());
        let cat = catalog(&c);
        let infra = cat
            .iter()
            .find(|s| s["type"] == "network-infra")
            .expect("network-infra service");
        assert_eq!(infra["endpoints"][0]["url"], "http://h:9696/infra");
        assert_eq!(infra["endpoints"].as_array().unwrap().len(), 3);
    }
}
