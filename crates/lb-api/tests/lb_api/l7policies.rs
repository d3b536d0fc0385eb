//! L7 policies: create with the listener and load balancer held in
//! PENDING_UPDATE until the flow settles them, positions kept 1..n as
//! upstream's ordering list keeps them, show/list, update, delete, every
//! refusal with nothing stored, quotas, and the cascade delete of the
//! load balancer. The listeners and pools they hang on are written
//! straight into the store, so these tests depend only on the L7 API.

use axum::Router;
use neutrino_lb_api::LbConfig;
use neutrino_lb_types::enums::Protocol;
use neutrino_lb_types::model::Quota;
use serde_json::{Value, json};

use crate::admin_support::raw;
use crate::fixtures::{
    Row, active_lb, cascade_delete, clear_history, force_status, history, lb_row, listener_row,
    log_statuses, new_id, pool_row, reset_quota, seed, set_quota,
};
use crate::support::{
    BAD_REGEX, Cloud, FORBIDDEN, Req, all_refused, backends, bad_queries, fault, fault_starting,
    id_of, send, send_json,
};

pub const POLICIES: &str = "/v2/lbaas/l7policies";
pub const MISSING: &str = "8b1a6f2e-7a07-4a47-9c4b-7a6f3a1e0d11";

/// A load balancer of alice's (made through the API, ACTIVE) with an
/// HTTP, a TCP and a PROMETHEUS listener and an HTTP and a TCP pool;
/// and a second load balancer of hers with an HTTP pool.
pub struct Fixture {
    pub app: Router,
    pub project: String,
    pub lb: String,
    pub http: String,
    pub tcp: String,
    pub prometheus: String,
    pub pool: String,
    pub tcp_pool: String,
    pub far_pool: String,
}

pub async fn fixture(cloud: &Cloud, cidr: &str) -> Fixture {
    let app = cloud.lb(LbConfig::default());
    let lb = active_lb(cloud, &app, &cloud.alice, cidr).await;
    let f = Fixture {
        app,
        project: lb.project,
        lb: lb.id,
        http: new_id(),
        tcp: new_id(),
        prometheus: new_id(),
        pool: new_id(),
        tcp_pool: new_id(),
        far_pool: new_id(),
    };
    let far = new_id();
    let (p, lb) = (f.project.as_str(), f.lb.as_str());
    seed(
        &cloud.db,
        [
            Row::Listener(listener_row(&f.http, p, lb, Protocol::Http, 80)),
            Row::Listener(listener_row(&f.tcp, p, lb, Protocol::Tcp, 81)),
            Row::Listener(listener_row(&f.prometheus, p, lb, Protocol::Prometheus, 82)),
            Row::Pool(pool_row(&f.pool, p, lb, Protocol::Http)),
            Row::Pool(pool_row(&f.tcp_pool, p, lb, Protocol::Tcp)),
            Row::Lb(lb_row(&far, p)),
            Row::Pool(pool_row(&f.far_pool, p, &far, Protocol::Http)),
        ],
    )
    .await;
    f
}

impl Fixture {
    pub fn lb_path(&self) -> String {
        format!("/v2/lbaas/loadbalancers/{}", self.lb)
    }
}

/// The writes of a policy at `path`: a new one on the HTTP listener, a
/// rename, the delete.
fn writes<'a>(f: &Fixture, path: &'a str) -> [Req<'a>; 3] {
    let new = json!({"l7policy": {"listener_id": f.http, "action": "REJECT"}});
    [
        ("POST", POLICIES, Some(new)),
        ("PUT", path, Some(json!({"l7policy": {"name": "x"}}))),
        ("DELETE", path, None),
    ]
}

/// POSTs a policy as alice and returns its answer's body (asserting 201).
pub async fn create(cloud: &Cloud, f: &Fixture, body: Value) -> Value {
    let a = send_json(
        &f.app,
        "POST",
        POLICIES,
        Some(&cloud.alice),
        json!({ "l7policy": body }),
    )
    .await;
    assert_eq!(a.status, 201, "{} {}", cloud.backend, a.body);
    a.body["l7policy"].clone()
}

/// Waits until the policy and its load balancer are ACTIVE again.
pub async fn settled(cloud: &Cloud, f: &Fixture, policy: &str) -> Value {
    let p = cloud
        .wait_for(
            &f.app,
            &format!("{POLICIES}/{policy}"),
            "l7policy",
            "ACTIVE",
        )
        .await;
    cloud
        .wait_for(&f.app, &f.lb_path(), "loadbalancer", "ACTIVE")
        .await;
    p
}

