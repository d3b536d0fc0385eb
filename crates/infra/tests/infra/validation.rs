//! Every admission rule, rejected: status code, a message naming the
//! field, nothing stored.

use serde_json::{Value, json};

use crate::support::{Cloud, NS, backends, ipset, netconfig, object_path};

fn nc_with(f: impl FnOnce(&mut Value)) -> Value {
    let mut v = netconfig();
    f(&mut v);
    v
}

fn sub(v: &mut Value, net: usize) -> &mut Value {
    &mut v["spec"]["networks"][net]["subnets"][0]
}

/// (rule, object, field named in the message)
fn netconfig_cases() -> Vec<(&'static str, Value, &'static str)> {
    vec![
        (
            "network name pattern",
            nc_with(|v| v["spec"]["networks"][0]["name"] = json!("Ctl.Plane")),
            "spec.networks[0].name",
        ),
        (
            "network name of one character",
            nc_with(|v| v["spec"]["networks"][0]["name"] = json!("c")),
            "spec.networks[0].name",
        ),
        (
            "network names unique (any case)",
            nc_with(|v| v["spec"]["networks"][1]["name"] = json!("ctlplane")),
            "spec.networks[1].name: Duplicate value",
        ),
        (
            "dnsDomain required",
            nc_with(|v| {
                v["spec"]["networks"][2]
                    .as_object_mut()
                    .unwrap()
                    .remove("dnsDomain");
            }),
            "spec.networks[2].dnsDomain: Required value",
        ),
        (
            "dnsDomain pattern",
            nc_with(|v| v["spec"]["networks"][0]["dnsDomain"] = json!("ctlplane")),
            "spec.networks[0].dnsDomain",
        ),
        (
            "dnsDomain unique",
            nc_with(|v| v["spec"]["networks"][3]["dnsDomain"] = json!("ctlplane.example.com")),
            "spec.networks[3].dnsDomain: Duplicate value",
        ),
        (
            "mtu range",
            nc_with(|v| v["spec"]["networks"][0]["mtu"] = json!(0)),
            "spec.networks[0].mtu",
        ),
        (
            "serviceNetwork pattern",
            nc_with(|v| v["spec"]["networks"][0]["serviceNetwork"] = json!("CtlPlane")),
            "spec.networks[0].serviceNetwork",
        ),
        (
            "a network needs subnets",
            nc_with(|v| v["spec"]["networks"][0]["subnets"] = json!([])),
            "spec.networks[0].subnets",
        ),
        (
            "subnet name pattern",
            nc_with(|v| sub(v, 0)["name"] = json!("sub net")),
            "spec.networks[0].subnets[0].name",
        ),
        (
            "subnet names unique",
            nc_with(|v| {
                let mut s2 = sub(v, 0).clone();
                s2["name"] = json!("SUBNET1");
                s2["cidr"] = json!("192.168.123.0/24");
                s2["gateway"] = json!("192.168.123.1");
                s2["allocationRanges"] =
                    json!([{"start": "192.168.123.10", "end": "192.168.123.20"}]);
                v["spec"]["networks"][0]["subnets"]
                    .as_array_mut()
                    .unwrap()
                    .push(s2);
            }),
            "spec.networks[0].subnets[1].name: Duplicate value",
        ),
        (
            "subnet dnsDomain pattern",
            nc_with(|v| sub(v, 0)["dnsDomain"] = json!("x_y.example.com")),
            "spec.networks[0].subnets[0].dnsDomain",
        ),
        (
            "subnet dnsDomain unique in its network",
            nc_with(|v| {
                sub(v, 0)["dnsDomain"] = json!("a.example.com");
                let mut s2 = sub(v, 0).clone();
                s2["name"] = json!("subnet2");
                s2["cidr"] = json!("192.168.123.0/24");
                s2["gateway"] = json!("192.168.123.1");
                s2["allocationRanges"] =
                    json!([{"start": "192.168.123.10", "end": "192.168.123.20"}]);
                v["spec"]["networks"][0]["subnets"]
                    .as_array_mut()
                    .unwrap()
                    .push(s2);
            }),
            "spec.networks[0].subnets[1].dnsDomain: Duplicate value",
        ),
        (
            "vlan maximum",
            nc_with(|v| sub(v, 1)["vlan"] = json!(4095)),
            "spec.networks[1].subnets[0].vlan",
        ),
        (
            "vlan minimum",
            nc_with(|v| sub(v, 1)["vlan"] = json!(0)),
            "spec.networks[1].subnets[0].vlan",
        ),
        (
            "vlan type",
            nc_with(|v| sub(v, 1)["vlan"] = json!("twenty")),
            "spec.networks[1].subnets[0].vlan",
        ),
        (
            "cidr parses",
            nc_with(|v| sub(v, 3)["cidr"] = json!("172.18.0.0/33")),
            "spec.networks[3].subnets[0].cidr",
        ),
        (
            "cidr is a network address",
            nc_with(|v| sub(v, 3)["cidr"] = json!("172.18.0.5/24")),
            "spec.networks[3].subnets[0].cidr",
        ),
        (
            "cidr strings unique",
            nc_with(|v| {
                sub(v, 4)["cidr"] = json!("172.18.0.0/24");
                sub(v, 4)["allocationRanges"] =
                    json!([{"start": "172.18.0.10", "end": "172.18.0.20"}]);
            }),
            "spec.networks[4].subnets[0].cidr: Duplicate value",
        ),
        (
            "overlapping cidrs on one vlan",
            nc_with(|v| {
                sub(v, 4)["cidr"] = json!("172.18.0.0/23");
                sub(v, 4)["vlan"] = json!(30);
                sub(v, 4)["allocationRanges"] =
                    json!([{"start": "172.18.1.10", "end": "172.18.1.20"}]);
            }),
            "spec.networks[4].subnets[0].cidr: Invalid value: \"172.18.0.0/23\": overlaps spec.networks[3].subnets[0]",
        ),
        (
            "overlapping untagged cidrs",
            nc_with(|v| {
                sub(v, 2)["cidr"] = json!("192.168.0.0/16");
                sub(v, 2)["gateway"] = json!("192.168.0.1");
                sub(v, 2)["routes"] = json!([]);
                sub(v, 2)["allocationRanges"] =
                    json!([{"start": "192.168.1.10", "end": "192.168.1.20"}]);
            }),
            "spec.networks[2].subnets[0].cidr",
        ),
        (
            "gateway is an address",
            nc_with(|v| sub(v, 0)["gateway"] = json!("gw")),
            "spec.networks[0].subnets[0].gateway",
        ),
        (
            "gateway inside the cidr",
            nc_with(|v| sub(v, 0)["gateway"] = json!("192.168.1.1")),
            "spec.networks[0].subnets[0].gateway",
        ),
        (
            "gateway of the same family",
            nc_with(|v| sub(v, 0)["gateway"] = json!("fd00::1")),
            "spec.networks[0].subnets[0].gateway",
        ),
        (
            "gateway not the broadcast address",
            nc_with(|v| sub(v, 0)["gateway"] = json!("192.168.122.255")),
            "spec.networks[0].subnets[0].gateway",
        ),
        (
            "excludes inside the cidr",
            nc_with(|v| sub(v, 1)["excludeAddresses"][1] = json!("172.16.0.12")),
            "spec.networks[1].subnets[0].excludeAddresses[1]",
        ),
        (
            "excludes of the same family",
            nc_with(|v| sub(v, 1)["excludeAddresses"][0] = json!("fd00::10")),
            "spec.networks[1].subnets[0].excludeAddresses[0]",
        ),
        (
            "route destination is a cidr",
            nc_with(|v| sub(v, 2)["routes"][0]["destination"] = json!("10.0.1.0")),
            "spec.networks[2].subnets[0].routes[0].destination",
        ),
        (
            "route destination of the same family",
            nc_with(|v| sub(v, 2)["routes"][0]["destination"] = json!("fd00::/64")),
            "spec.networks[2].subnets[0].routes[0].destination",
        ),
        (
            "route nexthop inside the cidr",
            nc_with(|v| sub(v, 2)["routes"][0]["nexthop"] = json!("10.0.1.1")),
            "spec.networks[2].subnets[0].routes[0].nexthop",
        ),
        (
            "range start is an address",
            nc_with(|v| sub(v, 3)["allocationRanges"][0]["start"] = json!("first")),
            "spec.networks[3].subnets[0].allocationRanges[0].start",
        ),
        (
            "range end inside the cidr",
            nc_with(|v| sub(v, 3)["allocationRanges"][0]["end"] = json!("172.18.1.250")),
            "spec.networks[3].subnets[0].allocationRanges[0].end",
        ),
        (
            "range of the same family",
            nc_with(|v| sub(v, 3)["allocationRanges"][0]["end"] = json!("fd00::250")),
            "spec.networks[3].subnets[0].allocationRanges[0].end",
        ),
        (
            "range start before end",
            nc_with(|v| {
                sub(v, 3)["allocationRanges"][0] =
                    json!({"start": "172.18.0.250", "end": "172.18.0.10"})
            }),
            "spec.networks[3].subnets[0].allocationRanges[0].end",
        ),
        (
            "a one-address range",
            nc_with(|v| {
                sub(v, 3)["allocationRanges"][0] =
                    json!({"start": "172.18.0.10", "end": "172.18.0.10"})
            }),
            "spec.networks[3].subnets[0].allocationRanges[0].end",
        ),
        (
            "range without the network address",
            nc_with(|v| sub(v, 3)["allocationRanges"][0]["start"] = json!("172.18.0.0")),
            "spec.networks[3].subnets[0].allocationRanges[0]: Invalid value: \"172.18.0.0-172.18.0.250\": contains the network address",
        ),
        (
            "range without the broadcast address",
            nc_with(|v| sub(v, 3)["allocationRanges"][0]["end"] = json!("172.18.0.255")),
            "spec.networks[3].subnets[0].allocationRanges[0]: Invalid value: \"172.18.0.10-172.18.0.255\": contains the broadcast address",
        ),
        (
            "range without the gateway",
            nc_with(|v| sub(v, 0)["gateway"] = json!("192.168.122.110")),
            "spec.networks[0].subnets[0].allocationRanges[0]: Invalid value: \"192.168.122.100-192.168.122.120\": contains the gateway",
        ),
        (
            "ranges do not overlap",
            nc_with(|v| {
                sub(v, 0)["allocationRanges"][1] =
                    json!({"start": "192.168.122.120", "end": "192.168.122.130"})
            }),
            "spec.networks[0].subnets[0].allocationRanges[1]: Invalid value: \"192.168.122.120-192.168.122.130\": overlaps",
        ),
        (
            "unknown spec fields",
            nc_with(|v| sub(v, 0)["gatway"] = json!("192.168.122.1")),
            "spec.networks[0].subnets[0].gatway",
        ),
        (
            "allocationRanges required",
            nc_with(|v| {
                sub(v, 0)
                    .as_object_mut()
                    .unwrap()
                    .remove("allocationRanges");
            }),
            "spec.networks[0].subnets[0].allocationRanges: Required value",
        ),
        (
            "metadata.name",
            nc_with(|v| v["metadata"]["name"] = json!("Net_Config")),
            "metadata.name",
        ),
        (
            "metadata.labels",
            nc_with(|v| v["metadata"]["labels"] = json!({"bad key!": "x"})),
            "metadata.labels",
        ),
    ]
}

