//! A scripted server, for what a real ovsdb-server does not do on demand: split and
//! coalesced writes, server-initiated echo requests in the middle of replies, garbage.

use std::time::Duration;

use neutrino_ovsdb::{Connection, Endpoint, Error};
use serde_json::{Value as Json, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};

use crate::{WAIT, init_tracing};

struct Peer {
    stream: UnixStream,
    buf: Vec<u8>,
}

impl Peer {
    async fn read_message(&mut self) -> Json {
        loop {
            let mut stream = serde_json::Deserializer::from_slice(&self.buf).into_iter::<Json>();
            match stream.next() {
                Some(Ok(v)) => {
                    let used = stream.byte_offset();
                    self.buf.drain(..used);
                    return v;
                }
                Some(Err(e)) if e.is_eof() => {}
                None => {}
                Some(Err(e)) => panic!("client sent invalid JSON: {e}"),
            }
            let mut chunk = [0u8; 4096];
            let n = tokio::time::timeout(WAIT, self.stream.read(&mut chunk))
                .await
                .expect("a message")
                .unwrap();
            assert!(n > 0, "client closed the connection");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

async fn pair() -> anyhow::Result<(tempfile::TempDir, Connection, Peer)> {
    init_tracing();
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("fake.sock");
    let listener = UnixListener::bind(&path)?;
    let ep = Endpoint::unix(&path);
    let (conn, accepted) = tokio::join!(Connection::connect(&ep), listener.accept());
    Ok((
        dir,
        conn?,
        Peer {
            stream: accepted?.0,
            buf: Vec::new(),
        },
    ))
}

#[tokio::test]
async fn demultiplexes_split_and_coalesced_replies_and_answers_echo() -> anyhow::Result<()> {
    let (_dir, conn, mut peer) = pair().await?;
    let mut updates = conn.updates();
    let c1 = conn.clone();
    let c2 = conn.clone();
    let first = tokio::spawn(async move { c1.list_dbs().await });
    let second = tokio::spawn(async move { c2.call("get_schema", json!(["X"])).await });
    let (a, b) = (peer.read_message().await, peer.read_message().await);
    let (list, schema) = if a["method"] == "list_dbs" {
        (a, b)
    } else {
        (b, a)
    };
    assert_eq!(schema["params"], json!(["X"]));

    // The second reply, a server echo request, a notification and half the first reply in
    // one write; the rest of the first reply byte by byte.
    let reply_list = json!({"id": list["id"], "result": ["A", "B"], "error": null}).to_string();
    let coalesced = format!(
        "{}\n{}{}{}",
        json!({"id": schema["id"], "result": null, "error": {"error": "unknown database", "details": "X"}}),
        json!({"id": "probe-1", "method": "echo", "params": [1, "x"]}),
        json!({"id": null, "method": "update2", "params": ["m", {"T": {"f828a3f9-5562-4674-b3bd-cee5dd3791f8": {"insert": {"n": 1}}}}]}),
        &reply_list[..5],
    );
    peer.stream.write_all(coalesced.as_bytes()).await?;
    for b in reply_list[5..].bytes() {
        peer.stream.write_all(&[b]).await?;
        peer.stream.flush().await?;
    }

    assert_eq!(first.await??, ["A", "B"]);
    match second.await? {
        Err(Error::Rpc { error, details }) => {
            assert_eq!(error, "unknown database");
            assert_eq!(details.as_deref(), Some("X"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        peer.read_message().await,
        json!({"id": "probe-1", "result": [1, "x"], "error": null})
    );
    let (id, update) = tokio::time::timeout(WAIT, updates.recv())
        .await?
        .expect("an update");
    assert_eq!(id, json!("m"));
    assert_eq!(update.len(), 1);
    Ok(())
}

#[tokio::test]
async fn garbage_closes_the_connection_and_fails_pending_requests() -> anyhow::Result<()> {
    let (_dir, conn, mut peer) = pair().await?;
    let mut updates = conn.updates();
    let c = conn.clone();
    let pending = tokio::spawn(async move { c.echo().await });
    peer.read_message().await;
    peer.stream.write_all(b"42 ").await?;
    let result = tokio::time::timeout(WAIT, pending).await??;
    assert!(matches!(result, Err(Error::Disconnected)), "{result:?}");
    tokio::time::timeout(WAIT, conn.closed()).await?;
    assert!(
        tokio::time::timeout(WAIT, updates.recv()).await?.is_none(),
        "update receivers end"
    );
    assert!(matches!(conn.list_dbs().await, Err(Error::Disconnected)));
    Ok(())
}

#[tokio::test]
async fn dropping_the_last_clone_closes_the_socket() -> anyhow::Result<()> {
    let (_dir, conn, mut peer) = pair().await?;
    let clone = conn.clone();
    drop(conn);
    drop(clone);
    let mut byte = [0u8; 1];
    let n = tokio::time::timeout(Duration::from_secs(5), peer.stream.read(&mut byte)).await??;
    assert_eq!(n, 0, "the client side closed");
    Ok(())
}
