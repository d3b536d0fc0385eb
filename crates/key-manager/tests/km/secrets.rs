//! Secrets: one- and two-step create, metadata, payload negotiation,
//! list with paging and filters, delete, and every refusal with its body
//! and nothing stored.

use serde_json::{Value, json};

use crate::support::{
    Cloud, PUBLIC, SECRETS, backends, barbican_error, call, delete, exec, get, id_of, post,
};

const V1_1: (&str, &str) = ("openstack-api-version", "key-manager 1.1");

#[tokio::test]
async fn one_step_text_secret() {
    for cloud in backends().await {
        let b = cloud.backend;
        let a = post(
            &cloud.km,
            SECRETS,
            &cloud.alice,
            json!({"name": "  db password ", "payload": "  s3cr3t\n",
                "payload_content_type": "text/plain", "algorithm": "aes", "bit_length": 256,
                "mode": "cbc", "secret_type": "passphrase",
                "expiration": "2999-01-02T03:04:05+01:00"}),
        )
        .await;
        assert_eq!(a.status, 201, "{b}: {}", a.body);
        let r = a.body["secret_ref"].as_str().unwrap().to_string();
        assert!(r.starts_with(&format!("{PUBLIC}/v1/secrets/")), "{r}");
        assert_eq!(a.header("location"), Some(r.as_str()));
        assert_eq!(a.body, json!({"secret_ref": r}));
        let path = cloud.path(&r);

        // Metadata: at 1.0 without consumers, at 1.1 with them.
        let m = get(&cloud.km, &path, &cloud.alice).await;
        assert_eq!(m.status, 200);
        let created = m.body["created"].as_str().unwrap().to_string();
        assert_eq!(
            m.body,
            json!({"created": created, "updated": created, "status": "ACTIVE",
                "name": "db password", "secret_type": "passphrase",
                "expiration": "2999-01-02T02:04:05", "algorithm": "aes", "bit_length": 256,
                "mode": "cbc", "creator_id": cloud.alice_id,
                "content_types": {"default": "text/plain"}, "secret_ref": r})
        );
        // Python's isoformat of a naive UTC time with microseconds.
        assert_eq!(
            created.len(),
            "2026-12-03T10:11:12.123456".len(),
            "{created}"
        );
        let m = call(
            &cloud.km,
            "GET",
            &path,
            Some(&cloud.alice),
            &[V1_1],
            Vec::new(),
        )
        .await;
        assert_eq!(m.body["consumers"], json!([]));

        // The payload, stripped as upstream strips every string.
        let p = call(
            &cloud.km,
            "GET",
            &format!("{path}/payload"),
            Some(&cloud.alice),
            &[("accept", "text/plain")],
            Vec::new(),
        )
        .await;
        assert_eq!(p.status, 200);
        assert_eq!(p.bytes, b"s3cr3t");
        assert_eq!(p.header("content-type"), Some("text/plain; charset=UTF-8"));
        // No Accept: octet-stream; */*: the stored type.
        let p = call(
            &cloud.km,
            "GET",
            &format!("{path}/payload"),
            Some(&cloud.alice),
            &[],
            Vec::new(),
        )
        .await;
        assert_eq!(
            (p.status.as_u16(), p.bytes.as_slice()),
            (200, &b"s3cr3t"[..])
        );
        assert_eq!(p.header("content-type"), Some("application/octet-stream"));
        // The deprecated form: GET on the secret with a non-JSON Accept.
        let p = call(
            &cloud.km,
            "GET",
            &path,
            Some(&cloud.alice),
            &[("accept", "text/plain")],
            Vec::new(),
        )
        .await;
        assert_eq!(
            (p.status.as_u16(), p.bytes.as_slice()),
            (200, &b"s3cr3t"[..])
        );
        let p = call(
            &cloud.km,
            "GET",
            &format!("{path}/payload/"),
            Some(&cloud.alice),
            &[("accept", "*/*")],
            Vec::new(),
        )
        .await;
        assert_eq!(
            (p.status.as_u16(), p.bytes.as_slice()),
            (200, &b"s3cr3t"[..])
        );
        // A type upstream cannot answer in.
        let p = call(
            &cloud.km,
            "GET",
            &format!("{path}/payload"),
            Some(&cloud.alice),
            &[("accept", "application/json")],
            Vec::new(),
        )
        .await;
        barbican_error(
            &p,
            406,
            Some("Secret payload retrieval issue seen - Wrong payload content-type."),
        );
        let p = call(
            &cloud.km,
            "POST",
            &format!("{path}/payload"),
            Some(&cloud.alice),
            &[],
            Vec::new(),
        )
        .await;
        barbican_error(&p, 405, None);
        let p = call(
            &cloud.km,
            "POST",
            &path,
            Some(&cloud.alice),
            &[],
            Vec::new(),
        )
        .await;
        barbican_error(&p, 405, None);
        let p = call(
            &cloud.km,
            "PATCH",
            SECRETS,
            Some(&cloud.alice),
            &[],
            Vec::new(),
        )
        .await;
        barbican_error(&p, 405, None);
    }
}