#[tokio::test]
async fn netconfig_rules_reject() {
    for cloud in backends().await {
        for (rule, obj, field) in netconfig_cases() {
            let b = cloud.rejects(&cloud.admin, &obj, 422, field).await;
            assert_eq!(b["reason"], "Invalid", "{rule}: {b}");
            assert!(
                b["details"]["causes"]
                    .as_array()
                    .is_some_and(|c| !c.is_empty()),
                "{rule}: causes missing: {b}"
            );
        }
        // The base document itself is fine.
        cloud.apply(&netconfig()).await;
    }
}

#[tokio::test]
async fn one_netconfig_per_namespace_and_none_removed_while_used() {
    for cloud in backends().await {
        cloud.apply(&netconfig()).await;
        let mut second = netconfig();
        second["metadata"]["name"] = json!("other");
        let b = cloud
            .rejects(&cloud.admin, &second, 409, "there can only be one")
            .await;
        assert!(
            b["message"].as_str().unwrap().contains("\"netconfig\""),
            "{b}"
        );
        // Another namespace may have its own.
        second["metadata"]["namespace"] = json!("other-ns");
        assert_eq!(cloud.put(&second).await.0, 201);

        // Without IPSets, anything may change, networks may go.
        let mut smaller = netconfig();
        smaller["spec"]["networks"]
            .as_array_mut()
            .unwrap()
            .remove(4);
        assert_eq!(cloud.put(&smaller).await.0, 200);
        assert_eq!(cloud.put(&netconfig()).await.0, 200);

        cloud.apply(&ipset("edpm-compute-0", &["CtlPlane"])).await;
        let removed_net = nc_with(|v| {
            v["spec"]["networks"].as_array_mut().unwrap().remove(4);
        });
        cloud
            .rejects(
                &cloud.admin,
                &removed_net,
                422,
                "spec.networks: Forbidden: network StorageMgmt",
            )
            .await;
        let removed_subnet = nc_with(|v| {
            let mut s2 = sub(v, 3).clone();
            s2["name"] = json!("subnet2");
            v["spec"]["networks"][3]["subnets"] = json!([s2]);
        });
        cloud
            .rejects(
                &cloud.admin,
                &removed_subnet,
                422,
                "spec.networks[3].subnets: Forbidden: subnet subnet1",
            )
            .await;
        let cidr = nc_with(|v| {
            sub(v, 3)["cidr"] = json!("172.18.0.0/23");
        });
        cloud
            .rejects(
                &cloud.admin,
                &cidr,
                422,
                "spec.networks[3].subnets[0].cidr: Forbidden",
            )
            .await;
        let vlan = nc_with(|v| sub(v, 3)["vlan"] = json!(31));
        cloud
            .rejects(
                &cloud.admin,
                &vlan,
                422,
                "spec.networks[3].subnets[0].vlan: Forbidden",
            )
            .await;
        // Ranges, excludes, gateway and mtu may still change.
        let fine = nc_with(|v| {
            sub(v, 3)["allocationRanges"] = json!([{"start": "172.18.0.20", "end": "172.18.0.40"}]);
            sub(v, 3)["excludeAddresses"] = json!(["172.18.0.21"]);
            sub(v, 3)["gateway"] = json!("172.18.0.1");
            v["spec"]["networks"][3]["mtu"] = json!(9000);
        });
        assert_eq!(cloud.put(&fine).await.0, 200);

        cloud
            .rejects_delete("netconfigs", "netconfig", 409, "still IPSets")
            .await;
        assert_eq!(cloud.delete("ipsets", "edpm-compute-0").await.0, 200);
        assert_eq!(cloud.delete("netconfigs", "netconfig").await.0, 200);
    }
}

