//! Heartbeats: the UDP datagrams an amphora sends its controllers
//! (design §8.5). [`wire`] is the format both ends share; the agent's
//! sender ([`sender`]) reports what [`stats`] reads from haproxy.

pub(crate) mod sender;
pub(crate) mod stats;
pub mod wire;
