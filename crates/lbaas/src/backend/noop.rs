//! The noop backend: what upstream's `compute_noop_driver`,
//! `network_noop_driver` and `amphora_noop_driver` answer, so the API's
//! state machines run end to end without instances (what the upstream
//! API tests run against, `test_with_noop = true`). The VIP itself is
//! real (a port in the Network API); only the amphorae are not.

use futures::FutureExt;
use futures::future::BoxFuture;

use super::{AmphoraSpec, Backend, Booted, VipPlug, VipTarget};
use crate::engine::StepError;

/// Upstream's noop network driver's addresses (TEST-NET-1 and -2).
const NOOP_LB_NETWORK_IP: &str = "192.0.2.1";
const NOOP_VRRP_IP: &str = "198.51.100.1";

#[derive(Clone, Copy, Debug, Default)]
pub struct NoopBackend;

/// A stable fake id derived from the amphora id, so a repeated call (a
/// step run again after a crash) answers the same.
fn derived_id(kind: &str, amphora_id: &str) -> String {
    uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_OID,
        format!("{kind}:{amphora_id}").as_bytes(),
    )
    .to_string()
}

impl Backend for NoopBackend {
    fn name(&self) -> &'static str {
        "noop"
    }

    fn boot<'a>(&'a self, spec: &'a AmphoraSpec<'a>) -> BoxFuture<'a, Result<Booted, StepError>> {
        let expires = chrono::Utc::now() + chrono::Duration::days(30);
        async move {
            Ok(Booted {
                compute_id: derived_id("compute", spec.id),
                lb_network_ip: NOOP_LB_NETWORK_IP.into(),
                cert_expiration: expires.format("%Y-%m-%dT%H:%M:%S").to_string(),
            })
        }
        .boxed()
    }

    fn delete<'a>(
        &'a self,
        _: &'a str,
        _: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(), StepError>> {
        async { Ok(()) }.boxed()
    }

    fn plug_vip<'a>(
        &'a self,
        amphora_id: &'a str,
        vip: &'a VipTarget<'a>,
    ) -> BoxFuture<'a, Result<VipPlug, StepError>> {
        async move {
            Ok(VipPlug {
                vrrp_port_id: derived_id("vrrp-port", amphora_id),
                vrrp_ip: NOOP_VRRP_IP.into(),
                ha_port_id: vip.port_id.to_string(),
                ha_ip: vip.address.to_string(),
            })
        }
        .boxed()
    }

    fn unplug_vip<'a>(
        &'a self,
        _: &'a str,
        _: Option<&'a VipPlug>,
    ) -> BoxFuture<'a, Result<(), StepError>> {
        async { Ok(()) }.boxed()
    }

    fn apply_config<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<(), StepError>> {
        async { Ok(()) }.boxed()
    }

    fn remove_config<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<(), StepError>> {
        async { Ok(()) }.boxed()
    }

    fn push_agent_config<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<(), StepError>> {
        async { Ok(()) }.boxed()
    }
}
