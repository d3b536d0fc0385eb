//! `tls::load_bundle`, the load balancer's way to its certificates: real
//! certificates and keys (rcgen, the openssl CLI, and Octavia's own
//! PKCS#12 writer, python-cryptography from the venv), stored through
//! the API as a user would, in both forms Octavia 19 accepts.

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use neutrino_key_manager::tls::{TlsBundle, TlsError, load_bundle};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use serde_json::json;
use sha1::{Digest, Sha1};

use crate::support::{CONTAINERS, Cloud, SECRETS, backends, post};

/// A CA, a leaf it signed (CN `WWW.Example.com`, two DNS names) with its
/// key, and an unrelated key, as PEM files in a directory.
struct Pki {
    dir: tempfile::TempDir,
    ca: String,
    leaf: String,
    key: String,
    other_key: String,
}

impl Pki {
    fn new() -> Pki {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "Test Intermediate CA");
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let key = KeyPair::generate().unwrap();
        let mut leaf_params =
            CertificateParams::new(vec!["www.example.com".into(), "example.com".into()]).unwrap();
        leaf_params
            .distinguished_name
            .push(DnType::CommonName, "WWW.Example.com");
        let leaf = leaf_params.signed_by(&key, &issuer).unwrap();
        let pki = Pki {
            dir: tempfile::tempdir().unwrap(),
            ca: ca.pem(),
            leaf: leaf.pem(),
            key: key.serialize_pem(),
            other_key: KeyPair::generate().unwrap().serialize_pem(),
        };
        for (name, text) in [
            ("ca.pem", &pki.ca),
            ("leaf.pem", &pki.leaf),
            ("key.pem", &pki.key),
            ("other.pem", &pki.other_key),
        ] {
            std::fs::write(pki.path(name), text).unwrap();
        }
        pki
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// Runs `openssl` in `dir`; returns what it wrote to `out`.
fn openssl(dir: &Path, args: &[&str], out: &str) -> Vec<u8> {
    let o = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl CLI");
    assert!(
        o.status.success(),
        "openssl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&o.stderr)
    );
    std::fs::read(dir.join(out)).expect("openssl output")
}

fn trimmed(pem: &str) -> String {
    pem.replace("\r\n", "\n").trim().to_string()
}

async fn binary_secret(cloud: &Cloud, bytes: &[u8]) -> String {
    let a = post(
        &cloud.km,
        SECRETS,
        &cloud.alice,
        json!({"payload": base64::engine::general_purpose::STANDARD.encode(bytes),
            "payload_content_type": "application/octet-stream",
            "payload_content_encoding": "base64", "name": "PKCS12 Certificate Bundle"}),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.body);
    a.body["secret_ref"].as_str().unwrap().to_string()
}

/// A certificate container of the given parts (text secrets; binary
/// ones when the text is not UTF-8).
async fn container(cloud: &Cloud, kind: &str, parts: &[(&str, &[u8])]) -> String {
    let mut refs = Vec::new();
    for (name, data) in parts {
        let r = match std::str::from_utf8(data) {
            Ok(text) => cloud.text_secret(&cloud.alice, name, text).await,
            Err(_) => binary_secret(cloud, data).await,
        };
        refs.push(json!({"name": name, "secret_ref": r}));
    }
    let a = post(
        &cloud.km,
        CONTAINERS,
        &cloud.alice,
        json!({"type": kind, "name": "tls", "secret_refs": refs}),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.body);
    a.body["container_ref"].as_str().unwrap().to_string()
}

/// What an expected error must be.
type Check = fn(&TlsError) -> bool;
/// A container's secrets: names and payloads.
type Parts<'a> = Vec<(&'a str, &'a [u8])>;

async fn load(cloud: &Cloud, reference: &str) -> Result<TlsBundle, TlsError> {
    load_bundle(&cloud.db, &cloud.alpha, false, reference).await
}

#[track_caller]
fn assert_leaf(pki: &Pki, b: &TlsBundle, what: &str) {
    assert_eq!(b.certificate_pem, trimmed(&pki.leaf), "{what}");
    assert_eq!(b.intermediates_pem, vec![trimmed(&pki.ca)], "{what}");
    assert_eq!(b.primary_cn.as_deref(), Some("www.example.com"), "{what}");
    assert_eq!(b.dns_names, ["www.example.com", "example.com"], "{what}");
    let sha: String = Sha1::digest(b.certificate_pem.as_bytes())
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect();
    assert_eq!(b.id, sha, "{what}");
    assert!(
        b.private_key_pem
            .starts_with("-----BEGIN PRIVATE KEY-----\n"),
        "{what}"
    );
}

#[tokio::test]
async fn certificate_containers() {
    let pki = Pki::new();
    // The intermediates as a PKCS#7 bundle too, PEM and DER.
    let p7_pem = openssl(
        pki.dir.path(),
        &[
            "crl2pkcs7",
            "-nocrl",
            "-certfile",
            "ca.pem",
            "-out",
            "ca.p7b",
        ],
        "ca.p7b",
    );
    let p7_der = openssl(
        pki.dir.path(),
        &[
            "crl2pkcs7",
            "-nocrl",
            "-certfile",
            "ca.pem",
            "-outform",
            "DER",
            "-out",
            "ca.p7d",
        ],
        "ca.p7d",
    );
    for cloud in backends().await {
        let b = cloud.backend;
        for (what, chain) in [
            ("pem chain", pki.ca.as_bytes().to_vec()),
            ("pkcs7 pem", p7_pem.clone()),
            ("pkcs7 der", p7_der.clone()),
        ] {
            let r = container(
                &cloud,
                "certificate",
                &[
                    ("certificate", pki.leaf.as_bytes()),
                    ("private_key", pki.key.as_bytes()),
                    ("intermediates", &chain),
                ],
            )
            .await;
            let bundle = load(&cloud, &r)
                .await
                .unwrap_or_else(|e| panic!("{b} {what}: {e}"));
            assert_leaf(&pki, &bundle, what);
            assert_eq!(bundle.private_key_pem, trimmed(&pki.key), "{b} {what}");
            // By bare id and with a trailing slash, as barbicanclient reads refs.
            let id = r.rsplit('/').next().unwrap();
            assert_eq!(load(&cloud, id).await.unwrap(), bundle);
            assert_eq!(load(&cloud, &format!("{r}/")).await.unwrap(), bundle);
        }
        let r = container(
            &cloud,
            "certificate",
            &[
                ("certificate", pki.leaf.as_bytes()),
                ("private_key", pki.key.as_bytes()),
            ],
        )
        .await;
        let bundle = load(&cloud, &r).await.unwrap();
        assert!(bundle.intermediates_pem.is_empty());

        // Another project's: not there for a member of beta, there for
        // an admin.
        let e = load_bundle(&cloud.db, &cloud.beta, false, &r)
            .await
            .unwrap_err();
        assert!(matches!(e, TlsError::NotFound(_)), "{b}: {e:?}");
        assert_eq!(
            e.octavia_fault(&r),
            (400, format!("Could not retrieve certificate: ['{r}']"))
        );
        assert!(load_bundle(&cloud.db, &cloud.beta, true, &r).await.is_ok());
        let missing = format!(
            "{}/v1/containers/0f5d2b8e-3c0a-4d5e-9f1a-2b3c4d5e6f70",
            crate::support::PUBLIC
        );
        assert!(matches!(
            load(&cloud, &missing).await,
            Err(TlsError::NotFound(_))
        ));
    }
}

#[tokio::test]
async fn keys_of_every_kind() {
    let pki = Pki::new();
    let dir = pki.dir.path();
    // RSA in its traditional form, with a self-signed certificate.
    openssl(
        dir,
        &["genrsa", "-traditional", "-out", "rsa.key", "2048"],
        "rsa.key",
    );
    let rsa_cert = openssl(
        dir,
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            "rsa.key",
            "-subj",
            "/CN=rsa.example.com",
            "-days",
            "2",
            "-out",
            "rsa.crt",
        ],
        "rsa.crt",
    );
    let rsa_key = std::fs::read(dir.join("rsa.key")).unwrap();
    // EC in SEC1 form.
    openssl(
        dir,
        &[
            "ecparam",
            "-genkey",
            "-name",
            "secp384r1",
            "-noout",
            "-out",
            "ec.key",
        ],
        "ec.key",
    );
    let ec_cert = openssl(
        dir,
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            "ec.key",
            "-subj",
            "/CN=ec.example.com",
            "-addext",
            "subjectAltName=DNS:alt.example.com",
            "-days",
            "2",
            "-out",
            "ec.crt",
        ],
        "ec.crt",
    );
    let ec_key = std::fs::read(dir.join("ec.key")).unwrap();
    // The leaf's key, encrypted with a passphrase.
    let encrypted = openssl(
        dir,
        &[
            "pkcs8",
            "-topk8",
            "-in",
            "key.pem",
            "-v2",
            "aes-256-cbc",
            "-passout",
            "pass:hunter2",
            "-out",
            "enc.pem",
        ],
        "enc.pem",
    );
    // Ed25519 from rcgen.
    let ed_key = KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let mut ed_params = CertificateParams::new(vec!["ed.example.com".into()]).unwrap();
    ed_params.distinguished_name = rcgen::DistinguishedName::new();
    let ed_cert = ed_params.self_signed(&ed_key).unwrap();
    // No CN and no SAN.
    let anon_key = KeyPair::generate().unwrap();
    let mut anon_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    anon_params.distinguished_name = rcgen::DistinguishedName::new();
    let anon_cert = anon_params.self_signed(&anon_key).unwrap().pem();
    let anon_key = anon_key.serialize_pem();

    for cloud in backends().await {
        let b = cloud.backend;
        let ok = |cert: &[u8], key: &[u8]| -> Vec<(&'static str, Vec<u8>)> {
            vec![
                ("certificate", cert.to_vec()),
                ("private_key", key.to_vec()),
            ]
        };
        for (what, parts, cn, label) in [
            (
                "rsa",
                ok(&rsa_cert, &rsa_key),
                Some("rsa.example.com"),
                "RSA PRIVATE KEY",
            ),
            (
                "ec",
                ok(&ec_cert, &ec_key),
                Some("ec.example.com"),
                "EC PRIVATE KEY",
            ),
            (
                "ed25519",
                ok(ed_cert.pem().as_bytes(), ed_key.serialize_pem().as_bytes()),
                None,
                "PRIVATE KEY",
            ),
            (
                "encrypted",
                {
                    let mut p = ok(pki.leaf.as_bytes(), &encrypted);
                    p.push(("private_key_passphrase", b"hunter2".to_vec()));
                    p
                },
                Some("www.example.com"),
                "PRIVATE KEY",
            ),
        ] {
            let parts: Vec<(&str, &[u8])> = parts.iter().map(|(n, d)| (*n, d.as_slice())).collect();
            let r = container(&cloud, "certificate", &parts).await;
            let bundle = load(&cloud, &r)
                .await
                .unwrap_or_else(|e| panic!("{b} {what}: {e}"));
            assert_eq!(bundle.primary_cn.as_deref(), cn, "{b} {what}");
            assert!(
                bundle
                    .private_key_pem
                    .starts_with(&format!("-----BEGIN {label}-----")),
                "{what}"
            );
        }
        let r = container(
            &cloud,
            "certificate",
            &[("certificate", &ec_cert), ("private_key", &ec_key)],
        )
        .await;
        assert_eq!(
            load(&cloud, &r).await.unwrap().dns_names,
            ["alt.example.com"]
        );
        // The decrypted key is the leaf's own.
        let r = container(
            &cloud,
            "certificate",
            &[
                ("certificate", pki.leaf.as_bytes()),
                ("private_key", &encrypted),
                ("private_key_passphrase", b"hunter2"),
            ],
        )
        .await;
        assert_eq!(
            load(&cloud, &r).await.unwrap().private_key_pem,
            trimmed(&pki.key)
        );

        // What Octavia refuses.
        let refusals: Vec<(&str, Parts, Check)> = vec![
            (
                "mismatched key",
                vec![
                    ("certificate", pki.leaf.as_bytes()),
                    ("private_key", pki.other_key.as_bytes()),
                ],
                |e| matches!(e, TlsError::MismatchedKey),
            ),
            (
                "rsa cert, ec key",
                vec![("certificate", &rsa_cert), ("private_key", &ec_key)],
                |e| matches!(e, TlsError::MismatchedKey),
            ),
            (
                "no passphrase",
                vec![
                    ("certificate", pki.leaf.as_bytes()),
                    ("private_key", &encrypted),
                ],
                |e| matches!(e, TlsError::NeedsPassphrase),
            ),
            (
                "wrong passphrase",
                vec![
                    ("certificate", pki.leaf.as_bytes()),
                    ("private_key", &encrypted),
                    ("private_key_passphrase", b"nope"),
                ],
                |e| matches!(e, TlsError::NeedsPassphrase),
            ),
            ("no key", vec![("certificate", pki.leaf.as_bytes())], |e| {
                matches!(e, TlsError::MissingPrivateKey)
            }),
            (
                "not a certificate",
                vec![
                    ("certificate", b"hello"),
                    ("private_key", pki.key.as_bytes()),
                ],
                |e| matches!(e, TlsError::UnreadableCert),
            ),
            (
                "bad intermediates",
                vec![
                    ("certificate", pki.leaf.as_bytes()),
                    ("private_key", pki.key.as_bytes()),
                    ("intermediates", b"junk"),
                ],
                |e| matches!(e, TlsError::UnreadableCert),
            ),
            (
                "no subject",
                vec![
                    ("certificate", anon_cert.as_bytes()),
                    ("private_key", anon_key.as_bytes()),
                ],
                |e| matches!(e, TlsError::MissingCertSubject),
            ),
        ];
        for (what, parts, expected) in refusals {
            let r = container(&cloud, "certificate", &parts).await;
            let e = load(&cloud, &r).await.expect_err(what);
            assert!(expected(&e), "{b} {what}: {e:?}");
            let (status, message) = e.octavia_fault(&r);
            assert_eq!(status, 400, "{what}");
            if matches!(e, TlsError::MissingCertSubject) {
                assert_eq!(
                    message,
                    "No CN or DNSName(s) found in certificate. The certificate is invalid."
                );
            } else {
                assert_eq!(
                    message,
                    format!("Could not retrieve certificate: ['{r}']"),
                    "{what}"
                );
            }
        }
        let r = container(&cloud, "generic", &[("certificate", pki.leaf.as_bytes())]).await;
        assert!(matches!(
            load(&cloud, &r).await,
            Err(TlsError::NotCertificateContainer(_))
        ));
    }
}

