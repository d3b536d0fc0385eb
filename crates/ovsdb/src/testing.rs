//! Test support (feature `test-util`): a throwaway `ovsdb-server`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use neutrino_ovsdb::{Connection, testing::OvsdbServer};
//! let server = OvsdbServer::start_nb()?;          // ovsdb-tool create + ovsdb-server
//! let conn = Connection::connect(&server.endpoint()).await?;
//! server.nbctl(&["ls-add", "sw0"])?;              // the real CLI, on the same socket
//! # Ok(()) }
//! ```
//!
//! The server is a child process of the test, listening on a unix socket in its own
//! temporary directory and on a TCP port of 127.0.0.1; it is killed (by its pid) when the
//! [`OvsdbServer`] is dropped, and can be stopped and restarted on the same database file,
//! socket and port to test reconnection.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::endpoint::Endpoint;
use crate::schema::Schema;

/// Debian's (and upstream's default) schema file locations.
pub const NB_SCHEMA: &str = "/usr/share/ovn/ovn-nb.ovsschema";
pub const SB_SCHEMA: &str = "/usr/share/ovn/ovn-sb.ovsschema";
pub const OVS_SCHEMA: &str = "/usr/share/openvswitch/vswitch.ovsschema";

/// How long [`OvsdbServer::start`] waits for the server to listen.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);

/// An `ovsdb-server` serving one database, for tests.
#[derive(Debug)]
pub struct OvsdbServer {
    dir: tempfile::TempDir,
    db_name: String,
    db_path: PathBuf,
    socket: PathBuf,
    tcp_port: u16,
    child: Option<Child>,
}

/// Finds an OVS/OVN program: on `PATH`, or in the sbin directories Debian uses.
pub fn program(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/local/sbin".into(), "/sbin".into()])
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from(name))
}

fn run(cmd: &mut Command) -> io::Result<String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| io::Error::new(e.kind(), format!("{cmd:?}: {e}")))?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "{cmd:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

impl OvsdbServer {
    /// A fresh database of `schema` (an `.ovsschema` file), served.
    pub fn start(schema: impl AsRef<Path>) -> io::Result<Self> {
        let mut server = Self::create(schema.as_ref(), |db_path, schema, _| {
            vec!["create".into(), db_path.into(), schema.into()]
        })?;
        server.spawn()?;
        Ok(server)
    }

