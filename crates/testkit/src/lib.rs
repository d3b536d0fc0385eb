//! Helpers for Neutrino's integration tests.
//!
//! * Databases: [`postgres_database`] makes a fresh, empty PostgreSQL database per call on
//!   the throwaway server named by `NEUTRINO_TEST_POSTGRES_URL` (started by
//!   `scripts/test.sh`, or by hand with `scripts/pg-test-server.sh start`);
//!   [`sqlite_url`] names a SQLite file in a temp dir.
//! * The Python venv with the `openstack` CLI (made by `scripts/setup.sh`): [`venv_bin`].
//! * Processes and sockets: [`free_tcp_port`], [`ChildGuard`], [`wait_for_file`],
//!   [`wait_for_tcp`].

use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};

pub use tempfile;

/// Env var holding the URL of a PostgreSQL maintenance database on a throwaway server,
/// where the tests may `CREATE DATABASE` (e.g. `postgres://postgres@127.0.0.1:55432/postgres`).
pub const POSTGRES_URL_ENV: &str = "NEUTRINO_TEST_POSTGRES_URL";
/// Env var holding the path of the Python venv made by `scripts/setup.sh`.
pub const VENV_ENV: &str = "NEUTRINO_TEST_VENV";

/// How long [`ChildGuard`] waits after SIGTERM before it sends SIGKILL.
pub const CHILD_GRACE: Duration = Duration::from_secs(5);

const NO_POSTGRES_HELP: &str = "NEUTRINO_TEST_POSTGRES_URL is not set: run the tests through \
     `scripts/test.sh`, or start a throwaway server with `scripts/pg-test-server.sh start` and \
     export the URL it prints: `export NEUTRINO_TEST_POSTGRES_URL=\"$(scripts/pg-test-server.sh start)\"` \
     (stop it later with `scripts/pg-test-server.sh stop`)";

fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The workspace root (the directory holding the root `Cargo.toml`), as compiled in.
pub fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| manifest_dir.to_path_buf())
}

// ---------------------------------------------------------------- PostgreSQL

/// Whether a test PostgreSQL server has been provided (`NEUTRINO_TEST_POSTGRES_URL` is set).
pub fn postgres_available() -> bool {
    non_empty_env(POSTGRES_URL_ENV).is_some()
}

/// Creates a fresh, empty database `t_<uuid>` on the server named by
/// `NEUTRINO_TEST_POSTGRES_URL` and returns its URL. Databases are never dropped: the
/// server is thrown away after the run.
///
/// Errors (with instructions) if the env var is not set.
pub async fn postgres_database() -> anyhow::Result<String> {
    postgres_database_with(non_empty_env(POSTGRES_URL_ENV).as_deref()).await
}

/// For tests that may skip themselves outside CI: `Ok(None)` (after printing a note) when
/// no test server is configured and `CI` is not `true`; otherwise [`postgres_database`]
/// (so under CI a missing server is an error, never a silent skip).
pub async fn postgres_database_or_skip() -> anyhow::Result<Option<String>> {
    if !postgres_available() && std::env::var("CI").as_deref() != Ok("true") {
        eprintln!(
            "skipping PostgreSQL part: {POSTGRES_URL_ENV} not set (see scripts/pg-test-server.sh)"
        );
        return Ok(None);
    }
    postgres_database().await.map(Some)
}

/// Like [`postgres_database`], on the server of the given maintenance-database URL.
pub async fn postgres_database_on(maintenance_url: &str) -> anyhow::Result<String> {
    postgres_database_with(Some(maintenance_url)).await
}

async fn postgres_database_with(maintenance_url: Option<&str>) -> anyhow::Result<String> {
    let Some(maintenance_url) = maintenance_url else {
        bail!("{NO_POSTGRES_HELP}");
    };
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    let mut conn = connect_pg_with_retry(maintenance_url)
        .await
        .with_context(|| {
            format!("connecting to {maintenance_url} ({POSTGRES_URL_ENV}); is the server running?")
        })?;
    conn.execute(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .await
        .with_context(|| format!("CREATE DATABASE \"{name}\" on {maintenance_url}"))?;
    // Best effort: the database exists whatever happens to this connection now.
    let _ = conn.close().await;
    let url = url_with_database(maintenance_url, &name)?;
    tracing::debug!(%url, "created test database");
    Ok(url)
}

async fn connect_pg_with_retry(url: &str) -> anyhow::Result<PgConnection> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match PgConnection::connect(url).await {
            Ok(conn) => return Ok(conn),
            // Transient: server still starting, or briefly out of connection slots.
            Err(e) if attempt < 5 && is_transient(&e) => {
                tracing::debug!(error = %e, attempt, "retrying PostgreSQL connection");
                tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

fn is_transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut => true,
        // 53300 too_many_connections, 57P03 cannot_connect_now (starting up)
        sqlx::Error::Database(db) => matches!(db.code().as_deref(), Some("53300" | "57P03")),
        _ => false,
    }
}

/// Replaces the database (the path) of a `postgres://` URL, keeping any query string.
fn url_with_database(url: &str, database: &str) -> anyhow::Result<String> {
    let scheme_end = url
        .find("://")
        .with_context(|| format!("not a URL: {url:?}"))?
        + 3;
    let rest = &url[scheme_end..];
    let query_start = rest.find('?').unwrap_or(rest.len());
    let authority_end = rest[..query_start].find('/').unwrap_or(query_start);
    Ok(format!(
        "{}{}/{}{}",
        &url[..scheme_end],
        &rest[..authority_end],
        database,
        &rest[query_start..]
    ))
}

// ---------------------------------------------------------------- SQLite

/// URL of a SQLite database file `neutrino.db` in `dir`, created on first connect.
pub fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}/neutrino.db?mode=rwc", dir.display())
}

