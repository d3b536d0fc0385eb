//! The host: network devices and namespaces (through iproute2's `ip`),
//! offloads (`ethtool`), and processes (through /proc).

use std::path::Path;
use std::process::Stdio;

use crate::error::{Error, Result};

/// Linux's IFNAMSIZ less the terminating NUL.
pub const MAX_IFNAME: usize = 15;

/// Checks a network device name as the kernel would.
pub fn check_ifname(what: &str, name: &str) -> Result<()> {
    let bad = |why: &str| Err(Error::Config(format!("{what} {name:?}: {why}")));
    if name.is_empty() {
        return bad("empty");
    }
    if name.len() > MAX_IFNAME {
        return bad("longer than 15 bytes (a Linux interface name)");
    }
    if name == "." || name == ".." {
        return bad("not a valid interface name");
    }
    if name
        .chars()
        .any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control())
    {
        return bad("contains '/', ':' or white space");
    }
    Ok(())
}

/// Checks a network namespace name (a file under /run/netns).
pub fn check_netns(name: &str) -> Result<()> {
    if name.is_empty()
        || name == "."
        || name == ".."
        || name.contains('/')
        || name.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(Error::Config(format!(
            "network namespace name {name:?} is not valid"
        )));
    }
    Ok(())
}

/// Runs a program, returning its stdout; a failure carries its stderr.
pub async fn run(program: &str, args: &[&str]) -> Result<String> {
    let command = || format!("{program} {}", args.join(" "));
    let out = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| Error::Command {
            command: command(),
            detail: if e.kind() == std::io::ErrorKind::NotFound {
                format!("{program} is not installed")
            } else {
                e.to_string()
            },
        })?;
    if !out.status.success() {
        return Err(Error::Command {
            command: command(),
            detail: format!(
                "{}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `ip ARGS`, or `ip -n NETNS ARGS`.
pub async fn ip(netns: Option<&str>, args: &[&str]) -> Result<String> {
    let mut all = Vec::with_capacity(args.len() + 2);
    if let Some(ns) = netns {
        all.extend(["-n", ns]);
    }
    all.extend_from_slice(args);
    run("ip", &all).await
}

/// Whether a device of that name exists in the host's namespace.
pub fn link_exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

/// Whether a device exists in a namespace (the host's when `None`).
pub async fn link_exists_in(netns: Option<&str>, name: &str) -> bool {
    match netns {
        None => link_exists(name),
        Some(ns) => ip(Some(ns), &["link", "show", "dev", name]).await.is_ok(),
    }
}

/// Whether a host device is a tun/tap device (what netdev ovs-vswitchd
/// creates for its datapath and internal ports).
pub fn is_tap(name: &str) -> bool {
    Path::new("/sys/class/net")
        .join(name)
        .join("tun_flags")
        .exists()
}

/// Deletes a host device if it exists.
pub async fn delete_link(name: &str) -> Result<()> {
    if !link_exists(name) {
        return Ok(());
    }
    match ip(None, &["link", "del", "dev", name]).await {
        // Gone in between (e.g. the peer of a veth was deleted).
        Err(_) if !link_exists(name) => Ok(()),
        other => other.map(|_| ()),
    }
}

pub fn netns_exists(name: &str) -> bool {
    Path::new("/run/netns").join(name).exists()
}

/// Creates a network namespace unless it exists; brings its loopback up.
pub async fn ensure_netns(name: &str) -> Result<()> {
    check_netns(name)?;
    if !netns_exists(name)
        && let Err(e) = ip(None, &["netns", "add", name]).await
        && !netns_exists(name)
    {
        return Err(e);
    }
    ip(Some(name), &["link", "set", "dev", "lo", "up"]).await?;
    Ok(())
}

/// Turns off TX checksum offload on a device. The userspace datapath
/// forwards what a veth hands it with the checksum still to be filled in,
/// so TCP (whose checksum the kernel leaves to the "hardware") breaks
/// without this; ICMP and UDP with software checksums do not notice.
pub async fn tx_offload_off(netns: Option<&str>, ifname: &str) -> Result<()> {
    let args = ["-K", ifname, "tx", "off"];
    match netns {
        None => run("ethtool", &args).await.map(|_| ()),
        Some(ns) => {
            let mut all = vec!["netns", "exec", ns, "ethtool"];
            all.extend_from_slice(&args);
            run("ip", &all).await.map(|_| ())
        }
    }
}

/// The host's name, as the kernel has it.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// Whether a process exists and is not a zombie.
pub fn process_alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the parenthesised command, which may contain spaces.
    let state = stat
        .rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().next());
    !matches!(state, Some("Z") | Some("X") | None)
}

/// The command line of a process, arguments split.
pub fn cmdline(pid: u32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            b.split(|c| *c == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Live processes whose executable name (comm) is `comm`.
pub fn pids_named(comm: &str) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out: Vec<u32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim_end() == comm_prefix(comm))
                && process_alive(*pid)
        })
        .collect();
    out.sort_unstable();
    out
}

