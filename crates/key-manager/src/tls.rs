//! TLS certificates for the load balancer, read from the key manager as
//! Octavia 19's barbican certificate manager reads them
//! (`octavia/certificates/manager/barbican.py`,
//! `octavia/common/tls_utils/cert_parser.py`):
//!
//! 1. the reference names a secret holding a PKCS#12 bundle (what
//!    Octavia itself stores): certificate, key and intermediates from it;
//!    a secret whose payload is not PKCS#12 is an error of its own
//!    ([`TlsError::UnreadablePkcs12`]), as upstream re-raises it;
//! 2. otherwise (no such secret, or one without a payload) a
//!    `certificate` container: its `certificate`, `private_key`,
//!    `private_key_passphrase` and `intermediates` secrets (the legacy
//!    driver), the intermediates as PEM blocks or a PKCS#7 bundle.
//!
//! Either way the key must match the certificate, and the certificate
//! must name a host (CN or DNS SAN). Only the reference's trailing id
//! counts, as barbicanclient reads refs.

use std::collections::HashMap;

use base64::Engine;
use neutrino_store::key_manager::{self as store, Secret};
use neutrino_store::{Db, StoreError};
use sha1::{Digest, Sha1};
use x509_parser::asn1_rs::{Any, Class, FromDer, Tag};
use x509_parser::prelude::{GeneralName, X509Certificate};
use x509_parser::public_key::PublicKey;

use crate::timefmt;

/// A certificate with its key and chain, ready for haproxy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsBundle {
    /// Octavia's `TLSContainer.id`: the SHA-1 (hex) of `certificate_pem`.
    pub id: String,
    /// The certificate, PEM, without a trailing newline.
    pub certificate_pem: String,
    /// The unencrypted private key, PEM (PKCS#8 `PRIVATE KEY`, or the
    /// traditional `RSA`/`EC PRIVATE KEY` it was stored as).
    pub private_key_pem: String,
    /// Intermediate certificates, PEM each, in the order given.
    pub intermediates_pem: Vec<String>,
    /// The subject's CN, lowercased (Octavia's `primary_cn`).
    pub primary_cn: Option<String>,
    /// DNS names of the subject alternative names.
    pub dns_names: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// No live secret with a payload and no container has that id, or
    /// the caller may not read it.
    #[error("no certificate can be read at {0}")]
    NotFound(String),
    #[error("container {0} is not a certificate container")]
    NotCertificateContainer(String),
    /// The secret exists but its payload is no readable PKCS#12 bundle
    /// (or one that needs a pass phrase).
    #[error("the PKCS12 bundle is unreadable: {0}")]
    UnreadablePkcs12(String),
    #[error("could not read X509 from PEM")]
    UnreadableCert,
    #[error("the bundle has no private key")]
    MissingPrivateKey,
    /// The key is encrypted and no (or a wrong) passphrase came with it,
    /// or it is no private key this reader understands.
    #[error("passphrase needed to decrypt key but client did not provide one")]
    NeedsPassphrase,
    #[error("key and x509 certificate do not match")]
    MismatchedKey,
    #[error("no CN or DNSName(s) found in certificate")]
    MissingCertSubject,
    #[error("database error")]
    Store(#[from] StoreError),
}

impl TlsError {
    /// What Octavia answers a listener or pool create naming `reference`
    /// with this error: its status and faultstring. Everything the
    /// barbican manager fails on is "Could not retrieve certificate"
    /// with the list of bad refs (`_validate_tls_refs`), but for an
    /// unreadable PKCS#12 bundle and a certificate naming no host, which
    /// have messages of their own.
    pub fn octavia_fault(&self, reference: &str) -> (u16, String) {
        match self {
            TlsError::UnreadablePkcs12(error) => (
                400,
                format!(
                    "The PKCS12 bundle is unreadable. Please check the PKCS12 bundle validity. \
                     In addition, make sure it does not require a pass phrase. Error: {error}"
                ),
            ),
            TlsError::MissingCertSubject => (
                400,
                "No CN or DNSName(s) found in certificate. The certificate is invalid.".into(),
            ),
            TlsError::Store(_) => (500, "Internal Server Error".into()),
            _ => (
                400,
                format!(
                    "Could not retrieve certificate: [{}]",
                    crate::pyrepr::string(reference)
                ),
            ),
        }
    }
}

