//! Starting the API servers: database, identity, listeners, shutdown.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context;
use neutrino_api::{AppState, network_router, with_request_ids};
use neutrino_identity::{BootstrapParams, CatalogConfig, Identity, IdentityConfig};
use neutrino_lb_api::{LbConfig, LbState};
use neutrino_store::Db;
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};

use crate::cli::UpArgs;
use crate::clouds;
use crate::config::Settings;

pub fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("NEUTRINO_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    run(settings, None, None).await
}

/// `up`: everything `serve` does, plus an admin password kept in the data
/// directory and a clouds.yaml written once the APIs accept requests.
pub async fn up(mut settings: Settings, args: &UpArgs) -> anyhow::Result<()> {
    let dir = &args.data_dir;
    if settings.admin_password.is_none() {
        settings.admin_password = Some(stored_or_new_password(&dir.join("admin-password"))?);
    }
    let chassis = crate::chassis::config(args, &settings)?;
    run(settings, Some(dir), chassis).await
}

fn stored_or_new_password(path: &Path) -> anyhow::Result<String> {
    if let Ok(p) = std::fs::read_to_string(path) {
        let p = p.trim().to_string();
        if !p.is_empty() {
            return Ok(p);
        }
    }
    let password = uuid::Uuid::new_v4().simple().to_string();
    clouds::write(path, &password).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(password)
}

/// The URL clients use for a listener: the public host if configured,
/// else the bound address (loopback when bound to every address).
fn public_url(settings: &Settings, addr: SocketAddr, suffix: &str) -> String {
    let host = match &settings.public_host {
        Some(h) => h.clone(),
        None if addr.ip().is_unspecified() => "127.0.0.1".into(),
        None => match addr.ip() {
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
            ip => ip.to_string(),
        },
    };
    format!("http://{host}:{}{suffix}", addr.port())
}

/// The Load-balancer API's listener. An address that was asked for must
/// be free; the default one may be taken (by an Octavia next door, or by
/// a second server started with only the other two listeners moved), and
/// then the server runs without the Load-balancer API, says so, and keeps
/// it out of the catalog.
async fn bind_load_balancer(settings: &Settings) -> anyhow::Result<Option<TcpListener>> {
    let addr = &settings.load_balancer_listen;
    match TcpListener::bind(addr).await {
        Ok(l) => Ok(Some(l)),
        Err(e) if !settings.load_balancer_listen_explicit => {
            tracing::warn!(%addr, error = %e,
                "default load-balancer address unavailable: serving without the Load-balancer API (set --load-balancer-listen)");
            Ok(None)
        }
        Err(e) => Err(e).with_context(|| format!("cannot listen on {addr}")),
    }
}

