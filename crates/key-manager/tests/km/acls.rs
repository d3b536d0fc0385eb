//! ACLs (`/v1/secrets/{id}/acl`, `/v1/containers/{id}/acl`): upstream's
//! replace/merge/delete semantics and answers, what a read ACL grants
//! (reading from another project), what `project-access: false` takes
//! away (the project's other members), and who may set them.

use serde_json::{Value, json};

use crate::support::{
    Answer, CONTAINERS, Cloud, PUBLIC, SECRETS, backends, barbican_error, call, delete, get, id_of,
    post, rows,
};

const DEFAULT: &str = r#"{"read": {"project-access": true}}"#;

fn default_acl() -> Value {
    serde_json::from_str(DEFAULT).unwrap()
}

fn refused(operation: &str) -> String {
    format!("{operation} attempt not allowed - please review your user/project privileges")
}

async fn send(cloud: &Cloud, method: &str, path: &str, token: &str, body: Value) -> Answer {
    call(
        &cloud.km,
        method,
        path,
        Some(token),
        &[("content-type", "application/json")],
        body.to_string().into_bytes(),
    )
    .await
}

async fn payload(cloud: &Cloud, secret: &str, token: &str) -> Answer {
    call(
        &cloud.km,
        "GET",
        &format!("{}/payload", cloud.path(secret)),
        Some(token),
        &[("accept", "text/plain")],
        Vec::new(),
    )
    .await
}

