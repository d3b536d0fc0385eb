//! The `lb` scenario: the Load-balancer API (Octavia v2) on the noop
//! provider, in the same process as identity, the Network API and the flow
//! worker. Every create answers PENDING_CREATE and a flow settles it to
//! ACTIVE; the bench polls `GET` of the object until it reads ACTIVE, and
//! the next create on the same load balancer waits for that (the API
//! answers 409 to a create under a load balancer that is not ACTIVE).
//!
//! 1. load balancer create → ACTIVE, 1 client (`--lbs`);
//! 2. full trees with 8 clients (`--trees`): load balancer, listener, pool,
//!    10 members one at a time, health monitor, each waiting for ACTIVE;
//! 3. `GET` of the members of one pool of `--members` members (made with
//!    one batch `PUT`, untimed), `--lists` times;
//! 4. the server's RSS (printed by the caller after this returns).
//!
//! All VIPs come from one /16 subnet; members use addresses of that
//! subnet too (unique per pool, which is all the API asks).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::{Api, ms, percentile, row, timed};

/// How long to sleep between two polls of an object's status.
const POLL: Duration = Duration::from_millis(5);
/// How long an object may stay PENDING before the bench gives up.
const PATIENCE: Duration = Duration::from_secs(120);

/// The member address `k` of a pool: 10.0.1.1, 10.0.1.2, ... 250 per /24.
fn member_address(k: usize) -> String {
    format!("10.0.{}.{}", 1 + k / 250, 1 + k % 250)
}

/// Polls `GET path` until its `key` object's `provisioning_status` is
/// ACTIVE; fails on ERROR or after [`PATIENCE`].
async fn wait_active(lb: &Api, path: &str, key: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        let v = lb.send(reqwest::Method::GET, path, Value::Null).await?;
        match v[key]["provisioning_status"].as_str() {
            Some("ACTIVE") => return Ok(()),
            Some("ERROR") => bail!("{path} went to ERROR: {v}"),
            Some(_) => {}
            None => bail!("no provisioning_status in {v}"),
        }
        if started.elapsed() > PATIENCE {
            bail!("{path} not ACTIVE after {PATIENCE:?}: {v}");
        }
        tokio::time::sleep(POLL).await;
    }
}

/// `POST /v2/lbaas/{collection}` of one `key` object, then waits until it
/// is ACTIVE at `show` (the object's path given its id). Returns the id.
async fn create_active(
    lb: &Api,
    collection: &str,
    key: &str,
    body: Value,
    show: impl Fn(&str) -> String,
) -> anyhow::Result<String> {
    let id = lb.create(collection, key, body).await?;
    wait_active(lb, &show(&id), key).await?;
    Ok(id)
}

async fn load_balancer(lb: &Api, subnet: &str, name: &str) -> anyhow::Result<String> {
    create_active(
        lb,
        "/v2/lbaas/loadbalancers",
        "loadbalancer",
        json!({"vip_subnet_id": subnet, "name": name}),
        |id| format!("/v2/lbaas/loadbalancers/{id}"),
    )
    .await
}

async fn listener(lb: &Api, lb_id: &str) -> anyhow::Result<String> {
    create_active(
        lb,
        "/v2/lbaas/listeners",
        "listener",
        json!({"loadbalancer_id": lb_id, "protocol": "HTTP", "protocol_port": 80}),
        |id| format!("/v2/lbaas/listeners/{id}"),
    )
    .await
}

