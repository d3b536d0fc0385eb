//! Back from the data plane: a port is ACTIVE when OVN says its logical
//! port is up, and bound to the host whose chassis claimed it.

use std::collections::HashMap;
use std::time::Duration;

use neutrino_ovsdb::Session;
use neutrino_store::Db;
use neutrino_store::ovn::{self, PortBinding};
use tracing::{debug, warn};

use crate::sync::rows;

/// What OVN says about one port: (up, host).
type Observed = HashMap<String, (bool, String)>;

fn observe(nb: &Session, sb: &Session) -> Observed {
    let nb = nb.replica();
    let sb = sb.replica();
    let hosts: HashMap<uuid::Uuid, String> = rows(&sb, "Chassis")
        .into_iter()
        .map(|(u, c)| {
            let host = c
                .str("hostname")
                .filter(|h| !h.is_empty())
                .or_else(|| c.str("name"))
                .unwrap_or_default()
                .to_string();
            (u, host)
        })
        .collect();
    let bound: HashMap<&str, String> = rows(&sb, "Port_Binding")
        .into_iter()
        .filter_map(|(_, b)| {
            let chassis = b.get_uuid("chassis")?;
            Some((
                b.str("logical_port")?,
                hosts.get(&chassis).cloned().unwrap_or_default(),
            ))
        })
        .collect();
    let mut out = Observed::new();
    for (_, lsp) in rows(&nb, "Logical_Switch_Port") {
        let Some(name) = lsp.str("name") else {
            continue;
        };
        // Only Neutron ports: those we wrote carry a device owner key.
        if !lsp
            .string_map("external_ids")
            .contains_key(crate::naming::KEY_DEVICE_OWNER)
        {
            continue;
        }
        let up = lsp.bool("up").unwrap_or(false);
        let host = if lsp.str("type").unwrap_or_default().is_empty() {
            bound.get(name).cloned().unwrap_or_default()
        } else {
            String::new()
        };
        out.insert(name.to_string(), (up, host));
    }
    out
}

fn binding(up: bool, host: &str) -> PortBinding {
    let bound = !host.is_empty();
    PortBinding {
        status: if up { "ACTIVE" } else { "DOWN" }.into(),
        host_id: host.to_string(),
        vif_type: if bound { "ovs" } else { "unbound" }.into(),
        vif_details: if bound {
            serde_json::json!({"port_filter": true, "connectivity": "l2", "bridge_name": "br-int"})
        } else {
            serde_json::json!({})
        },
    }
}

/// Writes observed changes to the database until `stop` fires. Every pass
/// compares with what the database holds the first time, then with what
/// was last observed.
pub async fn run(db: Db, nb: Session, sb: Session, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut nb_rx = nb.subscribe();
    let mut sb_rx = sb.subscribe();
    let mut last: Option<Observed> = None;
    loop {
        if *stop.borrow() {
            return;
        }
        if nb.connected() && sb.connected() {
            let now = observe(&nb, &sb);
            let previous = match last.take() {
                Some(p) => p,
                None => match ovn::port_states(&db).await {
                    Ok(states) => states
                        .into_iter()
                        .map(|(id, status, host)| (id, (status == "ACTIVE", host)))
                        .collect(),
                    Err(e) => {
                        warn!(error = %e, "reading port states");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                },
            };
            let ts = neutrino_store::now_timestamp();
            let mut failed = false;
            for (port, (up, host)) in &now {
                if previous.get(port) == Some(&(*up, host.clone())) {
                    continue;
                }
                match ovn::set_port_binding(&db, port, &binding(*up, host), &ts).await {
                    Ok(changed) => {
                        if changed {
                            debug!(%port, up, %host, "port status from OVN");
                        }
                    }
                    Err(e) => {
                        warn!(%port, error = %e, "recording port status");
                        failed = true;
                    }
                }
            }
            // Ports OVN no longer has are down.
            for (port, (was_up, _)) in &previous {
                if *was_up && !now.contains_key(port) {
                    let _ = ovn::set_port_binding(&db, port, &binding(false, ""), &ts).await;
                }
            }
            last = if failed { None } else { Some(now) };
        }
        // Coalesce bursts of updates.
        tokio::select! {
            _ = nb_rx.changed() => {}
            _ = sb_rx.changed() => {}
            _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            _ = stop.changed() => {}
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