/// A certificate container naming `secret`; returns its ref.
async fn container(cloud: &Cloud, token: &str, secret: &str) -> String {
    let a = post(
        &cloud.km,
        CONTAINERS,
        token,
        json!({"type": "certificate",
            "secret_refs": [{"name": "certificate", "secret_ref": secret}]}),
    )
    .await;
    assert_eq!(a.status, 201, "{}: {}", cloud.backend, a.body);
    a.body["container_ref"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn put_patch_get_and_delete() {
    for cloud in backends().await {
        let b = cloud.backend;
        let secret = cloud.text_secret(&cloud.alice, "shared", "s3cr3t").await;
        let ct = container(&cloud, &cloud.alice, &secret).await;
        for (entity, noun) in [(&secret, "secrets"), (&ct, "containers")] {
            let acl = format!("{}/acl", cloud.path(entity));
            let acl_ref = format!("{PUBLIC}/v1/{noun}/{}/acl", id_of(&json!(entity)));
            let g = get(&cloud.km, &acl, &cloud.alice).await;
            assert_eq!((g.status.as_u16(), &g.body), (200, &default_acl()), "{b}");

            // PUT: repeats dropped, the order kept.
            let users = json!([cloud.bob_id, "u2", cloud.bob_id]);
            let p = send(
                &cloud,
                "PUT",
                &acl,
                &cloud.alice,
                json!({"read": {"users": users, "project-access": false}}),
            )
            .await;
            assert_eq!(
                (p.status.as_u16(), &p.body),
                (200, &json!({"acl_ref": acl_ref})),
                "{b}"
            );
            let g = get(&cloud.km, &acl, &cloud.alice).await.body;
            assert_eq!(g["read"]["project-access"], false, "{b}: {g}");
            assert_eq!(g["read"]["users"], json!([cloud.bob_id, "u2"]), "{b}");
            let created = g["read"]["created"].as_str().expect("created").to_string();
            assert!(created.starts_with("20"), "{created}");
            assert!(g["read"]["updated"].as_str().is_some(), "{g}");
            assert_eq!(
                g["read"].as_object().unwrap().keys().collect::<Vec<_>>(),
                ["project-access", "users", "created", "updated"]
            );

            // PATCH keeps what it does not name.
            let p = send(
                &cloud,
                "PATCH",
                &acl,
                &cloud.alice,
                json!({"read": {"project-access": true}}),
            )
            .await;
            assert_eq!(p.body, json!({"acl_ref": acl_ref}), "{b}");
            let g = get(&cloud.km, &acl, &cloud.alice).await.body;
            assert_eq!(
                (&g["read"]["project-access"], &g["read"]["users"]),
                (&json!(true), &json!([cloud.bob_id, "u2"])),
                "{b}"
            );
            assert_eq!(g["read"]["created"], created.as_str(), "{b}");
            send(
                &cloud,
                "PATCH",
                &acl,
                &cloud.alice,
                json!({"read": {"users": ["u3"]}}),
            )
            .await;
            let g = get(&cloud.km, &acl, &cloud.alice).await.body;
            assert_eq!(g["read"]["users"], json!(["u3"]), "{b}");
            assert_eq!(g["read"]["project-access"], true, "{b}");
            // An empty operation changes nothing.
            send(&cloud, "PATCH", &acl, &cloud.alice, json!({"read": {}})).await;
            assert_eq!(
                get(&cloud.km, &acl, &cloud.alice).await.body["read"]["users"],
                json!(["u3"])
            );

            // PUT replaces: what it leaves out takes the defaults.
            send(
                &cloud,
                "PUT",
                &acl,
                &cloud.alice,
                json!({"read": {"project-access": false}}),
            )
            .await;
            let g = get(&cloud.km, &acl, &cloud.alice).await.body;
            assert_eq!(
                (&g["read"]["project-access"], &g["read"]["users"]),
                (&json!(false), &json!([])),
                "{b}"
            );
            // ... and an ACL it does not name goes.
            let p = send(&cloud, "PUT", &acl, &cloud.alice, json!({})).await;
            assert_eq!(p.status, 200, "{b}");
            assert_eq!(get(&cloud.km, &acl, &cloud.alice).await.body, default_acl());

            // DELETE: back to the default, answered 200.
            send(
                &cloud,
                "PUT",
                &acl,
                &cloud.alice,
                json!({"read": {"users": ["u4"]}}),
            )
            .await;
            let d = delete(&cloud.km, &acl, &cloud.alice).await;
            assert_eq!((d.status.as_u16(), &d.body), (200, &Value::Null), "{b}");
            assert_eq!(get(&cloud.km, &acl, &cloud.alice).await.body, default_acl());
            let d = delete(&cloud.km, &acl, &cloud.alice).await;
            assert_eq!(d.status, 200, "{b}: deleting the default ACL");
        }
        // ACLs go with their object.
        for (entity, acl_table, users_table) in [
            (&ct, "km_container_acls", "km_container_acl_users"),
            (&secret, "km_secret_acls", "km_secret_acl_users"),
        ] {
            let acl = format!("{}/acl", cloud.path(entity));
            send(
                &cloud,
                "PUT",
                &acl,
                &cloud.alice,
                json!({"read": {"users": ["u5"]}}),
            )
            .await;
            assert_eq!(
                (
                    rows(&cloud.db, acl_table).await,
                    rows(&cloud.db, users_table).await
                ),
                (1, 1),
                "{b}"
            );
            assert_eq!(
                delete(&cloud.km, &cloud.path(entity), &cloud.alice)
                    .await
                    .status,
                204
            );
            assert_eq!(
                (
                    rows(&cloud.db, acl_table).await,
                    rows(&cloud.db, users_table).await
                ),
                (0, 0),
                "{b}: {acl_table} outlived its object"
            );
        }
    }
}

#[tokio::test]
async fn a_read_acl_lets_another_project_read() {
    for cloud in backends().await {
        let b = cloud.backend;
        let secret = cloud
            .text_secret(&cloud.alice, "for bob", "top secret")
            .await;
        let ct = container(&cloud, &cloud.alice, &secret).await;
        let listed = |a: &Answer| {
            a.body["secrets"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|s| s["secret_ref"].as_str().map(String::from))
                .collect::<Vec<_>>()
        };
        let acl_only = format!("{SECRETS}?acl_only=true");

        // Before: refused.
        barbican_error(
            &get(&cloud.km, &cloud.path(&secret), &cloud.bob).await,
            403,
            Some(&refused("Secret retrieval")),
        );
        barbican_error(
            &payload(&cloud, &secret, &cloud.bob).await,
            403,
            Some(&refused("Secret payload retrieval")),
        );
        barbican_error(
            &get(&cloud.km, &cloud.path(&ct), &cloud.bob).await,
            403,
            Some(&refused("Container retrieval")),
        );
        assert!(listed(&get(&cloud.km, &acl_only, &cloud.bob).await).is_empty());

        for entity in [&secret, &ct] {
            let a = send(
                &cloud,
                "PUT",
                &format!("{}/acl", cloud.path(entity)),
                &cloud.alice,
                json!({"read": {"users": [cloud.bob_id], "project-access": true}}),
            )
            .await;
            assert_eq!(a.status, 200, "{b}: {}", a.body);
        }

        // After: bob reads the metadata, the payload and the container.
        let m = get(&cloud.km, &cloud.path(&secret), &cloud.bob).await;
        assert_eq!(
            (m.status.as_u16(), &m.body["name"]),
            (200, &json!("for bob")),
            "{b}"
        );
        let p = payload(&cloud, &secret, &cloud.bob).await;
        assert_eq!(
            (p.status.as_u16(), p.bytes.as_slice()),
            (200, &b"top secret"[..])
        );
        let c = get(&cloud.km, &cloud.path(&ct), &cloud.bob).await;
        assert_eq!(c.status, 200, "{b}: {}", c.body);
        assert_eq!(
            listed(&get(&cloud.km, &acl_only, &cloud.bob).await),
            [secret.as_str()]
        );
        // Bob's own project list is still his project's.
        assert!(listed(&get(&cloud.km, SECRETS, &cloud.bob).await).is_empty());

        // ... and changes nothing, ACLs included.
        barbican_error(
            &delete(&cloud.km, &cloud.path(&secret), &cloud.bob).await,
            403,
            Some(&refused("Secret deletion")),
        );
        barbican_error(
            &delete(&cloud.km, &cloud.path(&ct), &cloud.bob).await,
            403,
            Some(&refused("Container deletion")),
        );
        barbican_error(
            &get(
                &cloud.km,
                &format!("{}/acl", cloud.path(&secret)),
                &cloud.bob,
            )
            .await,
            403,
            Some(&refused("SecretACL(s) retrieval")),
        );
        barbican_error(
            &send(
                &cloud,
                "PATCH",
                &format!("{}/acl", cloud.path(&ct)),
                &cloud.bob,
                json!({"read": {"users": []}}),
            )
            .await,
            403,
            Some(&refused("ContainerACL(s) Update")),
        );

        // Taken off the ACL: refused again.
        send(
            &cloud,
            "PATCH",
            &format!("{}/acl", cloud.path(&secret)),
            &cloud.alice,
            json!({"read": {"users": []}}),
        )
        .await;
        barbican_error(
            &payload(&cloud, &secret, &cloud.bob).await,
            403,
            Some(&refused("Secret payload retrieval")),
        );
    }
}

#[tokio::test]
async fn a_private_secret_is_hidden_from_the_project() {
    for cloud in backends().await {
        let b = cloud.backend;
        let secret = cloud.text_secret(&cloud.alice, "private", "mine").await;
        let ct = container(&cloud, &cloud.alice, &secret).await;
        assert_eq!(payload(&cloud, &secret, &cloud.amy).await.bytes, b"mine");
        for entity in [&secret, &ct] {
            send(
                &cloud,
                "PUT",
                &format!("{}/acl", cloud.path(entity)),
                &cloud.alice,
                json!({"read": {"project-access": false}}),
            )
            .await;
        }
        // amy, another member of alpha, is refused everything.
        barbican_error(
            &get(&cloud.km, &cloud.path(&secret), &cloud.amy).await,
            403,
            Some(&refused("Secret retrieval")),
        );
        barbican_error(
            &payload(&cloud, &secret, &cloud.amy).await,
            403,
            Some(&refused("Secret payload retrieval")),
        );
        barbican_error(
            &get(&cloud.km, &cloud.path(&ct), &cloud.amy).await,
            403,
            Some(&refused("Container retrieval")),
        );
        barbican_error(
            &delete(&cloud.km, &cloud.path(&secret), &cloud.amy).await,
            403,
            Some(&refused("Secret deletion")),
        );
        // The creator still reads; the cloud admin still reads metadata.
        assert_eq!(payload(&cloud, &secret, &cloud.alice).await.bytes, b"mine");
        assert_eq!(
            get(&cloud.km, &cloud.path(&ct), &cloud.alice).await.status,
            200
        );
        assert_eq!(
            get(&cloud.km, &cloud.path(&secret), &cloud.admin)
                .await
                .status,
            200,
            "{b}"
        );
        // Named in the ACL, amy reads again.
        send(
            &cloud,
            "PATCH",
            &format!("{}/acl", cloud.path(&secret)),
            &cloud.alice,
            json!({"read": {"users": [cloud.amy_id]}}),
        )
        .await;
        let p = payload(&cloud, &secret, &cloud.amy).await;
        assert_eq!(
            (p.status.as_u16(), p.bytes.as_slice()),
            (200, &b"mine"[..]),
            "{b}"
        );
        // Public again: back to project access.
        delete(&cloud.km, &format!("{}/acl", cloud.path(&ct)), &cloud.alice).await;
        assert_eq!(
            get(&cloud.km, &cloud.path(&ct), &cloud.amy).await.status,
            200
        );
    }
}

#[tokio::test]
async fn bad_bodies_are_refused() {
    for cloud in backends().await {
        let secret = cloud.text_secret(&cloud.alice, "s", "x").await;
        let acl = format!("{}/acl", cloud.path(&secret));
        let schema = |reason: &str, property: &str| {
            format!(
                "Provided object does not match schema 'ACL': {reason}. Invalid property: \
                 '{property}'"
            )
        };
        let long = "x".repeat(256);
        let cases = [
            (
                json!({"write": {"users": []}}),
                schema(
                    "Additional properties are not allowed ('write' was unexpected)",
                    "None",
                ),
            ),
            (
                json!({"read": {"users": [], "groups": []}}),
                schema(
                    "Additional properties are not allowed ('groups' was unexpected)",
                    "read",
                ),
            ),
            (
                json!({"read": {"project-access": "False"}}),
                schema("'False' is not of type 'boolean'", "read"),
            ),
            (
                json!({"read": {"users": "u1"}}),
                schema("'u1' is not of type 'array'", "read"),
            ),
            (
                json!({"read": {"users": [1]}}),
                schema("1 is not of type 'string'", "read"),
            ),
            (
                json!({"read": {"users": [long]}}),
                schema(&format!("'{long}' is too long"), "read"),
            ),
            (
                json!({"read": []}),
                schema("[] is not of type 'object'", "read"),
            ),
            (json!([]), schema("[] is not of type 'object'", "None")),
        ];
        for method in ["PUT", "PATCH"] {
            for (body, message) in &cases {
                let a = send(&cloud, method, &acl, &cloud.alice, body.clone()).await;
                barbican_error(&a, 400, Some(message));
            }
            let a = call(
                &cloud.km,
                method,
                &acl,
                Some(&cloud.alice),
                &[("content-type", "application/json")],
                b"{".to_vec(),
            )
            .await;
            barbican_error(&a, 400, Some("Malformed JSON"));
            let a = call(
                &cloud.km,
                method,
                &acl,
                Some(&cloud.alice),
                &[("content-type", "text/plain")],
                b"{}".to_vec(),
            )
            .await;
            barbican_error(
                &a,
                415,
                Some("Unexpected content type. Expected content types are: ['application/json']"),
            );
        }
        assert_eq!(get(&cloud.km, &acl, &cloud.alice).await.body, default_acl());
        assert_eq!(rows(&cloud.db, "km_secret_acls").await, 0);
        // Methods upstream does not serve.
        for method in ["POST", "HEAD"] {
            let a = call(&cloud.km, method, &acl, Some(&cloud.alice), &[], Vec::new()).await;
            assert_eq!(a.status, 405, "{method}");
        }
    }
}

#[tokio::test]
async fn unknown_objects_are_not_found() {
    for cloud in backends().await {
        let unknown = uuid::Uuid::new_v4();
        for method in ["GET", "PUT", "PATCH", "DELETE"] {
            let body = json!({"read": {"users": ["u"]}});
            let a = send(
                &cloud,
                method,
                &format!("{SECRETS}/{unknown}/acl"),
                &cloud.alice,
                body.clone(),
            )
            .await;
            barbican_error(&a, 404, Some("Secret not found."));
            let a = send(
                &cloud,
                method,
                &format!("{CONTAINERS}/{unknown}/acl"),
                &cloud.alice,
                body.clone(),
            )
            .await;
            barbican_error(&a, 404, Some("Secrets container not found."));
            let a = send(
                &cloud,
                method,
                &format!("{SECRETS}/nope/acl"),
                &cloud.alice,
                body,
            )
            .await;
            barbican_error(&a, 404, Some("Not Found. Provided secret id is invalid."));
        }
    }
}

#[tokio::test]
async fn only_the_creator_and_project_admins_set_acls() {
    for cloud in backends().await {
        let b = cloud.backend;
        let secret = cloud.text_secret(&cloud.alice, "s", "x").await;
        let ct = container(&cloud, &cloud.alice, &secret).await;
        for (entity, noun) in [(&secret, "SecretACL(s)"), (&ct, "ContainerACL(s)")] {
            let acl = format!("{}/acl", cloud.path(entity));
            // rita (reader of alpha), amy (member of alpha but not the
            // creator), bob (member of beta), the cloud admin (admin of
            // another project).
            for token in [&cloud.rita, &cloud.amy, &cloud.bob, &cloud.admin] {
                for method in ["PUT", "PATCH"] {
                    let a = send(
                        &cloud,
                        method,
                        &acl,
                        token,
                        json!({"read": {"users": ["intruder"]}}),
                    )
                    .await;
                    barbican_error(&a, 403, Some(&refused(&format!("{noun} Update"))));
                }
                barbican_error(
                    &delete(&cloud.km, &acl, token).await,
                    403,
                    Some(&refused(&format!("{noun} deletion"))),
                );
                barbican_error(
                    &get(&cloud.km, &acl, token).await,
                    403,
                    Some(&refused(&format!("{noun} retrieval"))),
                );
            }
            assert_eq!(
                get(&cloud.km, &acl, &cloud.alice).await.body,
                default_acl(),
                "{b}: a refused request changed the ACL"
            );
        }
        assert_eq!(rows(&cloud.db, "km_secret_acls").await, 0);
        assert_eq!(rows(&cloud.db, "km_container_acls").await, 0);
    }
}