#[tokio::test]
async fn create_show_update_delete_settle_the_listener_and_load_balancer() {
    for cloud in backends().await {
        let b = cloud.backend;
        let f = fixture(&cloud, "10.40.0.0/24").await;
        log_statuses(&cloud).await;
        let p = create(
            &cloud,
            &f,
            json!({"listener_id": f.http, "action": "REJECT",
            "name": "deny", "tags": ["t1", "t2"]}),
        )
        .await;
        let id = id_of(&p);
        assert!(p["created_at"].is_string(), "{b}");
        assert_eq!(
            p,
            json!({"id": id, "name": "deny", "description": "",
                "provisioning_status": "PENDING_CREATE", "operating_status": "OFFLINE",
                "admin_state_up": true, "project_id": f.project, "action": "REJECT",
                "listener_id": f.http, "redirect_pool_id": null, "redirect_url": null,
                "redirect_prefix": null, "position": 1, "rules": [],
                "created_at": p["created_at"], "updated_at": null, "tags": ["t1", "t2"],
                "redirect_http_code": null, "tenant_id": f.project}),
            "{b}"
        );
        let active = settled(&cloud, &f, &id).await;
        assert_eq!(active["operating_status"], "ONLINE", "{b}");
        assert!(active["updated_at"].is_string(), "{b}");
        cloud.assert_held_and_settled(&[&f.http, &f.lb]).await;
        assert_eq!(history(&cloud.db, &id).await, ["ACTIVE"], "{b}");
        assert_eq!(
            history(&cloud.db, &f.tcp).await,
            Vec::<String>::new(),
            "{b}: other listeners untouched"
        );

        // Show, with and without fields; both prefixes.
        let one = send(
            &f.app,
            "GET",
            &format!("{POLICIES}/{id}"),
            Some(&cloud.alice),
        )
        .await;
        assert_eq!(one.status, 200, "{b}");
        assert_eq!(one.body["l7policy"], active, "{b}");
        let sel = send(
            &f.app,
            "GET",
            &format!("/v2.0/lbaas/l7policies/{id}?fields=name&fields=position"),
            Some(&cloud.alice),
        )
        .await;
        assert_eq!(
            sel.body,
            json!({"l7policy": {"name": "deny", "position": 1}}),
            "{b}"
        );

        // Update: a target sets the action and its default code.
        clear_history(&cloud.db).await;
        let u = send_json(
            &f.app,
            "PUT",
            &format!("{POLICIES}/{id}"),
            Some(&cloud.alice),
            json!({"l7policy": {"name": "moved", "admin_state_up": false,
                "redirect_url": "http://www.example.com/x"}}),
        )
        .await;
        assert_eq!(u.status, 200, "{b}: {}", u.body);
        let up = &u.body["l7policy"];
        assert_eq!(up["provisioning_status"], "PENDING_UPDATE", "{b}");
        assert_eq!(
            (
                &up["name"],
                &up["action"],
                &up["redirect_url"],
                &up["redirect_http_code"]
            ),
            (
                &json!("moved"),
                &json!("REDIRECT_TO_URL"),
                &json!("http://www.example.com/x"),
                &json!(302)
            ),
            "{b}"
        );
        let done = settled(&cloud, &f, &id).await;
        assert_eq!(done["operating_status"], "OFFLINE", "{b}: disabled");
        assert_eq!(done["admin_state_up"], false, "{b}");
        cloud.assert_held_and_settled(&[&f.http, &id]).await;

        // The code alone changes alone (as upstream stores it).
        let u = send_json(
            &f.app,
            "PUT",
            &format!("{POLICIES}/{id}"),
            Some(&cloud.alice),
            json!({"l7policy": {"redirect_http_code": 301}}),
        )
        .await;
        assert_eq!(u.status, 200, "{b}: {}", u.body);
        assert_eq!(u.body["l7policy"]["redirect_http_code"], 301, "{b}");
        assert_eq!(
            u.body["l7policy"]["redirect_url"], "http://www.example.com/x",
            "{b}"
        );
        settled(&cloud, &f, &id).await;
        // A pool replaces the URL and drops the code.
        let u = send_json(
            &f.app,
            "PUT",
            &format!("{POLICIES}/{id}"),
            Some(&cloud.alice),
            json!({"l7policy": {"redirect_pool_id": f.pool}}),
        )
        .await;
        assert_eq!(u.status, 200, "{b}: {}", u.body);
        let up = &u.body["l7policy"];
        assert_eq!(
            (
                &up["action"],
                &up["redirect_pool_id"],
                &up["redirect_url"],
                &up["redirect_http_code"]
            ),
            (
                &json!("REDIRECT_TO_POOL"),
                &json!(f.pool),
                &Value::Null,
                &Value::Null
            ),
            "{b}"
        );
        settled(&cloud, &f, &id).await;
        // REJECT clears every target.
        let u = send_json(
            &f.app,
            "PUT",
            &format!("{POLICIES}/{id}"),
            Some(&cloud.alice),
            json!({"l7policy": {"action": "REJECT"}}),
        )
        .await;
        assert_eq!(u.body["l7policy"]["action"], "REJECT", "{b}");
        assert_eq!(u.body["l7policy"]["redirect_pool_id"], Value::Null, "{b}");
        settled(&cloud, &f, &id).await;

        // A reader reads but does not write; a legacy observer reads.
        let path = format!("{POLICIES}/{id}");
        assert_eq!(
            send(&f.app, "GET", &path, Some(&cloud.rita)).await.status,
            200,
            "{b}"
        );
        assert_eq!(
            send(&f.app, "GET", &path, Some(&cloud.olga)).await.status,
            200,
            "{b}"
        );
        let l = send(&f.app, "GET", POLICIES, Some(&cloud.rita)).await;
        assert_eq!(
            l.body["l7policies"].as_array().map(Vec::len),
            Some(1),
            "{b}"
        );
        all_refused(&f.app, &cloud.rita, &writes(&f, &path), 403, FORBIDDEN).await;
        cloud.assert_rows("lb_l7policies", 1).await;
        cloud
            .assert_statuses("ACTIVE", &[("lb_load_balancers", &f.lb)])
            .await;

        // Delete: the row goes with the flow, the parents settle.
        clear_history(&cloud.db).await;
        let d = send(&f.app, "DELETE", &path, Some(&cloud.alice)).await;
        assert_eq!(d.status, 204, "{b}: {}", d.body);
        cloud.wait_for(&f.app, &path, "l7policy", "DELETED").await;
        cloud
            .wait_for(&f.app, &f.lb_path(), "loadbalancer", "ACTIVE")
            .await;
        assert_eq!(history(&cloud.db, &id).await, ["PENDING_DELETE"], "{b}");
        cloud.assert_held_and_settled(&[&f.http]).await;
        cloud
            .assert_statuses("ACTIVE", &[("lb_listeners", &f.http)])
            .await;
        for table in ["lb_l7policies", "lb_flows"] {
            cloud.assert_rows(table, 0).await;
        }
        // Tags gone.
        cloud
            .assert_rows(&format!("lb_tags WHERE resource_id = '{id}'"), 0)
            .await;
        fault(
            &send(&f.app, "GET", &path, Some(&cloud.alice)).await,
            404,
            &format!("L7 Policy {id} not found."),
        );
    }
}