/// Octavia's own `store_cert`: python-cryptography's PKCS#12 without
/// encryption, from the venv of scripts/setup.sh.
fn octavia_pkcs12(pki: &Pki) -> Vec<u8> {
    let python = neutrino_testkit::venv_bin("python").expect("the venv");
    let script = r#"
import sys
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
d = sys.argv[1]
cert = x509.load_pem_x509_certificate(open(d + "/leaf.pem", "rb").read())
key = serialization.load_pem_private_key(open(d + "/key.pem", "rb").read(), None)
ca = x509.load_pem_x509_certificate(open(d + "/ca.pem", "rb").read())
sys.stdout.buffer.write(pkcs12.serialize_key_and_certificates(
    name=b"PKCS12 Certificate Bundle", key=key, cert=cert, cas=[ca],
    encryption_algorithm=serialization.NoEncryption()))
"#;
    let o = Command::new(python)
        .args(["-c", script, pki.dir.path().to_str().unwrap()])
        .output()
        .expect("python");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o.stdout
}

#[tokio::test]
async fn pkcs12_secrets() {
    let pki = Pki::new();
    let dir = pki.dir.path();
    let export = |extra: &[&str], out: &str| {
        let mut args = vec![
            "pkcs12",
            "-export",
            "-in",
            "leaf.pem",
            "-inkey",
            "key.pem",
            "-certfile",
            "ca.pem",
            "-out",
            out,
        ];
        args.extend_from_slice(extra);
        openssl(dir, &args, out)
    };
    let bundles = [
        (
            "openssl, AES, empty password",
            export(&["-passout", "pass:"], "aes.p12"),
        ),
        (
            "openssl, 3DES and SHA-1 MAC",
            export(
                &[
                    "-passout",
                    "pass:",
                    "-certpbe",
                    "PBE-SHA1-3DES",
                    "-keypbe",
                    "PBE-SHA1-3DES",
                    "-macalg",
                    "sha1",
                ],
                "3des.p12",
            ),
        ),
        (
            "openssl, no encryption",
            export(
                &["-passout", "pass:", "-keypbe", "NONE", "-certpbe", "NONE"],
                "none.p12",
            ),
        ),
        ("octavia (python-cryptography)", octavia_pkcs12(&pki)),
    ];
    let with_password = export(&["-passout", "pass:secret"], "pw.p12");
    // The leaf with a key that is not its own (openssl refuses to make
    // one, so the bundle is written with p12-keystore).
    let mismatched = {
        use p12_keystore::{KeyStore, KeyStoreEntry, PrivateKeyChain};
        let other_der = pem_der(&pki.other_key);
        let leaf_der = pem_der(&pki.leaf);
        let mut ks = KeyStore::new();
        ks.add_entry(
            "bundle",
            KeyStoreEntry::PrivateKeyChain(PrivateKeyChain::new(
                b"id".to_vec(),
                p12_keystore::PrivateKey::from_der(&other_der).unwrap(),
                vec![p12_keystore::Certificate::from_der(&leaf_der).unwrap()],
            )),
        );
        ks.writer("").write().unwrap()
    };
    for cloud in backends().await {
        let b = cloud.backend;
        for (what, bytes) in &bundles {
            let r = binary_secret(&cloud, bytes).await;
            let bundle = load(&cloud, &r)
                .await
                .unwrap_or_else(|e| panic!("{b} {what}: {e}"));
            assert_leaf(&pki, &bundle, what);
        }
        let cases: Vec<(&str, Vec<u8>, Check)> = vec![
            (
                "password",
                with_password.clone(),
                |e| matches!(e, TlsError::UnreadablePkcs12(m) if m == "Invalid password or PKCS12 data"),
            ),
            (
                "not pkcs12",
                b"-----BEGIN CERTIFICATE-----".to_vec(),
                |e| matches!(e, TlsError::UnreadablePkcs12(m) if m == "Could not deserialize PKCS12 data"),
            ),
            ("mismatched", mismatched.clone(), |e| {
                matches!(e, TlsError::MismatchedKey)
            }),
        ];
        for (what, bytes, expected) in cases {
            let r = match std::str::from_utf8(&bytes) {
                Ok(t) => cloud.text_secret(&cloud.alice, what, t).await,
                Err(_) => binary_secret(&cloud, &bytes).await,
            };
            let e = load(&cloud, &r).await.expect_err(what);
            assert!(expected(&e), "{b} {what}: {e:?}");
        }
        let r = binary_secret(&cloud, &with_password).await;
        let (status, message) = load(&cloud, &r).await.unwrap_err().octavia_fault(&r);
        assert_eq!(status, 400);
        assert_eq!(
            message,
            "The PKCS12 bundle is unreadable. Please check the PKCS12 bundle validity. In addition, \
             make sure it does not require a pass phrase. Error: Invalid password or PKCS12 data"
        );
        // A secret without a payload is no bundle: the ref is then tried
        // as a container, and there is none.
        let a = post(&cloud.km, SECRETS, &cloud.alice, json!({"name": "empty"})).await;
        let r = a.body["secret_ref"].as_str().unwrap().to_string();
        assert!(matches!(load(&cloud, &r).await, Err(TlsError::NotFound(_))));
    }
}

fn pem_der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap()
}
