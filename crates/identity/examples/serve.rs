//! Serves the identity API alone, for trying clients against it:
//!
//! ```text
//! cargo run -p neutrino-identity --example serve -- 127.0.0.1:5001 sqlite:///tmp/identity.db
//! ```
//!
//! Bootstraps `admin` / `secret` (project `admin`); the catalog points the
//! network service at http://127.0.0.1:9696.

use neutrino_identity::{BootstrapParams, CatalogConfig, Identity, IdentityConfig};
use neutrino_store::Db;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:5001".into());
    let db_url = args.next().unwrap_or_else(|| "sqlite::memory:".into());
    let db = Db::connect(&db_url).await?;
    db.migrate().await?;
    let config = IdentityConfig {
        token_secret: b"example secret, not for production".to_vec(),
        token_ttl_secs: 3600,
        cache_ttl_secs: 5,
        catalog: CatalogConfig {
            region: "RegionOne".into(),
            identity_url: format!("http://{addr}/v3"),
            network_url: "http://127.0.0.1:9696".into(),
            load_balancer_url: None,
            key_manager_url: None,
            infra_url: None,
        },
    };
    let identity = Identity::new(db, config);
    let boot = identity
        .bootstrap(&BootstrapParams {
            admin_password: "secret".into(),
            ..Default::default()
        })
        .await?;
    println!(
        "admin user {} project {}; listening on http://{addr}/v3",
        boot.admin_user_id, boot.admin_project_id
    );
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    axum::serve(listener, identity.router()).await?;
    Ok(())
}
