//! Version discovery, authentication, microversions, unknown paths.

use serde_json::json;

use crate::support::{PUBLIC, backends, barbican_error, call, get};

fn links() -> serde_json::Value {
    json!([
        {"rel": "self", "href": format!("{PUBLIC}/v1/")},
        {"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"},
    ])
}

#[tokio::test]
async fn version_documents() {
    for cloud in backends().await {
        let b = cloud.backend;
        // No header: microversion 1.0, the "stable" shape, no token needed.
        for path in ["/key-manager", "/key-manager/"] {
            let a = call(&cloud.km, "GET", path, None, &[], Vec::new()).await;
            assert_eq!(a.status, 300, "{b} {path}");
            assert_eq!(
                a.body,
                json!({"versions": {"values": [{"id": "v1", "status": "stable", "links": links(),
                    "media-types": [{"base": "application/json",
                        "type": "application/vnd.openstack.key-manager-v1+json"}]}]}})
            );
            assert_eq!(a.header("openstack-api-version"), Some("key-manager 1.0"));
            assert_eq!(a.header("vary"), Some("OpenStack-API-Version"));
        }
        // What barbicanclient asks for: the microversion range.
        let a = call(
            &cloud.km,
            "GET",
            "/key-manager",
            None,
            &[("openstack-api-version", "key-manager 1.1")],
            Vec::new(),
        )
        .await;
        assert_eq!(a.status, 300);
        assert_eq!(
            a.body,
            json!({"versions": [{"id": "v1", "status": "CURRENT", "min_version": "1.0",
                "max_version": "1.2", "links": links()}]})
        );
        assert_eq!(a.header("openstack-api-version"), Some("key-manager 1.1"));

        let a = call(&cloud.km, "POST", "/key-manager", None, &[], Vec::new()).await;
        barbican_error(&a, 405, None);

        // /v1 needs a token.
        let a = call(&cloud.km, "GET", "/key-manager/v1", None, &[], Vec::new()).await;
        assert_eq!(a.status, 401);
        assert_eq!(
            a.body,
            json!({"error": {"code": 401, "title": "Unauthorized",
                "message": "The request you have made requires authentication."}})
        );
        assert!(a.header("www-authenticate").is_some());
        let a = call(
            &cloud.km,
            "GET",
            "/key-manager/v1/secrets",
            Some("not-a-token"),
            &[],
            Vec::new(),
        )
        .await;
        assert_eq!(a.status, 401, "{b}");
        let a = call(
            &cloud.km,
            "GET",
            "/key-manager/v1/",
            Some(&cloud.alice),
            &[("openstack-api-version", "key-manager latest")],
            Vec::new(),
        )
        .await;
        assert_eq!(a.status, 200);
        assert_eq!(
            a.body,
            json!({"version": {"id": "v1", "status": "CURRENT", "min_version": "1.0",
                "max_version": "1.2", "links": links()}})
        );
        assert_eq!(a.header("openstack-api-version"), Some("key-manager 1.2"));
        let a = get(&cloud.km, "/key-manager/v1", &cloud.alice).await;
        assert_eq!(a.body["version"]["status"], "stable");
    }
}

/// On a listener of its own (no prefix) the same routes hold.
#[tokio::test]
async fn without_a_prefix() {
    let cloud = crate::support::sqlite().await;
    let mut config = crate::support::km_config();
    config.prefix = String::new();
    let km = neutrino_key_manager::router(neutrino_key_manager::KmState::new(
        cloud.db.clone(),
        cloud.identity.clone(),
        config,
    ));
    assert_eq!(
        call(&km, "GET", "/", None, &[], Vec::new()).await.status,
        300
    );
    assert_eq!(
        call(&km, "GET", "/v1/secrets", None, &[], Vec::new())
            .await
            .status,
        401
    );
    let a = get(&km, "/v1/secrets", &cloud.alice).await;
    assert_eq!(a.body, json!({"secrets": [], "total": 0}));
    barbican_error(&get(&km, "/v1/nothing", &cloud.alice).await, 404, None);
}

/// Merged into the Network API's router (which has a fallback of its
/// own), as `serve` mounts it: each API keeps its paths and its 404s.
#[tokio::test]
async fn beside_the_network_api() {
    let cloud = crate::support::sqlite().await;
    let network = neutrino_api::network_router(neutrino_api::AppState::new(
        cloud.db.clone(),
        cloud.identity.clone(),
        neutrino_api::NetworkConfig::default(),
    ));
    let app = neutrino_api::with_request_ids(network.merge(cloud.km.clone()));
    let a = get(&app, "/key-manager/v1/secrets", &cloud.alice).await;
    assert_eq!(a.body, json!({"secrets": [], "total": 0}));
    assert_eq!(
        call(&app, "GET", "/key-manager", None, &[], Vec::new())
            .await
            .status,
        300
    );
    barbican_error(
        &get(&app, "/key-manager/v1/nothing", &cloud.alice).await,
        404,
        None,
    );
    let n = get(&app, "/v2.0/networks", &cloud.alice).await;
    assert_eq!(n.body, json!({"networks": []}));
    let n = get(&app, "/v2.0/nothing", &cloud.alice).await;
    assert_eq!(n.status, 404);
    assert_eq!(n.body["NeutronError"]["type"], "HTTPNotFound");
}

#[tokio::test]
async fn microversions_out_of_range_and_unknown_paths() {
    for cloud in backends().await {
        let a = call(
            &cloud.km,
            "GET",
            "/key-manager/v1/secrets",
            Some(&cloud.alice),
            &[
                ("openstack-api-version", "key-manager 1.3"),
                ("accept", "application/json"),
            ],
            Vec::new(),
        )
        .await;
        assert_eq!(a.status, 406);
        assert_eq!(a.body["code"], "406 Not Acceptable");
        assert_eq!(a.body["title"], "Not Acceptable");
        assert!(
            a.body["message"]
                .as_str()
                .unwrap()
                .ends_with("Invalid microversion: Unacceptable version header: 1.3")
        );
        let a = call(
            &cloud.km,
            "GET",
            "/key-manager/v1/secrets",
            Some(&cloud.alice),
            &[("openstack-api-version", "key-manager one")],
            Vec::new(),
        )
        .await;
        assert_eq!(a.status, 400);
        assert_eq!(a.body["code"], "400 Bad Request");

        // Unknown paths: pecan's 404, after the token check under /v1.
        for path in ["/key-manager/v1/orders", "/key-manager/nope"] {
            let a = get(&cloud.km, path, &cloud.alice).await;
            barbican_error(&a, 404, None);
        }
        let a = get(&cloud.km, "/key-manager/v1/secrets/x/acl", &cloud.alice).await;
        barbican_error(&a, 404, Some("Not Found. Provided secret id is invalid."));
        let a = call(
            &cloud.km,
            "GET",
            "/key-manager/v1/orders",
            None,
            &[],
            Vec::new(),
        )
        .await;
        assert_eq!(a.status, 401);
        // A URL no backend could compare against.
        let a = get(&cloud.km, "/key-manager/v1/secrets?name=%00", &cloud.alice).await;
        barbican_error(
            &a,
            400,
            Some("Invalid URL: a query parameter contains a NUL character."),
        );
    }
}
