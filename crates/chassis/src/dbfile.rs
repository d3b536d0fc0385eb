//! Standalone database files: created from the installed schema when
//! missing, converted when the installed schema changed (a package upgrade).

use std::path::Path;

use crate::error::{Error, Result};
use crate::host::run;

pub async fn ensure(file: &Path, schema: &Path) -> Result<()> {
    if !schema.is_file() {
        return Err(Error::Config(format!(
            "schema {} not found (is the Debian package installed?)",
            schema.display()
        )));
    }
    let (f, s) = (path_str(file)?, path_str(schema)?);
    if !file.exists() {
        run("ovsdb-tool", &["create", f, s]).await?;
        tracing::info!(db = f, "database created");
        return Ok(());
    }
    let needs = run("ovsdb-tool", &["needs-conversion", f, s]).await?;
    if needs.trim() == "yes" {
        let before = run("ovsdb-tool", &["db-version", f])
            .await
            .unwrap_or_default();
        run("ovsdb-tool", &["convert", f, s]).await?;
        let after = run("ovsdb-tool", &["db-version", f])
            .await
            .unwrap_or_default();
        tracing::info!(
            db = f,
            from = before.trim(),
            to = after.trim(),
            "database converted to the installed schema"
        );
    }
    Ok(())
}

fn path_str(p: &Path) -> Result<&str> {
    p.to_str()
        .ok_or_else(|| Error::Config(format!("path {} is not UTF-8", p.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn creates_then_converts_when_the_schema_changes() {
        let dir = tempfile::tempdir().unwrap();
        let schema = dir.path().join("s.ovsschema");
        let v1 = r#"{"name": "T", "version": "1.0.0", "tables": {"A": {"columns": {"x": {"type": "integer"}}}}}"#;
        std::fs::write(&schema, v1).unwrap();
        let db = dir.path().join("t.db");
        ensure(&db, &schema).await.unwrap();
        assert!(db.exists());
        ensure(&db, &schema).await.unwrap();
        let v2 = r#"{"name": "T", "version": "1.1.0", "tables": {"A": {"columns": {"x": {"type": "integer"}, "y": {"type": "string"}}}}}"#;
        std::fs::write(&schema, v2).unwrap();
        ensure(&db, &schema).await.unwrap();
        let version = run("ovsdb-tool", &["db-version", db.to_str().unwrap()])
            .await
            .unwrap();
        assert_eq!(version.trim(), "1.1.0");
        assert!(ensure(&db, &dir.path().join("missing")).await.is_err());
    }
}