// ---------------------------------------------------------------- Python venv

/// The venv made by `scripts/setup.sh`: `$NEUTRINO_TEST_VENV`, else `$NEUTRINO_VENV`,
/// else `<workspace root>/.venv`.
pub fn venv_dir() -> PathBuf {
    non_empty_env(VENV_ENV)
        .or_else(|| non_empty_env("NEUTRINO_VENV"))
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".venv"))
}

/// Path of the executable `name` (e.g. `openstack`) in the venv's `bin/`; an error if it
/// is not there.
pub fn venv_bin(name: &str) -> anyhow::Result<PathBuf> {
    let venv = venv_dir();
    let path = venv.join("bin").join(name);
    if path.is_file() {
        Ok(path)
    } else {
        bail!(
            "{} not found: the Python venv {} is missing or incomplete; run `scripts/setup.sh` \
             (or run the tests through `scripts/test.sh`)",
            path.display(),
            venv.display()
        )
    }
}

// ---------------------------------------------------------------- sockets

/// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released).
pub fn free_tcp_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("binding 127.0.0.1:0")
}

/// Waits until a TCP connection to `addr` succeeds, polling, for at most `timeout`.
pub async fn wait_for_tcp(addr: impl ToSocketAddrs, timeout: Duration) -> anyhow::Result<()> {
    let addrs: Vec<SocketAddr> = addr
        .to_socket_addrs()
        .context("resolving address")?
        .collect();
    if addrs.is_empty() {
        bail!("address resolved to nothing");
    }
    let deadline = Instant::now() + timeout;
    loop {
        let last_err = match tokio::time::timeout(
            Duration::from_secs(1),
            tokio::net::TcpStream::connect(&addrs[..]),
        )
        .await
        {
            Ok(Ok(_stream)) => return Ok(()),
            Ok(Err(e)) => e.to_string(),
            Err(_) => "connect timed out".to_string(),
        };
        if Instant::now() >= deadline {
            bail!(
                "nothing accepted TCP connections on {addrs:?} within {timeout:?} (last error: {last_err})"
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until `path` exists, polling, for at most `timeout`.
pub async fn wait_for_file(path: impl AsRef<Path>, timeout: Duration) -> anyhow::Result<()> {
    let path = path.as_ref();
    let deadline = Instant::now() + timeout;
    loop {
        if tokio::fs::try_exists(path).await.unwrap_or(false) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!("{} did not appear within {timeout:?}", path.display());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ---------------------------------------------------------------- processes

/// Owns a child process and ends exactly that process when dropped: SIGTERM, then
/// SIGKILL if it has not exited after [`CHILD_GRACE`]. The child is reaped, so its pid
/// is never signalled after it could have been reused.
///
/// Derefs to [`std::process::Child`].
#[derive(Debug)]
pub struct ChildGuard(pub Child);

impl ChildGuard {
    pub fn new(child: Child) -> Self {
        Self(child)
    }

    /// Spawns `cmd` and guards the child.
    pub fn spawn(cmd: &mut Command) -> anyhow::Result<Self> {
        let child = cmd.spawn().with_context(|| format!("spawning {cmd:?}"))?;
        Ok(Self(child))
    }

    /// Ends the child now: SIGTERM, SIGKILL after `grace`. Returns its exit status
    /// (immediately if it had already exited).
    pub fn terminate(&mut self, grace: Duration) -> std::io::Result<ExitStatus> {
        if let Some(status) = self.0.try_wait()? {
            return Ok(status);
        }
        // SIGTERM without unsafe code: the kill(1) utility, aimed at our own,
        // not-yet-reaped child (its pid cannot have been reused).
        let sent = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if sent {
            let deadline = Instant::now() + grace;
            while Instant::now() < deadline {
                if let Some(status) = self.0.try_wait()? {
                    return Ok(status);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        // Still there (or SIGTERM could not be sent): SIGKILL.
        match self.0.kill() {
            Ok(()) => {}
            // Already exited between the last poll and now.
            Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => {}
            Err(e) => return Err(e),
        }
        self.0.wait()
    }
}

impl Deref for ChildGuard {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl DerefMut for ChildGuard {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Err(e) = self.terminate(CHILD_GRACE) {
            tracing::warn!(pid = self.0.id(), error = %e, "could not end child process");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_with_database_replaces_the_path() {
        let f = |u| url_with_database(u, "t_x").unwrap();
        assert_eq!(
            f("postgres://postgres@127.0.0.1:55432/postgres"),
            "postgres://postgres@127.0.0.1:55432/t_x"
        );
        assert_eq!(
            f("postgres://u:p@h:1/db?sslmode=disable"),
            "postgres://u:p@h:1/t_x?sslmode=disable"
        );
        assert_eq!(f("postgres://h:1"), "postgres://h:1/t_x");
        assert_eq!(f("postgres://h:1?x=y"), "postgres://h:1/t_x?x=y");
        assert!(url_with_database("nonsense", "t_x").is_err());
    }

    #[tokio::test]
    async fn missing_postgres_url_explains_what_to_do() {
        let err = postgres_database_with(None).await.unwrap_err().to_string();
        assert!(err.contains("scripts/test.sh"), "{err}");
        assert!(err.contains("scripts/pg-test-server.sh start"), "{err}");
        assert!(err.contains(POSTGRES_URL_ENV), "{err}");
    }

    #[test]
    fn workspace_root_holds_the_workspace_manifest() {
        let root = workspace_root();
        let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
        assert!(manifest.contains("[workspace]"));
        assert!(root.join("crates/testkit").is_dir());
    }
}
