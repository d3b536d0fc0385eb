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

/// How much of a cached list body is put together at a time.
const CHUNK: usize = 64 * 1024;

/// `{"<key>":[a,b,...]}` from rendered items, as a response body that is
/// assembled in [`CHUNK`]-sized pieces while it is sent: a list of 10,000
/// ports never exists as one 10 MB string, whose peak the allocator would
/// keep long after the response is gone.
pub fn json_list_body(key: &str, parts: Vec<Arc<str>>) -> axum::response::Response {
    let head = format!("{{\"{key}\":[");
    let len = head.len()
        + parts.iter().map(|p| p.len()).sum::<usize>()
        + parts.len().saturating_sub(1)
        + 2;
    let chunks = JsonListChunks {
        head: Some(head),
        parts: parts.into_iter().enumerate(),
        done: false,
    };
    let stream = futures::stream::iter(chunks.map(Ok::<_, std::convert::Infallible>));
    axum::response::Response::builder()
        .header(axum::http::header::CONTENT_TYPE, "application/json")
        .header(axum::http::header::CONTENT_LENGTH, len)
        .body(axum::body::Body::from_stream(stream))
        .expect("static headers are valid")
}

struct JsonListChunks {
    head: Option<String>,
    parts: std::iter::Enumerate<std::vec::IntoIter<Arc<str>>>,
    done: bool,
}

impl Iterator for JsonListChunks {
    type Item = axum::body::Bytes;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let mut buf = self.head.take().unwrap_or_default();
        buf.reserve(CHUNK);
        while buf.len() < CHUNK {
            match self.parts.next() {
                Some((i, part)) => {
                    if i > 0 {
                        buf.push(',');
                    }
                    buf.push_str(&part);
                }
                None => {
                    buf.push_str("]}");
                    self.done = true;
                    break;
                }
            }
        }
        Some(buf.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_of(parts: &[&str]) -> (String, usize, usize) {
        let chunks = JsonListChunks {
            head: Some("{\"ports\":[".to_string()),
            parts: parts
                .iter()
                .map(|p| Arc::<str>::from(*p))
                .collect::<Vec<_>>()
                .into_iter()
                .enumerate(),
            done: false,
        };
        let pieces: Vec<axum::body::Bytes> = chunks.collect();
        let n = pieces.len();
        let max = pieces.iter().map(|b| b.len()).max().unwrap_or(0);
        let all: Vec<u8> = pieces.concat();
        (String::from_utf8(all).unwrap(), n, max)
    }

    #[test]
    fn empty_list_is_valid_json() {
        let (body, n, _) = body_of(&[]);
        assert_eq!(body, "{\"ports\":[]}");
        assert_eq!(n, 1);
    }

    #[test]
    fn items_are_comma_separated_across_chunks() {
        let item = format!("{{\"id\":\"{}\"}}", "x".repeat(1000));
        let items: Vec<&str> = std::iter::repeat_n(item.as_str(), 300).collect();
        let (body, n, max) = body_of(&items);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["ports"].as_array().unwrap().len(), 300);
        assert!(n > 1, "300 KB come in several chunks, got {n}");
        assert!(max < CHUNK + 2 * item.len(), "chunk of {max} bytes");
    }
}