async fn run(
    mut settings: Settings,
    data_dir: Option<&Path>,
    chassis: Option<neutrino_chassis::ChassisConfig>,
) -> anyhow::Result<()> {
    // Listen first: a second `up` on addresses in use must fail before it
    // touches anything, above all the running server's clouds.yaml.
    let identity_listener = TcpListener::bind(&settings.identity_listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.identity_listen))?;
    let network_listener = TcpListener::bind(&settings.network_listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.network_listen))?;
    let load_balancer_listener = bind_load_balancer(&settings).await?;
    if let Some(dir) = data_dir {
        // A stale file from an earlier run must not look like readiness.
        let _ = std::fs::remove_file(dir.join("clouds.yaml"));
    }
    // The OVS/OVN daemons of `up`. Dropped on an early error, the chassis
    // stops them itself.
    let chassis = match chassis {
        Some(config) => {
            let c = neutrino_chassis::Chassis::start(config)
                .await
                .context("cannot start the data plane (--no-data-plane runs without)")?;
            if settings.ovn_nb.is_none() {
                settings.ovn_nb = Some(c.nb().to_string());
                settings.ovn_sb = Some(c.sb().to_string());
            }
            Some(c)
        }
        None => None,
    };

    let db = Db::connect(&settings.database_url).await.with_context(|| {
        format!(
            "cannot open the database at {}",
            redact(&settings.database_url)
        )
    })?;
    db.migrate().await.context("database migration failed")?;
    tracing::info!(backend = db.backend_name(), "database ready");

    let identity_url = public_url(&settings, identity_listener.local_addr()?, "/v3");
    let network_url = public_url(&settings, network_listener.local_addr()?, "/");
    // Barbican beside the Network API; barbicanclient discovers /v1 from here.
    let key_manager_url = public_url(&settings, network_listener.local_addr()?, "/key-manager");
    // No version in the URL: octaviaclient appends /v2.0 itself.
    let load_balancer_url = match &load_balancer_listener {
        Some(l) => Some(public_url(&settings, l.local_addr()?, "")),
        None => None,
    };

    let secret = neutrino_identity::load_or_create_secret(&settings.token_secret_file)
        .with_context(|| {
            format!(
                "cannot read or create {}",
                settings.token_secret_file.display()
            )
        })?;
    let identity = Identity::new(
        db.clone(),
        IdentityConfig {
            token_secret: secret,
            token_ttl_secs: settings.token_ttl,
            cache_ttl_secs: 5,
            catalog: CatalogConfig {
                region: settings.region.clone(),
                identity_url: identity_url.clone(),
                network_url: network_url.clone(),
                load_balancer_url: load_balancer_url.clone(),
                key_manager_url: Some(key_manager_url.clone()),
                infra_url: Some(public_url(
                    &settings,
                    network_listener.local_addr()?,
                    neutrino_infra::api::PREFIX,
                )),
            },
        },
    );
    let mut service_project_id = None;
    if let Some(password) = &settings.admin_password {
        let outcome = identity
            .bootstrap(&BootstrapParams {
                admin_user: settings.admin_user.clone(),
                admin_password: password.clone(),
                region: settings.region.clone(),
                ..BootstrapParams::default()
            })
            .await
            .context("bootstrap of the admin account failed")?;
        service_project_id = Some(outcome.service_project_id);
    }

    let mut network_config = settings.network.clone();
    network_config.identity_url = identity_url.clone();
    let state = AppState::new(db.clone(), identity.clone(), network_config);
    let identity_app = with_request_ids(identity.router());
    // The infra layer (NetConfig, IPSet, DNSData, ...) shares the Network
    // API's listener under /infra.
    let infra = neutrino_infra::Infra::new(db.clone());
    let key_manager = neutrino_key_manager::router(neutrino_key_manager::KmState::new(
        db.clone(),
        identity.clone(),
        neutrino_key_manager::KmConfig {
            public_url: key_manager_url.clone(),
            prefix: "/key-manager".into(),
            identity_url: identity_url.clone(),
        },
    ));
    let network_app = with_request_ids(
        network_router(state)
            .merge(neutrino_infra::api::router(infra.clone(), identity.clone()))
            .merge(key_manager),
    );

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    // The load-balancer flow worker runs on every server, with or without
    // the Load-balancer API listener: flows started elsewhere may need it.
    let local_lb = local_backend(&settings, &db, data_dir, chassis.as_ref())?;
    let backend: std::sync::Arc<dyn neutrino_lbaas::backend::Backend> = match &local_lb {
        Some(l) => l.clone(),
        None => std::sync::Arc::new(neutrino_lbaas::backend::noop::NoopBackend),
    };
    tracing::info!(backend = backend.name(), "load-balancer backend");
    let (controller, lb_worker) = neutrino_lbaas::controller::start(
        db.clone(),
        backend,
        neutrino_lbaas::engine::WorkerConfig::new(worker_instance(&settings, data_dir)),
        stop_rx.clone(),
    );
    if settings.lb_network_driver == neutrino_lb_api::NetworkDriver::Noop {
        tracing::warn!(
            "load balancers get fake VIPs (--lb-network-driver noop): for the upstream API tests only"
        );
    }
    neutrino_lbaas::audit::pending_without_flow(&db)
        .await
        .context("load-balancer start-up audit failed")?;
    let load_balancer_app = with_request_ids(neutrino_lb_api::router(LbState::new(
        db.clone(),
        identity.clone(),
        LbConfig {
            identity_url: identity_url.clone(),
            network_driver: settings.lb_network_driver,
            lvs_listeners: local_lb.is_none(),
            ..LbConfig::default()
        },
        controller,
        settings.network.mac_prefix,
    )));
    let wait = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let identity_server = tokio::spawn(
        axum::serve(identity_listener, identity_app)
            .with_graceful_shutdown(wait(stop_rx.clone()))
            .into_future(),
    );
    let network_server = tokio::spawn(
        axum::serve(network_listener, network_app)
            .with_graceful_shutdown(wait(stop_rx.clone()))
            .into_future(),
    );
    let load_balancer_server = load_balancer_listener.map(|listener| {
        tokio::spawn(
            axum::serve(listener, load_balancer_app)
                .with_graceful_shutdown(wait(stop_rx.clone()))
                .into_future(),
        )
    });
    tracing::info!(identity = %identity_url, network = %network_url,
        load_balancer = load_balancer_url.as_deref().unwrap_or("-"), "serving");
    // DNS responders of DNSMasq resources, kept in line with the database.
    let infra_dns = tokio::spawn(neutrino_infra::dns::run(infra.clone(), stop_rx.clone()));
    // The data plane: journal → OVN northbound, SB bindings → port status.
    let ovn = match (&settings.ovn_nb, &settings.ovn_sb) {
        (Some(nb), Some(sb)) => Some((nb.as_str(), sb.as_str())),
        (None, None) => None,
        _ => anyhow::bail!("--ovn-nb and --ovn-sb go together"),
    };
    let dataplane = crate::dataplane::start(
        db.clone(),
        ovn,
        std::time::Duration::from_secs(settings.ovn_audit_interval.max(1)),
        stop_rx.clone(),
    )?;

    // The amphorae's management network: made through the Network API
    // when the first amphora boots.
    // Read once: the local backend has it if it runs here.
    let heartbeat_key = match (&local_lb, settings.lb_health_listen) {
        (Some(backend), _) => Some(backend.heartbeat_key().to_string()),
        (None, Some(_)) => Some(heartbeat_key(&settings.lb_heartbeat_key_file)?),
        (None, None) => None,
    };
    let heartbeat_interval = std::time::Duration::from_secs(settings.lb_heartbeat_interval);
    if let (Some(addr), Some(key)) = (settings.lb_health_listen, &heartbeat_key) {
        let socket = tokio::net::UdpSocket::bind(addr)
            .await
            .with_context(|| format!("cannot bind the heartbeat receiver to {addr}"))?;
        tracing::info!(%addr, "receiving amphora heartbeats");
        tokio::spawn(neutrino_lbaas::health::receiver::run(
            socket,
            key.clone(),
            db.clone(),
            heartbeat_interval,
            stop_rx.clone(),
        ));
    }

    // The amphorae's management network: made through the Network API
    // when the first amphora boots.
    let mgmt_setup = match (
        &local_lb,
        &chassis,
        data_dir,
        &settings.admin_password,
        &service_project_id,
        &heartbeat_key,
    ) {
        (Some(_), Some(c), Some(dir), Some(password), Some(project), Some(key)) => {
            Some(std::sync::Arc::new(MgmtSetup {
                identity_url: identity_url.clone(),
                network_url: network_url.clone(),
                admin_user: settings.admin_user.clone(),
                admin_password: password.clone(),
                service_project_id: project.clone(),
                cidr: settings.lb_mgmt_cidr.clone(),
                node: c.hostname().unwrap_or("localhost").to_string(),
                ovs: c.ovs().context("the data plane has no local OVS")?,
                bridge: c.integration_bridge().unwrap_or("br-int").to_string(),
                netns: crate::lb_mgmt::controller_netns(dir),
                receiver: HeartbeatReceiver {
                    db: db.clone(),
                    key: key.clone(),
                    interval: heartbeat_interval,
                    stop: stop_rx.clone(),
                },
            }))
        }
        _ => None,
    };
    if let (Some(backend), Some(setup)) = (&local_lb, &mgmt_setup) {
        let setup = setup.clone();
        backend
            .set_management_init(std::sync::Arc::new(move || {
                let setup = setup.clone();
                Box::pin(async move { setup.make().await })
            }))
            .await;
        // Amphorae outlive `up`: when some exist, bring the controller's
        // management interface back now, so that their heartbeats are
        // heard before any flow needs it.
        let live = neutrino_store::lb::amphorae::list(&db, None)
            .await?
            .iter()
            .any(|a| a.status.as_str() != "DELETED");
        if live {
            let backend = backend.clone();
            tokio::spawn(async move {
                if let Err(e) = backend.ensure_management().await {
                    tracing::warn!(error = %e, "load-balancer management network");
                }
            });
        }
    }

    // Before clouds.yaml, which tells scripts they may now stop us: a
    // SIGTERM from then on must reach the shutdown below, not kill us
    // with the daemons still running.
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    if let (Some(dir), Some(password)) = (data_dir, &settings.admin_password) {
        let text = clouds::render(&clouds::CloudEntry {
            auth_url: &identity_url,
            username: &settings.admin_user,
            password,
            project: "admin",
            region: &settings.region,
        });
        let path = dir.join("clouds.yaml");
        clouds::write(&path, &text).with_context(|| format!("cannot write {}", path.display()))?;
        tracing::info!(path = %path.display(), "clouds.yaml written; use OS_CLOUD=neutrino");
    }

    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received, shutting down"),
        _ = int.recv() => tracing::info!("SIGINT received, shutting down"),
    }
    let _ = stop_tx.send(true);
    // clouds.yaml means "a server is ready here": it goes with the server.
    if let Some(dir) = data_dir {
        let _ = std::fs::remove_file(dir.join("clouds.yaml"));
    }
    identity_server.await??;
    network_server.await??;
    if let Some(server) = load_balancer_server {
        server.await??;
    }
    let _ = infra_dns.await;
    let _ = lb_worker.await;
    for task in dataplane {
        let _ = task.await;
    }
    if let (Some(backend), Some(setup)) = (&local_lb, &mgmt_setup)
        && let Some(m) = backend.management_if_known().await
        && let Some(port) = &m.controller_port_id
    {
        crate::lb_mgmt::teardown(&setup.ovs, &setup.netns, port).await;
    }
    // Also removes ovn.env, which, like clouds.yaml, means "running".
    if let Some(c) = chassis {
        c.shutdown().await?;
    }
    db.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// This server's stable name among those sharing the database (design
