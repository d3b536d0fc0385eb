//! Who may do what: Keystone tokens, namespaces owned by projects.

use serde_json::json;

use crate::support::{backends, ipset, netconfig, object_path, send};

#[tokio::test]
async fn tokens_roles_and_namespaces() {
    for cloud in backends().await {
        // No token, bad token: 401 as a Status.
        let (s, b) = send(
            &cloud.app,
            "GET",
            "/infra/v1beta1/namespaces/openstack/netconfigs",
            None,
            None,
        )
        .await;
        assert_eq!(s, 401, "{b}");
        assert_eq!(b["reason"], "Unauthorized");
        let (s, _) = send(
            &cloud.app,
            "GET",
            "/infra/v1beta1/ipsets",
            Some("garbage"),
            None,
        )
        .await;
        assert_eq!(s, 401);

        // A member creates in a fresh namespace, which becomes her project's.
        let mut nc = netconfig();
        nc["metadata"]["namespace"] = json!("alpha-ns");
        let (s, b) = cloud.put_as(&cloud.alice, &nc).await;
        assert_eq!(s, 201, "{b}");
        let mut set = ipset("n0", &["CtlPlane"]);
        set["metadata"]["namespace"] = json!("alpha-ns");
        assert_eq!(cloud.put_as(&cloud.alice, &set).await.0, 201);

        // The reader of her project sees it but cannot change it.
        let path = object_path("alpha-ns", "netconfigs", "netconfig");
        let (s, b) = cloud.call("GET", &path, &cloud.reader, None).await;
        assert_eq!(s, 200, "{b}");
        let mut set1 = ipset("n1", &["CtlPlane"]);
        set1["metadata"]["namespace"] = json!("alpha-ns");
        cloud
            .rejects(&cloud.reader, &set1, 403, "reader role")
            .await;
        let (s, _) = cloud.call("DELETE", &path, &cloud.reader, None).await;
        assert_eq!(s, 403);

        // Another project's member can neither see nor touch it.
        let (s, b) = cloud.call("GET", &path, &cloud.bob, None).await;
        assert_eq!(s, 403, "{b}");
        assert_eq!(b["reason"], "Forbidden");
        let (s, _) = cloud
            .call(
                "GET",
                "/infra/v1beta1/namespaces/alpha-ns/ipsets",
                &cloud.bob,
                None,
            )
            .await;
        assert_eq!(s, 403);
        cloud
            .rejects(&cloud.bob, &set1, 403, "belongs to another project")
            .await;
        let (s, _) = cloud.call("DELETE", &path, &cloud.bob, None).await;
        assert_eq!(s, 403);
        // Listing across namespaces shows each caller its own.
        let (_, all) = cloud
            .call("GET", "/infra/v1beta1/ipsets", &cloud.bob, None)
            .await;
        assert_eq!(all["items"].as_array().unwrap().len(), 0, "{all}");
        let (_, all) = cloud
            .call("GET", "/infra/v1beta1/ipsets", &cloud.alice, None)
            .await;
        assert_eq!(all["items"].as_array().unwrap().len(), 1);

        // Admins see and change everything.
        let (_, all) = cloud
            .call("GET", "/infra/v1beta1/ipsets", &cloud.admin, None)
            .await;
        assert_eq!(all["items"].as_array().unwrap().len(), 1);
        assert_eq!(cloud.put(&set1).await.0, 201);
        let (s, _) = cloud
            .call(
                "GET",
                &object_path("alpha-ns", "ipsets", "n1"),
                &cloud.alice,
                None,
            )
            .await;
        assert_eq!(s, 200);

        // An unknown namespace is empty, an unknown object 404.
        let (s, b) = cloud
            .call(
                "GET",
                "/infra/v1beta1/namespaces/nowhere/dnsdata",
                &cloud.bob,
                None,
            )
            .await;
        assert_eq!(s, 200);
        assert_eq!(b["items"], json!([]));
        let (s, b) = cloud
            .call(
                "GET",
                &object_path("nowhere", "dnsdata", "x"),
                &cloud.bob,
                None,
            )
            .await;
        assert_eq!(s, 404);
        assert_eq!(b["reason"], "NotFound");

        // Discovery.
        let (s, d) = cloud
            .call("GET", "/infra/v1beta1", &cloud.reader, None)
            .await;
        assert_eq!(s, 200);
        assert_eq!(d["groupVersion"], "network.openstack.org/v1beta1");
        assert_eq!(d["resources"].as_array().unwrap().len(), 5);
    }
}