/// Positions (name → position) of a listener's policies, by position.
async fn positions(cloud: &Cloud, f: &Fixture) -> Vec<(String, i64)> {
    let a = send(
        &f.app,
        "GET",
        &format!(
            "{POLICIES}?listener_id={}&sort=position:asc&fields=name&fields=position",
            f.http
        ),
        Some(&cloud.alice),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    a.body["l7policies"]
        .as_array()
        .expect("list")
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap_or("").to_string(),
                p["position"].as_i64().expect("position"),
            )
        })
        .collect()
}

fn order(names: &[&str]) -> Vec<(String, i64)> {
    names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.to_string(), i as i64 + 1))
        .collect()
}

#[tokio::test]
async fn positions_insert_move_and_close_gaps() {
    for cloud in backends().await {
        let b = cloud.backend;
        let f = fixture(&cloud, "10.41.0.0/24").await;
        let mut ids = std::collections::HashMap::new();
        for (name, position) in [("a", None), ("b", Some(1)), ("c", Some(2)), ("d", Some(99))] {
            let mut body = json!({"listener_id": f.http, "action": "REJECT", "name": name});
            if let Some(p) = position {
                body["position"] = json!(p);
            }
            let p = create(&cloud, &f, body).await;
            ids.insert(name, id_of(&p));
            settled(&cloud, &f, &ids[name]).await;
        }
        assert_eq!(
            positions(&cloud, &f).await,
            order(&["b", "c", "a", "d"]),
            "{b}"
        );
        // The listener lists them in position order too.
        let listener = neutrino_store::lb::listeners::get(&cloud.db, &f.http)
            .await
            .expect("read")
            .expect("listener");
        assert_eq!(
            listener.l7policy_ids,
            ["b", "c", "a", "d"].map(|n| ids[n].clone()),
            "{b}"
        );
        let put = |name: &str, position: Value| {
            let path = format!("{POLICIES}/{}", ids[name]);
            let app = f.app.clone();
            let token = cloud.alice.clone();
            async move {
                let a = send_json(
                    &app,
                    "PUT",
                    &path,
                    Some(&token),
                    json!({"l7policy": {"position": position}}),
                )
                .await;
                assert_eq!(a.status, 200, "{}", a.body);
                a.body["l7policy"]["position"].clone()
            }
        };
        assert_eq!(put("d", json!(1)).await, 1, "{b}");
        settled(&cloud, &f, &ids["d"]).await;
        assert_eq!(
            positions(&cloud, &f).await,
            order(&["d", "b", "c", "a"]),
            "{b}"
        );
        assert_eq!(put("d", json!(3)).await, 3, "{b}");
        settled(&cloud, &f, &ids["d"]).await;
        assert_eq!(
            positions(&cloud, &f).await,
            order(&["b", "c", "d", "a"]),
            "{b}"
        );
        // Past the end, or null, is the end.
        assert_eq!(put("b", json!(10)).await, 4, "{b}");
        settled(&cloud, &f, &ids["b"]).await;
        assert_eq!(
            positions(&cloud, &f).await,
            order(&["c", "d", "a", "b"]),
            "{b}"
        );
        assert_eq!(put("c", Value::Null).await, 4, "{b}");
        settled(&cloud, &f, &ids["c"]).await;
        assert_eq!(
            positions(&cloud, &f).await,
            order(&["d", "a", "b", "c"]),
            "{b}"
        );
        // Unchanged position, unchanged order.
        assert_eq!(put("a", json!(2)).await, 2, "{b}");
        settled(&cloud, &f, &ids["a"]).await;
        assert_eq!(
            positions(&cloud, &f).await,
            order(&["d", "a", "b", "c"]),
            "{b}"
        );

        // A deleted policy keeps its place while PENDING_DELETE; its gap
        // closes when the row goes.
        let path = format!("{POLICIES}/{}", ids["a"]);
        assert_eq!(
            send(&f.app, "DELETE", &path, Some(&cloud.alice))
                .await
                .status,
            204,
            "{b}"
        );
        cloud.wait_for(&f.app, &path, "l7policy", "DELETED").await;
        cloud
            .wait_for(&f.app, &f.lb_path(), "loadbalancer", "ACTIVE")
            .await;
        assert_eq!(positions(&cloud, &f).await, order(&["d", "b", "c"]), "{b}");
        // A new one at 2 goes between.
        let e = create(
            &cloud,
            &f,
            json!({"listener_id": f.http, "action": "REJECT", "name": "e", "position": 2}),
        )
        .await;
        assert_eq!(e["position"], 2, "{b}");
        settled(&cloud, &f, &id_of(&e)).await;
        assert_eq!(
            positions(&cloud, &f).await,
            order(&["d", "e", "b", "c"]),
            "{b}"
        );
    }
}

