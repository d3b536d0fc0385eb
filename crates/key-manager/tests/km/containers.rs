//! Containers: the three types, their rules for secret names, list,
//! show, delete, and what deleting a named secret does.

use serde_json::{Value, json};

use crate::support::{
    CONTAINERS, PUBLIC, backends, barbican_error, call, delete, get, id_of, post,
};

fn refs(pairs: &[(&str, &str)]) -> Value {
    Value::Array(
        pairs
            .iter()
            .map(|(n, r)| json!({"name": n, "secret_ref": r}))
            .collect(),
    )
}

#[tokio::test]
async fn certificate_container_lifecycle() {
    for cloud in backends().await {
        let b = cloud.backend;
        let cert = cloud.text_secret(&cloud.alice, "cert", "CERT").await;
        let key = cloud.text_secret(&cloud.alice, "key", "KEY").await;
        let chain = cloud.text_secret(&cloud.alice, "chain", "CHAIN").await;
        let a = post(&cloud.km, CONTAINERS, &cloud.alice, json!({
            "name": " web ", "type": "certificate",
            "secret_refs": refs(&[("certificate", &cert), ("private_key", &key), ("intermediates", &chain)]),
        })).await;
        assert_eq!(a.status, 201, "{b}: {}", a.body);
        let r = a.body["container_ref"].as_str().unwrap().to_string();
        assert!(r.starts_with(&format!("{PUBLIC}/v1/containers/")));
        assert_eq!(a.header("location"), Some(r.as_str()));
        let path = cloud.path(&r);

        let s = get(&cloud.km, &path, &cloud.alice).await;
        assert_eq!(s.status, 200, "{b}: {}", s.body);
        let created = s.body["created"].as_str().unwrap().to_string();
        assert_eq!(
            s.body,
            json!({"created": created, "updated": created, "status": "ACTIVE", "name": "web",
                "type": "certificate", "creator_id": cloud.alice_id,
                "secret_refs": [
                    {"name": "certificate", "secret_ref": cert},
                    {"name": "private_key", "secret_ref": key},
                    {"name": "intermediates", "secret_ref": chain}],
                "consumers": [], "container_ref": r})
        );

        let l = get(&cloud.km, CONTAINERS, &cloud.alice).await;
        assert_eq!(l.body["total"], 1);
        assert_eq!(l.body["containers"][0], s.body);

        // Deleting a named secret takes it out of the container.
        assert_eq!(
            delete(&cloud.km, &cloud.path(&chain), &cloud.alice)
                .await
                .status,
            204
        );
        let s = get(&cloud.km, &path, &cloud.alice).await;
        assert_eq!(s.body["secret_refs"].as_array().unwrap().len(), 2, "{b}");

        barbican_error(
            &call(&cloud.km, "PUT", &path, Some(&cloud.alice), &[], Vec::new()).await,
            405,
            None,
        );
        barbican_error(
            &get(&cloud.km, &format!("{path}/consumers"), &cloud.alice).await,
            404,
            None,
        );
        assert_eq!(delete(&cloud.km, &path, &cloud.alice).await.status, 204);
        barbican_error(
            &get(&cloud.km, &path, &cloud.alice).await,
            404,
            Some("Secrets container not found."),
        );
        barbican_error(
            &delete(&cloud.km, &path, &cloud.alice).await,
            404,
            Some("Secrets container not found."),
        );
        // Its secrets stay.
        assert_eq!(
            get(&cloud.km, &cloud.path(&cert), &cloud.alice)
                .await
                .status,
            200
        );
        barbican_error(
            &get(&cloud.km, &format!("{CONTAINERS}/nope"), &cloud.alice).await,
            404,
            Some("Not Found. Provided container id is invalid."),
        );
    }
}

