//! What a heartbeat reports, read from haproxy's stats sockets as
//! upstream's `health_daemon.build_stats_message` does (with
//! `haproxy_query.HAProxyQuery.show_stat`/`get_pool_status` and
//! `calculate_stats_deltas`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::wire::{ListenerReport, PoolReport, Stats};
use crate::AgentConfig;
use crate::haproxy::{self, Paths};
use crate::keepalived;

/// One CSV line of `show stat`: column name → value.
pub type Row = BTreeMap<String, String>;

/// The counters delta stats are computed from (upstream's `DELTA_METRICS`).
const DELTA_METRICS: [&str; 4] = ["bin", "bout", "ereq", "stot"];

#[derive(Debug, thiserror::Error)]
pub enum StatsError {
    #[error("stats socket {0}: {1}")]
    Socket(PathBuf, std::io::Error),
    #[error("stats socket {0}: no answer in time")]
    Timeout(PathBuf),
    /// Upstream's `pxname.split(':')` unpacking fails: the whole query is
    /// dropped.
    #[error("backend {0:?} is not named \"pool:listener\"")]
    BackendName(String),
}

/// One CSV record (RFC 4180 quoting, as haproxy's `csv_enc` writes it).
fn csv_fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// Upstream's `show_stat` parsing: the answer without trailing blanks,
/// its first two characters (`# `) dropped, read as a CSV with a header
/// line; rows of the internal prometheus proxies are left out (not
/// billed traffic). Missing columns read as empty.
pub fn parse_show_stat(answer: &str) -> Vec<Row> {
    let text = answer.trim_end();
    let text = text.get(2..).unwrap_or("");
    let mut lines = text.split('\n').map(|l| l.trim_end_matches('\r'));
    let Some(header) = lines.next() else {
        return Vec::new();
    };
    let names = csv_fields(header);
    lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let values = csv_fields(l);
            names
                .iter()
                .enumerate()
                .filter(|(_, n)| !n.is_empty())
                .map(|(i, n)| (n.clone(), values.get(i).cloned().unwrap_or_default()))
                .collect::<Row>()
        })
        .filter(|r| !col(r, "pxname").contains("prometheus"))
        .collect()
}

fn col<'a>(row: &'a Row, name: &str) -> &'a str {
    row.get(name).map_or("", String::as_str)
}

/// Upstream's `get_pool_status` over the rows of `show stat -1 6 -1`
/// (backends and servers): backend `pool:listener` → its status and its
/// servers' statuses by server name, `UP` with weight 0 reported as
/// `DRAIN` (haproxy versions that get DRAIN wrong). A backend without a
/// `BACKEND` row has no status; upstream's message building then fails,
/// here the pool is left out.
pub fn pool_status(rows: &[Row]) -> Result<BTreeMap<String, PoolReport>, StatsError> {
    let mut pools: BTreeMap<String, (Option<String>, BTreeMap<String, String>)> = BTreeMap::new();
    for row in rows {
        let pxname = col(row, "pxname");
        let entry = pools.entry(pxname.to_string()).or_default();
        let svname = col(row, "svname");
        if svname == "BACKEND" {
            if pxname.split(':').count() != 2 {
                return Err(StatsError::BackendName(pxname.to_string()));
            }
            entry.0 = Some(col(row, "status").to_string());
        } else {
            let mut status = col(row, "status");
            if status == "UP" && col(row, "weight") == "0" {
                status = "DRAIN";
            }
            entry.1.insert(svname.to_string(), status.to_string());
        }
    }
    Ok(pools
        .into_iter()
        .filter_map(|(name, (status, members))| {
            Some((
                name,
                PoolReport {
                    status: status?,
                    members,
                },
            ))
        })
        .collect())
}

/// The absolute counters of every listener at the last heartbeat
/// (upstream's `stats_counters.json`, same JSON shape), so that a
/// restarted agent sends deltas, not totals again.
pub struct Counters {
    path: PathBuf,
    values: BTreeMap<String, BTreeMap<String, u64>>,
}

impl Counters {
    /// The file under `base_dir`; an unreadable or malformed one counts
    /// as empty, as upstream's.
    pub fn load(base_dir: &Path) -> Counters {
        let path = base_dir.join("stats_counters.json");
        let values = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        Counters { path, values }
    }

