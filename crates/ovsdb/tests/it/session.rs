use std::time::Duration;

use neutrino_ovsdb::columns::{nb, ovs, sb};
use neutrino_ovsdb::testing::OvsdbServer;
use neutrino_ovsdb::{Endpoint, Error, Op, Replica, Row, Session, SessionOptions, Value};
use serde_json::json;

use crate::{WAIT, init_tracing};

const NB: &str = "OVN_Northbound";

fn port<'a>(r: &'a Replica, name: &str) -> Option<&'a Row> {
    r.find_by(nb::LOGICAL_SWITCH_PORT, "name", name)
}

fn switch_names(r: &Replica) -> Vec<String> {
    let mut names: Vec<_> = r
        .table(nb::LOGICAL_SWITCH)
        .filter_map(|s| s.str("name"))
        .map(str::to_string)
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread")]
async fn replica_follows_ovn_nbctl() -> anyhow::Result<()> {
    init_tracing();
    let server = OvsdbServer::start_nb()?;
    let session = Session::start(server.endpoint(), NB, nb::DATABASE.monitor_tables());
    session.wait_connected(WAIT).await?;
    assert!(session.connected());
    assert_eq!(session.replica().len(nb::LOGICAL_SWITCH), 0);
    let version = *session.subscribe().borrow();

    server.nbctl(&[
        "ls-add",
        "sw0",
        "--",
        "lsp-add",
        "sw0",
        "p1",
        "--",
        "lsp-set-addresses",
        "p1",
        "00:00:00:00:00:01 10.0.0.5",
    ])?;
    session
        .wait_for(
            |r| {
                port(r, "p1")
                    .is_some_and(|p| p.strings("addresses") == ["00:00:00:00:00:01 10.0.0.5"])
            },
            WAIT,
        )
        .await?;
    assert!(
        *session.subscribe().borrow() > version,
        "the version was bumped"
    );
    let replica = session.replica();
    let p1 = port(&replica, "p1").unwrap();
    let p1_uuid = p1.uuid().unwrap();
    assert_eq!(p1.str("type"), Some(""));
    assert_eq!(p1.int("tag"), None);
    assert_eq!(p1.bool("up"), None);
    assert_eq!(p1.get_uuid("dhcpv4_options"), None);
    assert!(p1.string_map("options").is_empty());
    let sw0 = replica.find_by(nb::LOGICAL_SWITCH, "name", "sw0").unwrap();
    assert_eq!(sw0.uuids("ports"), [p1_uuid]);
    assert_eq!(replica.get(nb::LOGICAL_SWITCH_PORT, p1_uuid), Some(p1));

    server.nbctl(&[
        "set",
        "Logical_Switch_Port",
        "p1",
        "options:requested-chassis=hv1",
        "up=true",
        "tag=5",
        "addresses=a,b",
    ])?;
    session
        .wait_for(
            |r| {
                port(r, "p1").is_some_and(|p| {
                    p.bool("up") == Some(true)
                        && p.int("tag") == Some(5)
                        && p.map_str("options", "requested-chassis") == Some("hv1")
                        && p.strings("addresses") == ["a", "b"]
                })
            },
            WAIT,
        )
        .await?;

    server.nbctl(&[
        "clear",
        "Logical_Switch_Port",
        "p1",
        "up",
        "tag",
        "--",
        "remove",
        "Logical_Switch_Port",
        "p1",
        "options",
        "requested-chassis",
        "--",
        "remove",
        "Logical_Switch_Port",
        "p1",
        "addresses",
        "a",
    ])?;
    session
        .wait_for(
            |r| {
                port(r, "p1").is_some_and(|p| {
                    p.bool("up").is_none()
                        && p.int("tag").is_none()
                        && p.string_map("options").is_empty()
                        && p.strings("addresses") == ["b"]
                })
            },
            WAIT,
        )
        .await?;

    server.nbctl(&["lsp-del", "p1"])?;
    session
        .wait_for(
            |r| {
                port(r, "p1").is_none()
                    && r.find_by(nb::LOGICAL_SWITCH, "name", "sw0")
                        .is_some_and(|s| s.uuids("ports").is_empty())
            },
            WAIT,
        )
        .await?;
    server.nbctl(&["ls-del", "sw0"])?;
    session
        .wait_for(|r| r.len(nb::LOGICAL_SWITCH) == 0, WAIT)
        .await?;

    // A snapshot taken earlier does not change.
    assert!(port(&replica, "p1").is_some());
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn transact_then_see_it_replicated() -> anyhow::Result<()> {
    init_tracing();
    let server = OvsdbServer::start_nb()?;
    let session = Session::start(server.endpoint(), NB, vec![(nb::ADDRESS_SET.into(), None)]);
    session.wait_connected(WAIT).await?;
    let results = session
        .transact(vec![Op::insert(
            nb::ADDRESS_SET,
            Row::new()
                .with("name", "as1")
                .with("addresses", Value::string_set(["10.0.0.1", "10.0.0.2"])),
        )])
        .await?;
    let uuid = results[0].uuid().unwrap();
    session
        .wait_for(|r| r.get(nb::ADDRESS_SET, uuid).is_some(), WAIT)
        .await?;
    let replica = session.replica();
    let row = replica.get(nb::ADDRESS_SET, uuid).unwrap();
    assert_eq!(row.strings("addresses"), ["10.0.0.1", "10.0.0.2"]);
    assert!(row.string_map("external_ids").is_empty());
    // Columns not asked for are not replicated, tables not asked for are empty.
    assert_eq!(replica.len(nb::LOGICAL_SWITCH), 0);
    assert_eq!(replica.tables().collect::<Vec<_>>(), [nb::ADDRESS_SET]);

    match session
        .wait_for(|r| r.len(nb::ADDRESS_SET) == 2, Duration::from_millis(200))
        .await
    {
        Err(Error::Timeout) => {}
        other => panic!("waiting for what does not happen answered {other:?}"),
    }
    Ok(())
}

/// The server dies; while it is away a row is deleted and another added (with
/// ovsdb-tool, on the database file); it comes back: the session reconnects and its
/// replica is the new state, the deletion included.
#[tokio::test(flavor = "multi_thread")]
async fn reconnects_and_replaces_the_replica() -> anyhow::Result<()> {
    init_tracing();
    let mut server = OvsdbServer::start_nb()?;
    server.nbctl(&["ls-add", "keep", "--", "ls-add", "gone"])?;
    let options = SessionOptions {
        max_backoff: Duration::from_millis(200),
        ..Default::default()
    };
    let session = Session::start_with(
        server.endpoint(),
        NB,
        nb::DATABASE.monitor_tables(),
        options,
    );
    session
        .wait_for(|r| switch_names(r) == ["gone", "keep"], WAIT)
        .await?;
    let mut connected = session.watch_connected();
    assert!(*connected.borrow_and_update());

    server.stop();
    tokio::time::timeout(WAIT, connected.wait_for(|up| !*up)).await??;
    assert!(matches!(
        session.transact(vec![Op::comment("x")]).await,
        Err(Error::Disconnected)
    ));
    assert_eq!(
        switch_names(&session.replica()),
        ["gone", "keep"],
        "the last replica stays readable"
    );

    server.tool_transact(&json!([
        NB,
        {"op": "delete", "table": "Logical_Switch", "where": [["name", "==", "gone"]]},
        {"op": "insert", "table": "Logical_Switch", "row": {"name": "new"}},
    ]))?;
    let version = *session.subscribe().borrow();
    server.restart()?;
    session
        .wait_for(|r| switch_names(r) == ["keep", "new"], WAIT)
        .await?;
    assert!(session.connected());
    assert!(*session.subscribe().borrow() > version);

    // And it keeps following changes on the new connection.
    server.nbctl(&["ls-add", "later"])?;
    session
        .wait_for(|r| switch_names(r) == ["keep", "later", "new"], WAIT)
        .await?;
    session.transact(vec![Op::comment("works again")]).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn waits_for_a_server_that_is_not_up_yet() -> anyhow::Result<()> {
    init_tracing();
    let mut server = OvsdbServer::start_nb()?;
    server.stop();
    let session = Session::start(server.endpoint(), NB, vec![(nb::NB_GLOBAL.into(), None)]);
    assert!(matches!(
        session.wait_connected(Duration::from_millis(300)).await,
        Err(Error::Timeout)
    ));
    assert!(!session.connected());
    assert!(
        session.last_error().is_some_and(|e| e.contains("db.sock")),
        "{:?}",
        session.last_error()
    );
    server.restart()?;
    session.wait_connected(WAIT).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn tries_each_endpoint_of_the_list() -> anyhow::Result<()> {
    init_tracing();
    let server = OvsdbServer::start_nb()?;
    let endpoints: Endpoint = format!(
        "unix:{}/nothing.sock,{}",
        server.dir().display(),
        server.tcp_endpoint()
    )
    .parse()?;
    let session = Session::start(endpoints, NB, vec![(nb::NB_GLOBAL.into(), None)]);
    session.wait_connected(WAIT).await?;
    assert_eq!(
        session.connection().unwrap().remote().to_string(),
        server.tcp_endpoint().to_string()
    );
    server.nbctl(&["init"])?;
    session
        .wait_for(|r| r.len(nb::NB_GLOBAL) == 1, WAIT)
        .await?;
    Ok(())
}

/// A frozen server keeps its sockets open but answers nothing: only the keepalive echo
/// notices. The session drops the connection, and reconnects once the server thaws.
#[tokio::test(flavor = "multi_thread")]
async fn keepalive_detects_a_hung_server() -> anyhow::Result<()> {
    init_tracing();
    let server = OvsdbServer::start_nb()?;
    let options = SessionOptions {
        keepalive: Some(Duration::from_millis(200)),
        keepalive_timeout: Duration::from_millis(300),
        setup_timeout: Duration::from_millis(500),
        max_backoff: Duration::from_millis(200),
        ..Default::default()
    };
    let session = Session::start_with(
        server.endpoint(),
        NB,
        vec![(nb::LOGICAL_SWITCH.into(), None)],
        options,
    );
    session.wait_connected(WAIT).await?;
    let mut connected = session.watch_connected();

    // Stays connected while the server answers.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        *connected.borrow_and_update(),
        "an answering server must not be dropped"
    );

    server.pause()?;
    let down = tokio::time::timeout(WAIT, connected.wait_for(|up| !*up)).await;
    server.resume()?;
    down??;
    session.wait_connected(WAIT).await?;
    server.nbctl(&["ls-add", "after"])?;
    session
        .wait_for(|r| switch_names(r) == ["after"], WAIT)
        .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn close_stops_the_session() -> anyhow::Result<()> {
    init_tracing();
    let server = OvsdbServer::start_nb()?;
    let session = Session::start(
        server.endpoint(),
        NB,
        vec![(nb::LOGICAL_SWITCH.into(), None)],
    );
    session.wait_connected(WAIT).await?;
    let conn = session.connection().unwrap();
    session.close();
    assert!(!session.connected());
    tokio::time::timeout(WAIT, conn.closed()).await?;
    assert!(matches!(
        session.transact(vec![Op::comment("x")]).await,
        Err(Error::Closed)
    ));
    assert!(matches!(
        session.wait_connected(WAIT).await,
        Err(Error::Closed)
    ));
    assert!(matches!(
        session.wait_for(|_| false, WAIT).await,
        Err(Error::Closed)
    ));
    Ok(())
}

/// Every table and column of the lists can be monitored on the real servers, and the
/// replica reads what the real CLIs write.
#[tokio::test(flavor = "multi_thread")]
async fn the_column_lists_monitor_every_database() -> anyhow::Result<()> {
    init_tracing();
    let sb_server = OvsdbServer::start_sb()?;
    let sb_session = Session::start(
        sb_server.endpoint(),
        "OVN_Southbound",
        sb::DATABASE.monitor_tables(),
    );
    sb_server.sbctl(&["chassis-add", "hv1", "geneve", "192.0.2.1"])?;
    sb_session
        .wait_for(
            |r| {
                r.find_by(sb::CHASSIS, "name", "hv1")
                    .is_some_and(|c| c.uuids("encaps").len() == 1)
            },
            WAIT,
        )
        .await?;

    let ovs_server = OvsdbServer::start_ovs()?;
    let ovs_session = Session::start(
        ovs_server.endpoint(),
        "Open_vSwitch",
        ovs::DATABASE.monitor_tables(),
    );
    ovs_server.vsctl(&[
        "init",
        "--",
        "add-br",
        "br-int",
        "--",
        "set",
        "Bridge",
        "br-int",
        "fail_mode=secure",
    ])?;
    ovs_session
        .wait_for(
            |r| {
                let Some(br) = r.find_by(ovs::BRIDGE, "name", "br-int") else {
                    return false;
                };
                let Some(iface) = r.find_by(ovs::INTERFACE, "name", "br-int") else {
                    return false;
                };
                br.str("fail_mode") == Some("secure")
                    && br.uuids("ports").len() == 1
                    && iface.str("type") == Some("internal")
                    && iface.int("ofport").is_none()
                    && r.table(ovs::OPEN_VSWITCH).next().is_some_and(|o| {
                        o.uuids("bridges") == br.uuid().into_iter().collect::<Vec<_>>()
                    })
            },
            WAIT,
        )
        .await?;
    for (session, db) in [(&sb_session, sb::DATABASE), (&ovs_session, ovs::DATABASE)] {
        let schema = session
            .schema()
            .expect("connected sessions have the schema");
        db.check(&schema).map_err(|p| anyhow::anyhow!("{p:?}"))?;
    }
    Ok(())
}
