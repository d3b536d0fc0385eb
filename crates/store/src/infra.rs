//! Queries of the infra network layer (`network.openstack.org/v1beta1`).
//!
//! Objects of every kind share `infra_objects`: metadata in columns, spec
//! and status as JSON text that this crate never looks into. Reserved
//! addresses live in `infra_ip_reservations`, whose primary key
//! (namespace, network, address) is what makes a duplicate reservation
//! impossible: [`reserve`] either inserts or inserts nothing, and the caller
//! tries the next address.

use std::collections::HashMap;

use sqlx::FromRow;

use crate::{Db, StoreError, Tx, dispatch};

/// One stored object. `labels`, `annotations` and `owner_references` are
/// JSON text, as are `spec` and `status`.
#[derive(Clone, Debug, FromRow, PartialEq, Eq)]
pub struct InfraObject {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub generation: i64,
    pub resource_version: i64,
    pub labels: String,
    pub annotations: String,
    pub owner_references: String,
    pub spec: String,
    pub status: String,
    pub created_at: String,
    pub updated_at: String,
}

/// Row lock taken by [`get_tx`] on PostgreSQL (SQLite has one writer, so
/// every write transaction is already exclusive there).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lock {
    None,
    /// `FOR SHARE`: the row cannot change until this transaction ends, but
    /// other readers that share it proceed (IPSets reading their NetConfig).
    Share,
    /// `FOR UPDATE`: this transaction is about to change or delete the row.
    Update,
}

/// One reserved address.
#[derive(Clone, Debug, FromRow, PartialEq, Eq)]
pub struct ReservedAddress {
    /// Lower-case network name.
    pub network: String,
    pub address: String,
    pub subnet: String,
    pub reservation: String,
}

const COLUMNS: &str = "kind, namespace, name, uid, generation, resource_version, labels, annotations, \
     owner_references, spec, status, created_at, updated_at";

const SELECT: &str = "SELECT kind, namespace, name, uid, generation, resource_version, labels, annotations, \
     owner_references, spec, status, created_at, updated_at FROM infra_objects";

/// Whether a failed transaction is worth running again from the start:
/// PostgreSQL's deadlock and serialization failures.
pub fn is_retryable(err: &StoreError) -> bool {
    match err {
        StoreError::Sqlx(e) | StoreError::Conflict(e) => e
            .as_database_error()
            .and_then(|d| d.code())
            .is_some_and(|c| c == "40P01" || c == "40001"),
        _ => false,
    }
}

pub async fn get(
    db: &Db,
    kind: &str,
    namespace: &str,
    name: &str,
) -> Result<Option<InfraObject>, StoreError> {
    let row = dispatch!(db.read(), c => sqlx::query_as::<_, InfraObject>(
        "SELECT kind, namespace, name, uid, generation, resource_version, labels, annotations, \
         owner_references, spec, status, created_at, updated_at FROM infra_objects \
         WHERE kind = $1 AND namespace = $2 AND name = $3")
        .bind(kind).bind(namespace).bind(name).fetch_optional(c).await)?;
    Ok(row)
}

/// Reads an object inside a write transaction, locking its row as asked.
pub async fn get_tx(
    tx: &mut Tx,
    kind: &str,
    namespace: &str,
    name: &str,
    lock: Lock,
) -> Result<Option<InfraObject>, StoreError> {
    let base = "SELECT kind, namespace, name, uid, generation, resource_version, labels, annotations, \
         owner_references, spec, status, created_at, updated_at FROM infra_objects \
         WHERE kind = $1 AND namespace = $2 AND name = $3";
    let sql = match (tx.is_postgres(), lock) {
        (true, Lock::Share) => format!("{base} FOR SHARE"),
        (true, Lock::Update) => format!("{base} FOR UPDATE"),
        _ => base.to_string(),
    };
    let row = dispatch!(tx.conn(), c => sqlx::query_as::<_, InfraObject>(crate::rows::trusted(&sql))
        .bind(kind).bind(namespace).bind(name).fetch_optional(&mut *c).await)?;
    Ok(row)
}

/// Objects of one kind (or all kinds), in one namespace (or all), ordered
/// by namespace and name.
pub async fn list(
    db: &Db,
    kind: Option<&str>,
    namespace: Option<&str>,
) -> Result<Vec<InfraObject>, StoreError> {
    let sql = format!(
        "{SELECT} WHERE ($1 = '' OR kind = $1) AND ($2 = '' OR namespace = $2) \
         ORDER BY namespace, kind, name"
    );
    let rows = dispatch!(db.read(), c => sqlx::query_as::<_, InfraObject>(crate::rows::trusted(&sql))
        .bind(kind.unwrap_or("")).bind(namespace.unwrap_or("")).fetch_all(c).await)?;
    Ok(rows)
}

