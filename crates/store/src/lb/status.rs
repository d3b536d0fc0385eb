//! The status tree of one load balancer (§3.5): six queries, one per
//! object kind (rows only, no tags or derived lists), in one snapshot, so
//! the cost does not grow with the number of objects.

use neutrino_lb_types::status_tree::{LbGraph, StatusTree};

use super::{
    Exec, Filter, Reader, health_monitors, l7policies, listeners, load_balancers, members, pools,
};
use crate::{Db, StoreError, Tx};

const POOLS_OF_LB: &str = "pool_id IN (SELECT id FROM lb_pools WHERE load_balancer_id = $1)";

async fn read(e: &mut impl Exec, lb_id: &str) -> Result<Option<StatusTree>, StoreError> {
    let Some(lb) = load_balancers::fetch(e, &Filter::id(lb_id).rows_only())
        .await?
        .pop()
    else {
        return Ok(None);
    };
    let of_lb = Filter::column("load_balancer_id = $1", lb_id).rows_only();
    let listeners = listeners::fetch(e, &of_lb).await?;
    let pools = pools::fetch(e, &of_lb).await?;
    let members = members::fetch(e, &Filter::column(POOLS_OF_LB, lb_id).rows_only()).await?;
    let health_monitors =
        health_monitors::fetch(e, &Filter::column(POOLS_OF_LB, lb_id).rows_only()).await?;
    let l7policies = l7policies::fetch(
        e,
        &Filter::column(
            "listener_id IN (SELECT id FROM lb_listeners WHERE load_balancer_id = $1)",
            lb_id,
        )
        .rows_only(),
    )
    .await?;
    let graph = LbGraph {
        listeners: listeners.iter().collect(),
        pools: pools.iter().collect(),
        members: members.iter().collect(),
        health_monitors: health_monitors.iter().collect(),
        l7policies: l7policies.iter().collect(),
    };
    Ok(Some(StatusTree::build(&lb, &graph)))
}

/// `None`: no such load balancer.
pub async fn tree(db: &Db, lb_id: &str) -> Result<Option<StatusTree>, StoreError> {
    read(&mut Reader::new(db).await?, lb_id).await
}

/// The tree as a write transaction sees it.
pub async fn tree_tx(tx: &mut Tx, lb_id: &str) -> Result<Option<StatusTree>, StoreError> {
    read(tx, lb_id).await
}