/// Reads the certificate bundle `reference` names (a secret or
/// container ref, or a bare id) for a caller of `caller_project`; an
/// admin reads any project's.
pub async fn load_bundle(
    db: &Db,
    caller_project: &str,
    is_admin: bool,
    reference: &str,
) -> Result<TlsBundle, TlsError> {
    let id = ref_id(reference);
    let not_found = || TlsError::NotFound(reference.to_string());
    let readable = |project: &str| is_admin || project == caller_project;
    let now = timefmt::now();

    if let Some((secret, Some(payload))) = store::secret_with_payload(db, &id, &now).await?
        && readable(&secret.project_id)
    {
        return from_pkcs12(&payload);
    }

    let container = store::get_container(db, &id)
        .await?
        .filter(|c| readable(&c.project_id))
        .ok_or_else(not_found)?;
    if container.container_type != "certificate" {
        return Err(TlsError::NotCertificateContainer(reference.to_string()));
    }
    let mut parts: HashMap<&str, Vec<u8>> = HashMap::new();
    for s in &container.secrets {
        let Some(name) = s.name.as_deref() else {
            continue;
        };
        // A named secret that is gone, expired or empty fails the fetch.
        let (_, payload): (Secret, Option<Vec<u8>>) =
            store::secret_with_payload(db, &s.secret_id, &now)
                .await?
                .ok_or_else(not_found)?;
        parts.insert(name, payload.ok_or_else(not_found)?);
    }
    let cert_pem = parts.get("certificate").ok_or(TlsError::UnreadableCert)?;
    let cert_der = first_pem(
        cert_pem,
        &["CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE"],
    )
    .ok_or(TlsError::UnreadableCert)?;
    let intermediates = match parts.get("intermediates") {
        Some(data) => intermediates(data)?,
        None => Vec::new(),
    };
    let passphrase = parts
        .get("private_key_passphrase")
        .filter(|p| !p.is_empty())
        .map(Vec::as_slice);
    let key_pem = parts
        .get("private_key")
        .ok_or(TlsError::MissingPrivateKey)?;
    let key = read_private_key(key_pem, passphrase)?;
    assemble(&cert_der, key, &intermediates)
}

/// The id at the end of a ref (a trailing slash allowed).
fn ref_id(reference: &str) -> String {
    let trimmed = reference.trim().trim_end_matches('/');
    let last = trimmed.rsplit('/').next().unwrap_or_default();
    last.split(['?', '#'])
        .next()
        .unwrap_or_default()
        .to_string()
}

/// A private key as read: its DER, the PEM label to write it under, and
/// its public half for comparison.
struct PrivateKey {
    der: Vec<u8>,
    label: &'static str,
    public: PublicHalf,
}

