//! `neutrino amphora-agent --config <file>`: Octavia's amphora agent API
//! 1.0 over mTLS (design load-balancing.md §8.2), as started inside an
//! amphora by the `local` compute driver. Runs until SIGTERM/SIGINT.

use std::path::PathBuf;

use anyhow::anyhow;
use clap::Args;
use tokio::signal::unix::{SignalKind, signal};

#[derive(Args, Debug)]
pub struct AgentArgs {
    /// The agent's TOML configuration (`amphora_id`, `base_dir`, `bind`,
    /// `[tls] server_cert` = certificate + key PEM, `client_ca` = CA PEM).
    #[arg(long, env = "NEUTRINO_AMPHORA_AGENT_CONFIG")]
    pub config: PathBuf,
}

/// Process settings for an agent, before its runtime starts. The runtime
/// is tokio's current-thread one (main.rs): an agent serves a request now
/// and then, its subprocesses are tokio's and its file operations small
/// local ones, so a worker thread per core (each with its stack and its
/// mimalloc heap) bought nothing.
///
/// Transparent huge pages are turned off for the process: mimalloc marks
/// its 1 GiB arena `MADV_HUGEPAGE`, so with THP set to `madvise` or
/// `always` every 2 MiB of it the agent touched was resident whole, about
/// 10 MiB for 1 MiB of heap (docs/benchmarks.md). This is the prctl
/// mimalloc's own `MIMALLOC_ALLOW_THP=0` makes; like it, it is inherited
/// by what the agent starts (haproxy, keepalived, ip). Only that variable
/// also spares the 4 MiB of huge pages faulted before `main`.
pub fn lean_process() {
    if let Err(e) = rustix::thread::disable_transparent_huge_pages(true) {
        tracing::warn!(error = %e, "could not turn transparent huge pages off");
    }
}

pub async fn run(args: AgentArgs) -> anyhow::Result<()> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let stop = async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received, shutting down"),
            _ = int.recv() => tracing::info!("SIGINT received, shutting down"),
        }
    };
    neutrino_amphora_agent::run_mtls(&args.config, stop)
        .await
        .map_err(|e| anyhow!("amphora-agent: {e}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn lean_process_turns_huge_pages_off() {
        super::lean_process();
        assert!(rustix::thread::transparent_huge_pages_are_disabled().unwrap());
    }
}
