//! Faults through the binary (issue 11, design §7.3): `neutrino serve` is
//! killed (abort, as kill -9 leaves it) at every step of a load balancer
//! create and of a cascade delete, and inside the create's transaction
//! between the VIP port and the flow; a restarted server must leave every
//! object ACTIVE, ERROR or gone, with no VIP port, amphora or flow row
//! behind. Runs on SQLite, and on PostgreSQL when
//! NEUTRINO_TEST_POSTGRES_URL is set.
//!
//! The crash points come from the flow definitions themselves, so a new
//! step is covered without touching this test. They exist only in a
//! binary built with `--features fault-injection` (scripts/test.sh builds
//! the workspace so); without it this file is one failing test saying so.

#[cfg(not(feature = "fault-injection"))]
#[test]
fn fault_tests_need_the_fault_injection_feature() {
    panic!(
        "the crash points are compiled out: run with --features neutrino/fault-injection \
         (scripts/test.sh does)"
    );
}

#[cfg(feature = "fault-injection")]
mod common;

#[cfg(feature = "fault-injection")]
mod faults {
    use super::common;

    use std::path::{Path, PathBuf};
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    use anyhow::{Context, Result, bail, ensure};
    use neutrino_testkit::{ChildGuard, free_tcp_port, wait_for_tcp};
    use serde_json::{Value, json};

    const PASSWORD: &str = "fault-Secret-1";

    struct Cloud {
        dir: PathBuf,
        db_url: String,
        ports: [u16; 3],
        http: reqwest::Client,
    }

    impl Cloud {
        fn new(dir: &Path, db_url: String) -> Cloud {
            let mut ports = Vec::new();
            while ports.len() < 3 {
                let p = free_tcp_port();
                if !ports.contains(&p) {
                    ports.push(p);
                }
            }
            Cloud {
                dir: dir.to_path_buf(),
                db_url,
                ports: [ports[0], ports[1], ports[2]],
                http: reqwest::Client::new(),
            }
        }

        /// `neutrino serve` on this cloud's ports (the same on every restart,
        /// so the worker takes over its previous life's leases at once),
        /// with the given fault settings.
        async fn start(&self, env: &[(&str, &str)]) -> Result<ChildGuard> {
            let [identity, network, lb] = self.ports;
            let log = self.dir.join("serve.log");
            let mut cmd = Command::new(common::BIN);
            cmd.current_dir(&self.dir)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(&log)?,
                );
            for (k, _) in std::env::vars_os() {
                if k.to_string_lossy().starts_with("NEUTRINO_") {
                    cmd.env_remove(k);
                }
            }
            cmd.args(["serve", "--database-url", &self.db_url])
                .args(["--admin-password", PASSWORD])
                .args(["--identity-listen", &format!("127.0.0.1:{identity}")])
                .args(["--network-listen", &format!("127.0.0.1:{network}")])
                .args(["--load-balancer-listen", &format!("127.0.0.1:{lb}")]);
            for (k, v) in env {
                cmd.env(k, v);
            }
            let mut child = ChildGuard::spawn(&mut cmd)?;
            let deadline = Instant::now() + Duration::from_secs(60);
            for port in self.ports {
                while wait_for_tcp(("127.0.0.1", port), Duration::from_millis(100))
                    .await
                    .is_err()
                {
                    if let Some(s) = child.try_wait()? {
                        bail!("serve exited early ({s}):\n{}", self.log());
                    }
                    ensure!(
                        Instant::now() < deadline,
                        "serve not ready:\n{}",
                        self.log()
                    );
                }
            }
            Ok(child)
        }

        fn log(&self) -> String {
            std::fs::read_to_string(self.dir.join("serve.log")).unwrap_or_default()
        }

