//! What the tests that run in network namespaces of their own share:
//! unique names, `ip`, processes by PID, and namespaces that clean up
//! after themselves.

// Each test crate uses only some of these.
#![allow(dead_code)]

use std::os::fd::AsFd;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// A suffix unique to this process and moment, for namespace names.
pub fn tag() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{}-{nanos:x}", std::process::id())
}

/// `ip` with `args`; panics with its output when it fails.
pub fn ip(args: &[&str]) -> String {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {}: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The processes in network namespace `ns` (none if it is gone).
pub fn netns_pids(ns: &str) -> Vec<i32> {
    Command::new("ip")
        .args(["netns", "pids", ns])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

pub fn signal(pid: i32, sig: rustix::process::Signal) {
    if let Some(p) = rustix::process::Pid::from_raw(pid) {
        let _ = rustix::process::kill_process(p, sig);
    }
}

/// Running, and not a zombie (nobody reaps what daemons leave here).
pub fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X']))
    })
}

/// Polls `f` every 50 ms until it holds or `limit` has passed.
pub fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    f()
}

/// Namespaces of the test's own; on drop, what runs in them (all started
/// by the test) is killed by PID and they are deleted, last first.
#[derive(Default)]
pub struct Namespaces(Vec<String>);

impl Namespaces {
    /// Creates `name`, its loopback down as `ip netns add` leaves it.
    pub fn add(&mut self, name: String) -> String {
        ip(&["netns", "add", &name]);
        self.0.push(name.clone());
        name
    }
    /// Creates `name` with its loopback up.
    pub fn add_with_lo(&mut self, name: String) -> String {
        let name = self.add(name);
        ip(&["-n", &name, "link", "set", "dev", "lo", "up"]);
        name
    }
    /// A name the code under test creates; deleted with the others.
    pub fn adopt(&mut self, name: String) -> String {
        self.0.push(name.clone());
        name
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for ns in &self.0 {
            for pid in netns_pids(ns) {
                signal(pid, rustix::process::Signal::KILL);
            }
        }
        let _ = wait_until(Duration::from_secs(5), || {
            self.0
                .iter()
                .all(|ns| netns_pids(ns).into_iter().all(|p| !alive(p)))
        });
        for ns in self.0.iter().rev() {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// Runs `f` on a thread inside network namespace `ns`: sockets it makes
/// stay in there wherever they are used.
pub fn in_netns<T: Send>(ns: &str, f: impl FnOnce() -> T + Send) -> T {
    let file = std::fs::File::open(Path::new("/run/netns").join(ns)).unwrap();
    std::thread::scope(|s| {
        s.spawn(move || {
            rustix::thread::move_into_link_name_space(
                file.as_fd(),
                Some(rustix::thread::LinkNameSpaceType::Network),
            )
            .expect("enter the namespace");
            f()
        })
        .join()
        .unwrap()
    })
}
