//! Document 001's examples applied as written.

use serde_json::{Value, json};

use crate::support::{NS, addresses, backends, fixture, ipset};

/// The document's status block, in its order, plus what current upstream
/// adds: the CtlPlane default route (the IPSet asks for `defaultRoute`),
/// dnsDomain and serviceNetwork; Tenant's MTU is its NetConfig's 9000.
fn documented_reservations() -> Value {
    json!([
        {"address": "192.168.122.100", "cidr": "192.168.122.0/24", "gateway": "192.168.122.1", "mtu": 1500,
         "network": "CtlPlane", "subnet": "subnet1",
         "routes": [{"destination": "0.0.0.0/0", "nexthop": "192.168.122.1"}],
         "dnsDomain": "ctlplane.example.com", "serviceNetwork": "ctlplane"},
        {"address": "10.0.0.10", "cidr": "10.0.0.0/24", "gateway": "10.0.0.1", "mtu": 1500,
         "network": "External", "subnet": "subnet1",
         "routes": [{"destination": "10.0.1.0/24", "nexthop": "10.0.0.100"}],
         "dnsDomain": "external.example.com", "serviceNetwork": "external"},
        {"address": "172.17.0.150", "cidr": "172.17.0.0/24", "mtu": 1500, "network": "InternalApi",
         "subnet": "subnet1", "vlan": 20, "dnsDomain": "internalapi.example.com", "serviceNetwork": "internalapi"},
        {"address": "172.18.0.10", "cidr": "172.18.0.0/24", "mtu": 1500, "network": "Storage",
         "subnet": "subnet1", "vlan": 30, "dnsDomain": "storage.example.com", "serviceNetwork": "storage"},
        {"address": "172.20.0.10", "cidr": "172.20.0.0/24", "mtu": 9000, "network": "Tenant",
         "subnet": "subnet1", "vlan": 50, "dnsDomain": "tenant.example.com", "serviceNetwork": "tenant"},
    ])
}

