//! Projects: a member of another project is refused everything of
//! alpha's (403, upstream's policy answer: it finds the object first),
//! sees none of it in lists and changes nothing; another member of the
//! same project may use it all; the cloud admin may read metadata and
//! delete any secret, but not decrypt it or read containers elsewhere.

use serde_json::json;

use crate::support::{CONTAINERS, SECRETS, backends, barbican_error, call, delete, get, post};

fn refused(operation: &str) -> String {
    format!("{operation} attempt not allowed - please review your user/project privileges")
}

#[tokio::test]
async fn another_project_sees_and_changes_nothing() {
    for cloud in backends().await {
        let b = cloud.backend;
        let filled = cloud
            .text_secret(&cloud.alice, "filled", "top secret")
            .await;
        let a = post(&cloud.km, SECRETS, &cloud.alice, json!({"name": "empty"})).await;
        let empty = a.body["secret_ref"].as_str().unwrap().to_string();
        let a = post(
            &cloud.km,
            CONTAINERS,
            &cloud.alice,
            json!({"type": "certificate",
            "secret_refs": [{"name": "certificate", "secret_ref": filled}]}),
        )
        .await;
        let container = a.body["container_ref"].as_str().unwrap().to_string();
        let (secrets, containers) = (
            cloud.secrets_stored().await,
            cloud.containers_stored().await,
        );

        let cases = [
            ("GET", cloud.path(&filled), None, "Secret retrieval"),
            (
                "GET",
                cloud.path(&filled),
                Some("text/plain"),
                "Secret retrieval",
            ),
            (
                "GET",
                format!("{}/payload", cloud.path(&filled)),
                None,
                "Secret payload retrieval",
            ),
            ("PUT", cloud.path(&empty), None, "Secret update"),
            ("DELETE", cloud.path(&filled), None, "Secret deletion"),
            ("GET", cloud.path(&container), None, "Container retrieval"),
            ("DELETE", cloud.path(&container), None, "Container deletion"),
        ];
        for (method, path, accept, operation) in &cases {
            let mut headers = vec![("content-type", "text/plain")];
            if let Some(a) = accept {
                headers.push(("accept", a));
            }
            let a = call(
                &cloud.km,
                method,
                path,
                Some(&cloud.bob),
                &headers,
                b"stolen".to_vec(),
            )
            .await;
            barbican_error(&a, 403, Some(&refused(operation)));
            assert!(!String::from_utf8_lossy(&a.bytes).contains("top secret"));
        }
        // Lists are per project.
        assert_eq!(
            get(&cloud.km, SECRETS, &cloud.bob).await.body,
            json!({"secrets": [], "total": 0})
        );
        assert_eq!(
            get(&cloud.km, CONTAINERS, &cloud.bob).await.body,
            json!({"containers": [], "total": 0})
        );
        assert_eq!(
            (
                cloud.secrets_stored().await,
                cloud.containers_stored().await
            ),
            (secrets, containers),
            "{b}"
        );
        let p = get(
            &cloud.km,
            &format!("{}/payload", cloud.path(&empty)),
            &cloud.alice,
        )
        .await;
        assert_eq!(p.status, 404, "{b}: bob's PUT stored a payload");

        // amy, another member of alpha, uses alice's objects.
        let p = call(
            &cloud.km,
            "GET",
            &format!("{}/payload", cloud.path(&filled)),
            Some(&cloud.amy),
            &[("accept", "text/plain")],
            Vec::new(),
        )
        .await;
        assert_eq!(p.bytes, b"top secret");
        assert_eq!(
            get(&cloud.km, &cloud.path(&container), &cloud.amy)
                .await
                .status,
            200
        );

        // The cloud admin, scoped to the admin project.
        let m = get(&cloud.km, &cloud.path(&filled), &cloud.admin).await;
        assert_eq!(m.status, 200, "{b}: {}", m.body);
        assert_eq!(m.body["name"], "filled");
        let p = get(
            &cloud.km,
            &format!("{}/payload", cloud.path(&filled)),
            &cloud.admin,
        )
        .await;
        barbican_error(&p, 403, Some(&refused("Secret payload retrieval")));
        let c = get(&cloud.km, &cloud.path(&container), &cloud.admin).await;
        barbican_error(&c, 403, Some(&refused("Container retrieval")));
        let d = delete(&cloud.km, &cloud.path(&container), &cloud.admin).await;
        barbican_error(&d, 403, Some(&refused("Container deletion")));
        let d = delete(&cloud.km, &cloud.path(&empty), &cloud.admin).await;
        assert_eq!(d.status, 204, "{b}: {}", d.body);
        barbican_error(
            &get(&cloud.km, &cloud.path(&empty), &cloud.alice).await,
            404,
            Some("Secret not found."),
        );
    }
}
