//! Whether a server is a usable member of a clustered database, from its `_Server`
//! database (the rows of `_Server.Database`: `model`, `connected`, `leader`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::connection::Connection;
use crate::error::Error;
use crate::monitor::{MonitorRequest, TableUpdates};
use crate::replica::Replica;

/// The monitor id of the `_Server` monitor of a [`crate::Session`].
pub(crate) const SERVER_MONITOR_ID: &str = "neutrino-_Server";

const COLUMNS: [&str; 4] = ["name", "model", "connected", "leader"];

/// Follows the `_Server.Database` row of one database.
pub(crate) struct ServerStatus {
    db: String,
    replica: Replica,
}

async fn within<T>(
    timeout: Duration,
    f: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    tokio::time::timeout(timeout, f)
        .await
        .map_err(|_| Error::Timeout)?
}

impl ServerStatus {
    /// Starts monitoring `_Server.Database` (updates arrive as notifications with
    /// [`SERVER_MONITOR_ID`]). `None` if the server has no `_Server` database (before
    /// Open vSwitch 2.9: never clustered).
    pub(crate) async fn monitor(
        conn: &Connection,
        db: &str,
        timeout: Duration,
    ) -> Result<Option<ServerStatus>, Error> {
        let schema = match within(timeout, conn.get_schema("_Server")).await {
            Ok(schema) => schema,
            Err(Error::Rpc { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let columns: Vec<String> = COLUMNS.iter().map(|c| c.to_string()).collect();
        let mut replica = Replica::new(
            Arc::new(schema),
            &[("Database".to_string(), Some(columns.clone()))],
        )?;
        let requests = BTreeMap::from([(
            "Database".to_string(),
            MonitorRequest {
                columns: Some(columns),
                where_: Vec::new(),
            },
        )]);
        let initial = within(
            timeout,
            conn.monitor_cond("_Server", json!(SERVER_MONITOR_ID), requests),
        )
        .await?;
        replica.apply(initial)?;
        Ok(Some(ServerStatus {
            db: db.to_string(),
            replica,
        }))
    }

    pub(crate) fn apply(&mut self, updates: TableUpdates) -> Result<(), Error> {
        self.replica.apply(updates)
    }

    /// Why this server should not be used for the database, if it should not: a
    /// clustered member that has lost its cluster (its data may be stale), or, with
    /// `leader_only`, a member that is not the leader.
    pub(crate) fn unusable(&self, leader_only: bool) -> Option<String> {
        let row = self.replica.find_by("Database", "name", &self.db)?;
        if row.str("model") != Some("clustered") {
            return None;
        }
        if row.bool("connected") != Some(true) {
            return Some(format!(
                "this member of the {} cluster is not connected to it",
                self.db
            ));
        }
        if leader_only && row.bool("leader") != Some(true) {
            return Some(format!("not the leader of the {} cluster", self.db));
        }
        None
    }
}