#[tokio::test]
async fn list_filters_sorts_pages_and_scopes() {
    for cloud in backends().await {
        let b = cloud.backend;
        let f = fixture(&cloud, "10.42.0.0/24").await;
        let mut made = Vec::new();
        for (desc, admin, tags) in [
            ("B", true, json!(["x", "y"])),
            ("A", true, json!(["x"])),
            ("C", false, json!(["y"])),
        ] {
            let p = create(
                &cloud,
                &f,
                json!({"listener_id": f.http, "action": "REJECT",
                "description": desc, "admin_state_up": admin, "tags": tags, "position": 1}),
            )
            .await;
            settled(&cloud, &f, &id_of(&p)).await;
            made.push(id_of(&p));
        }
        let get = |q: String| {
            let app = f.app.clone();
            let token = cloud.alice.clone();
            async move { send(&app, "GET", &format!("{POLICIES}{q}"), Some(&token)).await }
        };
        let descs = |v: &Value| -> Vec<String> {
            v["l7policies"]
                .as_array()
                .expect("list")
                .iter()
                .map(|p| p["description"].as_str().unwrap_or("").to_string())
                .collect()
        };
        // Default order: created_at (to the second), then id.
        let all = get(format!("?listener_id={}", f.http)).await;
        let mut by_creation: Vec<(String, String, String)> = all.body["l7policies"]
            .as_array()
            .expect("list")
            .iter()
            .map(|p| {
                let s = |k: &str| p[k].as_str().unwrap_or("").to_string();
                (s("created_at"), s("id"), s("description"))
            })
            .collect();
        let listed = descs(&all.body);
        by_creation.sort();
        assert_eq!(
            listed,
            by_creation.into_iter().map(|t| t.2).collect::<Vec<_>>(),
            "{b}"
        );
        assert_eq!(listed.len(), 3, "{b}");
        assert_eq!(all.body["l7policies_links"], json!([]), "{b}");
        let sorted = get(format!("?listener_id={}&sort=description:desc", f.http)).await;
        assert_eq!(descs(&sorted.body), ["C", "B", "A"], "{b}");
        let filtered =
            get("?admin_state_up=true&fields=description&fields=id&sort=description:desc".into())
                .await;
        assert_eq!(descs(&filtered.body), ["B", "A"], "{b}");
        assert_eq!(
            filtered.body["l7policies"][0].as_object().map(|o| o.len()),
            Some(2),
            "{b}"
        );
        let by_desc = get("?description=A".into()).await;
        assert_eq!(by_desc.body["l7policies"][0]["id"], made[1].as_str(), "{b}");
        let tagged = get("?tags=x&not-tags=y".into()).await;
        assert_eq!(descs(&tagged.body), ["A"], "{b}");
        let by_action = get(format!("?action=REJECT&listener_id={}", f.tcp)).await;
        assert_eq!(by_action.body["l7policies"], json!([]), "{b}");
        // Pages.
        let page = get("?limit=2&sort=description".into()).await;
        assert_eq!(descs(&page.body), ["A", "B"], "{b}");
        assert_eq!(
            page.body["l7policies_links"],
            json!([{"rel": "next", "href": format!("http://127.0.0.1:9876/v2/lbaas/l7policies?limit=2&sort=description&marker={}", made[0])}]),
            "{b}"
        );
        let next = get(format!("?limit=2&sort=description&marker={}", made[0])).await;
        assert_eq!(descs(&next.body), ["C"], "{b}");
        bad_queries(
            &f.app,
            &cloud.alice,
            POLICIES,
            &[
                (
                    "?bogus=1",
                    "One or more arguments are either duplicate or invalid",
                ),
                ("?sort=nope", "Supplied sort key 'nope' is not valid."),
            ],
        )
        .await;
        // The admin sees them in alice's project; alice may not look into
        // the admin's.
        let admin = send(
            &f.app,
            "GET",
            &format!("{POLICIES}?project_id={}", f.project),
            Some(&cloud.admin),
        )
        .await;
        assert_eq!(
            admin.body["l7policies"].as_array().map(Vec::len),
            Some(3),
            "{b}"
        );
        let other = send(
            &f.app,
            "GET",
            &format!("{POLICIES}?project_id={MISSING}"),
            Some(&cloud.alice),
        )
        .await;
        fault(&other, 403, FORBIDDEN);
    }
}

