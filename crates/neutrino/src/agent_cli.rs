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
