//! Short-lived memory of validation results.
//!
//! The network API validates the caller's token on every request. A full
//! validation costs several database round trips (revocations, user,
//! project, roles), too slow for thousands of requests per second, so a
//! result is reused for `cache_ttl_secs` (default 5 s).
//!
//! The trade-off: a change made through *another* server sharing the
//! database (a revoked token, a removed role, a deleted user or project)
//! takes up to that long to be noticed here. Changes made through this
//! process clear the cache at once, and expiry is always checked exactly.
//! A generation counter stops a validation that read the database before
//! such a change from caching its stale result after it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::authn::TokenData;

/// Past this many entries, stale ones are swept before inserting.
const SWEEP_AT: usize = 10_000;

pub struct ValidationCache {
    ttl: Duration,
    generation: AtomicU64,
    entries: RwLock<HashMap<String, (Instant, Arc<TokenData>)>>,
}

impl ValidationCache {
    pub fn new(ttl_secs: u64) -> Self {
        ValidationCache {
            ttl: Duration::from_secs(ttl_secs),
            generation: AtomicU64::new(0),
            entries: RwLock::new(HashMap::new()),
        }
    }

    pub fn get(&self, token: &str) -> Option<Arc<TokenData>> {
        if self.ttl.is_zero() {
            return None;
        }
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        let (at, data) = entries.get(token)?;
        (at.elapsed() < self.ttl).then(|| data.clone())
    }

    /// Read before the database is consulted; pass to [`Self::insert`].
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn insert(&self, generation: u64, token: &str, data: Arc<TokenData>) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        // Checked under the lock, which `clear` also takes.
        if generation != self.generation.load(Ordering::Acquire) {
            return;
        }
        if entries.len() >= SWEEP_AT {
            let ttl = self.ttl;
            entries.retain(|_, (at, _)| at.elapsed() < ttl);
        }
        entries.insert(token.to_owned(), (Instant::now(), data));
    }

    /// Forgets everything; called after any change that can affect a
    /// validation result.
    pub fn clear(&self) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.clear();
    }
}
