//! What an amphora should serve: the load balancer's tree as stored,
//! rendered by [`crate::render::haproxy`] with the paths of the agent's
//! base directory.

use std::collections::BTreeMap;
use std::path::Path;

use neutrino_lb_types::model::{
    HealthMonitor, L7Policy, L7Rule, Listener, LoadBalancer, Member, Pool,
};
use neutrino_store::lb::{
    health_monitors, l7policies, l7rules, listeners, load_balancers, members, pools,
};
use neutrino_store::{Db, StoreError};

use crate::render::{HaproxyInput, HaproxyOptions, HaproxyPaths, Peer};

/// A load balancer and everything under it.
pub struct Tree {
    pub lb: LoadBalancer,
    pub listeners: Vec<Listener>,
    pub pools: Vec<Pool>,
    pub members: Vec<Member>,
    pub health_monitors: Vec<HealthMonitor>,
    pub l7policies: Vec<L7Policy>,
    pub l7rules: Vec<L7Rule>,
}

/// Reads the tree of `lb_id` (`None`: the load balancer is gone).
pub async fn load(db: &Db, lb_id: &str) -> Result<Option<Tree>, StoreError> {
    let Some(lb) = load_balancers::get(db, lb_id).await? else {
        return Ok(None);
    };
    let mut tx = db.begin().await?;
    let listeners = listeners::list_by_lb_tx(&mut tx, lb_id).await?;
    let pools = pools::list_by_lb_tx(&mut tx, lb_id).await?;
    let mut members = Vec::new();
    let mut health_monitors = Vec::new();
    for p in &pools {
        members.extend(members::list_by_pool_tx(&mut tx, &p.id).await?);
        health_monitors.extend(health_monitors::get_by_pool_tx(&mut tx, &p.id).await?);
    }
    let mut l7policies = Vec::new();
    for l in &listeners {
        l7policies.extend(l7policies::list_by_listener_tx(&mut tx, &l.id).await?);
    }
    tx.commit().await?;
    let mut l7rules = Vec::new();
    for p in &l7policies {
        l7rules.extend(l7rules::list_by_policy(db, &p.id).await?);
    }
    Ok(Some(Tree {
        lb,
        listeners,
        pools,
        members,
        health_monitors,
        l7policies,
        l7rules,
    }))
}

/// The agent's layout under its base directory (see the agent's
/// `haproxy::Paths`): upstream's `base_path` is `{base}/lb`, its
/// `base_cert_dir` `{base}/certs`.
pub struct AgentPaths {
    pub stats_socket: String,
    pub base_path: String,
    pub cert_dir: String,
}

/// Where an amphora's haproxy stats sockets go: a unix socket path has
/// at most 107 bytes (haproxy takes 97), which a data directory of any
/// length would overflow under the agent's base directory.
pub fn socket_dir(amphora_id: &str) -> std::path::PathBuf {
    Path::new("/run/neutrino-lb").join(amphora_id)
}

impl AgentPaths {
    pub fn new(agent_base: &Path, amphora_id: &str, lb_id: &str) -> Self {
        let base = agent_base.join("lb");
        AgentPaths {
            stats_socket: socket_dir(amphora_id)
                .join(format!("{lb_id}.sock"))
                .display()
                .to_string(),
            base_path: base.display().to_string(),
            cert_dir: agent_base.join("certs").display().to_string(),
        }
    }
}

/// The haproxy configuration of amphora `amphora_id` for `tree`.
pub fn render(
    tree: &Tree,
    amphora_id: &str,
    paths: &AgentPaths,
    peers: Vec<Peer<'_>>,
    default_connection_limit: i64,
) -> String {
    crate::render::haproxy(&HaproxyInput {
        load_balancer: &tree.lb,
        listeners: &tree.listeners,
        pools: &tree.pools,
        members: &tree.members,
        health_monitors: &tree.health_monitors,
        l7policies: &tree.l7policies,
        l7rules: &tree.l7rules,
        amphora_id,
        peers,
        paths: HaproxyPaths {
            stats_socket: &paths.stats_socket,
            base_path: &paths.base_path,
            cert_dir: &paths.cert_dir,
        },
        tls_files: BTreeMap::new(),
        options: HaproxyOptions {
            // Nothing listens on upstream's rsyslog socket here; haproxy
            // would only log that it cannot send.
            connection_logging: false,
            default_connection_limit,
            ..HaproxyOptions::default()
        },
    })
}
