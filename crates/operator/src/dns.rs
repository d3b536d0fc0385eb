//! DNSMasq/DNSData from watches into [`Reconciler`]: the REST service's
//! DNS responders, fed from the cluster.
//!
//! Two reflectors keep every DNSMasq and DNSData in memory; after any watch
//! event the whole set goes through [`Reconciler::apply`] (level
//! triggered, as in the database mode), and statuses that differ are
//! written with server-side apply. The responders run in this process, on
//! the address of each DNSMasq's listen annotation, so the operator's pod
//! is where a Service for them points. Objects that break the rules
//! (`validate::dnsmasq`, `validate::dnsdata`) are not served and say why in
//! their Ready condition.

use std::sync::Arc;
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Resource, ResourceExt};
use neutrino_infra::dns::Reconciler;
use neutrino_infra::meta::conditions;
use neutrino_infra::resources::{self as r, DNSDataStatus, DNSMasqStatus, Kind};
use neutrino_infra::validate::{self, FieldError};
use serde::Serialize;
use serde_json::json;
use tokio::sync::watch;

use crate::crd::{DNSData, DNSMasq, to_infra};
use crate::{API_VERSION, Context, Error, MANAGER};

/// How often a DNSMasq whose responder could not start is tried again.
const RETRY_FAILING: Duration = Duration::from_secs(5);

fn input_error(errs: &[FieldError]) -> String {
    let text: Vec<String> = errs.iter().map(ToString::to_string).collect();
    format!("Input data error occurred: {}", text.join("; "))
}

async fn write_status<K, S>(ctx: &Context, obj: &K, kind: Kind, status: &S) -> Result<(), Error>
where
    K: Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
    S: Serialize,
{
    let ns = obj.namespace().ok_or(Error::NoNamespace)?;
    let body = json!({"apiVersion": API_VERSION, "kind": kind.name(), "status": status});
    Api::<K>::namespaced(ctx.client.clone(), &ns)
        .patch_status(
            &obj.name_any(),
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(body),
        )
        .await?;
    Ok(())
}

/// One pass: the responders made to match `masqs` and `data`, and every
/// status that should change written. A failed status write is logged
/// and left to the next pass.
pub async fn sync(
    reconciler: &mut Reconciler,
    ctx: &Context,
    masqs: &[Arc<DNSMasq>],
    data: &[Arc<DNSData>],
) {
    let now = (ctx.now)();
    let mut served_data = Vec::new();
    for d in data {
        let obj: r::DNSData = to_infra(&**d, d.status.clone().unwrap_or_default());
        let errs = validate::dnsdata(&obj.spec);
        let (ok, reason, msg) = if errs.is_empty() {
            (true, "Ready", "Setup complete".to_string())
        } else {
            (false, "Error", input_error(&errs))
        };
        let status = DNSDataStatus {
            conditions: conditions(&obj.status.conditions, &now, &[("Ready", ok, reason, &msg)]),
            observed_generation: d.metadata.generation,
            hash: obj.status.hash.clone(),
        };
        if d.status.as_ref() != Some(&status)
            && let Err(e) = write_status(ctx, &**d, Kind::DNSData, &status).await
        {
            tracing::warn!(dnsdata = %d.name_any(), error = %e, "cannot write DNSData status");
        }
        if ok {
            served_data.push(obj);
        }
    }
    let mut served: Vec<(r::DNSMasq, &Arc<DNSMasq>)> = Vec::new();
    for m in masqs {
        let obj: r::DNSMasq = to_infra(&**m, m.status.clone().unwrap_or_default());
        let errs = validate::dnsmasq(&obj.spec, &obj.metadata);
        if errs.is_empty() {
            served.push((obj, m));
            continue;
        }
        let msg = input_error(&errs);
        let status = DNSMasqStatus {
            conditions: conditions(
                &obj.status.conditions,
                &now,
                &[("Ready", false, "Error", &msg)],
            ),
            observed_generation: m.metadata.generation,
            ready_count: Some(0),
            ..Default::default()
        };
        if m.status.as_ref() != Some(&status)
            && let Err(e) = write_status(ctx, &**m, Kind::DNSMasq, &status).await
        {
            tracing::warn!(dnsmasq = %m.name_any(), error = %e, "cannot write DNSMasq status");
        }
    }
    let objects: Vec<r::DNSMasq> = served.iter().map(|(o, _)| o.clone()).collect();
    for (i, status) in reconciler.apply(&objects, &served_data).await {
        let m = served[i].1;
        if let Err(e) = write_status(ctx, &**m, Kind::DNSMasq, &status).await {
            tracing::warn!(dnsmasq = %m.name_any(), error = %e, "cannot write DNSMasq status");
        }
    }
}

fn api<K>(client: &kube::Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// Watches DNSMasq and DNSData (of one namespace or all) and keeps the
/// responders in line until `stop` turns true.
pub async fn run(ctx: Arc<Context>, namespace: Option<String>, mut stop: watch::Receiver<bool>) {
    let ns = namespace.as_deref();
    let (masq_reader, masq_writer) = reflector::store::<DNSMasq>();
    let (data_reader, data_writer) = reflector::store::<DNSData>();
    let masq_events = reflector(
        masq_writer,
        watcher(api::<DNSMasq>(&ctx.client, ns), watcher::Config::default()),
    )
    .default_backoff()
    .map(|e| e.map(|_| ()));
    let data_events = reflector(
        data_writer,
        watcher(api::<DNSData>(&ctx.client, ns), watcher::Config::default()),
    )
    .default_backoff()
    .map(|e| e.map(|_| ()));
    let mut events = std::pin::pin!(futures::stream::select(masq_events, data_events));
    let mut reconciler = Reconciler::default();
    loop {
        tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            _ = tokio::time::sleep(RETRY_FAILING), if reconciler.failing() => {}
            ev = events.next() => match ev {
                None => break,
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "DNSMasq/DNSData watch failed; retrying");
                    continue;
                }
                Some(Ok(())) => {}
            },
        }
        // A burst of events (the initial lists) makes one pass.
        while let Some(Some(_)) = events.next().now_or_never() {}
        // Until both lists are in, a DNSMasq would be served without its
        // records, or stopped for lack of them.
        let ready = masq_reader.wait_until_ready().now_or_never().is_some()
            && data_reader.wait_until_ready().now_or_never().is_some();
        if ready {
            sync(
                &mut reconciler,
                &ctx,
                &masq_reader.state(),
                &data_reader.state(),
            )
            .await;
        }
    }
    reconciler.shutdown().await;
}
