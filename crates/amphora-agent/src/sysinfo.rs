//! `/1.0/info` and `/1.0/details` data from /proc.

use serde_json::{Map, Value, json};

pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// `HAProxy version 2.6.12-1+deb12u4 …` → `2.6.12-1+deb12u4`.
pub async fn haproxy_version(cmd: &std::path::Path) -> Option<String> {
    let mut c = tokio::process::Command::new(cmd);
    c.arg("-v");
    let out = crate::haproxy::run(c).await.ok()?;
    let line = out.lines().next()?;
    line.split_whitespace().nth(2).map(str::to_string)
}

pub fn networks() -> Value {
    let mut m = Map::new();
    let text = std::fs::read_to_string("/proc/net/dev").unwrap_or_default();
    for line in text.lines().skip(2) {
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        let f: Vec<u64> = rest
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        if f.len() >= 9 {
            m.insert(
                name.trim().to_string(),
                json!({"network_rx": f[0], "network_tx": f[8]}),
            );
        }
    }
    Value::Object(m)
}

pub fn cpu() -> Value {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let f: Vec<u64> = text
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let g = |i: usize| f.get(i).copied().unwrap_or(0);
    json!({"total": f.iter().sum::<u64>(), "user": g(0), "system": g(2), "soft_irq": g(6)})
}

pub fn memory() -> Value {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let get = |k: &str| -> u64 {
        text.lines()
            .find_map(|l| {
                let (name, v) = l.split_once(':')?;
                (name == k).then(|| v.split_whitespace().next()?.parse().ok())?
            })
            .unwrap_or(0)
    };
    json!({
        "total": get("MemTotal"), "free": get("MemFree"), "buffers": get("Buffers"),
        "cached": get("Cached"), "swap_used": get("SwapTotal").saturating_sub(get("SwapFree")),
        "shared": get("Shmem"), "slab": get("Slab"),
    })
}

pub fn disk(path: &std::path::Path) -> Value {
    match rustix::fs::statvfs(path) {
        Ok(s) => {
            let bs = s.f_frsize;
            json!({"used": (s.f_blocks - s.f_bfree) * bs, "available": s.f_bavail * bs})
        }
        Err(_) => json!({"used": 0, "available": 0}),
    }
}

pub fn load() -> Value {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let v: Vec<&str> = text.split_whitespace().take(3).collect();
    json!(v)
}

pub fn cpu_count() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}