#[tokio::test]
async fn bad_requests_store_nothing() {
    for cloud in backends().await {
        let b = cloud.backend;
        let f = fixture(&cloud, "10.43.0.0/24").await;
        let too_many: Vec<Value> = (0..51)
            .map(|i| json!({"type": "PATH", "compare_type": "EQUAL_TO", "value": format!("/{i}")}))
            .collect();
        let cases: Vec<(Value, u16, String)> = vec![
            (json!({"action": "REJECT"}), 400,
             "Invalid input for field/attribute listener_id. Value: 'None'. Mandatory field missing.".into()),
            (json!({"listener_id": f.http}), 400,
             "Invalid input for field/attribute action. Value: 'None'. Mandatory field missing.".into()),
            (json!({"listener_id": f.http, "action": "DROP"}), 400,
             "Invalid input for field/attribute action. Value: 'DROP'. Value should be one of: REJECT, REDIRECT_TO_URL, REDIRECT_TO_POOL, REDIRECT_PREFIX".into()),
            (json!({"listener_id": f.http, "action": "REDIRECT_TO_URL"}), 400,
             "Invalid L7 Policy arguments: redirect_url must not be None".into()),
            (json!({"listener_id": f.http, "action": "REDIRECT_TO_POOL"}), 400,
             "Invalid L7 Policy arguments: redirect_pool_id or redirect_pool must not be None".into()),
            (json!({"listener_id": f.http, "action": "REDIRECT_PREFIX"}), 400,
             "Invalid L7 Policy arguments: redirect_prefix must not be None".into()),
            (json!({"listener_id": f.http, "action": "REDIRECT_PREFIX", "redirect_prefix": "http://a.example", "redirect_pool_id": f.pool}), 400,
             "Invalid L7 Policy arguments: Cannot specify redirect_pool_id and redirect_url or redirect_prefix at the same time".into()),
            (json!({"listener_id": f.http, "action": "REDIRECT_TO_URL", "redirect_url": "ftp://a.example"}), 400,
             "Invalid input for field/attribute redirect_url. Value: 'ftp://a.example'. Value must be a valid URL string".into()),
            (json!({"listener_id": f.http, "action": "REJECT", "redirect_http_code": 300}), 400,
             "Invalid input for field/attribute redirect_http_code. Value: '300'. Value should be one of: 301, 302, 303, 307, 308".into()),
            (json!({"listener_id": f.http, "action": "REJECT", "position": 0}), 400,
             "Invalid input for field/attribute position. Value: '0'. Value should be greater or equal to 1".into()),
            (json!({"listener_id": "nope", "action": "REJECT"}), 400,
             "Invalid input for field/attribute listener_id. Value: 'nope'. Value should be UUID format".into()),
            (json!({"listener_id": MISSING, "action": "REJECT"}), 404,
             format!("Listener {MISSING} not found.")),
            (json!({"listener_id": f.prometheus, "action": "REJECT"}), 400,
             "Protocol PROMETHEUS listeners cannot have child objects.".into()),
            (json!({"listener_id": f.tcp, "action": "REJECT"}), 501,
             "Provider 'amphora' does not support a requested option: TCP protocol listeners do not support L7 policies".into()),
            (json!({"listener_id": f.http, "action": "REDIRECT_TO_POOL", "redirect_pool_id": MISSING}), 404,
             format!("Pool {MISSING} not found.")),
            (json!({"listener_id": f.http, "action": "REDIRECT_TO_POOL", "redirect_pool_id": f.tcp_pool}), 400,
             "Validation failure: The pool protocol 'TCP' is invalid while the listener protocol is 'HTTP'.".into()),
            (json!({"listener_id": f.http, "action": "REDIRECT_TO_POOL", "redirect_pool_id": f.far_pool}), 404,
             format!("Pool {} not found.", f.far_pool)),
            (json!({"listener_id": f.http, "action": "REJECT", "rules": [{"type": "HEADER", "compare_type": "EQUAL_TO", "value": "v"}]}), 400,
             "Error parsing L7Rule: Invalid L7 Rule: L7 rule type requires a key".into()),
            (json!({"listener_id": f.http, "action": "REJECT", "rules": [{"type": "PATH", "compare_type": "REGEX", "value": "(x"}]}), 400,
             String::new()),
            (json!({"listener_id": f.http, "action": "REJECT", "rules": too_many}), 409, String::new()),
            (json!({"listener_id": f.http, "action": "REJECT", "bogus": 1}), 400,
             "Unknown attribute for argument l7policy_.l7policy: bogus".into()),
        ];
        for (body, status, text) in cases {
            let a = send_json(
                &f.app,
                "POST",
                POLICIES,
                Some(&cloud.alice),
                json!({"l7policy": body}),
            )
            .await;
            if text.is_empty() {
                let want = if status == 409 {
                    "Too many rules on L7 policy "
                } else {
                    BAD_REGEX
                };
                fault_starting(&a, status, want);
            } else {
                fault(&a, status, &text);
            }
        }
        let not_json = raw(
            &f.app,
            "POST",
            POLICIES,
            &cloud.alice,
            Some("application/json"),
            "{",
        )
        .await;
        fault(&not_json, 400, "Request is not in valid JSON format");
        for table in ["lb_l7policies", "lb_l7rules", "lb_flows"] {
            cloud.assert_rows(table, 0).await;
        }
        let untouched = [
            ("lb_load_balancers", f.lb.as_str()),
            ("lb_listeners", &f.http),
            ("lb_listeners", &f.tcp),
        ];
        cloud.assert_statuses("ACTIVE", &untouched).await;

        // PUT and DELETE refusals leave the policy as it was.
        let p = create(
            &cloud,
            &f,
            json!({"listener_id": f.http, "action": "REJECT", "name": "keep"}),
        )
        .await;
        let id = id_of(&p);
        let before = settled(&cloud, &f, &id).await;
        let path = format!("{POLICIES}/{id}");
        let cases: Vec<(Value, u16, String)> = vec![
            (json!({}), 400, "Invalid L7 Policy arguments: Invalid update options".into()),
            (json!({"action": "REDIRECT_TO_URL"}), 400, "Invalid L7 Policy arguments: redirect_url must not be None".into()),
            (json!({"redirect_pool_id": MISSING}), 404, format!("Pool {MISSING} not found.")),
            (json!({"redirect_pool_id": f.tcp_pool}), 400,
             "Validation failure: The pool protocol 'TCP' is invalid while the listener protocol is 'HTTP'.".into()),
            (json!({"redirect_pool_id": f.far_pool}), 404, format!("Pool {} not found.", f.far_pool)),
            (json!({"listener_id": f.tcp}), 400, "Unknown attribute for argument l7policy_.l7policy: listener_id".into()),
            (json!({"position": -1}), 400,
             "Invalid input for field/attribute position. Value: '-1'. Value should be greater or equal to 1".into()),
        ];
        for (body, status, text) in cases {
            let a = send_json(
                &f.app,
                "PUT",
                &path,
                Some(&cloud.alice),
                json!({"l7policy": body}),
            )
            .await;
            fault(&a, status, &text);
        }
        fault(
            &send_json(
                &f.app,
                "PUT",
                &format!("{POLICIES}/{MISSING}"),
                Some(&cloud.alice),
                json!({"l7policy": {"name": "x"}}),
            )
            .await,
            404,
            &format!("L7 Policy {MISSING} not found."),
        );
        fault(
            &send(
                &f.app,
                "DELETE",
                &format!("{POLICIES}/{MISSING}"),
                Some(&cloud.alice),
            )
            .await,
            404,
            &format!("L7 Policy {MISSING} not found."),
        );
        let after = send(&f.app, "GET", &path, Some(&cloud.alice)).await;
        assert_eq!(after.body["l7policy"], before, "{b}");
        cloud.assert_rows("lb_flows", 0).await;
    }
}

