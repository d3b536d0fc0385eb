//! Command-line flags. Every flag also reads an environment variable and,
//! for `serve`, a key of the config file (flags win over env, env over the
//! file).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "neutrino",
    version,
    about = "OpenStack-compatible networking control plane"
)]
pub struct Cli {
    /// Log line format.
    #[arg(long, env = "NEUTRINO_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"], global = true)]
    pub log_format: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the API servers against an existing database.
    Serve(ServeArgs),
    /// Run everything on this machine with state in one directory, bootstrap
    /// an admin account and write a ready clouds.yaml.
    Up(UpArgs),
    /// Apply, get and delete infra resources (NetConfig, IPSet, Reservation,
    /// DNSMasq, DNSData) on a running server, found through clouds.yaml;
    /// render the cluster manifests a NetConfig needs.
    Infra(crate::infra_cli::InfraArgs),
    /// Operator mode: reconcile the infra resources in a Kubernetes cluster,
    /// or print their CRDs.
    Operator(crate::operator_cli::OperatorArgs),
    /// Run only the DNS responders of DNSMasq resources, from a database or
    /// from YAML files.
    Dns(crate::dns_cli::DnsArgs),
    /// Plug a Network API port into a network namespace on this host (a
    /// stand-in for a VM or pod), or unplug it.
    Port(crate::port_cli::PortArgs),
    /// Run the amphora agent (Octavia's amphora API 1.0 over mTLS) from
    /// its configuration file; normally started by the load-balancer
    /// backend inside an amphora's namespace.
    AmphoraAgent(crate::agent_cli::AgentArgs),
}

#[derive(Args, Debug, Clone, Default)]
pub struct ServeArgs {
    /// TOML file with the same keys as the long flags (dashes or underscores).
    #[arg(long, env = "NEUTRINO_CONFIG")]
    pub config: Option<PathBuf>,
    /// sqlite://PATH or postgres://USER@HOST/DB.
    #[arg(long, env = "NEUTRINO_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Address of the identity (Keystone v3) API.
    #[arg(long, env = "NEUTRINO_IDENTITY_LISTEN")]
    pub identity_listen: Option<String>,
    /// Address of the Network (Neutron v2.0) API.
    #[arg(long, env = "NEUTRINO_NETWORK_LISTEN")]
    pub network_listen: Option<String>,
    /// Address of the Load-balancer (Octavia v2) API.
    #[arg(long, env = "NEUTRINO_LOAD_BALANCER_LISTEN")]
    pub load_balancer_listen: Option<String>,
    /// How load balancers get their VIPs: `neutrino` (ports of the Network
    /// API, the default) or `noop` (upstream's `network_noop_driver`: any
    /// network, subnet, port or security group id is taken as given and
    /// no port is made; only for running the upstream API test suite with
    /// `test_with_noop = true`).
    #[arg(long, env = "NEUTRINO_LB_NETWORK_DRIVER")]
    pub lb_network_driver: Option<String>,
    /// What runs load balancers: `local` (amphorae as namespaces on this
    /// node, running haproxy and the amphora agent, plugged into br-int),
    /// `noop` (upstream's noop drivers: no amphora carries traffic), or
    /// `auto` (the default: `local` when `up` runs the data plane, else
    /// `noop`).
    #[arg(long, env = "NEUTRINO_LB_BACKEND")]
    pub lb_backend: Option<String>,
    /// Address range of the default load-balancer management network
    /// `up` makes (`lb-mgmt-subnet`).
    #[arg(long, env = "NEUTRINO_LB_MGMT_CIDR")]
    pub lb_mgmt_cidr: Option<String>,
    /// File holding the key that signs amphora heartbeats (upstream
    /// `[health_manager] heartbeat_key`): its text, or the hex of its
    /// bytes when they are not text. Created with a random key if
    /// missing; servers sharing a database must share it.
    #[arg(long, env = "NEUTRINO_LB_HEARTBEAT_KEY_FILE")]
    pub lb_heartbeat_key_file: Option<PathBuf>,
    /// Seconds between an amphora's heartbeats (upstream
    /// `heartbeat_interval`, default 10).
    #[arg(long, env = "NEUTRINO_LB_HEARTBEAT_INTERVAL")]
    pub lb_heartbeat_interval: Option<u64>,
    /// Also receive amphora heartbeats on this UDP address (upstream
    /// `[health_manager] bind_ip:bind_port`). `up` receives them on its
    /// own management interface without this.
    #[arg(long, env = "NEUTRINO_LB_HEALTH_LISTEN")]
    pub lb_health_listen: Option<String>,
    /// Connection limit of a listener whose `connection_limit` is -1
    /// (upstream `[haproxy_amphora] default_connection_limit`, 50000).
    /// haproxy's memory grows with it: about 7 MiB per amphora between
    /// 5000 and 50000.
    #[arg(long, env = "NEUTRINO_LB_DEFAULT_CONNECTION_LIMIT")]
    pub lb_default_connection_limit: Option<i64>,
    /// Host name clients use to reach this server, for the service catalog
    /// (defaults to the listen address).
    #[arg(long, env = "NEUTRINO_PUBLIC_HOST")]
    pub public_host: Option<String>,
    /// File holding the token signing secret; created if missing. Servers
    /// that share a database must share this file's content.
    #[arg(long, env = "NEUTRINO_TOKEN_SECRET_FILE")]
    pub token_secret_file: Option<PathBuf>,
    /// Token lifetime in seconds.
    #[arg(long, env = "NEUTRINO_TOKEN_TTL")]
    pub token_ttl: Option<i64>,
    /// Create or update the admin account with this password at start.
    #[arg(long, env = "NEUTRINO_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,
    /// Name of the bootstrap admin user.
    #[arg(long, env = "NEUTRINO_ADMIN_USER")]
    pub admin_user: Option<String>,
    /// Region name in the service catalog.
    #[arg(long, env = "NEUTRINO_REGION")]
    pub region: Option<String>,
    /// Network type of tenant networks (geneve or vxlan).
    #[arg(long, env = "NEUTRINO_TENANT_NETWORK_TYPE")]
    pub tenant_network_type: Option<String>,
    /// Range of segmentation ids for tenant networks, MIN:MAX.
    #[arg(long, env = "NEUTRINO_TUNNEL_ID_RANGE")]
    pub tunnel_id_range: Option<String>,
    /// VLAN ranges per physical network, PHYSNET:MIN:MAX (repeatable).
    #[arg(
        long = "vlan-range",
        env = "NEUTRINO_VLAN_RANGES",
        value_delimiter = ','
    )]
    pub vlan_ranges: Vec<String>,
    /// MTU of the physical fabric.
    #[arg(long, env = "NEUTRINO_GLOBAL_PHYSNET_MTU")]
    pub global_physnet_mtu: Option<i64>,
    /// Domain used in port dns_assignment.
    #[arg(long, env = "NEUTRINO_DNS_DOMAIN")]
    pub dns_domain: Option<String>,
    /// OVN northbound DB to realize the model in (ovn-nbctl --db syntax:
    /// unix:PATH or tcp:HOST:PORT, comma-separated for a cluster).
    #[arg(long, env = "NEUTRINO_OVN_NB")]
    pub ovn_nb: Option<String>,
    /// OVN southbound DB, read for port bindings and gateway chassis.
    #[arg(long, env = "NEUTRINO_OVN_SB")]
    pub ovn_sb: Option<String>,
    /// Seconds between full audits of the northbound DB (also run at start).
    #[arg(long, env = "NEUTRINO_OVN_AUDIT_INTERVAL")]
    pub ovn_audit_interval: Option<u64>,
}