#[tokio::test]
async fn one_step_binary_secret() {
    for cloud in backends().await {
        let bytes: Vec<u8> = vec![0, 159, 146, 150, 255, 10, 13];
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
        let a = post(
            &cloud.km,
            SECRETS,
            &cloud.alice,
            json!({"payload": b64, "payload_content_type": "application/octet-stream",
                "payload_content_encoding": "base64"}),
        )
        .await;
        assert_eq!(a.status, 201, "{}", a.body);
        let path = cloud.path(a.body["secret_ref"].as_str().unwrap());
        let m = get(&cloud.km, &path, &cloud.alice).await;
        assert_eq!(m.body["name"], Value::Null);
        assert_eq!(m.body["secret_type"], "opaque");
        assert_eq!(
            m.body["content_types"],
            json!({"default": "application/octet-stream"})
        );
        let p = call(
            &cloud.km,
            "GET",
            &format!("{path}/payload"),
            Some(&cloud.alice),
            &[("accept", "application/octet-stream")],
            Vec::new(),
        )
        .await;
        assert_eq!(p.bytes, bytes);
        // Not UTF-8: no text answer.
        let p = call(
            &cloud.km,
            "GET",
            &format!("{path}/payload"),
            Some(&cloud.alice),
            &[("accept", "text/plain")],
            Vec::new(),
        )
        .await;
        barbican_error(
            &p,
            406,
            Some("Secret payload retrieval issue seen - Wrong payload content-type."),
        );
        // pkcs8 is a binary type too.
        let a = post(
            &cloud.km,
            SECRETS,
            &cloud.alice,
            json!({"payload": "AAEC", "payload_content_type": "application/pkcs8",
                "payload_content_encoding": "base64", "secret_type": "private"}),
        )
        .await;
        assert_eq!(a.status, 201);
        let p = call(
            &cloud.km,
            "GET",
            &format!(
                "{}/payload",
                cloud.path(a.body["secret_ref"].as_str().unwrap())
            ),
            Some(&cloud.alice),
            &[("accept", "*/*")],
            Vec::new(),
        )
        .await;
        assert_eq!(p.bytes, vec![0, 1, 2]);
        assert_eq!(p.header("content-type"), Some("*/*"));
    }
}

