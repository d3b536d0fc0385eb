//! Driving OVN from the API server: the northbound sync worker and the
//! port status watcher, or, without OVN, keeping the journal from growing.

use std::time::Duration;

use neutrino_ovsdb::{Endpoint, Session};
use neutrino_store::Db;
use tokio::sync::watch;
use tokio::task::JoinHandle;

fn tables(list: &[&str]) -> Vec<(String, Option<Vec<String>>)> {
    list.iter().map(|t| (t.to_string(), None)).collect()
}

/// Starts the tasks; they end when `stop` turns true.
pub fn start(
    db: Db,
    ovn: Option<(&str, &str)>,
    audit_every: Duration,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<Vec<JoinHandle<()>>> {
    let Some((nb, sb)) = ovn else {
        // No data plane here: a later start with one begins with a full
        // audit, so the journal can go.
        let mut stop = stop;
        return Ok(vec![tokio::spawn(async move {
            loop {
                if let Err(e) = neutrino_store::ovn::clear(&db).await {
                    tracing::warn!(error = %e, "clearing the data-plane journal");
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(30)) => {}
                    _ = stop.changed() => return,
                }
            }
        })]);
    };
    let nb_ep: Endpoint = nb
        .parse()
        .map_err(|e| anyhow::anyhow!("--ovn-nb {nb}: {e}"))?;
    let sb_ep: Endpoint = sb
        .parse()
        .map_err(|e| anyhow::anyhow!("--ovn-sb {sb}: {e}"))?;
    let nb = Session::start(nb_ep, "OVN_Northbound", tables(neutrino_ovn::NB_TABLES));
    let sb = Session::start(sb_ep, "OVN_Southbound", tables(neutrino_ovn::SB_TABLES));
    let holder = format!(
        "{}:{}",
        std::env::var("HOSTNAME").unwrap_or_else(|_| "neutrino".into()),
        std::process::id()
    );
    tracing::info!(%holder, "driving OVN");
    let syncer = neutrino_ovn::Syncer::new(db.clone(), nb.clone(), sb.clone());
    let sync = tokio::spawn(neutrino_ovn::sync::run(
        syncer,
        holder,
        audit_every,
        stop.clone(),
    ));
    let status = tokio::spawn(neutrino_ovn::status::run(
        db,
        nb.clone(),
        sb.clone(),
        stop.clone(),
    ));
    let mut stop2 = stop;
    let closer = tokio::spawn(async move {
        let _ = stop2.wait_for(|s| *s).await;
        nb.close();
        sb.close();
    });
    Ok(vec![sync, status, closer])
}