#[tokio::test]
async fn invalid_namespace_and_mismatched_urls_reject() {
    for cloud in backends().await {
        let before = cloud.stored().await;
        let (s, b) = cloud
            .call(
                "PUT",
                &object_path("Open_Stack", "netconfigs", "netconfig"),
                &cloud.admin,
                Some(netconfig()),
            )
            .await;
        assert_eq!(s, 422, "{b}");
        assert!(
            b["message"]
                .as_str()
                .unwrap()
                .contains("metadata.namespace"),
            "{b}"
        );
        let (s, b) = cloud
            .call(
                "PUT",
                &object_path(NS, "netconfigs", "other-name"),
                &cloud.admin,
                Some(netconfig()),
            )
            .await;
        assert_eq!(s, 400, "{b}");
        assert!(
            b["message"]
                .as_str()
                .unwrap()
                .contains("does not match the name"),
            "{b}"
        );
        let mut wrong_kind = netconfig();
        wrong_kind["kind"] = json!("IPSet");
        let (s, b) = cloud
            .call(
                "PUT",
                &object_path(NS, "netconfigs", "netconfig"),
                &cloud.admin,
                Some(wrong_kind),
            )
            .await;
        assert_eq!(s, 400, "{b}");
        let (s, b) = cloud
            .call(
                "PUT",
                &object_path(NS, "pods", "netconfig"),
                &cloud.admin,
                Some(netconfig()),
            )
            .await;
        assert_eq!(s, 404, "{b}");
        assert_eq!(b["kind"], "Status");
        assert_eq!(cloud.stored().await, before);
        // POST creates only.
        let (s, _) = cloud
            .call(
                "POST",
                "/infra/v1beta1/namespaces/openstack/netconfigs",
                &cloud.admin,
                Some(netconfig()),
            )
            .await;
        assert_eq!(s, 201);
        let (s, b) = cloud
            .call(
                "POST",
                "/infra/v1beta1/namespaces/openstack/netconfigs",
                &cloud.admin,
                Some(netconfig()),
            )
            .await;
        assert_eq!(s, 409, "{b}");
        assert_eq!(b["reason"], "AlreadyExists");
    }
}