#[tokio::test]
async fn two_step_secret() {
    for cloud in backends().await {
        let b = cloud.backend;
        let a = post(
            &cloud.km,
            SECRETS,
            &cloud.alice,
            json!({"name": "later", "algorithm": "aes", "bit_length": 128}),
        )
        .await;
        assert_eq!(a.status, 201, "{b}: {}", a.body);
        let path = cloud.path(a.body["secret_ref"].as_str().unwrap());
        let m = get(&cloud.km, &path, &cloud.alice).await;
        assert!(m.body.get("content_types").is_none(), "{}", m.body);
        let p = get(&cloud.km, &format!("{path}/payload"), &cloud.alice).await;
        barbican_error(
            &p,
            404,
            Some("Not Found. Sorry but your secret has no payload."),
        );

        // Refusals first: nothing is stored by any of them.
        let put =
            |ct: Option<&'static str>, extra: Vec<(&'static str, &'static str)>, body: Vec<u8>| {
                let km = cloud.km.clone();
                let path = path.clone();
                let token = cloud.alice.clone();
                async move {
                    let mut headers: Vec<(&str, &str)> = extra;
                    if let Some(ct) = ct {
                        headers.push(("content-type", ct));
                    }
                    call(&km, "PUT", &path, Some(&token), &headers, body).await
                }
            };
        let a = put(Some("application/json"), vec![], b"{}".to_vec()).await;
        barbican_error(
            &a,
            415,
            Some(
                "Unexpected content type. Expected content types are: ['application/octet-stream', 'text/plain']",
            ),
        );
        let a = put(None, vec![], b"x".to_vec()).await;
        assert_eq!(a.status, 415);
        let a = put(Some("text/plain"), vec![], Vec::new()).await;
        barbican_error(
            &a,
            400,
            Some("Secret update issue seen - No data supplied to process."),
        );
        let a = put(Some("application/octet-stream"), vec![], vec![b'x'; 20_001]).await;
        barbican_error(
            &a,
            413,
            Some("Secret update issue seen - Provided information too large to process."),
        );
        let a = put(
            Some("application/octet-stream"),
            vec![("content-encoding", "gzip")],
            b"x".to_vec(),
        )
        .await;
        barbican_error(
            &a,
            400,
            Some(
                "Secret update issue seen - Text-based binary secret payloads must specify a content-encoding of 'base64'.",
            ),
        );
        let p = get(&cloud.km, &format!("{path}/payload"), &cloud.alice).await;
        assert_eq!(p.status, 404, "{b}: a refused PUT stored a payload");

        // The payload, exactly 20000 bytes, once.
        let data: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
        let a = put(Some("application/octet-stream"), vec![], data.clone()).await;
        assert_eq!(a.status, 204, "{b}: {}", a.body);
        assert!(a.bytes.is_empty());
        let p = get(&cloud.km, &format!("{path}/payload"), &cloud.alice).await;
        assert_eq!(p.bytes, data);
        let m = get(&cloud.km, &path, &cloud.alice).await;
        assert_eq!(
            m.body["content_types"],
            json!({"default": "application/octet-stream"})
        );
        assert_ne!(m.body["updated"], m.body["created"]);
        let a = put(Some("text/plain"), vec![], b"again".to_vec()).await;
        barbican_error(&a, 409, Some("Secret already has data, cannot modify it."));
        let p = get(&cloud.km, &format!("{path}/payload"), &cloud.alice).await;
        assert_eq!(p.bytes, data, "{b}: the 409 changed the payload");

        // Text, and base64 by Content-Encoding.
        for (ct, enc, body, want, accept) in [
            (
                "text/plain; charset=utf-8",
                None,
                "héllo".as_bytes().to_vec(),
                "héllo".as_bytes().to_vec(),
                "text/plain",
            ),
            (
                "application/octet-stream",
                Some("base64"),
                b"AAEC/w==".to_vec(),
                vec![0, 1, 2, 255],
                "application/octet-stream",
            ),
        ] {
            let a = post(&cloud.km, SECRETS, &cloud.alice, json!({})).await;
            assert_eq!(a.status, 201);
            let path = cloud.path(a.body["secret_ref"].as_str().unwrap());
            let mut headers = vec![("content-type", ct)];
            if let Some(e) = enc {
                headers.push(("content-encoding", e));
            }
            let a = call(&cloud.km, "PUT", &path, Some(&cloud.alice), &headers, body).await;
            assert_eq!(a.status, 204, "{b} {ct}: {}", a.body);
            let p = call(
                &cloud.km,
                "GET",
                &format!("{path}/payload"),
                Some(&cloud.alice),
                &[("accept", accept)],
                Vec::new(),
            )
            .await;
            assert_eq!(p.bytes, want, "{b} {ct}");
        }
    }
}