    /// A raft cluster of `members` servers of a fresh database of `schema` (each with
    /// its own directory, sockets and database file, raft on 127.0.0.1), returned once
    /// every member has joined and one of them leads. The first member created the
    /// cluster; which one leads later is for the cluster to say
    /// ([`OvsdbServer::is_leader`]).
    pub fn start_cluster(schema: impl AsRef<Path>, members: usize) -> io::Result<Vec<Self>> {
        let schema = schema.as_ref();
        // Hold every port until all are chosen so they differ.
        let listeners = (0..members)
            .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
            .collect::<io::Result<Vec<_>>>()?;
        let addresses = listeners
            .iter()
            .map(|l| Ok(format!("tcp:{}", l.local_addr()?)))
            .collect::<io::Result<Vec<String>>>()?;
        drop(listeners);
        let mut servers = Vec::with_capacity(members);
        for (i, address) in addresses.iter().enumerate() {
            let mut server = Self::create(schema, |db_path, schema, db_name| {
                if i == 0 {
                    vec![
                        "create-cluster".into(),
                        db_path.into(),
                        schema.into(),
                        address.into(),
                    ]
                } else {
                    let first = addresses[0].as_str();
                    vec![
                        "join-cluster".into(),
                        db_path.into(),
                        db_name.into(),
                        address.into(),
                        first.into(),
                    ]
                }
            })?;
            server.spawn()?;
            servers.push(server);
        }
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            let statuses = servers
                .iter()
                .map(OvsdbServer::cluster_status)
                .collect::<io::Result<Vec<_>>>()?;
            let joined = statuses
                .iter()
                .all(|s| s.contains("Status: cluster member"));
            let leaders = statuses
                .iter()
                .filter(|s| s.contains("Role: leader"))
                .count();
            if joined && leaders == 1 {
                return Ok(servers);
            }
            if Instant::now() > deadline {
                return Err(io::Error::other(format!(
                    "the cluster did not form:\n{}",
                    statuses.join("\n")
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A new directory with a database file made by `ovsdb-tool ARGS`, where `args`
    /// gets (database file, schema file, database name).
    fn create(
        schema: &Path,
        args: impl FnOnce(&Path, &Path, &str) -> Vec<std::ffi::OsString>,
    ) -> io::Result<Self> {
        let db_name = Schema::from_file(schema).map_err(io::Error::other)?.name;
        let dir = tempfile::Builder::new().prefix("ovsdb-test-").tempdir()?;
        let db_path = dir.path().join("db.db");
        run(Command::new(program("ovsdb-tool")).args(args(&db_path, schema, &db_name)))?;
        Ok(Self {
            socket: dir.path().join("db.sock"),
            dir,
            db_name,
            db_path,
            tcp_port: 0,
            child: None,
        })
    }

    /// `ovs-appctl cluster/status DB` of a clustered server.
    pub fn cluster_status(&self) -> io::Result<String> {
        self.appctl(&["cluster/status", &self.db_name])
    }

    /// Whether this clustered server is its cluster's leader now.
    pub fn is_leader(&self) -> bool {
        self.cluster_status()
            .is_ok_and(|s| s.contains("Role: leader"))
    }

    /// `ovs-appctl -t CTL args…` on this server's control socket.
    pub fn appctl(&self, args: &[&str]) -> io::Result<String> {
        run(Command::new(program("ovs-appctl"))
            .arg("-t")
            .arg(self.dir.path().join("ovsdb-server.ctl"))
            .args(args))
    }

    /// An empty `OVN_Northbound` database.
    pub fn start_nb() -> io::Result<Self> {
        Self::start(NB_SCHEMA)
    }

    /// An empty `OVN_Southbound` database.
    pub fn start_sb() -> io::Result<Self> {
        Self::start(SB_SCHEMA)
    }

    /// An empty `Open_vSwitch` database.
    pub fn start_ovs() -> io::Result<Self> {
        Self::start(OVS_SCHEMA)
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("ovsdb-server.log")
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    fn spawn(&mut self) -> io::Result<()> {
        let d = self.dir.path();
        // A fresh log per run, so the port we read is this run's.
        let _ = std::fs::remove_file(self.log_path());
        let stderr_log = std::fs::File::create(d.join("ovsdb-server.stderr"))?;
        let child = Command::new(program("ovsdb-server"))
            .arg(format!("--remote=punix:{}", self.socket.display()))
            .arg(format!("--remote=ptcp:{}:127.0.0.1", self.tcp_port))
            .arg(format!(
                "--unixctl={}",
                d.join("ovsdb-server.ctl").display()
            ))
            .arg(format!(
                "--pidfile={}",
                d.join("ovsdb-server.pid").display()
            ))
            .arg(format!("--log-file={}", self.log_path().display()))
            .arg(&self.db_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr_log)
            .spawn()?;
        self.child = Some(child);
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                return Err(io::Error::other(format!(
                    "ovsdb-server exited at startup ({status}): {}\n{}",
                    std::fs::read_to_string(d.join("ovsdb-server.stderr")).unwrap_or_default(),
                    self.log_tail()
                )));
            }
            if self.tcp_port == 0 {
                self.tcp_port = self.port_from_log().unwrap_or(0);
            }
            let unix_up = std::os::unix::net::UnixStream::connect(&self.socket).is_ok();
            let tcp_up = self.tcp_port != 0
                && std::net::TcpStream::connect(("127.0.0.1", self.tcp_port)).is_ok();
            if unix_up && tcp_up {
                return Ok(());
            }
            if Instant::now() > deadline {
                self.stop();
                return Err(io::Error::other(format!(
                    "ovsdb-server did not start listening:\n{}",
                    self.log_tail()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `ptcp:0` makes the server log "listening on port N".
    fn port_from_log(&self) -> Option<u16> {
        let log = std::fs::read_to_string(self.log_path()).ok()?;
        log.lines()
            .find_map(|l| l.split("listening on port ").nth(1)?.trim().parse().ok())
    }

    /// Kills the server (SIGKILL to its pid, then reaps it). The database file stays.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same database file, socket and TCP port
    /// (stopping it first if it runs).
    pub fn restart(&mut self) -> io::Result<()> {
        self.stop();
        self.spawn()
    }

    /// Freezes the server (SIGSTOP to its pid): connections stay open but nothing is
    /// answered, like a hung or partitioned server.
    pub fn pause(&self) -> io::Result<()> {
        self.signal("-STOP")
    }

    /// Undoes [`OvsdbServer::pause`] (SIGCONT).
    pub fn resume(&self) -> io::Result<()> {
        self.signal("-CONT")
    }

    fn signal(&self, signal: &str) -> io::Result<()> {
        let pid = self
            .pid()
            .ok_or_else(|| io::Error::other("ovsdb-server is not running"))?;
        // Our own, not yet reaped child: its pid cannot have been reused.
        run(Command::new("kill").arg(signal).arg(pid.to_string())).map(drop)
    }

    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// The server's pid, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The database's name (from the schema), e.g. `OVN_Northbound`.
    pub fn db_name(&self) -> &str {
        &self.db_name
    }

    pub fn db_path(&self) -> &Path {
        &self.db_path
    }

    pub fn socket_path(&self) -> &Path {
        &self.socket
    }

    /// The temporary directory holding the database, socket and logs.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn tcp_port(&self) -> u16 {
        self.tcp_port
    }

    /// The unix socket endpoint.
    pub fn endpoint(&self) -> Endpoint {
        Endpoint::unix(&self.socket)
    }

    /// The TCP endpoint.
    pub fn tcp_endpoint(&self) -> Endpoint {
        Endpoint::tcp("127.0.0.1", self.tcp_port)
    }

    /// `unix:SOCKET`, as `--db=` of the ctl programs takes it.
    pub fn db_target(&self) -> String {
        format!("unix:{}", self.socket.display())
    }

    /// Runs `program --db=unix:SOCKET args…` (e.g. `ovn-nbctl`, `ovn-sbctl`, `ovs-vsctl`)
    /// and returns its stdout; an error carries its stderr.
    pub fn ctl(&self, program_name: &str, args: &[&str]) -> io::Result<String> {
        run(Command::new(program(program_name))
            .arg(format!("--db={}", self.db_target()))
            .args(args))
    }

    /// `ovn-nbctl --db=unix:SOCKET args…`.
    pub fn nbctl(&self, args: &[&str]) -> io::Result<String> {
        self.ctl("ovn-nbctl", args)
    }

    /// `ovn-sbctl --db=unix:SOCKET args…`.
    pub fn sbctl(&self, args: &[&str]) -> io::Result<String> {
        self.ctl("ovn-sbctl", args)
    }

    /// `ovs-vsctl --db=unix:SOCKET --no-wait args…` (no ovs-vswitchd runs here).
    pub fn vsctl(&self, args: &[&str]) -> io::Result<String> {
        let mut all = vec!["--no-wait"];
        all.extend_from_slice(args);
        self.ctl("ovs-vsctl", &all)
    }

    /// `ovsdb-tool transact DB 'ops'` on the database file: edits the data while the
    /// server is stopped. Returns the results.
    pub fn tool_transact(&self, ops: &serde_json::Value) -> io::Result<serde_json::Value> {
        let out = run(Command::new(program("ovsdb-tool"))
            .arg("transact")
            .arg(&self.db_path)
            .arg(ops.to_string()))?;
        serde_json::from_str(&out).map_err(io::Error::other)
    }
}

impl Drop for OvsdbServer {
    fn drop(&mut self) {
        self.stop();
    }
}
