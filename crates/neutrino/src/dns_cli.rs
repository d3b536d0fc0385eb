//! `neutrino dns`: the DNS responders of DNSMasq resources without the API
//! servers. With `--database-url` it runs the reconciler `serve` runs
//! (`neutrino_infra::dns`), following the database; with `-f` it serves the
//! DNSMasq and DNSData of YAML files through the same reconciler, re-read
//! on SIGHUP.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use neutrino_infra::codec::parse_input;
use neutrino_infra::dns::{Reconciler, run_with};
use neutrino_infra::resources::{DNSData, DNSDataSpec, DNSMasq, DNSMasqSpec, Kind, Object, Spec};
use neutrino_infra::validate::{self, FieldError};
use neutrino_store::Db;
use serde_json::Value;
use tokio::signal::unix::{SignalKind, signal};

#[derive(Args, Debug)]
pub struct DnsArgs {
    /// Serve the DNSMasq/DNSData of this database (sqlite://PATH or
    /// postgres://USER@HOST/DB), following its changes.
    #[arg(long, env = "NEUTRINO_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Serve the DNSMasq/DNSData of these YAML files instead (multi-document;
    /// other kinds are skipped); SIGHUP re-reads them.
    #[arg(short = 'f', long = "filename")]
    pub files: Vec<PathBuf>,
    /// With --database-url, serve this namespace only; with -f, the
    /// namespace of documents that name none.
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
}

/// How often a DNSMasq whose responder could not start (its address not
/// yet on this host, say) is tried again in file mode.
const RETRY: Duration = Duration::from_secs(5);

pub async fn run(args: DnsArgs) -> anyhow::Result<()> {
    if !args.files.is_empty() {
        return serve_files(
            &args.files,
            args.namespace.as_deref().unwrap_or("openstack"),
        )
        .await;
    }
    let Some(url) = args.database_url else {
        bail!("give --database-url (or NEUTRINO_DATABASE_URL) or -f FILE");
    };
    serve_database(&url, args.namespace).await
}

async fn stopped() -> anyhow::Result<()> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received, shutting down"),
        _ = int.recv() => tracing::info!("SIGINT received, shutting down"),
    }
    Ok(())
}

async fn serve_database(url: &str, namespace: Option<String>) -> anyhow::Result<()> {
    let db = Db::connect(url).await.context("cannot open the database")?;
    // The same migrations `serve` runs; a no-op on a current database.
    db.migrate().await.context("database migration failed")?;
    let infra = neutrino_infra::Infra::new(db.clone());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(run_with(
        infra,
        Reconciler::in_namespace(namespace),
        stop_rx,
    ));
    tracing::info!(
        backend = db.backend_name(),
        "serving the database's DNSMasq resources"
    );
    let result = stopped().await;
    let _ = stop_tx.send(true);
    let _ = task.await;
    db.close().await;
    result
}

/// One object of a file, checked as the REST API checks it on apply.
fn admit<S: Spec>(
    doc: Value,
    default_ns: &str,
    check: impl Fn(&S, &neutrino_infra::meta::ObjectMeta) -> Vec<FieldError>,
) -> anyhow::Result<Object<S, S::Status>> {
    let name = doc["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let ns = doc["metadata"]["namespace"]
        .as_str()
        .unwrap_or(default_ns)
        .to_string();
    let label = format!("{} {ns}/{name}", S::KIND.name());
    let (meta, mut spec) = parse_input::<S>(&ns, &name, doc).with_context(|| label.clone())?;
    spec.apply_defaults(&ns);
    let mut errs = validate::metadata(&meta);
    errs.extend(check(&spec, &meta));
    if !errs.is_empty() {
        let text: Vec<String> = errs.iter().map(ToString::to_string).collect();
        bail!("{label}: {}", text.join("; "));
    }
    Ok(Object::new(meta, spec))
}

/// Every DNSMasq and DNSData of the files.
fn load(files: &[PathBuf], default_ns: &str) -> anyhow::Result<(Vec<DNSMasq>, Vec<DNSData>)> {
    let (mut masqs, mut data) = (Vec::new(), Vec::new());
    for path in files {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let docs: Vec<Value> = serde_saphyr::from_multiple(&text)
            .with_context(|| format!("{} is not YAML", path.display()))?;
        for doc in docs.into_iter().filter(|d| !d.is_null()) {
            let kind = doc["kind"].as_str().unwrap_or_default().to_string();
            match Kind::resolve(&kind) {
                Some(Kind::DNSMasq) => {
                    masqs.push(admit::<DNSMasqSpec>(doc, default_ns, validate::dnsmasq)?)
                }
                Some(Kind::DNSData) => data.push(admit::<DNSDataSpec>(doc, default_ns, |s, _| {
                    validate::dnsdata(s)
                })?),
                Some(_) => tracing::debug!(%kind, "skipped: not DNS"),
                None => bail!("{}: a document of unknown kind {kind:?}", path.display()),
            }
        }
    }
    Ok((masqs, data))
}

async fn serve_files(files: &[PathBuf], default_ns: &str) -> anyhow::Result<()> {
    let (mut masqs, mut data) = load(files, default_ns)?;
    let mut hup = signal(SignalKind::hangup())?;
    let mut reconciler = Reconciler::default();
    let stop = stopped();
    tokio::pin!(stop);
    loop {
        // Statuses live nowhere here: each pass logs them.
        for (i, status) in reconciler.apply(&masqs, &data).await {
            masqs[i].status = status;
            let (m, status) = (&masqs[i].metadata, &masqs[i].status);
            let ready = status.conditions.first();
            tracing::info!(
                dnsmasq = %format!("{}/{}", m.namespace, m.name),
                ready = ready.map(|c| c.status.as_str()).unwrap_or("Unknown"),
                message = ready.map(|c| c.message.as_str()).unwrap_or_default(),
                addresses = %status.dns_addresses.join(","),
                "DNSMasq"
            );
        }
        let failing = reconciler.failing();
        tokio::select! {
            result = &mut stop => {
                reconciler.shutdown().await;
                return result;
            }
            _ = hup.recv() => match load(files, default_ns) {
                Ok((m, d)) => {
                    tracing::info!("SIGHUP: files re-read");
                    (masqs, data) = (m, d);
                }
                // A broken edit keeps the last good set serving.
                Err(e) => tracing::error!(error = %format!("{e:#}"), "SIGHUP: files not applied"),
            },
            _ = tokio::time::sleep(RETRY), if failing => {}
        }
    }
}
