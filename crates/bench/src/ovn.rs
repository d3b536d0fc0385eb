//! The `ovn` scenario: how fast API writes reach the OVN northbound DB, and
//! what a full audit costs at 10,000 ports. Runs its own NB and SB
//! ovsdb-servers (Debian's, from PATH).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use neutrino_ovsdb::Session;
use neutrino_ovsdb::testing::OvsdbServer;
use serde_json::json;

use crate::{Api, ms, percentile};

pub struct Ovn {
    pub nb: OvsdbServer,
    pub sb: OvsdbServer,
}

pub fn start() -> anyhow::Result<Ovn> {
    let nb = OvsdbServer::start_nb().context("NB ovsdb-server")?;
    let sb = OvsdbServer::start_sb().context("SB ovsdb-server")?;
    nb.nbctl(&["init"])?;
    Ok(Ovn { nb, sb })
}

fn lsp_session(nb: &OvsdbServer) -> Session {
    Session::start(
        nb.endpoint(),
        "OVN_Northbound",
        vec![("Logical_Switch_Port".into(), Some(vec!["name".into()]))],
    )
}

async fn wait_lsp(s: &Session, name: &str) -> anyhow::Result<()> {
    s.wait_for(
        |r| r.find_by("Logical_Switch_Port", "name", name).is_some(),
        Duration::from_secs(30),
    )
    .await?;
    Ok(())
}

pub async fn run(
    api: &Arc<Api>,
    ovn: &Ovn,
    db_url: &str,
    backend: &str,
    latency_ports: usize,
    total_ports: usize,
) -> anyhow::Result<()> {
    let s = lsp_session(&ovn.nb);
    s.wait_connected(Duration::from_secs(10)).await?;
    let net = api
        .post("/v2.0/networks", json!({"network": {"name": "ovn-bench"}}))
        .await?;
    let net_id = net["network"]["id"]
        .as_str()
        .context("network id")?
        .to_string();
    api.post(
        "/v2.0/subnets",
        json!({"subnet": {"network_id": net_id, "ip_version": 4, "cidr": "10.0.0.0/16"}}),
    )
    .await?;

    // One client: create, then watch the NB replica for the port's row.
    let mut lat = Vec::with_capacity(latency_ports);
    for _ in 0..latency_ports {
        let t = Instant::now();
        let p = api
            .post("/v2.0/ports", json!({"port": {"network_id": net_id}}))
            .await?;
        let id = p["port"]["id"].as_str().context("port id")?;
        wait_lsp(&s, id).await?;
        lat.push(t.elapsed());
    }
    lat.sort();
    println!(
        "| {backend} | API create → row in NB, 1 client ({latency_ports} ports) | p50 {} · p99 {} |",
        ms(percentile(&lat, 0.5)),
        ms(percentile(&lat, 0.99))
    );

    // Fill up to `total_ports` with 16 clients, then wait for the NB.
    let rest = total_ports.saturating_sub(latency_ports);
    crate::create_ports(api, &net_id, rest, 16).await?;
    let t = Instant::now();
    s.wait_for(
        |r| r.len("Logical_Switch_Port") >= total_ports,
        Duration::from_secs(300),
    )
    .await?;
    println!(
        "| {backend} | NB caught up after {rest} creates by 16 clients | {} after the last create |",
        ms(t.elapsed())
    );

    // Audits, in this process, over the same database: against the NB the
    // server keeps in sync (compare only), then against an empty NB.
    let db = neutrino_store::Db::connect(db_url).await?;
    let audit = |nb: &OvsdbServer, sb: &OvsdbServer| {
        let tables = |l: &[&str]| l.iter().map(|t| (t.to_string(), None)).collect::<Vec<_>>();
        let nb = Session::start(
            nb.endpoint(),
            "OVN_Northbound",
            tables(neutrino_ovn::NB_TABLES),
        );
        let sb = Session::start(
            sb.endpoint(),
            "OVN_Southbound",
            tables(neutrino_ovn::SB_TABLES),
        );
        (nb.clone(), neutrino_ovn::Syncer::new(db.clone(), nb, sb))
    };
    let (nb_s, syncer) = audit(&ovn.nb, &ovn.sb);
    nb_s.wait_connected(Duration::from_secs(10)).await?;
    nb_s.wait_for(
        |r| r.len("Logical_Switch_Port") >= total_ports,
        Duration::from_secs(60),
    )
    .await?;
    let r = syncer.audit().await?;
    println!(
        "| {backend} | full audit, {total_ports} ports, NB in sync | {} | {} changes |",
        ms(r.elapsed),
        r.counts.total()
    );
    let empty = start()?;
    let (nb_e, syncer) = audit(&empty.nb, &empty.sb);
    nb_e.wait_connected(Duration::from_secs(10)).await?;
    let r = syncer.audit().await?;
    println!(
        "| {backend} | full audit, {total_ports} ports, NB empty (rebuild) | {} | {} rows created |",
        ms(r.elapsed),
        r.counts.created
    );
    Ok(())
}
