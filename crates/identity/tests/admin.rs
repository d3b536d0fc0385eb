//! The admin API: domains, projects, users, roles, assignments, and the
//! calls tempest's dynamic credentials make.

mod common;

use axum::http::{Method, StatusCode};
use common::{Harness, password_auth, role_names};
use serde_json::{Value, json};

on_every_backend!(
    member_is_forbidden_admin_calls,
    duplicate_names_conflict,
    domain_lifecycle,
    project_fields_and_filters,
    users_never_show_passwords,
    role_crud_and_inference_rules,
    assignment_checks_and_listing,
    role_assignments_query,
    bad_bodies_are_400,
    tempest_dynamic_credentials,
    catalog_resources,
);

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn member_is_forbidden_admin_calls(h: &Harness) {
    let (user, project, token) = h.user_with_role("member-user", "member").await;
    let admin_role = h.boot.admin_role_id.clone();
    let calls: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, "/v3/users".into(), None),
        (
            Method::POST,
            "/v3/users".into(),
            Some(json!({"user": {"name": "x"}})),
        ),
        (
            Method::DELETE,
            format!("/v3/users/{}", h.boot.admin_user_id),
            None,
        ),
        (Method::GET, "/v3/projects".into(), None),
        (
            Method::POST,
            "/v3/projects".into(),
            Some(json!({"project": {"name": "x"}})),
        ),
        (
            Method::PATCH,
            format!("/v3/projects/{project}"),
            Some(json!({"project": {"name": "y"}})),
        ),
        (Method::DELETE, format!("/v3/projects/{project}"), None),
        (Method::GET, "/v3/domains".into(), None),
        (
            Method::POST,
            "/v3/domains".into(),
            Some(json!({"domain": {"name": "x"}})),
        ),
        (Method::GET, "/v3/roles".into(), None),
        (
            Method::POST,
            "/v3/roles".into(),
            Some(json!({"role": {"name": "x"}})),
        ),
        (
            Method::PUT,
            format!("/v3/projects/{project}/users/{user}/roles/{admin_role}"),
            None,
        ),
        (Method::GET, "/v3/role_assignments".into(), None),
        (
            Method::GET,
            format!("/v3/users/{}", h.boot.admin_user_id),
            None,
        ),
    ];
    for (method, path, body) in calls {
        let r = h.call(method.clone(), &path, Some(&token), body).await;
        assert_eq!(
            r.status,
            StatusCode::FORBIDDEN,
            "{method} {path}: {}",
            r.body
        );
        assert_eq!(r.body["error"]["title"], "Forbidden");
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("identity:")
        );
    }
    // Nothing changed.
    h.get(&format!("/v3/projects/{project}"), &h.admin)
        .await
        .expect(StatusCode::OK);
    let body = h
        .get(
            &format!("/v3/projects/{project}/users/{user}/roles"),
            &h.admin,
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(body["roles"].as_array().unwrap().len(), 1);
    // What a member may see: itself and its own project.
    h.get(&format!("/v3/users/{user}"), &token)
        .await
        .expect(StatusCode::OK);
    h.get(&format!("/v3/projects/{project}"), &token)
        .await
        .expect(StatusCode::OK);
    h.get(&format!("/v3/users/{user}/projects"), &token)
        .await
        .expect(StatusCode::OK);
    h.get("/v3/domains/default", &token)
        .await
        .expect(StatusCode::OK);
}

