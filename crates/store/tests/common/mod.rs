//! Helpers shared by the store's integration tests.

use neutrino_store::Db;

/// A migrated SQLite database in a temporary directory, and a migrated
/// PostgreSQL database when the run has one (NEUTRINO_TEST_POSTGRES_URL).
/// The directory lives as long as its entry.
pub async fn backends() -> Vec<(Db, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().expect("tempdir");
    let sqlite = Db::connect(&neutrino_testkit::sqlite_url(dir.path()))
        .await
        .expect("sqlite");
    let mut out = vec![(sqlite, Some(dir))];
    if let Some(url) = neutrino_testkit::postgres_database_or_skip()
        .await
        .expect("postgres configured but unusable")
    {
        out.push((Db::connect(&url).await.expect("postgres"), None));
    }
    for (db, _) in &out {
        db.migrate().await.expect("migrations");
    }
    out
}
