//! Writes to the local Open_vSwitch database, through neutrino-ovsdb: what
//! `ovs-vsctl init`, `add-br`, `add-port`, `del-port` and `set
//! Open_vSwitch . external_ids:...` do.
//!
//! Bridges, ports and interfaces are not root tables: a port removed from
//! its bridge's `ports` goes away with its interfaces, a bridge removed
//! from `Open_vSwitch.bridges` with its ports.

use std::collections::BTreeMap;
use std::time::Duration;

use neutrino_ovsdb::{
    Condition, Connection, Endpoint, Mutation, Mutator, Op, OpResult, Row, Value,
};
use uuid::Uuid;

use crate::error::{Error, Result};

pub const DB: &str = "Open_vSwitch";
const ROOT: &str = "Open_vSwitch";

pub async fn connect(ep: &Endpoint) -> Result<Connection> {
    Ok(Connection::connect_timeout(ep, Duration::from_secs(10)).await?)
}

async fn select(conn: &Connection, table: &str, conditions: Vec<Condition>) -> Result<Vec<Row>> {
    let mut r = conn
        .transact(DB, vec![Op::select(table, conditions)])
        .await?;
    match r.pop() {
        Some(OpResult::Rows(rows)) => Ok(rows),
        other => Err(Error::Ovsdb(neutrino_ovsdb::Error::Protocol(format!(
            "unexpected select result {other:?}"
        )))),
    }
}

/// Inserts the root row unless there is one (`ovs-vsctl init`).
pub async fn init(conn: &Connection) -> Result<()> {
    if select(conn, ROOT, vec![]).await?.is_empty() {
        conn.transact(DB, vec![Op::insert(ROOT, Row::new())])
            .await?;
    }
    Ok(())
}

/// An `external_ids` value of the root row.
pub async fn external_id(conn: &Connection, key: &str) -> Result<Option<String>> {
    let rows = select(conn, ROOT, vec![]).await?;
    Ok(rows
        .first()
        .and_then(|r| r.map_str("external_ids", key))
        .map(String::from))
}

/// Sets `external_ids` keys of the root row; keys mapped to `None` are
/// removed. Other keys are kept.
pub async fn set_external_ids(conn: &Connection, ids: &[(&str, Option<String>)]) -> Result<()> {
    let keys: Vec<&str> = ids.iter().map(|(k, _)| *k).collect();
    let set: Vec<(&str, &str)> = ids
        .iter()
        .filter_map(|(k, v)| v.as_deref().map(|v| (*k, v)))
        .collect();
    let mutations = vec![
        Mutation::delete("external_ids", Value::string_set(keys)),
        Mutation::insert("external_ids", Value::string_map(set)),
    ];
    conn.transact(DB, vec![Op::mutate(ROOT, vec![], mutations)])
        .await?;
    Ok(())
}

/// Marks the bridges the chassis made, so that one no longer configured
/// (a NIC mapping removed, the integration bridge renamed) can be removed.
const MANAGED: (&str, &str) = ("neutrino-chassis", "managed");

/// A bridge of datapath type `netdev` (the userspace datapath), created
/// or brought to that configuration.
pub async fn ensure_bridge(conn: &Connection, name: &str, fail_mode: Option<&str>) -> Result<()> {
    let fail_mode = Value::optional_string(fail_mode);
    let existing = select(conn, "Bridge", vec![Condition::eq("name", name)]).await?;
    if !existing.is_empty() {
        let row = Row::new()
            .with("datapath_type", "netdev")
            .with("fail_mode", fail_mode);
        conn.transact(
            DB,
            vec![Op::update("Bridge", vec![Condition::eq("name", name)], row)],
        )
        .await?;
        return Ok(());
    }
    let ops = vec![
        Op::insert_named(
            "Interface",
            Row::new().with("name", name).with("type", "internal"),
            "iface",
        ),
        Op::insert_named(
            "Port",
            Row::new()
                .with("name", name)
                .with("interfaces", Value::named("iface")),
            "port",
        ),
        Op::insert_named(
            "Bridge",
            Row::new()
                .with("name", name)
                .with("ports", Value::named("port"))
                .with("datapath_type", "netdev")
                .with("fail_mode", fail_mode)
                .with("external_ids", Value::string_map([MANAGED])),
            "bridge",
        ),
        Op::mutate(
            ROOT,
            vec![],
            vec![Mutation::insert("bridges", Value::named("bridge"))],
        ),
    ];
    conn.transact(DB, ops).await?;
    Ok(())
}

