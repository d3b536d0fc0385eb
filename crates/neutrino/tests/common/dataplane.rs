//! Host and `neutrino up` helpers of the data-path tests (dataplane_e2e,
//! lb_amphora_e2e): namespaces, veths and bridges removed on drop, `up` with
//! free ports, the real `openstack` client, TCP probes.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use neutrino_testkit::{ChildGuard, free_tcp_port, venv_bin};
use serde_json::Value;
pub const BIN: &str = env!("CARGO_BIN_EXE_neutrino");

pub fn sh(args: &[&str]) -> Result<Output> {
    Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {}", args.join(" ")))
}

pub fn must(args: &[&str]) -> Result<String> {
    let out = sh(args)?;
    ensure!(
        out.status.success(),
        "`{}` failed: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

pub fn in_ns(ns: &str, args: &[&str]) -> Result<String> {
    let mut all = vec!["ip", "netns", "exec", ns];
    all.extend_from_slice(args);
    must(&all)
}

/// Host objects this test made; removed on drop, in reverse order.
#[derive(Default)]
pub struct Host {
    pub netns: Vec<String>,
    pub links: Vec<String>,
    pub etc: Vec<PathBuf>,
}

impl Host {
    pub fn netns(&mut self, name: &str) -> Result<()> {
        must(&["ip", "netns", "add", name])?;
        self.netns.push(name.into());
        // dhclient-script writes resolv.conf: `ip netns exec` bind-mounts
        // /etc/netns/NAME/ over /etc, so it writes this one, not the host's.
        let etc = PathBuf::from("/etc/netns").join(name);
        std::fs::create_dir_all(&etc)?;
        std::fs::write(etc.join("resolv.conf"), "")?;
        self.etc.push(etc);
        in_ns(name, &["ip", "link", "set", "lo", "up"])?;
        Ok(())
    }

    /// A veth pair; `a` stays in the host (or `ns_a`), `b` goes to `ns_b`.
    pub fn veth(&mut self, a: &str, b: &str, ns_b: Option<(&str, &str)>) -> Result<()> {
        must(&["ip", "link", "add", a, "type", "veth", "peer", "name", b])?;
        self.links.push(a.into());
        // Userspace datapath + veth: checksums must be complete on the wire.
        let _ = sh(&["ethtool", "-K", a, "tx", "off"]);
        must(&["ip", "link", "set", a, "up"])?;
        match ns_b {
            Some((ns, ifname)) => {
                must(&["ip", "link", "set", b, "netns", ns])?;
                in_ns(ns, &["ip", "link", "set", b, "name", ifname])?;
                let _ = sh(&[
                    "ip", "netns", "exec", ns, "ethtool", "-K", ifname, "tx", "off",
                ]);
                in_ns(ns, &["ip", "link", "set", ifname, "up"])?;
            }
            None => {
                let _ = sh(&["ethtool", "-K", b, "tx", "off"]);
                must(&["ip", "link", "set", b, "up"])?;
            }
        }
        Ok(())
    }

    pub fn bridge(&mut self, name: &str) -> Result<()> {
        must(&["ip", "link", "add", name, "type", "bridge"])?;
        self.links.push(name.into());
        must(&["ip", "link", "set", name, "up"])?;
        Ok(())
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        for l in self.links.iter().rev() {
            let _ = sh(&["ip", "link", "del", l]);
        }
        for n in self.netns.iter().rev() {
            let _ = sh(&["ip", "netns", "del", n]);
        }
        for e in &self.etc {
            let _ = std::fs::remove_dir_all(e);
        }
    }
}

pub struct Up {
    pub child: ChildGuard,
    pub dir: PathBuf,
}

impl Up {
    pub fn start(dir: &Path, extra: &[&str]) -> Result<Up> {
        Self::start_with_env(dir, extra, &[])
    }

    /// [`Up::start`] with extra environment (set after the developer's
    /// NEUTRINO_*/OS_* settings are removed).
    pub fn start_with_env(dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Result<Up> {
        let log = std::fs::File::create(dir.join("up.log"))?;
        let mut cmd = Command::new(BIN);
        cmd.current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "info")
            .args(["up", "--data-dir"])
            .arg(dir.join("data"))
            .arg("--identity-listen")
            .arg(format!("127.0.0.1:{}", free_tcp_port()))
            .arg("--network-listen")
            .arg(format!("127.0.0.1:{}", free_tcp_port()))
            .arg("--ovn-nb-listen")
            .arg(format!("127.0.0.1:{}", free_tcp_port()))
            .arg("--ovn-sb-listen")
            .arg(format!("127.0.0.1:{}", free_tcp_port()))
            .args(["--ovn-audit-interval", "5"])
            .args(extra);
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("NEUTRINO_")
                || k.to_string_lossy().starts_with("OS_")
            {
                cmd.env_remove(k);
            }
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut up = Up {
            child: ChildGuard::spawn(&mut cmd)?,
            dir: dir.to_path_buf(),
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        while !dir.join("data/clouds.yaml").exists() {
            if let Some(s) = up.child.0.try_wait()? {
                bail!("neutrino up exited ({s}):\n{}", up.log());
            }
            ensure!(Instant::now() < deadline, "no clouds.yaml:\n{}", up.log());
            std::thread::sleep(Duration::from_millis(200));
        }
        Ok(up)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("up.log")).unwrap_or_default()
    }

    pub fn openstack(&self, args: &[&str]) -> Result<String> {
        let mut c = Command::new(venv_bin("openstack")?);
        c.args(args)
            .stdin(Stdio::null())
            .env("OS_CLOUD", "neutrino")
            .env("OS_CLIENT_CONFIG_FILE", self.dir.join("data/clouds.yaml"));
        let out = c.output()?;
        ensure!(
            out.status.success(),
            "`openstack {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    pub fn json(&self, args: &[&str]) -> Result<Value> {
        let mut all = args.to_vec();
        all.extend(["-f", "json"]);
        Ok(serde_json::from_str(&self.openstack(&all)?)?)
    }

    pub fn neutrino(&self, args: &[&str]) -> Result<String> {
        let out = Command::new(BIN)
            .args(args)
            .env("OS_CLOUD", "neutrino")
            .env("OS_CLIENT_CONFIG_FILE", self.dir.join("data/clouds.yaml"))
            .output()?;
        ensure!(
            out.status.success(),
            "`neutrino {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    pub fn stop(mut self) -> Result<()> {
        let status = self.child.terminate(Duration::from_secs(30))?;
        ensure!(
            status.success(),
            "neutrino up exited with {status}:\n{}",
            self.log()
        );
        Ok(())
    }
}

pub fn suffix() -> String {
    format!(
        "{:04x}",
        std::process::id() as u16 ^ (Instant::now().elapsed().subsec_nanos() as u16)
    )
}

pub fn wait_until(
    what: &str,
    within: Duration,
    mut ok: impl FnMut() -> Result<bool>,
) -> Result<()> {
    let deadline = Instant::now() + within;
    loop {
        match ok() {
            Ok(true) => return Ok(()),
            Ok(false) => {}
            Err(e) if Instant::now() > deadline => {
                return Err(e.context(format!("waiting for {what}")));
            }
            Err(_) => {}
        }
        ensure!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// A TCP listener in `ns` that prints each peer's address, one per line.
pub fn listener(ns: &str, port: u16, out: &Path) -> Result<ChildGuard> {
    let script = format!(
        "import socket,sys\ns=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n\
         s.bind(('0.0.0.0',{port}));s.listen(8)\nwhile True:\n c,a=s.accept()\n \
         open('{}','a').write(a[0]+'\\n');c.close()\n",
        out.display()
    );
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns, "python3", "-c", &script])
        .stdin(Stdio::null());
    let g = ChildGuard::spawn(&mut cmd)?;
    std::thread::sleep(Duration::from_millis(300));
    Ok(g)
}

/// The peer addresses a [`listener`] wrote to `out`, once `want` is among
/// them or 5 s have passed: a connect returns when the kernel completes
/// the handshake, before the listener has accepted and written the peer.
pub fn peers_seen(out: &Path, want: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let peers = std::fs::read_to_string(out).unwrap_or_default();
        if peers.lines().any(|l| l == want) || std::time::Instant::now() > deadline {
            return peers;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether a TCP connection from `ns` to `ip:port` succeeds within 2 s.
pub fn connects(ns: &str, ip: &str, port: u16) -> Result<bool> {
    let script = format!(
        "import socket,sys\ns=socket.socket();s.settimeout(2)\n\
         try:\n s.connect(('{ip}',{port}));sys.exit(0)\nexcept Exception:\n sys.exit(1)\n"
    );
    Ok(sh(&["ip", "netns", "exec", ns, "python3", "-c", &script])?
        .status
        .success())
}

pub fn pings(ns: &str, ip: &str) -> Result<bool> {
    Ok(
        sh(&["ip", "netns", "exec", ns, "ping", "-c", "1", "-W", "1", ip])?
            .status
            .success(),
    )
}

pub fn field<'a>(v: &'a Value, k: &str) -> Result<&'a str> {
    v[k].as_str().with_context(|| format!("{k} in {v}"))
}

pub fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(60)..].join("\n")
}
