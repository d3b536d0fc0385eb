//! Password hashing: argon2id, stored as PHC strings. Hashing is
//! deliberately slow, so it runs on the blocking pool rather than stalling
//! the async workers.
//!
//! Parameters: OWASP's m=7 MiB, t=5, p=1 argon2id setting, which it rates
//! as strong as the crate default (m=19 MiB, t=2): each hash holds a third
//! of the memory, and the allocator keeps what it once held, so this is
//! most of the server's idle footprint. Stored hashes carry their own
//! parameters, so hashes made with other settings still verify.

use std::sync::OnceLock;

use argon2::{Argon2, PasswordHasher, PasswordVerifier};

use crate::IdentityError;

fn hasher() -> Argon2<'static> {
    let params = argon2::Params::new(7 * 1024, 5, 1, None).expect("valid argon2 parameters");
    Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
}

fn hash_blocking(password: &str) -> Result<String, IdentityError> {
    hasher()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| IdentityError::Internal(format!("password hashing failed: {e}")))
}

pub async fn hash(password: &str) -> Result<String, IdentityError> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || hash_blocking(&password))
        .await
        .map_err(|e| IdentityError::Internal(e.to_string()))?
}

/// Checks `password` against `stored`. With no stored hash (unknown user,
/// or one without a password) a dummy hash is checked instead, so that the
/// response time does not reveal which user names exist.
pub async fn verify(password: &str, stored: Option<&str>) -> bool {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let real = stored.is_some();
    let password = password.to_owned();
    let stored = stored.map(str::to_owned);
    let checked = tokio::task::spawn_blocking(move || {
        let hash = match &stored {
            Some(h) => h.as_str(),
            None => DUMMY.get_or_init(|| hash_blocking("dummy").unwrap_or_default()),
        };
        hasher().verify_password(password.as_bytes(), hash).is_ok()
    })
    .await
    .unwrap_or(false);
    real && checked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_then_verify() {
        let h = hash("s3cret").await.unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify("s3cret", Some(&h)).await);
        assert!(!verify("s3cret!", Some(&h)).await);
        assert!(!verify("dummy", None).await);
        assert!(!verify("x", Some("not a phc string")).await);
    }
}
