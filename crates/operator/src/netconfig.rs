//! NetConfig reconciliation: validation, and deletion held back while
//! IPSets of the namespace exist.
//!
//! Upstream's webhook refuses such a delete; without a webhook, the
//! finalizer [`FINALIZER`] keeps the object: its cleanup fails while IPSets
//! are there (the object stays, marked for deletion) and succeeds on the
//! pass after the last one is gone. A NetConfig has no status fields, so a
//! validation failure is logged here and reported where it matters, in the
//! conditions of the namespace's IPSets.

use std::sync::Arc;

use kube::api::{Api, ListParams};
use kube::runtime::controller::Action;
use kube::runtime::finalizer::{Event, finalizer};
use kube::{Resource, ResourceExt};
use neutrino_infra::resources::{self as r};
use neutrino_infra::validate;

use crate::crd::{IPSet, NetConfig, to_infra};
use crate::{Context, Error, RETRY};

/// Keeps a NetConfig while IPSets of its namespace exist.
pub const FINALIZER: &str = "network.openstack.org/netconfig";

pub async fn reconcile(netcfg: Arc<NetConfig>, ctx: Arc<Context>) -> Result<Action, Error> {
    let ns = netcfg.namespace().ok_or(Error::NoNamespace)?;
    let api: Api<NetConfig> = Api::namespaced(ctx.client.clone(), &ns);
    finalizer(&api, FINALIZER, netcfg, |event| async {
        match event {
            Event::Apply(netcfg) => Ok(check(&netcfg)),
            Event::Cleanup(netcfg) => cleanup(&netcfg, &ctx, &ns).await,
        }
    })
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)))
}

pub fn error_policy(netcfg: Arc<NetConfig>, error: &Error, _ctx: Arc<Context>) -> Action {
    tracing::warn!(
        netconfig = %netcfg.name_any(),
        namespace = netcfg.namespace().unwrap_or_default(),
        %error,
        "NetConfig reconcile failed"
    );
    Action::requeue(RETRY)
}

fn check(netcfg: &NetConfig) -> Action {
    let obj: r::NetConfig = to_infra(netcfg, r::NoStatus {});
    let errs = validate::netconfig(&obj.spec);
    if !errs.is_empty() {
        let text: Vec<String> = errs.iter().map(ToString::to_string).collect();
        tracing::warn!(
            netconfig = %obj.metadata.name,
            namespace = %obj.metadata.namespace,
            errors = %text.join("; "),
            "NetConfig is invalid; its IPSets get no addresses until it is fixed"
        );
    }
    Action::await_change()
}

async fn cleanup(netcfg: &NetConfig, ctx: &Context, ns: &str) -> Result<Action, Error> {
    let ipsets = Api::<IPSet>::namespaced(ctx.client.clone(), ns)
        .list(&ListParams::default())
        .await?
        .items;
    if !ipsets.is_empty() {
        let names: Vec<String> = ipsets.iter().take(5).map(|s| s.name_any()).collect();
        // Failing keeps the finalizer, hence the object.
        return Err(Error::InUse(format!(
            "unable to delete NetConfig {} while there are still IPSets in namespace {ns:?} ({}{})",
            netcfg.name_any(),
            names.join(", "),
            if ipsets.len() > 5 { ", ..." } else { "" }
        )));
    }
    Ok(Action::await_change())
}

/// The NetConfigs of a namespace, for re-running their cleanup when an
/// IPSet goes away.
pub fn in_namespace<'a>(
    netconfigs: impl IntoIterator<Item = &'a Arc<NetConfig>>,
    ns: Option<&str>,
) -> Vec<kube::runtime::reflector::ObjectRef<NetConfig>> {
    netconfigs
        .into_iter()
        .filter(|n| n.meta().namespace.as_deref() == ns)
        .map(|n| kube::runtime::reflector::ObjectRef::from_obj(&**n))
        .collect()
}
