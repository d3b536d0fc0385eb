//! Availability-zone profiles and availability zones (design §2.14).
//! Expected texts are the peer's answers (octavia 19) unless a test says
//! otherwise.

use axum::Router;
use axum::http::header;
use neutrino_lb_api::LbConfig;
use serde_json::{Value, json};

use crate::admin_support::{keys, raw};
use crate::fixtures::seed_lb_using;
use crate::support::{
    Cloud, FORBIDDEN, all_refused, backends, bad_queries, fault, missing_arguments, send, send_json,
};

const PROFILES: &str = "/v2/lbaas/availabilityzoneprofiles";
const ZONES: &str = "/v2/lbaas/availabilityzones";
const NIL: &str = "00000000-0000-0000-0000-000000000000";
const NOPE: &str = "11111111-1111-1111-1111-111111111111";

/// What tempest sends: a compute zone and a management network that
/// exists nowhere (the noop backend checks neither).
fn tempest_data() -> String {
    json!({"compute_zone": "nova", "management_network": "3c3a0e3e-6f4c-4bd0-a3c3-1a1ad5e0d7c1"})
        .to_string()
}

async fn profile(app: &Router, cloud: &Cloud, name: &str) -> Value {
    let a = send_json(
        app,
        "POST",
        PROFILES,
        Some(&cloud.admin),
        json!({"availability_zone_profile":
        {"name": name, "provider_name": "amphora", "availability_zone_data": tempest_data()}}),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.body);
    a.body["availability_zone_profile"].clone()
}

async fn zone(app: &Router, cloud: &Cloud, body: Value) -> Value {
    let a = send_json(
        app,
        "POST",
        ZONES,
        Some(&cloud.admin),
        json!({"availability_zone": body}),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.body);
    a.body["availability_zone"].clone()
}