#[tokio::test]
async fn generic_and_rsa_containers_and_listing() {
    for cloud in backends().await {
        let b = cloud.backend;
        let s1 = cloud.text_secret(&cloud.alice, "one", "1").await;
        let s2 = cloud.text_secret(&cloud.alice, "two", "2").await;
        for (name, kind, secret_refs) in [
            ("empty", "generic", json!([])),
            (
                "anything",
                "generic",
                refs(&[("whatever", &s1), ("else", &s2)]),
            ),
            (
                "keys",
                "rsa",
                refs(&[("public_key", &s1), ("private_key", &s2)]),
            ),
            ("bare cert", "certificate", json!([])),
        ] {
            let a = post(
                &cloud.km,
                CONTAINERS,
                &cloud.alice,
                json!({"name": name, "type": kind, "secret_refs": secret_refs}),
            )
            .await;
            assert_eq!(a.status, 201, "{b} {name}: {}", a.body);
        }
        // No secret_refs at all, no name.
        let a = post(
            &cloud.km,
            CONTAINERS,
            &cloud.alice,
            json!({"type": "generic"}),
        )
        .await;
        assert_eq!(a.status, 201);
        let unnamed = get(
            &cloud.km,
            &cloud.path(a.body["container_ref"].as_str().unwrap()),
            &cloud.alice,
        )
        .await;
        assert_eq!(unnamed.body["name"], Value::Null);
        assert_eq!(unnamed.body["secret_refs"], json!([]));

        let l = get(
            &cloud.km,
            &format!("{CONTAINERS}?limit=2&offset=1"),
            &cloud.alice,
        )
        .await;
        assert_eq!(l.body["total"], 5);
        let names: Vec<&str> = l.body["containers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["anything", "keys"]);
        assert_eq!(
            l.body["previous"],
            format!("{PUBLIC}/v1/containers?limit=2&offset=0")
        );
        assert_eq!(
            l.body["next"],
            format!("{PUBLIC}/v1/containers?limit=2&offset=3")
        );
        let l = get(
            &cloud.km,
            &format!("{CONTAINERS}?type=generic&name=%25y%25"),
            &cloud.alice,
        )
        .await;
        assert_eq!(l.body["total"], 2, "{b}: {}", l.body);
        let l = get(&cloud.km, &format!("{CONTAINERS}?type=rsa"), &cloud.alice).await;
        assert_eq!(
            l.body["containers"][0]["secret_refs"][0]["name"],
            "public_key"
        );
        let l = get(&cloud.km, &format!("{CONTAINERS}?offset=9"), &cloud.alice).await;
        assert_eq!(l.body, json!({"containers": [], "total": 5}));
        // bob sees none of them.
        assert_eq!(
            get(&cloud.km, CONTAINERS, &cloud.bob).await.body,
            json!({"containers": [], "total": 0})
        );
    }
}

/// Each bad create and upstream's answer; nothing is stored.
#[tokio::test]
async fn create_refusals() {
    let schema = |reason: &str, property: &str| {
        format!(
            "Provided object does not match schema 'Container': {reason}. Invalid property: '{property}'"
        )
    };
    for cloud in backends().await {
        let b = cloud.backend;
        let s1 = cloud.text_secret(&cloud.alice, "one", "1").await;
        let s2 = cloud.text_secret(&cloud.alice, "two", "2").await;
        let theirs = cloud.text_secret(&cloud.bob, "bobs", "3").await;
        let missing = format!(
            "{PUBLIC}/v1/secrets/{}",
            "0f5d2b8e-3c0a-4d5e-9f1a-2b3c4d5e6f70"
        );
        let foreign = format!("http://evil.example/v1/secrets/{}", id_of(&json!(s1)));
        let cases: Vec<(Value, u16, String)> = vec![
            (
                json!({"name": "x"}),
                400,
                schema("'type' is a required property", "None"),
            ),
            (
                json!({"type": "dsa"}),
                400,
                schema(
                    "'dsa' is not one of ['generic', 'rsa', 'certificate']",
                    "type",
                ),
            ),
            (
                json!({"type": 7}),
                400,
                schema("7 is not of type 'string'", "type"),
            ),
            (
                json!({"type": "generic", "secret_refs": {}}),
                400,
                schema("{} is not of type 'array'", "secret_refs"),
            ),
            (
                json!({"type": "generic", "secret_refs": [{"name": "a"}]}),
                400,
                schema("'secret_ref' is a required property", "secret_refs"),
            ),
            (
                json!({"type": "generic", "secret_refs": [{"name": "a", "secret_ref": ""}]}),
                400,
                schema("'' should be non-empty", "secret_refs"),
            ),
            (
                json!({"type": "certificate", "secret_refs": refs(&[("private_key", &s1)])}),
                400,
                schema(
                    "The minimum required reference name is 'certificate' for Certificate type",
                    "secret_refs",
                ),
            ),
            (
                json!({"type": "certificate", "secret_refs": refs(&[("certificate", &s1), ("chain", &s2)])}),
                400,
                schema(
                    "only 'private_key', 'certificate' , 'private_key_passphrase',  or 'intermediates' \
                        reference names are allowed for Certificate type",
                    "secret_refs",
                ),
            ),
            (
                json!({"type": "rsa", "secret_refs": refs(&[("private_key", &s1)])}),
                400,
                schema(
                    "The minimum required reference names are 'public_key' and'private_key' for RSA type",
                    "secret_refs",
                ),
            ),
            (
                json!({"type": "rsa", "secret_refs": refs(&[("private_key", &s1), ("certificate", &s2)])}),
                400,
                schema(
                    "only 'private_key', 'public_key' and 'private_key_passphrase' reference names \
                        are allowed for RSA type",
                    "secret_refs",
                ),
            ),
            (
                json!({"type": "generic", "secret_refs": refs(&[("a", &s1), ("a", &s2)])}),
                400,
                schema("Duplicate reference names are not allowed", "secret_refs"),
            ),
            (
                json!({"type": "generic", "secret_refs": refs(&[("a", &s1), ("b", &format!("{s1}/"))])}),
                400,
                schema("Duplicate secret ids are not allowed", "secret_refs"),
            ),
            (
                json!({"type": "generic", "secret_refs": refs(&[("a", &foreign)])}),
                400,
                "Provided field value is not supported".into(),
            ),
            (
                json!({"type": "certificate", "secret_refs": refs(&[("certificate", &missing)])}),
                404,
                "Secret provided for 'certificate' doesn't exist.".into(),
            ),
            // Another project's secret is no more there than a missing one.
            (
                json!({"type": "certificate", "secret_refs": refs(&[("certificate", &s1), ("private_key", &theirs)])}),
                404,
                "Secret provided for 'private_key' doesn't exist.".into(),
            ),
            (
                json!({"type": "generic", "secret_refs": [{"secret_ref": missing}]}),
                404,
                "Secret provided for 'None' doesn't exist.".into(),
            ),
        ];
        for (body, status, description) in &cases {
            let a = post(&cloud.km, CONTAINERS, &cloud.alice, body.clone()).await;
            assert_eq!(a.status.as_u16(), *status, "{b} {body}: {}", a.body);
            assert_eq!(a.body["description"], json!(description), "{b} {body}");
        }
        let a = call(
            &cloud.km,
            "POST",
            CONTAINERS,
            Some(&cloud.alice),
            &[],
            b"{}".to_vec(),
        )
        .await;
        barbican_error(
            &a,
            415,
            Some("Unexpected content type. Expected content types are: ['application/json']"),
        );
        let a = post(
            &cloud.km,
            CONTAINERS,
            &cloud.rita,
            json!({"type": "generic"}),
        )
        .await;
        barbican_error(
            &a,
            403,
            Some(
                "Container creation attempt not allowed - please review your user/project privileges",
            ),
        );
        let a = get(&cloud.km, CONTAINERS, &cloud.rita).await;
        barbican_error(
            &a,
            403,
            Some(
                "Containers(s) retrieval attempt not allowed - please review your user/project privileges",
            ),
        );
        assert_eq!(
            cloud.containers_stored().await,
            0,
            "{b}: a refused create stored something"
        );
    }
}
