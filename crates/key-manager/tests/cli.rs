//! End-to-end with the stock client: `openstack secret ...` and
//! `openstack secret container ...` (python-barbicanclient, from the venv
//! of `scripts/setup.sh`) against the identity service and the key
//! manager, each served on its own loopback port by this test, the key
//! manager under `/key-manager` as beside the Network API. The client
//! finds the service through the token's catalog and negotiates its
//! microversion from the version document, as against a real barbican.
//! What it stored is then read back through `tls::load_bundle`; an ACL
//! is set, read and deleted with `openstack acl ...`.

use std::path::Path;
use std::process::Output;

use anyhow::{Context, Result, ensure};
use neutrino_identity::{BootstrapParams, CatalogConfig, Identity, IdentityConfig};
use neutrino_key_manager::{KmConfig, KmState, router, tls};
use neutrino_store::Db;
use serde_json::Value;
use tokio::net::TcpListener;

const PASSWORD: &str = "cli-Km-Secret-1";

async fn openstack(clouds: &Path, args: &[&str]) -> Result<Output> {
    let mut c = tokio::process::Command::new(neutrino_testkit::venv_bin("openstack")?);
    c.args(args).stdin(std::process::Stdio::null());
    // Only the clouds.yaml decides where to go and who we are.
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("OS_") {
            c.env_remove(k);
        }
    }
    c.env("OS_CLOUD", "km").env("OS_CLIENT_CONFIG_FILE", clouds);
    c.kill_on_drop(true);
    c.output()
        .await
        .with_context(|| format!("running openstack {}", args.join(" ")))
}

