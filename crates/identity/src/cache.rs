//! Short-lived memory of validation results.
//!
//! The network API validates the caller's token on every request. A full
//! validation costs several database round trips (revocations, user,
//! project, roles), so a result is reused for up to `cache_ttl_secs`
//! (default 5 s), but only while the database's `identity_epoch` still
//! has the value it had when the result was computed. Every identity
//! write bumps that counter in its own transaction (`store::commit_changed`),
//! and each validation reads it (one primary-key lookup of a one-row
//! table), so a revocation, password change, disabled user or removed role
//! committed through *any* server sharing the database takes effect on
//! every server at its next request: there is no revocation window.
//!
//! A validation reads the epoch before anything else, so its result can
//! only be labelled older than what it saw, never newer; an older label
//! is dropped as soon as anyone reads the newer epoch.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::authn::TokenData;

/// Past this many entries, stale ones are swept before inserting.
const SWEEP_AT: usize = 10_000;

pub struct ValidationCache {
    ttl: Duration,
    state: RwLock<State>,
}

struct State {
    /// The `identity_epoch` every entry was computed at.
    epoch: i64,
    entries: HashMap<String, (Instant, Arc<TokenData>)>,
}

impl ValidationCache {
    pub fn new(ttl_secs: u64) -> Self {
        ValidationCache {
            ttl: Duration::from_secs(ttl_secs),
            state: RwLock::new(State {
                epoch: i64::MIN,
                entries: HashMap::new(),
            }),
        }
    }

    /// Off: validations then skip the epoch read too.
    pub fn enabled(&self) -> bool {
        !self.ttl.is_zero()
    }

    /// A result computed at `epoch`, the value the database holds now.
    pub fn get(&self, epoch: i64, token: &str) -> Option<Arc<TokenData>> {
        if !self.enabled() {
            return None;
        }
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        if state.epoch != epoch {
            return None;
        }
        let (at, data) = state.entries.get(token)?;
        (at.elapsed() < self.ttl).then(|| data.clone())
    }

    /// Remembers a result computed from reads made after `epoch` was read.
    pub fn insert(&self, epoch: i64, token: &str, data: Arc<TokenData>) {
        if !self.enabled() {
            return;
        }
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        if epoch < state.epoch {
            return;
        }
        if epoch > state.epoch {
            // Something changed: nothing computed before can be trusted.
            state.epoch = epoch;
            state.entries.clear();
        }
        if state.entries.len() >= SWEEP_AT {
            let ttl = self.ttl;
            state.entries.retain(|_, (at, _)| at.elapsed() < ttl);
        }
        state
            .entries
            .insert(token.to_owned(), (Instant::now(), data));
    }
}
