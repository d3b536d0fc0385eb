//! `neutrino operator`: operator mode, the infra resources reconciled in a
//! Kubernetes cluster (crate `neutrino-operator`).

use clap::{Args, Subcommand};

#[derive(Args, Debug)]
pub struct OperatorArgs {
    #[command(subcommand)]
    pub command: OperatorCommand,
}

#[derive(Subcommand, Debug)]
pub enum OperatorCommand {
    /// Reconcile NetConfig, IPSet, Reservation, DNSMasq and DNSData in the
    /// cluster until SIGTERM, connecting with the pod's service account or,
    /// outside a cluster, the kubeconfig (KUBECONFIG or ~/.kube/config).
    Run {
        /// Watch this namespace only (default: every namespace).
        #[arg(short = 'n', long, env = "NEUTRINO_OPERATOR_NAMESPACE")]
        namespace: Option<String>,
    },
    /// Print the CustomResourceDefinitions as YAML, for `kubectl apply -f -`.
    Crds,
}

pub async fn run(args: OperatorArgs) -> anyhow::Result<()> {
    match args.command {
        OperatorCommand::Crds => {
            print!("{}", neutrino_operator::crds_yaml());
            Ok(())
        }
        OperatorCommand::Run { namespace } => {
            neutrino_operator::run(neutrino_operator::Options { namespace }).await?;
            Ok(())
        }
    }
}
