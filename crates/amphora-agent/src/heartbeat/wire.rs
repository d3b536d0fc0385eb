//! The heartbeat datagram (design §8.5, domain-facts §3.1): zlib
//! (level 9) of the UTF-8 JSON message, followed by the lowercase hex
//! HMAC-SHA256 of the compressed bytes under `heartbeat_key`. There is no
//! framing byte; the version is inside the JSON (`ver`, 3 here).

use std::collections::BTreeMap;
use std::io::{Read, Write};

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The message version this agent sends (stats are deltas).
pub const MSG_VER: u32 = 3;
/// Receivers read up to this many bytes (upstream's `UDP_MAX_SIZE`).
pub const MAX_DATAGRAM: usize = 64 * 1024;
const HEX_LEN: usize = 64;
const RAW_LEN: usize = 32;

/// One heartbeat, as upstream's `health_daemon.build_stats_message`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub id: String,
    pub seq: u64,
    #[serde(default)]
    pub ver: u32,
    #[serde(default)]
    pub listeners: BTreeMap<String, ListenerReport>,
    /// Keyed `"{pool id}:{listener id}"` (haproxy's backend name).
    #[serde(default)]
    pub pools: BTreeMap<String, PoolReport>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ListenerReport {
    /// haproxy's frontend status: `OPEN` or `FULL`.
    pub status: String,
    #[serde(default)]
    pub stats: Stats,
}

/// Counters since the previous heartbeat (`conns` is the current count).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    #[serde(default)]
    pub tx: u64,
    #[serde(default)]
    pub rx: u64,
    #[serde(default)]
    pub conns: u64,
    #[serde(default)]
    pub totconns: u64,
    #[serde(default)]
    pub ereq: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PoolReport {
    /// haproxy's backend status: `UP` or `DOWN`.
    pub status: String,
    /// Member id → haproxy's server status (`UP`, `DOWN`, `DRAIN`,
    /// `MAINT`, `no check`, with haproxy's suffixes such as `UP 1/3`).
    #[serde(default)]
    pub members: BTreeMap<String, String>,
}

/// Why a datagram was dropped.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WireError {
    #[error("datagram too short for an HMAC")]
    TooShort,
    #[error("HMAC mismatch")]
    BadHmac,
    #[error("payload is not zlib data: {0}")]
    Compression(String),
    #[error("payload is not a heartbeat message: {0}")]
    Json(String),
}

fn mac(key: &str, payload: &[u8]) -> HmacSha256 {
    let mut m =
        <HmacSha256 as KeyInit>::new_from_slice(key.as_bytes()).expect("HMAC takes any key length");
    m.update(payload);
    m
}

/// The datagram carrying `msg`.
pub fn wrap(msg: &Message, key: &str) -> Vec<u8> {
    let json = serde_json::to_vec(msg).expect("a message serializes");
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(9));
    z.write_all(&json).expect("writing to a Vec");
    let mut out = z.finish().expect("writing to a Vec");
    let digest = mac(key, &out).finalize().into_bytes();
    for b in digest.iter() {
        out.extend_from_slice(format!("{b:02x}").as_bytes());
    }
    out
}

/// The message in `datagram`, after a constant-time check of its HMAC:
/// the hex digest first, then the raw 32-byte digest older amphorae send.
pub fn unwrap(datagram: &[u8], key: &str) -> Result<Message, WireError> {
    let payload = verified_payload(datagram, key)?;
    let mut json = Vec::new();
    flate2::read::ZlibDecoder::new(payload)
        .take(16 * MAX_DATAGRAM as u64)
        .read_to_end(&mut json)
        .map_err(|e| WireError::Compression(e.to_string()))?;
    serde_json::from_slice(&json).map_err(|e| WireError::Json(e.to_string()))
}

fn verified_payload<'a>(datagram: &'a [u8], key: &str) -> Result<&'a [u8], WireError> {
    if datagram.len() < RAW_LEN {
        return Err(WireError::TooShort);
    }
    if datagram.len() > HEX_LEN {
        let (payload, hex) = datagram.split_at(datagram.len() - HEX_LEN);
        if let Some(digest) = decode_hex(hex)
            && mac(key, payload).verify_slice(&digest).is_ok()
        {
            return Ok(payload);
        }
    }
    let (payload, raw) = datagram.split_at(datagram.len() - RAW_LEN);
    mac(key, payload)
        .verify_slice(raw)
        .map(|()| payload)
        .map_err(|_| WireError::BadHmac)
}

/// Lowercase hex only, as upstream's `hexdigest()` produces.
fn decode_hex(hex: &[u8]) -> Option<Vec<u8>> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    hex.chunks(2)
        .map(|p| Some(nibble(p[0])? << 4 | nibble(*p.get(1)?)?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Message {
        let mut m = Message {
            id: "amp-1".into(),
            seq: 7,
            ver: MSG_VER,
            ..Message::default()
        };
        m.listeners.insert(
            "l1".into(),
            ListenerReport {
                status: "OPEN".into(),
                stats: Stats {
                    tx: 10,
                    rx: 20,
                    conns: 1,
                    totconns: 3,
                    ereq: 0,
                },
            },
        );
        m.pools.insert(
            "p1:l1".into(),
            PoolReport {
                status: "UP".into(),
                members: [("m1".to_string(), "no check".to_string())].into(),
            },
        );
        m
    }

    #[test]
    fn round_trip_with_hex_hmac() {
        let d = wrap(&sample(), "insecure");
        let tail = &d[d.len() - HEX_LEN..];
        assert!(
            tail.iter()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_eq!(unwrap(&d, "insecure").unwrap(), sample());
    }

    #[test]
    fn wrong_key_or_tampering_is_refused() {
        let d = wrap(&sample(), "insecure");
        assert_eq!(unwrap(&d, "other"), Err(WireError::BadHmac));
        let mut t = d.clone();
        t[3] ^= 1;
        assert_eq!(unwrap(&t, "insecure"), Err(WireError::BadHmac));
        assert_eq!(unwrap(&d[..10], "insecure"), Err(WireError::TooShort));
    }

    #[test]
    fn raw_digest_of_old_amphorae_is_accepted() {
        let d = wrap(&sample(), "k");
        let payload = &d[..d.len() - HEX_LEN];
        let mut old = payload.to_vec();
        old.extend_from_slice(&mac("k", payload).finalize().into_bytes());
        assert_eq!(unwrap(&old, "k").unwrap(), sample());
    }
}
