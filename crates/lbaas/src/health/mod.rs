//! The controller side of amphora heartbeats (design §7.6, §8.5;
//! domain-facts §3.1): [`receiver::run`] reads and authenticates the UDP
//! datagrams, [`update::update_health`] turns one message into operating
//! statuses, `lb_amphora_health.last_update` and listener counters, as
//! upstream's `UDPStatusGetter`, `UpdateHealthDb` and `StatsUpdateDb`.

pub mod receiver;
pub mod update;

pub use update::{HealthError, HealthRefresh, Outcome, update_health};
