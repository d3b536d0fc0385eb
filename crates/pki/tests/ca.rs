//! The CA on disk: creation, reload, permissions, races, operator CAs.

use std::os::unix::fs::PermissionsExt;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use neutrino_pki::{CA_CN, Ca, Error};

#[test]
fn load_or_create_twice_returns_the_same_ca() {
    let dir = tempfile::tempdir().unwrap();
    let ca_dir = dir.path().join("lb-ca");
    let first = Ca::load_or_create(&ca_dir).unwrap();
    let second = Ca::load_or_create(&ca_dir).unwrap();
    assert_eq!(first.cert_pem(), second.cert_pem());
    assert_eq!(
        std::fs::read_to_string(ca_dir.join("ca.pem")).unwrap(),
        first.cert_pem()
    );
    // The reloaded key is the same key: what the second issues chains to
    // the first's certificate (checked by a full TLS handshake in tls.rs;
    // here by loading the pair, which checks key/certificate agreement).
    let key = std::fs::read_to_string(ca_dir.join("ca.key")).unwrap();
    Ca::from_pem(first.cert_pem(), &key).unwrap();
    second
        .issue_amphora("amp-1", Duration::from_secs(60))
        .unwrap();
}

#[test]
fn key_is_private_and_no_temporaries_remain() {
    let dir = tempfile::tempdir().unwrap();
    Ca::load_or_create(dir.path()).unwrap();
    let mode = std::fs::metadata(dir.path().join("ca.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, [".ca.lock", "ca.key", "ca.pem"]);
}

#[test]
fn concurrent_load_or_create_ends_with_one_ca() {
    let dir = tempfile::tempdir().unwrap();
    let ca_dir = Arc::new(dir.path().join("ca"));
    let n = 8;
    let barrier = Arc::new(Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let (ca_dir, barrier) = (ca_dir.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                Ca::load_or_create(&ca_dir).unwrap().cert_pem().to_owned()
            })
        })
        .collect();
    let pems: Vec<String> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let on_disk = std::fs::read_to_string(ca_dir.join("ca.pem")).unwrap();
    for pem in &pems {
        assert_eq!(pem, &on_disk);
    }
    let key = std::fs::read_to_string(ca_dir.join("ca.key")).unwrap();
    Ca::from_pem(&on_disk, &key).expect("the key on disk belongs to the certificate on disk");
}

#[test]
fn load_requires_an_existing_ca() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(Ca::load(dir.path()), Err(Error::Missing { .. })));
    let created = Ca::load_or_create(dir.path()).unwrap();
    assert_eq!(Ca::load(dir.path()).unwrap().cert_pem(), created.cert_pem());
    std::fs::remove_file(dir.path().join("ca.key")).unwrap();
    assert!(matches!(Ca::load(dir.path()), Err(Error::Missing { .. })));
    // A certificate without its key is not silently replaced.
    assert!(matches!(
        Ca::load_or_create(dir.path()),
        Err(Error::Missing { .. })
    ));
}

#[test]
fn interrupted_creation_key_without_cert_is_redone() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.key"), "garbage").unwrap();
    let ca = Ca::load_or_create(dir.path()).unwrap();
    let key = std::fs::read_to_string(dir.path().join("ca.key")).unwrap();
    assert_ne!(key, "garbage");
    Ca::from_pem(ca.cert_pem(), &key).unwrap();
}

#[test]
fn mismatched_key_is_rejected() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let ca_a = Ca::load_or_create(a.path()).unwrap();
    Ca::load_or_create(b.path()).unwrap();
    let key_b = std::fs::read_to_string(b.path().join("ca.key")).unwrap();
    assert!(matches!(
        Ca::from_pem(ca_a.cert_pem(), &key_b),
        Err(Error::Invalid(_))
    ));
}

#[test]
fn ca_certificate_names_the_ca() {
    // CN is visible in the DER as a UTF8String/PrintableString.
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::load_or_create(dir.path()).unwrap();
    let der = pem_der(ca.cert_pem());
    assert!(der.windows(CA_CN.len()).any(|w| w == CA_CN.as_bytes()));
}

#[test]
fn amphora_certificate_expiry_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::load_or_create(dir.path()).unwrap();
    let before = chrono::Utc::now();
    let issued = ca
        .issue_amphora("amp-x", Duration::from_secs(30 * 24 * 3600))
        .unwrap();
    let expected = before + chrono::Duration::days(30);
    assert!(
        (issued.not_after - expected).num_seconds().abs() <= 5,
        "{issued:?}"
    );
    let exp = issued.expiration();
    assert_eq!(exp.len(), "YYYY-MM-DDTHH:MM:SS".len());
    assert_eq!(
        exp,
        issued.not_after.format("%Y-%m-%dT%H:%M:%S").to_string()
    );
    assert!(!format!("{issued:?}").contains("PRIVATE KEY"));
    assert!(issued.key_pem.contains("PRIVATE KEY"));
    assert!(matches!(
        ca.issue_amphora("not a name", Duration::from_secs(60)),
        Err(Error::InvalidName(_))
    ));
}

fn pem_der(pem: &str) -> Vec<u8> {
    use rustls::pki_types::{CertificateDer, pem::PemObject};
    CertificateDer::from_pem_slice(pem.as_bytes())
        .unwrap()
        .to_vec()
}
