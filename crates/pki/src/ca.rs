//! The CA on disk and the certificates it issues.

use std::fmt;
use std::fs;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};

use crate::{Error, Result, io_err};

/// Common name of a CA created by [`Ca::load_or_create`].
pub const CA_CN: &str = "Neutrino load-balancer CA";
/// Common name of the controller's client certificate.
pub const CONTROLLER_CN: &str = "neutrino-lb-controller";
/// Default amphora certificate validity (upstream `cert_validity_time`, 30 days).
pub const AMPHORA_VALIDITY: Duration = Duration::from_secs(30 * 24 * 3600);

const CA_VALIDITY: Duration = Duration::from_secs(3650 * 24 * 3600);
const CONTROLLER_VALIDITY: Duration = Duration::from_secs(3650 * 24 * 3600);
/// Certificates start this long before "now", for clocks slightly behind.
const BACKDATE: Duration = Duration::from_secs(300);

const CERT_FILE: &str = "ca.pem";
const KEY_FILE: &str = "ca.key";
const LOCK_FILE: &str = ".ca.lock";

/// A CA able to issue: its certificate and signing key.
pub struct Ca {
    cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl fmt::Debug for Ca {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ca").finish_non_exhaustive()
    }
}

/// A certificate and its private key, as PEM.
#[derive(Clone, PartialEq, Eq)]
pub struct Issued {
    pub cert_pem: String,
    /// PKCS#8 (`PRIVATE KEY`).
    pub key_pem: String,
    pub not_after: DateTime<Utc>,
}

impl Issued {
    /// `not_after` as `YYYY-MM-DDTHH:MM:SS` (UTC), the format of
    /// `lb_amphorae.cert_expiration`.
    pub fn expiration(&self) -> String {
        self.not_after.format("%Y-%m-%dT%H:%M:%S").to_string()
    }

    /// Certificate then key, the body of the agent's `PUT /certificate`.
    pub fn bundle_pem(&self) -> String {
        let mut s = self.cert_pem.clone();
        if !s.ends_with('\n') {
            s.push('\n');
        }
        s.push_str(&self.key_pem);
        s
    }
}

impl fmt::Debug for Issued {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Issued")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"<redacted>")
            .field("not_after", &self.not_after)
            .finish()
    }
}

impl Ca {
    /// Loads the CA in `dir`, or creates one (EC P-256, 10 years, CN
    /// [`CA_CN`]) when `dir` holds none. Files are written to temporary
    /// files and renamed into place (key first, then the certificate, so a
    /// present `ca.pem` means a complete CA), under an advisory lock on
    /// `{dir}/.ca.lock`: processes or threads racing end with one CA.
    ///
    /// A `ca.key` without `ca.pem` (an interrupted creation) is replaced;
    /// a `ca.pem` without `ca.key` is an error (never silently re-rooted).
    pub fn load_or_create(dir: &Path) -> Result<Ca> {
        if dir.join(CERT_FILE).exists() {
            return Self::load(dir);
        }
        create_dir_private(dir)?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_err(&lock_path))?;
        lock.lock().map_err(io_err(&lock_path))?;
        let result = if dir.join(CERT_FILE).exists() {
            Self::load(dir)
        } else {
            Self::create(dir)
        };
        // Unlocked on drop too; explicit for clarity.
        let _ = lock.unlock();
        result
    }

    /// Loads an existing CA (an operator's): `{dir}/ca.pem` and
    /// `{dir}/ca.key` (PKCS#8 PEM, EC or RSA). Errors when either is absent
    /// or when the key does not belong to the certificate.
    pub fn load(dir: &Path) -> Result<Ca> {
        let cert_path = dir.join(CERT_FILE);
        let key_path = dir.join(KEY_FILE);
        let cert_pem = read_required(dir, &cert_path, "ca.pem is absent")?;
        let key_pem = read_required(dir, &key_path, "ca.key is absent")?;
        Self::from_pem(&cert_pem, &key_pem)
    }

    /// A CA from its certificate and PKCS#8 key, both PEM.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Ca> {
        let key = KeyPair::from_pem(key_pem).map_err(|e| Error::Pem {
            what: "CA key",
            detail: e.to_string(),
        })?;
        let cert_der = first_cert_der(cert_pem, "CA certificate")?;
        // The public key's BIT STRING contents appear verbatim in the
        // certificate's SubjectPublicKeyInfo.
        let public = key.public_key_raw();
        if public.is_empty() || !cert_der.windows(public.len()).any(|w| w == public) {
            return Err(Error::Invalid(
                "the CA key does not match the CA certificate".into(),
            ));
        }
        let issuer = Issuer::from_ca_cert_der(&cert_der.into(), key)?;
        Ok(Ca {
            cert_pem: cert_pem.to_owned(),
            issuer,
        })
    }

    /// The CA certificate (PEM), the trust root of both ends.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The controller's client certificate: CN [`CONTROLLER_CN`], EKU
    /// clientAuth, 10 years (it lives in memory, issued at start).
    pub fn issue_controller(&self) -> Result<Issued> {
        let now = SystemTime::now();
        let mut params = leaf_params(CONTROLLER_CN, now - BACKDATE, now + CONTROLLER_VALIDITY)?;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.sign(params)
    }

    /// An amphora's server certificate: CN = SAN DNS = `amphora_id`, EKU
    /// serverAuth + clientAuth, valid from now for `validity`.
    pub fn issue_amphora(&self, amphora_id: &str, validity: Duration) -> Result<Issued> {
        let now = SystemTime::now();
        self.issue_amphora_between(amphora_id, now - BACKDATE, now + validity)
    }

    /// [`Ca::issue_amphora`] with an explicit validity window (rotation
    /// tests, expired certificates in tests).
    pub fn issue_amphora_between(
        &self,
        amphora_id: &str,
        not_before: SystemTime,
        not_after: SystemTime,
    ) -> Result<Issued> {
        let name = rcgen::string::Ia5String::try_from(amphora_id)
            .map_err(|_| Error::InvalidName(amphora_id.to_owned()))?;
        // webpki's name check needs a syntactically valid DNS name.
        rustls::pki_types::DnsName::try_from(amphora_id)
            .map_err(|_| Error::InvalidName(amphora_id.to_owned()))?;
        let mut params = leaf_params(amphora_id, not_before, not_after)?;
        params.subject_alt_names = vec![SanType::DnsName(name)];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        self.sign(params)
    }

    fn sign(&self, params: CertificateParams) -> Result<Issued> {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            not_after: to_chrono(params.not_after),
        })
    }

    fn create(dir: &Path) -> Result<Ca> {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let now = SystemTime::now();
        let mut params = CertificateParams::default();
        params.distinguished_name = dn(CA_CN);
        params.not_before = to_time(now - BACKDATE)?;
        params.not_after = to_time(now + CA_VALIDITY)?;
        params.serial_number = Some(random_serial());
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key)?;
        let cert_pem = cert.pem();
        let key_pem = key.serialize_pem();
        write_atomic(dir, KEY_FILE, key_pem.as_bytes(), 0o600)?;
        write_atomic(dir, CERT_FILE, cert_pem.as_bytes(), 0o644)?;
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(Ca {
            cert_pem,
            issuer: Issuer::new(params, key),
        })
    }
}