#[tokio::test]
async fn a_pending_load_balancer_is_immutable() {
    for cloud in backends().await {
        let b = cloud.backend;
        let f = fixture(&cloud, "10.44.0.0/24").await;
        let p = create(
            &cloud,
            &f,
            json!({"listener_id": f.http, "action": "REJECT"}),
        )
        .await;
        let id = id_of(&p);
        let before = settled(&cloud, &f, &id).await;
        let immutable = format!("Load Balancer {} is immutable and cannot be updated.", f.lb);
        for status in ["PENDING_UPDATE", "ERROR"] {
            force_status(&cloud.db, "lb_load_balancers", &f.lb, status).await;
            let path = format!("{POLICIES}/{id}");
            all_refused(&f.app, &cloud.alice, &writes(&f, &path), 409, &immutable).await;
            cloud.assert_rows("lb_l7policies", 1).await;
            cloud.assert_rows("lb_flows", 0).await;
            cloud
                .assert_statuses("ACTIVE", &[("lb_listeners", &f.http)])
                .await;
            assert_eq!(
                send(&f.app, "GET", &path, Some(&cloud.alice)).await.body["l7policy"],
                before,
                "{b}"
            );
        }
        force_status(&cloud.db, "lb_load_balancers", &f.lb, "ACTIVE").await;
    }
}

