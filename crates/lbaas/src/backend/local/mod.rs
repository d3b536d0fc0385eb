//! The local backend: amphorae as isolated network namespaces on this
//! node (design §8.1 `local`), each running `neutrino amphora-agent`,
//! which runs haproxy. Ports come from the Network API's own code and are
//! plugged into br-int like a VM's, so OVN carries the traffic: the
//! management port (agent, over mTLS on 9443), the VRRP port holding the
//! VIP as an allowed address pair.
//!
//! The compute id is a UUID derived from `local:{node}:{amphora id}`
//! (clients parse it as a Nova server id). Everything of an
//! amphora is findable from its id alone (namespaces `amp-{id}`,
//! `amp-{id}-haproxy`, ports whose device id is the amphora id, the
//! directory `{state_dir}/{id}`), so every call is idempotent and a step
//! run again after a crash finds what an earlier run made.

pub mod config;
pub mod netns;
pub mod ports;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;
use futures::future::BoxFuture;
use neutrino_amphora_agent::{AgentConfig, TlsFiles};
use neutrino_api::service_groups::Ingress;
use neutrino_lb_types::enums::{AmphoraRole, AmphoraStatus, ProvisioningStatus};
use neutrino_ovsdb::Endpoint;
use neutrino_pki::{Ca, Issued};
use neutrino_store::lb::{amphorae, load_balancers};
use neutrino_store::{Db, StoreError};
use serde_json::json;

pub use netns::NetnsSockets;

use super::agent_client::{AgentClient, HaproxyAction};
use super::{AmphoraSpec, Backend, Booted, VipPlug, VipTarget};
use crate::engine::StepError;
use crate::render::Peer;

/// Where amphorae get their management ports, and how the controller
/// reaches them.
#[derive(Clone, Debug)]
pub struct Management {
    /// Upstream `[controller_worker] amp_boot_network_list`.
    pub network_ids: Vec<String>,
    /// Upstream `amp_secgroup_list`.
    pub security_group_ids: Vec<String>,
    /// The service project: owner of management ports and `lb-{id}` groups.
    pub project_id: String,
    /// The controller's management interface is in this namespace (`up`);
    /// `None`: in this process's own.
    pub sockets: Option<Arc<NetnsSockets>>,
    /// The controller's own port on the management network, if this
    /// server made it (to unplug it when the server stops).
    pub controller_port_id: Option<String>,
    /// Where amphorae send heartbeats (upstream `[health_manager]
    /// controller_ip_port_list`, `ip:port` each).
    pub heartbeat_targets: Vec<String>,
}

/// Makes the management network when the first amphora needs it (`up`:
/// an installation that never makes a load balancer gets none).
pub type ManagementInit =
    Arc<dyn Fn() -> BoxFuture<'static, Result<Management, String>> + Send + Sync>;

#[derive(Clone, Debug)]
pub struct LocalConfig {
    /// This node's name: `binding:host_id` of the ports and the OVN
    /// chassis they bind to.
    pub node: String,
    /// The local ovsdb-server and the integration bridge.
    pub ovs: Endpoint,
    pub bridge: String,
    /// Amphora directories (`{state_dir}/{amphora id}`).
    pub state_dir: PathBuf,
    /// The `neutrino` binary (it has the `amphora-agent` subcommand).
    pub agent_program: PathBuf,
    /// The Network API's MAC prefix.
    pub mac_prefix: [u8; 3],
    /// How long a new agent has to answer.
    pub ready_timeout: Duration,
    /// Upstream `[health_manager] heartbeat_key`: signs heartbeats.
    pub heartbeat_key: String,
    /// Upstream `[health_manager] heartbeat_interval`, seconds.
    pub heartbeat_interval: u64,
    /// Upstream `[haproxy_amphora] default_connection_limit`.
    pub default_connection_limit: i64,
}

pub struct LocalBackend {
    db: Db,
    cfg: LocalConfig,
    ca: Ca,
    controller: Issued,
    /// Set once the management network is known.
    mgmt: tokio::sync::Mutex<Option<Arc<Management>>>,
    mgmt_init: tokio::sync::Mutex<Option<ManagementInit>>,
}

fn io_err(what: &str, e: impl std::fmt::Display) -> StepError {
    StepError::transient(format!("{what}: {e}"))
}

fn db_err(e: StoreError) -> StepError {
    StepError::transient(format!("database: {e}"))
}

fn plug_err(e: neutrino_chassis::Error) -> StepError {
    StepError::transient(format!("plugging: {e}"))
}

impl LocalBackend {
    pub fn new(db: Db, cfg: LocalConfig, ca: Ca) -> Result<Self, String> {
        let controller = ca.issue_controller().map_err(|e| e.to_string())?;
        std::fs::create_dir_all(&cfg.state_dir)
            .map_err(|e| format!("{}: {e}", cfg.state_dir.display()))?;
        Ok(LocalBackend {
            db,
            cfg,
            ca,
            controller,
            mgmt: tokio::sync::Mutex::new(None),
            mgmt_init: tokio::sync::Mutex::new(None),
        })
    }

    /// The management network is made by `init` when first needed.
    pub async fn set_management_init(&self, init: ManagementInit) {
        *self.mgmt_init.lock().await = Some(init);
    }

