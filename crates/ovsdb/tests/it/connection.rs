use std::collections::BTreeMap;
use std::time::Duration;

use neutrino_ovsdb::testing::{NB_SCHEMA, OvsdbServer};
use neutrino_ovsdb::{
    Atom, Condition, Connection, Error, MonitorRequest, Mutation, Op, OpResult, Row, RowUpdate,
    Schema, Value,
};
use serde_json::json;

use crate::{WAIT, init_tracing};

const NB: &str = "OVN_Northbound";

async fn nb() -> anyhow::Result<(OvsdbServer, Connection)> {
    init_tracing();
    let server = OvsdbServer::start_nb()?;
    let conn = Connection::connect(&server.endpoint()).await?;
    Ok((server, conn))
}

fn select(table: &str, conditions: Vec<Condition>) -> Op {
    Op::select(table, conditions)
}

async fn rows(
    conn: &Connection,
    table: &str,
    conditions: Vec<Condition>,
) -> anyhow::Result<Vec<Row>> {
    let mut results = conn.transact(NB, vec![select(table, conditions)]).await?;
    match results.pop() {
        Some(OpResult::Rows(rows)) => Ok(rows),
        other => anyhow::bail!("select answered {other:?}"),
    }
}

#[tokio::test]
async fn list_dbs_and_get_schema_over_unix_and_tcp() -> anyhow::Result<()> {
    init_tracing();
    let server = OvsdbServer::start_nb()?;
    let expected = Schema::from_file(NB_SCHEMA)?;
    for ep in [server.endpoint(), server.tcp_endpoint()] {
        let conn = Connection::connect(&ep).await?;
        let dbs = conn.list_dbs().await?;
        assert!(dbs.contains(&NB.to_string()), "{dbs:?}");
        let schema = conn.get_schema(NB).await?;
        assert_eq!(schema.name, NB);
        assert_eq!(schema.version, expected.version);
        assert_eq!(
            schema.tables.keys().collect::<Vec<_>>(),
            expected.tables.keys().collect::<Vec<_>>()
        );
        assert_eq!(
            schema.column_type("Logical_Switch_Port", "tag"),
            expected.column_type("Logical_Switch_Port", "tag")
        );
        match conn.get_schema("Nope").await {
            Err(Error::Rpc { error, .. }) => assert_eq!(error, "unknown database"),
            other => panic!("get_schema of an unknown database answered {other:?}"),
        }
        conn.echo().await?;
    }
    Ok(())
}

