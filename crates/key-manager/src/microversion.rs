//! `OpenStack-API-Version: key-manager X.Y` (microversion_parse's
//! middleware, with barbican's versions 1.0 to 1.2). No header means the
//! minimum; `latest` the maximum. Every answer says which version it is.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::json;

use crate::fault::json_response;

pub const SERVICE_TYPE: &str = "key-manager";
const HEADER: &str = "openstack-api-version";
/// Minor versions of 1.x, oldest first.
pub const MIN_MINOR: u32 = 0;
pub const MAX_MINOR: u32 = 2;

/// The request's microversion (1.minor).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Microversion(pub u32);

impl Microversion {
    pub fn at_least(self, minor: u32) -> bool {
        self.0 >= minor
    }
}

/// Why a requested version was refused: 400 for an unparseable one, 406
/// for one outside the range.
#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    Malformed(String),
    Unacceptable(String),
}

/// The value for our service in the standard header, the last one
/// naming it winning (as microversion_parse reads folded headers).
fn requested(headers: &HeaderMap) -> Option<String> {
    let folded: Vec<&str> = headers
        .get_all(HEADER)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let folded = folded.join(",");
    folded.split(',').rev().find_map(|part| {
        let mut it = part.split_whitespace();
        let service = it.next()?;
        let version: Vec<&str> = it.collect();
        (service.eq_ignore_ascii_case(SERVICE_TYPE) && !version.is_empty())
            .then(|| version.join(" "))
    })
}

fn parse(headers: &HeaderMap) -> Result<Microversion, Refusal> {
    let Some(v) = requested(headers) else {
        return Ok(Microversion(MIN_MINOR));
    };
    if v == "latest" {
        return Ok(Microversion(MAX_MINOR));
    }
    // `X.Y` with integer parts (Python's int() tolerates surrounding
    // blanks); `1.02` is 1.2.
    let malformed = || Refusal::Malformed(format!("invalid version string: {v}"));
    let (major, minor) = v.split_once('.').ok_or_else(malformed)?;
    let major: i64 = major.trim().parse().map_err(|_| malformed())?;
    let minor: i64 = minor.trim().parse().map_err(|_| malformed())?;
    if major == 1 && (MIN_MINOR as i64..=MAX_MINOR as i64).contains(&minor) {
        Ok(Microversion(minor as u32))
    } else {
        Err(Refusal::Unacceptable(format!(
            "Unacceptable version header: {v}"
        )))
    }
}

fn version_header(v: Microversion) -> HeaderValue {
    HeaderValue::from_str(&format!("{SERVICE_TYPE} 1.{}", v.0))
        .unwrap_or_else(|_| HeaderValue::from_static("key-manager 1.0"))
}

pub async fn negotiate(mut req: Request, next: Next) -> Response {
    let v = match parse(req.headers()) {
        Ok(v) => v,
        Err(refusal) => return refused(req.headers(), refusal),
    };
    req.extensions_mut().insert(v);
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.append(HEADER, version_header(v));
    h.append(
        header::VARY,
        HeaderValue::from_static("OpenStack-API-Version"),
    );
    resp
}

/// webob's JSON rendering of the middleware's HTTPBadRequest /
/// HTTPNotAcceptable (these never reach barbican's JSON error hook).
fn refused(headers: &HeaderMap, refusal: Refusal) -> Response {
    let (status, message) = match refusal {
        Refusal::Malformed(why) => (
            StatusCode::BAD_REQUEST,
            format!(
                "The server could not comply with the request since\nit is either malformed \
                 or otherwise incorrect.<br /><br />\nInvalid microversion: {why}\n\n"
            ),
        ),
        Refusal::Unacceptable(why) => {
            let accept = headers
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            (
                StatusCode::NOT_ACCEPTABLE,
                format!(
                    "The resource could not be generated that was acceptable to your browser\n\
                     (content of type {accept}. <br /><br />\nInvalid microversion: {why}"
                ),
            )
        }
    };
    let code = format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    json_response(
        status,
        &json!({"message": message, "code": code,
            "title": status.canonical_reason().unwrap_or("")}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(HEADER, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn versions() {
        assert_eq!(parse(&HeaderMap::new()), Ok(Microversion(0)));
        assert_eq!(parse(&with("key-manager 1.1")), Ok(Microversion(1)));
        assert_eq!(parse(&with("Key-Manager latest")), Ok(Microversion(2)));
        assert_eq!(
            parse(&with("compute 2.5, key-manager 1.02")),
            Ok(Microversion(2))
        );
        assert_eq!(parse(&with("compute 2.5")), Ok(Microversion(0)));
        assert!(matches!(
            parse(&with("key-manager 1.3")),
            Err(Refusal::Unacceptable(_))
        ));
        assert!(matches!(
            parse(&with("key-manager 2.0")),
            Err(Refusal::Unacceptable(_))
        ));
        assert!(matches!(
            parse(&with("key-manager 1")),
            Err(Refusal::Malformed(_))
        ));
        assert!(matches!(
            parse(&with("key-manager one.1")),
            Err(Refusal::Malformed(_))
        ));
    }
}