async fn openstack_json(clouds: &Path, args: &[&str]) -> Result<Value> {
    let mut all = args.to_vec();
    all.extend(["-f", "json"]);
    let out = openstack(clouds, &all).await?;
    ensure!(
        out.status.success(),
        "`openstack {}` failed ({}):\n{}{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).context("CLI output is JSON")
}

/// A certificate for `cli.example.com`, its key and the CA that signed it.
fn pki() -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "CLI CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["cli.example.com".into()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "cli.example.com");
    let leaf = params.signed_by(&key, &issuer).unwrap();
    (leaf.pem(), key.serialize_pem(), ca.pem())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_stock_client_stores_reads_lists_and_deletes() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let db = Db::connect(&neutrino_testkit::sqlite_url(tmp.path())).await?;
    db.migrate().await?;
    let identity_listener = TcpListener::bind("127.0.0.1:0").await?;
    let km_listener = TcpListener::bind("127.0.0.1:0").await?;
    let identity_url = format!("http://{}/v3", identity_listener.local_addr()?);
    let km_url = format!("http://{}/key-manager", km_listener.local_addr()?);
    let identity = Identity::new(
        db.clone(),
        IdentityConfig::new(
            b"cli-test-secret-cli-test-secret!".to_vec(),
            CatalogConfig {
                region: "RegionOne".into(),
                identity_url: identity_url.clone(),
                network_url: format!("http://{}/", identity_listener.local_addr()?),
                load_balancer_url: None,
                key_manager_url: Some(km_url.clone()),
                infra_url: None,
            },
        ),
    );
    let boot = identity
        .bootstrap(&BootstrapParams {
            admin_password: PASSWORD.into(),
            ..BootstrapParams::default()
        })
        .await?;
    let km = router(KmState::new(
        db.clone(),
        identity.clone(),
        KmConfig {
            public_url: km_url.clone(),
            prefix: "/key-manager".into(),
            identity_url: identity_url.clone(),
        },
    ));
    // Both servers stop with the test's runtime.
    tokio::spawn(axum::serve(identity_listener, identity.router()).into_future());
    tokio::spawn(axum::serve(km_listener, km).into_future());

    let clouds = tmp.path().join("clouds.yaml");
    std::fs::write(
        &clouds,
        format!(
            "clouds:\n  km:\n    auth:\n      auth_url: '{identity_url}'\n      username: admin\n      \
             password: '{PASSWORD}'\n      project_name: admin\n      user_domain_name: Default\n      \
             project_domain_name: Default\n    region_name: RegionOne\n    interface: public\n    \
             identity_api_version: 3\n"
        ),
    )?;
    let c = clouds.as_path();

    // A text secret, its metadata, its payload.
    let s = openstack_json(
        c,
        &[
            "secret",
            "store",
            "--name",
            "cli secret",
            "--payload",
            "s3cr3t",
            "--payload-content-type",
            "text/plain",
        ],
    )
    .await?;
    let secret = s["Secret href"]
        .as_str()
        .context("Secret href")?
        .to_string();
    ensure!(secret.starts_with(&format!("{km_url}/v1/secrets/")), "{s}");
    let g = openstack_json(c, &["secret", "get", &secret]).await?;
    ensure!(g["Name"] == "cli secret" && g["Status"] == "ACTIVE", "{g}");
    ensure!(g["Secret type"] == "opaque", "{g}");
    ensure!(g["Content types"]["default"] == "text/plain", "{g}");
    let p = openstack_json(c, &["secret", "get", &secret, "--payload"]).await?;
    ensure!(p["Payload"] == "s3cr3t", "{p}");
    // Bytes (no content type): stored as octet-stream, base64 on the wire.
    let b = openstack_json(
        c,
        &["secret", "store", "--name", "bytes", "--payload", "raw"],
    )
    .await?;
    let bytes_ref = b["Secret href"].as_str().context("href")?.to_string();
    let g = openstack_json(c, &["secret", "get", &bytes_ref]).await?;
    ensure!(
        g["Content types"]["default"] == "application/octet-stream",
        "{g}"
    );

    let l = openstack_json(c, &["secret", "list"]).await?;
    let hrefs: Vec<&str> = l
        .as_array()
        .context("list")?
        .iter()
        .filter_map(|s| s["Secret href"].as_str())
        .collect();
    ensure!(
        hrefs.contains(&secret.as_str()) && hrefs.contains(&bytes_ref.as_str()),
        "{l}"
    );
    let l = openstack_json(c, &["secret", "list", "--name", "cli secret"]).await?;
    ensure!(l.as_array().map(Vec::len) == Some(1), "{l}");

    // A certificate container, as a load balancer's TLS listener names it.
    let (leaf, key, ca) = pki();
    let mut refs = Vec::new();
    for (name, pem) in [("cert", &leaf), ("key", &key), ("chain", &ca)] {
        let s = openstack_json(
            c,
            &[
                "secret",
                "store",
                "--name",
                name,
                "--payload",
                pem.trim(),
                "--payload-content-type",
                "text/plain",
            ],
        )
        .await?;
        refs.push(s["Secret href"].as_str().context("href")?.to_string());
    }
    let ct = openstack_json(
        c,
        &[
            "secret",
            "container",
            "create",
            "--name",
            "tls",
            "--type",
            "certificate",
            "--secret",
            &format!("certificate={}", refs[0]),
            "--secret",
            &format!("private_key={}", refs[1]),
            "--secret",
            &format!("intermediates={}", refs[2]),
        ],
    )
    .await?;
    let container = ct["Container href"]
        .as_str()
        .context("Container href")?
        .to_string();
    // Only some columns: the client cannot write a container's `Created`
    // (a datetime) as JSON, whatever the server.
    let show = openstack_json(
        c,
        &[
            "secret",
            "container",
            "get",
            &container,
            "-c",
            "Name",
            "-c",
            "Type",
            "-c",
            "Certificate",
            "-c",
            "Private Key",
        ],
    )
    .await?;
    ensure!(
        show["Type"] == "certificate" && show["Name"] == "tls",
        "{show}"
    );
    ensure!(
        show["Certificate"]
            .as_str()
            .unwrap_or_default()
            .contains(&refs[0]),
        "{show}"
    );
    ensure!(
        show["Private Key"]
            .as_str()
            .unwrap_or_default()
            .contains(&refs[1]),
        "{show}"
    );
    let l = openstack_json(c, &["secret", "container", "list", "-c", "Container href"]).await?;
    ensure!(
        l.as_array()
            .is_some_and(|a| a.iter().any(|x| x["Container href"] == container.as_str())),
        "{l}"
    );
    let bundle = tls::load_bundle(&db, &boot.admin_project_id, false, &container).await?;
    ensure!(bundle.certificate_pem == leaf.trim() && bundle.intermediates_pem == [ca.trim()]);
    ensure!(bundle.primary_cn.as_deref() == Some("cli.example.com"));

    // Octavia's form: a PKCS#12 file stored as is.
    let dir = tmp.path();
    for (name, text) in [("leaf.pem", &leaf), ("key.pem", &key), ("ca.pem", &ca)] {
        std::fs::write(dir.join(name), text)?;
    }
    let st = std::process::Command::new("openssl")
        .args([
            "pkcs12",
            "-export",
            "-in",
            "leaf.pem",
            "-inkey",
            "key.pem",
            "-certfile",
            "ca.pem",
            "-passout",
            "pass:",
            "-out",
            "bundle.p12",
        ])
        .current_dir(dir)
        .status()?;
    ensure!(st.success(), "openssl pkcs12");
    let p12 = openstack_json(
        c,
        &[
            "secret",
            "store",
            "--name",
            "p12",
            "--file",
            dir.join("bundle.p12").to_str().context("path")?,
        ],
    )
    .await?;
    let p12_ref = p12["Secret href"].as_str().context("href")?.to_string();
    let from_p12 = tls::load_bundle(&db, &boot.admin_project_id, false, &p12_ref).await?;
    ensure!(from_p12.certificate_pem == bundle.certificate_pem);
    ensure!(from_p12.intermediates_pem == bundle.intermediates_pem);

    // Upstream's refusals, as the client reports them.
    let out = openstack(
        c,
        &[
            "secret",
            "container",
            "create",
            "--type",
            "certificate",
            "--secret",
            &format!("private_key={}", refs[1]),
        ],
    )
    .await?;
    let err = String::from_utf8_lossy(&out.stderr);
    ensure!(
        !out.status.success(),
        "container without a certificate was accepted"
    );
    ensure!(
        err.contains("The minimum required reference name is 'certificate' for Certificate type"),
        "{err}"
    );

    // A read ACL, as octavia-tempest-plugin grants the load balancer's
    // service user (`barbican.acls.create(...).submit()`, a PUT).
    let out = openstack(
        c,
        &[
            "acl",
            "user",
            "add",
            "--user",
            &boot.admin_user_id,
            &p12_ref,
        ],
    )
    .await?;
    ensure!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let acl = openstack_json(
        c,
        &[
            "acl",
            "get",
            &p12_ref,
            "-c",
            "Operation Type",
            "-c",
            "Project Access",
            "-c",
            "Users",
        ],
    )
    .await?;
    ensure!(
        acl == serde_json::json!([{"Operation Type": "read", "Project Access": true,
            "Users": [boot.admin_user_id]}]),
        "{acl}"
    );
    let out = openstack(c, &["acl", "delete", &p12_ref]).await?;
    ensure!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let acl = openstack_json(c, &["acl", "get", &p12_ref, "-c", "Users"]).await?;
    ensure!(acl == serde_json::json!([{"Users": []}]), "{acl}");

    // Deletes.
    let out = openstack(c, &["secret", "container", "delete", &container]).await?;
    ensure!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = openstack(c, &["secret", "delete", &secret]).await?;
    ensure!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = openstack(c, &["secret", "get", &secret]).await?;
    let err = String::from_utf8_lossy(&out.stderr);
    ensure!(
        !out.status.success() && err.contains("Secret not found"),
        "{err}"
    );
    let out = openstack(c, &["secret", "container", "list", "-f", "value"]).await?;
    ensure!(
        out.status.success() && out.stdout.trim_ascii().is_empty(),
        "{out:?}"
    );
    Ok(())
}