fn assemble(
    cert_der: &[u8],
    key: PrivateKey,
    intermediates: &[Vec<u8>],
) -> Result<TlsBundle, TlsError> {
    let (_, cert) = X509Certificate::from_der(cert_der).map_err(|_| TlsError::UnreadableCert)?;
    if public_of_cert(&cert).as_ref() != Some(&key.public) {
        return Err(TlsError::MismatchedKey);
    }
    let primary_cn = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_lowercase);
    let dns_names: Vec<String> = cert
        .subject_alternative_name()
        .ok()
        .flatten()
        .map(|san| {
            san.value
                .general_names
                .iter()
                .filter_map(|n| match n {
                    GeneralName::DNSName(d) => Some(d.to_string()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    if primary_cn.as_deref().is_none_or(str::is_empty) && dns_names.is_empty() {
        return Err(TlsError::MissingCertSubject);
    }
    let certificate_pem = pem("CERTIFICATE", cert_der);
    let id = Sha1::digest(certificate_pem.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(TlsBundle {
        id,
        certificate_pem,
        private_key_pem: pem(key.label, &key.der),
        intermediates_pem: intermediates
            .iter()
            .map(|d| pem("CERTIFICATE", d))
            .collect(),
        primary_cn,
        dns_names,
    })
}

// ------------------------------------------------------------------ PKCS#12

/// cryptography's `load_pkcs12(data, None)`: no password (OpenSSL tries
/// the empty one too). The certificate is the one bagged with the key's
/// local key id, or else the one whose public key is the key's (as
/// OpenSSL's PKCS12_parse picks it); every other certificate is an
/// intermediate.
fn from_pkcs12(data: &[u8]) -> Result<TlsBundle, TlsError> {
    let archive = p12_keystore::Pkcs12Archive::from_pkcs12(data, "").map_err(|e| {
        use p12_keystore::error::Error as E;
        let why = match e {
            E::MacError(_) | E::UnpadError | E::Pkcs5Error(_) => "Invalid password or PKCS12 data",
            _ => "Could not deserialize PKCS12 data",
        };
        TlsError::UnreadablePkcs12(why.into())
    })?;
    let key_bag = archive.keys.first().ok_or(TlsError::MissingPrivateKey)?;
    let key_der = key_bag.key.as_der().to_vec();
    let key = PrivateKey {
        public: public_of_pkcs8(&key_der).ok_or(TlsError::NeedsPassphrase)?,
        der: key_der,
        label: "PRIVATE KEY",
    };
    let by_id = key_bag.local_key_id.as_ref().and_then(|id| {
        archive
            .certs
            .iter()
            .position(|c| c.local_key_id.as_deref() == Some(id.as_ref()))
    });
    let chosen = by_id.or_else(|| {
        archive.certs.iter().position(|c| {
            X509Certificate::from_der(c.cert.as_der())
                .ok()
                .and_then(|(_, x)| public_of_cert(&x))
                .as_ref()
                == Some(&key.public)
        })
    });
    let Some(chosen) = chosen else {
        return Err(if archive.certs.is_empty() {
            TlsError::UnreadableCert
        } else {
            TlsError::MismatchedKey
        });
    };
    let cert_der = archive.certs[chosen].cert.as_der().to_vec();
    let others: Vec<Vec<u8>> = archive
        .certs
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != chosen)
        .map(|(_, c)| c.cert.as_der().to_vec())
        .collect();
    assemble(&cert_der, key, &others)
}

// ------------------------------------------------------------------ PEM

struct PemBlock {
    label: String,
    headers: Vec<(String, String)>,
    der: Vec<u8>,
}

/// A block being read: its label, headers, base64 so far, and whether
/// headers may still follow.
struct OpenBlock {
    label: String,
    headers: Vec<(String, String)>,
    body: String,
    in_headers: bool,
}

/// Every PEM block in `data`, in order (undecodable ones skipped).
fn pem_blocks(data: &[u8]) -> Vec<PemBlock> {
    let text = String::from_utf8_lossy(data);
    let mut out = Vec::new();
    let mut current: Option<OpenBlock> = None;
    for line in text.lines() {
        let line = line.trim();
        if let Some(open) = current.as_mut() {
            if line
                .strip_prefix("-----END ")
                .and_then(|l| l.strip_suffix("-----"))
                == Some(open.label.as_str())
            {
                if let Ok(der) =
                    base64::engine::general_purpose::STANDARD.decode(open.body.as_bytes())
                {
                    out.push(PemBlock {
                        label: std::mem::take(&mut open.label),
                        headers: std::mem::take(&mut open.headers),
                        der,
                    });
                }
                current = None;
            } else if open.in_headers && line.contains(':') {
                let (k, v) = line.split_once(':').unwrap_or_default();
                open.headers
                    .push((k.trim().to_string(), v.trim().to_string()));
            } else {
                open.in_headers = false;
                open.body.push_str(line);
            }
        } else if let Some(label) = line
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        {
            current = Some(OpenBlock {
                label: label.to_string(),
                headers: Vec::new(),
                body: String::new(),
                in_headers: true,
            });
        }
    }
    out
}

fn first_pem(data: &[u8], labels: &[&str]) -> Option<Vec<u8>> {
    pem_blocks(data)
        .into_iter()
        .find(|b| labels.contains(&b.label.as_str()))
        .map(|b| b.der)
}

/// PEM text of `der`, 64 columns, no trailing newline.
fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----"));
    out
}

// ------------------------------------------------------------------ intermediates

/// `get_intermediates_pems`: PEM certificates when there is a
/// `BEGIN CERTIFICATE` line, else a PKCS#7 bundle (PEM or DER).
fn intermediates(data: &[u8]) -> Result<Vec<Vec<u8>>, TlsError> {
    let has_pem = data
        .windows(b"-----BEGIN CERTIFICATE-----".len())
        .any(|w| w == b"-----BEGIN CERTIFICATE-----");
    let ders: Vec<Vec<u8>> = if has_pem {
        pem_blocks(data)
            .into_iter()
            .filter(|b| b.label == "CERTIFICATE")
            .map(|b| b.der)
            .collect()
    } else {
        let pkcs7 = if data
            .windows(b"-----BEGIN PKCS7-----".len())
            .any(|w| w == b"-----BEGIN PKCS7-----")
        {
            pem_blocks(data)
                .into_iter()
                .filter(|b| b.label == "PKCS7")
                .map(|b| b.der)
                .collect()
        } else {
            vec![data.to_vec()]
        };
        let mut certs = Vec::new();
        for bundle in &pkcs7 {
            certs.extend(pkcs7_certificates(bundle).ok_or(TlsError::UnreadableCert)?);
        }
        certs
    };
    for der in &ders {
        X509Certificate::from_der(der).map_err(|_| TlsError::UnreadableCert)?;
    }
    Ok(ders)
}

/// The elements of a constructed DER value, each with its full encoding.
fn elements(mut data: &[u8]) -> Option<Vec<(Any<'_>, &[u8])>> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let (rest, any) = Any::from_der(data).ok()?;
        out.push((any, &data[..data.len() - rest.len()]));
        data = rest;
    }
    Some(out)
}

fn one(data: &[u8]) -> Option<Any<'_>> {
    Any::from_der(data).ok().map(|(_, a)| a)
}

const OID_SIGNED_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];