    /// The management network is `m`.
    pub async fn set_management(&self, m: Management) {
        *self.mgmt.lock().await = Some(Arc::new(m));
    }

    /// The management network, if known (made or set) by now.
    pub async fn management_if_known(&self) -> Option<Arc<Management>> {
        self.mgmt.lock().await.clone()
    }

    /// The key the amphorae sign their heartbeats with.
    pub fn heartbeat_key(&self) -> &str {
        &self.cfg.heartbeat_key
    }

    /// The management network, made now if it is not known yet.
    pub async fn ensure_management(&self) -> Result<Arc<Management>, String> {
        self.management().await.map_err(|e| e.to_string())
    }

    async fn management(&self) -> Result<Arc<Management>, StepError> {
        let mut known = self.mgmt.lock().await;
        if let Some(m) = known.as_ref() {
            return Ok(m.clone());
        }
        let init = self
            .mgmt_init
            .lock()
            .await
            .clone()
            .ok_or_else(|| StepError::transient("the management network is not configured"))?;
        let m = Arc::new(
            init()
                .await
                .map_err(|e| StepError::transient(format!("management network: {e}")))?,
        );
        *known = Some(m.clone());
        Ok(m)
    }

    fn dir(&self, amphora_id: &str) -> PathBuf {
        self.cfg.state_dir.join(amphora_id)
    }

    fn agent_base(&self, amphora_id: &str) -> PathBuf {
        self.dir(amphora_id).join("agent")
    }

    async fn client(&self, amphora_id: &str, ip: &str) -> Result<AgentClient, StepError> {
        let ip: IpAddr = ip
            .parse()
            .map_err(|e| StepError::permanent(format!("management address {ip}: {e}")))?;
        let c = AgentClient::new(amphora_id, ip, &self.controller, self.ca.cert_pem())?;
        Ok(match self.management().await?.sockets.as_ref() {
            Some(s) => c.with_connector(s.connector()),
            None => c,
        })
    }

    /// Plugs `port` into the amphora's outer namespace as `ifname` (done
    /// when OVS already has it).
    async fn plug(
        &self,
        port: &neutrino_types::model::Port,
        ns: &str,
        ifname: &str,
    ) -> Result<(), StepError> {
        if neutrino_chassis::is_plugged(&self.cfg.ovs, &port.id)
            .await
            .map_err(plug_err)?
        {
            return Ok(());
        }
        neutrino_chassis::plug_veth(
            &self.cfg.ovs,
            &self.cfg.bridge,
            &port.id,
            &port.mac_address,
            ns,
            ifname,
        )
        .await
        .map_err(plug_err)?;
        Ok(())
    }

    /// Addresses and host routes of a management port, inside `ns`.
    async fn address(
        &self,
        port: &neutrino_types::model::Port,
        ns: &str,
        ifname: &str,
    ) -> Result<Option<String>, StepError> {
        let mut first = None;
        for f in &port.fixed_ips {
            let Some(subnet) = neutrino_store::subnets::get(&self.db, &f.subnet_id)
                .await
                .map_err(db_err)?
            else {
                continue;
            };
            let len = subnet.cidr.split('/').nth(1).unwrap_or("32");
            netns::ip_in(
                ns,
                &[
                    "addr",
                    "replace",
                    &format!("{}/{len}", f.ip_address),
                    "dev",
                    ifname,
                ],
            )
            .await
            .map_err(|e| io_err("management address", e))?;
            for r in &subnet.host_routes {
                netns::ip_in(
                    ns,
                    &[
                        "route",
                        "replace",
                        &r.destination,
                        "via",
                        &r.nexthop,
                        "dev",
                        ifname,
                    ],
                )
                .await
                .map_err(|e| io_err("management route", e))?;
            }
            first.get_or_insert_with(|| f.ip_address.clone());
        }
        Ok(first)
    }

    /// The amphora's server certificate: issued once, kept in its
    /// directory (a boot run again reuses it: the agent may already serve
    /// it).
    fn server_cert(&self, amphora_id: &str) -> Result<(PathBuf, String), StepError> {
        let dir = self.dir(amphora_id);
        let pem = dir.join("server.pem");
        let expiry = dir.join("server.expiration");
        if let (true, Ok(e)) = (pem.exists(), std::fs::read_to_string(&expiry)) {
            return Ok((pem, e.trim().to_string()));
        }
        let issued = self
            .ca
            .issue_amphora(amphora_id, neutrino_pki::AMPHORA_VALIDITY)
            .map_err(|e| StepError::permanent(format!("amphora certificate: {e}")))?;
        write_private(&pem, issued.bundle_pem().as_bytes())?;
        write_private(&expiry, issued.expiration().as_bytes())?;
        Ok((pem, issued.expiration()))
    }