/// Removes the bridges the chassis made earlier that are not in `keep`;
/// returns their names.
pub async fn prune_bridges(conn: &Connection, keep: &[&str]) -> Result<Vec<String>> {
    let managed = select(
        conn,
        "Bridge",
        vec![Condition::includes(
            "external_ids",
            Value::string_map([MANAGED]),
        )],
    )
    .await?;
    let mut removed = Vec::new();
    for b in managed {
        let (Some(uuid), Some(name)) = (b.uuid(), b.str("name")) else {
            continue;
        };
        if keep.contains(&name) {
            continue;
        }
        conn.transact(
            DB,
            vec![Op::mutate(
                ROOT,
                vec![],
                vec![Mutation::delete("bridges", Value::uuid(uuid))],
            )],
        )
        .await?;
        removed.push(name.to_string());
    }
    Ok(removed)
}

/// What a new port's single interface is.
#[derive(Debug, Clone, Default)]
pub struct NewInterface<'a> {
    pub name: &'a str,
    /// `""` (a system device such as a veth) or `"internal"`.
    pub kind: &'a str,
    pub mac: Option<&'a str>,
    pub external_ids: Vec<(&'a str, &'a str)>,
}

/// Adds a port with one interface to a bridge (`ovs-vsctl add-port`);
/// fails, changing nothing, if the bridge does not exist or the name is
/// taken.
pub async fn add_port(conn: &Connection, bridge: &str, iface: &NewInterface<'_>) -> Result<()> {
    let mut row = Row::new()
        .with("name", iface.name)
        .with("type", iface.kind)
        .with(
            "external_ids",
            Value::string_map(iface.external_ids.clone()),
        );
    if let Some(mac) = iface.mac {
        row.set("mac", mac);
    }
    let ops = vec![
        // Fails the transaction unless the bridge exists.
        Op::Wait {
            table: "Bridge".into(),
            timeout_ms: Some(0),
            conditions: vec![Condition::eq("name", bridge)],
            columns: vec!["name".into()],
            until_equal: true,
            rows: vec![Row::new().with("name", bridge)],
        },
        Op::insert_named("Interface", row, "iface"),
        Op::insert_named(
            "Port",
            Row::new()
                .with("name", iface.name)
                .with("interfaces", Value::named("iface")),
            "port",
        ),
        Op::mutate(
            "Bridge",
            vec![Condition::eq("name", bridge)],
            vec![Mutation::insert("ports", Value::named("port"))],
        ),
    ];
    conn.transact(DB, ops)
        .await
        .map_err(|e| match e.ovsdb_error() {
            Some("timed out") => Error::Plug(format!("bridge {bridge} does not exist")),
            Some("constraint violation") => Error::Plug(format!(
                "a port or interface named {} already exists",
                iface.name
            )),
            _ => Error::Ovsdb(e),
        })?;
    Ok(())
}

/// Makes `iface` (a system device) a port of `bridge`, unless it is one.
pub async fn ensure_system_port(conn: &Connection, bridge: &str, iface: &str) -> Result<()> {
    if let Some(current) = bridge_of_port(conn, iface).await? {
        if current == bridge {
            return Ok(());
        }
        return Err(Error::Config(format!(
            "interface {iface} is already a port of bridge {current}"
        )));
    }
    add_port(
        conn,
        bridge,
        &NewInterface {
            name: iface,
            kind: "",
            ..Default::default()
        },
    )
    .await
}

