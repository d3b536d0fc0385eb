//! Configuration, bootstrap parameters and the token-signing secret file.

use std::fs::OpenOptions;
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Where clients find each service; goes into every token's catalog.
#[derive(Clone, Debug)]
pub struct CatalogConfig {
    pub region: String,
    /// The Keystone endpoint as clients are given it (`OS_AUTH_URL`), e.g.
    /// `http://127.0.0.1:9696/identity/v3` or `http://host:5000`.
    pub identity_url: String,
    pub network_url: String,
    /// Octavia's endpoint; the service is left out of the catalog when None.
    pub load_balancer_url: Option<String>,
    /// Barbican's endpoint (service type `key-manager`); the service is
    /// left out of the catalog when None.
    pub key_manager_url: Option<String>,
    /// The infra network layer's endpoint (service type `network-infra`);
    /// left out of the catalog when None.
    pub infra_url: Option<String>,
}

#[derive(Clone, Debug)]
pub struct IdentityConfig {
    /// HMAC key; every API server that must accept another's tokens shares it.
    pub token_secret: Vec<u8>,
    pub token_ttl_secs: i64,
    /// How long a validation result may be reused; see `cache.rs`.
    pub cache_ttl_secs: u64,
    pub catalog: CatalogConfig,
}

impl IdentityConfig {
    /// Defaults: tokens live an hour, validations are cached for 5 s.
    pub fn new(token_secret: Vec<u8>, catalog: CatalogConfig) -> IdentityConfig {
        IdentityConfig {
            token_secret,
            token_ttl_secs: 3600,
            cache_ttl_secs: 5,
            catalog,
        }
    }
}

/// What [`crate::Identity::bootstrap`] sets up.
#[derive(Clone, Debug)]
pub struct BootstrapParams {
    pub admin_user: String,
    pub admin_password: String,
    pub admin_project: String,
    /// The project service users (and Octavia's resources) live in.
    pub service_project: String,
    /// Recorded as a region (`GET /v3/regions`); the catalog's region comes
    /// from [`CatalogConfig::region`], normally the same.
    pub region: String,
    /// Further global roles to create (tempest's dynamic credentials only
    /// assign roles that exist). Defaults to Octavia's RBAC roles and
    /// `service`.
    pub extra_roles: Vec<String>,
}

impl Default for BootstrapParams {
    /// Keystone's conventional names; the password must still be set.
    fn default() -> Self {
        BootstrapParams {
            admin_user: "admin".into(),
            admin_password: String::new(),
            admin_project: "admin".into(),
            service_project: "service".into(),
            region: "RegionOne".into(),
            extra_roles: [
                "service",
                "load-balancer_observer",
                "load-balancer_global_observer",
                "load-balancer_member",
                "load-balancer_admin",
                "load-balancer_quota_admin",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct BootstrapOutcome {
    pub admin_user_id: String,
    pub admin_project_id: String,
    pub service_project_id: String,
    pub admin_role_id: String,
    pub member_role_id: String,
    pub reader_role_id: String,
    /// Whether the admin user was created (false: it existed already).
    pub created_admin: bool,
}

/// Reads the token secret at `path`, creating it (32 random bytes, mode
/// 0600) when missing, so that servers sharing the file accept each other's
/// tokens and restarts do not invalidate issued ones.
pub fn load_or_create_secret(path: &Path) -> io::Result<Vec<u8>> {
    match std::fs::File::open(path) {
        Ok(mut f) => {
            let mut buf = Vec::new();
            f.read_to_end(&mut buf)?;
            if buf.len() < 16 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("token secret {} is shorter than 16 bytes", path.display()),
                ));
            }
            Ok(buf)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            let secret: [u8; 32] = rand::random();
            // create_new: if another process won the race, use its secret.
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
            {
                Ok(mut f) => {
                    f.write_all(&secret)?;
                    f.sync_all()?;
                    Ok(secret.to_vec())
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => load_or_create_secret(path),
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn secret_is_created_once_with_private_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/token.key");
        let a = load_or_create_secret(&path).unwrap();
        assert_eq!(a.len(), 32);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let b = load_or_create_secret(&path).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn short_secret_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        std::fs::write(&path, b"short").unwrap();
        assert!(load_or_create_secret(&path).is_err());
    }
}