/// The certificates of a PKCS#7 SignedData (`ContentInfo` DER).
fn pkcs7_certificates(der: &[u8]) -> Option<Vec<Vec<u8>>> {
    let info = one(der)?;
    let parts = elements(info.data)?;
    let (oid, _) = parts.first()?;
    if oid.tag() != Tag::Oid || oid.data != OID_SIGNED_DATA {
        return None;
    }
    let (content, _) = parts.get(1)?;
    let signed = one(content.data)?;
    let fields = elements(signed.data)?;
    let certs = fields
        .iter()
        .find(|(a, _)| a.class() == Class::ContextSpecific && a.tag() == Tag(0))
        .map(|(a, _)| a.data)
        .unwrap_or_default();
    Some(
        elements(certs)?
            .into_iter()
            .map(|(_, full)| full.to_vec())
            .collect(),
    )
}

// ------------------------------------------------------------------ keys

/// A public key, in the form both a certificate and a private key give.
#[derive(Clone, Debug, PartialEq, Eq)]
enum PublicHalf {
    Rsa { n: Vec<u8>, e: Vec<u8> },
    Ec { point: Vec<u8> },
    Ed25519(Vec<u8>),
}

fn unsigned(b: &[u8]) -> Vec<u8> {
    let start = b.iter().position(|x| *x != 0).unwrap_or(b.len());
    b[start..].to_vec()
}

const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const OID_EC: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];

fn public_of_cert(cert: &X509Certificate) -> Option<PublicHalf> {
    let spki = cert.public_key();
    if spki.algorithm.algorithm.as_bytes() == OID_ED25519 {
        return Some(PublicHalf::Ed25519(spki.subject_public_key.data.to_vec()));
    }
    match spki.parsed().ok()? {
        PublicKey::RSA(k) => Some(PublicHalf::Rsa {
            n: unsigned(k.modulus),
            e: unsigned(k.exponent),
        }),
        PublicKey::EC(p) => Some(PublicHalf::Ec {
            point: p.data().to_vec(),
        }),
        _ => None,
    }
}

/// PKCS#1 `RSAPrivateKey`: version, n, e, ...
fn public_of_pkcs1(der: &[u8]) -> Option<PublicHalf> {
    let seq = one(der)?;
    let f = elements(seq.data)?;
    let (n, _) = f.get(1)?;
    let (e, _) = f.get(2)?;
    (n.tag() == Tag::Integer && e.tag() == Tag::Integer).then(|| PublicHalf::Rsa {
        n: unsigned(n.data),
        e: unsigned(e.data),
    })
}

/// SEC1 `ECPrivateKey`: version, key, [0] curve, [1] public key (needed:
/// nothing here multiplies curve points).
fn public_of_sec1(der: &[u8]) -> Option<PublicHalf> {
    let seq = one(der)?;
    let f = elements(seq.data)?;
    let (tagged, _) = f
        .iter()
        .find(|(a, _)| a.class() == Class::ContextSpecific && a.tag() == Tag(1))?;
    let bits = one(tagged.data)?;
    // A BIT STRING's first byte counts its unused bits (0 here).
    let point = bits.data.get(1..)?.to_vec();
    Some(PublicHalf::Ec { point })
}