        async fn token(&self) -> Result<String> {
            let r = self
                .http
                .post(format!("http://127.0.0.1:{}/v3/auth/tokens", self.ports[0]))
                .json(
                    &json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
                "name": "admin", "domain": {"id": "default"}, "password": PASSWORD}}},
                "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}),
                )
                .send()
                .await?;
            Ok(r.headers()["x-subject-token"].to_str()?.to_string())
        }

        /// A call to the Network API (`net`) or the Load-balancer API.
        async fn call(
            &self,
            token: &str,
            net: bool,
            method: &str,
            path: &str,
            body: Option<Value>,
        ) -> Result<(u16, Value)> {
            let port = if net { self.ports[1] } else { self.ports[2] };
            let mut req = self
                .http
                .request(method.parse()?, format!("http://127.0.0.1:{port}{path}"))
                .header("x-auth-token", token);
            if let Some(b) = body {
                req = req.json(&b);
            }
            let r = req.send().await?;
            let status = r.status().as_u16();
            let text = r.text().await?;
            Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
        }

        /// Rows of the tables a load balancer can leave behind.
        async fn leftovers(&self) -> Result<Vec<(&'static str, i64)>> {
            let db = neutrino_store::Db::connect(&self.db_url).await?;
            let mut out = Vec::new();
            for table in [
                "lb_load_balancers",
                "lb_vips",
                "lb_amphorae",
                "lb_flows",
                "lb_flow_steps",
                "lb_listeners",
                "lb_pools",
                "ports",
                "ip_allocations",
            ] {
                let sql = format!("SELECT COUNT(*) FROM {table}");
                let n = neutrino_store::dispatch!(db.read(), c => sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql)).fetch_one(c).await)?;
                out.push((table, n));
            }
            db.close().await;
            Ok(out)
        }
    }

    /// Waits until `child` has exited (the injected abort).
    fn wait_exit(child: &mut ChildGuard, what: &str) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if child.try_wait()?.is_some() {
                return Ok(());
            }
            ensure!(
                Instant::now() < deadline,
                "{what}: the server did not crash"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    async fn wait_status(c: &Cloud, token: &str, lb: &str, want: &[&str]) -> Result<String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (s, b) = c
                .call(
                    token,
                    false,
                    "GET",
                    &format!("/v2/lbaas/loadbalancers/{lb}"),
                    None,
                )
                .await?;
            let status = if s == 404 {
                "DELETED".to_string()
            } else {
                b["loadbalancer"]["provisioning_status"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            };
            if want.contains(&status.as_str()) {
                return Ok(status);
            }
            ensure!(
                Instant::now() < deadline,
                "load balancer {lb} stuck in {status}, wanted {want:?}:\n{}",
                c.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A network and subnet; returns the subnet id.
    async fn subnet(c: &Cloud, token: &str) -> Result<String> {
        let (s, n) = c
            .call(
                token,
                true,
                "POST",
                "/v2.0/networks",
                Some(json!({"network": {"name": "private"}})),
            )
            .await?;
        ensure!(s == 201, "network: {n}");
        let (s, sub) = c
            .call(
                token,
                true,
                "POST",
                "/v2.0/subnets",
                Some(json!({"subnet": {
            "network_id": n["network"]["id"], "cidr": "10.0.0.0/24", "ip_version": 4}})),
            )
            .await?;
        ensure!(s == 201, "subnet: {sub}");
        Ok(sub["subnet"]["id"]
            .as_str()
            .context("subnet id")?
            .to_string())
    }

    async fn create_lb(c: &Cloud, token: &str, subnet: &str) -> Result<(u16, Value)> {
        c.call(
            token,
            false,
            "POST",
            "/v2/lbaas/loadbalancers",
            Some(json!({"loadbalancer": {"name": "lbaas", "vip_subnet_id": subnet}})),
        )
        .await
    }

    fn count(rows: &[(&str, i64)], table: &str) -> i64 {
        rows.iter()
            .find(|(t, _)| *t == table)
            .map_or(-1, |(_, n)| *n)
    }

    /// Every database this run can use: a fresh SQLite file, and a fresh
    /// PostgreSQL database when one is configured.
    async fn databases(dir: &Path) -> Result<Vec<String>> {
        let mut out = vec![format!("sqlite://{}?mode=rwc", dir.join("n.db").display())];
        if let Some(pg) = neutrino_testkit::postgres_database_or_skip().await? {
            out.push(pg);
        }
        Ok(out)
    }

    fn step_names(kind: &str) -> Vec<String> {
        neutrino_lbaas::flows::registry()
            .step_names(kind)
            .expect("flow kind exists")
    }

    #[tokio::test]
    async fn e2e_kill_at_every_step_of_a_load_balancer_create_leaves_it_active_or_error()
    -> Result<()> {
        let steps = step_names(neutrino_lbaas::flows::kind::LB_CREATE);
        for point in steps
            .iter()
            .flat_map(|s| ["before", "after"].map(|p| (s.clone(), p)))
        {
            let tmp = tempfile::tempdir()?;
            for db_url in databases(tmp.path()).await? {
                let c = Cloud::new(tmp.path(), db_url);
                let (step, at) = (&point.0, point.1);
                let fault = format!("lb_create:{step}:{at}:crash");
                let mut server = c.start(&[("NEUTRINO_LB_FAULT", &fault)]).await?;
                let token = c.token().await?;
                let subnet = subnet(&c, &token).await?;
                // The worker may crash the server before the answer is
                // written: the request committed either way.
                let answer = create_lb(&c, &token, &subnet).await;
                wait_exit(&mut server, &fault)?;
                drop(server);
                let _server = c.start(&[]).await?;
                let token = c.token().await?;
                let (_, all) = c
                    .call(&token, false, "GET", "/v2/lbaas/loadbalancers", None)
                    .await?;
                let listed = all["loadbalancers"].as_array().context("list")?;
                ensure!(listed.len() == 1, "{fault}: {all} ({answer:?})");
                let id = listed[0]["id"].as_str().context("id")?.to_string();
                if let Ok((s, lb)) = &answer {
                    ensure!(
                        *s == 201 && lb["loadbalancer"]["id"] == id.as_str(),
                        "{fault}: {lb}"
                    );
                }
                let end = wait_status(&c, &token, &id, &["ACTIVE"]).await?;
                ensure!(end == "ACTIVE", "{fault}: {end}");
                let rows = c.leftovers().await?;
                ensure!(
                    count(&rows, "lb_amphorae") == 1
                        && count(&rows, "lb_flows") == 0
                        && count(&rows, "lb_flow_steps") == 0
                        && count(&rows, "ports") == 1,
                    "{fault}: one amphora, one VIP port, no flow: {rows:?}"
                );
                // And it deletes cleanly afterwards.
                let (s, _) = c
                    .call(
                        &token,
                        false,
                        "DELETE",
                        &format!("/v2/lbaas/loadbalancers/{id}"),
                        None,
                    )
                    .await?;
                ensure!(s == 204, "{fault}: delete {s}");
                wait_status(&c, &token, &id, &["DELETED"]).await?;
                let rows = c.leftovers().await?;
                ensure!(
                    rows.iter().all(|(_, n)| *n == 0),
                    "{fault}: leftovers after delete {rows:?}"
                );
            }
        }
        Ok(())
    }

    #[tokio::test]
    async fn e2e_a_failing_step_unwinds_the_create_and_the_load_balancer_can_be_deleted()
    -> Result<()> {
        for step in step_names(neutrino_lbaas::flows::kind::LB_CREATE) {
            let tmp = tempfile::tempdir()?;
            for db_url in databases(tmp.path()).await? {
                let c = Cloud::new(tmp.path(), db_url);
                let fault = format!("lb_create:{step}:after:error");
                let _server = c.start(&[("NEUTRINO_LB_FAULT", &fault)]).await?;
                let token = c.token().await?;
                let subnet = subnet(&c, &token).await?;
                let (s, lb) = create_lb(&c, &token, &subnet).await?;
                ensure!(s == 201, "{fault}: {lb}");
                let id = lb["loadbalancer"]["id"].as_str().context("id")?.to_string();
                let end = wait_status(&c, &token, &id, &["ERROR", "ACTIVE"]).await?;
                ensure!(end == "ERROR", "{fault}: {end}");
                let rows = c.leftovers().await?;
                ensure!(
                    count(&rows, "lb_amphorae") == 0 && count(&rows, "lb_flows") == 0,
                    "{fault}: every step undone: {rows:?}"
                );
                let (s, _) = c
                    .call(
                        &token,
                        false,
                        "DELETE",
                        &format!("/v2/lbaas/loadbalancers/{id}"),
                        None,
                    )
                    .await?;
                ensure!(s == 204, "{fault}: an ERROR load balancer deletes ({s})");
                wait_status(&c, &token, &id, &["DELETED"]).await?;
                let rows = c.leftovers().await?;
                ensure!(rows.iter().all(|(_, n)| *n == 0), "{fault}: {rows:?}");
            }
        }
        Ok(())
    }

    #[tokio::test]
    async fn e2e_kill_between_the_vip_port_and_the_flow_leaves_no_port() -> Result<()> {
        let tmp = tempfile::tempdir()?;
        for db_url in databases(tmp.path()).await? {
            let c = Cloud::new(tmp.path(), db_url);
            let mut server = c
                .start(&[("NEUTRINO_LB_API_FAULT", "lb_create:after_port")])
                .await?;
            let token = c.token().await?;
            let subnet = subnet(&c, &token).await?;
            let answer = create_lb(&c, &token, &subnet).await;
            ensure!(answer.is_err(), "the server died mid-request: {answer:?}");
            wait_exit(&mut server, "after_port")?;
            drop(server);
            let _server = c.start(&[]).await?;
            let rows = c.leftovers().await?;
            ensure!(
                rows.iter().all(|(_, n)| *n == 0),
                "nothing of the load balancer or its VIP port: {rows:?}"
            );
        }
        Ok(())
    }

    #[tokio::test]
    async fn e2e_kill_at_every_step_of_a_cascade_delete_leaves_nothing() -> Result<()> {
        for step in step_names(neutrino_lbaas::flows::kind::LB_DELETE) {
            for at in ["before", "after"] {
                let tmp = tempfile::tempdir()?;
                for db_url in databases(tmp.path()).await? {
                    let c = Cloud::new(tmp.path(), db_url);
                    let fault = format!("lb_delete:{step}:{at}:crash");
                    let mut server = c.start(&[("NEUTRINO_LB_FAULT", &fault)]).await?;
                    let token = c.token().await?;
                    let subnet = subnet(&c, &token).await?;
                    let (_, lb) = create_lb(&c, &token, &subnet).await?;
                    let id = lb["loadbalancer"]["id"].as_str().context("id")?.to_string();
                    wait_status(&c, &token, &id, &["ACTIVE"]).await?;
                    let (s, l) = c
                        .call(
                            &token,
                            false,
                            "POST",
                            "/v2/lbaas/listeners",
                            Some(json!({"listener": {
                        "loadbalancer_id": id, "protocol": "HTTP", "protocol_port": 80}})),
                        )
                        .await?;
                    ensure!(s == 201, "{fault}: listener {l}");
                    wait_status(&c, &token, &id, &["ACTIVE"]).await?;
                    // As for the create, the answer may be lost to the crash.
                    let answer = c
                        .call(
                            &token,
                            false,
                            "DELETE",
                            &format!("/v2/lbaas/loadbalancers/{id}?cascade=true"),
                            None,
                        )
                        .await;
                    if let Ok((s, b)) = &answer {
                        ensure!(*s == 204, "{fault}: delete {s} {b}");
                    }
                    wait_exit(&mut server, &fault)?;
                    drop(server);
                    let _server = c.start(&[]).await?;
                    let token = c.token().await?;
                    wait_status(&c, &token, &id, &["DELETED"]).await?;
                    let rows = c.leftovers().await?;
                    ensure!(rows.iter().all(|(_, n)| *n == 0), "{fault}: {rows:?}");
                }
            }
        }
        Ok(())
    }
}
