//! Queries for networks and their segments.

use neutrino_types::model::{Network, NetworkAccess};
use sqlx::FromRow;

use crate::rows::{json_list, placeholders, qualified, to_json, trusted};
use crate::{Db, StoreError, Tx, dispatch, tags};

#[derive(FromRow)]
struct NetworkRow {
    id: String,
    project_id: String,
    name: String,
    description: String,
    admin_state_up: bool,
    shared: bool,
    router_external: bool,
    mtu: i64,
    status: String,
    network_type: String,
    physical_network: Option<String>,
    segmentation_id: Option<i64>,
    availability_zone_hints: String,
    port_security_enabled: bool,
    dns_domain: String,
    revision_number: i64,
    created_at: String,
    updated_at: String,
}

impl NetworkRow {
    fn into_model(self) -> Network {
        Network {
            availability_zone_hints: json_list(&self.availability_zone_hints),
            id: self.id,
            project_id: self.project_id,
            name: self.name,
            description: self.description,
            admin_state_up: self.admin_state_up,
            shared: self.shared,
            router_external: self.router_external,
            mtu: self.mtu,
            status: self.status,
            network_type: self.network_type,
            physical_network: self.physical_network,
            segmentation_id: self.segmentation_id,
            port_security_enabled: self.port_security_enabled,
            dns_domain: self.dns_domain,
            revision_number: self.revision_number,
            created_at: self.created_at,
            updated_at: self.updated_at,
            tags: Vec::new(),
            subnets: Vec::new(),
            access: Vec::new(),
        }
    }
}

const COLUMNS: &str = "id, project_id, name, description, admin_state_up, shared, router_external, mtu, \
     status, network_type, physical_network, segmentation_id, availability_zone_hints, \
     port_security_enabled, dns_domain, revision_number, created_at, updated_at";

/// How the segmentation id of a new network is chosen.
#[derive(Clone, Debug)]
pub enum SegmentRequest {
    /// Given by an admin (VLAN tag, VNI) or absent (flat, local).
    Fixed(Option<i64>),
    /// The lowest free id in `min..=max` for the network type (tenant networks).
    Allocate { min: i64, max: i64 },
}

/// Outcome of [`insert`] other than success.
#[derive(Debug)]
pub enum InsertNetworkError {
    /// The segment (or the flat physnet) is already used by another network.
    SegmentInUse,
    /// No free id is left in the range.
    SegmentsExhausted,
    Store(StoreError),
}

impl From<StoreError> for InsertNetworkError {
    fn from(e: StoreError) -> Self {
        InsertNetworkError::Store(e)
    }
}

/// Inserts `n`, choosing its segmentation id as `segment` says. Allocation is
/// a single INSERT ... SELECT of the lowest free id; the unique index on
/// segments makes a concurrent duplicate impossible, and a lost race simply
/// tries again with the next id.
pub async fn insert(
    tx: &mut Tx,
    n: &Network,
    segment: SegmentRequest,
) -> Result<Network, InsertNetworkError> {
    let hints = to_json(&n.availability_zone_hints);
    match segment {
        SegmentRequest::Fixed(seg) => {
            let sql = format!(
                "INSERT INTO networks ({COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18)"
            );
            let res = dispatch!(tx.conn(), c => sqlx::query(trusted(&sql))
                .bind(&n.id).bind(&n.project_id).bind(&n.name).bind(&n.description)
                .bind(n.admin_state_up).bind(n.shared).bind(n.router_external).bind(n.mtu)
                .bind(&n.status).bind(&n.network_type).bind(&n.physical_network).bind(seg)
                .bind(&hints).bind(n.port_security_enabled).bind(&n.dns_domain)
                .bind(n.revision_number).bind(&n.created_at).bind(&n.updated_at)
                .execute(&mut *c).await.map(|r| r.rows_affected()));
            match res {
                Ok(_) => {}
                Err(e) if crate::db::is_unique_violation(&e) => {
                    return Err(InsertNetworkError::SegmentInUse);
                }
                Err(e) => return Err(StoreError::from(e).into()),
            }
            let mut out = n.clone();
            out.segmentation_id = seg;
            Ok(out)
        }
        SegmentRequest::Allocate { min, max } => {
            // Candidates: `min` itself, or one past any allocated id whose
            // successor is free; the lowest wins.
            let sql = format!(
                "INSERT INTO networks ({COLUMNS}) \
                 SELECT $1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,cand.v,$12,$13,$14,$15,$16,$17 FROM ( \
                   SELECT $18 AS v WHERE NOT EXISTS (SELECT 1 FROM networks x WHERE x.network_type = $10 AND x.segmentation_id = $18) \
                   UNION ALL \
                   SELECT n.segmentation_id + 1 AS v FROM networks n \
                    WHERE n.network_type = $10 AND n.segmentation_id >= $18 AND n.segmentation_id < $19 \
                      AND NOT EXISTS (SELECT 1 FROM networks x WHERE x.network_type = $10 AND x.segmentation_id = n.segmentation_id + 1) \
                 ) cand WHERE TRUE ORDER BY cand.v LIMIT 1 \
                 ON CONFLICT DO NOTHING"
            );
            for _ in 0..64 {
                let res = dispatch!(tx.conn(), c => sqlx::query(trusted(&sql))
                    .bind(&n.id).bind(&n.project_id).bind(&n.name).bind(&n.description)
                    .bind(n.admin_state_up).bind(n.shared).bind(n.router_external).bind(n.mtu)
                    .bind(&n.status).bind(&n.network_type).bind(&n.physical_network)
                    .bind(&hints).bind(n.port_security_enabled).bind(&n.dns_domain)
                    .bind(n.revision_number).bind(&n.created_at).bind(&n.updated_at)
                    .bind(min).bind(max)
                    .execute(&mut *c).await.map(|r| r.rows_affected()))
                .map_err(StoreError::from)?;
                if res == 1 {
                    let seg: Option<i64> = dispatch!(tx.conn(), c => sqlx::query_scalar("SELECT segmentation_id FROM networks WHERE id = $1")
                        .bind(&n.id).fetch_one(&mut *c).await)
                    .map_err(StoreError::from)?;
                    let mut out = n.clone();
                    out.segmentation_id = seg;
                    return Ok(out);
                }
                // Nothing inserted: either the range is full or another
                // server took the id we computed; find out which.
                let used: i64 = dispatch!(tx.conn(), c => sqlx::query_scalar(
                    "SELECT COUNT(*) FROM networks WHERE network_type = $1 AND segmentation_id >= $2 AND segmentation_id <= $3")
                    .bind(&n.network_type).bind(min).bind(max).fetch_one(&mut *c).await)
                .map_err(StoreError::from)?;
                if used > max - min {
                    return Err(InsertNetworkError::SegmentsExhausted);
                }
            }
            Err(InsertNetworkError::SegmentsExhausted)
        }
    }
}