#[tokio::test]
async fn document_001_ipset_gets_the_documented_reservations() {
    for cloud in backends().await {
        let docs = fixture("doc001.yaml");
        let (s, nc) = cloud.put(&docs[0]).await;
        assert_eq!(s, 201, "[{}] {nc}", cloud.backend);
        assert_eq!(nc["metadata"]["namespace"], NS, "default namespace");
        assert_eq!(
            nc["spec"]["networks"][0]["serviceNetwork"], "ctlplane",
            "defaulted"
        );
        assert_eq!(nc["spec"]["networks"][0]["mtu"], 1500, "defaulted");

        let (s, set) = cloud.put(&docs[1]).await;
        assert_eq!(s, 201, "[{}] {set}", cloud.backend);
        // What the document's status block holds, field for field and in order.
        let documented = &fixture("doc001.yaml")[1]["status"]["reservations"];
        let got = &set["status"]["reservations"];
        assert_eq!(got.as_array().unwrap().len(), 5, "{set}");
        for (i, want) in documented.as_array().unwrap().iter().enumerate() {
            for field in [
                "address", "cidr", "gateway", "mtu", "network", "subnet", "vlan",
            ] {
                if want["network"] == "Tenant" && field == "mtu" {
                    // The document contradicts itself here: its NetConfig
                    // gives Tenant `mtu: 9000`, its status block says 1500.
                    // The controller copies the network's MTU (upstream
                    // too: `MTU: netDef.MTU`), so the status says 9000.
                    assert_eq!(want[field], 1500);
                    assert_eq!(got[i][field], 9000, "[{}] {got}", cloud.backend);
                    continue;
                }
                assert_eq!(
                    got[i][field], want[field],
                    "[{}] reservation {i} field {field}: {got}",
                    cloud.backend
                );
            }
        }
        // Routes: the document's, plus the default route upstream now adds.
        assert_eq!(got, &documented_reservations(), "[{}]", cloud.backend);
        let conditions = set["status"]["conditions"].as_array().unwrap();
        let types: Vec<_> = conditions
            .iter()
            .map(|c| c["type"].as_str().unwrap())
            .collect();
        assert_eq!(types, ["Ready", "InputReady", "ReservationReady"]);
        assert!(conditions.iter().all(|c| c["status"] == "True"), "{set}");
        assert_eq!(conditions[0]["message"], "Setup complete");
        assert_eq!(set["status"]["observedGeneration"], 1);
        // Server-owned metadata is ours, not the document's.
        assert_ne!(
            set["metadata"]["uid"],
            "3901b2f3-f724-48fb-a906-7b46e9a5b19a"
        );
        assert_eq!(set["metadata"]["generation"], 1);
        assert!(
            set["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
                .is_string()
        );
        assert_eq!(set["apiVersion"], "network.openstack.org/v1beta1");

        // The Reservation, owned by the IPSet.
        let (s, res) = cloud.get("reservations", "edpm-compute-0").await;
        assert_eq!(s, 200, "{res}");
        let owner = &res["metadata"]["ownerReferences"][0];
        assert_eq!(owner["kind"], "IPSet");
        assert_eq!(owner["name"], "edpm-compute-0");
        assert_eq!(owner["uid"], set["metadata"]["uid"]);
        assert_eq!(owner["controller"], true);
        let r = &res["spec"]["reservation"];
        assert_eq!(r.as_object().unwrap().len(), 5, "{res}");
        assert_eq!(
            r["InternalApi"],
            json!({"address": "172.17.0.150", "network": "InternalApi", "subnet": "subnet1"})
        );
        assert_eq!(r["CtlPlane"]["address"], "192.168.122.100");
        assert_eq!(
            res["metadata"]["labels"]["ipam.network.openstack.org/CtlPlane"],
            "subnet1"
        );
        assert_eq!(res["spec"]["ipSetRef"]["uid"], set["metadata"]["uid"]);

        // Reconciling the same IPSet again keeps everything.
        let mut again = docs[1].clone();
        again["metadata"].as_object_mut().unwrap().remove("uid");
        again["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("resourceVersion");
        let (s, set2) = cloud.put(&again).await;
        assert_eq!(s, 200, "{set2}");
        assert_eq!(
            set2["status"], set["status"],
            "[{}] re-reconcile changed the status",
            cloud.backend
        );
        assert_eq!(
            set2["metadata"]["resourceVersion"], set["metadata"]["resourceVersion"],
            "no write at all"
        );

        // A second node gets the next free addresses: .101, and .11 on
        // InternalApi (.10 and .12 are excluded).
        let set1 = cloud
            .apply(&ipset(
                "edpm-compute-1",
                &["CtlPlane", "InternalApi", "Storage", "Tenant", "External"],
            ))
            .await;
        let a = addresses(&set1);
        assert_eq!(a["CtlPlane"], "192.168.122.101");
        assert_eq!(a["InternalApi"], "172.17.0.11");
        assert_eq!(a["Storage"], "172.18.0.11");
        assert_eq!(a["Tenant"], "172.20.0.11");
        assert_eq!(a["External"], "10.0.0.11");
        let mut order: Vec<&str> = set1["status"]["reservations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["network"].as_str().unwrap())
            .collect();
        assert_eq!(order.remove(0), "CtlPlane", "ctlplane first");

        // Listing shows both IPSets.
        let (s, list) = cloud
            .call(
                "GET",
                "/infra/v1beta1/namespaces/openstack/ipsets",
                &cloud.admin,
                None,
            )
            .await;
        assert_eq!(s, 200);
        assert_eq!(list["kind"], "IPSetList");
        assert_eq!(list["items"].as_array().unwrap().len(), 2);
    }
}

#[tokio::test]
async fn netconfig_changes_flow_into_ipset_status() {
    for cloud in backends().await {
        let docs = fixture("doc001.yaml");
        cloud.apply(&docs[0]).await;
        cloud.apply(&docs[1]).await;
        let mut nc = docs[0].clone();
        nc["spec"]["networks"][5]["mtu"] = json!(8950);
        nc["spec"]["networks"][1]["subnets"][0]["gateway"] = json!("172.17.0.1");
        let (s, b) = cloud.put(&nc).await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["metadata"]["generation"], 2);
        let (_, set) = cloud.get("ipsets", "edpm-compute-0").await;
        let tenant = set["status"]["reservations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["network"] == "Tenant")
            .unwrap();
        assert_eq!(tenant["mtu"], 8950, "[{}] {set}", cloud.backend);
        let api = set["status"]["reservations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["network"] == "InternalApi")
            .unwrap();
        assert_eq!(api["gateway"], "172.17.0.1");
        assert_eq!(api["address"], "172.17.0.150", "addresses stay");
    }
}

#[tokio::test]
async fn deleting_an_ipset_removes_its_reservation_and_frees_its_addresses() {
    for cloud in backends().await {
        let docs = fixture("doc001.yaml");
        cloud.apply(&docs[0]).await;
        let a = addresses(&cloud.apply(&ipset("a", &["CtlPlane"])).await);
        let b = addresses(&cloud.apply(&ipset("b", &["CtlPlane"])).await);
        assert_eq!(a["CtlPlane"], "192.168.122.100");
        assert_eq!(b["CtlPlane"], "192.168.122.101");
        let (s, st) = cloud.delete("ipsets", "a").await;
        assert_eq!(s, 200, "{st}");
        assert_eq!(st["status"], "Success");
        assert_eq!(cloud.get("reservations", "a").await.0, 404);
        assert_eq!(cloud.get("ipsets", "a").await.0, 404);
        // The freed .100 is handed out again; b keeps .101.
        let c = addresses(&cloud.apply(&ipset("c", &["CtlPlane"])).await);
        assert_eq!(c["CtlPlane"], "192.168.122.100");
        let (_, b2) = cloud.get("ipsets", "b").await;
        assert_eq!(addresses(&b2)["CtlPlane"], "192.168.122.101");
        // Deleting what is not there.
        assert_eq!(cloud.delete("ipsets", "a").await.0, 404);
    }
}

#[tokio::test]
async fn a_restored_reservation_is_adopted_by_its_ipset() {
    for cloud in backends().await {
        let docs = fixture("doc001.yaml");
        cloud.apply(&docs[0]).await;
        // Backup order: Reservation before IPSet.
        let res = json!({
            "apiVersion": "network.openstack.org/v1beta1", "kind": "Reservation",
            "metadata": {"name": "edpm-compute-9"},
            "spec": {"ipSetRef": {}, "reservation": {
                "CtlPlane": {"address": "192.168.122.177", "network": "CtlPlane", "subnet": "subnet1"}}},
        });
        assert_eq!(cloud.put(&res).await.0, 201);
        // Someone else cannot take that address meanwhile.
        let other = cloud.apply(&ipset("other", &["CtlPlane"])).await;
        assert_eq!(addresses(&other)["CtlPlane"], "192.168.122.100");
        let set = cloud
            .apply(&ipset("edpm-compute-9", &["CtlPlane", "Storage"]))
            .await;
        let a = addresses(&set);
        assert_eq!(
            a["CtlPlane"], "192.168.122.177",
            "[{}] {set}",
            cloud.backend
        );
        assert_eq!(a["Storage"], "172.18.0.10");
        let (_, r) = cloud.get("reservations", "edpm-compute-9").await;
        assert_eq!(
            r["metadata"]["ownerReferences"][0]["uid"],
            set["metadata"]["uid"]
        );
        // Owned now: it goes with its IPSet, not on its own.
        cloud
            .rejects_delete("reservations", "edpm-compute-9", 409, "owned by IPSet")
            .await;
        let mut changed = r.clone();
        changed["spec"]["reservation"]["CtlPlane"]["address"] = json!("192.168.122.178");
        changed["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("resourceVersion");
        cloud
            .rejects(&cloud.admin, &changed, 403, "managed by IPSet")
            .await;
    }
}