    /// Upstream's `calculate_stats_deltas`: each metric's increase since
    /// the last call, the stored value becoming the current one; a counter
    /// that went down (haproxy restarted) counts from 0. A value that is
    /// not a number counts as 0.
    pub fn deltas(&mut self, listener: &str, row: &Row) -> BTreeMap<&'static str, u64> {
        let last = self.values.entry(listener.to_string()).or_default();
        DELTA_METRICS
            .iter()
            .map(|&m| {
                let current = col(row, m).parse::<u64>().unwrap_or(0);
                let before = last.insert(m.to_string(), current).unwrap_or(0);
                (m, current.checked_sub(before).unwrap_or(current))
            })
            .collect()
    }

    /// Writes the file (mode 0640, as upstream's); failures are logged.
    pub fn persist(&self) {
        if let Err(e) = self.write() {
            tracing::warn!(path = %self.path.display(), error = %e, "could not persist the statistics counters");
        }
    }

    fn write(&self) -> std::io::Result<()> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let tmp = self.path.with_extension("json.tmp");
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o640)
            .open(&tmp)?;
        f.write_all(&serde_json::to_vec(&self.values).map_err(std::io::Error::other)?)?;
        std::fs::rename(tmp, &self.path)
    }
}

/// One command on a haproxy stats socket; the answer as text.
pub async fn query(socket: &Path, command: &str) -> Result<String, StatsError> {
    let io = |e| StatsError::Socket(socket.to_path_buf(), e);
    let talk = async {
        let mut s = tokio::net::UnixStream::connect(socket).await.map_err(io)?;
        s.write_all(format!("{command}\n").as_bytes())
            .await
            .map_err(io)?;
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.map_err(io)?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    };
    tokio::time::timeout(Duration::from_secs(5), talk)
        .await
        .map_err(|_| StatsError::Timeout(socket.to_path_buf()))?
}

/// Upstream's `get_stats`: all rows and the pool statuses of one haproxy.
async fn get_stats(socket: &Path) -> Result<(Vec<Row>, BTreeMap<String, PoolReport>), StatsError> {
    let rows = parse_show_stat(&query(socket, "show stat -1 -1 -1").await?);
    let pools = pool_status(&parse_show_stat(&query(socket, "show stat -1 6 -1").await?))?;
    Ok((rows, pools))
}