async fn duplicate_names_conflict(h: &Harness) {
    h.create_user("dup", "pw").await;
    let r = h
        .post(
            "/v3/users",
            &h.admin,
            json!({"user": {"name": "dup", "password": "x", "domain_id": "default"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.body["error"]["code"], 409);
    assert_eq!(r.body["error"]["title"], "Conflict");
    // The same name in another domain is fine.
    let d = h
        .post(
            "/v3/domains",
            &h.admin,
            json!({"domain": {"name": "other"}}),
        )
        .await
        .expect(StatusCode::CREATED);
    let other = d["domain"]["id"].as_str().unwrap();
    let u = h
        .post(
            "/v3/users",
            &h.admin,
            json!({"user": {"name": "dup", "domain_id": other}}),
        )
        .await;
    assert_eq!(u.expect(StatusCode::CREATED)["user"]["domain_id"], other);
    // Renaming onto an existing name conflicts too.
    let id = h.create_user("dup2", "pw").await;
    h.patch(
        &format!("/v3/users/{id}"),
        &h.admin,
        json!({"user": {"name": "dup"}}),
    )
    .await
    .expect(StatusCode::CONFLICT);

    h.create_project("dup-p").await;
    h.post(
        "/v3/projects",
        &h.admin,
        json!({"project": {"name": "dup-p", "domain_id": "default"}}),
    )
    .await
    .expect(StatusCode::CONFLICT);
    h.post("/v3/roles", &h.admin, json!({"role": {"name": "member"}}))
        .await
        .expect(StatusCode::CONFLICT);
    h.post(
        "/v3/domains",
        &h.admin,
        json!({"domain": {"name": "other"}}),
    )
    .await
    .expect(StatusCode::CONFLICT);
}

async fn domain_lifecycle(h: &Harness) {
    let d = h
        .post(
            "/v3/domains",
            &h.admin,
            json!({"domain": {"name": "dom", "description": "a domain"}}),
        )
        .await
        .expect(StatusCode::CREATED);
    let id = d["domain"]["id"].as_str().unwrap().to_owned();
    assert_eq!(d["domain"]["enabled"], true);
    assert_eq!(d["domain"]["tags"], json!([]));
    assert_eq!(d["domain"]["options"], json!({}));
    assert_eq!(
        d["domain"]["links"]["self"],
        format!("http://127.0.0.1:9696/identity/v3/domains/{id}").as_str()
    );
    let list = h
        .get("/v3/domains?name=dom", &h.admin)
        .await
        .expect(StatusCode::OK);
    assert_eq!(ids(&list["domains"]), [id.as_str()]);
    let list = h
        .get("/v3/domains?name=Default", &h.admin)
        .await
        .expect(StatusCode::OK);
    assert_eq!(list["domains"][0]["id"], "default");
    assert_eq!(
        list["links"]["self"],
        "http://127.0.0.1:9696/identity/v3/domains?name=Default"
    );
    // A project and a user inside it go away with it.
    let p = h
        .post(
            "/v3/projects",
            &h.admin,
            json!({"project": {"name": "in-dom", "domain_id": id}}),
        )
        .await;
    let pid = p.expect(StatusCode::CREATED)["project"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        h.get(&format!("/v3/projects/{pid}"), &h.admin)
            .await
            .expect(StatusCode::OK)["project"]["parent_id"],
        id.as_str()
    );

    let r = h.delete(&format!("/v3/domains/{id}"), &h.admin).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "enabled domain deleted");
    let d = h
        .patch(
            &format!("/v3/domains/{id}"),
            &h.admin,
            json!({"domain": {"enabled": false}}),
        )
        .await;
    assert_eq!(d.expect(StatusCode::OK)["domain"]["enabled"], false);
    h.delete(&format!("/v3/domains/{id}"), &h.admin)
        .await
        .expect(StatusCode::NO_CONTENT);
    h.get(&format!("/v3/domains/{id}"), &h.admin)
        .await
        .expect(StatusCode::NOT_FOUND);
    h.get(&format!("/v3/projects/{pid}"), &h.admin)
        .await
        .expect(StatusCode::NOT_FOUND);
    h.delete(&format!("/v3/domains/{id}"), &h.admin)
        .await
        .expect(StatusCode::NOT_FOUND);
}

async fn project_fields_and_filters(h: &Harness) {
    let body = h
        .post(
            "/v3/projects",
            &h.admin,
            json!({"project": {"name": "proj", "description": "d", "domain_id": "default", "tags": ["a", "b"]}}),
        )
        .await
        .expect(StatusCode::CREATED);
    let p = &body["project"];
    let id = p["id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 32);
    assert_eq!(p["name"], "proj");
    assert_eq!(p["domain_id"], "default");
    assert_eq!(p["parent_id"], "default");
    assert_eq!(p["is_domain"], false);
    assert_eq!(p["enabled"], true);
    assert_eq!(p["tags"], json!(["a", "b"]));
    assert_eq!(p["options"], json!({}));
    assert_eq!(
        p["links"]["self"],
        format!("http://127.0.0.1:9696/identity/v3/projects/{id}").as_str()
    );
    // A child project.
    let child = h
        .post(
            "/v3/projects",
            &h.admin,
            json!({"project": {"name": "child", "parent_id": id}}),
        )
        .await
        .expect(StatusCode::CREATED);
    let child_id = child["project"]["id"].as_str().unwrap().to_owned();
    assert_eq!(child["project"]["parent_id"], id.as_str());
    assert_eq!(child["project"]["domain_id"], "default");
    let list = h
        .get(&format!("/v3/projects?parent_id={id}"), &h.admin)
        .await
        .expect(StatusCode::OK);
    assert_eq!(ids(&list["projects"]), [child_id.as_str()]);
    h.delete(&format!("/v3/projects/{id}"), &h.admin)
        .await
        .expect(StatusCode::FORBIDDEN);

    let list = h
        .get("/v3/projects?name=proj", &h.admin)
        .await
        .expect(StatusCode::OK);
    assert_eq!(ids(&list["projects"]), [id.as_str()]);
    let list = h
        .get("/v3/projects?domain_id=default", &h.admin)
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        list["projects"].as_array().unwrap().len(),
        4,
        "admin, service, proj, child"
    );
    let updated = h
        .patch(
            &format!("/v3/projects/{id}"),
            &h.admin,
            json!({"project": {"description": "new", "enabled": false}}),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(updated["project"]["description"], "new");
    assert_eq!(updated["project"]["name"], "proj");
    let list = h
        .get("/v3/projects?enabled=false", &h.admin)
        .await
        .expect(StatusCode::OK);
    assert_eq!(ids(&list["projects"]), [id.as_str()]);
    h.delete(&format!("/v3/projects/{child_id}"), &h.admin)
        .await
        .expect(StatusCode::NO_CONTENT);
    h.delete(&format!("/v3/projects/{id}"), &h.admin)
        .await
        .expect(StatusCode::NO_CONTENT);
    h.delete(&format!("/v3/projects/{id}"), &h.admin)
        .await
        .expect(StatusCode::NOT_FOUND);
    let r = h.get(&format!("/v3/projects/{id}"), &h.admin).await;
    assert_eq!(
        r.body["error"]["message"],
        format!("Could not find project: {id}.").as_str()
    );
}

async fn users_never_show_passwords(h: &Harness) {
    let body = h
        .post(
            "/v3/users",
            &h.admin,
            json!({"user": {"name": "u1", "password": "hunter2", "email": "u1@example.org", "description": "d"}}),
        )
        .await
        .expect(StatusCode::CREATED);
    let u = &body["user"];
    let id = u["id"].as_str().unwrap().to_owned();
    assert_eq!(u["domain_id"], "default");
    assert_eq!(u["email"], "u1@example.org");
    assert_eq!(u["enabled"], true);
    assert!(u["password_expires_at"].is_null());
    let check = |v: &Value| {
        let text = v.to_string();
        assert!(
            !text.contains("hunter2")
                && !text.contains("argon2")
                && !text.contains("password\":\""),
            "{text}"
        );
    };
    check(&body);
    check(
        &h.get(&format!("/v3/users/{id}"), &h.admin)
            .await
            .expect(StatusCode::OK),
    );
    let list = h
        .get("/v3/users?name=u1", &h.admin)
        .await
        .expect(StatusCode::OK);
    assert_eq!(ids(&list["users"]), [id.as_str()]);
    check(&list);
    let updated = h
        .patch(
            &format!("/v3/users/{id}"),
            &h.admin,
            json!({"user": {"password": "hunter3", "email": null}}),
        )
        .await
        .expect(StatusCode::OK);
    check(&updated);
    assert!(updated["user"].get("email").is_none());
    assert_eq!(updated["user"]["description"], "d");
    h.auth(password_auth("u1", "hunter3", None))
        .await
        .expect(StatusCode::CREATED);
    h.auth(password_auth("u1", "hunter2", None))
        .await
        .expect(StatusCode::UNAUTHORIZED);
    let list = h
        .get("/v3/users?domain_id=default", &h.admin)
        .await
        .expect(StatusCode::OK);
    assert_eq!(list["users"].as_array().unwrap().len(), 2);
    h.delete(&format!("/v3/users/{id}"), &h.admin)
        .await
        .expect(StatusCode::NO_CONTENT);
    h.get(&format!("/v3/users/{id}"), &h.admin)
        .await
        .expect(StatusCode::NOT_FOUND);
    h.delete(&format!("/v3/users/{id}"), &h.admin)
        .await
        .expect(StatusCode::NOT_FOUND);
}

async fn role_crud_and_inference_rules(h: &Harness) {
    let r = h
        .post(
            "/v3/roles",
            &h.admin,
            json!({"role": {"name": "observer", "description": "looks"}}),
        )
        .await
        .expect(StatusCode::CREATED);
    let id = r["role"]["id"].as_str().unwrap().to_owned();
    assert!(r["role"]["domain_id"].is_null());
    assert_eq!(r["role"]["description"], "looks");
    assert_eq!(r["role"]["options"], json!({}));
    let r = h
        .get(&format!("/v3/roles/{id}"), &h.admin)
        .await
        .expect(StatusCode::OK);
    assert_eq!(r["role"]["name"], "observer");
    let r = h
        .patch(
            &format!("/v3/roles/{id}"),
            &h.admin,
            json!({"role": {"name": "watcher"}}),
        )
        .await;
    assert_eq!(r.expect(StatusCode::OK)["role"]["name"], "watcher");
    let list = h
        .get("/v3/roles?name=watcher", &h.admin)
        .await
        .expect(StatusCode::OK);
    assert_eq!(ids(&list["roles"]), [id.as_str()]);

    let rules = h
        .get("/v3/role_inferences", &h.admin)
        .await
        .expect(StatusCode::OK);
    let admin_rule = rules["role_inferences"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["prior_role"]["name"] == "admin")
        .cloned()
        .unwrap();
    assert_eq!(admin_rule["implies"][0]["name"], "manager");
    let reader = h.role_id("reader").await;
    h.put(&format!("/v3/roles/{id}/implies/{reader}"), &h.admin)
        .await
        .expect(StatusCode::CREATED);
    h.call(
        Method::HEAD,
        &format!("/v3/roles/{id}/implies/{reader}"),
        Some(&h.admin),
        None,
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    let implied = h
        .get(&format!("/v3/roles/{id}/implies"), &h.admin)
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        implied["role_inference"]["implies"][0]["id"],
        reader.as_str()
    );
    h.delete(&format!("/v3/roles/{id}/implies/{reader}"), &h.admin)
        .await
        .expect(StatusCode::NO_CONTENT);
    h.get(&format!("/v3/roles/{id}/implies/{reader}"), &h.admin)
        .await
        .expect(StatusCode::NOT_FOUND);

    // Deleting a role removes its assignments.
    let (user, project, _) = h.user_with_role("role-holder", "watcher").await;
    h.delete(&format!("/v3/roles/{id}"), &h.admin)
        .await
        .expect(StatusCode::NO_CONTENT);
    h.get(&format!("/v3/roles/{id}"), &h.admin)
        .await
        .expect(StatusCode::NOT_FOUND);
    let roles = h
        .get(
            &format!("/v3/projects/{project}/users/{user}/roles"),
            &h.admin,
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(roles["roles"], json!([]));
}

async fn assignment_checks_and_listing(h: &Harness) {
    let project = h.create_project("asg").await;
    let user = h.create_user("asg-user", "pw").await;
    let member = h.role_id("member").await;
    let path = format!("/v3/projects/{project}/users/{user}/roles/{member}");
    h.call(Method::HEAD, &path, Some(&h.admin), None)
        .await
        .expect(StatusCode::NOT_FOUND);
    h.put(&path, &h.admin).await.expect(StatusCode::NO_CONTENT);
    // Granting again is fine.
    h.put(&path, &h.admin).await.expect(StatusCode::NO_CONTENT);
    h.call(Method::HEAD, &path, Some(&h.admin), None)
        .await
        .expect(StatusCode::NO_CONTENT);
    h.get(&path, &h.admin).await.expect(StatusCode::NO_CONTENT);
    let roles = h
        .get(
            &format!("/v3/projects/{project}/users/{user}/roles"),
            &h.admin,
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(ids(&roles["roles"]), [member.as_str()]);
    assert_eq!(roles["roles"][0]["name"], "member");
    // Unknown pieces: 404.
    h.put(
        &format!("/v3/projects/nope/users/{user}/roles/{member}"),
        &h.admin,
    )
    .await
    .expect(StatusCode::NOT_FOUND);
    h.put(
        &format!("/v3/projects/{project}/users/nope/roles/{member}"),
        &h.admin,
    )
    .await
    .expect(StatusCode::NOT_FOUND);
    h.put(
        &format!("/v3/projects/{project}/users/{user}/roles/nope"),
        &h.admin,
    )
    .await
    .expect(StatusCode::NOT_FOUND);
    let projects = h
        .get(&format!("/v3/users/{user}/projects"), &h.admin)
        .await
        .expect(StatusCode::OK);
    assert_eq!(ids(&projects["projects"]), [project.as_str()]);
    h.delete(&path, &h.admin)
        .await
        .expect(StatusCode::NO_CONTENT);
    h.delete(&path, &h.admin)
        .await
        .expect(StatusCode::NOT_FOUND);

    // Domain and system grants.
    let dpath = format!("/v3/domains/default/users/{user}/roles/{member}");
    h.put(&dpath, &h.admin).await.expect(StatusCode::NO_CONTENT);
    h.call(Method::HEAD, &dpath, Some(&h.admin), None)
        .await
        .expect(StatusCode::NO_CONTENT);
    let roles = h
        .get(&format!("/v3/domains/default/users/{user}/roles"), &h.admin)
        .await
        .expect(StatusCode::OK);
    assert_eq!(ids(&roles["roles"]), [member.as_str()]);
    let spath = format!("/v3/system/users/{user}/roles/{member}");
    h.put(&spath, &h.admin).await.expect(StatusCode::NO_CONTENT);
    let auth = json!({"identity": {"methods": ["password"], "password": {"user": {"id": user, "password": "pw"}}},
                      "scope": {"system": {"all": true}}});
    let body = h.auth(auth).await.expect(StatusCode::CREATED);
    assert_eq!(body["token"]["system"], json!({"all": true}));
    assert_eq!(role_names(&body), ["member", "reader"]);
}

async fn role_assignments_query(h: &Harness) {
    let (user, project, _) = h.user_with_role("ra-user", "member").await;
    let member = h.role_id("member").await;
    let reader = h.role_id("reader").await;
    let q = format!("/v3/role_assignments?user.id={user}");
    let body = h.get(&q, &h.admin).await.expect(StatusCode::OK);
    let list = body["role_assignments"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["role"], json!({"id": member}));
    assert_eq!(list[0]["user"], json!({"id": user}));
    assert_eq!(list[0]["scope"], json!({"project": {"id": project}}));
    assert_eq!(
        list[0]["links"]["assignment"],
        format!("http://127.0.0.1:9696/identity/v3/projects/{project}/users/{user}/roles/{member}")
            .as_str()
    );
    // Effective: implied roles too.
    let body = h
        .get(&format!("{q}&effective"), &h.admin)
        .await
        .expect(StatusCode::OK);
    let roles: Vec<&str> = body["role_assignments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["role"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(roles, [member.as_str(), reader.as_str()]);
    let body = h
        .get(&format!("{q}&effective&role.id={reader}"), &h.admin)
        .await
        .expect(StatusCode::OK);
    assert_eq!(body["role_assignments"].as_array().unwrap().len(), 1);
    let body = h
        .get(&format!("{q}&role.id={reader}"), &h.admin)
        .await
        .expect(StatusCode::OK);
    assert_eq!(body["role_assignments"], json!([]));
    // Names.
    let body = h
        .get(&format!("{q}&include_names=1"), &h.admin)
        .await
        .expect(StatusCode::OK);
    let a = &body["role_assignments"][0];
    assert_eq!(a["role"]["name"], "member");
    assert_eq!(a["user"]["name"], "ra-user");
    assert_eq!(
        a["user"]["domain"],
        json!({"id": "default", "name": "Default"})
    );
    assert_eq!(a["scope"]["project"]["name"], "ra-user-project");
    assert_eq!(a["scope"]["project"]["domain"]["name"], "Default");
    // By project and by role.
    let body = h
        .get(
            &format!(
                "/v3/role_assignments?scope.project.id={}",
                h.boot.admin_project_id
            ),
            &h.admin,
        )
        .await;
    let body = body.expect(StatusCode::OK);
    let users: Vec<&str> = body["role_assignments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["user"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(users, [h.boot.admin_user_id.as_str()]);
    let body = h
        .get(&format!("/v3/role_assignments?role.id={member}"), &h.admin)
        .await
        .expect(StatusCode::OK);
    assert_eq!(body["role_assignments"].as_array().unwrap().len(), 1);
    let body = h
        .get("/v3/role_assignments?group.id=x", &h.admin)
        .await
        .expect(StatusCode::OK);
    assert_eq!(body["role_assignments"], json!([]));
}

async fn bad_bodies_are_400(h: &Harness) {
    let r = h
        .send(
            axum::http::Request::post("/v3/users")
                .header("x-auth-token", &h.admin)
                .body(axum::body::Body::from("{\"user\":"))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["error"]["code"], 400);
    for (path, body) in [
        ("/v3/users", json!({"user": {"password": "x"}})),
        ("/v3/users", json!({"name": "x"})),
        ("/v3/users", json!({"user": {"name": 5}})),
        (
            "/v3/users",
            json!({"user": {"name": "x", "enabled": "yes"}}),
        ),
        ("/v3/projects", json!({"project": {"name": ""}})),
        (
            "/v3/projects",
            json!({"project": {"name": "x", "domain_id": "nope"}}),
        ),
        (
            "/v3/projects",
            json!({"project": {"name": "x", "tags": [1]}}),
        ),
        ("/v3/roles", json!({"role": {}})),
        ("/v3/domains", json!({"domain": []})),
    ] {
        let r = h.post(path, &h.admin, body.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::BAD_REQUEST,
            "{path} {body}: {}",
            r.body
        );
        assert_eq!(r.body["error"]["title"], "Bad Request");
    }
}

/// The calls tempest's dynamic credential provider makes (cred_client.py,
/// dynamic_creds.py), in its order and with its bodies.
async fn tempest_dynamic_credentials(h: &Harness) {
    let admin = &h.admin;
    // V3CredsClient.__init__: the credentials domain by name.
    let domains = h
        .get("/v3/domains?name=Default", admin)
        .await
        .expect(StatusCode::OK);
    let domain = domains["domains"][0].clone();
    assert_eq!(domain["id"], "default");
    // create_project(name, description, domain_id)
    let name = "tempest-TestNetworks-123456789";
    let p = h
        .post("/v3/projects", admin,
              json!({"project": {"name": name, "description": format!("{name}-desc"), "domain_id": domain["id"]}}))
        .await
        .expect(StatusCode::CREATED)["project"]
        .clone();
    // create_user(name, password, domain_id) (no project)
    let username = format!("{name}-project");
    let u = h
        .post("/v3/users", admin,
              json!({"user": {"name": username, "password": "Pa55-word!", "domain_id": domain["id"]}}))
        .await
        .expect(StatusCode::CREATED)["user"]
        .clone();
    // _check_role_exists: list all roles, match by lower-cased name.
    let roles = h.get("/v3/roles", admin).await.expect(StatusCode::OK);
    let role_id = |n: &str| {
        roles["roles"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"].as_str().unwrap().to_lowercase() == n)
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .unwrap_or_else(|| panic!("no {n} role"))
    };
    // create_user_role('member') tolerates a conflict.
    h.post("/v3/roles", admin, json!({"role": {"name": "member"}}))
        .await
        .expect(StatusCode::CONFLICT);
    for role in ["member", "reader", "admin", "load-balancer_member"] {
        let path = format!(
            "/v3/projects/{}/users/{}/roles/{}",
            p["id"].as_str().unwrap(),
            u["id"].as_str().unwrap(),
            role_id(role)
        );
        h.put(&path, admin).await.expect(StatusCode::NO_CONTENT);
    }
    // The new user authenticates as tempest's token client does: names plus
    // domain names, then ids.
    let auth = json!({"identity": {"methods": ["password"], "password": {"user": {
                          "name": username, "password": "Pa55-word!", "domain": {"name": "Default"}}}},
                      "scope": {"project": {"name": name, "domain": {"name": "Default"}}}});
    let r = h.auth(auth).await;
    let token = r.subject_token();
    let body = r.expect(StatusCode::CREATED);
    assert_eq!(body["token"]["project"]["id"], p["id"]);
    assert!(role_names(&body).contains(&"load-balancer_member".to_string()));
    let ctx = h.identity.validate(&token).await.unwrap();
    assert!(ctx.is_admin());
    let auth = json!({"identity": {"methods": ["password"], "password": {"user": {
                          "id": u["id"], "password": "Pa55-word!"}}},
                      "scope": {"project": {"id": p["id"]}}});
    h.auth(auth).await.expect(StatusCode::CREATED);
    // clear_creds: delete user, then project; repeats are 404 (logged, ignored).
    h.delete(&format!("/v3/users/{}", u["id"].as_str().unwrap()), admin)
        .await
        .expect(StatusCode::NO_CONTENT);
    h.delete(
        &format!("/v3/projects/{}", p["id"].as_str().unwrap()),
        admin,
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    h.delete(&format!("/v3/users/{}", u["id"].as_str().unwrap()), admin)
        .await
        .expect(StatusCode::NOT_FOUND);
    h.delete(
        &format!("/v3/projects/{}", p["id"].as_str().unwrap()),
        admin,
    )
    .await
    .expect(StatusCode::NOT_FOUND);
    assert!(h.identity.validate(&token).await.is_err());
    // Domain-scoped credentials: create a domain, then disable and delete it.
    let d = h
        .post(
            "/v3/domains",
            admin,
            json!({"domain": {"name": "tempest-dom", "description": "tempest-dom-desc"}}),
        )
        .await
        .expect(StatusCode::CREATED);
    let did = d["domain"]["id"].as_str().unwrap();
    h.patch(
        &format!("/v3/domains/{did}"),
        admin,
        json!({"domain": {"enabled": false}}),
    )
    .await
    .expect(StatusCode::OK);
    h.delete(&format!("/v3/domains/{did}"), admin)
        .await
        .expect(StatusCode::NO_CONTENT);
}

async fn catalog_resources(h: &Harness) {
    let services = h.get("/v3/services", &h.admin).await.expect(StatusCode::OK);
    assert_eq!(services["services"].as_array().unwrap().len(), 3);
    let net = h
        .get("/v3/services?type=network", &h.admin)
        .await
        .expect(StatusCode::OK);
    let sid = net["services"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(net["services"][0]["name"], "neutron");
    let eps = h
        .get(
            &format!("/v3/endpoints?service_id={sid}&interface=public"),
            &h.admin,
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(eps["endpoints"].as_array().unwrap().len(), 1);
    assert_eq!(eps["endpoints"][0]["url"], "http://127.0.0.1:9696");
    let regions = h.get("/v3/regions", &h.admin).await.expect(StatusCode::OK);
    assert_eq!(ids(&regions["regions"]), ["RegionOne"]);
}