/// §7.2): a restart takes over the flow leases of its previous life at
/// once. The host, plus the data directory (`up`) or the Network API's
/// address (`serve`), which two servers on one host cannot share.
fn worker_instance(settings: &Settings, data_dir: Option<&Path>) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into());
    match data_dir {
        Some(dir) => format!("{host}:{}", dir.display()),
        None => format!("{host}:{}", settings.network_listen),
    }
}

/// Hides a password in a database URL for log and error messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..s + 3], user, &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// The local load-balancer backend, when `--lb-backend` and the data
/// plane call for it.
fn local_backend(
    settings: &Settings,
    db: &Db,
    data_dir: Option<&Path>,
    chassis: Option<&neutrino_chassis::RunningChassis>,
) -> anyhow::Result<Option<std::sync::Arc<neutrino_lbaas::backend::local::LocalBackend>>> {
    use crate::config::LbBackend;
    let usable = match (data_dir, chassis) {
        (Some(dir), Some(c)) => c.ovs().map(|ovs| (dir, c, ovs)),
        _ => None,
    };
    let (dir, c, ovs) = match (settings.lb_backend, usable) {
        (LbBackend::Noop, _) | (LbBackend::Auto, None) => return Ok(None),
        (LbBackend::Local, None) => {
            anyhow::bail!("--lb-backend local needs the data plane of `neutrino up` on this node")
        }
        (_, Some(u)) => u,
    };
    let ca = neutrino_pki::Ca::load_or_create(&dir.join("lb-ca"))
        .context("load-balancer certificate authority")?;
    let cfg = neutrino_lbaas::backend::local::LocalConfig {
        node: c.hostname().unwrap_or("localhost").to_string(),
        ovs,
        bridge: c.integration_bridge().unwrap_or("br-int").to_string(),
        state_dir: dir.join("amphorae"),
        agent_program: std::env::current_exe().context("finding the neutrino binary")?,
        mac_prefix: settings.network.mac_prefix,
        ready_timeout: std::time::Duration::from_secs(20),
        heartbeat_key: heartbeat_key(&settings.lb_heartbeat_key_file)?,
        heartbeat_interval: settings.lb_heartbeat_interval,
        default_connection_limit: settings.lb_default_connection_limit,
    };
    let backend = neutrino_lbaas::backend::local::LocalBackend::new(db.clone(), cfg, ca)
        .map_err(|e| anyhow::anyhow!("load-balancer backend: {e}"))?;
    Ok(Some(std::sync::Arc::new(backend)))
}