    fn write_agent_config(
        &self,
        mgmt: &Management,
        spec: &AmphoraSpec<'_>,
        bind_ip: &str,
        server_pem: &Path,
    ) -> Result<PathBuf, StepError> {
        let dir = self.dir(spec.id);
        let ca = dir.join("controller-ca.pem");
        write_private(&ca, self.ca.cert_pem().as_bytes())?;
        // Under the agent's base directory: `PUT /config` rewrites it.
        let file = self.agent_base(spec.id).join("amphora-agent.toml");
        std::fs::create_dir_all(self.agent_base(spec.id))
            .map_err(|e| io_err("agent directory", e))?;
        let ip: IpAddr = bind_ip
            .parse()
            .map_err(|e| StepError::permanent(format!("management address {bind_ip}: {e}")))?;
        let mut cfg = AgentConfig::new(spec.id, self.agent_base(spec.id));
        cfg.bind = std::net::SocketAddr::new(ip, super::agent_client::AGENT_PORT);
        cfg.config_file = Some(file.clone());
        cfg.inner_namespace = Some(netns::inner(spec.id));
        cfg.topology = match spec.role {
            AmphoraRole::Standalone => "SINGLE".into(),
            _ => "ACTIVE_STANDBY".into(),
        };
        cfg.tls = Some(TlsFiles {
            server_cert: server_pem.to_path_buf(),
            client_ca: ca,
        });
        cfg.heartbeat = neutrino_amphora_agent::HeartbeatConfig {
            controller_ip_port_list: mgmt.heartbeat_targets.clone(),
            heartbeat_key: Some(self.cfg.heartbeat_key.clone()),
            heartbeat_interval: Some(self.cfg.heartbeat_interval),
        };
        let text = toml::to_string(&cfg).map_err(StepError::permanent)?;
        write_private(&file, text.as_bytes())?;
        Ok(file)
    }

    /// Starts the agent in the outer namespace unless it runs already.
    async fn start_agent(&self, amphora_id: &str, config: &Path) -> Result<(), StepError> {
        let outer = netns::outer(amphora_id);
        let program = self.cfg.agent_program.display().to_string();
        if agent_running(amphora_id).await {
            return Ok(());
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir(amphora_id).join("agent.log"))
            .map_err(|e| io_err("agent log", e))?;
        let log2 = log.try_clone().map_err(|e| io_err("agent log", e))?;
        let mut child = tokio::process::Command::new("ip")
            .args([
                "netns",
                "exec",
                &outer,
                &program,
                "amphora-agent",
                "--config",
            ])
            .arg(config)
            .env("NEUTRINO_LOG", "info")
            // mimalloc would back its arena with transparent huge pages:
            // 2 MiB resident per touched region for an agent whose heap is
            // under 1 MiB (docs/benchmarks.md, RSS per amphora).
            .env("MIMALLOC_ALLOW_THP", "0")
            .stdin(std::process::Stdio::null())
            .stdout(log)
            .stderr(log2)
            // Not in the server's process group: a ^C to `up` is for `up`.
            .process_group(0)
            .spawn()
            .map_err(|e| io_err("starting the agent", e))?;
        // Reap it whenever it ends (deleted, or killed).
        tokio::spawn(async move {
            let _ = child.wait().await;
        });
        Ok(())
    }

