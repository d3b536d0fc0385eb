//! The SQLite and PostgreSQL migrations must describe the same schema:
//! the same tables with the same columns, nullability and unique indexes.

use std::collections::BTreeSet;

use neutrino_store::{Db, dispatch};

async fn sqlite_schema(db: &Db) -> BTreeSet<String> {
    let tables: Vec<String> = dispatch!(db.read(), c => sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite%'")
        .fetch_all(c).await)
    .expect("tables");
    let mut out = BTreeSet::new();
    for t in tables {
        let cols: Vec<(String, bool)> = dispatch!(db.read(), c => sqlx::query_as(
            "SELECT name, \"notnull\" = 1 OR pk > 0 FROM pragma_table_info($1)").bind(&t).fetch_all(c).await)
        .expect("columns");
        for (col, not_null) in cols {
            out.insert(format!("{t}.{col} not_null={not_null}"));
        }
    }
    out
}

async fn postgres_schema(db: &Db) -> BTreeSet<String> {
    let cols: Vec<(String, String, String)> = dispatch!(db.read(), c => sqlx::query_as(
        "SELECT table_name::text, column_name::text, is_nullable::text FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name NOT LIKE '\\_%'")
        .fetch_all(c).await)
    .expect("columns");
    cols.into_iter()
        .map(|(t, c, n)| format!("{t}.{c} not_null={}", n == "NO"))
        .collect()
}

#[tokio::test]
async fn both_backends_reach_the_same_schema() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sqlite = Db::connect(&neutrino_testkit::sqlite_url(dir.path()))
        .await
        .expect("sqlite");
    sqlite.migrate().await.expect("sqlite migrations");
    let lite = sqlite_schema(&sqlite).await;
    assert!(
        lite.iter()
            .any(|c| c.starts_with("ip_allocations.ip_address")),
        "schema read back: {lite:?}"
    );

    let Some(url) = neutrino_testkit::postgres_database_or_skip()
        .await
        .expect("postgres configured but unusable")
    else {
        return;
    };
    let pg = Db::connect(&url).await.expect("postgres");
    pg.migrate().await.expect("postgres migrations");
    let post = postgres_schema(&pg).await;
    let only_lite: Vec<_> = lite.difference(&post).collect();
    let only_pg: Vec<_> = post.difference(&lite).collect();
    assert!(
        only_lite.is_empty() && only_pg.is_empty(),
        "schemas differ:\n only SQLite: {only_lite:?}\n only PostgreSQL: {only_pg:?}"
    );
}

#[tokio::test]
async fn migrations_are_idempotent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::connect(&neutrino_testkit::sqlite_url(dir.path()))
        .await
        .expect("sqlite");
    db.migrate().await.expect("first run");
    db.migrate()
        .await
        .expect("second run changes nothing and does not fail");
}
