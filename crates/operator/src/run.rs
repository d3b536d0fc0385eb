//! `neutrino operator run`: the controllers and the DNS loop, until SIGTERM
//! or SIGINT.

use std::sync::Arc;

use futures::StreamExt;
use kube::runtime::controller::{self, Controller};
use kube::runtime::watcher;
use kube::{Api, Client, Resource, ResourceExt};
use tokio::signal::unix::{SignalKind, signal};

use crate::crd::{IPSet, NetConfig, Reservation};
use crate::{Context, Error, dns, ipset, netconfig};

#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Watch this namespace only (default: every namespace).
    pub namespace: Option<String>,
}

fn api<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

fn log_result<K: Resource, E: std::fmt::Display>(
    result: Result<(kube::runtime::reflector::ObjectRef<K>, controller::Action), E>,
) {
    match result {
        Ok((obj, _)) => tracing::debug!(object = %obj, "reconciled"),
        // Reconcile errors were logged by the error policy.
        Err(e) => tracing::debug!(error = %e, "controller"),
    }
}

/// Connects with the in-cluster service account or the kubeconfig (as
/// kubectl finds it) and runs until a signal.
pub async fn run(options: Options) -> Result<(), Error> {
    let client = Client::try_default().await?;
    run_with(client, options).await
}

/// [`run`] on a given client.
pub async fn run_with(client: Client, options: Options) -> Result<(), Error> {
    let ctx = Arc::new(Context::new(client.clone()));
    let ns = options.namespace.as_deref();
    let wc = watcher::Config::default;

    // One IPSet at a time: each pass reads the addresses the last one took.
    let ipsets = Controller::new(api::<IPSet>(&client, ns), wc())
        .with_config(controller::Config::default().concurrency(1));
    let ipset_store = ipsets.store();
    let ipsets = ipsets
        .owns(api::<Reservation>(&client, ns), wc())
        .watches(api::<NetConfig>(&client, ns), wc(), move |nc: NetConfig| {
            ipset::in_namespace(&ipset_store.state(), nc.namespace().as_deref())
        })
        .shutdown_on_signal()
        .run(ipset::reconcile, ipset::error_policy, ctx.clone())
        .for_each(|r| async move { log_result(r) });

    let netconfigs = Controller::new(api::<NetConfig>(&client, ns), wc());
    let netconfig_store = netconfigs.store();
    let netconfigs = netconfigs
        .watches(api::<IPSet>(&client, ns), wc(), move |set: IPSet| {
            netconfig::in_namespace(&netconfig_store.state(), set.namespace().as_deref())
        })
        .shutdown_on_signal()
        .run(netconfig::reconcile, netconfig::error_policy, ctx.clone())
        .for_each(|r| async move { log_result(r) });

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let signals = async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        tracing::info!("signal received, shutting down");
        let _ = stop_tx.send(true);
    };
    let dns = dns::run(ctx.clone(), options.namespace.clone(), stop_rx);
    tracing::info!(
        namespace = options.namespace.as_deref().unwrap_or("(all)"),
        "operator running"
    );
    tokio::join!(ipsets, netconfigs, dns, signals);
    Ok(())
}