#[tokio::test]
async fn quotas_count_policies_and_their_rules() {
    for cloud in backends().await {
        let f = fixture(&cloud, "10.45.0.0/24").await;
        let q = Quota {
            l7policy: Some(2),
            l7rule: Some(1),
            ..Quota::default()
        };
        set_quota(&cloud.db, &f.project, q).await;
        let rule = json!({"type": "PATH", "compare_type": "STARTS_WITH", "value": "/api"});
        fault(
            &send_json(&f.app, "POST", POLICIES, Some(&cloud.alice),
                json!({"l7policy": {"listener_id": f.http, "action": "REJECT", "rules": [rule, rule]}})).await,
            403,
            "Quota has been met for resources: L7 Rule",
        );
        cloud.assert_rows("lb_l7policies", 0).await;
        let p = create(
            &cloud,
            &f,
            json!({"listener_id": f.http, "action": "REJECT", "rules": [rule]}),
        )
        .await;
        settled(&cloud, &f, &id_of(&p)).await;
        let p = create(
            &cloud,
            &f,
            json!({"listener_id": f.http, "action": "REJECT"}),
        )
        .await;
        settled(&cloud, &f, &id_of(&p)).await;
        fault(
            &send_json(
                &f.app,
                "POST",
                POLICIES,
                Some(&cloud.alice),
                json!({"l7policy": {"listener_id": f.http, "action": "REJECT"}}),
            )
            .await,
            403,
            "Quota has been met for resources: L7 Policy",
        );
        cloud.assert_rows("lb_l7policies", 2).await;
        cloud.assert_rows("lb_l7rules", 1).await;
        // The default quota applies to projects without their own.
        let limited = cloud.lb(LbConfig {
            default_quota: 0,
            ..LbConfig::default()
        });
        reset_quota(&cloud.db, &f.project).await;
        fault(
            &send_json(
                &limited,
                "POST",
                POLICIES,
                Some(&cloud.alice),
                json!({"l7policy": {"listener_id": f.http, "action": "REJECT"}}),
            )
            .await,
            403,
            "Quota has been met for resources: L7 Policy",
        );
        cloud.assert_rows("lb_l7policies", 2).await;
    }
}