fn set_with(f: impl FnOnce(&mut Value)) -> Value {
    let mut v = ipset("node", &["CtlPlane", "InternalApi"]);
    f(&mut v);
    v
}

#[tokio::test]
async fn ipset_rules_reject() {
    for cloud in backends().await {
        // No NetConfig yet.
        cloud
            .rejects(&cloud.admin, &set_with(|_| {}), 422, "no NetConfig found")
            .await;
        cloud.apply(&netconfig()).await;
        let cases: Vec<(Value, u16, &str)> = vec![
            (
                set_with(|v| v["spec"]["networks"][1]["name"] = json!("Nope")),
                422,
                "spec.networks[1].name: Not found",
            ),
            (
                set_with(|v| v["spec"]["networks"][1]["subnetName"] = json!("subnet9")),
                422,
                "spec.networks[1].subnetName: Not found",
            ),
            (
                set_with(|v| v["spec"]["networks"][1]["name"] = json!("ctlplane")),
                422,
                "spec.networks[1].name: Duplicate value",
            ),
            (
                set_with(|v| v["spec"]["networks"][0]["name"] = json!("Ctl Plane")),
                422,
                "spec.networks[0].name: Invalid value",
            ),
            (
                set_with(|v| v["spec"]["networks"][0]["subnetName"] = json!("-s")),
                422,
                "spec.networks[0].subnetName: Invalid value",
            ),
            (
                set_with(|v| v["spec"]["networks"][1]["fixedIP"] = json!("172.17.0.x")),
                422,
                "spec.networks[1].fixedIP",
            ),
            (
                set_with(|v| v["spec"]["networks"][1]["fixedIP"] = json!("172.18.0.5")),
                422,
                "spec.networks[1].fixedIP: Invalid value: \"172.18.0.5\": not inside",
            ),
            (
                set_with(|v| v["spec"]["networks"][1]["fixedIP"] = json!("fd00::5")),
                422,
                "spec.networks[1].fixedIP",
            ),
            (
                set_with(|v| v["spec"]["networks"][1]["fixedIP"] = json!("172.17.0.12")),
                422,
                "spec.networks[1].fixedIP: Invalid value: \"172.17.0.12\": is in excludeAddresses",
            ),
            (
                set_with(|v| v["spec"]["networks"][1]["fixedIP"] = json!("172.17.0.255")),
                422,
                "spec.networks[1].fixedIP: Invalid value: \"172.17.0.255\": is the network or broadcast",
            ),
            (
                set_with(|v| v["spec"]["networks"][1]["defaultRoute"] = json!(true)),
                422,
                "spec.networks[1].defaultRoute: Invalid value: \"true\": subnet subnet1 of network InternalApi has no gateway",
            ),
            (
                set_with(|v| {
                    v["spec"]["networks"][0]["defaultRoute"] = json!(true);
                    v["spec"]["networks"][1] =
                        json!({"name": "External", "subnetName": "subnet1", "defaultRoute": true});
                }),
                422,
                "spec.networks[1].defaultRoute: Invalid value: \"true\": spec.networks[0] already sets the IPv4 default route",
            ),
            (
                set_with(|v| v["spec"]["networks"][0]["fixedIp"] = json!("192.168.122.5")),
                422,
                "spec.networks[0].fixedIp",
            ),
            (
                set_with(|v| {
                    v["spec"].as_object_mut().unwrap().remove("networks");
                }),
                422,
                "spec.networks: Required value",
            ),
        ];
        for (obj, code, field) in cases {
            cloud.rejects(&cloud.admin, &obj, code, field).await;
        }

        // A fixed address someone else holds: 409.
        let mut first = ipset("first", &["InternalApi"]);
        first["spec"]["networks"][0]["fixedIP"] = json!("172.17.0.150");
        cloud.apply(&first).await;
        let mut second = ipset("second", &["CtlPlane", "InternalApi"]);
        second["spec"]["networks"][1]["fixedIP"] = json!("172.17.0.150");
        let b = cloud.rejects(&cloud.admin, &second, 409, "spec.networks[1].fixedIP: Duplicate value: \"172.17.0.150\": already reserved on network InternalApi by first").await;
        assert_eq!(b["reason"], "Conflict");
    }
}

