//! NUL bytes and invalid UTF-8 (issue 10, defect 4): a 400 `Status` on
//! both backends, nothing stored.

use serde_json::Value;

use crate::support::{NS, backends, netconfig, object_path};

#[track_caller]
fn assert_bad_request(backend: &str, what: &str, status: u16, body: &Value) {
    assert_eq!(status, 400, "[{backend}] {what}: {body}");
    assert_eq!(body["kind"], "Status", "[{backend}] {what}: {body}");
    assert_eq!(body["code"], 400, "[{backend}] {what}: {body}");
    assert_eq!(body["reason"], "BadRequest", "[{backend}] {what}: {body}");
}

#[tokio::test]
async fn nul_and_invalid_utf8_are_400_status_and_store_nothing() {
    for c in backends().await {
        let before = c.stored().await;
        let mut nc = netconfig();
        nc["spec"]["networks"][0]["dnsDomain"] = Value::String("ctl\u{0}plane.example.com".into());
        let (s, b) = c.put(&nc).await;
        assert_bad_request(c.backend, "NUL in a body", s, &b);
        nc = netconfig();
        nc["metadata"]["labels"] = serde_json::json!({"a\u{0}": "b"});
        let (s, b) = c.put(&nc).await;
        assert_bad_request(c.backend, "NUL in a key", s, &b);
        for path in [
            object_path("%00", "netconfigs", "x"),
            object_path(NS, "ipsets", "a%00b"),
            object_path(NS, "ipsets", "%ff"),
            format!("/infra/v1beta1/namespaces/{NS}/ipsets?labelSelector=%00"),
            "/infra/v1beta1/ipsets?x=%c3%28".to_string(),
        ] {
            for method in ["GET", "DELETE"] {
                let (s, b) = c.call(method, &path, &c.admin, None).await;
                assert_bad_request(c.backend, &format!("{method} {path}"), s, &b);
            }
        }
        assert_eq!(
            c.stored().await,
            before,
            "[{}] a refused request stored something",
            c.backend
        );
    }
}
