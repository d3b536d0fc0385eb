//! Flavor profiles and availability-zone profiles as one record: name,
//! provider and a JSON document kept as text. The store keeps them in
//! two tables; this picks the functions and rendering by kind.

use neutrino_lb_types::model::{AzProfile, FlavorProfile};
use neutrino_lb_types::render;
use neutrino_lb_types::request::admin::ProfileKind;
use neutrino_store::lb::flavors as store;
use neutrino_store::{Db, StoreError, Tx};
use serde_json::Value;

#[derive(Clone, Debug)]
pub struct Profile {
    pub id: String,
    pub name: String,
    pub provider_name: String,
    pub data: String,
}

impl From<FlavorProfile> for Profile {
    fn from(p: FlavorProfile) -> Self {
        Profile {
            id: p.id,
            name: p.name,
            provider_name: p.provider_name,
            data: p.flavor_data,
        }
    }
}

impl From<AzProfile> for Profile {
    fn from(p: AzProfile) -> Self {
        Profile {
            id: p.id,
            name: p.name,
            provider_name: p.provider_name,
            data: p.availability_zone_data,
        }
    }
}

impl Profile {
    fn flavor(&self) -> FlavorProfile {
        FlavorProfile {
            id: self.id.clone(),
            name: self.name.clone(),
            provider_name: self.provider_name.clone(),
            flavor_data: self.data.clone(),
        }
    }

    fn az(&self) -> AzProfile {
        AzProfile {
            id: self.id.clone(),
            name: self.name.clone(),
            provider_name: self.provider_name.clone(),
            availability_zone_data: self.data.clone(),
        }
    }

    pub fn render(&self, kind: ProfileKind) -> Value {
        match kind {
            ProfileKind::Flavor => render::flavor_profile(&self.flavor()),
            ProfileKind::AvailabilityZone => render::availability_zone_profile(&self.az()),
        }
    }
}

pub async fn get(db: &Db, kind: ProfileKind, id: &str) -> Result<Option<Profile>, StoreError> {
    Ok(match kind {
        ProfileKind::Flavor => store::get_flavor_profile(db, id).await?.map(Into::into),
        ProfileKind::AvailabilityZone => store::get_az_profile(db, id).await?.map(Into::into),
    })
}

pub async fn get_tx(
    tx: &mut Tx,
    kind: ProfileKind,
    id: &str,
) -> Result<Option<Profile>, StoreError> {
    Ok(match kind {
        ProfileKind::Flavor => store::get_flavor_profile_tx(tx, id).await?.map(Into::into),
        ProfileKind::AvailabilityZone => store::get_az_profile_tx(tx, id).await?.map(Into::into),
    })
}

pub async fn list(db: &Db, kind: ProfileKind) -> Result<Vec<Profile>, StoreError> {
    Ok(match kind {
        ProfileKind::Flavor => store::list_flavor_profiles(db)
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
        ProfileKind::AvailabilityZone => store::list_az_profiles(db)
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    })
}

pub async fn insert(tx: &mut Tx, kind: ProfileKind, p: &Profile) -> Result<(), StoreError> {
    match kind {
        ProfileKind::Flavor => store::insert_flavor_profile(tx, &p.flavor()).await,
        ProfileKind::AvailabilityZone => store::insert_az_profile(tx, &p.az()).await,
    }
}

pub async fn update(tx: &mut Tx, kind: ProfileKind, p: &Profile) -> Result<bool, StoreError> {
    match kind {
        ProfileKind::Flavor => store::update_flavor_profile(tx, &p.flavor()).await,
        ProfileKind::AvailabilityZone => store::update_az_profile(tx, &p.az()).await,
    }
}

pub async fn delete(tx: &mut Tx, kind: ProfileKind, id: &str) -> Result<bool, StoreError> {
    match kind {
        ProfileKind::Flavor => store::delete_flavor_profile(tx, id).await,
        ProfileKind::AvailabilityZone => store::delete_az_profile(tx, id).await,
    }
}

/// Whether a flavor (zone) uses the profile.
pub async fn in_use(tx: &mut Tx, kind: ProfileKind, id: &str) -> Result<bool, StoreError> {
    match kind {
        ProfileKind::Flavor => store::flavor_profile_in_use_tx(tx, id).await,
        ProfileKind::AvailabilityZone => store::az_profile_in_use_tx(tx, id).await,
    }
}

/// The table whose writers of one profile [`crate::common::serialise`]
/// queues (flavor and zone creates take the same key).
pub fn table(kind: ProfileKind) -> &'static str {
    match kind {
        ProfileKind::Flavor => "lb_flavor_profiles",
        ProfileKind::AvailabilityZone => "lb_az_profiles",
    }
}