async fn pool(lb: &Api, listener_id: &str) -> anyhow::Result<String> {
    create_active(
        lb,
        "/v2/lbaas/pools",
        "pool",
        json!({"listener_id": listener_id, "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}),
        |id| format!("/v2/lbaas/pools/{id}"),
    )
    .await
}

/// Load balancer, listener, pool, `members` members one at a time, health
/// monitor: 3 + `members` + 1 creates, each waiting for ACTIVE.
async fn tree(lb: &Api, subnet: &str, name: &str, members: usize) -> anyhow::Result<()> {
    let lb_id = load_balancer(lb, subnet, name).await?;
    let listener_id = listener(lb, &lb_id).await?;
    let pool_id = pool(lb, &listener_id).await?;
    let members_path = format!("/v2/lbaas/pools/{pool_id}/members");
    for k in 0..members {
        create_active(
            lb,
            &members_path,
            "member",
            json!({"address": member_address(k), "protocol_port": 8080, "subnet_id": subnet}),
            |id| format!("{members_path}/{id}"),
        )
        .await?;
    }
    create_active(
        lb,
        "/v2/lbaas/healthmonitors",
        "healthmonitor",
        json!({"pool_id": pool_id, "type": "HTTP", "delay": 5, "timeout": 4, "max_retries": 3}),
        |id| format!("/v2/lbaas/healthmonitors/{id}"),
    )
    .await?;
    Ok(())
}

pub struct Sizes {
    pub lbs: usize,
    pub trees: usize,
    pub tree_clients: usize,
    pub tree_members: usize,
    pub members: usize,
    pub lists: usize,
}

/// Runs phases 1 to 3 against the Load-balancer API at `lb` (same token as
/// `net`, the Network API). Prints table rows.
pub async fn run(net: &Arc<Api>, lb: &Arc<Api>, backend: &str, s: &Sizes) -> anyhow::Result<()> {
    if 250 * 254 < s.members.max(s.tree_members) {
        bail!("at most {} members per pool", 250 * 254);
    }
    // Untimed: one network and one /16 subnet for every VIP.
    let network = net
        .create("/v2.0/networks", "network", json!({"name": "lb-bench"}))
        .await?;
    let subnet = net
        .create(
            "/v2.0/subnets",
            "subnet",
            json!({"network_id": network, "ip_version": 4, "cidr": "10.0.0.0/16"}),
        )
        .await?;

    // 1. Load balancer create → ACTIVE, one client. Also noted: the POST's
    // own answer time, the part of the latency that is not the flow.
    let answers = Arc::new(std::sync::Mutex::new(Vec::with_capacity(s.lbs)));
    let (rate, lat) = timed(s.lbs, 1, |i| {
        let lb = lb.clone();
        let subnet = subnet.clone();
        let answers = answers.clone();
        async move {
            let t = Instant::now();
            let id = lb
                .create(
                    "/v2/lbaas/loadbalancers",
                    "loadbalancer",
                    json!({"vip_subnet_id": subnet, "name": format!("single-{i}")}),
                )
                .await?;
            answers.lock().expect("not poisoned").push(t.elapsed());
            wait_active(
                &lb,
                &format!("/v2/lbaas/loadbalancers/{id}"),
                "loadbalancer",
            )
            .await
        }
    })
    .await
    .context("load balancer create → ACTIVE")?;
    row(
        backend,
        &format!(
            "load balancer create → ACTIVE, 1 client ({} load balancers)",
            s.lbs
        ),
        rate,
        &lat,
    );
    let mut answers = std::mem::take(&mut *answers.lock().expect("not poisoned"));
    answers.sort();
    println!(
        "| {backend} | of which the POST's answer (PENDING_CREATE) | — | p50 {} · p99 {} |",
        ms(percentile(&answers, 0.5)),
        ms(percentile(&answers, 0.99))
    );

    // 2. Full trees, `tree_clients` at a time.
    let (rate, lat) = timed(s.trees, s.tree_clients, |i| {
        let lb = lb.clone();
        let subnet = subnet.clone();
        let members = s.tree_members;
        async move { tree(&lb, &subnet, &format!("tree-{i}"), members).await }
    })
    .await
    .context("full trees")?;
    row(
        backend,
        &format!(
            "full tree (LB + listener + pool + {} members + HM, {} creates each waiting for ACTIVE), {} clients ({} trees)",
            s.tree_members,
            s.tree_members + 4,
            s.tree_clients,
            s.trees
        ),
        rate,
        &lat,
    );

    // 3. One pool of `members` members, made with one batch PUT (untimed),
    // then listed.
    let lb_id = load_balancer(lb, &subnet, "big").await?;
    let listener_id = listener(lb, &lb_id).await?;
    let pool_id = pool(lb, &listener_id).await?;
    let members_path = format!("/v2/lbaas/pools/{pool_id}/members");
    let batch: Vec<Value> = (0..s.members)
        .map(|k| json!({"address": member_address(k), "protocol_port": 8080, "subnet_id": subnet}))
        .collect();
    let t = Instant::now();
    let r = lb
        .http
        .put(format!("{}{members_path}", lb.base))
        .header("x-auth-token", &lb.token)
        .json(&json!({ "members": batch }))
        .send()
        .await?;
    if !r.status().is_success() {
        let status = r.status();
        bail!(
            "batch PUT {members_path} failed with {status}: {}",
            r.text().await?
        );
    }
    let answered = t.elapsed();
    wait_active(lb, &format!("/v2/lbaas/pools/{pool_id}"), "pool").await?;
    wait_active(
        lb,
        &format!("/v2/lbaas/loadbalancers/{lb_id}"),
        "loadbalancer",
    )
    .await?;
    eprintln!(
        "batch PUT of {} members: answered in {}, pool ACTIVE after {} (not in the table)",
        s.members,
        ms(answered),
        ms(t.elapsed())
    );

    let mut list_lat = Vec::with_capacity(s.lists);
    for _ in 0..s.lists {
        let t = Instant::now();
        let r = lb
            .http
            .get(format!("{}{members_path}", lb.base))
            .header("x-auth-token", &lb.token)
            .send()
            .await?;
        let status = r.status();
        let v: Value = r.json().await?;
        list_lat.push(t.elapsed());
        if !status.is_success() {
            bail!("GET {members_path} failed with {status}: {v}");
        }
        let members = v["members"].as_array().context("no members array")?;
        if members.len() != s.members {
            // The API's page size (pagination_max_limit) is 1,000.
            bail!(
                "listed {} members, expected {} (more than one page?)",
                members.len(),
                s.members
            );
        }
        if let Some(m) = members
            .iter()
            .find(|m| m["provisioning_status"] != "ACTIVE")
        {
            bail!("member not ACTIVE after its pool: {m}");
        }
    }
    list_lat.sort();
    println!(
        "| {backend} | list {} members of one pool ({} requests) | — | p50 {} · p99 {} |",
        s.members,
        s.lists,
        ms(percentile(&list_lat, 0.5)),
        ms(percentile(&list_lat, 0.99))
    );
    Ok(())
}
