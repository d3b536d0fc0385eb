//! What flow steps call to make amphorae real: boot and delete them, plug
//! their ports, push configuration to their agents. Part one has the
//! [`noop::NoopBackend`] (as upstream's noop drivers: every call succeeds
//! and records nothing outside the database); part two adds the local
//! backend (namespaces, haproxy, the amphora agent).
//!
//! Every call is idempotent: a step may run again after a crash, so a
//! backend looks before it creates and treats "already gone" as done.

pub mod agent_client;
pub mod local;
pub mod noop;

use futures::future::BoxFuture;
use neutrino_lb_types::enums::AmphoraRole;

use crate::engine::StepError;

/// An amphora to bring up.
#[derive(Clone, Debug)]
pub struct AmphoraSpec<'a> {
    pub id: &'a str,
    pub lb_id: &'a str,
    pub role: AmphoraRole,
    /// The compute zone of the load balancer's availability zone.
    pub zone: Option<&'a str>,
}

/// What booting an amphora gave.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Booted {
    pub compute_id: String,
    /// Its address on the management network.
    pub lb_network_ip: String,
    /// RFC 3339 expiry of its server certificate.
    pub cert_expiration: String,
}

/// What plugging an amphora into the VIP network gave.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VipPlug {
    pub vrrp_port_id: String,
    pub vrrp_ip: String,
    pub ha_port_id: String,
    pub ha_ip: String,
}

/// The VIP an amphora serves.
#[derive(Clone, Debug)]
pub struct VipTarget<'a> {
    pub port_id: &'a str,
    pub address: &'a str,
    pub network_id: &'a str,
}

pub trait Backend: Send + Sync {
    /// `noop` or `local`, for logs.
    fn name(&self) -> &'static str;

    /// Boots amphora `spec.id` (or finds it booted).
    fn boot<'a>(&'a self, spec: &'a AmphoraSpec<'a>) -> BoxFuture<'a, Result<Booted, StepError>>;

    /// Stops and removes an amphora; done when it is already gone.
    fn delete<'a>(
        &'a self,
        amphora_id: &'a str,
        compute_id: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(), StepError>>;

    /// Plugs an amphora into the VIP network (its VRRP port holding the VIP).
    fn plug_vip<'a>(
        &'a self,
        amphora_id: &'a str,
        vip: &'a VipTarget<'a>,
    ) -> BoxFuture<'a, Result<VipPlug, StepError>>;

    /// Takes an amphora's VIP plumbing back; done when already gone.
    fn unplug_vip<'a>(
        &'a self,
        amphora_id: &'a str,
        plug: Option<&'a VipPlug>,
    ) -> BoxFuture<'a, Result<(), StepError>>;

    /// Renders the load balancer's configuration from the database and
    /// makes every amphora of it serve that (upload, check, reload).
    fn apply_config<'a>(&'a self, lb_id: &'a str) -> BoxFuture<'a, Result<(), StepError>>;

    /// Stops serving every listener of the load balancer.
    fn remove_config<'a>(&'a self, lb_id: &'a str) -> BoxFuture<'a, Result<(), StepError>>;

    /// Pushes the agent's own settings (`PUT /config`) to one amphora.
    fn push_agent_config<'a>(&'a self, amphora_id: &'a str)
    -> BoxFuture<'a, Result<(), StepError>>;
}