/// Whether a process is in this process's network namespace, where our
/// devices are. `None` when /proc does not tell (another user's process).
pub fn shares_netns(pid: u32) -> Option<bool> {
    let ns = |p: &str| std::fs::read_link(format!("/proc/{p}/ns/net")).ok();
    Some(ns(&pid.to_string())? == ns("self")?)
}

/// The names of the tun/tap devices a process holds open (the `iff:` line
/// of /proc/PID/fdinfo/FD of its /dev/net/tun descriptors): what it owns,
/// in its own network namespace. `None` when /proc does not tell.
pub fn tap_names_held(pid: u32) -> Option<Vec<String>> {
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
    let mut out = Vec::new();
    for fd in fds.flatten() {
        if std::fs::read_link(fd.path()).is_ok_and(|t| t == Path::new("/dev/net/tun")) {
            let info = format!("/proc/{pid}/fdinfo/{}", fd.file_name().to_string_lossy());
            let info = std::fs::read_to_string(info).unwrap_or_default();
            out.extend(
                info.lines()
                    .filter_map(|l| l.strip_prefix("iff:"))
                    .map(|n| n.trim().to_string()),
            );
        }
    }
    Some(out)
}

/// /proc/PID/comm holds at most 15 bytes of the name.
fn comm_prefix(comm: &str) -> &str {
    &comm[..comm.len().min(15)]
}

/// Sends a signal; a process that is already gone is not an error.
pub fn signal(pid: u32, sig: rustix::process::Signal) {
    let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return;
    };
    let _ = rustix::process::kill_process(pid, sig);
}

/// Waits (blocking, polling) until a process is gone; true if it is.
pub fn wait_gone_blocking(pid: u32, timeout: std::time::Duration) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    while process_alive(pid) {
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    true
}

/// Stops a process we do not own a handle to: SIGTERM, then SIGKILL.
pub fn terminate_blocking(pid: u32, grace: std::time::Duration) {
    use rustix::process::Signal;
    if !process_alive(pid) {
        return;
    }
    signal(pid, Signal::TERM);
    if !wait_gone_blocking(pid, grace) {
        signal(pid, Signal::KILL);
        wait_gone_blocking(pid, std::time::Duration::from_secs(2));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_names_follow_the_kernel_rules() {
        assert!(check_ifname("bridge", "br-int").is_ok());
        assert!(check_ifname("bridge", "br-123456789012").is_ok());
        assert!(check_ifname("bridge", "br-1234567890123").is_err());
        assert!(check_ifname("bridge", "a b").is_err());
        assert!(check_ifname("bridge", "a/b").is_err());
        assert!(check_ifname("bridge", "").is_err());
        assert!(check_netns("ns-1").is_ok());
        assert!(check_netns("../x").is_err());
    }

    #[test]
    fn this_process_is_alive_and_named() {
        let me = std::process::id();
        assert!(process_alive(me));
        assert!(!cmdline(me).is_empty());
        assert!(!process_alive(u32::MAX - 1));
    }

    #[test]
    fn this_process_shares_its_netns_and_holds_no_tap() {
        let me = std::process::id();
        assert_eq!(shares_netns(me), Some(true));
        assert_eq!(tap_names_held(me), Some(vec![]));
        assert_eq!(shares_netns(u32::MAX - 1), None);
    }
}
