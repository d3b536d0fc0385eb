//! Row locks for check-then-write on PostgreSQL.
//!
//! A handler that checks something and then writes on the strength of it
//! (a revision, "no ports left", "the router still exists") locks what it
//! checks first, in the same transaction: `FOR UPDATE` on what it updates
//! or deletes, `FOR KEY SHARE` on a parent it attaches a child to. A deleter
//! then waits for the creator and sees its child, or wins and the creator
//! finds the parent gone. Handlers take locks in [`Table`] order, parents
//! before children, so two writers never wait on each other in a cycle.
//!
//! On SQLite every write transaction already holds the one writer
//! (`BEGIN IMMEDIATE`), so these functions send nothing there.

use crate::{StoreError, Target, Tx, dispatch};

/// The lockable tables, in the order locks are taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Table {
    Networks,
    Subnets,
    Routers,
    Ports,
    FloatingIps,
    SecurityGroups,
    SecurityGroupRules,
    NetworkRbacs,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Networks => "networks",
            Table::Subnets => "subnets",
            Table::Routers => "routers",
            Table::Ports => "ports",
            Table::FloatingIps => "floatingips",
            Table::SecurityGroups => "security_groups",
            Table::SecurityGroupRules => "security_group_rules",
            Table::NetworkRbacs => "network_rbacs",
        }
    }
}

/// How strongly a row is held until the transaction ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lock {
    /// A parent that must outlive the transaction (children are attached
    /// to it). Several holders at once; blocks `Update` and deletes.
    /// `FOR KEY SHARE`, the lock a child's foreign key takes anyway, so a
    /// create adds no second, stronger lock mode to a busy parent row;
    /// it still conflicts with `Update` (`FOR UPDATE`), which every
    /// updater and deleter of the parent takes first.
    Share,
    /// The row is updated or deleted, or checked for children.
    Update,
}

/// Locks the rows `ids` of `table` (those that exist), in id order so two
/// callers locking the same set never deadlock. Missing rows are no error:
/// the caller's read that follows finds them gone and answers 404.
pub async fn rows(tx: &mut Tx, table: Table, ids: &[&str], lock: Lock) -> Result<(), StoreError> {
    if !tx.is_postgres() || ids.is_empty() {
        return Ok(());
    }
    let mode = match lock {
        Lock::Share => "KEY SHARE",
        Lock::Update => "UPDATE",
    };
    let mut ids: Vec<&str> = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let sql = format!(
        "SELECT id FROM {} WHERE id = ANY($1) ORDER BY id FOR {mode}",
        table.name()
    );
    let ids: Vec<String> = ids.into_iter().map(str::to_owned).collect();
    // PostgreSQL only: SQLite has no array parameters (nor row locks).
    if let Target::Postgres(c) = tx.conn() {
        sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(&ids)
            .fetch_all(&mut *c)
            .await?;
    }
    Ok(())
}

/// [`rows`] for one row.
pub async fn row(tx: &mut Tx, table: Table, id: &str, lock: Lock) -> Result<(), StoreError> {
    rows(tx, table, &[id], lock).await
}

/// Locks the network of a subnet, port or RBAC policy with `parent`, then the subnet or
/// port itself with `lock`: the order of [`Table`], for a handler that
/// starts from the child.
pub async fn with_network(
    tx: &mut Tx,
    table: Table,
    id: &str,
    parent: Lock,
    lock: Lock,
) -> Result<(), StoreError> {
    network_of(tx, table, id, parent).await?;
    row(tx, table, id, lock).await
}

/// Locks the network of a subnet, port or RBAC policy (if it exists) with
/// `lock`. A child's network never changes, so reading it unlocked is safe.
pub async fn network_of(tx: &mut Tx, table: Table, id: &str, lock: Lock) -> Result<(), StoreError> {
    let column = match table {
        Table::Subnets | Table::Ports => "network_id",
        Table::NetworkRbacs => "object_id",
        other => unreachable!("{other:?} does not belong to a network"),
    };
    if !tx.is_postgres() {
        return Ok(());
    }
    let sql = format!("SELECT {column} FROM {} WHERE id = $1", table.name());
    let network: Option<String> = dispatch!(tx.conn(), c => sqlx::query_scalar(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(id).fetch_optional(&mut *c).await)?;
    match network {
        Some(network) => row(tx, Table::Networks, &network, lock).await,
        None => Ok(()),
    }
}

/// [`row`], and whether the row (still) exists. For a handler that checked
/// its object before its transaction began (on SQLite too, where the
/// check is a plain read: the writer is already exclusive).
pub async fn exists(tx: &mut Tx, table: Table, id: &str, lock: Lock) -> Result<bool, StoreError> {
    let mode = match (tx.is_postgres(), lock) {
        (false, _) => "",
        (true, Lock::Share) => " FOR KEY SHARE",
        (true, Lock::Update) => " FOR UPDATE",
    };
    let sql = format!("SELECT id FROM {} WHERE id = $1{mode}", table.name());
    let found: Option<String> = dispatch!(tx.conn(), c => sqlx::query_scalar(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(id).fetch_optional(&mut *c).await)?;
    Ok(found.is_some())
}