/// Each bad create and what upstream answers; nothing is stored.
#[tokio::test]
async fn create_refusals() {
    let schema = |reason: &str, property: &str| {
        format!(
            "Provided object does not match schema 'Secret': {reason}. Invalid property: '{property}'"
        )
    };
    let too_big = "x".repeat(20_001);
    let cases: Vec<(Value, u16, String)> = vec![
        (json!([]), 400, schema("[] is not of type 'object'", "None")),
        (
            json!({"name": 5}),
            400,
            schema("5 is not of type 'string', 'null'", "name"),
        ),
        (
            json!({"name": "x".repeat(256)}),
            400,
            schema(&format!("'{}' is too long", "x".repeat(256)), "name"),
        ),
        (
            json!({"bit_length": "x"}),
            400,
            schema("'x' is not of type 'integer'", "bit_length"),
        ),
        (
            json!({"bit_length": 0}),
            400,
            schema("0 is less than the minimum of 1", "bit_length"),
        ),
        (
            json!({"bit_length": 40000}),
            400,
            schema("40000 is greater than the maximum of 32767", "bit_length"),
        ),
        (
            json!({"bit_length": true}),
            400,
            schema("True is not of type 'integer'", "bit_length"),
        ),
        (
            json!({"secret_type": "bogus"}),
            400,
            schema(
                "'bogus' is not one of ['symmetric', 'passphrase', 'private', 'public', 'certificate', 'opaque']",
                "secret_type",
            ),
        ),
        (
            json!({"payload": null, "payload_content_type": "text/plain"}),
            400,
            schema("None is not of type 'string'", "payload"),
        ),
        (
            json!({"payload": "x"}),
            400,
            schema(
                "If 'payload' is supplied, 'payload_content_type' must also be supplied.",
                "payload_content_type",
            ),
        ),
        (
            json!({"payload_content_type": "text/plain"}),
            400,
            schema(
                "payload must be provided when payload_content_type is specified",
                "payload",
            ),
        ),
        (
            json!({"payload": "x", "payload_content_type": "application/json"}),
            400,
            schema(
                "payload_content_type is not one of ['text/plain', 'text/plain;charset=utf-8', \
             'text/plain; charset=utf-8', 'application/octet-stream', 'application/pkcs8']",
                "payload_content_type",
            ),
        ),
        (
            json!({"payload": "x", "payload_content_type": "application/octet-stream"}),
            400,
            schema(
                "payload_content_encoding is not one of ['base64', 'binary']",
                "payload_content_encoding",
            ),
        ),
        (
            json!({"payload": "x", "payload_content_type": "text/plain", "payload_content_encoding": "base64"}),
            400,
            schema(
                "payload_content_encoding is not one of None",
                "payload_content_encoding",
            ),
        ),
        (
            json!({"payload": "x", "payload_content_type": "application/octet-stream",
            "payload_content_encoding": "binary"}),
            400,
            schema(
                "'binary' is not one of ['base64']",
                "payload_content_encoding",
            ),
        ),
        (
            json!({"payload": "   ", "payload_content_type": "text/plain"}),
            400,
            schema("If 'payload' specified, must be non empty", "payload"),
        ),
        (
            json!({"payload": "abc", "payload_content_type": "application/octet-stream",
            "payload_content_encoding": "base64"}),
            400,
            schema("Invalid payload for payload_content_encoding", "payload"),
        ),
        (
            json!({"expiration": "2001-01-01T00:00:00Z"}),
            400,
            schema("'expiration' is before current time", "expiration"),
        ),
        (
            json!({"expiration": "next tuesday"}),
            400,
            schema("Invalid date for 'expiration'", "expiration"),
        ),
        (
            json!({"payload": too_big, "payload_content_type": "text/plain"}),
            413,
            "Provided information too large to process".into(),
        ),
        (
            json!({"name": "a\u{0}b"}),
            400,
            schema("NUL characters are not allowed", "name"),
        ),
        (
            json!({"transport_key_needed": "true"}),
            400,
            "Secret creation issue seen - Secret store supported plugin not found.".into(),
        ),
        (
            json!({"payload": "x", "payload_content_type": "text/plain", "transport_key_id": "k"}),
            400,
            "Secret creation issue seen - Provided transport key was not found.".into(),
        ),
    ];
    for cloud in backends().await {
        let b = cloud.backend;
        for (body, status, description) in &cases {
            let a = post(&cloud.km, SECRETS, &cloud.alice, body.clone()).await;
            assert_eq!(a.status.as_u16(), *status, "{b} {body}: {}", a.body);
            assert_eq!(a.body["description"], json!(description), "{b} {body}");
        }
        // Bodies that are not JSON, or past the 25000 bytes read.
        let a = call(
            &cloud.km,
            "POST",
            SECRETS,
            Some(&cloud.alice),
            &[("content-type", "application/json")],
            b"{".to_vec(),
        )
        .await;
        barbican_error(&a, 400, Some("Malformed JSON"));
        let long = json!({"payload": "x".repeat(30_000), "payload_content_type": "text/plain"});
        let a = post(&cloud.km, SECRETS, &cloud.alice, long).await;
        barbican_error(&a, 400, Some("Malformed JSON"));
        // Not declared as JSON.
        for ct in [None, Some("text/plain")] {
            let headers: Vec<(&str, &str)> =
                ct.map(|c| vec![("content-type", c)]).unwrap_or_default();
            let a = call(
                &cloud.km,
                "POST",
                SECRETS,
                Some(&cloud.alice),
                &headers,
                b"{}".to_vec(),
            )
            .await;
            barbican_error(
                &a,
                415,
                Some("Unexpected content type. Expected content types are: ['application/json']"),
            );
        }
        assert_eq!(
            cloud.secrets_stored().await,
            0,
            "{b}: a refused create stored a secret"
        );
    }
}