/// PKCS#8 `PrivateKeyInfo`: version, algorithm, key, [0] attributes,
/// [1] public key.
fn public_of_pkcs8(der: &[u8]) -> Option<PublicHalf> {
    let seq = one(der)?;
    let f = elements(seq.data)?;
    let (alg, _) = f.get(1)?;
    let (key, _) = f.get(2)?;
    let alg_parts = elements(alg.data)?;
    let (oid, _) = alg_parts.first()?;
    match oid.data {
        o if o == OID_RSA => public_of_pkcs1(key.data),
        o if o == OID_EC => public_of_sec1(key.data),
        o if o == OID_ED25519 => {
            // The public key: the optional [1] field, or derived from
            // the seed.
            if let Some((tagged, _)) = f
                .iter()
                .find(|(a, _)| a.class() == Class::ContextSpecific && a.tag() == Tag(1))
            {
                return Some(PublicHalf::Ed25519(tagged.data.get(1..)?.to_vec()));
            }
            let pair = rcgen::KeyPair::try_from(der).ok()?;
            Some(PublicHalf::Ed25519(pair.public_key_raw().to_vec()))
        }
        _ => None,
    }
}

/// `_read_private_key`: the first private key block, decrypted with the
/// passphrase when it is encrypted. Anything unreadable (a missing or
/// wrong passphrase, a passphrase for a plain key, legacy encrypted PEM,
/// an unknown key type) is [`TlsError::NeedsPassphrase`], as upstream
/// turns every failure into that.
fn read_private_key(data: &[u8], passphrase: Option<&[u8]>) -> Result<PrivateKey, TlsError> {
    let block = pem_blocks(data)
        .into_iter()
        .find(|b| b.label.ends_with("PRIVATE KEY"))
        .ok_or(TlsError::NeedsPassphrase)?;
    let legacy_encrypted = block
        .headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("Proc-Type") && v.contains("ENCRYPTED"));
    if legacy_encrypted {
        return Err(TlsError::NeedsPassphrase);
    }
    let key = match (block.label.as_str(), passphrase) {
        ("ENCRYPTED PRIVATE KEY", Some(pass)) => {
            let info = pkcs8::EncryptedPrivateKeyInfoRef::try_from(block.der.as_slice())
                .map_err(|_| TlsError::NeedsPassphrase)?;
            let doc = info.decrypt(pass).map_err(|_| TlsError::NeedsPassphrase)?;
            let der = doc.as_bytes().to_vec();
            PrivateKey {
                public: public_of_pkcs8(&der).ok_or(TlsError::NeedsPassphrase)?,
                der,
                label: "PRIVATE KEY",
            }
        }
        (_, Some(_)) | ("ENCRYPTED PRIVATE KEY", None) => return Err(TlsError::NeedsPassphrase),
        ("PRIVATE KEY", None) => PrivateKey {
            public: public_of_pkcs8(&block.der).ok_or(TlsError::NeedsPassphrase)?,
            der: block.der,
            label: "PRIVATE KEY",
        },
        ("RSA PRIVATE KEY", None) => PrivateKey {
            public: public_of_pkcs1(&block.der).ok_or(TlsError::NeedsPassphrase)?,
            der: block.der,
            label: "RSA PRIVATE KEY",
        },
        ("EC PRIVATE KEY", None) => PrivateKey {
            public: public_of_sec1(&block.der).ok_or(TlsError::NeedsPassphrase)?,
            der: block.der,
            label: "EC PRIVATE KEY",
        },
        _ => return Err(TlsError::NeedsPassphrase),
    };
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ref_ids() {
        assert_eq!(ref_id("http://h/v1/secrets/abc"), "abc");
        assert_eq!(ref_id("http://h/v1/containers/abc/"), "abc");
        assert_eq!(ref_id("abc"), "abc");
    }

    #[test]
    fn pem_round_trip() {
        let text = pem("CERTIFICATE", &[1, 2, 3]);
        assert_eq!(
            text,
            "-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----"
        );
        let blocks = pem_blocks(format!("junk\n{text}\r\nmore").as_bytes());
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].der, vec![1, 2, 3]);
    }

    #[test]
    fn octavia_messages() {
        let (status, msg) = TlsError::MismatchedKey.octavia_fault("http://h/v1/containers/x");
        assert_eq!(status, 400);
        assert_eq!(
            msg,
            "Could not retrieve certificate: ['http://h/v1/containers/x']"
        );
        let (_, msg) = TlsError::UnreadablePkcs12("Could not deserialize PKCS12 data".into())
            .octavia_fault("r");
        assert!(msg.ends_with("Error: Could not deserialize PKCS12 data"));
    }
}