#[tokio::test]
async fn ipset_updates_keep_earlier_requests() {
    for cloud in backends().await {
        cloud.apply(&netconfig()).await;
        let mut base = ipset("node", &["CtlPlane", "InternalApi"]);
        base["spec"]["networks"][0]["defaultRoute"] = json!(true);
        base["spec"]["networks"][1]["fixedIP"] = json!("172.17.0.150");
        let created = cloud.apply(&base).await;

        let mut removed = base.clone();
        removed["spec"]["networks"]
            .as_array_mut()
            .unwrap()
            .remove(0);
        cloud
            .rejects(
                &cloud.admin,
                &removed,
                422,
                "spec.networks: Forbidden: network CtlPlane",
            )
            .await;
        let mut subnet = base.clone();
        subnet["spec"]["networks"][1]["subnetName"] = json!("subnet2");
        // subnet2 does not exist either; the update rule is what is reported first.
        cloud
            .rejects(
                &cloud.admin,
                &subnet,
                422,
                "spec.networks[1].subnetName: Forbidden",
            )
            .await;
        let mut fixed = base.clone();
        fixed["spec"]["networks"][1]["fixedIP"] = json!("172.17.0.151");
        cloud
            .rejects(
                &cloud.admin,
                &fixed,
                422,
                "spec.networks[1].fixedIP: Forbidden",
            )
            .await;
        let mut route = base.clone();
        route["spec"]["networks"][0]["defaultRoute"] = json!(false);
        cloud
            .rejects(
                &cloud.admin,
                &route,
                422,
                "spec.networks[0].defaultRoute: Forbidden",
            )
            .await;

        // Appending is fine and keeps the old addresses.
        let mut more = base.clone();
        more["spec"]["networks"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "Tenant", "subnetName": "subnet1"}));
        let (s, grown) = cloud.put(&more).await;
        assert_eq!(s, 200, "{grown}");
        assert_eq!(grown["metadata"]["generation"], 2);
        let (a, b) = (
            crate::support::addresses(&created),
            crate::support::addresses(&grown),
        );
        assert_eq!(a["CtlPlane"], b["CtlPlane"]);
        assert_eq!(b["Tenant"], "172.20.0.10");

        // Immutable: the networks are frozen (403), the flag may flip.
        let mut frozen = more.clone();
        frozen["spec"]["immutable"] = json!(true);
        assert_eq!(cloud.put(&frozen).await.0, 200);
        let mut grow_frozen = frozen.clone();
        grow_frozen["spec"]["networks"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "Storage", "subnetName": "subnet1"}));
        let b = cloud
            .rejects(
                &cloud.admin,
                &grow_frozen,
                403,
                "Spec.Networks is immutable",
            )
            .await;
        assert_eq!(b["reason"], "Forbidden");
        let mut thawed = frozen.clone();
        thawed["spec"]["immutable"] = json!(false);
        assert_eq!(cloud.put(&thawed).await.0, 200);
        assert_eq!(
            cloud.put(&grow_frozen_without_flag(&grow_frozen)).await.0,
            200
        );

        // A stale resourceVersion is a conflict.
        let mut stale = thawed.clone();
        stale["metadata"]["resourceVersion"] = json!("1");
        cloud
            .rejects(&cloud.admin, &stale, 409, "has been modified")
            .await;
        let mut wrong_uid = thawed.clone();
        wrong_uid["metadata"]["uid"] = json!("00000000-0000-0000-0000-000000000000");
        cloud
            .rejects(&cloud.admin, &wrong_uid, 409, "UID in precondition")
            .await;
    }
}

