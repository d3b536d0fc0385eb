//! Starting, supervising and stopping the daemons of one chassis.

use std::ffi::OsString;
use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use neutrino_ovsdb::{Condition, Connection, Endpoint, Op, OpResult};

use crate::config::{Central, ChassisConfig, LocalChassis};
use crate::daemon::{Ask, Daemon, Spec, State, Supervised};
use crate::envfile::OvnEnv;
use crate::error::{Error, Result};
use crate::{dbfile, host, ovs};

/// The userspace datapath's own device: one per network namespace, so one
/// netdev ovs-vswitchd per host namespace.
pub const DATAPATH_DEVICE: &str = "ovs-netdev";

/// sun_path of a unix socket address, less the NUL.
const MAX_SOCKET_PATH: usize = 107;
const START_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Chassis;

impl Chassis {
    /// Creates what is missing under the data directory, starts the
    /// daemons the configuration asks for, configures the local OVS and
    /// writes `ovn.env`. On error, whatever was started is stopped again.
    pub async fn start(config: ChassisConfig) -> Result<RunningChassis> {
        if let Some(local) = &config.local {
            local.validate()?;
        }
        if let Central::Remote { nb, sb } = &config.central {
            for s in [nb, sb] {
                s.parse::<Endpoint>()
                    .map_err(|e| Error::Config(format!("OVN endpoint {s:?}: {e}")))?;
            }
        }
        let dir = config.data_dir.join("ovn");
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
        let dir = dir
            .canonicalize()
            .map_err(|e| Error::io(format!("cannot resolve {}", dir.display()), e))?;
        let env_file = config
            .data_dir
            .canonicalize()
            .map_err(|e| Error::io("cannot resolve the data directory", e))?
            .join("ovn.env");
        // The longest socket names: the databases', ovs-vswitchd's per
        // bridge (BRIDGE.snoop) and ovn-controller's (with a 7-digit PID).
        let mut socks = vec![
            "ovnnb_db.sock".to_string(),
            "ovs-vswitchd.ctl".into(),
            "ovn-controller.4194304.ctl".into(),
        ];
        if let Some(l) = &config.local {
            socks.push(format!("{}.snoop", l.integration_bridge));
            socks.extend(l.nic_mappings.iter().map(|m| format!("{}.snoop", m.bridge)));
        }
        for sock in socks {
            let p = dir.join(sock);
            if p.as_os_str().len() > MAX_SOCKET_PATH {
                return Err(Error::Config(format!(
                    "{} is too long for a unix socket path; use a shorter data directory",
                    p.display()
                )));
            }
        }
        let lock = lock_dir(&dir)?;
        stop_leftovers(&dir, config.stop_timeout);
        // Control sockets of dead daemons would pass for live ones.
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for e in entries.flatten() {
                if e.path().extension().is_some_and(|x| x == "ctl") {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        // A stale file from an earlier run must not look like readiness.
        let _ = std::fs::remove_file(&env_file);

        let env = OvnEnv {
            nb: Some(match &config.central {
                Central::Local { .. } => unix(&dir.join("ovnnb_db.sock")),
                Central::Remote { nb, .. } => nb.clone(),
            }),
            sb: Some(match &config.central {
                Central::Local { .. } => unix(&dir.join("ovnsb_db.sock")),
                Central::Remote { sb, .. } => sb.clone(),
            }),
            ovs: config.local.as_ref().map(|_| unix(&dir.join("db.sock"))),
        };
        let mut chassis = RunningChassis {
            config,
            dir,
            env,
            env_file,
            daemons: Vec::new(),
            host_devices: Vec::new(),
            _lock: lock,
            stopped: false,
        };
        match chassis.bring_up().await {
            Ok(()) => Ok(chassis),
            Err(e) => {
                tracing::error!(error = %e, "chassis start failed; stopping what was started");
                chassis.stop_all().await;
                Err(e)
            }
        }
    }
}

/// A started chassis. Call [`RunningChassis::shutdown`]; dropping it stops
/// the daemons too, blocking, as a last resort.
pub struct RunningChassis {
    config: ChassisConfig,
    dir: PathBuf,
    env: OvnEnv,
    env_file: PathBuf,
    daemons: Vec<Arc<Supervised>>,
    /// Devices ovs-vswitchd makes in the host namespace for us, removed at
    /// shutdown if it did not remove them itself.
    host_devices: Vec<String>,
    _lock: File,
    stopped: bool,
}

/// One daemon, as seen by its supervisor.
#[derive(Debug, Clone)]
pub struct DaemonStatus {
    pub daemon: Daemon,
    pub pid: Option<u32>,
    /// How many times it was started (1 = never restarted).
    pub starts: u32,
    pub log_file: PathBuf,
}

fn unix(p: &Path) -> String {
    format!("unix:{}", p.display())
}

impl RunningChassis {
    /// The directory of the database files, sockets, pid files and logs.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn config(&self) -> &ChassisConfig {
        &self.config
    }

    /// The connection strings (also in [`RunningChassis::env_file`]).
    pub fn env(&self) -> &OvnEnv {
        &self.env
    }

    pub fn env_file(&self) -> &Path {
        &self.env_file
    }

    /// The northbound database (what the sync worker writes).
    pub fn nb(&self) -> &str {
        self.env.nb.as_deref().unwrap_or_default()
    }

    pub fn sb(&self) -> &str {
        self.env.sb.as_deref().unwrap_or_default()
    }

    /// The local Open_vSwitch database, if OVS runs here.
    pub fn ovs(&self) -> Option<Endpoint> {
        self.env.ovs.as_deref().and_then(|s| s.parse().ok())
    }

    pub fn chassis_name(&self) -> Option<&str> {
        self.config.local.as_ref().map(|l| l.name.as_str())
    }

    /// The host name the chassis reports (OVS `external_ids:hostname`):
    /// what ports bound here show as `binding:host_id`.
    pub fn hostname(&self) -> Option<&str> {
        self.config.local.as_ref().map(|l| l.hostname.as_str())
    }

    pub fn integration_bridge(&self) -> Option<&str> {
        self.config
            .local
            .as_ref()
            .map(|l| l.integration_bridge.as_str())
    }

    fn find(&self, d: Daemon) -> Option<&Arc<Supervised>> {
        self.daemons.iter().find(|s| s.spec.daemon == d)
    }

    /// The PID of a running daemon.
    pub fn pid(&self, d: Daemon) -> Option<u32> {
        self.find(d).and_then(|s| s.pid())
    }

    pub fn daemons(&self) -> Vec<DaemonStatus> {
        self.daemons
            .iter()
            .map(|s| {
                let State { pid, starts, .. } = s.state();
                DaemonStatus {
                    daemon: s.spec.daemon,
                    pid,
                    starts,
                    log_file: self.dir.join(format!("{}.log", s.spec.daemon.stem())),
                }
            })
            .collect()
    }

    /// Waits until ovn-controller has registered this chassis in the
    /// southbound database.
    pub async fn wait_registered(&self, timeout: Duration) -> Result<()> {
        let Some(name) = self.chassis_name() else {
            return Ok(());
        };
        let sb: Endpoint = self.sb().parse()?;
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let found = async {
                let conn = Connection::connect_timeout(&sb, Duration::from_secs(5)).await?;
                let r = conn
                    .transact(
                        "OVN_Southbound",
                        vec![Op::select("Chassis", vec![Condition::eq("name", name)])],
                    )
                    .await?;
                Ok::<_, Error>(
                    r.first()
                        .and_then(OpResult::rows)
                        .is_some_and(|r| !r.is_empty()),
                )
            }
            .await;
            match found {
                Ok(true) => return Ok(()),
                Ok(false) => {}
                Err(e) => tracing::debug!(error = %e, "southbound not answering yet"),
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::Timeout(format!(
                    "chassis {name} not registered in the southbound database after {timeout:?}"
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops every daemon this chassis started (by PID, in reverse order
    /// of start), removes the devices ovs-vswitchd left behind, if any, and
    /// `ovn.env`.
    pub async fn shutdown(mut self) -> Result<()> {
        self.stop_all().await;
        Ok(())
    }

    async fn stop_all(&mut self) {
        if self.stopped {
            return;
        }
        self.remember_internal_devices().await;
        for d in self.daemons.iter().rev() {
            d.stop().await;
            tracing::info!(daemon = %d.spec.daemon, "stopped");
        }
        self.after_stop();
    }

    fn after_stop(&mut self) {
        remove_devices_blocking(&self.host_devices);
        let _ = std::fs::remove_file(&self.env_file);
        self.stopped = true;
    }

    /// Internal ports plugged since start are tap devices too; note them
    /// while the database still answers.
    async fn remember_internal_devices(&mut self) {
        let Some(ovs) = self.ovs() else { return };
        if self.pid(Daemon::OvsDb).is_none() {
            return;
        }
        let names = async {
            let conn = ovs::connect(&ovs).await?;
            let r = conn
                .transact(
                    ovs::DB,
                    vec![Op::select(
                        "Interface",
                        vec![Condition::eq("type", "internal")],
                    )],
                )
                .await?;
            Ok::<_, Error>(
                r.first()
                    .and_then(OpResult::rows)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|r| r.str("name").map(String::from))
                    .collect::<Vec<_>>(),
            )
        }
        .await;
        if let Ok(names) = names {
            for n in names {
                if !self.host_devices.contains(&n) {
                    self.host_devices.push(n);
                }
            }
        }
    }

    async fn bring_up(&mut self) -> Result<()> {
        let schemas = self.config.schemas.clone();
        if let Central::Local { nb_tcp, sb_tcp } = self.config.central.clone() {
            for (addr, what) in [(nb_tcp, "northbound"), (sb_tcp, "southbound")] {
                if let Some(a) = addr {
                    check_port_free(a, what)?;
                }
            }
            dbfile::ensure(&self.dir.join("ovnnb_db.db"), &schemas.nb).await?;
            dbfile::ensure(&self.dir.join("ovnsb_db.db"), &schemas.sb).await?;
            let nb = self.db_server(
                Daemon::NbDb,
                "ovnnb_db.db",
                "ovnnb_db.sock",
                nb_tcp,
                "OVN_Northbound,NB_Global,connections",
            );
            let sb = self.db_server(
                Daemon::SbDb,
                "ovnsb_db.db",
                "ovnsb_db.sock",
                sb_tcp,
                "OVN_Southbound,SB_Global,connections",
            );
            self.spawn(nb);
            self.spawn(sb);
            self.wait_socket(Daemon::NbDb, "ovnnb_db.sock").await?;
            self.wait_socket(Daemon::SbDb, "ovnsb_db.sock").await?;
            let northd = self.spec(
                Daemon::Northd,
                vec![
                    format!("--ovnnb-db={}", unix(&self.dir.join("ovnnb_db.sock"))).into(),
                    format!("--ovnsb-db={}", unix(&self.dir.join("ovnsb_db.sock"))).into(),
                ],
                true,
                Ask::Signal,
            );
            self.spawn(northd);
        }
        let Some(local) = self.config.local.clone() else {
            self.write_env()?;
            return Ok(());
        };

        self.host_devices = check_host_names(&local).await?;
        dbfile::ensure(&self.dir.join("conf.db"), &schemas.vswitch).await?;
        let ovsdb = self.db_server(
            Daemon::OvsDb,
            "conf.db",
            "db.sock",
            None,
            "Open_vSwitch,Open_vSwitch,manager_options",
        );
        self.spawn(ovsdb);
        self.wait_socket(Daemon::OvsDb, "db.sock").await?;
        let ovs_ep = Endpoint::unix(self.dir.join("db.sock"));
        let conn = ovs::connect(&ovs_ep).await?;
        self.configure_ovs(&conn, &local).await?;

        let db_arg: OsString = unix(&self.dir.join("db.sock")).into();
        let ctl = self.dir.join("ovs-vswitchd.ctl");
        let vswitchd = self.spec(
            Daemon::Vswitchd,
            vec![db_arg.clone()],
            true,
            // --cleanup: it deletes its datapath and the tap devices of
            // its bridges and internal ports, which would outlive it.
            Ask::Unixctl(ctl, vec!["exit", "--cleanup"]),
        );
        self.spawn(vswitchd);
        let vswitchd = self.find(Daemon::Vswitchd).cloned();
        if let Some(v) = vswitchd {
            tokio::select! {
                r = ovs::wait_applied(&conn, START_TIMEOUT) => r?,
                why = v.died() => return Err(Error::DaemonFailed { daemon: "ovs-vswitchd", detail: why }),
            }
        }
        let mut names: Vec<&str> = vec![local.integration_bridge.as_str()];
        for m in &local.nic_mappings {
            names.push(&m.bridge);
            names.push(&m.interface);
        }
        let errors = ovs::interface_errors(&conn, &names).await?;
        if !errors.is_empty() {
            let detail = errors
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect::<Vec<_>>()
                .join("; ");
            return Err(Error::DaemonFailed {
                daemon: "ovs-vswitchd",
                detail,
            });
        }

        let controller = self.spec(
            Daemon::Controller,
            vec![db_arg],
            false,
            // ovn-controller 23.03 takes no --unixctl; its socket is
            // OVN_RUNDIR/ovn-controller.PID.ctl. A clean `exit` also
            // removes its Chassis row from the southbound database.
            Ask::UnixctlByPid(self.dir.clone(), vec!["exit"]),
        );
        self.spawn(controller);
        self.wait_ctl(Daemon::Controller).await?;
        if matches!(self.config.central, Central::Local { .. }) {
            self.wait_ctl(Daemon::Northd).await?;
        }
        self.write_env()?;
        tracing::info!(
            chassis = local.name,
            bridge = local.integration_bridge,
            mappings = local.bridge_mappings(),
            dir = %self.dir.display(),
            "chassis running"
        );
        Ok(())
    }

    fn write_env(&self) -> Result<()> {
        self.env.write(&self.env_file)?;
        tracing::info!(path = %self.env_file.display(), "ovn.env written");
        Ok(())
    }

    async fn configure_ovs(&self, conn: &Connection, local: &LocalChassis) -> Result<()> {
        ovs::init(conn).await?;
        let mappings = local.bridge_mappings();
        let sb = self.env.sb.clone();
        ovs::set_external_ids(
            conn,
            &[
                ("system-id", Some(local.name.clone())),
                ("hostname", Some(local.hostname.clone())),
                ("ovn-remote", sb),
                ("ovn-encap-type", Some(local.encap_type.clone())),
                ("ovn-encap-ip", Some(local.encap_ip.clone())),
                ("ovn-bridge", Some(local.integration_bridge.clone())),
                (
                    "ovn-bridge-mappings",
                    (!mappings.is_empty()).then_some(mappings),
                ),
                ("ovn-bridge-datapath-type", Some("netdev".into())),
            ],
        )
        .await?;
        ovs::ensure_bridge(conn, &local.integration_bridge, Some("secure")).await?;
        for m in &local.nic_mappings {
            ovs::ensure_bridge(conn, &m.bridge, None).await?;
            ovs::ensure_system_port(conn, &m.bridge, &m.interface).await?;
        }
        let mut keep = vec![local.integration_bridge.as_str()];
        keep.extend(local.nic_mappings.iter().map(|m| m.bridge.as_str()));
        for name in ovs::prune_bridges(conn, &keep).await? {
            tracing::info!(bridge = name, "removed a bridge no longer configured");
        }
        Ok(())
    }

    fn spec(&self, daemon: Daemon, mut args: Vec<OsString>, unixctl: bool, ask: Ask) -> Spec {
        let stem = daemon.stem();
        let file = |ext: &str| -> OsString { self.dir.join(format!("{stem}.{ext}")).into() };
        let mut flag = |name: &str, ext: &str| {
            let mut f = OsString::from(format!("--{name}="));
            f.push(file(ext));
            args.push(f);
        };
        flag("pidfile", "pid");
        flag("log-file", "log");
        if unixctl {
            flag("unixctl", "ctl");
        }
        // Errors only on stderr (which we log); the rest goes to the log file.
        args.push("-vconsole:err".into());
        let dir: OsString = self.dir.clone().into();
        Spec {
            daemon,
            args,
            // Every default path (rundir: bridge management sockets,
            // ovn-controller's control socket; logs; databases) under the
            // data directory, not /var/run/openvswitch.
            env: [
                "OVS_RUNDIR",
                "OVN_RUNDIR",
                "OVS_LOGDIR",
                "OVN_LOGDIR",
                "OVS_DBDIR",
                "OVN_DBDIR",
            ]
            .into_iter()
            .map(|k| (k, dir.clone()))
            .collect(),
            cwd: self.dir.clone(),
            ask,
            stop_timeout: self.config.stop_timeout,
        }
    }

    fn db_server(
        &self,
        daemon: Daemon,
        db: &str,
        sock: &str,
        tcp: Option<SocketAddr>,
        db_remote: &str,
    ) -> Spec {
        let mut args: Vec<OsString> = vec![
            self.dir.join(db).into(),
            format!("--remote=punix:{}", self.dir.join(sock).display()).into(),
            // Connections configured in the database itself (what
            // `ovn-nbctl set-connection` writes), as ovn-ctl runs it.
            format!("--remote=db:{db_remote}").into(),
        ];
        if let Some(a) = tcp {
            let ip = match a.ip() {
                std::net::IpAddr::V6(v6) => format!("[{v6}]"),
                v4 => v4.to_string(),
            };
            args.push(format!("--remote=ptcp:{}:{ip}", a.port()).into());
        }
        self.spec(daemon, args, true, Ask::Signal)
    }

    fn spawn(&mut self, spec: Spec) {
        tracing::debug!(daemon = %spec.daemon, args = ?spec.args, "starting");
        self.daemons.push(Supervised::start(spec));
    }

    /// Waits for a daemon's control socket: it has parsed its options and
    /// runs its main loop.
    async fn wait_ctl(&self, d: Daemon) -> Result<()> {
        let sup = self.find(d).cloned().ok_or_else(|| Error::DaemonFailed {
            daemon: d.stem(),
            detail: "not started".into(),
        })?;
        let failed = |detail| Error::DaemonFailed {
            daemon: d.stem(),
            detail,
        };
        let pid = sup.wait_started(START_TIMEOUT).await.map_err(failed)?;
        let path = match d {
            Daemon::Controller => self.dir.join(format!("ovn-controller.{pid}.ctl")),
            _ => self.dir.join(format!("{}.ctl", d.stem())),
        };
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        while !path.exists() {
            sup.check_alive().map_err(failed)?;
            if tokio::time::Instant::now() >= deadline {
                return Err(failed(format!(
                    "no {} after {START_TIMEOUT:?}",
                    path.display()
                )));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    async fn wait_socket(&self, d: Daemon, sock: &str) -> Result<()> {
        let path = self.dir.join(sock);
        let sup = self.find(d).cloned().ok_or_else(|| Error::DaemonFailed {
            daemon: d.stem(),
            detail: "not started".into(),
        })?;
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        loop {
            sup.check_alive().map_err(|detail| Error::DaemonFailed {
                daemon: d.stem(),
                detail,
            })?;
            if tokio::net::UnixStream::connect(&path).await.is_ok() {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::DaemonFailed {
                    daemon: d.stem(),
                    detail: format!("{} not accepting connections", path.display()),
                });
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for RunningChassis {
    fn drop(&mut self) {
        if self.stopped {
            return;
        }
        tracing::warn!(dir = %self.dir.display(), "chassis dropped without shutdown; stopping its daemons");
        for d in self.daemons.iter().rev() {
            d.stop_blocking();
        }
        self.after_stop();
    }
}

/// One chassis per data directory, for as long as the process lives.
fn lock_dir(dir: &Path) -> Result<File> {
    let path = dir.join("chassis.lock");
    let f = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::io(format!("cannot open {}", path.display()), e))?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::Locked(dir.to_path_buf())),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(Error::io(format!("cannot lock {}", path.display()), e))
        }
    }
}

/// Daemons an earlier run in this directory left running (it was killed
/// before it could stop them): we started them, so we stop them. A PID is
/// only trusted if the process's command line names our pid file.
fn stop_leftovers(dir: &Path, grace: Duration) {
    // Consumers first, databases last, as at shutdown.
    for d in Daemon::ALL.iter().rev() {
        let pidfile = dir.join(format!("{}.pid", d.stem()));
        let Some(pid) = std::fs::read_to_string(&pidfile)
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
        else {
            continue;
        };
        let ours = format!("--pidfile={}", pidfile.display());
        if host::process_alive(pid) && host::cmdline(pid).contains(&ours) {
            tracing::warn!(daemon = %d, pid, "stopping a daemon left running by an earlier run");
            if *d == Daemon::Vswitchd {
                let _ = crate::unixctl::call(
                    &dir.join("ovs-vswitchd.ctl"),
                    "exit",
                    &["--cleanup"],
                    grace,
                );
                host::wait_gone_blocking(pid, grace);
            }
            host::terminate_blocking(pid, grace);
        }
    }
    // A daemon exiting on its parent-death signal (our predecessor was
    // killed a moment ago) has removed its pid file but may still hold the
    // database, sockets or devices: wait for it, without signalling it.
    for d in Daemon::ALL.iter().rev() {
        let ours = format!(
            "--pidfile={}",
            dir.join(format!("{}.pid", d.stem())).display()
        );
        for pid in host::pids_named(d.program()) {
            if host::cmdline(pid).contains(&ours) && !host::wait_gone_blocking(pid, grace) {
                tracing::warn!(daemon = %d, pid, "a daemon of an earlier run is still exiting");
            }
        }
    }
}

fn check_port_free(addr: SocketAddr, what: &str) -> Result<()> {
    std::net::TcpListener::bind(addr).map(drop).map_err(|e| {
        Error::Collision(format!(
            "cannot listen on {addr} for the {what} database ({e}); another OVN on this host? \
             choose other ports"
        ))
    })
}

/// The devices a netdev ovs-vswitchd creates in the host namespace:
/// `ovs-netdev` and one tap per bridge. Refuses to start if they belong to
/// a running ovs-vswitchd (another chassis) or to something else; removes
/// the leftovers of one that died without cleaning up. Returns the names,
/// to remove at shutdown.
async fn check_host_names(local: &LocalChassis) -> Result<Vec<String>> {
    let mut names = vec![
        DATAPATH_DEVICE.to_string(),
        local.integration_bridge.clone(),
    ];
    names.extend(local.nic_mappings.iter().map(|m| m.bridge.clone()));
    for m in &local.nic_mappings {
        if !host::link_exists(&m.interface) {
            return Err(Error::Config(format!(
                "interface {} of NIC mapping {} does not exist",
                m.interface, m.physnet
            )));
        }
    }
    // The devices are looked up in our network namespace, so their owners
    // are too: a vswitchd in another namespace has its own devices, even
    // of the same names. Only the process holding a device's tap open owns
    // it; one we cannot inspect is assumed to.
    let running: Vec<u32> = host::pids_named("ovs-vswitchd")
        .into_iter()
        .filter(|pid| host::shares_netns(*pid) != Some(false))
        .collect();
    for name in &names {
        if !host::link_exists(name) {
            continue;
        }
        if !host::is_tap(name) {
            return Err(Error::Collision(format!(
                "a device named {name} exists and is not an OVS tap device; \
                 choose another bridge name"
            )));
        }
        let owner = running.iter().find(|pid| {
            host::tap_names_held(**pid).is_none_or(|held| held.iter().any(|n| n == name))
        });
        if let Some(pid) = owner {
            return Err(Error::Collision(format!(
                "device {name} belongs to ovs-vswitchd (pid {pid}): another chassis with the \
                 userspace datapath in this network namespace? Its datapath ({DATAPATH_DEVICE}) \
                 and bridges are devices of the namespace, so only one can run per network \
                 namespace (tests that run real OVS must run one at a time)"
            )));
        }
        tracing::warn!(
            device = name,
            "removing a device left by an ovs-vswitchd that is gone"
        );
        host::delete_link(name).await?;
    }
    Ok(names)
}

fn remove_devices_blocking(names: &[String]) {
    for name in names {
        if host::link_exists(name) && host::is_tap(name) {
            let ok = std::process::Command::new("ip")
                .args(["link", "del", "dev", name])
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            tracing::info!(device = name, removed = ok, "device left by ovs-vswitchd");
        }
    }
}