/// The name of the bridge having a port of that name.
pub async fn bridge_of_port(conn: &Connection, port: &str) -> Result<Option<String>> {
    let ports = select(conn, "Port", vec![Condition::eq("name", port)]).await?;
    let Some(uuid) = ports.first().and_then(Row::uuid) else {
        return Ok(None);
    };
    Ok(bridge_with_port(conn, uuid)
        .await?
        .and_then(|b| b.str("name").map(String::from)))
}

async fn bridge_with_port(conn: &Connection, port: Uuid) -> Result<Option<Row>> {
    let bridges = select(
        conn,
        "Bridge",
        vec![Condition::includes("ports", Value::uuid(port))],
    )
    .await?;
    Ok(bridges.into_iter().next())
}

/// An interface attached for a logical port (`external_ids:iface-id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attached {
    pub interface: String,
    pub kind: String,
    pub bridge: Option<String>,
    pub port_uuid: Option<Uuid>,
}

/// The interfaces bound to a logical port id.
pub async fn find_iface_id(conn: &Connection, port_id: &str) -> Result<Vec<Attached>> {
    let ifaces = select(
        conn,
        "Interface",
        vec![Condition::includes(
            "external_ids",
            Value::string_map([("iface-id", port_id)]),
        )],
    )
    .await?;
    let mut out = Vec::new();
    for i in ifaces {
        let Some(iuuid) = i.uuid() else { continue };
        let port = select(
            conn,
            "Port",
            vec![Condition::includes("interfaces", Value::uuid(iuuid))],
        )
        .await?
        .into_iter()
        .next();
        let port_uuid = port.as_ref().and_then(Row::uuid);
        let bridge = match port_uuid {
            Some(p) => bridge_with_port(conn, p)
                .await?
                .and_then(|b| b.str("name").map(String::from)),
            None => None,
        };
        out.push(Attached {
            interface: i.str("name").unwrap_or_default().to_string(),
            kind: i.str("type").unwrap_or_default().to_string(),
            bridge,
            port_uuid,
        });
    }
    Ok(out)
}

/// Removes a port from its bridge (`ovs-vsctl del-port`).
pub async fn del_port(conn: &Connection, bridge: &str, port: Uuid) -> Result<()> {
    conn.transact(
        DB,
        vec![Op::mutate(
            "Bridge",
            vec![Condition::eq("name", bridge)],
            vec![Mutation::delete("ports", Value::uuid(port))],
        )],
    )
    .await?;
    Ok(())
}

/// Waits until ovs-vswitchd has applied everything written so far: bumps
/// `next_cfg` and waits for `cur_cfg` to reach it (as ovs-vsctl does
/// without `--no-wait`).
pub async fn wait_applied(conn: &Connection, timeout: Duration) -> Result<()> {
    let r = conn
        .transact(
            DB,
            vec![
                Op::mutate(
                    ROOT,
                    vec![],
                    vec![Mutation::new("next_cfg", Mutator::Add, 1i64)],
                ),
                Op::Select {
                    table: ROOT.into(),
                    conditions: vec![],
                    columns: Some(vec!["next_cfg".into()]),
                },
            ],
        )
        .await?;
    let target = r
        .get(1)
        .and_then(OpResult::rows)
        .and_then(|rows| rows.first())
        .and_then(|row| row.int("next_cfg"))
        .unwrap_or(0);
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let rows = select(conn, ROOT, vec![]).await?;
        if rows
            .first()
            .and_then(|r| r.int("cur_cfg"))
            .is_some_and(|c| c >= target)
        {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(Error::Timeout(format!(
                "ovs-vswitchd did not apply the configuration within {timeout:?}"
            )));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Errors ovs-vswitchd reported for interfaces (`Interface.error`).
pub async fn interface_errors(
    conn: &Connection,
    names: &[&str],
) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for name in names {
        for row in select(conn, "Interface", vec![Condition::eq("name", *name)]).await? {
            if let Some(e) = row.str("error") {
                out.insert(name.to_string(), e.to_string());
            }
        }
    }
    Ok(out)
}