/// What the management network task needs, owned.
struct MgmtSetup {
    identity_url: String,
    network_url: String,
    admin_user: String,
    admin_password: String,
    service_project_id: String,
    cidr: String,
    node: String,
    ovs: neutrino_ovsdb::Endpoint,
    bridge: String,
    netns: String,
    receiver: HeartbeatReceiver,
}

/// What the heartbeat receiver on the management network needs.
struct HeartbeatReceiver {
    db: Db,
    key: String,
    interval: std::time::Duration,
    stop: tokio::sync::watch::Receiver<bool>,
}

/// The heartbeat key in `path` (created with a random one if missing):
/// the file's text, or the hex of its bytes when they are not text.
fn heartbeat_key(path: &Path) -> anyhow::Result<String> {
    let bytes = neutrino_identity::load_or_create_secret(path)
        .with_context(|| format!("heartbeat key {}", path.display()))?;
    Ok(match String::from_utf8(bytes) {
        Ok(text) if !text.trim().is_empty() => text.trim().to_string(),
        Ok(text) => anyhow::bail!("heartbeat key {} is blank: {text:?}", path.display()),
        Err(e) => e.as_bytes().iter().map(|b| format!("{b:02x}")).collect(),
    })
}

impl MgmtSetup {
    /// Makes the management network, and starts receiving heartbeats on
    /// the controller's address there (called once: the backend keeps
    /// what it returns).
    async fn make(&self) -> Result<neutrino_lbaas::backend::local::Management, String> {
        let m = self.ensure().await?;
        if let (Some(sockets), Some(target)) = (&m.sockets, m.heartbeat_targets.first()) {
            let addr: std::net::SocketAddr = target
                .parse()
                .map_err(|e| format!("heartbeat address {target}: {e}"))?;
            let socket = sockets
                .bind_udp(addr)
                .await
                .map_err(|e| format!("binding the heartbeat receiver to {addr}: {e}"))?;
            tracing::info!(%addr, netns = %self.netns, "receiving amphora heartbeats");
            let r = &self.receiver;
            tokio::spawn(neutrino_lbaas::health::receiver::run(
                socket,
                r.key.clone(),
                r.db.clone(),
                r.interval,
                r.stop.clone(),
            ));
        }
        Ok(m)
    }

    async fn ensure(&self) -> Result<neutrino_lbaas::backend::local::Management, String> {
        crate::lb_mgmt::ensure(&crate::lb_mgmt::Setup {
            identity_url: &self.identity_url,
            network_url: &self.network_url,
            admin_user: &self.admin_user,
            admin_password: &self.admin_password,
            service_project_id: &self.service_project_id,
            cidr: &self.cidr,
            node: &self.node,
            ovs: &self.ovs,
            bridge: &self.bridge,
            netns: &self.netns,
        })
        .await
        .map_err(|e| format!("{e:#}"))
    }
}