    async fn wait_ready(&self, amphora_id: &str, ip: &str) -> Result<(), StepError> {
        let client = self
            .client(amphora_id, ip)
            .await?
            .with_connect_timeout(Duration::from_millis(200));
        let deadline = Instant::now() + self.cfg.ready_timeout;
        loop {
            match client.info().await {
                Ok(_) => return Ok(()),
                Err(e) if Instant::now() > deadline => {
                    return Err(StepError::transient(format!(
                        "agent of amphora {amphora_id} not ready: {e}"
                    )));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    async fn boot_amphora(&self, spec: &AmphoraSpec<'_>) -> Result<Booted, StepError> {
        let mgmt = self.management().await?;
        let dir = self.dir(spec.id);
        std::fs::create_dir_all(&dir).map_err(|e| io_err("amphora directory", e))?;
        std::fs::create_dir_all(config::socket_dir(spec.id))
            .map_err(|e| io_err("amphora socket directory", e))?;
        let outer = netns::outer(spec.id);
        // Both made here, in the host's mount namespace: one the agent
        // made would be mounted only in its own (`ip netns exec` gives it
        // a private one), invisible to everyone else.
        for ns in [&outer, &netns::inner(spec.id)] {
            netns::ensure(ns)
                .await
                .map_err(|e| io_err("amphora namespace", e))?;
        }
        let mut lb_network_ip = None;
        for (i, network_id) in mgmt.network_ids.iter().enumerate() {
            let port = ports::ensure(
                &self.db,
                self.cfg.mac_prefix,
                &ports::PortSpec {
                    name: format!("octavia-amp-mgmt-{}", spec.id),
                    network_id,
                    subnet_id: None,
                    project_id: &mgmt.project_id,
                    device_owner: ports::MGMT_OWNER,
                    device_id: spec.id,
                    host: &self.cfg.node,
                    security_groups: mgmt.security_group_ids.clone(),
                    address_pairs: Vec::new(),
                },
            )
            .await?;
            let ifname = format!("eth{i}");
            self.plug(&port, &outer, &ifname).await?;
            let ip = self.address(&port, &outer, &ifname).await?;
            if lb_network_ip.is_none() {
                lb_network_ip = ip;
            }
        }
        let lb_network_ip = lb_network_ip
            .ok_or_else(|| StepError::permanent("the management network gave no address"))?;
        let (pem, cert_expiration) = self.server_cert(spec.id)?;
        let config = self.write_agent_config(&mgmt, spec, &lb_network_ip, &pem)?;
        self.start_agent(spec.id, &config).await?;
        self.wait_ready(spec.id, &lb_network_ip).await?;
        Ok(Booted {
            // A UUID, as Nova's server ids are (clients parse it): derived
            // from the node and the amphora, so a repeated boot gives the same.
            compute_id: uuid::Uuid::new_v5(
                &uuid::Uuid::NAMESPACE_OID,
                format!("local:{}:{}", self.cfg.node, spec.id).as_bytes(),
            )
            .to_string(),
            lb_network_ip,
            cert_expiration,
        })
    }

    async fn delete_amphora(&self, amphora_id: &str) -> Result<(), StepError> {
        let (outer, inner) = (netns::outer(amphora_id), netns::inner(amphora_id));
        netns::kill_all(&inner)
            .await
            .map_err(|e| io_err("stopping haproxy", e))?;
        netns::kill_all(&outer)
            .await
            .map_err(|e| io_err("stopping the agent", e))?;
        self.forget_neighbours(amphora_id).await?;
        for owner in [ports::MGMT_OWNER, ports::VRRP_OWNER] {
            for p in ports::of_device(&self.db, amphora_id, owner).await? {
                neutrino_chassis::unplug(&self.cfg.ovs, &p.id)
                    .await
                    .map_err(plug_err)?;
            }
        }
        netns::delete(&inner)
            .await
            .map_err(|e| io_err("amphora namespace", e))?;
        netns::delete(&outer)
            .await
            .map_err(|e| io_err("amphora namespace", e))?;
        ports::delete_of_device(&self.db, amphora_id, ports::MGMT_OWNER).await?;
        for dir in [self.dir(amphora_id), config::socket_dir(amphora_id)] {
            if dir.exists() {
                std::fs::remove_dir_all(&dir).map_err(|e| io_err("amphora directory", e))?;
            }
        }
        Ok(())
    }

    /// The controller's namespace forgets the amphora's management
    /// addresses: a new amphora given one of them later would otherwise be
    /// dialled at this one's MAC until the stale entry times out (~30 s).
    async fn forget_neighbours(&self, amphora_id: &str) -> Result<(), StepError> {
        let Some(m) = self.management_if_known().await else {
            return Ok(());
        };
        let Some(sockets) = m.sockets.as_ref() else {
            return Ok(());
        };
        for p in ports::of_device(&self.db, amphora_id, ports::MGMT_OWNER).await? {
            for f in &p.fixed_ips {
                // Nothing to forget is fine.
                let _ =
                    netns::ip_in(sockets.netns(), &["neigh", "flush", "to", &f.ip_address]).await;
            }
        }
        Ok(())
    }

    /// The VIP port's data-plane view depends on the ports naming its
    /// address as an allowed pair: have the data plane look again.
    async fn touch_port(&self, port_id: &str) -> Result<(), StepError> {
        let mut tx = self.db.begin().await.map_err(db_err)?;
        neutrino_store::ports::touch(&mut tx, port_id, &neutrino_store::now_timestamp())
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }

    async fn plug_amphora_vip(
        &self,
        amphora_id: &str,
        vip: &VipTarget<'_>,
    ) -> Result<VipPlug, StepError> {
        let mgmt = self.management().await?;
        let amp = amphorae::get(&self.db, amphora_id)
            .await
            .map_err(db_err)?
            .ok_or_else(|| StepError::permanent(format!("amphora {amphora_id} is gone")))?;
        let lb_id = amp
            .load_balancer_id
            .clone()
            .ok_or_else(|| StepError::permanent("amphora without load balancer"))?;
        let tree = config::load(&self.db, &lb_id)
            .await
            .map_err(db_err)?
            .ok_or_else(|| StepError::permanent("load balancer is gone"))?;
        let lb = &tree.lb;
        let groups = if lb.vip.sg_ids.is_empty() {
            vec![
                ports::ensure_lb_group(&self.db, &lb.id, &mgmt.project_id, &ingress_for(&tree))
                    .await?,
            ]
        } else {
            lb.vip.sg_ids.clone()
        };
        let mut pairs = vec![vip.address.to_string()];
        pairs.extend(
            tree.lb
                .additional_vips
                .iter()
                .filter_map(|a| a.ip_address.clone()),
        );
        let port = ports::ensure(
            &self.db,
            self.cfg.mac_prefix,
            &ports::PortSpec {
                name: format!("octavia-lb-vrrp-{amphora_id}"),
                network_id: vip.network_id,
                subnet_id: lb.vip.subnet_id.as_deref(),
                project_id: &lb.project_id,
                device_owner: ports::VRRP_OWNER,
                device_id: amphora_id,
                host: &self.cfg.node,
                security_groups: groups,
                address_pairs: pairs,
            },
        )
        .await?;
        let vrrp_ip = port
            .fixed_ips
            .first()
            .map(|f| f.ip_address.clone())
            .ok_or_else(|| StepError::permanent("the VRRP port has no address"))?;
        self.touch_port(vip.port_id).await?;
        self.plug(&port, &netns::outer(amphora_id), "vrrp0").await?;
        let subnet_id = lb
            .vip
            .subnet_id
            .as_deref()
            .or(port.fixed_ips.first().map(|f| f.subnet_id.as_str()))
            .unwrap_or_default()
            .to_string();
        let subnet = neutrino_store::subnets::get(&self.db, &subnet_id)
            .await
            .map_err(db_err)?
            .ok_or_else(|| StepError::permanent(format!("VIP subnet {subnet_id} is gone")))?;
        let routes: Vec<_> = subnet
            .host_routes
            .iter()
            .map(|r| json!({"destination": r.destination, "nexthop": r.nexthop}))
            .collect();
        let body = json!({
            "subnet_cidr": subnet.cidr,
            "gateway": subnet.gateway_ip,
            "mac_address": port.mac_address,
            "vrrp_ip": vrrp_ip,
            "host_routes": routes,
            "mtu": serde_json::Value::Null,
            "additional_vips": [],
        });
        let ip = amp
            .lb_network_ip
            .clone()
            .or(self.booted_ip(amphora_id).await?)
            .ok_or_else(|| StepError::transient("amphora has no management address yet"))?;
        let vip_ip: IpAddr = vip
            .address
            .parse()
            .map_err(|e| StepError::permanent(format!("VIP {}: {e}", vip.address)))?;
        self.client(amphora_id, &ip)
            .await?
            .plug_vip(vip_ip, &body)
            .await?;
        Ok(VipPlug {
            vrrp_port_id: port.id,
            vrrp_ip,
            ha_port_id: vip.port_id.to_string(),
            ha_ip: vip.address.to_string(),
        })
    }

    /// The management address of a booted amphora whose row does not have
    /// it yet (the flow records it after plugging).
    async fn booted_ip(&self, amphora_id: &str) -> Result<Option<String>, StepError> {
        Ok(ports::of_device(&self.db, amphora_id, ports::MGMT_OWNER)
            .await?
            .iter()
            .find(|p| p.name.starts_with("octavia-amp-mgmt-"))
            .and_then(|p| p.fixed_ips.first())
            .map(|f| f.ip_address.clone()))
    }

    async fn unplug_amphora_vip(&self, amphora_id: &str) -> Result<(), StepError> {
        // Member-network ports go with the VIP they serve (they hold the
        // `lb-` group, which the last VRRP port out deletes below).
        self.unplug_member_ports(amphora_id, |_| true).await?;
        let doomed = ports::of_device(&self.db, amphora_id, ports::VRRP_OWNER).await?;
        for p in &doomed {
            neutrino_chassis::unplug(&self.cfg.ovs, &p.id)
                .await
                .map_err(plug_err)?;
        }
        ports::delete_of_device(&self.db, amphora_id, ports::VRRP_OWNER).await?;
        let lb = match amphorae::get(&self.db, amphora_id).await.map_err(db_err)? {
            Some(a) => match a.load_balancer_id {
                Some(id) => load_balancers::get(&self.db, &id).await.map_err(db_err)?,
                None => None,
            },
            None => None,
        };
        if let Some(lb) = lb {
            if let Some(vip_port) = lb.vip.port_id.as_deref()
                && neutrino_store::ports::get(&self.db, vip_port)
                    .await
                    .map_err(db_err)?
                    .is_some()
            {
                self.touch_port(vip_port).await?;
            }
            // The last VRRP port of the load balancer takes its group along
            // (another amphora's port keeps it: then this does nothing).
            ports::delete_lb_group(&self.db, &lb.id).await?;
        }
        Ok(())
    }

    /// Member subnets the amphora cannot reach on its VIP network get a
    /// port of their own (`octavia-lb-member-{amphora id}`, one per
    /// network, as upstream's `HandleNetworkDelta`), plugged and handed to
    /// the agent (`POST /plug/network`, idempotent); ports of networks no
    /// member uses any more go. Upstream makes them in Octavia's project
    /// with that project's default group; here they take the VIP's groups
    /// (the `lb-` group allows all egress, which is what haproxy needs).
    async fn plug_member_networks(
        &self,
        tree: &config::Tree,
        mgmt: &Management,
        amphora_id: &str,
        client: &AgentClient,
    ) -> Result<(), StepError> {
        let name = format!("octavia-lb-member-{amphora_id}");
        let mut wanted: std::collections::BTreeMap<String, neutrino_types::model::Subnet> =
            Default::default();
        let subnet_ids: std::collections::BTreeSet<&str> = tree
            .members
            .iter()
            .filter_map(|m| m.subnet_id.as_deref())
            .collect();
        for subnet_id in subnet_ids {
            let Some(subnet) = neutrino_store::subnets::get(&self.db, subnet_id)
                .await
                .map_err(db_err)?
            else {
                continue;
            };
            if Some(subnet.network_id.as_str()) == tree.lb.vip.network_id.as_deref()
                || mgmt.network_ids.contains(&subnet.network_id)
            {
                continue;
            }
            wanted.entry(subnet.network_id.clone()).or_insert(subnet);
        }
        self.unplug_member_ports(amphora_id, |network| !wanted.contains_key(network))
            .await?;
        let groups = if tree.lb.vip.sg_ids.is_empty() {
            vec![ports::lb_group_id(&tree.lb.id)]
        } else {
            tree.lb.vip.sg_ids.clone()
        };
        for (network_id, subnet) in &wanted {
            let port = ports::ensure(
                &self.db,
                self.cfg.mac_prefix,
                &ports::PortSpec {
                    name: name.clone(),
                    network_id,
                    subnet_id: Some(&subnet.id),
                    project_id: &mgmt.project_id,
                    device_owner: ports::MGMT_OWNER,
                    device_id: amphora_id,
                    host: &self.cfg.node,
                    security_groups: groups.clone(),
                    address_pairs: Vec::new(),
                },
            )
            .await?;
            // An interface name unique in the outer namespace until the
            // agent moves it into the inner one and renames it.
            let ifname = format!("m{}", &port.id.replace('-', "")[..12]);
            self.plug(&port, &netns::outer(amphora_id), &ifname).await?;
            let fixed: Vec<_> = port
                .fixed_ips
                .iter()
                .filter(|f| f.subnet_id == subnet.id)
                .map(|f| {
                    json!({
                        "ip_address": f.ip_address,
                        "subnet_cidr": subnet.cidr,
                        "gateway": subnet.gateway_ip,
                        "host_routes": subnet.host_routes.iter()
                            .map(|r| json!({"destination": r.destination, "nexthop": r.nexthop}))
                            .collect::<Vec<_>>(),
                    })
                })
                .collect();
            client
                .plug_network(&json!({
                    "mac_address": port.mac_address,
                    "fixed_ips": fixed,
                    "mtu": serde_json::Value::Null,
                    "is_sriov": false,
                }))
                .await?;
        }
        Ok(())
    }

    /// Unplugs and deletes the amphora's member-network ports on the
    /// networks `doomed` picks.
    async fn unplug_member_ports(
        &self,
        amphora_id: &str,
        doomed: impl Fn(&str) -> bool,
    ) -> Result<(), StepError> {
        let name = format!("octavia-lb-member-{amphora_id}");
        for p in ports::of_device(&self.db, amphora_id, ports::MGMT_OWNER).await? {
            if p.name != name || !doomed(&p.network_id) {
                continue;
            }
            neutrino_chassis::unplug(&self.cfg.ovs, &p.id)
                .await
                .map_err(plug_err)?;
            let mut tx = self.db.begin().await.map_err(db_err)?;
            neutrino_store::ports::delete(&mut tx, &p.id)
                .await
                .map_err(db_err)?;
            tx.commit().await.map_err(db_err)?;
        }
        Ok(())
    }

    /// The amphorae of a load balancer that can take configuration.
    async fn serving(
        &self,
        lb_id: &str,
    ) -> Result<Vec<neutrino_lb_types::model::Amphora>, StepError> {
        let mut tx = self.db.begin().await.map_err(db_err)?;
        let list = amphorae::list_by_lb_tx(&mut tx, lb_id)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(list
            .into_iter()
            .filter(|a| {
                a.status != AmphoraStatus::Deleted
                    && a.status != AmphoraStatus::Error
                    && netns::exists(&netns::outer(&a.id))
            })
            .collect())
    }

    async fn apply(&self, lb_id: &str) -> Result<(), StepError> {
        let Some(tree) = config::load(&self.db, lb_id).await.map_err(db_err)? else {
            return Ok(());
        };
        let tree = tree.live();
        let mgmt = self.management().await?;
        if tree.lb.vip.sg_ids.is_empty() {
            ports::ensure_lb_group(&self.db, lb_id, &mgmt.project_id, &ingress_for(&tree)).await?;
        }
        let amps = self.serving(lb_id).await?;
        let peers_owned: Vec<(String, String)> = amps
            .iter()
            .filter_map(|a| Some((a.id.clone(), a.vrrp_ip.clone()?)))
            .collect();
        let has_listeners = tree.listeners.iter().any(|l| !l.protocol.is_lvs());
        for amp in &amps {
            let ip = match amp.lb_network_ip.clone() {
                Some(ip) => ip,
                None => match self.booted_ip(&amp.id).await? {
                    Some(ip) => ip,
                    None => continue,
                },
            };
            let client = self.client(&amp.id, &ip).await?;
            if !has_listeners {
                // Upstream keeps no configuration for a load balancer
                // without listeners.
                client.delete_listener(lb_id).await?;
                continue;
            }
            let peers = peers_owned
                .iter()
                .map(|(id, addr)| Peer {
                    amphora_id: id,
                    address: addr,
                })
                .collect();
            self.plug_member_networks(&tree, &mgmt, &amp.id, &client)
                .await?;
            let paths = config::AgentPaths::new(&self.agent_base(&amp.id), &amp.id, lb_id);
            self.upload_certificates(&client, &tree, &paths).await?;
            let text = config::render(
                &tree,
                &amp.id,
                &paths,
                peers,
                self.cfg.default_connection_limit,
            );
            client.upload_haproxy(lb_id, &text).await?;
            client.haproxy_action(lb_id, HaproxyAction::Reload).await?;
        }
        if has_listeners && tree.lb.topology == neutrino_lb_types::enums::Topology::ActiveStandby {
            self.apply_vrrp(&tree, &amps).await?;
        }
        Ok(())
    }

    /// ACTIVE_STANDBY: keepalived on each amphora holds the VIP on its
    /// VRRP interface, MASTER (100) over BACKUP (90), unicast between
    /// their VRRP addresses (upstream's `AmphoraVRRPUpdate` and
    /// `AmphoraVRRPStart`). Start reloads a running keepalived.
    async fn apply_vrrp(
        &self,
        tree: &config::Tree,
        amps: &[neutrino_lb_types::model::Amphora],
    ) -> Result<(), StepError> {
        use crate::render::{
            DEFAULT_VRRP_ADVERT_INT, HostRoute, KeepalivedInput, KeepalivedOptions, KeepalivedVip,
            VRRP_AUTH_DEFAULT, VRRP_ID, VrrpGroup, keepalived, vrrp_group_name,
        };
        let lb = &tree.lb;
        let (Some(vip), Some(subnet_id)) =
            (lb.vip.ip_address.as_deref(), lb.vip.subnet_id.as_deref())
        else {
            return Err(StepError::permanent("load balancer has no VIP subnet"));
        };
        let subnet = neutrino_store::subnets::get(&self.db, subnet_id)
            .await
            .map_err(db_err)?
            .ok_or_else(|| StepError::permanent(format!("VIP subnet {subnet_id} is gone")))?;
        let routes: Vec<HostRoute<'_>> = subnet
            .host_routes
            .iter()
            .map(|r| HostRoute {
                destination: &r.destination,
                nexthop: &r.nexthop,
            })
            .collect();
        let group_name = vrrp_group_name(&lb.id);
        let auth_pass = self.vrrp_pass(&lb.id);
        let peers: Vec<&str> = amps.iter().filter_map(|a| a.vrrp_ip.as_deref()).collect();
        for amp in amps {
            let (Some(vrrp_ip), Some(ip)) = (amp.vrrp_ip.as_deref(), amp.lb_network_ip.as_deref())
            else {
                continue;
            };
            let check = neutrino_amphora_agent::vrrp_check_script_path(&self.agent_base(&amp.id));
            let check = check.display().to_string();
            let text = keepalived(&KeepalivedInput {
                vrrp_group: VrrpGroup {
                    name: &group_name,
                    auth_type: VRRP_AUTH_DEFAULT,
                    auth_pass: &auth_pass,
                    advert_int: DEFAULT_VRRP_ADVERT_INT,
                },
                // The agent names the VIP interface eth1 (upstream's).
                interface: "eth1",
                vrrp_id: amp.vrrp_id.unwrap_or(VRRP_ID),
                priority: amp.vrrp_priority.unwrap_or(0),
                vrrp_ip,
                peers: peers.clone(),
                vip: KeepalivedVip {
                    ip_address: vip,
                    subnet_cidr: &subnet.cidr,
                    gateway: subnet.gateway_ip.as_deref(),
                    host_routes: routes.clone(),
                },
                additional_vips: Vec::new(),
                check_script_path: &check,
                options: KeepalivedOptions::default(),
            });
            let client = self.client(&amp.id, ip).await?;
            client.upload_vrrp(&text).await?;
            client.vrrp_action(HaproxyAction::Start).await?;
        }
        Ok(())
    }

    /// The VRRP password the amphorae of a load balancer share. Upstream
    /// keeps a random one per load balancer (`vrrp_group`); here it is
    /// derived from the load balancer and the CA's certificate, so both
    /// amphorae (and a repeated step) get the same without a table. VRRP
    /// PASS authentication is a guard against mistakes, not attackers,
    /// in upstream too.
    fn vrrp_pass(&self, lb_id: &str) -> String {
        let seed = format!("{lb_id}\n{}", self.ca.cert_pem());
        uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, seed.as_bytes())
            .simple()
            .to_string()[..7]
            .to_string()
    }

    /// Each TLS-terminating listener's certificates (from the key manager,
    /// as upstream's `_process_tls_certificates`): one PEM per bundle
    /// (certificate, intermediates, key) named by Octavia's certificate id,
    /// and the listener's crt-list `{listener id}.pem`, default first.
    async fn upload_certificates(
        &self,
        client: &AgentClient,
        tree: &config::Tree,
        paths: &config::AgentPaths,
    ) -> Result<(), StepError> {
        let lb_id = &tree.lb.id;
        for l in tree
            .listeners
            .iter()
            .filter(|l| l.protocol == neutrino_lb_types::enums::Protocol::TerminatedHttps)
        {
            let mut files = Vec::new();
            for r in l
                .default_tls_container_ref
                .iter()
                .chain(l.sni_container_refs.iter())
            {
                let b = neutrino_key_manager::tls::load_bundle(&self.db, &l.project_id, false, r)
                    .await
                    .map_err(|e| match e {
                        neutrino_key_manager::tls::TlsError::Store(e) => db_err(e),
                        e => StepError::permanent(format!("certificate {r}: {e}")),
                    })?;
                let mut pem = b.certificate_pem.trim_end().to_string();
                pem.push('\n');
                for i in &b.intermediates_pem {
                    pem.push_str(i.trim_end());
                    pem.push('\n');
                }
                pem.push_str(b.private_key_pem.trim_end());
                pem.push('\n');
                let name = format!("{}.pem", b.id);
                client.upload_cert(lb_id, &name, &pem).await?;
                files.push(format!("{}/{lb_id}/{name}", paths.cert_dir));
            }
            let list: Vec<&str> = files.iter().map(String::as_str).collect();
            client
                .upload_cert(
                    lb_id,
                    &format!("{}.pem", l.id),
                    &crate::render::crt_list(&list),
                )
                .await?;
        }
        Ok(())
    }

    async fn remove(&self, lb_id: &str) -> Result<(), StepError> {
        for amp in self.serving(lb_id).await? {
            let Some(ip) = amp.lb_network_ip.clone() else {
                continue;
            };
            // An amphora whose agent died serves nothing it could be told
            // to stop (its haproxy goes with it when it is deleted); waiting
            // for it would fail the delete of its load balancer.
            if !agent_running(&amp.id).await {
                continue;
            }
            self.client(&amp.id, &ip)
                .await?
                .delete_listener(lb_id)
                .await?;
        }
        Ok(())
    }

    async fn push_config(&self, amphora_id: &str) -> Result<(), StepError> {
        let Some(amp) = amphorae::get(&self.db, amphora_id).await.map_err(db_err)? else {
            return Ok(());
        };
        let Some(ip) = amp.lb_network_ip.clone() else {
            return Ok(());
        };
        let file = self.agent_base(amphora_id).join("amphora-agent.toml");
        let text = std::fs::read_to_string(&file).map_err(|e| io_err("agent config", e))?;
        self.client(amphora_id, &ip)
            .await?
            .update_config(&text)
            .await
    }
}

impl config::Tree {
    /// Without the objects being deleted: what the amphorae serve once the
    /// operation is done (upstream renders the tree with them removed).
    fn live(mut self) -> Self {
        let live = |s: ProvisioningStatus| s != ProvisioningStatus::PendingDelete;
        self.listeners.retain(|l| live(l.provisioning_status));
        self.pools.retain(|p| live(p.provisioning_status));
        self.members.retain(|m| live(m.provisioning_status));
        self.health_monitors.retain(|h| live(h.provisioning_status));
        self.l7policies.retain(|p| live(p.provisioning_status));
        self.l7rules.retain(|r| live(r.provisioning_status));
        self
    }
}

/// The VIP group's ingress (upstream `update_vip`): every listener's port
/// from its allowed CIDRs (anywhere without), and VRRP between the
/// amphorae of an active/standby pair.
fn ingress_for(tree: &config::Tree) -> Vec<Ingress> {
    let mut out = Vec::new();
    let v6 = tree
        .lb
        .vip
        .ip_address
        .as_deref()
        .is_some_and(|a| a.contains(':'));
    let ethertype = if v6 { "IPv6" } else { "IPv4" };
    for l in tree
        .listeners
        .iter()
        .filter(|l| l.provisioning_status != ProvisioningStatus::PendingDelete)
    {
        let proto = match l.protocol.as_str() {
            "UDP" => "udp",
            "SCTP" => "sctp",
            _ => "tcp",
        };
        let cidrs: Vec<Option<String>> = if l.allowed_cidrs.is_empty() {
            vec![None]
        } else {
            l.allowed_cidrs.iter().cloned().map(Some).collect()
        };
        for c in cidrs {
            let mut r = Ingress::port(ethertype, proto, l.protocol_port);
            r.remote_ip_prefix = c;
            out.push(r);
        }
    }
    if tree.lb.topology == neutrino_lb_types::enums::Topology::ActiveStandby {
        out.push(Ingress::protocol(ethertype, "112"));
    }
    out.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
    out.dedup();
    out
}

/// Whether the agent of amphora `amphora_id` runs (in its namespace).
async fn agent_running(amphora_id: &str) -> bool {
    netns::pids(&netns::outer(amphora_id))
        .await
        .into_iter()
        .any(|p| {
            std::fs::read(format!("/proc/{p}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains("amphora-agent"))
                .unwrap_or(false)
        })
}

fn write_private(path: &Path, data: &[u8]) -> Result<(), StepError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| io_err(&tmp.display().to_string(), e))?;
    f.write_all(data)
        .map_err(|e| io_err(&tmp.display().to_string(), e))?;
    std::fs::rename(&tmp, path).map_err(|e| io_err(&path.display().to_string(), e))
}

impl Backend for LocalBackend {
    fn name(&self) -> &'static str {
        "local"
    }

    fn boot<'a>(&'a self, spec: &'a AmphoraSpec<'a>) -> BoxFuture<'a, Result<Booted, StepError>> {
        self.boot_amphora(spec).boxed()
    }

