//! Flavor profiles and flavors (design §2.14). Expected texts are the
//! peer's answers (octavia 19) unless a test says otherwise.

use axum::Router;
use axum::http::header;
use neutrino_lb_api::LbConfig;
use serde_json::{Value, json};

use crate::admin_support::{keys, raw};
use crate::fixtures::seed_lb_using;
use crate::support::{
    Cloud, FORBIDDEN, all_refused, backends, bad_queries, fault, missing_arguments, send, send_json,
};

const PROFILES: &str = "/v2/lbaas/flavorprofiles";
const FLAVORS: &str = "/v2/lbaas/flavors";
const NIL: &str = "00000000-0000-0000-0000-000000000000";
const NOPE: &str = "11111111-1111-1111-1111-111111111111";

fn single() -> String {
    json!({"loadbalancer_topology": "SINGLE"}).to_string()
}

/// Creates a flavor profile as admin; returns its rendering.
async fn profile(app: &Router, cloud: &Cloud, name: &str, data: &str) -> Value {
    let a = send_json(
        app,
        "POST",
        PROFILES,
        Some(&cloud.admin),
        json!({"flavorprofile": {"name": name, "provider_name": "amphora", "flavor_data": data}}),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.body);
    a.body["flavorprofile"].clone()
}

async fn flavor(app: &Router, cloud: &Cloud, body: Value) -> Value {
    let a = send_json(
        app,
        "POST",
        FLAVORS,
        Some(&cloud.admin),
        json!({"flavor": body}),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.body);
    a.body["flavor"].clone()
}

async fn count(app: &Router, cloud: &Cloud, path: &str, plural: &str) -> usize {
    let a = send(app, "GET", path, Some(&cloud.admin)).await;
    assert_eq!(a.status, 200, "{}", a.body);
    a.body[plural].as_array().expect("list").len()
}

#[tokio::test]
async fn flavor_profile_round_trip() {
    for cloud in backends().await {
        let app = cloud.lb(LbConfig::default());
        let b = cloud.backend;
        let created = profile(&app, &cloud, "p1", &single()).await;
        let id = created["id"].as_str().expect("id").to_string();
        assert_eq!(id.len(), 36, "{b}");
        assert_eq!(
            created,
            json!({"id": id, "name": "p1", "provider_name": "amphora", "flavor_data": single()}),
            "{b}"
        );
        for path in [
            format!("{PROFILES}/{id}"),
            format!("/v2.0/lbaas/flavorprofiles/{id}"),
        ] {
            let a = send(&app, "GET", &path, Some(&cloud.admin)).await;
            assert_eq!(a.status, 200, "{b}");
            assert_eq!(a.body, json!({"flavorprofile": created}), "{b}");
        }
        let a = send(
            &app,
            "GET",
            &format!("{PROFILES}/{id}?fields=name&fields=flavor_data"),
            Some(&cloud.admin),
        )
        .await;
        assert_eq!(
            a.body,
            json!({"flavorprofile": {"name": "p1", "flavor_data": single()}}),
            "{b}"
        );
        let list = send(&app, "GET", PROFILES, Some(&cloud.admin)).await;
        assert_eq!(
            list.body,
            json!({"flavorprofiles": [created], "flavorprofile_links": []}),
            "{b}"
        );

        // Only the name: allowed (and no in-use check needed).
        let a = send_json(
            &app,
            "PUT",
            &format!("{PROFILES}/{id}"),
            Some(&cloud.admin),
            json!({"flavorprofile": {"name": "renamed"}}),
        )
        .await;
        assert_eq!(a.status, 200, "{b}");
        assert_eq!(a.body["flavorprofile"]["name"], "renamed", "{b}");
        assert_eq!(a.body["flavorprofile"]["flavor_data"], single(), "{b}");
        // Data and the alias provider.
        let standby =
            json!({"loadbalancer_topology": "ACTIVE_STANDBY", "compute_flavor": "m1"}).to_string();
        let a = send_json(
            &app,
            "PUT",
            &format!("{PROFILES}/{id}"),
            Some(&cloud.admin),
            json!({"flavorprofile": {"flavor_data": standby, "provider_name": "octavia"}}),
        )
        .await;
        assert_eq!(
            a.body,
            json!({"flavorprofile": {"id": id, "name": "renamed", "provider_name": "octavia",
                                     "flavor_data": standby}}),
            "{b}"
        );
        let again = send(&app, "GET", &format!("{PROFILES}/{id}"), Some(&cloud.admin)).await;
        assert_eq!(again.body, a.body, "{b}: the update is stored");

        let gone = send(
            &app,
            "DELETE",
            &format!("{PROFILES}/{id}"),
            Some(&cloud.admin),
        )
        .await;
        assert_eq!(
            (gone.status.as_u16(), &gone.body),
            (204, &Value::Null),
            "{b}"
        );
        fault(
            &send(&app, "GET", &format!("{PROFILES}/{id}"), Some(&cloud.admin)).await,
            404,
            &format!("Flavor Profile {id} not found."),
        );
    }
}

