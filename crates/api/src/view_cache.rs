//! Rendered JSON of ports, reused while a port's revision is unchanged.
//!
//! Listing 10,000 ports spent most of its time decoding rows and building
//! JSON trees for ports that had not changed since the last list. Every
//! change a port's view shows bumps its `revision_number` (Neutron's rule,
//! which this code base keeps: see the callers of `ports::touch`), so
//! `(id, revision, admin view)` identifies a rendering exactly, whichever
//! API server made the change. Entries of deleted ports are dropped when
//! the port is deleted here, or by the next full admin list on any server.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Entry {
    revision: i64,
    admin: Option<Arc<str>>,
    member: Option<Arc<str>>,
}

#[derive(Default)]
pub struct PortViews {
    entries: Mutex<HashMap<String, Entry>>,
}

impl PortViews {
    /// The cached rendering of each `(id, revision)`, `None` where missing.
    pub fn lookup(&self, wanted: &[(String, i64)], admin: bool) -> Vec<Option<Arc<str>>> {
        let entries = self.entries.lock().expect("cache lock");
        wanted
            .iter()
            .map(|(id, rev)| {
                entries
                    .get(id)
                    .filter(|e| e.revision == *rev)
                    .and_then(|e| {
                        if admin {
                            e.admin.clone()
                        } else {
                            e.member.clone()
                        }
                    })
            })
            .collect()
    }

    pub fn store(&self, rendered: Vec<(String, i64, Arc<str>)>, admin: bool) {
        let mut entries = self.entries.lock().expect("cache lock");
        for (id, revision, json) in rendered {
            let e = entries.entry(id).or_default();
            if e.revision != revision {
                *e = Entry {
                    revision,
                    ..Entry::default()
                };
            }
            if admin {
                e.admin = Some(json);
            } else {
                e.member = Some(json);
            }
        }
    }

    pub fn forget(&self, id: &str) {
        self.entries.lock().expect("cache lock").remove(id);
    }

    /// Keeps only the given ports (after a list that saw every port).
    pub fn retain(&self, live: &HashSet<&str>) {
        self.entries
            .lock()
            .expect("cache lock")
            .retain(|id, _| live.contains(id.as_str()));
    }
}