fn grow_frozen_without_flag(v: &Value) -> Value {
    let mut v = v.clone();
    v["spec"]["immutable"] = json!(false);
    v
}

#[tokio::test]
async fn an_exhausted_subnet_is_a_conflict() {
    for cloud in backends().await {
        let mut nc = netconfig();
        nc["spec"]["networks"][3]["subnets"][0]["allocationRanges"] =
            json!([{"start": "172.18.0.10", "end": "172.18.0.12"}]);
        nc["spec"]["networks"][3]["subnets"][0]["excludeAddresses"] = json!(["172.18.0.11"]);
        cloud.apply(&nc).await;
        cloud.apply(&ipset("a", &["Storage"])).await;
        cloud.apply(&ipset("b", &["Storage"])).await;
        let b = cloud
            .rejects(
                &cloud.admin,
                &ipset("c", &["CtlPlane", "Storage"]),
                409,
                "spec.networks[1].subnetName",
            )
            .await;
        assert!(
            b["message"]
                .as_str()
                .unwrap()
                .contains("no ip address could be created for c in subnet subnet1"),
            "{b}"
        );
    }
}

async fn dns_rejects(cloud: &Cloud, obj: Value, code: u16, field: &str) {
    cloud.rejects(&cloud.admin, &obj, code, field).await;
}

