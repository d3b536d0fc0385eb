//! Self-contained signed tokens.
//!
//! A token is `base64url(payload || HMAC-SHA256(secret, payload))`, the
//! payload being compact JSON. Nothing is stored when a token is issued, so
//! any server holding the secret validates any other's tokens; what a token
//! grants (roles) is looked up at validation time, and revocation is a list
//! of audit ids.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

const VERSION: u8 = 1;
const MAC_LEN: usize = 32;
/// Far larger than any token we issue; stops garbage from costing work.
const MAX_TOKEN_LEN: usize = 2048;

/// What a token is scoped to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "k", content = "id")]
pub enum Scope {
    #[serde(rename = "u")]
    Unscoped,
    #[serde(rename = "p")]
    Project(String),
    #[serde(rename = "d")]
    Domain(String),
    #[serde(rename = "s")]
    System,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payload {
    #[serde(rename = "v")]
    pub version: u8,
    #[serde(rename = "u")]
    pub user_id: String,
    #[serde(rename = "s")]
    pub scope: Scope,
    #[serde(rename = "m")]
    pub methods: Vec<String>,
    /// Unix seconds.
    #[serde(rename = "i")]
    pub issued_at: i64,
    #[serde(rename = "e")]
    pub expires_at: i64,
    /// This token's id for revocation and audit (random, 16 bytes).
    #[serde(rename = "a")]
    pub audit_id: String,
    /// The audit id of the token this one was exchanged from, if any.
    #[serde(rename = "c", default, skip_serializing_if = "Option::is_none")]
    pub audit_chain_id: Option<String>,
    /// The user's revocation epoch (`identity_users.revoked_before`) when
    /// the credentials were checked; the token dies once the user's epoch
    /// moves past it (password change, disable). A counter compare, not a
    /// clock compare: exact within a second and across servers. Absent
    /// from tokens issued before it existed, which fall back to
    /// `issued_at`.
    #[serde(rename = "r", default, skip_serializing_if = "Option::is_none")]
    pub user_epoch: Option<i64>,
}

impl Payload {
    pub fn new(
        user_id: String,
        scope: Scope,
        methods: Vec<String>,
        now: i64,
        expires_at: i64,
    ) -> Self {
        Payload {
            version: VERSION,
            user_id,
            scope,
            methods,
            issued_at: now,
            expires_at,
            audit_id: new_audit_id(),
            audit_chain_id: None,
            user_epoch: None,
        }
    }

    /// The epoch this token was issued at (see [`Payload::user_epoch`]).
    pub fn effective_epoch(&self) -> i64 {
        self.user_epoch.unwrap_or(self.issued_at)
    }

    /// Keystone's `audit_ids`: own id first, then the chain's origin.
    pub fn audit_ids(&self) -> Vec<String> {
        let mut ids = vec![self.audit_id.clone()];
        ids.extend(self.audit_chain_id.clone());
        ids
    }
}

pub fn new_audit_id() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>())
}

fn mac(secret: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail.
    <HmacSha256 as KeyInit>::new_from_slice(secret).expect("HMAC takes any key length")
}

pub fn encode(payload: &Payload, secret: &[u8]) -> String {
    let mut bytes = serde_json::to_vec(payload).expect("payload serialises");
    let mut m = mac(secret);
    m.update(&bytes);
    bytes.extend_from_slice(&m.finalize().into_bytes());
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Verifies the signature (in constant time) and decodes the payload.
/// Expiry is the caller's business. None for anything not issued by us.
pub fn decode(token: &str, secret: &[u8]) -> Option<Payload> {
    if token.len() > MAX_TOKEN_LEN {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(token.trim()).ok()?;
    if bytes.len() <= MAC_LEN {
        return None;
    }
    let (body, tag) = bytes.split_at(bytes.len() - MAC_LEN);
    let mut m = mac(secret);
    m.update(body);
    m.verify_slice(tag).ok()?;
    let payload: Payload = serde_json::from_slice(body).ok()?;
    (payload.version == VERSION).then_some(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Payload {
        Payload::new(
            "u1".into(),
            Scope::Project("p1".into()),
            vec!["password".into()],
            100,
            200,
        )
    }

    #[test]
    fn round_trip() {
        let p = sample();
        let t = encode(&p, b"secret");
        assert!(!t.contains('=') && !t.contains('+') && !t.contains('/'));
        assert_eq!(decode(&t, b"secret"), Some(p));
    }

    #[test]
    fn wrong_secret_or_tampering_fails() {
        let t = encode(&sample(), b"secret");
        assert_eq!(decode(&t, b"other"), None);
        let mut raw = URL_SAFE_NO_PAD.decode(&t).unwrap();
        for i in [0, raw.len() / 2, raw.len() - 1] {
            raw[i] ^= 1;
            assert_eq!(
                decode(&URL_SAFE_NO_PAD.encode(&raw), b"secret"),
                None,
                "byte {i}"
            );
            raw[i] ^= 1;
        }
        assert_eq!(decode("", b"secret"), None);
        assert_eq!(decode("!!!", b"secret"), None);
        assert_eq!(decode(&"A".repeat(4000), b"secret"), None);
    }

    #[test]
    fn audit_ids_are_random_and_url_safe() {
        let a = new_audit_id();
        assert_eq!(a.len(), 22);
        assert_ne!(a, new_audit_id());
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
    }
}
