use super::*;
use serde_json::json;

fn de(v: serde_json::Value) -> Value {
    serde_json::from_value(v).unwrap()
}

fn ser(v: &Value) -> serde_json::Value {
    serde_json::to_value(v).unwrap()
}

const U: &str = "f828a3f9-5562-4674-b3bd-cee5dd3791f8";

#[test]
fn atoms_round_trip() {
    let u: Uuid = U.parse().unwrap();
    for (value, wire) in [
        (Value::string("a\"b"), json!("a\"b")),
        (Value::integer(-7), json!(-7)),
        (Value::integer(i64::MAX), json!(i64::MAX)),
        (Value::real(1.5), json!(1.5)),
        (Value::boolean(true), json!(true)),
        (Value::uuid(u), json!(["uuid", U])),
        (Value::named("row1"), json!(["named-uuid", "row1"])),
    ] {
        assert_eq!(ser(&value), wire);
        assert_eq!(de(wire), value);
    }
}

#[test]
fn sets_and_maps_round_trip() {
    let u: Uuid = U.parse().unwrap();
    for (value, wire) in [
        (Value::empty_set(), json!(["set", []])),
        (Value::empty_map(), json!(["map", []])),
        (Value::string_set(["a", "b"]), json!(["set", ["a", "b"]])),
        (Value::string_set(["only"]), json!(["set", ["only"]])),
        (Value::uuid_set([u]), json!(["set", [["uuid", U]]])),
        (
            Value::set_of([Atom::NamedUuid("n".into()), Atom::Uuid(u)]),
            json!(["set", [["named-uuid", "n"], ["uuid", U]]]),
        ),
        (
            Value::string_map([("k", "v"), ("a", "")]),
            json!(["map", [["k", "v"], ["a", ""]]]),
        ),
        (
            Value::map_of([(Atom::Integer(1), Atom::Uuid(u))]),
            json!(["map", [[1, ["uuid", U]]]]),
        ),
        (Value::optional_string(None::<&str>), json!(["set", []])),
        (Value::optional_string(Some("x")), json!(["set", ["x"]])),
    ] {
        assert_eq!(ser(&value), wire);
        assert_eq!(de(wire), value);
    }
}

#[test]
fn numbers_keep_their_kind() {
    assert_eq!(de(json!(3)), Value::integer(3));
    assert_eq!(de(json!(3.0)), Value::real(3.0));
    assert_eq!(de(json!(-0.25)), Value::real(-0.25));
    assert_eq!(de(json!(1e300)), Value::real(1e300));
    assert_eq!(ser(&Value::real(3.0)), json!(3.0));
    // An integral real read as an integer still reads as a real.
    assert_eq!(Row::new().with("r", 2).real("r"), Some(2.0));
    // Beyond i64, and non-finite reals, are refused.
    assert!(serde_json::from_value::<Value>(json!(u64::MAX)).is_err());
    assert!(serde_json::to_value(Value::real(f64::NAN)).is_err());
    assert!(serde_json::to_value(Value::real(f64::INFINITY)).is_err());
}

#[test]
fn malformed_values_are_rejected() {
    for bad in [
        json!(null),
        json!({}),
        json!([]),
        json!(["uuid", "not-a-uuid"]),
        json!(["uuid"]),
        json!(["uuid", U, "extra"]),
        json!(["set"]),
        json!(["set", [["set", []]]]),
        json!(["set", "a"]),
        json!(["map", [["k"]]]),
        json!(["map", [["k", "v", "w"]]]),
        json!(["bag", []]),
        json!([1, 2]),
    ] {
        assert!(
            serde_json::from_value::<Value>(bad.clone()).is_err(),
            "{bad} should be rejected"
        );
    }
    assert!(serde_json::from_value::<Atom>(json!(["set", []])).is_err());
}

#[test]
fn row_getters_read_optional_columns() {
    let u: Uuid = U.parse().unwrap();
    let row: Row = serde_json::from_value(json!({
        "_uuid": ["uuid", U],
        "name": "p1",
        "tag": ["set", []],
        "tag2": 7,
        "tag3": ["set", [8]],
        "up": ["set", [true]],
        "enabled": ["set", []],
        "addresses": "00:00:00:00:00:01 10.0.0.1",
        "port_security": ["set", ["a", "b"]],
        "dhcpv4_options": ["set", [["uuid", U]]],
        "dhcpv6_options": ["set", []],
        "ports": ["uuid", U],
        "options": ["map", [["a", "1"], ["b", "2"]]],
        "external_ids": ["map", []],
    }))
    .unwrap();
    assert_eq!(row.uuid(), Some(u));
    assert_eq!(row.str("name"), Some("p1"));
    assert_eq!(row.int("tag"), None);
    assert_eq!(row.int("tag2"), Some(7));
    assert_eq!(row.int("tag3"), Some(8));
    assert_eq!(row.bool("up"), Some(true));
    assert_eq!(row.bool("enabled"), None);
    assert_eq!(row.bool("missing"), None);
    assert_eq!(
        row.str("port_security"),
        None,
        "several elements are not one string"
    );
    assert_eq!(row.strings("addresses"), ["00:00:00:00:00:01 10.0.0.1"]);
    assert_eq!(row.strings("port_security"), ["a", "b"]);
    assert!(row.strings("tag").is_empty());
    assert!(row.strings("missing").is_empty());
    assert_eq!(row.get_uuid("dhcpv4_options"), Some(u));
    assert_eq!(row.get_uuid("dhcpv6_options"), None);
    assert_eq!(row.uuids("ports"), [u]);
    assert_eq!(
        row.string_map("options").get("b").map(String::as_str),
        Some("2")
    );
    assert_eq!(row.map_str("options", "a"), Some("1"));
    assert_eq!(row.map_str("options", "z"), None);
    assert!(row.string_map("external_ids").is_empty());
    assert!(row.string_map("missing").is_empty());

    let mut row = row;
    row.set("name", "p2");
    assert_eq!(row.str("name"), Some("p2"));
    assert_eq!(
        serde_json::to_value(&row).unwrap()["tag"],
        json!(["set", []])
    );
}

#[test]
fn atoms_order_and_compare_totally() {
    let mut atoms = [
        Atom::Real(f64::NAN),
        Atom::Integer(2),
        Atom::string("b"),
        Atom::Real(-1.0),
        Atom::string("a"),
    ];
    atoms.sort();
    assert_eq!(atoms[0], Atom::string("a"));
    assert_eq!(atoms[2], Atom::Integer(2));
    assert_eq!(atoms[3], Atom::Real(-1.0));
    assert_eq!(Atom::Real(f64::NAN), Atom::Real(f64::NAN));
    assert_ne!(Atom::Integer(1), Atom::Real(1.0));
}
