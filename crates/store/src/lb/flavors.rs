//! Flavor profiles, flavors, availability-zone profiles and availability
//! zones: operator-owned, global (no project). A profile in use by a
//! flavor or zone, and a flavor or zone in use by a load balancer, cannot
//! be deleted: the foreign key refuses ([`StoreError::Conflict`]); the API
//! checks first to answer ObjectInUse.

use neutrino_lb_types::model::{AvailabilityZone, AzProfile, Flavor, FlavorProfile};

use super::{Reader, execute, fetch_all};
use crate::{Db, StoreError, Tx, dispatch};

#[derive(sqlx::FromRow)]
struct ProfileRow {
    id: String,
    name: String,
    provider_name: String,
    data: String,
}

#[derive(sqlx::FromRow)]
struct FlavorRow {
    id: String,
    name: String,
    description: Option<String>,
    enabled: bool,
    flavor_profile_id: String,
}

#[derive(sqlx::FromRow)]
struct AzRow {
    name: String,
    description: Option<String>,
    enabled: bool,
    availability_zone_profile_id: String,
}

fn flavor_profile(r: ProfileRow) -> FlavorProfile {
    FlavorProfile {
        id: r.id,
        name: r.name,
        provider_name: r.provider_name,
        flavor_data: r.data,
    }
}

fn az_profile(r: ProfileRow) -> AzProfile {
    AzProfile {
        id: r.id,
        name: r.name,
        provider_name: r.provider_name,
        availability_zone_data: r.data,
    }
}

fn flavor(r: FlavorRow) -> Flavor {
    Flavor {
        id: r.id,
        name: r.name,
        description: r.description,
        enabled: r.enabled,
        flavor_profile_id: r.flavor_profile_id,
    }
}

fn az(r: AzRow) -> AvailabilityZone {
    AvailabilityZone {
        name: r.name,
        description: r.description,
        enabled: r.enabled,
        availability_zone_profile_id: r.availability_zone_profile_id,
    }
}

const FLAVOR_PROFILES: &str =
    "SELECT id, name, provider_name, flavor_data AS data FROM lb_flavor_profiles";
const AZ_PROFILES: &str =
    "SELECT id, name, provider_name, availability_zone_data AS data FROM lb_az_profiles";
const FLAVORS: &str = "SELECT id, name, description, enabled, flavor_profile_id FROM lb_flavors";
const AZS: &str = "SELECT name, description, enabled, availability_zone_profile_id \
     FROM lb_availability_zones";

// ---- flavor profiles

pub async fn insert_flavor_profile(tx: &mut Tx, p: &FlavorProfile) -> Result<(), StoreError> {
    execute(
        tx,
        "INSERT INTO lb_flavor_profiles (id, name, provider_name, flavor_data) VALUES ($1, $2, $3, $4)",
        &[&p.id, &p.name, &p.provider_name, &p.flavor_data],
    )
    .await?;
    Ok(())
}

pub async fn get_flavor_profile(db: &Db, id: &str) -> Result<Option<FlavorProfile>, StoreError> {
    let sql = format!("{FLAVOR_PROFILES} WHERE id = $1");
    let rows: Vec<ProfileRow> = fetch_all(&mut Reader::new(db).await?, &sql, &[id]).await?;
    Ok(rows.into_iter().next().map(flavor_profile))
}

pub async fn get_flavor_profile_tx(
    tx: &mut Tx,
    id: &str,
) -> Result<Option<FlavorProfile>, StoreError> {
    let sql = format!("{FLAVOR_PROFILES} WHERE id = $1");
    let rows: Vec<ProfileRow> = fetch_all(tx, &sql, &[id]).await?;
    Ok(rows.into_iter().next().map(flavor_profile))
}

pub async fn list_flavor_profiles(db: &Db) -> Result<Vec<FlavorProfile>, StoreError> {
    let sql = format!("{FLAVOR_PROFILES} ORDER BY id");
    let rows: Vec<ProfileRow> = fetch_all(&mut Reader::new(db).await?, &sql, &[]).await?;
    Ok(rows.into_iter().map(flavor_profile).collect())
}