#[tokio::test]
async fn connect_tries_each_remote_and_reports_the_failure() -> anyhow::Result<()> {
    init_tracing();
    let server = OvsdbServer::start_nb()?;
    let missing = server.dir().join("missing.sock");
    let ep = format!("unix:{},{}", missing.display(), server.tcp_endpoint()).parse()?;
    let conn = Connection::connect(&ep).await?;
    assert_eq!(conn.remote().to_string(), server.tcp_endpoint().to_string());
    assert!(conn.list_dbs().await?.contains(&NB.to_string()));

    let nowhere = format!("unix:{}", missing.display()).parse()?;
    match Connection::connect(&nowhere).await {
        Err(e @ Error::Connect { .. }) => assert!(e.to_string().contains("missing.sock"), "{e}"),
        other => panic!("connecting to nothing answered {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn insert_with_named_uuid_references_in_one_transaction() -> anyhow::Result<()> {
    let (server, conn) = nb().await?;
    let results = conn
        .transact(
            NB,
            vec![
                Op::insert_named(
                    "Logical_Switch_Port",
                    Row::new()
                        .with("name", "p1")
                        .with(
                            "addresses",
                            Value::string_set(["00:00:00:00:00:01 10.0.0.5"]),
                        )
                        .with(
                            "external_ids",
                            Value::string_map([("neutron:port_name", "web")]),
                        ),
                    "p1",
                ),
                Op::insert_named(
                    "Logical_Switch",
                    Row::new()
                        .with("name", "sw0")
                        .with("ports", Value::set_of([Atom::NamedUuid("p1".into())])),
                    "sw0",
                ),
                Op::comment("neutrino test"),
            ],
        )
        .await?;
    assert_eq!(results.len(), 3);
    let port = results[0].uuid().expect("insert answers a uuid");
    let switch = results[1].uuid().expect("insert answers a uuid");
    assert_eq!(results[2], OpResult::Empty);

    let switches = rows(&conn, "Logical_Switch", vec![Condition::uuid(switch)]).await?;
    assert_eq!(switches.len(), 1);
    assert_eq!(switches[0].str("name"), Some("sw0"));
    assert_eq!(switches[0].uuids("ports"), [port]);
    let ports = rows(
        &conn,
        "Logical_Switch_Port",
        vec![Condition::eq("name", "p1")],
    )
    .await?;
    assert_eq!(ports[0].uuid(), Some(port));
    assert_eq!(
        ports[0].map_str("external_ids", "neutron:port_name"),
        Some("web")
    );
    assert_eq!(ports[0].int("tag"), None);
    assert_eq!(ports[0].bool("up"), None);
    assert_eq!(ports[0].str("type"), Some(""));

    // The real CLI sees the same.
    assert_eq!(
        server.nbctl(&["lsp-list", "sw0"])?.trim(),
        format!("{port} (p1)")
    );
    assert_eq!(
        server.nbctl(&["lsp-get-addresses", "p1"])?.trim(),
        "00:00:00:00:00:01 10.0.0.5"
    );
    Ok(())
}

#[tokio::test]
async fn update_mutate_and_delete() -> anyhow::Result<()> {
    let (server, conn) = nb().await?;
    server.nbctl(&[
        "ls-add", "sw0", "--", "lsp-add", "sw0", "p1", "--", "ls-add", "sw1",
    ])?;

    let updated = conn
        .transact(
            NB,
            vec![Op::update(
                "Logical_Switch_Port",
                vec![Condition::eq("name", "p1")],
                Row::new()
                    .with("addresses", Value::string_set(["unknown"]))
                    .with("enabled", Value::set_of([Atom::Boolean(false)]))
                    .with("tag_request", Value::set_of([Atom::Integer(42)])),
            )],
        )
        .await?;
    assert_eq!(updated, [OpResult::Count(1)]);
    assert_eq!(
        server.nbctl(&["lsp-get-addresses", "p1"])?.trim(),
        "unknown"
    );
    assert_eq!(server.nbctl(&["lsp-get-enabled", "p1"])?.trim(), "disabled");

    // Mutate: a map key into external_ids, a new port into the ports set, on every switch.
    let mutated = conn
        .transact(
            NB,
            vec![
                Op::insert_named("Logical_Switch_Port", Row::new().with("name", "p2"), "p2"),
                Op::mutate(
                    "Logical_Switch",
                    vec![Condition::eq("name", "sw0")],
                    vec![
                        Mutation::insert(
                            "external_ids",
                            Value::string_map([("neutron:network_name", "net")]),
                        ),
                        Mutation::insert("ports", Value::set_of([Atom::NamedUuid("p2".into())])),
                    ],
                ),
                Op::mutate(
                    "Logical_Switch",
                    vec![],
                    vec![Mutation::insert(
                        "other_config",
                        Value::string_map([("mcast_snoop", "true")]),
                    )],
                ),
            ],
        )
        .await?;
    assert_eq!(mutated[1], OpResult::Count(1));
    assert_eq!(mutated[2], OpResult::Count(2));
    let sw0 = &rows(&conn, "Logical_Switch", vec![Condition::eq("name", "sw0")]).await?[0];
    assert_eq!(sw0.uuids("ports").len(), 2);
    assert_eq!(
        sw0.map_str("external_ids", "neutron:network_name"),
        Some("net")
    );
    assert_eq!(sw0.map_str("other_config", "mcast_snoop"), Some("true"));
    let listed = server.nbctl(&["lsp-list", "sw0"])?;
    assert!(
        listed.contains("(p1)") && listed.contains("(p2)"),
        "{listed}"
    );

    // Mutate delete: a map key by key, a set element.
    let p1 = rows(
        &conn,
        "Logical_Switch_Port",
        vec![Condition::eq("name", "p1")],
    )
    .await?[0]
        .uuid()
        .unwrap();
    conn.transact(
        NB,
        vec![Op::mutate(
            "Logical_Switch",
            vec![Condition::eq("name", "sw0")],
            vec![
                Mutation::delete("external_ids", Value::string_set(["neutron:network_name"])),
                Mutation::delete("ports", Value::uuid_set([p1])),
            ],
        )],
    )
    .await?;
    let sw0 = &rows(&conn, "Logical_Switch", vec![Condition::eq("name", "sw0")]).await?[0];
    assert!(sw0.string_map("external_ids").is_empty());
    assert_eq!(sw0.uuids("ports").len(), 1);
    // p1 is no longer referenced, so the server garbage-collected it.
    assert!(
        rows(
            &conn,
            "Logical_Switch_Port",
            vec![Condition::eq("name", "p1")]
        )
        .await?
        .is_empty()
    );

    let deleted = conn
        .transact(
            NB,
            vec![Op::delete(
                "Logical_Switch",
                vec![Condition::ne("name", "none")],
            )],
        )
        .await?;
    assert_eq!(deleted, [OpResult::Count(2)]);
    assert_eq!(server.nbctl(&["ls-list"])?.trim(), "");
    Ok(())
}

#[tokio::test]
async fn wait_passes_or_times_out() -> anyhow::Result<()> {
    let (server, conn) = nb().await?;
    server.nbctl(&["ls-add", "sw0"])?;
    let wait = |until_equal: bool, name: &str| Op::Wait {
        table: "Logical_Switch".into(),
        timeout_ms: Some(0),
        conditions: vec![Condition::eq("name", "sw0")],
        columns: vec!["name".into()],
        until_equal,
        rows: vec![Row::new().with("name", name)],
    };
    // Records which transactions committed.
    let marker = |key: &str| {
        Op::mutate(
            "Logical_Switch",
            vec![Condition::eq("name", "sw0")],
            vec![Mutation::insert(
                "external_ids",
                Value::string_map([(key, "1")]),
            )],
        )
    };

    conn.transact(NB, vec![wait(true, "sw0"), marker("a")])
        .await?;
    conn.transact(NB, vec![wait(false, "other"), marker("b")])
        .await?;
    match conn
        .transact(NB, vec![marker("c"), wait(true, "other")])
        .await
    {
        Err(Error::OperationFailed {
            index: 1, error, ..
        }) => assert_eq!(error, "timed out"),
        other => panic!("a wait that cannot pass answered {other:?}"),
    }
    match conn
        .transact(NB, vec![wait(false, "sw0"), marker("d")])
        .await
    {
        Err(Error::OperationFailed {
            index: 0, error, ..
        }) => assert_eq!(error, "timed out"),
        other => panic!("a wait that cannot pass answered {other:?}"),
    }
    // Only the transactions whose wait passed were committed.
    let sw0 = &rows(&conn, "Logical_Switch", vec![]).await?[0];
    assert_eq!(
        sw0.string_map("external_ids")
            .into_keys()
            .collect::<Vec<_>>(),
        ["a", "b"]
    );
    Ok(())
}

#[tokio::test]
async fn failures_report_the_operation_index_and_commit_nothing() -> anyhow::Result<()> {
    let (server, conn) = nb().await?;
    server.nbctl(&["ls-add", "sw0", "--", "lsp-add", "sw0", "dup"])?;

    // A constraint violation (the name index of Logical_Switch_Port) fails the commit,
    // which the server reports as an extra result after the last operation.
    let dup = vec![
        Op::insert_named("Logical_Switch_Port", Row::new().with("name", "dup"), "p"),
        Op::insert(
            "Logical_Switch",
            Row::new()
                .with("name", "sw1")
                .with("ports", Value::named("p")),
        ),
    ];
    match conn.transact(NB, dup).await {
        Err(Error::OperationFailed {
            index: 2,
            error,
            details,
        }) => {
            assert_eq!(error, "constraint violation");
            assert!(details.unwrap_or_default().contains("dup"));
        }
        other => panic!("a duplicate port name answered {other:?}"),
    }

    // An operation that fails by itself is reported at its index.
    let bad_column = vec![
        Op::insert("Logical_Switch", Row::new().with("name", "sw2")),
        Op::update(
            "Logical_Switch",
            vec![Condition::eq("name", "sw0")],
            Row::new().with("nmae", "x"),
        ),
    ];
    match conn.transact(NB, bad_column).await {
        Err(e @ Error::OperationFailed { index: 1, .. }) => {
            assert_eq!(e.ovsdb_error(), Some("unknown column"), "{e}");
        }
        other => panic!("an unknown column answered {other:?}"),
    }

    // A dangling reference fails the commit too.
    let dangling = vec![Op::insert(
        "Logical_Switch",
        Row::new()
            .with("name", "sw3")
            .with("ports", Value::uuid(uuid::Uuid::new_v4())),
    )];
    match conn.transact(NB, dangling).await {
        Err(Error::OperationFailed {
            index: 1, error, ..
        }) => assert_eq!(error, "referential integrity violation"),
        other => panic!("a dangling reference answered {other:?}"),
    }

    assert_eq!(
        server.nbctl(&["ls-list"])?.lines().count(),
        1,
        "nothing else was committed"
    );
    match conn.transact("Nope", vec![Op::comment("x")]).await {
        Err(Error::Rpc { error, details }) => {
            assert_eq!(error, "unknown database");
            assert!(details.unwrap_or_default().contains("Nope"));
        }
        other => panic!("an unknown database answered {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn monitor_cond_streams_what_ovn_nbctl_changes() -> anyhow::Result<()> {
    let (server, conn) = nb().await?;
    server.nbctl(&["ls-add", "before"])?;
    let mut updates = conn.updates();
    let requests = BTreeMap::from([
        (
            "Logical_Switch".to_string(),
            MonitorRequest::columns(["name", "ports", "external_ids"]),
        ),
        ("Logical_Switch_Port".to_string(), MonitorRequest::all()),
    ]);
    let initial = conn.monitor_cond(NB, json!("m1"), requests).await?;
    let ls: Vec<_> = initial.table("Logical_Switch").collect();
    assert_eq!(ls.len(), 1);
    assert!(matches!(ls[0].1, RowUpdate::Initial(r) if r.str("name") == Some("before")));

    server.nbctl(&["lsp-add", "before", "p1"])?;
    let (id, u) = next(&mut updates).await;
    assert_eq!(id, json!("m1"));
    let (port, insert) = u.table("Logical_Switch_Port").next().expect("the port");
    assert!(matches!(insert, RowUpdate::Insert(r) if r.str("name") == Some("p1")));
    assert!(
        matches!(u.table("Logical_Switch").next(), Some((_, RowUpdate::Modify(r))) if r.uuids("ports") == [*port])
    );

    server.nbctl(&[
        "set",
        "Logical_Switch",
        "before",
        "external_ids:a=b",
        "other_config:x=y",
    ])?;
    let (_, u) = next(&mut updates).await;
    let (_, modify) = u.table("Logical_Switch").next().unwrap();
    let RowUpdate::Modify(diff) = modify else {
        panic!("{modify:?}")
    };
    assert_eq!(diff.map_str("external_ids", "a"), Some("b"));
    assert!(
        !diff.contains("other_config"),
        "other_config is not monitored"
    );

    server.nbctl(&["ls-del", "before"])?;
    let (_, u) = next(&mut updates).await;
    assert!(matches!(
        u.table("Logical_Switch").next(),
        Some((_, RowUpdate::Delete))
    ));
    assert!(matches!(
        u.table("Logical_Switch_Port").next(),
        Some((_, RowUpdate::Delete))
    ));

    // After monitor_cancel, nothing more arrives.
    conn.monitor_cancel(json!("m1")).await?;
    server.nbctl(&["ls-add", "after"])?;
    conn.echo().await?;
    assert!(
        tokio::time::timeout(Duration::from_millis(300), updates.recv())
            .await
            .is_err()
    );
    Ok(())
}

#[tokio::test]
async fn monitor_cond_filters_rows_by_condition() -> anyhow::Result<()> {
    let (server, conn) = nb().await?;
    server.nbctl(&["ls-add", "a", "--", "ls-add", "b"])?;
    let requests = BTreeMap::from([(
        "Logical_Switch".to_string(),
        MonitorRequest {
            columns: Some(vec!["name".into()]),
            where_: vec![Condition::eq("name", "b")],
        },
    )]);
    let initial = conn
        .monitor_cond(NB, json!(["any", "json"]), requests)
        .await?;
    let names: Vec<_> = initial
        .table("Logical_Switch")
        .filter_map(|(_, u)| match u {
            RowUpdate::Initial(r) => r.str("name").map(str::to_string),
            _ => None,
        })
        .collect();
    assert_eq!(names, ["b"]);
    Ok(())
}

/// ovsdb-server probes idle TCP clients with `echo` every 5 s and drops them when the
/// reply does not come within another 5 s: a connection left idle for 12 s survives
/// only if the client answers.
#[tokio::test]
async fn answers_the_servers_echo_probes() -> anyhow::Result<()> {
    init_tracing();
    let server = OvsdbServer::start_nb()?;
    let conn = Connection::connect(&server.tcp_endpoint()).await?;
    conn.list_dbs().await?;
    tokio::time::sleep(Duration::from_secs(12)).await;
    assert!(!conn.is_closed(), "the server dropped the connection");
    conn.list_dbs().await?;
    Ok(())
}

#[tokio::test]
async fn a_killed_server_fails_pending_and_later_requests() -> anyhow::Result<()> {
    let (mut server, conn) = nb().await?;
    // A wait that blocks until the server dies.
    let blocked = {
        let conn = conn.clone();
        tokio::spawn(async move {
            conn.transact(
                NB,
                vec![Op::Wait {
                    table: "Logical_Switch".into(),
                    timeout_ms: None,
                    conditions: vec![],
                    columns: vec!["name".into()],
                    until_equal: false,
                    rows: vec![],
                }],
            )
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!blocked.is_finished());
    server.stop();
    let result = tokio::time::timeout(WAIT, blocked).await??;
    assert!(matches!(result, Err(Error::Disconnected)), "{result:?}");
    tokio::time::timeout(WAIT, conn.closed()).await?;
    assert!(matches!(conn.list_dbs().await, Err(Error::Disconnected)));
    Ok(())
}

async fn next(updates: &mut neutrino_ovsdb::UpdateReceiver) -> neutrino_ovsdb::Update {
    tokio::time::timeout(WAIT, updates.recv())
        .await
        .ok()
        .flatten()
        .expect("an update")
}
