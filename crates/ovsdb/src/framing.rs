//! Splits the byte stream into JSON-RPC messages.
//!
//! OVSDB peers send JSON objects back to back with no delimiter. A cheap scanner tracks
//! nesting (outside strings) to find where complete top-level values end, so a large
//! message arriving in many reads is parsed once, not once per read; the complete prefix
//! is then parsed with serde_json's streaming deserializer.

use serde_json::Value as Json;

use crate::error::Error;

#[derive(Debug, Default)]
pub(crate) struct Framer {
    buf: Vec<u8>,
    /// Bytes of `buf` already scanned.
    scanned: usize,
    /// End of the last complete top-level value in `buf`.
    complete: usize,
    depth: usize,
    in_string: bool,
    escaped: bool,
}

impl Framer {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Bytes buffered but not yet returned as messages.
    #[cfg(test)]
    pub(crate) fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Appends received bytes and returns the messages they complete (possibly none).
    pub(crate) fn push(&mut self, data: &[u8]) -> Result<Vec<Json>, Error> {
        self.buf.extend_from_slice(data);
        self.scan()?;
        if self.complete == 0 {
            return Ok(Vec::new());
        }
        let mut messages = Vec::new();
        let stream =
            serde_json::Deserializer::from_slice(&self.buf[..self.complete]).into_iter::<Json>();
        for message in stream {
            messages.push(message.map_err(|e| Error::Protocol(format!("invalid JSON: {e}")))?);
        }
        self.buf.drain(..self.complete);
        self.scanned -= self.complete;
        self.complete = 0;
        Ok(messages)
    }

    fn scan(&mut self) -> Result<(), Error> {
        for (i, &b) in self.buf.iter().enumerate().skip(self.scanned) {
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_string = false;
                }
                continue;
            }
            match b {
                b'"' if self.depth > 0 => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' if self.depth > 0 => {
                    self.depth -= 1;
                    if self.depth == 0 {
                        self.complete = i + 1;
                    }
                }
                b' ' | b'\t' | b'\r' | b'\n' => {}
                _ if self.depth > 0 => {}
                _ => {
                    return Err(Error::Protocol(format!(
                        "unexpected byte {:?} between JSON-RPC messages",
                        char::from(b)
                    )));
                }
            }
        }
        self.scanned = self.buf.len();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn splits_back_to_back_objects_across_reads() {
        let text = br#"{"id":1,"result":{"a":"}{\"]"},"error":null}  {"id":null,"method":"update2","params":["m",{"T":{}}]}
{"id":"echo","method":"echo","params":[]}"#;
        // Every split point gives the same messages.
        for cut in 0..text.len() {
            let mut f = Framer::new();
            let mut all = f.push(&text[..cut]).unwrap();
            all.extend(f.push(&text[cut..]).unwrap());
            assert_eq!(all.len(), 3, "cut at {cut}");
            assert_eq!(all[0]["result"]["a"], json!("}{\"]"));
            assert_eq!(all[2]["id"], json!("echo"));
            assert_eq!(f.buffered(), 0);
        }
        // Byte by byte.
        let mut f = Framer::new();
        let n: usize = text.iter().map(|b| f.push(&[*b]).unwrap().len()).sum();
        assert_eq!(n, 3);
    }

    #[test]
    fn keeps_a_partial_message_and_handles_utf8() {
        let mut f = Framer::new();
        let msg = "{\"s\":\"é→ü\"}".as_bytes();
        assert!(f.push(&msg[..8]).unwrap().is_empty());
        assert_eq!(f.buffered(), 8);
        assert_eq!(f.push(&msg[8..]).unwrap(), vec![json!({"s": "é→ü"})]);
    }

    #[test]
    fn rejects_garbage() {
        assert!(Framer::new().push(b"42 ").is_err());
        assert!(Framer::new().push(b"{\"a\":tru}").is_err());
        assert!(Framer::new().push(b"]").is_err());
    }
}
