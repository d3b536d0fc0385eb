//! The `neutrino` command: wiring only. Everything it runs lives in the
//! library crates.

mod agent_cli;
mod allocator;
mod chassis;
mod cli;
mod clouds;
mod config;
mod dataplane;
mod dns_cli;
mod infra_cli;
mod lb_mgmt;
mod operator_cli;
mod port_cli;
mod server;

use clap::Parser;

// glibc's allocator spent a third of a 10,000-port list in malloc and free
// and kept the freed memory; mimalloc is faster here and returns it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    allocator::return_memory_promptly();
    let cli = cli::Cli::parse();
    server::init_logging(&cli.log_format);
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // An operator error: the message and its causes on one line.
            // Returning it from main would print its Debug form, with a
            // stack backtrace when RUST_BACKTRACE is set.
            eprintln!("neutrino: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: cli::Cli) -> anyhow::Result<()> {
    let mut builder = if let cli::Command::AmphoraAgent(_) = cli.command {
        // One agent per amphora, many amphorae per node: small and
        // single-threaded (see agent_cli).
        agent_cli::lean_process();
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    let runtime = builder.enable_all().build()?;
    runtime.block_on(async move {
        match cli.command {
            cli::Command::Infra(args) => infra_cli::run(args).await,
            cli::Command::Operator(args) => operator_cli::run(args).await,
            cli::Command::Dns(args) => dns_cli::run(args).await,
            cli::Command::Port(args) => port_cli::run(args).await,
            cli::Command::AmphoraAgent(args) => agent_cli::run(args).await,
            cli::Command::Serve(args) => server::serve(config::Settings::resolve(&args)?).await,
            cli::Command::Up(up) => {
                let settings = config::Settings::resolve_up(&up)?;
                server::up(settings, &up).await
            }
        }
    })
}