pub async fn get(db: &Db, id: &str) -> Result<Option<Network>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM networks WHERE id = $1");
    let row = dispatch!(db.read(), c => sqlx::query_as::<_, NetworkRow>(trusted(&sql)).bind(id).fetch_optional(c).await)?;
    match row {
        None => Ok(None),
        Some(r) => Ok(fill(db, vec![r.into_model()]).await?.pop()),
    }
}

/// Same as [`get`] but inside a write transaction (sees its own changes).
pub async fn get_tx(tx: &mut Tx, id: &str) -> Result<Option<Network>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM networks WHERE id = $1");
    let row = dispatch!(tx.conn(), c => sqlx::query_as::<_, NetworkRow>(trusted(&sql)).bind(id).fetch_optional(&mut *c).await)?;
    let Some(row) = row else { return Ok(None) };
    let mut n = row.into_model();
    n.access = crate::rbac::access_tx(tx, id).await?;
    Ok(Some(n))
}

/// What a port create reads about its network and project, besides the
/// subnets: the project's default security group and its port quota
/// override (`None` when the project has none).
#[derive(Clone, Debug)]
pub struct PortCreateContext {
    pub network: Network,
    pub default_security_group: Option<String>,
    pub port_quota: Option<i64>,
}

#[derive(FromRow)]
struct PortContextRow {
    #[sqlx(flatten)]
    net: NetworkRow,
    rbac_action: Option<String>,
    rbac_target: Option<String>,
    default_sg: Option<String>,
    port_quota: Option<i64>,
}

/// [`get_tx`] plus the rest of [`PortCreateContext`] in one statement (a
/// port create holds the SQLite write lock while it waits for each one).
/// `None` when the network does not exist.
pub async fn port_create_context_tx(
    tx: &mut Tx,
    id: &str,
    project_id: &str,
) -> Result<Option<PortCreateContext>, StoreError> {
    let cols = qualified(COLUMNS, "n");
    let sql = format!(
        "SELECT {cols}, r.action AS rbac_action, r.target_project AS rbac_target, \
         (SELECT g.id FROM security_groups g WHERE g.project_id = $2 AND g.is_default) AS default_sg, \
         (SELECT q.hard_limit FROM quotas q WHERE q.project_id = $2 AND q.resource = 'port') AS port_quota \
         FROM networks n LEFT JOIN network_rbacs r ON r.object_id = n.id \
         WHERE n.id = $1 ORDER BY r.action, r.target_project"
    );
    let rows = dispatch!(tx.conn(), c => sqlx::query_as::<_, PortContextRow>(trusted(&sql))
        .bind(id).bind(project_id).fetch_all(&mut *c).await)?;
    // One row per RBAC entry of the network (one with NULLs when it has
    // none); the network and project columns repeat on each.
    let mut ctx: Option<PortCreateContext> = None;
    for r in rows {
        let c = ctx.get_or_insert_with(|| PortCreateContext {
            network: r.net.into_model(),
            default_security_group: r.default_sg,
            port_quota: r.port_quota,
        });
        if let (Some(action), Some(target)) = (r.rbac_action, r.rbac_target) {
            c.network.access.push(NetworkAccess { action, target });
        }
    }
    Ok(ctx)
}

