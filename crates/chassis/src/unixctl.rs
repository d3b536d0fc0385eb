//! The control socket of the OVS/OVN daemons (what `ovs-appctl` talks to):
//! JSON-RPC 1.0 over a unix socket. Blocking on purpose: it is used on the
//! way out, also from `Drop`, where no runtime may be left to poll.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

/// Why a call failed.
#[derive(Debug)]
pub enum CallError {
    /// The request never reached the daemon.
    NotSent(String),
    /// It was sent, but no good reply came (a daemon told to exit may
    /// close the socket without one).
    NoReply(String),
    /// The daemon answered with an error.
    Failed(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::NotSent(e) => write!(f, "not sent: {e}"),
            CallError::NoReply(e) => write!(f, "no reply: {e}"),
            CallError::Failed(e) => write!(f, "failed: {e}"),
        }
    }
}

/// Calls `method` with string `params`; returns the result.
pub fn call(
    path: &Path,
    method: &str,
    params: &[&str],
    timeout: Duration,
) -> Result<Value, CallError> {
    let not_sent = |e: std::io::Error| CallError::NotSent(format!("{}: {e}", path.display()));
    let mut sock = UnixStream::connect(path).map_err(not_sent)?;
    sock.set_read_timeout(Some(timeout)).map_err(not_sent)?;
    sock.set_write_timeout(Some(timeout)).map_err(not_sent)?;
    let request = json!({"id": 0, "method": method, "params": params});
    sock.write_all(request.to_string().as_bytes())
        .map_err(not_sent)?;
    read_reply(&mut sock).map_err(CallError::NoReply)?
}

fn read_reply(sock: &mut UnixStream) -> Result<Result<Value, CallError>, String> {
    // The reply is one JSON object, not delimited: read until it parses.
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = sock.read(&mut chunk).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("connection closed before a reply".into());
        }
        buf.extend_from_slice(&chunk[..n]);
        match serde_json::from_slice::<Value>(&buf) {
            Ok(reply) => {
                return Ok(match reply.get("error") {
                    Some(e) if !e.is_null() => {
                        Err(CallError::Failed(e.as_str().unwrap_or("error").to_string()))
                    }
                    _ => Ok(reply.get("result").cloned().unwrap_or(Value::Null)),
                });
            }
            Err(e) if e.is_eof() => continue,
            Err(e) => return Err(format!("bad reply: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    #[test]
    fn a_reply_split_across_reads_is_assembled() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.ctl");
        let listener = UnixListener::bind(&path).unwrap();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 256];
            let n = s.read(&mut buf).unwrap();
            let req: Value = serde_json::from_slice(&buf[..n]).unwrap();
            assert_eq!(req["method"], "version");
            s.write_all(br#"{"id":0,"result":"ovs-vs"#).unwrap();
            std::thread::sleep(Duration::from_millis(20));
            s.write_all(br#"witchd 3.1","error":null}"#).unwrap();
        });
        let r = call(&path, "version", &[], Duration::from_secs(2)).unwrap();
        assert_eq!(r, "ovs-vswitchd 3.1");
        server.join().unwrap();
    }
}