    fn delete<'a>(
        &'a self,
        amphora_id: &'a str,
        _: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(), StepError>> {
        self.delete_amphora(amphora_id).boxed()
    }

    fn plug_vip<'a>(
        &'a self,
        amphora_id: &'a str,
        vip: &'a VipTarget<'a>,
    ) -> BoxFuture<'a, Result<VipPlug, StepError>> {
        self.plug_amphora_vip(amphora_id, vip).boxed()
    }

    fn unplug_vip<'a>(
        &'a self,
        amphora_id: &'a str,
        _: Option<&'a VipPlug>,
    ) -> BoxFuture<'a, Result<(), StepError>> {
        self.unplug_amphora_vip(amphora_id).boxed()
    }

    fn apply_config<'a>(&'a self, lb_id: &'a str) -> BoxFuture<'a, Result<(), StepError>> {
        self.apply(lb_id).boxed()
    }

    fn remove_config<'a>(&'a self, lb_id: &'a str) -> BoxFuture<'a, Result<(), StepError>> {
        self.remove(lb_id).boxed()
    }

    fn push_agent_config<'a>(
        &'a self,
        amphora_id: &'a str,
    ) -> BoxFuture<'a, Result<(), StepError>> {
        self.push_config(amphora_id).boxed()
    }
}