#[tokio::test]
async fn az_profile_round_trip_and_validation() {
    for cloud in backends().await {
        let app = cloud.lb(LbConfig::default());
        let b = cloud.backend;
        let p = profile(&app, &cloud, "azp").await;
        let id = p["id"].as_str().expect("id").to_string();
        assert_eq!(
            p,
            json!({"id": id, "name": "azp", "provider_name": "amphora",
                   "availability_zone_data": tempest_data()}),
            "{b}"
        );
        let a = send(&app, "GET", &format!("{PROFILES}/{id}"), Some(&cloud.admin)).await;
        assert_eq!(a.body, json!({"availability_zone_profile": p}), "{b}");
        let a = send(&app, "GET", PROFILES, Some(&cloud.admin)).await;
        assert_eq!(
            a.body,
            json!({"availability_zone_profiles": [p], "availability_zone_profile_links": []}),
            "{b}"
        );

        let post = |fp: Value| {
            let app = app.clone();
            let token = cloud.admin.clone();
            async move {
                send_json(
                    &app,
                    "POST",
                    PROFILES,
                    Some(&token),
                    json!({"availability_zone_profile": fp}),
                )
                .await
            }
        };
        let data =
            |d: &str| json!({"name": "x", "provider_name": "amphora", "availability_zone_data": d});
        let unsupported =
            |m: &str| format!("Provider 'amphora' does not support a requested option: {m}");
        for (body, status, text) in [
            (data("{bad"), 400, "{bad is not a valid option for availability_zone_data".to_string()),
            (data(r#"{"compute_zone": 1}"#), 501, unsupported("compute_zone 1 is not of type 'string'")),
            (data(r#"{"valid_vip_networks": "n1"}"#), 501,
                unsupported("valid_vip_networks 'n1' is not of type 'array'")),
            (data(r#"{"flavor": "x"}"#), 501,
                unsupported("Additional properties are not allowed ('flavor' was unexpected)")),
            (json!({"name": "x", "provider_name": "nope", "availability_zone_data": "{}"}), 400,
                "Provider 'nope' is not enabled.".into()),
            (json!({"name": "x", "provider_name": "amphora"}), 400,
                "Invalid input for field/attribute availability_zone_data. Value: 'None'. Mandatory field missing.".into()),
        ] {
            fault(&post(body).await, status, &text);
        }
        let a = raw(
            &app,
            "POST",
            PROFILES,
            &cloud.admin,
            Some("application/json"),
            "",
        )
        .await;
        fault(&a, 400, "Missing argument: \"availability_zone_profile_\"");

        let one = format!("{PROFILES}/{id}");
        let put = |body: Value| {
            let app = app.clone();
            let token = cloud.admin.clone();
            let path = one.clone();
            async move {
                send_json(
                    &app,
                    "PUT",
                    &path,
                    Some(&token),
                    json!({"availability_zone_profile": body}),
                )
                .await
            }
        };
        // Upstream's AZ profile PUT names the wrong attribute; so do we.
        fault(
            &put(json!({"availability_zone_data": "{bad"})).await,
            400,
            "{bad is not a valid option for flavor_data",
        );
        fault(
            &put(json!({"availability_zone_data": null})).await,
            400,
            "None is not a valid option for availability_zone_data",
        );
        let vip_nets = json!({"valid_vip_networks": ["n1", "n2"]}).to_string();
        let a = put(json!({"name": "azp2", "availability_zone_data": vip_nets})).await;
        assert_eq!(
            a.body,
            json!({"availability_zone_profile": {"id": id, "name": "azp2", "provider_name": "amphora",
                                                 "availability_zone_data": vip_nets}}),
            "{b}"
        );
        let a = send(&app, "GET", PROFILES, Some(&cloud.admin)).await;
        assert_eq!(
            keys(&a.body, "availability_zone_profiles", "name"),
            ["azp2"],
            "{b}: nothing else stored"
        );

        let t = Some(cloud.admin.as_str());
        fault(
            &send(&app, "GET", &format!("{PROFILES}/{NOPE}"), t).await,
            404,
            &format!("Availability Zone Profile {NOPE} not found."),
        );
        fault(
            &send(&app, "GET", &format!("{PROFILES}/{NIL}"), t).await,
            404,
            &format!("Availability Zone Profile {NIL} not found."),
        );
        fault(
            &send(&app, "DELETE", &format!("{PROFILES}/{NOPE}"), t).await,
            404,
            &format!("Availability Zone Profile {NOPE} not found."),
        );
        let a = send(&app, "DELETE", &one, t).await;
        assert_eq!(a.status, 204, "{b}");
        assert_eq!(send(&app, "GET", &one, t).await.status, 404, "{b}");
    }
}

#[tokio::test]
async fn az_profiles_are_admin_only() {
    for cloud in backends().await {
        let app = cloud.lb(LbConfig::default());
        let id = profile(&app, &cloud, "azp").await["id"]
            .as_str()
            .expect("id")
            .to_string();
        let one = format!("{PROFILES}/{id}");
        let new = json!({"availability_zone_profile":
            {"name": "x", "provider_name": "amphora", "availability_zone_data": "{}"}});
        let all = [
            ("GET", PROFILES, None),
            ("GET", one.as_str(), None),
            ("DELETE", one.as_str(), None),
            (
                "PUT",
                one.as_str(),
                Some(json!({"availability_zone_profile": {"name": "x"}})),
            ),
            ("POST", PROFILES, Some(new)),
        ];
        for token in [&cloud.alice, &cloud.rita] {
            all_refused(&app, token, &all, 403, FORBIDDEN).await;
        }
        assert_eq!(
            send(&app, "GET", &one, Some(&cloud.admin)).await.status,
            200
        );
    }
}

#[tokio::test]
async fn zone_round_trip_keyed_by_name() {
    for cloud in backends().await {
        let app = cloud.lb(LbConfig::default());
        let b = cloud.backend;
        let azp = profile(&app, &cloud, "azp").await["id"]
            .as_str()
            .expect("id")
            .to_string();
        let z = zone(
            &app,
            &cloud,
            json!({"name": "az 1", "availability_zone_profile_id": azp}),
        )
        .await;
        assert_eq!(
            z,
            json!({"name": "az 1", "description": "", "enabled": true, "availability_zone_profile_id": azp}),
            "{b}"
        );
        let one = format!("{ZONES}/az%201");
        let a = send(&app, "GET", &one, Some(&cloud.rita)).await;
        assert_eq!(a.body, json!({"availability_zone": z}), "{b}");
        let a = send(
            &app,
            "GET",
            "/v2.0/lbaas/availabilityzones/az%201?fields=name",
            Some(&cloud.alice),
        )
        .await;
        assert_eq!(
            a.body,
            json!({"availability_zone": {"name": "az 1"}}),
            "{b}"
        );

        let a = send_json(
            &app,
            "PUT",
            &one,
            Some(&cloud.admin),
            json!({"availability_zone": {"description": "east", "enabled": false}}),
        )
        .await;
        assert_eq!(
            (a.status.as_u16(), &a.body),
            (
                200,
                &json!({"availability_zone": {"name": "az 1", "description": "east", "enabled": false,
                                                "availability_zone_profile_id": azp}})
            ),
            "{b}"
        );
        let stored = send(&app, "GET", &one, Some(&cloud.admin)).await.body;
        assert_eq!(stored, a.body, "{b}");

        let put = |body: Value| {
            let app = app.clone();
            let token = cloud.admin.clone();
            let path = one.clone();
            async move {
                send_json(
                    &app,
                    "PUT",
                    &path,
                    Some(&token),
                    json!({"availability_zone": body}),
                )
                .await
            }
        };
        fault(
            &put(json!({"name": "x"})).await,
            400,
            "Unknown attribute for argument availability_zone_.availability_zone: name",
        );
        fault(
            &put(json!({"availability_zone_profile_id": azp})).await,
            400,
            "Unknown attribute for argument availability_zone_.availability_zone: availability_zone_profile_id",
        );
        // Deviation: upstream's database refuses it with a 500.
        fault(
            &put(json!({"enabled": null})).await,
            400,
            "None is not a valid option for enabled",
        );
        assert_eq!(
            send(&app, "GET", &one, Some(&cloud.admin)).await.body,
            stored,
            "{b}"
        );

        let post = |body: Value| {
            let app = app.clone();
            let token = cloud.admin.clone();
            async move {
                send_json(
                    &app,
                    "POST",
                    ZONES,
                    Some(&token),
                    json!({"availability_zone": body}),
                )
                .await
            }
        };
        fault(
            &post(json!({"name": "az 1", "availability_zone_profile_id": azp})).await,
            409,
            "A availability zone of az 1 already exists.",
        );
        // Deviation: upstream fails the foreign key with a 500.
        fault(
            &post(json!({"name": "az2", "availability_zone_profile_id": NOPE})).await,
            400,
            &format!("{NOPE} is not a valid option for availability_zone_profile_id"),
        );
        fault(
            &post(json!({"availability_zone_profile_id": azp})).await,
            400,
            "Invalid input for field/attribute name. Value: 'None'. Mandatory field missing.",
        );
        fault(
            &post(json!({"name": "az2", "availability_zone_profile_id": "zz"})).await,
            400,
            "Invalid input for field/attribute availability_zone_profile_id. Value: 'zz'. Value should be UUID format",
        );
        assert_eq!(
            keys(
                &send(&app, "GET", ZONES, Some(&cloud.admin)).await.body,
                "availability_zones",
                "name"
            ),
            ["az 1"],
            "{b}: nothing else stored"
        );

        let t = Some(cloud.admin.as_str());
        for (method, path) in [
            ("GET", "nope"),
            ("DELETE", "nope"),
            ("GET", NIL),
            ("DELETE", NIL),
        ] {
            fault(
                &send(&app, method, &format!("{ZONES}/{path}"), t).await,
                404,
                &format!("Availability Zone {path} not found."),
            );
        }
        fault(
            &send_json(
                &app,
                "PUT",
                &format!("{ZONES}/nope"),
                t,
                json!({"availability_zone": {}}),
            )
            .await,
            404,
            "Availability Zone nope not found.",
        );
        let a = send(&app, "DELETE", &one, t).await;
        assert_eq!((a.status.as_u16(), &a.body), (204, &Value::Null), "{b}");
        fault(
            &send(&app, "GET", &one, t).await,
            404,
            "Availability Zone az 1 not found.",
        );
    }
}

#[tokio::test]
async fn in_use_az_profiles_and_zones_are_refused() {
    for cloud in backends().await {
        let app = cloud.lb(LbConfig::default());
        let azp = profile(&app, &cloud, "azp").await["id"]
            .as_str()
            .expect("id")
            .to_string();
        zone(
            &app,
            &cloud,
            json!({"name": "az1", "availability_zone_profile_id": azp}),
        )
        .await;
        let busy = format!("Availability Zone Profile {azp} is in use and cannot be modified.");
        let t = Some(cloud.admin.as_str());
        let one = format!("{PROFILES}/{azp}");
        fault(&send(&app, "DELETE", &one, t).await, 409, &busy);
        fault(
            &send_json(
                &app,
                "PUT",
                &one,
                t,
                json!({"availability_zone_profile": {"availability_zone_data": "{}"}}),
            )
            .await,
            409,
            &busy,
        );
        fault(
            &send_json(
                &app,
                "PUT",
                &one,
                t,
                json!({"availability_zone_profile": {"provider_name": "octavia"}}),
            )
            .await,
            409,
            &busy,
        );
        let a = send_json(
            &app,
            "PUT",
            &one,
            t,
            json!({"availability_zone_profile": {"name": "n"}}),
        )
        .await;
        assert_eq!(a.status, 200, "{}", cloud.backend);

        seed_lb_using(&cloud.db, "lb-az", None, Some("az1")).await;
        fault(
            &send(&app, "DELETE", &format!("{ZONES}/az1"), t).await,
            409,
            "Availability Zone az1 is in use and cannot be modified.",
        );
        assert_eq!(
            send(&app, "GET", &format!("{ZONES}/az1"), t).await.status,
            200,
            "{}",
            cloud.backend
        );
    }
}

#[tokio::test]
async fn zones_are_read_by_readers_and_written_by_admins() {
    for cloud in backends().await {
        let app = cloud.lb(LbConfig::default());
        let azp = profile(&app, &cloud, "azp").await["id"]
            .as_str()
            .expect("id")
            .to_string();
        let z = zone(
            &app,
            &cloud,
            json!({"name": "az1", "availability_zone_profile_id": azp}),
        )
        .await;
        let one = format!("{ZONES}/az1");
        let new = json!({"availability_zone": {"name": "x", "availability_zone_profile_id": azp}});
        let writes = [
            ("POST", ZONES, Some(new)),
            (
                "PUT",
                one.as_str(),
                Some(json!({"availability_zone": {"enabled": false}})),
            ),
            ("DELETE", one.as_str(), None),
        ];
        for token in [&cloud.alice, &cloud.rita, &cloud.olga] {
            let t = Some(token.as_str());
            let a = send(&app, "GET", ZONES, t).await;
            assert_eq!(
                a.body,
                json!({"availability_zones": [z], "availability_zones_links": []})
            );
            all_refused(&app, token, &writes, 403, FORBIDDEN).await;
        }
        assert_eq!(
            send(&app, "GET", &format!("{ZONES}/az1"), Some(&cloud.admin))
                .await
                .body,
            json!({"availability_zone": z}),
            "{}",
            cloud.backend
        );
    }
}

#[tokio::test]
async fn zone_listing_filters_sorts_and_pages_by_name() {
    for cloud in backends().await {
        let app = cloud.lb(LbConfig::default());
        let b = cloud.backend;
        let azp = profile(&app, &cloud, "azp").await["id"]
            .as_str()
            .expect("id")
            .to_string();
        for (name, enabled) in [("c", true), ("a", false), ("b", true)] {
            zone(
                &app,
                &cloud,
                json!({"name": name, "enabled": enabled, "availability_zone_profile_id": azp}),
            )
            .await;
        }
        let get = |q: &str| {
            let app = app.clone();
            let token = cloud.rita.clone();
            let path = format!("{ZONES}{q}");
            async move { send(&app, "GET", &path, Some(&token)).await }
        };
        assert_eq!(
            keys(&get("").await.body, "availability_zones", "name"),
            ["a", "b", "c"],
            "{b}"
        );
        assert_eq!(
            keys(
                &get("?sort=name:desc").await.body,
                "availability_zones",
                "name"
            ),
            ["c", "b", "a"],
            "{b}"
        );
        assert_eq!(
            keys(
                &get("?enabled=true").await.body,
                "availability_zones",
                "name"
            ),
            ["b", "c"],
            "{b}"
        );
        assert_eq!(
            keys(&get("?name=a").await.body, "availability_zones", "name"),
            ["a"],
            "{b}"
        );
        let first = get("?limit=2").await;
        assert_eq!(
            keys(&first.body, "availability_zones", "name"),
            ["a", "b"],
            "{b}"
        );
        assert!(
            first.body["availability_zones"][0].get("id").is_none(),
            "{b}: zones have no id"
        );
        assert_eq!(
            first.body["availability_zones_links"],
            json!([{"rel": "next", "href": "http://127.0.0.1:9876/v2/lbaas/availabilityzones?limit=2&marker=b"}]),
            "{b}"
        );
        let second = get("?limit=2&marker=b").await;
        assert_eq!(
            keys(&second.body, "availability_zones", "name"),
            ["c"],
            "{b}"
        );
        let a = get("?fields=enabled&fields=id&sort=name").await;
        assert_eq!(
            a.body["availability_zones"],
            json!([{"enabled": false}, {"enabled": true}, {"enabled": true}]),
            "{b}"
        );
        bad_queries(
            &app,
            &cloud.rita,
            ZONES,
            &[
                (
                    "?id=a",
                    "One or more arguments are either duplicate or invalid",
                ),
                (
                    "?marker=zz",
                    "Supplied pagination marker 'zz' is not valid.",
                ),
            ],
        )
        .await;
    }
}

#[tokio::test]
async fn zone_paths_answer_unsupported_methods_like_upstream() {
    for cloud in backends().await {
        let app = cloud.lb(LbConfig::default());
        let t = Some(cloud.admin.as_str());
        for path in [PROFILES, ZONES, "/v2/lbaas/availabilityzones/a"] {
            let a = send(&app, "PATCH", path, t).await;
            assert_eq!(
                (a.status.as_u16(), &a.headers[header::ALLOW]),
                (405, &"DELETE, GET, POST, PUT".parse().expect("hv"))
            );
        }
        missing_arguments(
            &app,
            &cloud.admin,
            &[
                ("PUT", PROFILES, "id"),
                ("DELETE", PROFILES, "availability_zone_profile_id"),
                ("PUT", ZONES, "name"),
                ("DELETE", ZONES, "availability_zone_name"),
            ],
        )
        .await;
    }
}