#[tokio::test]
async fn flavor_profile_validation_errors_store_nothing() {
    for cloud in backends().await {
        let app = cloud.lb(LbConfig::default());
        let post = |fp: Value| {
            let app = app.clone();
            let token = cloud.admin.clone();
            async move {
                send_json(
                    &app,
                    "POST",
                    PROFILES,
                    Some(&token),
                    json!({"flavorprofile": fp}),
                )
                .await
            }
        };
        let fp = |name: &str, provider: &str, data: &str| json!({"name": name, "provider_name": provider, "flavor_data": data});
        let unsupported =
            |p: &str, m: &str| format!("Provider '{p}' does not support a requested option: {m}");
        for (body, status, text) in [
            (fp("p", "amphora", "{bad"), 400, "{bad is not a valid option for flavor_data".to_string()),
            (fp("p", "noop_driver", "{}"), 400, "Provider 'noop_driver' is not enabled.".into()),
            (fp("p", "amphora", r#"{"a": 1}"#), 501,
                unsupported("amphora", "Additional properties are not allowed ('a' was unexpected)")),
            (fp("p", "octavia", r#"{"loadbalancer_topology": "X"}"#), 501,
                unsupported("octavia", "loadbalancer_topology 'X' is not one of ['ACTIVE_STANDBY', 'SINGLE']")),
            (fp("p", "amphora", r#"{"sriov_vip": "yes"}"#), 501,
                unsupported("amphora", "sriov_vip 'yes' is not of type 'boolean'")),
            (fp("p", "amphora", "[1]"), 501, unsupported("amphora", "[1] is not of type 'object'")),
            (json!({"name": "p", "provider_name": "amphora"}), 400,
                "Invalid input for field/attribute flavor_data. Value: 'None'. Mandatory field missing.".into()),
            (json!({"provider_name": "amphora", "flavor_data": "{}"}), 400,
                "Invalid input for field/attribute name. Value: 'None'. Mandatory field missing.".into()),
            (fp(&"n".repeat(256), "amphora", "{}"), 400, format!(
                "Invalid input for field/attribute name. Value: '{}'. Value should have a maximum character requirement of 255",
                "n".repeat(256))),
            (json!({"name": "p", "provider_name": "amphora", "flavor_data": "{}", "id": NOPE}), 400,
                "Unknown attribute for argument flavor_profile_.flavorprofile: id".into()),
        ] {
            let a = post(body.clone()).await;
            fault(&a, status, &text);
        }
        // WSME reads the body before the controller runs.
        let a = raw(
            &app,
            "POST",
            PROFILES,
            &cloud.admin,
            Some("application/json"),
            "",
        )
        .await;
        fault(&a, 400, "Missing argument: \"flavor_profile_\"");
        let a = raw(
            &app,
            "POST",
            PROFILES,
            &cloud.admin,
            Some("text/plain"),
            "{}",
        )
        .await;
        fault(&a, 415, "Unknown mimetype: text/plain");
        let a = raw(
            &app,
            "POST",
            PROFILES,
            &cloud.admin,
            Some("application/json"),
            "{nope",
        )
        .await;
        fault(&a, 400, "Request is not in valid JSON format");
        assert_eq!(
            count(&app, &cloud, PROFILES, "flavorprofiles").await,
            0,
            "{}",
            cloud.backend
        );

        // An empty provider name is upstream's amphora driver, stored as given.
        let a = post(fp("p", "", "{}")).await;
        assert_eq!(a.status, 201, "{}", a.body);
        assert_eq!(
            a.body["flavorprofile"]["provider_name"], "",
            "{}",
            cloud.backend
        );
        let id = a.body["flavorprofile"]["id"]
            .as_str()
            .expect("id")
            .to_string();

        let put = |fp: Value| {
            let app = app.clone();
            let token = cloud.admin.clone();
            let path = format!("{PROFILES}/{id}");
            async move {
                send_json(
                    &app,
                    "PUT",
                    &path,
                    Some(&token),
                    json!({"flavorprofile": fp}),
                )
                .await
            }
        };
        for (body, status, text) in [
            (
                json!({"name": null}),
                400,
                "None is not a valid option for name".to_string(),
            ),
            (
                json!({"provider_name": null}),
                400,
                "None is not a valid option for provider_name".into(),
            ),
            (
                json!({"flavor_data": null}),
                400,
                "None is not a valid option for flavor_data".into(),
            ),
            (
                json!({"flavor_data": "nope"}),
                400,
                "nope is not a valid option for flavor_data".into(),
            ),
            (
                json!({"flavor_data": r#"{"compute_flavor": 5}"#}),
                501,
                unsupported("amphora", "compute_flavor 5 is not of type 'string'"),
            ),
            // Deviation: upstream stores an unknown provider when no data comes along.
            (
                json!({"provider_name": "bogus"}),
                400,
                "Provider 'bogus' is not enabled.".into(),
            ),
            (
                json!({"flavor_data": "{}", "provider_name": "bogus"}),
                400,
                "Provider 'bogus' is not enabled.".into(),
            ),
        ] {
            fault(&put(body).await, status, &text);
        }
        let a = send(&app, "GET", &format!("{PROFILES}/{id}"), Some(&cloud.admin)).await;
        assert_eq!(
            a.body["flavorprofile"],
            json!({"id": id, "name": "p", "provider_name": "", "flavor_data": "{}"}),
            "{}: refused updates change nothing",
            cloud.backend
        );
    }
}

#[tokio::test]
async fn missing_profiles_answer_upstreams_two_spellings() {
    for cloud in backends().await {
        let app = cloud.lb(LbConfig::default());
        let t = Some(cloud.admin.as_str());
        // A lookup says the model's name, the controllers' own checks theirs.
        fault(
            &send(&app, "GET", &format!("{PROFILES}/{NOPE}"), t).await,
            404,
            &format!("Flavor Profile {NOPE} not found."),
        );
        fault(
            &send(&app, "DELETE", &format!("{PROFILES}/{NOPE}"), t).await,
            404,
            &format!("Flavor profile {NOPE} not found."),
        );
        fault(
            &send(&app, "GET", &format!("{PROFILES}/{NIL}"), t).await,
            404,
            &format!("Flavor profile {NIL} not found."),
        );
        fault(
            &send(&app, "DELETE", &format!("{PROFILES}/{NIL}"), t).await,
            404,
            &format!("Flavor profile {NIL} not found."),
        );
        fault(
            &send_json(
                &app,
                "PUT",
                &format!("{PROFILES}/{NOPE}"),
                t,
                json!({"flavorprofile": {"name": "x"}}),
            )
            .await,
            404,
            &format!("Flavor Profile {NOPE} not found."),
        );
        fault(
            &send_json(
                &app,
                "PUT",
                &format!("{PROFILES}/{NOPE}"),
                t,
                json!({"flavorprofile": {"flavor_data": "{}"}}),
            )
            .await,
            404,
            &format!("Flavor Profile {NOPE} not found."),
        );
        fault(
            &send_json(
                &app,
                "PUT",
                &format!("{PROFILES}/{NIL}"),
                t,
                json!({"flavorprofile": {"name": "x"}}),
            )
            .await,
            404,
            &format!("Flavor profile {NIL} not found."),
        );
    }
}

#[tokio::test]
async fn flavor_profiles_are_admin_only() {
    for cloud in backends().await {
        let app = cloud.lb(LbConfig::default());
        let id = profile(&app, &cloud, "p1", &single()).await["id"]
            .as_str()
            .expect("id")
            .to_string();
        let one = format!("{PROFILES}/{id}");
        let new = |data: &str| json!({"flavorprofile": {"name": "x", "provider_name": "amphora", "flavor_data": data}});
        let all = [
            ("GET", PROFILES, None),
            ("GET", one.as_str(), None),
            ("DELETE", one.as_str(), None),
            ("POST", PROFILES, Some(new("{}"))),
            (
                "PUT",
                one.as_str(),
                Some(json!({"flavorprofile": {"name": "x"}})),
            ),
            // Policy before the data's JSON, as upstream.
            ("POST", PROFILES, Some(new("{bad"))),
        ];
        for token in [&cloud.alice, &cloud.rita, &cloud.olga] {
            all_refused(&app, token, &all, 403, FORBIDDEN).await;
        }
        // The body is WSME's before policy: a member's bad body is a 400.
        fault(
            &send_json(
                &app,
                "POST",
                PROFILES,
                Some(&cloud.alice),
                json!({"flavorprofile": {}}),
            )
            .await,
            400,
            "Invalid input for field/attribute name. Value: 'None'. Mandatory field missing.",
        );
        let a = send(&app, "GET", &one, Some(&cloud.admin)).await;
        assert_eq!(a.body["flavorprofile"]["name"], "p1", "{}", cloud.backend);
    }
}

#[tokio::test]
async fn flavor_round_trip_and_defaults() {
    for cloud in backends().await {
        let app = cloud.lb(LbConfig::default());
        let b = cloud.backend;
        let fp = profile(&app, &cloud, "p1", &single()).await["id"]
            .as_str()
            .expect("id")
            .to_string();
        let f = flavor(&app, &cloud, json!({"name": "f1", "flavor_profile_id": fp})).await;
        let id = f["id"].as_str().expect("id").to_string();
        assert_eq!(
            f,
            json!({"id": id, "name": "f1", "description": "", "enabled": true, "flavor_profile_id": fp}),
            "{b}"
        );
        let a = send(
            &app,
            "GET",
            &format!("/v2.0/lbaas/flavors/{id}"),
            Some(&cloud.admin),
        )
        .await;
        assert_eq!(a.body, json!({"flavor": f}), "{b}");
        let a = send(
            &app,
            "GET",
            &format!("{FLAVORS}/{id}?fields=enabled"),
            Some(&cloud.alice),
        )
        .await;
        assert_eq!(a.body, json!({"flavor": {"enabled": true}}), "{b}");

        let a = send_json(
            &app,
            "PUT",
            &format!("{FLAVORS}/{id}"),
            Some(&cloud.admin),
            json!({"flavor": {"name": "f1b", "description": "gold", "enabled": "false"}}),
        )
        .await;
        assert_eq!(
            (a.status.as_u16(), &a.body),
            (
                200,
                &json!({"flavor": {"id": id, "name": "f1b", "description": "gold",
                                     "enabled": false, "flavor_profile_id": fp}})
            ),
            "{b}"
        );
        let a = send_json(
            &app,
            "PUT",
            &format!("{FLAVORS}/{id}"),
            Some(&cloud.admin),
            json!({"flavor": {"description": null}}),
        )
        .await;
        assert_eq!(a.body["flavor"]["description"], "", "{b}");
        assert_eq!(a.body["flavor"]["name"], "f1b", "{b}: absent keys are kept");
        let a = send(&app, "GET", &format!("{FLAVORS}/{id}"), Some(&cloud.rita)).await;
        assert_eq!(a.body["flavor"]["enabled"], false, "{b}");

        let a = send(
            &app,
            "DELETE",
            &format!("{FLAVORS}/{id}"),
            Some(&cloud.admin),
        )
        .await;
        assert_eq!(a.status, 204, "{b}");
        fault(
            &send(&app, "GET", &format!("{FLAVORS}/{id}"), Some(&cloud.admin)).await,
            404,
            &format!("Flavor {id} not found."),
        );
        fault(
            &send(
                &app,
                "DELETE",
                &format!("{FLAVORS}/{id}"),
                Some(&cloud.admin),
            )
            .await,
            404,
            &format!("Flavor {id} not found."),
        );
    }
}

#[tokio::test]
async fn flavor_validation_errors_store_nothing() {
    for cloud in backends().await {
        let app = cloud.lb(LbConfig::default());
        let fp = profile(&app, &cloud, "p1", &single()).await["id"]
            .as_str()
            .expect("id")
            .to_string();
        let f = flavor(&app, &cloud, json!({"name": "f1", "flavor_profile_id": fp})).await;
        let id = f["id"].as_str().expect("id").to_string();
        let post = |body: Value| {
            let app = app.clone();
            let token = cloud.admin.clone();
            async move { send_json(&app, "POST", FLAVORS, Some(&token), json!({"flavor": body})).await }
        };
        fault(
            &post(json!({"name": "f1", "flavor_profile_id": fp})).await,
            409,
            "A flavor of f1 already exists.",
        );
        // Deviation: upstream fails the foreign key with a 500.
        fault(
            &post(json!({"name": "f2", "flavor_profile_id": NOPE})).await,
            400,
            &format!("{NOPE} is not a valid option for flavor_profile_id"),
        );
        fault(
            &post(json!({"name": "f2", "flavor_profile_id": "x"})).await,
            400,
            "Invalid input for field/attribute flavor_profile_id. Value: 'x'. Value should be UUID format",
        );
        fault(
            &post(json!({"name": "f2"})).await,
            400,
            "Invalid input for field/attribute flavor_profile_id. Value: 'None'. Mandatory field missing.",
        );
        fault(
            &post(json!({"name": "f2", "flavor_profile_id": fp, "enabled": "maybe"})).await,
            400,
            &format!(
                "Invalid input for field/attribute flavor_. Value: '{{'flavor': {{'name': 'f2', \
                'flavor_profile_id': '{fp}', 'enabled': 'maybe'}}}}'. Value not an unambiguous boolean: maybe"
            ),
        );
        let a = raw(
            &app,
            "POST",
            FLAVORS,
            &cloud.admin,
            Some("application/json"),
            "",
        )
        .await;
        fault(&a, 400, "Missing argument: \"flavor_\"");
        assert_eq!(
            count(&app, &cloud, FLAVORS, "flavors").await,
            1,
            "{}",
            cloud.backend
        );

        let other = flavor(&app, &cloud, json!({"name": "f2", "flavor_profile_id": fp})).await;
        let put = |body: Value| {
            let app = app.clone();
            let token = cloud.admin.clone();
            let path = format!("{FLAVORS}/{id}");
            async move { send_json(&app, "PUT", &path, Some(&token), json!({"flavor": body})).await }
        };
        // Deviations: upstream's database refuses these with a 500.
        fault(
            &put(json!({"name": "f2"})).await,
            409,
            "A flavor of f2 already exists.",
        );
        fault(
            &put(json!({"name": null})).await,
            400,
            "None is not a valid option for name",
        );
        fault(
            &put(json!({"enabled": null})).await,
            400,
            "None is not a valid option for enabled",
        );
        fault(
            &put(json!({"flavor_profile_id": fp})).await,
            400,
            "Unknown attribute for argument flavor_.flavor: flavor_profile_id",
        );
        fault(
            &send_json(
                &app,
                "PUT",
                &format!("{FLAVORS}/{NOPE}"),
                Some(&cloud.admin),
                json!({"flavor": {"name": "z"}}),
            )
            .await,
            404,
            &format!("Flavor {NOPE} not found."),
        );
        fault(
            &send_json(
                &app,
                "PUT",
                &format!("{FLAVORS}/{NIL}"),
                Some(&cloud.admin),
                json!({"flavor": {"name": "z"}}),
            )
            .await,
            404,
            &format!("Flavor {NIL} not found."),
        );
        fault(
            &send(&app, "GET", &format!("{FLAVORS}/{NIL}"), Some(&cloud.admin)).await,
            404,
            &format!("Flavor {NIL} not found."),
        );
        let a = send(&app, "GET", &format!("{FLAVORS}/{id}"), Some(&cloud.admin)).await;
        assert_eq!(
            a.body,
            json!({"flavor": f}),
            "{}: nothing changed",
            cloud.backend
        );
        let a = send(
            &app,
            "GET",
            &format!("{FLAVORS}/{}", other["id"].as_str().expect("id")),
            Some(&cloud.admin),
        )
        .await;
        assert_eq!(a.body, json!({"flavor": other}), "{}", cloud.backend);
    }
}

#[tokio::test]
async fn in_use_profiles_and_flavors_are_refused() {
    for cloud in backends().await {
        let app = cloud.lb(LbConfig::default());
        let fp = profile(&app, &cloud, "p1", &single()).await["id"]
            .as_str()
            .expect("id")
            .to_string();
        let f = flavor(&app, &cloud, json!({"name": "f1", "flavor_profile_id": fp})).await;
        let id = f["id"].as_str().expect("id").to_string();
        let busy = format!("Flavor profile {fp} is in use and cannot be modified.");
        let t = Some(cloud.admin.as_str());
        let one = format!("{PROFILES}/{fp}");
        fault(&send(&app, "DELETE", &one, t).await, 409, &busy);
        fault(
            &send_json(
                &app,
                "PUT",
                &one,
                t,
                json!({"flavorprofile": {"flavor_data": "{}"}}),
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
                json!({"flavorprofile": {"provider_name": "amphora"}}),
            )
            .await,
            409,
            &busy,
        );
        // Before the data's JSON, as upstream.
        fault(
            &send_json(
                &app,
                "PUT",
                &one,
                t,
                json!({"flavorprofile": {"flavor_data": "{bad"}}),
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
            json!({"flavorprofile": {"name": "still-free"}}),
        )
        .await;
        assert_eq!(
            a.status, 200,
            "{}: a name change is fine: {}",
            cloud.backend, a.body
        );

        seed_lb_using(&cloud.db, "lb-1", Some(&id), None).await;
        fault(
            &send(&app, "DELETE", &format!("{FLAVORS}/{id}"), t).await,
            409,
            &format!("Flavor {id} is in use and cannot be modified."),
        );
        let a = send(&app, "GET", &format!("{FLAVORS}/{id}"), t).await;
        assert_eq!(a.body, json!({"flavor": f}), "{}", cloud.backend);
        // Its other attributes may still change.
        let a = send_json(
            &app,
            "PUT",
            &format!("{FLAVORS}/{id}"),
            t,
            json!({"flavor": {"enabled": false}}),
        )
        .await;
        assert_eq!(a.status, 200, "{}", cloud.backend);
    }
}

#[tokio::test]
async fn flavors_are_read_by_readers_and_written_by_admins() {
    for cloud in backends().await {
        let app = cloud.lb(LbConfig::default());
        let fp = profile(&app, &cloud, "p1", &single()).await["id"]
            .as_str()
            .expect("id")
            .to_string();
        let f = flavor(&app, &cloud, json!({"name": "f1", "flavor_profile_id": fp})).await;
        let one = format!("{FLAVORS}/{}", f["id"].as_str().expect("id"));
        let missing = format!("{FLAVORS}/{NOPE}");
        let writes = [
            (
                "POST",
                FLAVORS,
                Some(json!({"flavor": {"name": "x", "flavor_profile_id": fp}})),
            ),
            ("PUT", one.as_str(), Some(json!({"flavor": {"name": "x"}}))),
            ("DELETE", one.as_str(), None),
            // Policy before the lookup: even a missing flavor is a 403 to write.
            ("DELETE", missing.as_str(), None),
        ];
        for token in [&cloud.alice, &cloud.rita, &cloud.olga] {
            let t = Some(token.as_str());
            let a = send(&app, "GET", FLAVORS, t).await;
            assert_eq!(
                a.body,
                json!({"flavors": [f], "flavors_links": []}),
                "{}",
                cloud.backend
            );
            let a = send(&app, "GET", &one, t).await;
            assert_eq!(a.body, json!({"flavor": f}), "{}", cloud.backend);
            all_refused(&app, token, &writes, 403, FORBIDDEN).await;
        }
        // Without the legacy roles olga holds nothing.
        let strict = cloud.lb(LbConfig {
            legacy_roles: false,
            ..LbConfig::default()
        });
        fault(
            &send(&strict, "GET", FLAVORS, Some(&cloud.olga)).await,
            403,
            FORBIDDEN,
        );
        assert_eq!(
            count(&app, &cloud, FLAVORS, "flavors").await,
            1,
            "{}",
            cloud.backend
        );
    }
}

#[tokio::test]
async fn flavor_listing_filters_sorts_and_pages() {
    for cloud in backends().await {
        let app = cloud.lb(LbConfig::default());
        let b = cloud.backend;
        let fp = profile(&app, &cloud, "p1", &single()).await["id"]
            .as_str()
            .expect("id")
            .to_string();
        let mut ids = Vec::new();
        for (name, enabled) in [("c", true), ("a", false), ("b", true)] {
            let f = flavor(
                &app,
                &cloud,
                json!({"name": name, "enabled": enabled, "flavor_profile_id": fp}),
            )
            .await;
            ids.push(f["id"].as_str().expect("id").to_string());
        }
        let get = |q: &str| {
            let app = app.clone();
            let token = cloud.alice.clone();
            let path = format!("{FLAVORS}{q}");
            async move { send(&app, "GET", &path, Some(&token)).await }
        };
        let mut by_id = ids.clone();
        by_id.sort();
        assert_eq!(
            keys(&get("").await.body, "flavors", "id"),
            by_id,
            "{b}: default order is id"
        );
        assert_eq!(
            keys(&get("?sort=name:desc").await.body, "flavors", "name"),
            ["c", "b", "a"],
            "{b}"
        );
        assert_eq!(
            keys(&get("?sort_key=name").await.body, "flavors", "name"),
            ["a", "b", "c"],
            "{b}"
        );
        assert_eq!(
            keys(&get("?enabled=false").await.body, "flavors", "name"),
            ["a"],
            "{b}"
        );
        assert_eq!(
            keys(
                &get("?enabled=true&sort=name").await.body,
                "flavors",
                "name"
            ),
            ["b", "c"],
            "{b}"
        );
        assert_eq!(
            keys(
                &get("?name=b&name=c&sort=name").await.body,
                "flavors",
                "name"
            ),
            ["b", "c"],
            "{b}"
        );
        assert_eq!(
            keys(
                &get(&format!("?flavor_profile_id={fp}&name=c")).await.body,
                "flavors",
                "id"
            ),
            [ids[0].clone()],
            "{b}"
        );
        let a = get("?fields=name&sort=name").await;
        assert_eq!(
            a.body["flavors"],
            json!([{"name": "a"}, {"name": "b"}, {"name": "c"}]),
            "{b}"
        );

        let first = get("?limit=2&sort=name").await;
        assert_eq!(keys(&first.body, "flavors", "name"), ["a", "b"], "{b}");
        assert_eq!(
            first.body["flavors_links"],
            json!([{"rel": "next",
                    "href": format!("http://127.0.0.1:9876/v2/lbaas/flavors?limit=2&sort=name&marker={}", ids[2])}]),
            "{b}"
        );
        let second = get(&format!("?limit=2&sort=name&marker={}", ids[2])).await;
        assert_eq!(keys(&second.body, "flavors", "name"), ["c"], "{b}");
        assert_eq!(
            second.body["flavors_links"],
            json!([{"rel": "previous",
                    "href": format!("http://127.0.0.1:9876/v2/lbaas/flavors?limit=2&sort=name&marker={}&page_reverse=True", ids[0])}]),
            "{b}"
        );
        let a = send(
            &app,
            "GET",
            "/v2.0/lbaas/flavors?limit=1&sort=name",
            Some(&cloud.alice),
        )
        .await;
        assert_eq!(
            a.body["flavors_links"][0]["href"],
            format!(
                "http://127.0.0.1:9876/v2.0/lbaas/flavors?limit=1&sort=name&marker={}",
                ids[1]
            ),
            "{b}: links follow the prefix used"
        );

        bad_queries(
            &app,
            &cloud.alice,
            FLAVORS,
            &[
                (
                    "?bogus=1",
                    "One or more arguments are either duplicate or invalid",
                ),
                ("?sort=color", "Supplied sort key 'color' is not valid."),
                (
                    "?marker=zzz",
                    "Supplied pagination marker 'zzz' is not valid.",
                ),
                (
                    "?created_at=x",
                    "One or more arguments are either duplicate or invalid",
                ),
            ],
        )
        .await;
    }
}

#[tokio::test]
async fn unsupported_methods_and_id_less_writes_answer_like_upstream() {
    for cloud in backends().await {
        let app = cloud.lb(LbConfig::default());
        let t = Some(cloud.admin.as_str());
        for path in [
            PROFILES,
            FLAVORS,
            "/v2/lbaas/flavors/x",
            "/v2.0/lbaas/flavorprofiles/x",
        ] {
            let a = send(&app, "PATCH", path, t).await;
            assert_eq!(a.status, 405, "{path}");
            assert_eq!(a.headers[header::ALLOW], "DELETE, GET, POST, PUT", "{path}");
            assert_eq!(
                a.body,
                json!({"code": 405, "title": "Method Not Allowed", "description": ""})
            );
        }
        missing_arguments(
            &app,
            &cloud.admin,
            &[
                ("PUT", PROFILES, "id"),
                ("DELETE", PROFILES, "flavor_profile_id"),
                ("PUT", FLAVORS, "id"),
                ("DELETE", FLAVORS, "flavor_id"),
                ("DELETE", "/v2/lbaas/flavors/", "flavor_id"),
            ],
        )
        .await;
    }
}
