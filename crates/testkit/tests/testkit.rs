//! Tests of the test helpers themselves, against the real things they manage.

use std::net::TcpListener;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use neutrino_testkit::{
    ChildGuard, free_tcp_port, postgres_database_or_skip, sqlite_url, venv_bin, venv_dir,
    wait_for_file, wait_for_tcp,
};
use sqlx::{Connection, PgConnection, SqliteConnection};

fn in_ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

fn pid_exists(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[tokio::test]
async fn postgres_database_creates_distinct_usable_databases() -> anyhow::Result<()> {
    let Some(a) = postgres_database_or_skip().await? else {
        return Ok(());
    };
    let b = postgres_database_or_skip().await?.expect("server is up");
    assert_ne!(a, b);

    for url in [&a, &b] {
        let expected = url.rsplit('/').next().unwrap();
        assert!(expected.starts_with("t_"), "{url}");
        let mut conn = PgConnection::connect(url).await?;
        let current: String = sqlx::query_scalar("SELECT current_database()")
            .fetch_one(&mut conn)
            .await?;
        assert_eq!(current, expected);
        // Fresh and empty: no user tables yet, and we may create some.
        let tables: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'",
        )
        .fetch_one(&mut conn)
        .await?;
        assert_eq!(tables, 0);
        sqlx::query("CREATE TABLE t (id int PRIMARY KEY, name text NOT NULL)")
            .execute(&mut conn)
            .await?;
        sqlx::query("INSERT INTO t VALUES (1, $1)")
            .bind(url.as_str())
            .execute(&mut conn)
            .await?;
        conn.close().await?;
    }

    // The databases are independent: each sees only its own row.
    for url in [&a, &b] {
        let mut conn = PgConnection::connect(url).await?;
        let names: Vec<String> = sqlx::query_scalar("SELECT name FROM t")
            .fetch_all(&mut conn)
            .await?;
        assert_eq!(names, vec![url.clone()]);
    }
    Ok(())
}

#[tokio::test]
async fn postgres_server_has_test_settings() -> anyhow::Result<()> {
    let Some(url) = postgres_database_or_skip().await? else {
        return Ok(());
    };
    let mut conn = PgConnection::connect(&url).await?;
    let max_conn: String = sqlx::query_scalar("SHOW max_connections")
        .fetch_one(&mut conn)
        .await?;
    // Only the server of scripts/pg-test-server.sh is known to be tuned.
    if url.contains("127.0.0.1") {
        assert!(
            max_conn.parse::<u32>()? >= 300,
            "max_connections = {max_conn}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn sqlite_url_opens_a_database_file_in_the_dir() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let url = sqlite_url(dir.path());
    assert!(url.starts_with("sqlite://") && url.ends_with("/neutrino.db?mode=rwc"));
    let mut conn = SqliteConnection::connect(&url).await?;
    sqlx::query("CREATE TABLE t (x INTEGER)")
        .execute(&mut conn)
        .await?;
    sqlx::query("INSERT INTO t VALUES (42)")
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    assert!(dir.path().join("neutrino.db").is_file());

    let mut conn = SqliteConnection::connect(&url).await?;
    let x: i64 = sqlx::query_scalar("SELECT x FROM t")
        .fetch_one(&mut conn)
        .await?;
    assert_eq!(x, 42);
    Ok(())
}

#[test]
fn free_tcp_port_returns_bindable_ports() {
    let ports: Vec<u16> = (0..5).map(|_| free_tcp_port()).collect();
    for &port in &ports {
        assert_ne!(port, 0);
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("port is bindable");
        assert_eq!(listener.local_addr().unwrap().port(), port);
    }
}

#[tokio::test]
async fn wait_for_tcp_sees_a_late_listener_and_times_out_without_one() -> anyhow::Result<()> {
    let port = free_tcp_port();
    let started = Instant::now();
    let err = wait_for_tcp(("127.0.0.1", port), Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(err.to_string().contains("within"), "{err}");

    let listener_task = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let _ = listener.accept().await?;
        anyhow::Ok(())
    });
    wait_for_tcp(format!("127.0.0.1:{port}"), Duration::from_secs(10)).await?;
    listener_task.await??;
    Ok(())
}

#[tokio::test]
async fn wait_for_file_sees_a_late_file_and_times_out_without_one() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("ready");
    assert!(
        wait_for_file(&path, Duration::from_millis(200))
            .await
            .is_err()
    );
    let p = path.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        tokio::fs::write(p, b"1").await
    });
    wait_for_file(&path, Duration::from_secs(10)).await?;
    assert!(path.exists());
    Ok(())
}

#[test]
fn child_guard_drop_ends_exactly_its_child() {
    let mut other = Command::new("sleep").arg("1000").spawn().unwrap();
    let guard = ChildGuard::spawn(Command::new("sleep").arg("1000")).unwrap();
    let pid = guard.id();
    assert!(pid_exists(pid));

    let started = Instant::now();
    drop(guard);
    // SIGTERM ends sleep at once: no need to wait for the SIGKILL grace period.
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(!pid_exists(pid), "guarded child {pid} still exists");

    assert!(
        other.try_wait().unwrap().is_none(),
        "the other child was hit"
    );
    other.kill().unwrap();
    other.wait().unwrap();
}

#[test]
fn child_guard_terminate_uses_sigterm_then_sigkill() {
    let mut polite = ChildGuard::spawn(Command::new("sleep").arg("1000")).unwrap();
    let status = polite.terminate(Duration::from_secs(5)).unwrap();
    assert_eq!(status.signal(), Some(15), "{status:?}");

    // A child that ignores SIGTERM (ignored dispositions survive exec) gets SIGKILL.
    let mut stubborn = ChildGuard::spawn(
        Command::new("sh")
            .args(["-c", "trap '' TERM; echo ready; exec sleep 1000"])
            .stdout(Stdio::piped()),
    )
    .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(stubborn.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line.trim(), "ready");
    let started = Instant::now();
    let status = stubborn.terminate(Duration::from_millis(300)).unwrap();
    assert_eq!(status.signal(), Some(9), "{status:?}");
    assert!(started.elapsed() >= Duration::from_millis(300));

    // Already exited: terminate just reports the status.
    let mut done = ChildGuard::spawn(&mut Command::new("true")).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert!(done.terminate(Duration::from_secs(1)).unwrap().success());
}

#[test]
fn venv_bin_finds_the_openstack_cli() {
    match venv_bin("openstack") {
        Ok(path) => {
            assert!(path.starts_with(venv_dir()));
            let out = Command::new(&path).arg("--version").output().unwrap();
            assert!(out.status.success(), "{out:?}");
            let text = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
            assert!(text.starts_with("openstack "), "{text}");
        }
        Err(e) if !in_ci() => eprintln!("skipping: {e}"),
        Err(e) => panic!("{e:#}"),
    }
    let err = venv_bin("no-such-binary-here").unwrap_err().to_string();
    assert!(err.contains("scripts/setup.sh"), "{err}");
}