#[derive(Args, Debug, Clone)]
pub struct UpArgs {
    /// Directory holding all state: database, secrets, clouds.yaml.
    #[arg(long, env = "NEUTRINO_DATA_DIR", default_value = "neutrino-data")]
    pub data_dir: PathBuf,
    #[command(flatten)]
    pub serve: ServeArgs,
    #[command(flatten)]
    pub chassis: ChassisArgs,
}

/// The OVS/OVN daemons `up` runs (see docs/data-plane.md).
#[derive(Args, Debug, Clone, Default)]
pub struct ChassisArgs {
    /// Run no OVS/OVN daemons: the API stores the model, nothing carries
    /// packets (unless --ovn-nb/--ovn-sb name an OVN to drive).
    #[arg(long, env = "NEUTRINO_NO_DATA_PLANE")]
    pub no_data_plane: bool,
    /// A provider network on a host interface, PHYSNET:IFACE[:BRIDGE]: the
    /// interface goes into bridge BRIDGE (default br-PHYSNET). Repeatable.
    #[arg(
        long = "nic-mapping",
        env = "NEUTRINO_NIC_MAPPINGS",
        value_delimiter = ','
    )]
    pub nic_mappings: Vec<String>,
    /// This host's OVN chassis name (default: the host name).
    #[arg(long, env = "NEUTRINO_CHASSIS_NAME")]
    pub chassis_name: Option<String>,
    /// The integration bridge (default br-int). Bridge names are host-wide
    /// devices: two chassis on one host need different ones.
    #[arg(long, env = "NEUTRINO_INTEGRATION_BRIDGE")]
    pub integration_bridge: Option<String>,
    /// TCP address of the local OVN northbound database (default
    /// 127.0.0.1:6641; it also listens on DATA_DIR/ovn/ovnnb_db.sock).
    #[arg(long, env = "NEUTRINO_OVN_NB_LISTEN")]
    pub ovn_nb_listen: Option<std::net::SocketAddr>,
    /// TCP address of the local OVN southbound database (default
    /// 127.0.0.1:6642).
    #[arg(long, env = "NEUTRINO_OVN_SB_LISTEN")]
    pub ovn_sb_listen: Option<std::net::SocketAddr>,
}