fn dnsdata(hosts: Value) -> Value {
    json!({"apiVersion": "network.openstack.org/v1beta1", "kind": "DNSData",
           "metadata": {"name": "hosts"}, "spec": {"hosts": hosts}})
}

fn dnsmasq(spec: Value) -> Value {
    json!({"apiVersion": "network.openstack.org/v1beta1", "kind": "DNSMasq",
           "metadata": {"name": "dns"}, "spec": spec})
}

#[tokio::test]
async fn reservation_and_dns_rules_reject() {
    for cloud in backends().await {
        cloud.apply(&netconfig()).await;
        let taken = cloud.apply(&ipset("node", &["CtlPlane"])).await;
        let res = |key: &str, addr: &str| {
            json!({"apiVersion": "network.openstack.org/v1beta1", "kind": "Reservation",
                   "metadata": {"name": "restored"},
                   "spec": {"ipSetRef": {}, "reservation": {key: {"address": addr, "network": "CtlPlane", "subnet": "subnet1"}}}})
        };
        let addr = crate::support::addresses(&taken)["CtlPlane"].clone();
        cloud
            .rejects(
                &cloud.admin,
                &res("CtlPlane", &addr),
                409,
                "spec.reservation[CtlPlane].address: Duplicate value",
            )
            .await;
        cloud
            .rejects(
                &cloud.admin,
                &res("Storage", "192.168.122.150"),
                422,
                "spec.reservation[Storage].network",
            )
            .await;
        cloud
            .rejects(
                &cloud.admin,
                &res("CtlPlane", "192.168.122.x"),
                422,
                "spec.reservation[CtlPlane].address",
            )
            .await;
        let mut bad_subnet = res("CtlPlane", "192.168.122.150");
        bad_subnet["spec"]["reservation"]["CtlPlane"]["subnet"] = json!("s");
        cloud
            .rejects(
                &cloud.admin,
                &bad_subnet,
                422,
                "spec.reservation[CtlPlane].subnet",
            )
            .await;

        dns_rejects(
            &cloud,
            dnsdata(json!([{"ip": "172.17.0.300", "hostnames": ["a.example"]}])),
            422,
            "spec.hosts[0].ip",
        )
        .await;
        dns_rejects(
            &cloud,
            dnsdata(json!([{"ip": "172.17.0.3", "hostnames": ["bad name"]}])),
            422,
            "spec.hosts[0].hostnames[0]",
        )
        .await;
        dns_rejects(
            &cloud,
            dnsdata(json!([{"ip": "172.17.0.3", "hostnames": []}])),
            422,
            "spec.hosts[0].hostnames: Required value",
        )
        .await;
        dns_rejects(
            &cloud,
            dnsdata(json!([{"ip": "172.17.0.3"}])),
            422,
            "spec.hosts[0].hostnames: Required value",
        )
        .await;
        let mut sel = dnsdata(json!([]));
        sel["spec"]["dnsDataLabelSelectorValue"] = json!("not a label!");
        dns_rejects(&cloud, sel, 422, "spec.dnsDataLabelSelectorValue").await;

        dns_rejects(
            &cloud,
            dnsmasq(json!({"options": [{"key": "listen-address", "values": ["1.2.3.4"]}]})),
            422,
            "spec.options[0].key",
        )
        .await;
        dns_rejects(
            &cloud,
            dnsmasq(json!({"options": [{"key": "server", "values": ["not-an-ip"]}]})),
            422,
            "spec.options[0].values",
        )
        .await;
        dns_rejects(
            &cloud,
            dnsmasq(json!({"options": [{"key": "server"}]})),
            422,
            "spec.options[0].values: Required value",
        )
        .await;
        dns_rejects(
            &cloud,
            dnsmasq(json!({"topologyRef": {"name": "t", "namespace": "elsewhere"}})),
            422,
            "spec.topologyRef.namespace",
        )
        .await;
        dns_rejects(
            &cloud,
            dnsmasq(json!({"replicas": -1})),
            422,
            "spec.replicas",
        )
        .await;
        dns_rejects(
            &cloud,
            dnsmasq(json!({"dnsDataLabelSelectorValue": ""})),
            422,
            "spec.dnsDataLabelSelectorValue: Required value",
        )
        .await;
        let mut listen = dnsmasq(json!({}));
        listen["metadata"]["annotations"] =
            json!({"dnsmasq.neutrino.openstack.org/listen": "localhost:53"});
        dns_rejects(
            &cloud,
            listen.clone(),
            422,
            "metadata.annotations[dnsmasq.neutrino.openstack.org/listen]",
        )
        .await;
        // Only admins choose where to listen.
        listen["metadata"]["annotations"] =
            json!({"dnsmasq.neutrino.openstack.org/listen": "127.0.0.1:0"});
        listen["metadata"]["namespace"] = json!("alpha-ns");
        cloud
            .rejects(
                &cloud.alice,
                &listen,
                403,
                "only admins choose where a DNS responder listens",
            )
            .await;
    }
}