fn dn(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn
}

fn leaf_params(
    cn: &str,
    not_before: SystemTime,
    not_after: SystemTime,
) -> Result<CertificateParams> {
    let mut params = CertificateParams::default();
    params.distinguished_name = dn(cn);
    params.not_before = to_time(not_before)?;
    params.not_after = to_time(not_after)?;
    params.serial_number = Some(random_serial());
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.use_authority_key_identifier_extension = true;
    Ok(params)
}

fn random_serial() -> SerialNumber {
    let mut bytes: [u8; 16] = rand::random();
    bytes[0] &= 0x7f; // positive
    bytes[0] |= 0x40; // no leading zero byte to strip
    SerialNumber::from_slice(&bytes)
}

fn to_time(t: SystemTime) -> Result<time::OffsetDateTime> {
    let secs = match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).ok(),
        Err(e) => i64::try_from(e.duration().as_secs()).ok().map(|s| -s),
    };
    secs.and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .ok_or_else(|| Error::Invalid(format!("validity bound {t:?} out of range")))
}

fn to_chrono(t: time::OffsetDateTime) -> DateTime<Utc> {
    DateTime::from_timestamp(t.unix_timestamp(), 0).unwrap_or_default()
}

fn first_cert_der(pem: &str, what: &'static str) -> Result<Vec<u8>> {
    use rustls::pki_types::{CertificateDer, pem::PemObject};
    let der = CertificateDer::from_pem_slice(pem.as_bytes()).map_err(|e| Error::Pem {
        what,
        detail: e.to_string(),
    })?;
    Ok(der.to_vec())
}

fn read_required(dir: &Path, path: &Path, what: &'static str) -> Result<String> {
    match fs::read_to_string(path) {
        Ok(s) => Ok(s),
        Err(e) if e.kind() == ErrorKind::NotFound => Err(Error::Missing {
            dir: dir.to_owned(),
            what,
        }),
        Err(e) => Err(io_err(path)(e)),
    }
}

fn create_dir_private(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .create(dir)
        .map_err(io_err(dir))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io_err(dir))
}

/// Writes `{dir}/{name}` through a temporary file in `dir` and a rename.
fn write_atomic(dir: &Path, name: &str, contents: &[u8], mode: u32) -> Result<()> {
    let target: PathBuf = dir.join(name);
    // tempfile creates the file with mode 0600.
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .tempfile_in(dir)
        .map_err(io_err(dir))?;
    tmp.write_all(contents).map_err(io_err(tmp.path()))?;
    if mode != 0o600 {
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(mode))
            .map_err(io_err(tmp.path()))?;
    }
    tmp.as_file().sync_all().map_err(io_err(tmp.path()))?;
    tmp.persist(&target).map_err(|e| Error::Io {
        path: target.clone(),
        source: e.error,
    })?;
    Ok(())
}
