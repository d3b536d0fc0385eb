//! Traffic counters (`lb_listener_stats`), summed over amphorae for a
//! listener and over listeners for a load balancer.

use neutrino_lb_types::model::Stats;

use super::{Reader, fetch_all};
use crate::{Db, StoreError};

#[derive(sqlx::FromRow)]
struct SumRow {
    bytes_in: Option<i64>,
    bytes_out: Option<i64>,
    active_connections: Option<i64>,
    total_connections: Option<i64>,
    request_errors: Option<i64>,
}

const SUMS: &str = "SELECT CAST(SUM(bytes_in) AS BIGINT) AS bytes_in, \
     CAST(SUM(bytes_out) AS BIGINT) AS bytes_out, \
     CAST(SUM(active_connections) AS BIGINT) AS active_connections, \
     CAST(SUM(total_connections) AS BIGINT) AS total_connections, \
     CAST(SUM(request_errors) AS BIGINT) AS request_errors FROM lb_listener_stats";

async fn sum(db: &Db, condition: &str, id: &str) -> Result<Stats, StoreError> {
    let sql = format!("{SUMS} WHERE {condition}");
    let rows: Vec<SumRow> = fetch_all(&mut Reader::new(db).await?, &sql, &[id]).await?;
    Ok(rows
        .into_iter()
        .next()
        .map(|r| Stats {
            bytes_in: r.bytes_in.unwrap_or(0),
            bytes_out: r.bytes_out.unwrap_or(0),
            active_connections: r.active_connections.unwrap_or(0),
            total_connections: r.total_connections.unwrap_or(0),
            request_errors: r.request_errors.unwrap_or(0),
        })
        .unwrap_or_default())
}

/// One listener's counters (zeros before any report).
pub async fn listener(db: &Db, listener_id: &str) -> Result<Stats, StoreError> {
    sum(db, "listener_id = $1", listener_id).await
}

/// A load balancer's counters: the sum over its listeners.
pub async fn load_balancer(db: &Db, lb_id: &str) -> Result<Stats, StoreError> {
    sum(
        db,
        "listener_id IN (SELECT id FROM lb_listeners WHERE load_balancer_id = $1)",
        lb_id,
    )
    .await
}

/// One amphora's counters per listener: (listener id, load balancer id,
/// counters); empty before any report.
pub async fn for_amphora(
    db: &Db,
    amphora_id: &str,
) -> Result<Vec<(String, String, Stats)>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        listener_id: String,
        load_balancer_id: String,
        bytes_in: i64,
        bytes_out: i64,
        active_connections: i64,
        total_connections: i64,
        request_errors: i64,
    }
    let rows: Vec<Row> = fetch_all(
        &mut Reader::new(db).await?,
        "SELECT s.listener_id, l.load_balancer_id, s.bytes_in, s.bytes_out, \
         s.active_connections, s.total_connections, s.request_errors \
         FROM lb_listener_stats s JOIN lb_listeners l ON l.id = s.listener_id \
         WHERE s.amphora_id = $1 ORDER BY s.listener_id",
        &[amphora_id],
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                r.listener_id,
                r.load_balancer_id,
                Stats {
                    bytes_in: r.bytes_in,
                    bytes_out: r.bytes_out,
                    active_connections: r.active_connections,
                    total_connections: r.total_connections,
                    request_errors: r.request_errors,
                },
            )
        })
        .collect())
}