/// Writes name, provider and data. Returns whether it exists.
pub async fn update_flavor_profile(tx: &mut Tx, p: &FlavorProfile) -> Result<bool, StoreError> {
    let n = execute(
        tx,
        "UPDATE lb_flavor_profiles SET name = $2, provider_name = $3, flavor_data = $4 WHERE id = $1",
        &[&p.id, &p.name, &p.provider_name, &p.flavor_data],
    )
    .await?;
    Ok(n == 1)
}

pub async fn delete_flavor_profile(tx: &mut Tx, id: &str) -> Result<bool, StoreError> {
    Ok(execute(tx, "DELETE FROM lb_flavor_profiles WHERE id = $1", &[id]).await? == 1)
}

/// Whether any flavor uses the profile (ObjectInUse `Flavor profile`).
pub async fn flavor_profile_in_use_tx(tx: &mut Tx, id: &str) -> Result<bool, StoreError> {
    Ok(dispatch!(tx.conn(), c => sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM lb_flavors WHERE flavor_profile_id = $1)")
        .bind(id).fetch_one(&mut *c).await)?)
}

// ---- flavors

/// Inserts a flavor. A name already taken is a unique violation.
pub async fn insert_flavor(tx: &mut Tx, f: &Flavor) -> Result<(), StoreError> {
    dispatch!(tx.conn(), c => sqlx::query(
        "INSERT INTO lb_flavors (id, name, description, enabled, flavor_profile_id) VALUES ($1, $2, $3, $4, $5)")
        .bind(&f.id).bind(&f.name).bind(&f.description).bind(f.enabled).bind(&f.flavor_profile_id)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

pub async fn get_flavor(db: &Db, id: &str) -> Result<Option<Flavor>, StoreError> {
    let sql = format!("{FLAVORS} WHERE id = $1");
    let rows: Vec<FlavorRow> = fetch_all(&mut Reader::new(db).await?, &sql, &[id]).await?;
    Ok(rows.into_iter().next().map(flavor))
}

pub async fn get_flavor_tx(tx: &mut Tx, id: &str) -> Result<Option<Flavor>, StoreError> {
    let sql = format!("{FLAVORS} WHERE id = $1");
    let rows: Vec<FlavorRow> = fetch_all(tx, &sql, &[id]).await?;
    Ok(rows.into_iter().next().map(flavor))
}

pub async fn list_flavors(db: &Db) -> Result<Vec<Flavor>, StoreError> {
    let sql = format!("{FLAVORS} ORDER BY id");
    let rows: Vec<FlavorRow> = fetch_all(&mut Reader::new(db).await?, &sql, &[]).await?;
    Ok(rows.into_iter().map(flavor).collect())
}

/// Writes name, description and enabled (the profile is POST-only).
pub async fn update_flavor(tx: &mut Tx, f: &Flavor) -> Result<bool, StoreError> {
    let n = dispatch!(tx.conn(), c => sqlx::query(
        "UPDATE lb_flavors SET name = $2, description = $3, enabled = $4 WHERE id = $1")
        .bind(&f.id).bind(&f.name).bind(&f.description).bind(f.enabled)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

pub async fn delete_flavor(tx: &mut Tx, id: &str) -> Result<bool, StoreError> {
    Ok(execute(tx, "DELETE FROM lb_flavors WHERE id = $1", &[id]).await? == 1)
}

/// Whether any load balancer uses the flavor (ObjectInUse `Flavor`).
pub async fn flavor_in_use_tx(tx: &mut Tx, id: &str) -> Result<bool, StoreError> {
    Ok(dispatch!(tx.conn(), c => sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM lb_load_balancers WHERE flavor_id = $1)")
        .bind(id).fetch_one(&mut *c).await)?)
}

// ---- availability-zone profiles

pub async fn insert_az_profile(tx: &mut Tx, p: &AzProfile) -> Result<(), StoreError> {
    execute(
        tx,
        "INSERT INTO lb_az_profiles (id, name, provider_name, availability_zone_data) VALUES ($1, $2, $3, $4)",
        &[&p.id, &p.name, &p.provider_name, &p.availability_zone_data],
    )
    .await?;
    Ok(())
}

pub async fn get_az_profile(db: &Db, id: &str) -> Result<Option<AzProfile>, StoreError> {
    let sql = format!("{AZ_PROFILES} WHERE id = $1");
    let rows: Vec<ProfileRow> = fetch_all(&mut Reader::new(db).await?, &sql, &[id]).await?;
    Ok(rows.into_iter().next().map(az_profile))
}

pub async fn get_az_profile_tx(tx: &mut Tx, id: &str) -> Result<Option<AzProfile>, StoreError> {
    let sql = format!("{AZ_PROFILES} WHERE id = $1");
    let rows: Vec<ProfileRow> = fetch_all(tx, &sql, &[id]).await?;
    Ok(rows.into_iter().next().map(az_profile))
}

pub async fn list_az_profiles(db: &Db) -> Result<Vec<AzProfile>, StoreError> {
    let sql = format!("{AZ_PROFILES} ORDER BY id");
    let rows: Vec<ProfileRow> = fetch_all(&mut Reader::new(db).await?, &sql, &[]).await?;
    Ok(rows.into_iter().map(az_profile).collect())
}

pub async fn update_az_profile(tx: &mut Tx, p: &AzProfile) -> Result<bool, StoreError> {
    let n = execute(
        tx,
        "UPDATE lb_az_profiles SET name = $2, provider_name = $3, availability_zone_data = $4 WHERE id = $1",
        &[&p.id, &p.name, &p.provider_name, &p.availability_zone_data],
    )
    .await?;
    Ok(n == 1)
}

pub async fn delete_az_profile(tx: &mut Tx, id: &str) -> Result<bool, StoreError> {
    Ok(execute(tx, "DELETE FROM lb_az_profiles WHERE id = $1", &[id]).await? == 1)
}

/// Whether any zone uses the profile (ObjectInUse).
pub async fn az_profile_in_use_tx(tx: &mut Tx, id: &str) -> Result<bool, StoreError> {
    Ok(dispatch!(tx.conn(), c => sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM lb_availability_zones WHERE availability_zone_profile_id = $1)")
        .bind(id).fetch_one(&mut *c).await)?)
}

// ---- availability zones (keyed by name)

/// Inserts a zone. A name already taken is a unique violation.
pub async fn insert_az(tx: &mut Tx, a: &AvailabilityZone) -> Result<(), StoreError> {
    dispatch!(tx.conn(), c => sqlx::query(
        "INSERT INTO lb_availability_zones (name, description, enabled, availability_zone_profile_id) \
         VALUES ($1, $2, $3, $4)")
        .bind(&a.name).bind(&a.description).bind(a.enabled).bind(&a.availability_zone_profile_id)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

pub async fn get_az(db: &Db, name: &str) -> Result<Option<AvailabilityZone>, StoreError> {
    let sql = format!("{AZS} WHERE name = $1");
    let rows: Vec<AzRow> = fetch_all(&mut Reader::new(db).await?, &sql, &[name]).await?;
    Ok(rows.into_iter().next().map(az))
}

pub async fn get_az_tx(tx: &mut Tx, name: &str) -> Result<Option<AvailabilityZone>, StoreError> {
    let sql = format!("{AZS} WHERE name = $1");
    let rows: Vec<AzRow> = fetch_all(tx, &sql, &[name]).await?;
    Ok(rows.into_iter().next().map(az))
}

pub async fn list_azs(db: &Db) -> Result<Vec<AvailabilityZone>, StoreError> {
    let sql = format!("{AZS} ORDER BY name");
    let rows: Vec<AzRow> = fetch_all(&mut Reader::new(db).await?, &sql, &[]).await?;
    Ok(rows.into_iter().map(az).collect())
}

/// Writes description and enabled (all PUT may change).
pub async fn update_az(tx: &mut Tx, a: &AvailabilityZone) -> Result<bool, StoreError> {
    let n = dispatch!(tx.conn(), c => sqlx::query(
        "UPDATE lb_availability_zones SET description = $2, enabled = $3 WHERE name = $1")
        .bind(&a.name).bind(&a.description).bind(a.enabled)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

pub async fn delete_az(tx: &mut Tx, name: &str) -> Result<bool, StoreError> {
    Ok(execute(
        tx,
        "DELETE FROM lb_availability_zones WHERE name = $1",
        &[name],
    )
    .await?
        == 1)
}

/// Whether any load balancer is in the zone (ObjectInUse).
pub async fn az_in_use_tx(tx: &mut Tx, name: &str) -> Result<bool, StoreError> {
    Ok(dispatch!(tx.conn(), c => sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM lb_load_balancers WHERE availability_zone = $1)")
        .bind(name).fetch_one(&mut *c).await)?)
}