/// SQL condition: the network `networks.id` is visible to project `$1`
/// (owner, or an RBAC grant to it or to everyone).
pub(crate) const VISIBLE_TO_1: &str = "(networks.project_id = $1 OR EXISTS (SELECT 1 FROM network_rbacs r \
     WHERE r.object_id = networks.id AND (r.target_project = '*' OR r.target_project = $1)))";

/// Which networks a caller may see.
#[derive(Clone, Debug, Default)]
pub struct NetworkQuery {
    /// `None` for admins; otherwise the caller's project, which also sees
    /// shared and external networks.
    pub visible_to: Option<String>,
    /// Restrict to these ids (pushed down from an `id=` filter).
    pub ids: Vec<String>,
}

pub async fn list(db: &Db, q: &NetworkQuery) -> Result<Vec<Network>, StoreError> {
    let mut sql = format!("SELECT {COLUMNS} FROM networks WHERE TRUE");
    let mut args: Vec<String> = Vec::new();
    if let Some(p) = &q.visible_to {
        args.push(p.clone());
        sql.push_str(&format!(" AND {}", VISIBLE_TO_1));
    }
    if !q.ids.is_empty() {
        sql.push_str(&format!(
            " AND id IN ({})",
            placeholders(args.len() + 1, q.ids.len())
        ));
        args.extend(q.ids.iter().cloned());
    }
    sql.push_str(" ORDER BY id");
    let rows = dispatch!(db.read(), c => {
        let mut query = sqlx::query_as::<_, NetworkRow>(trusted(&sql));
        for a in &args { query = query.bind(a); }
        query.fetch_all(c).await
    })?;
    fill(db, rows.into_iter().map(NetworkRow::into_model).collect()).await
}

/// Adds tags and subnet ids.
async fn fill(db: &Db, mut nets: Vec<Network>) -> Result<Vec<Network>, StoreError> {
    if nets.is_empty() {
        return Ok(nets);
    }
    let ids: Vec<String> = nets.iter().map(|n| n.id.clone()).collect();
    let mut tag_map = tags::for_some(db, "networks", &ids).await?;
    let few = ids.len() <= 50;
    let sql = if few {
        format!(
            "SELECT network_id, id FROM subnets WHERE network_id IN ({}) ORDER BY created_at, id",
            placeholders(1, ids.len())
        )
    } else {
        "SELECT network_id, id FROM subnets ORDER BY created_at, id".to_string()
    };
    let subnets: Vec<(String, String)> = dispatch!(db.read(), c => {
        let mut q = sqlx::query_as(trusted(&sql));
        if few { for i in &ids { q = q.bind(i); } }
        q.fetch_all(c).await
    })?;
    let mut by_net: std::collections::HashMap<String, Vec<String>> =
        std::collections::HashMap::new();
    for (net, id) in subnets {
        by_net.entry(net).or_default().push(id);
    }
    let mut access = crate::rbac::access_for(db, if few { Some(&ids) } else { None }).await?;
    for n in &mut nets {
        n.tags = tag_map.remove(&n.id).unwrap_or_default();
        n.subnets = by_net.remove(&n.id).unwrap_or_default();
        n.access = access.remove(&n.id).unwrap_or_default();
    }
    Ok(nets)
}

/// Writes every mutable column of `n` and bumps the revision.
pub async fn update(tx: &mut Tx, n: &Network) -> Result<(), StoreError> {
    let hints = to_json(&n.availability_zone_hints);
    dispatch!(tx.conn(), c => sqlx::query(
        "UPDATE networks SET name = $2, description = $3, admin_state_up = $4, shared = $5, router_external = $6, \
         mtu = $7, availability_zone_hints = $8, port_security_enabled = $9, dns_domain = $10, \
         revision_number = revision_number + 1, updated_at = $11 WHERE id = $1")
        .bind(&n.id).bind(&n.name).bind(&n.description).bind(n.admin_state_up).bind(n.shared)
        .bind(n.router_external).bind(n.mtu).bind(&hints).bind(n.port_security_enabled)
        .bind(&n.dns_domain).bind(&n.updated_at)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn delete(tx: &mut Tx, id: &str) -> Result<bool, StoreError> {
    tags::delete_all(tx, "networks", id).await?;
    let res = dispatch!(tx.conn(), c => sqlx::query("DELETE FROM networks WHERE id = $1").bind(id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(res > 0)
}

/// Bumps the revision of a network whose related objects changed.
pub async fn touch(tx: &mut Tx, id: &str, now: &str) -> Result<(), StoreError> {
    dispatch!(tx.conn(), c => sqlx::query(
        "UPDATE networks SET revision_number = revision_number + 1, updated_at = $2 WHERE id = $1")
        .bind(id).bind(now).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Ids of the external networks (what a subnet's `router:external` shows),
/// without loading the networks themselves.
pub async fn external_ids(db: &Db) -> Result<Vec<String>, StoreError> {
    Ok(
        dispatch!(db.read(), c => sqlx::query_scalar("SELECT id FROM networks WHERE router_external")
        .fetch_all(c).await)?,
    )
}