async fn names(cloud: &Cloud, query: &str) -> (Vec<String>, Value) {
    let a = get(&cloud.km, &format!("{SECRETS}{query}"), &cloud.alice).await;
    assert_eq!(a.status, 200, "{query}: {}", a.body);
    let names = a.body["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap_or("").to_string())
        .collect();
    (names, a.body)
}

#[tokio::test]
async fn list_pages_and_filters() {
    for cloud in backends().await {
        let b = cloud.backend;
        for (name, alg, bits, kind) in [
            ("alpha-1", "aes", 128, "symmetric"),
            ("alpha-2", "aes", 256, "symmetric"),
            ("beta a+b", "rsa", 2048, "private"),
            ("Gamma", "des", 64, "opaque"),
            ("alpha_3", "AES", 256, "symmetric"),
        ] {
            let a = post(
                &cloud.km,
                SECRETS,
                &cloud.alice,
                json!({"name": name, "algorithm": alg, "bit_length": bits, "secret_type": kind}),
            )
            .await;
            assert_eq!(a.status, 201, "{b}: {}", a.body);
        }
        // Another project's secrets never show.
        cloud.text_secret(&cloud.bob, "alpha-bob", "x").await;

        let (all, body) = names(&cloud, "").await;
        assert_eq!(
            all,
            ["alpha-1", "alpha-2", "beta a+b", "Gamma", "alpha_3"],
            "{b}"
        );
        assert_eq!(body["total"], 5);
        assert!(body.get("next").is_none() && body.get("previous").is_none());

        let (page, body) = names(&cloud, "?limit=2&offset=2").await;
        assert_eq!(page, ["beta a+b", "Gamma"]);
        assert_eq!(body["total"], 5);
        assert_eq!(
            body["previous"],
            format!("{PUBLIC}/v1/secrets?limit=2&offset=0")
        );
        assert_eq!(
            body["next"],
            format!("{PUBLIC}/v1/secrets?limit=2&offset=4")
        );
        // Filters ride along in the links, re-encoded.
        let (page, body) = names(&cloud, "?alg=aes&limit=1&offset=1").await;
        assert_eq!(page, ["alpha-2"]);
        assert_eq!(body["total"], 3);
        assert_eq!(
            body["next"],
            format!("{PUBLIC}/v1/secrets?limit=1&offset=2&alg=aes")
        );
        // Nonsense paging falls back; past the end is an empty page.
        let (page, _) = names(&cloud, "?limit=zero&offset=-4").await;
        assert_eq!(page.len(), 5);
        let (page, body) = names(&cloud, "?offset=10").await;
        assert!(page.is_empty());
        assert_eq!(body, json!({"secrets": [], "total": 5}));

        // name is a LIKE pattern (and decoded twice, as upstream does).
        assert_eq!(
            names(&cloud, "?name=alpha%25").await.0,
            ["alpha-1", "alpha-2", "alpha_3"]
        );
        assert_eq!(names(&cloud, "?name=gamma").await.0, ["Gamma"]);
        assert_eq!(
            names(&cloud, "?name=beta%2520a%252Bb").await.0,
            ["beta a+b"]
        );
        assert_eq!(names(&cloud, "?bits=256").await.0, ["alpha-2", "alpha_3"]);
        assert_eq!(names(&cloud, "?bits=oops").await.0.len(), 5);
        assert_eq!(names(&cloud, "?secret_type=private").await.0, ["beta a+b"]);
        assert_eq!(names(&cloud, "?mode=cbc").await.0.len(), 0);
        assert_eq!(
            names(&cloud, "?acl_only=true").await.1,
            json!({"secrets": [], "total": 0})
        );
        assert_eq!(
            names(&cloud, "?sort=bit_length:desc,name").await.0,
            ["beta a+b", "alpha-2", "alpha_3", "alpha-1", "Gamma"]
        );
        assert_eq!(names(&cloud, "?created=gt:2000-01-01").await.0.len(), 5);
        assert_eq!(names(&cloud, "?created=lt:2000-01-01").await.0.len(), 0);
        for bad in [
            "?sort=payload",
            "?sort=name:up",
            "?created=gt:1,gte:2",
            "?updated=someday",
            "?expiration=gt:2020-01-01,gt:2021-01-01",
        ] {
            let a = get(&cloud.km, &format!("{SECRETS}{bad}"), &cloud.alice).await;
            barbican_error(
                &a,
                400,
                Some("URI provided invalid query string parameters."),
            );
        }
        // Secrets at 1.1 carry consumers.
        let a = call(
            &cloud.km,
            "GET",
            SECRETS,
            Some(&cloud.alice),
            &[V1_1],
            Vec::new(),
        )
        .await;
        assert!(
            a.body["secrets"]
                .as_array()
                .unwrap()
                .iter()
                .all(|s| s["consumers"] == json!([]))
        );
        let a = get(&cloud.km, SECRETS, &cloud.alice).await;
        assert!(
            a.body["secrets"]
                .as_array()
                .unwrap()
                .iter()
                .all(|s| s.get("consumers").is_none())
        );
    }
}

#[tokio::test]
async fn delete_and_expiry() {
    for cloud in backends().await {
        let b = cloud.backend;
        let r = cloud.text_secret(&cloud.alice, "doomed", "x").await;
        let path = cloud.path(&r);
        // A malformed `force` from 1.2 on.
        let a = call(
            &cloud.km,
            "DELETE",
            &format!("{path}?force=maybe"),
            Some(&cloud.alice),
            &[("openstack-api-version", "key-manager 1.2")],
            Vec::new(),
        )
        .await;
        barbican_error(
            &a,
            400,
            Some("URI provided invalid query string parameters."),
        );
        let a = delete(&cloud.km, &path, &cloud.alice).await;
        assert_eq!(a.status, 204, "{b}: {}", a.body);
        barbican_error(
            &get(&cloud.km, &path, &cloud.alice).await,
            404,
            Some("Secret not found."),
        );
        barbican_error(
            &delete(&cloud.km, &path, &cloud.alice).await,
            404,
            Some("Secret not found."),
        );
        barbican_error(
            &get(&cloud.km, &format!("{SECRETS}/not-a-uuid"), &cloud.alice).await,
            404,
            Some("Not Found. Provided secret id is invalid."),
        );
        // A version-1 UUID is no id upstream ever makes.
        barbican_error(
            &get(
                &cloud.km,
                &format!("{SECRETS}/6ba7b810-9dad-11d1-80b4-00c04fd430c8"),
                &cloud.alice,
            )
            .await,
            404,
            Some("Not Found. Provided secret id is invalid."),
        );

        // An expired secret is gone from every read.
        let r = cloud.text_secret(&cloud.alice, "fleeting", "x").await;
        let id = id_of(&json!(r));
        exec(
            &cloud.db,
            &format!(
                "UPDATE km_secrets SET expiration = '2001-01-01T00:00:00.000000' WHERE id = '{id}'"
            ),
        )
        .await;
        barbican_error(
            &get(&cloud.km, &cloud.path(&r), &cloud.alice).await,
            404,
            Some("Secret not found."),
        );
        assert_eq!(names(&cloud, "").await.1["total"], 0, "{b}");
    }
}

#[tokio::test]
async fn readers_and_strangers_are_refused() {
    for cloud in backends().await {
        let b = cloud.backend;
        let a = post(
            &cloud.km,
            SECRETS,
            &cloud.rita,
            json!({"payload": "x", "payload_content_type": "text/plain"}),
        )
        .await;
        barbican_error(
            &a,
            403,
            Some(
                "Secret creation attempt not allowed - please review your user/project privileges",
            ),
        );
        // Policy is checked before the body is even read.
        let a = call(
            &cloud.km,
            "POST",
            SECRETS,
            Some(&cloud.rita),
            &[],
            b"junk".to_vec(),
        )
        .await;
        assert_eq!(a.status, 403);
        let a = get(&cloud.km, SECRETS, &cloud.rita).await;
        barbican_error(
            &a,
            403,
            Some(
                "Secret(s) retrieval attempt not allowed - please review your user/project privileges",
            ),
        );
        assert_eq!(cloud.secrets_stored().await, 0, "{b}");

        let r = cloud.text_secret(&cloud.alice, "mine", "x").await;
        let path = cloud.path(&r);
        for (method, p, description) in [
            ("GET", path.clone(), "Secret retrieval"),
            ("GET", format!("{path}/payload"), "Secret payload retrieval"),
            ("PUT", path.clone(), "Secret update"),
            ("DELETE", path.clone(), "Secret deletion"),
        ] {
            let a = call(
                &cloud.km,
                method,
                &p,
                Some(&cloud.rita),
                &[("content-type", "text/plain")],
                b"x".to_vec(),
            )
            .await;
            barbican_error(
                &a,
                403,
                Some(&format!(
                    "{description} attempt not allowed - please review your user/project privileges"
                )),
            );
        }
        assert_eq!(cloud.secrets_stored().await, 1, "{b}");
    }
}