#[tokio::test]
async fn rules_given_with_a_policy_are_created_with_it() {
    for cloud in backends().await {
        let b = cloud.backend;
        let f = fixture(&cloud, "10.46.0.0/24").await;
        log_statuses(&cloud).await;
        let p = create(
            &cloud,
            &f,
            json!({"listener_id": f.http, "action": "REDIRECT_PREFIX",
            "redirect_prefix": "https://new.example", "redirect_http_code": 308,
            "rules": [
                {"type": "HOST_NAME", "compare_type": "ENDS_WITH", "value": ".old.example"},
                {"type": "HEADER", "compare_type": "EQUAL_TO", "key": "X-Old", "value": "1",
                 "invert": true, "admin_state_up": false, "tags": ["r"]}
            ]}),
        )
        .await;
        let id = id_of(&p);
        assert_eq!(p["redirect_http_code"], 308, "{b}");
        assert_eq!(p["action"], "REDIRECT_PREFIX", "{b}");
        let rule_ids: Vec<String> = p["rules"]
            .as_array()
            .expect("rules")
            .iter()
            .map(id_of)
            .collect();
        assert_eq!(rule_ids.len(), 2, "{b}: {p}");
        settled(&cloud, &f, &id).await;
        let rules = send(
            &f.app,
            "GET",
            &format!("{POLICIES}/{id}/rules"),
            Some(&cloud.alice),
        )
        .await;
        assert_eq!(rules.status, 200, "{b}");
        let list = rules.body["rules"].as_array().expect("rules").clone();
        assert_eq!(list.len(), 2, "{b}");
        for r in &list {
            assert!(rule_ids.contains(&id_of(r)), "{b}");
            assert_eq!(r["provisioning_status"], "ACTIVE", "{b}");
            assert_eq!(history(&cloud.db, &id_of(r)).await, ["ACTIVE"], "{b}");
        }
        let header = list
            .iter()
            .find(|r| r["type"] == "HEADER")
            .expect("header rule");
        assert_eq!(
            (
                &header["key"],
                &header["invert"],
                &header["admin_state_up"],
                &header["operating_status"],
                &header["tags"]
            ),
            (
                &json!("X-Old"),
                &json!(true),
                &json!(false),
                &json!("OFFLINE"),
                &json!(["r"])
            ),
            "{b}"
        );
        let host = list
            .iter()
            .find(|r| r["type"] == "HOST_NAME")
            .expect("host rule");
        assert_eq!(host["operating_status"], "ONLINE", "{b}");
        assert_eq!(host["project_id"], f.project.as_str(), "{b}");
    }
}

#[tokio::test]
async fn cascade_delete_of_the_load_balancer_takes_policies_and_rules() {
    for cloud in backends().await {
        let f = fixture(&cloud, "10.47.0.0/24").await;
        let p = create(&cloud, &f, json!({"listener_id": f.http, "action": "REDIRECT_TO_POOL",
            "redirect_pool_id": f.pool, "tags": ["p"],
            "rules": [{"type": "PATH", "compare_type": "STARTS_WITH", "value": "/a", "tags": ["r"]}]}))
        .await;
        settled(&cloud, &f, &id_of(&p)).await;
        cloud.assert_rows("lb_l7rules", 1).await;
        cascade_delete(&cloud, &f.app, &f.lb).await;
        for table in ["lb_l7policies", "lb_l7rules"] {
            cloud.assert_rows(table, 0).await;
        }
        for tag in ["p", "r"] {
            cloud
                .assert_rows(&format!("lb_tags WHERE tag = '{tag}'"), 0)
                .await;
        }
    }
}
