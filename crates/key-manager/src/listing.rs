//! Paging as barbican pages (`clean_paging_values`, `add_nav_hrefs`):
//! `limit` defaults to 10 and is held to [1, 100], `offset` to >= 0, and
//! nonsense in either falls back to the default rather than failing.

use serde_json::{Map, Value};

pub const DEFAULT_LIMIT: usize = 10;
pub const MAX_LIMIT: usize = 100;

/// The query string as pecan hands it to a controller: decoded pairs, in
/// order; a repeated key keeps its last value.
#[derive(Clone, Debug, Default)]
pub struct Query {
    pub pairs: Vec<(String, String)>,
}

impl Query {
    pub fn parse(raw: Option<&str>) -> Query {
        Query {
            pairs: form_urlencoded::parse(raw.unwrap_or("").as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every pair but `limit` and `offset`, re-encoded (urlencode with
    /// doseq over the query's keys, each key once at its first place).
    pub fn filters_string(&self) -> String {
        let mut keys: Vec<&str> = Vec::new();
        for (k, _) in &self.pairs {
            if k != "limit" && k != "offset" && !keys.contains(&k.as_str()) {
                keys.push(k);
            }
        }
        let mut parts = Vec::new();
        for k in keys {
            for (_, v) in self.pairs.iter().filter(|(key, _)| key == k) {
                parts.push(format!("{}={}", quote_plus(k), quote_plus(v)));
            }
        }
        parts.join("&")
    }
}

/// Python's `int()` of a query value: `None` if it is no integer; huge
/// ones saturate.
fn py_int(s: &str) -> Option<i128> {
    let t = s.trim();
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let digits = digits.replace('_', "");
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let v = digits.parse::<i128>().unwrap_or(i128::MAX);
    Some(if neg { -v } else { v })
}

/// `clean_paging_values(offset, limit)`.
pub fn paging(offset: Option<&str>, limit: Option<&str>) -> (usize, usize) {
    let offset = match offset.filter(|s| !s.is_empty()).map(py_int) {
        None => 0,
        Some(None) => 0,
        Some(Some(o)) if o < 0 || o > i64::MAX as i128 => 0,
        Some(Some(o)) => o as usize,
    };
    let limit = match limit.filter(|s| !s.is_empty()).map(py_int) {
        None => DEFAULT_LIMIT,
        Some(None) => DEFAULT_LIMIT,
        Some(Some(l)) if l < 1 => 1,
        Some(Some(l)) if l > MAX_LIMIT as i128 => MAX_LIMIT,
        Some(Some(l)) => l as usize,
    };
    (offset, limit)
}

/// Python's `urllib.parse.quote_plus`.
pub fn quote_plus(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Python's `urllib.parse.unquote_plus` (upstream applies it once more
/// to an already decoded `name` filter).
pub fn unquote_plus(s: &str) -> String {
    let replaced = s.replace('+', " ");
    let b = replaced.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `add_nav_hrefs`: `previous` when not at the start, `next` when more
/// follow; `list_href(offset, limit)` builds each link.
pub fn nav(
    body: &mut Map<String, Value>,
    offset: usize,
    limit: usize,
    total: usize,
    list_href: impl Fn(usize, usize) -> String,
) {
    if offset > 0 {
        body.insert(
            "previous".into(),
            Value::String(list_href(offset.saturating_sub(limit), limit)),
        );
    }
    if total > offset + limit {
        body.insert(
            "next".into(),
            Value::String(list_href(offset + limit, limit)),
        );
    }
}

/// SQL `LIKE` as barbican's filters use it (MySQL's default collation:
/// case-insensitive): `%` any run, `_` one character, `\` escapes.
pub fn like(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let t: Vec<char> = text.to_lowercase().chars().collect();
    like_at(&p, &t)
}

fn like_at(p: &[char], t: &[char]) -> bool {
    // Iterative matching with backtracking to the last `%`.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() {
            match p[pi] {
                '%' => {
                    star = Some((pi, ti));
                    pi += 1;
                    continue;
                }
                '_' => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                '\\' if pi + 1 < p.len() && p[pi + 1] == t[ti] => {
                    pi += 2;
                    ti += 1;
                    continue;
                }
                '\\' if pi + 1 < p.len() => {}
                c if c == t[ti] => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, st)) => {
                pi = sp + 1;
                ti = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|c| *c == '%')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_like_upstream() {
        assert_eq!(paging(None, None), (0, 10));
        assert_eq!(paging(Some("5"), Some("3")), (5, 3));
        assert_eq!(paging(Some("-1"), Some("0")), (0, 1));
        assert_eq!(paging(Some("x"), Some("y")), (0, 10));
        assert_eq!(paging(Some(" 2 "), Some("1000")), (2, 100));
        assert_eq!(paging(Some("99999999999999999999999"), Some("+7")), (0, 7));
    }

    #[test]
    fn quoting() {
        assert_eq!(quote_plus("a b/c~d*"), "a+b%2Fc~d%2A");
        assert_eq!(unquote_plus("a+b%2Bc%zz"), "a b+c%zz");
        let q = Query::parse(Some("limit=2&name=a+b&offset=4&alg=x&name=c"));
        assert_eq!(q.get("name"), Some("c"));
        assert_eq!(q.filters_string(), "name=a+b&name=c&alg=x");
    }

    #[test]
    fn like_patterns() {
        assert!(like("abc", "ABC"));
        assert!(like("a%", "abc"));
        assert!(like("%b%", "abc"));
        assert!(like("a_c", "abc"));
        assert!(!like("a_c", "abbc"));
        assert!(like("a\\%", "a%"));
        assert!(!like("a\\%", "ab"));
        assert!(like("%", ""));
        assert!(!like("x", ""));
    }
}