/// Listener and pool reports of every load balancer whose haproxy runs.
/// A haproxy that cannot be asked (no `stats socket` in its config, no
/// answer) contributes nothing, and the heartbeat still goes out.
pub async fn collect(
    cfg: &AgentConfig,
    counters: &mut Counters,
) -> (
    BTreeMap<String, ListenerReport>,
    BTreeMap<String, PoolReport>,
) {
    let mut listeners = BTreeMap::new();
    let mut pools = BTreeMap::new();
    for lb in haproxy::loadbalancers(cfg) {
        if !haproxy::running(cfg, &lb) {
            continue;
        }
        let text = std::fs::read_to_string(Paths(cfg).cfg(&lb)).unwrap_or_default();
        let Some(socket) = keepalived::stats_socket(&text) else {
            tracing::warn!(lb = %lb, "no stats socket in the haproxy configuration");
            continue;
        };
        let (rows, lb_pools) = match get_stats(Path::new(&socket)).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(lb = %lb, error = %e, "unable to query the haproxy stats");
                continue;
            }
        };
        for row in rows.iter().filter(|r| col(r, "svname") == "FRONTEND") {
            let id = col(row, "pxname").to_string();
            let d = counters.deltas(&id, row);
            let report = ListenerReport {
                status: col(row, "status").to_string(),
                stats: Stats {
                    tx: d["bout"],
                    rx: d["bin"],
                    conns: col(row, "scur").parse().unwrap_or(0),
                    totconns: d["stot"],
                    ereq: d["ereq"],
                },
            };
            listeners.insert(id, report);
        }
        pools.extend(lb_pools);
    }
    (listeners, pools)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// haproxy 2.6's `show stat` (first 19 columns): a frontend, a backend
    /// with a checked live and dead server, an unchecked weight-0 one, a
    /// backup, a draining one; and the prometheus proxies upstream skips.
    const SHOW_STAT: &str = "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,\n\
        l1,FRONTEND,,,2,3,100,7,700,1400,0,0,1,,,,,OPEN,,\n\
        p1:l1,m1,0,0,0,1,,4,0,0,,0,,0,0,0,0,UP,1,\n\
        p1:l1,m2,0,0,0,0,,0,0,0,,0,,0,0,0,0,DOWN,1,\n\
        p1:l1,m3,0,0,0,0,,0,0,0,,0,,0,0,0,0,no check,0,\n\
        p1:l1,m4,0,0,0,0,,0,0,0,,0,,0,0,0,0,\"DOWN 1/2\",1,\n\
        p1:l1,m5,0,0,0,0,,0,0,0,,0,,0,0,0,0,UP,0,\n\
        p1:l1,BACKEND,0,0,0,0,10,7,0,0,0,0,,0,0,0,0,UP,2,\n\
        prometheus-exporter-internal-endpoint,FRONTEND,,,0,0,100,9,0,0,0,0,0,,,,,OPEN,,\n\
        prometheus-exporter-internal,BACKEND,0,0,0,0,10,0,0,0,0,0,,0,0,0,0,UP,0,\n\n";

    #[test]
    fn show_stat_rows() {
        let rows = parse_show_stat(SHOW_STAT);
        assert_eq!(rows.len(), 7, "prometheus rows are left out");
        let fe = &rows[0];
        assert_eq!(
            (col(fe, "pxname"), col(fe, "svname"), col(fe, "status")),
            ("l1", "FRONTEND", "OPEN")
        );
        assert_eq!(
            (col(fe, "stot"), col(fe, "bin"), col(fe, "bout")),
            ("7", "700", "1400")
        );
        assert_eq!(col(&rows[4], "status"), "DOWN 1/2", "quoted field");
        assert!(parse_show_stat("").is_empty());
        assert!(parse_show_stat("# pxname,svname\n").is_empty());
    }

    #[test]
    fn pool_status_as_upstream() {
        let rows: Vec<Row> = parse_show_stat(SHOW_STAT)
            .into_iter()
            .filter(|r| col(r, "svname") != "FRONTEND")
            .collect();
        let pools = pool_status(&rows).unwrap();
        assert_eq!(pools.keys().collect::<Vec<_>>(), ["p1:l1"]);
        let p = &pools["p1:l1"];
        assert_eq!(p.status, "UP");
        let members: Vec<(&str, &str)> = p
            .members
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            members,
            [
                ("m1", "UP"),
                ("m2", "DOWN"),
                ("m3", "no check"),
                ("m4", "DOWN 1/2"),
                ("m5", "DRAIN"),
            ]
        );
    }

    #[test]
    fn a_backend_not_named_pool_listener_drops_the_query() {
        let rows =
            parse_show_stat("# pxname,svname,status,weight\npool,m1,UP,1\npool,BACKEND,UP,1\n");
        assert!(matches!(pool_status(&rows), Err(StatsError::BackendName(n)) if n == "pool"));
        // Servers of a backend without its BACKEND row: no pool.
        let rows = parse_show_stat("# pxname,svname,status,weight\np:l,m1,UP,1\n");
        assert!(pool_status(&rows).unwrap().is_empty());
    }

    fn row(bin: u64, bout: u64, ereq: u64, stot: u64) -> Row {
        [("bin", bin), ("bout", bout), ("ereq", ereq), ("stot", stot)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn deltas_and_counter_resets() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Counters::load(dir.path());
        let d = c.deltas("l1", &row(100, 200, 1, 5));
        assert_eq!(
            (d["bin"], d["bout"], d["ereq"], d["stot"]),
            (100, 200, 1, 5)
        );
        let d = c.deltas("l1", &row(150, 200, 1, 8));
        assert_eq!((d["bin"], d["bout"], d["ereq"], d["stot"]), (50, 0, 0, 3));
        // haproxy restarted: what it counted since then.
        let d = c.deltas("l1", &row(10, 20, 0, 2));
        assert_eq!((d["bin"], d["bout"], d["ereq"], d["stot"]), (10, 20, 0, 2));
        // Another listener has counters of its own.
        assert_eq!(c.deltas("l2", &row(1, 1, 1, 1))["stot"], 1);

        // A restarted agent goes on from the persisted values.
        c.persist();
        let text = std::fs::read_to_string(dir.path().join("stats_counters.json")).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            v["l1"],
            serde_json::json!({"bin": 10, "bout": 20, "ereq": 0, "stot": 2})
        );
        let mut again = Counters::load(dir.path());
        let d = again.deltas("l1", &row(12, 20, 0, 3));
        assert_eq!((d["bin"], d["stot"]), (2, 1));

        // A broken file counts as empty.
        std::fs::write(dir.path().join("stats_counters.json"), "{not json").unwrap();
        assert_eq!(
            Counters::load(dir.path()).deltas("l1", &row(4, 4, 4, 4))["stot"],
            4
        );
    }
}
