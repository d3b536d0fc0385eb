//! The `clouds.yaml` that `neutrino up` writes for the stock clients.

use std::path::Path;

pub struct CloudEntry<'a> {
    pub auth_url: &'a str,
    pub username: &'a str,
    pub password: &'a str,
    pub project: &'a str,
    pub region: &'a str,
}

/// YAML-quotes a scalar (single quotes, doubled inside).
fn q(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

pub fn render(c: &CloudEntry) -> String {
    format!(
        "clouds:\n  neutrino:\n    auth:\n      auth_url: {}\n      username: {}\n      password: {}\n      project_name: {}\n      user_domain_name: Default\n      project_domain_name: Default\n    region_name: {}\n    interface: public\n    identity_api_version: 3\n",
        q(c.auth_url),
        q(c.username),
        q(c.password),
        q(c.project),
        q(c.region)
    )
}

/// Writes the file atomically so a reader never sees half of it, readable
/// only by its owner since it holds the admin password.
pub fn write(path: &Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("yaml.tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(content.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(tmp, path)
}