/// [`list`] inside a write transaction, for one kind in one namespace.
pub async fn list_tx(
    tx: &mut Tx,
    kind: &str,
    namespace: &str,
) -> Result<Vec<InfraObject>, StoreError> {
    let sql = format!("{SELECT} WHERE kind = $1 AND namespace = $2 ORDER BY name");
    let rows = dispatch!(tx.conn(), c => sqlx::query_as::<_, InfraObject>(crate::rows::trusted(&sql))
        .bind(kind).bind(namespace).fetch_all(&mut *c).await)?;
    Ok(rows)
}

pub async fn count_tx(tx: &mut Tx, kind: &str, namespace: &str) -> Result<i64, StoreError> {
    let n: i64 = dispatch!(tx.conn(), c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM infra_objects WHERE kind = $1 AND namespace = $2")
        .bind(kind).bind(namespace).fetch_one(&mut *c).await)?;
    Ok(n)
}

/// Inserts a new object. `Ok(false)` when it (or, for a NetConfig, another
/// NetConfig of the namespace) already exists: the unique indexes decide.
pub async fn insert(tx: &mut Tx, o: &InfraObject) -> Result<bool, StoreError> {
    let sql = format!(
        "INSERT INTO infra_objects ({COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13) \
         ON CONFLICT DO NOTHING"
    );
    let n = dispatch!(tx.conn(), c => sqlx::query(crate::rows::trusted(&sql))
        .bind(&o.kind).bind(&o.namespace).bind(&o.name).bind(&o.uid).bind(o.generation)
        .bind(o.resource_version).bind(&o.labels).bind(&o.annotations).bind(&o.owner_references)
        .bind(&o.spec).bind(&o.status).bind(&o.created_at).bind(&o.updated_at)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Replaces an object's mutable columns if its stored resource version is
/// still `expected_version`. `Ok(false)` when someone changed it meanwhile.
pub async fn update(
    tx: &mut Tx,
    o: &InfraObject,
    expected_version: i64,
) -> Result<bool, StoreError> {
    let n = dispatch!(tx.conn(), c => sqlx::query(
        "UPDATE infra_objects SET generation = $4, resource_version = $5, labels = $6, annotations = $7, \
         owner_references = $8, spec = $9, status = $10, updated_at = $11 \
         WHERE kind = $1 AND namespace = $2 AND name = $3 AND resource_version = $12")
        .bind(&o.kind).bind(&o.namespace).bind(&o.name).bind(o.generation).bind(o.resource_version)
        .bind(&o.labels).bind(&o.annotations).bind(&o.owner_references).bind(&o.spec).bind(&o.status)
        .bind(&o.updated_at).bind(expected_version)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Deletes an object; `Ok(false)` when there was none.
pub async fn delete(
    tx: &mut Tx,
    kind: &str,
    namespace: &str,
    name: &str,
) -> Result<bool, StoreError> {
    let n = dispatch!(tx.conn(), c => sqlx::query(
        "DELETE FROM infra_objects WHERE kind = $1 AND namespace = $2 AND name = $3")
        .bind(kind).bind(namespace).bind(name).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Records `project` as the owner of `namespace` unless it has one, and
/// returns the owner.
pub async fn claim_namespace(
    tx: &mut Tx,
    namespace: &str,
    project: &str,
    now: &str,
) -> Result<String, StoreError> {
    dispatch!(tx.conn(), c => sqlx::query(
        "INSERT INTO infra_namespaces (name, project_id, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
        .bind(namespace).bind(project).bind(now).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    let owner: String = dispatch!(tx.conn(), c => sqlx::query_scalar(
        "SELECT project_id FROM infra_namespaces WHERE name = $1")
        .bind(namespace).fetch_one(&mut *c).await)?;
    Ok(owner)
}

/// The project owning each namespace.
pub async fn namespace_owners(db: &Db) -> Result<HashMap<String, String>, StoreError> {
    let rows: Vec<(String, String)> = dispatch!(db.read(), c => sqlx::query_as(
        "SELECT name, project_id FROM infra_namespaces").fetch_all(c).await)?;
    Ok(rows.into_iter().collect())
}

pub async fn namespace_owner(db: &Db, namespace: &str) -> Result<Option<String>, StoreError> {
    Ok(dispatch!(db.read(), c => sqlx::query_scalar(
        "SELECT project_id FROM infra_namespaces WHERE name = $1")
        .bind(namespace).fetch_optional(c).await)?)
}

/// Every address reserved on a network (lower-case name) of a namespace.
/// Aggregated into one value in SQL: a thousand one-column rows cost more
/// to fetch than the allocation itself.
pub async fn reserved_on_network(
    tx: &mut Tx,
    namespace: &str,
    network: &str,
) -> Result<Vec<String>, StoreError> {
    let sql = if tx.is_postgres() {
        "SELECT string_agg(address, ',') FROM infra_ip_reservations WHERE namespace = $1 AND network = $2"
    } else {
        "SELECT group_concat(address, ',') FROM infra_ip_reservations WHERE namespace = $1 AND network = $2"
    };
    let joined: Option<String> = dispatch!(tx.conn(), c => sqlx::query_scalar(crate::rows::trusted(sql))
        .bind(namespace).bind(network).fetch_one(&mut *c).await)?;
    Ok(joined
        .map(|j| j.split(',').map(str::to_owned).collect())
        .unwrap_or_default())
}

/// The addresses a reservation holds, ordered by network.
pub async fn reservation_addresses(
    tx: &mut Tx,
    namespace: &str,
    reservation: &str,
) -> Result<Vec<ReservedAddress>, StoreError> {
    Ok(
        dispatch!(tx.conn(), c => sqlx::query_as::<_, ReservedAddress>(
        "SELECT network, address, subnet, reservation FROM infra_ip_reservations \
         WHERE namespace = $1 AND reservation = $2 ORDER BY network")
        .bind(namespace).bind(reservation).fetch_all(&mut *c).await)?,
    )
}

/// Every reserved address of a namespace, for reports and tests.
pub async fn reserved_in_namespace(
    db: &Db,
    namespace: &str,
) -> Result<Vec<ReservedAddress>, StoreError> {
    Ok(
        dispatch!(db.read(), c => sqlx::query_as::<_, ReservedAddress>(
        "SELECT network, address, subnet, reservation FROM infra_ip_reservations \
         WHERE namespace = $1 ORDER BY network, reservation")
        .bind(namespace).fetch_all(c).await)?,
    )
}

/// Who holds an address of a network, if anyone.
pub async fn address_holder(
    tx: &mut Tx,
    namespace: &str,
    network: &str,
    address: &str,
) -> Result<Option<String>, StoreError> {
    Ok(dispatch!(tx.conn(), c => sqlx::query_scalar(
        "SELECT reservation FROM infra_ip_reservations WHERE namespace = $1 AND network = $2 AND address = $3")
        .bind(namespace).bind(network).bind(address).fetch_optional(&mut *c).await)?)
}

/// Reserves `address` on `network` for `reservation`. `Ok(false)` when the
/// address is taken or the reservation already has an address there: the
/// unique indexes decide, so two concurrent callers never both succeed.
pub async fn reserve(
    tx: &mut Tx,
    namespace: &str,
    r: &ReservedAddress,
) -> Result<bool, StoreError> {
    let n = dispatch!(tx.conn(), c => sqlx::query(
        "INSERT INTO infra_ip_reservations (namespace, network, address, reservation, subnet) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING")
        .bind(namespace).bind(&r.network).bind(&r.address).bind(&r.reservation).bind(&r.subnet)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Releases one network's address of a reservation.
pub async fn release(
    tx: &mut Tx,
    namespace: &str,
    reservation: &str,
    network: &str,
) -> Result<u64, StoreError> {
    Ok(dispatch!(tx.conn(), c => sqlx::query(
        "DELETE FROM infra_ip_reservations WHERE namespace = $1 AND reservation = $2 AND network = $3")
        .bind(namespace).bind(reservation).bind(network).execute(&mut *c).await.map(|r| r.rows_affected()))?)
}

/// Releases every address of a reservation.
pub async fn release_all(
    tx: &mut Tx,
    namespace: &str,
    reservation: &str,
) -> Result<u64, StoreError> {
    Ok(dispatch!(tx.conn(), c => sqlx::query(
        "DELETE FROM infra_ip_reservations WHERE namespace = $1 AND reservation = $2")
        .bind(namespace).bind(reservation).execute(&mut *c).await.map(|r| r.rows_affected()))?)
}

/// Reserved addresses in a namespace.
pub async fn count_reserved_tx(tx: &mut Tx, namespace: &str) -> Result<i64, StoreError> {
    Ok(dispatch!(tx.conn(), c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM infra_ip_reservations WHERE namespace = $1")
        .bind(namespace).fetch_one(&mut *c).await)?)
}

/// A fingerprint of the objects of some kinds (every object's identity and
/// resource version, without spec or status). Pollers compare it to skip a
/// full read when nothing changed.
pub async fn fingerprint(db: &Db, kinds: &[&str]) -> Result<String, StoreError> {
    let mut out = String::new();
    for kind in kinds {
        let rows: Vec<(String, String, String, i64)> = dispatch!(db.read(), c => sqlx::query_as(
            "SELECT namespace, name, uid, resource_version FROM infra_objects WHERE kind = $1 \
             ORDER BY namespace, name")
            .bind(*kind).fetch_all(c).await)?;
        for (ns, name, uid, rv) in rows {
            out.push_str(&format!("{kind}/{ns}/{name}/{uid}/{rv};"));
        }
    }
    Ok(out)
}
