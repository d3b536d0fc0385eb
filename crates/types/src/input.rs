//! Text no backend can store, found where requests are decoded.
//!
//! PostgreSQL refuses NUL in `text` and `jsonb` (SQLite stores it), so a NUL
//! that reached the store was a 500 on one backend and a row on the other.
//! Requests are checked once, where their path, query and JSON body are
//! decoded, so that both backends refuse the same thing with a 400.

use serde_json::Value;

/// What is wrong with a piece of request text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadText {
    /// Percent-decoded bytes that are not UTF-8.
    InvalidUtf8,
    /// A NUL character.
    Nul,
}

impl BadText {
    pub fn describe(self) -> &'static str {
        match self {
            BadText::InvalidUtf8 => "is not valid UTF-8",
            BadText::Nul => "contains a NUL character",
        }
    }
}

/// Percent-decodes one URL component (a path segment, a query key or value).
/// Malformed escapes stay literal, as the router's own decoding keeps them.
fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
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
    out
}

fn check_decoded(bytes: &[u8]) -> Result<(), BadText> {
    let s = std::str::from_utf8(bytes).map_err(|_| BadText::InvalidUtf8)?;
    if s.contains('\0') {
        return Err(BadText::Nul);
    }
    Ok(())
}

/// Checks every segment of a URL path as it will be decoded.
pub fn check_path(path: &str) -> Result<(), BadText> {
    path.split('/')
        .try_for_each(|seg| check_decoded(&percent_decode(seg)))
}

/// Checks every key and value of a URL query string.
pub fn check_query(query: &str) -> Result<(), BadText> {
    query
        .split('&')
        .flat_map(|pair| pair.split('='))
        .try_for_each(|part| check_decoded(&percent_decode(part)))
}

/// Checks a request URL's path and query; the error names the bad part
/// ("a path segment is not valid UTF-8").
pub fn check_url(path: &str, query: Option<&str>) -> Result<(), String> {
    check_path(path).map_err(|b| format!("a path segment {}", b.describe()))?;
    check_query(query.unwrap_or("")).map_err(|b| format!("a query parameter {}", b.describe()))
}

/// The path (keys and array indexes) to the first string in `v`, key or
/// value, that contains a NUL; `None` when there is none.
pub fn find_nul(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::String(s) if s.contains('\0') => Some(Vec::new()),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
            find_nul(item).map(|mut p| {
                p.insert(0, i.to_string());
                p
            })
        }),
        Value::Object(m) => m.iter().find_map(|(k, item)| {
            if k.contains('\0') {
                return Some(vec![k.clone()]);
            }
            find_nul(item).map(|mut p| {
                p.insert(0, k.clone());
                p
            })
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_and_queries() {
        assert_eq!(check_path("/v2.0/networks/abc"), Ok(()));
        assert_eq!(check_path("/v2.0/networks/%ff"), Err(BadText::InvalidUtf8));
        assert_eq!(check_path("/v2.0/networks/a%00"), Err(BadText::Nul));
        assert_eq!(check_path("/v2.0/networks/%zz%"), Ok(()));
        assert_eq!(check_path("/v2.0/networks/%C3%A9"), Ok(()));
        assert_eq!(check_query("name=a%00b&x=1"), Err(BadText::Nul));
        assert_eq!(check_query("na%c3me=x"), Err(BadText::InvalidUtf8));
        assert_eq!(check_query("name=%E2%82%AC&limit=1"), Ok(()));
    }

    #[test]
    fn nul_anywhere_in_json() {
        assert_eq!(find_nul(&json!({"a": [1, "x"]})), None);
        assert_eq!(
            find_nul(&json!({"port": {"fixed_ips": [{"ip_address": "1\u{0}"}]}})),
            Some(vec![
                "port".into(),
                "fixed_ips".into(),
                "0".into(),
                "ip_address".into()
            ])
        );
        assert_eq!(
            find_nul(&json!({"quota": {"k\u{0}": 1}})),
            Some(vec!["quota".into(), "k\u{0}".into()])
        );
    }
}
