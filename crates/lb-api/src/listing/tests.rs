use serde_json::{Value, json};

use super::*;

const POOLS: Collection = Collection {
    attributes: &[
        "id",
        "name",
        "admin_state_up",
        "protocol",
        "created_at",
        "project_id",
        "weight",
    ],
    booleans: &["admin_state_up"],
    tagged: true,
};

fn q(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

fn parse(query: &str) -> Result<ListQuery, LbError> {
    ListQuery::parse(&q(query), &POOLS, 1000)
}

fn err(query: &str) -> (u16, String) {
    let e = parse(query).expect_err("must be refused");
    (e.status, e.faultstring)
}

fn objects() -> Vec<Value> {
    vec![
        json!({"id": "c", "name": "web", "admin_state_up": true, "protocol": "HTTP",
               "created_at": "2026-01-01T00:00:02", "weight": 2, "tags": ["a", "b"]}),
        json!({"id": "a", "name": "db", "admin_state_up": false, "protocol": "TCP",
               "created_at": "2026-01-01T00:00:01", "weight": 10, "tags": ["a"]}),
        json!({"id": "b", "name": "web", "admin_state_up": true, "protocol": "TCP",
               "created_at": "2026-01-01T00:00:01", "weight": 1, "tags": []}),
        json!({"id": "d", "name": null, "admin_state_up": true, "protocol": "UDP",
               "created_at": "2026-01-01T00:00:03", "weight": 5, "tags": ["b"]}),
    ]
}

fn ids(page: &Page) -> Vec<&str> {
    page.items
        .iter()
        .map(|o| o["id"].as_str().expect("id"))
        .collect()
}

const URL: &str = "http://lb:9876/v2/lbaas/pools";

#[test]
fn default_order_is_created_at_then_id() {
    let l = parse("").expect("parses");
    assert_eq!(
        l.sort,
        vec![
            ("created_at".to_string(), SortDir::Asc),
            ("id".to_string(), SortDir::Asc)
        ]
    );
    let page = l.page(objects(), URL).expect("page");
    assert_eq!(ids(&page), ["a", "b", "c", "d"]);
    // Under the limit, no links at all.
    assert_eq!(page.links, Vec::<Value>::new());
}

#[test]
fn sort_forms_and_directions() {
    let l = parse("sort=name:desc,weight").expect("parses");
    assert_eq!(l.sort[0], ("name".to_string(), SortDir::Desc));
    assert_eq!(l.sort[1], ("weight".to_string(), SortDir::Asc));
    assert_eq!(l.sort.len(), 4, "created_at and id appended");
    assert_eq!(
        ids(&l.page(objects(), URL).expect("page")),
        ["b", "c", "a", "d"]
    );

    let l = parse("sort_key=protocol,weight&sort_dir=desc").expect("parses");
    assert_eq!(l.sort[0], ("protocol".to_string(), SortDir::Desc));
    assert_eq!(
        l.sort[1],
        ("weight".to_string(), SortDir::Asc),
        "missing dirs default to asc"
    );
    assert_eq!(
        ids(&l.page(objects(), URL).expect("page")),
        ["d", "b", "a", "c"]
    );

    // A key the caller gave is not appended again.
    let l = parse("sort=id:DESC").expect("parses");
    assert_eq!(
        l.sort,
        vec![
            ("id".to_string(), SortDir::Desc),
            ("created_at".to_string(), SortDir::Asc)
        ]
    );
}

#[test]
fn bad_sort_limit_and_marker_answers() {
    assert_eq!(
        err("sort=bogus"),
        (400, "Supplied sort key 'bogus' is not valid.".into())
    );
    assert_eq!(
        err("sort=name:up"),
        (400, "Supplied sort direction 'up' is not valid.".into())
    );
    assert_eq!(
        err("sort=a:b:c"),
        (
            400,
            "Supplied sort key '['a', 'b', 'c']' is not valid.".into()
        )
    );
    assert_eq!(
        err("sort_key=name&sort_dir=sideways"),
        (
            400,
            "Supplied sort direction 'sideways' is not valid.".into()
        )
    );
    assert_eq!(
        err("limit=ten"),
        (400, "Supplied pagination limit 'ten' is not valid.".into())
    );
    let e = parse("marker=zzz")
        .expect("parses")
        .page(objects(), URL)
        .expect_err("unknown marker");
    assert_eq!(
        (e.status, e.faultstring.as_str()),
        (400, "Supplied pagination marker 'zzz' is not valid.")
    );
}

#[test]
fn limit_defaults_to_the_cap_and_infinite_or_below_one_is_unlimited() {
    let pairs = q("");
    assert_eq!(
        ListQuery::parse(&pairs, &POOLS, 3).expect("ok").limit,
        Some(3)
    );
    assert_eq!(
        ListQuery::parse(&q("limit=50"), &POOLS, 3)
            .expect("ok")
            .limit,
        Some(3)
    );
    assert_eq!(parse("limit=2").expect("ok").limit, Some(2));
    assert_eq!(parse("limit=infinite").expect("ok").limit, None);
    assert_eq!(parse("limit=0").expect("ok").limit, None);
    assert_eq!(parse("limit=-1").expect("ok").limit, None);
}

#[test]
fn pages_walk_forward_with_next_and_back_with_previous() {
    let first = parse("limit=2&sort=weight")
        .expect("ok")
        .page(objects(), URL)
        .expect("page");
    assert_eq!(ids(&first), ["b", "c"]);
    assert_eq!(
        first.links,
        vec![json!({"rel": "next", "href": format!("{URL}?limit=2&sort=weight&marker=c")})]
    );
    let second = parse("limit=2&sort=weight&marker=c")
        .expect("ok")
        .page(objects(), URL)
        .expect("page");
    assert_eq!(ids(&second), ["d", "a"]);
    assert_eq!(
        second.links,
        vec![
            json!({"rel": "previous",
                   "href": format!("{URL}?limit=2&sort=weight&marker=d&page_reverse=True")}),
            json!({"rel": "next", "href": format!("{URL}?limit=2&sort=weight&marker=a")}),
        ]
    );
    let third = parse("limit=2&sort=weight&marker=a")
        .expect("ok")
        .page(objects(), URL)
        .expect("page");
    assert_eq!(ids(&third), Vec::<&str>::new());
    assert_eq!(third.links, Vec::<Value>::new());
    let back = parse("limit=2&sort=weight&marker=d&page_reverse=True")
        .expect("ok")
        .page(objects(), URL)
        .expect("page");
    assert_eq!(ids(&back), ["b", "c"]);
}

#[test]
fn sort_key_is_repeated_in_links() {
    let page = parse("limit=1&sort_key=name")
        .expect("ok")
        .page(objects(), URL)
        .expect("page");
    // null names sort first
    assert_eq!(ids(&page), ["d"]);
    assert_eq!(
        page.links,
        vec![json!({"rel": "next", "href": format!("{URL}?limit=1&sort_key=name&marker=d")})]
    );
}

#[test]
fn filters_match_equal_values_and_any_of_a_repeated_key() {
    let page = |query: &str| {
        parse(query)
            .expect("parses")
            .page(objects(), URL)
            .expect("page")
    };
    assert_eq!(ids(&page("name=web")), ["b", "c"]);
    assert_eq!(ids(&page("protocol=UDP&protocol=HTTP")), ["c", "d"]);
    assert_eq!(ids(&page("admin_state_up=false")), ["a"]);
    assert_eq!(ids(&page("admin_state_up=Yes")), ["b", "c", "d"]);
    assert_eq!(ids(&page("weight=10")), ["a"]);
    assert_eq!(ids(&page("name=web&protocol=TCP")), ["b"]);
    // project_id scopes (policy), it does not filter here.
    assert_eq!(
        parse("project_id=p1").expect("ok").project_id.as_deref(),
        Some("p1")
    );
    assert_eq!(ids(&page("project_id=p1")).len(), 4);
}

#[test]
fn unknown_filters_and_non_boolean_booleans_are_invalid() {
    let expected = (
        400,
        "One or more arguments are either duplicate or invalid".to_string(),
    );
    assert_eq!(err("color=red"), expected);
    assert_eq!(err("admin_state_up=maybe"), expected);
}

#[test]
fn tag_filters_split_commas_and_repeated_keys() {
    let page = |query: &str| {
        parse(query)
            .expect("parses")
            .page(objects(), URL)
            .expect("page")
    };
    assert_eq!(ids(&page("tags=a,b")), ["c"]);
    assert_eq!(ids(&page("tags=a&tags=b")), ["c"]);
    assert_eq!(ids(&page("tags-any=b")), ["c", "d"]);
    assert_eq!(ids(&page("not-tags=a,b")), ["a", "b", "d"]);
    assert_eq!(ids(&page("not-tags-any=a,b")), ["b"]);
    let untagged = Collection {
        tagged: false,
        ..POOLS
    };
    let l = ListQuery::parse(&q("tags=zzz"), &untagged, 10).expect("ignored");
    assert_eq!(l.tags, TagFilter::default());
}

#[test]
fn fields_keep_named_attributes_only_and_do_not_split_commas() {
    let l = parse("fields=id&fields=name&fields=nonsense").expect("ok");
    let page = l.page(objects(), URL).expect("page");
    assert_eq!(page.items[0], json!({"id": "a", "name": "db"}));
    // upstream takes `fields=a,b` as one (unknown) field name
    let l = parse("fields=id,name").expect("ok");
    assert_eq!(l.fields, Some(vec!["id,name".to_string()]));
    assert_eq!(l.page(objects(), URL).expect("page").items[0], json!({}));
    assert_eq!(parse("").expect("ok").fields, None);
}

#[test]
fn body_uses_the_collection_keys() {
    let page = Page {
        items: vec![json!({"id": "x"})],
        links: vec![],
    };
    assert_eq!(
        body("flavorprofiles", "flavorprofile_links", page),
        json!({"flavorprofiles": [{"id": "x"}], "flavorprofile_links": []})
    );
}
