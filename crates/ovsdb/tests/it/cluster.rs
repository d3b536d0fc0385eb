//! Clustered (raft) databases: a list of members as the endpoint, leader selection,
//! failover.

use std::time::Duration;

use neutrino_ovsdb::columns::nb;
use neutrino_ovsdb::testing::{NB_SCHEMA, OvsdbServer};
use neutrino_ovsdb::{Endpoint, Op, Row, Session, SessionOptions};

use crate::{WAIT, init_tracing};

const NB: &str = "OVN_Northbound";

/// The members' unix endpoints, in the given order, as one comma-separated list.
fn endpoints(members: &[&OvsdbServer]) -> anyhow::Result<Endpoint> {
    let list: Vec<String> = members.iter().map(|m| m.endpoint().to_string()).collect();
    Ok(list.join(",").parse()?)
}

fn remote_of(session: &Session) -> String {
    session
        .connection()
        .map(|c| c.remote().to_string())
        .unwrap_or_default()
}

/// The cluster's members, followers first, and the leader's index in that list.
fn followers_then_leader(servers: &[OvsdbServer]) -> (Vec<&OvsdbServer>, usize) {
    let (leaders, mut order): (Vec<&OvsdbServer>, Vec<&OvsdbServer>) =
        servers.iter().partition(|s| s.is_leader());
    assert_eq!(leaders.len(), 1, "one leader");
    order.push(leaders[0]);
    let leader = order.len() - 1;
    (order, leader)
}

#[tokio::test(flavor = "multi_thread")]
async fn leader_only_sessions_skip_followers() -> anyhow::Result<()> {
    init_tracing();
    let servers = OvsdbServer::start_cluster(NB_SCHEMA, 3)?;
    let (order, leader) = followers_then_leader(&servers);
    let ep = endpoints(&order)?;
    let tables = vec![(nb::LOGICAL_SWITCH.to_string(), None)];

    let any = Session::start(ep.clone(), NB, tables.clone());
    any.wait_connected(WAIT).await?;
    assert_eq!(
        remote_of(&any),
        order[0].endpoint().to_string(),
        "a connected follower will do"
    );

    let options = SessionOptions {
        leader_only: true,
        ..Default::default()
    };
    let leader_session = Session::start_with(ep, NB, tables, options);
    leader_session.wait_connected(WAIT).await?;
    assert_eq!(
        remote_of(&leader_session),
        order[leader].endpoint().to_string()
    );

    // A write through a follower is forwarded to the leader and replicated everywhere.
    any.transact(vec![Op::insert(
        nb::LOGICAL_SWITCH,
        Row::new().with("name", "via-follower"),
    )])
    .await?;
    leader_session
        .wait_for(
            |r| {
                r.find_by(nb::LOGICAL_SWITCH, "name", "via-follower")
                    .is_some()
            },
            WAIT,
        )
        .await?;
    Ok(())
}

/// The leader freezes: the other members elect a new one, and a leader-only session
/// notices (keepalive), skips the frozen member and the follower, and carries on with
/// the new leader.
#[tokio::test(flavor = "multi_thread")]
async fn a_leader_only_session_fails_over_to_the_new_leader() -> anyhow::Result<()> {
    init_tracing();
    let servers = OvsdbServer::start_cluster(NB_SCHEMA, 3)?;
    let old = servers
        .iter()
        .position(|s| s.is_leader())
        .expect("a leader");
    // The old leader first in the list, so it is what the session starts on.
    let mut order: Vec<&OvsdbServer> = vec![&servers[old]];
    order.extend(
        servers
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != old)
            .map(|(_, s)| s),
    );
    let options = SessionOptions {
        leader_only: true,
        keepalive: Some(Duration::from_millis(200)),
        keepalive_timeout: Duration::from_millis(300),
        setup_timeout: Duration::from_millis(500),
        max_backoff: Duration::from_millis(300),
        ..Default::default()
    };
    let tables = vec![(nb::LOGICAL_SWITCH.to_string(), None)];
    let session = Session::start_with(endpoints(&order)?, NB, tables, options);
    session.wait_connected(WAIT).await?;
    assert_eq!(remote_of(&session), servers[old].endpoint().to_string());
    session
        .transact(vec![Op::insert(
            nb::LOGICAL_SWITCH,
            Row::new().with("name", "before"),
        )])
        .await?;

    servers[old].pause()?;
    let moved = async {
        loop {
            let remote = remote_of(&session);
            if !remote.is_empty() && remote != servers[old].endpoint().to_string() {
                return remote;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let remote = tokio::time::timeout(WAIT, moved).await;
    let new_leader = servers
        .iter()
        .enumerate()
        .find(|(i, s)| *i != old && s.is_leader());
    servers[old].resume()?;
    let remote = remote?;
    let (_, new_leader) = new_leader.expect("the others elected a leader");
    assert_eq!(remote, new_leader.endpoint().to_string());

    session
        .transact(vec![Op::insert(
            nb::LOGICAL_SWITCH,
            Row::new().with("name", "after"),
        )])
        .await?;
    session
        .wait_for(
            |r| {
                r.find_by(nb::LOGICAL_SWITCH, "name", "before").is_some()
                    && r.find_by(nb::LOGICAL_SWITCH, "name", "after").is_some()
            },
            WAIT,
        )
        .await?;
    Ok(())
}
