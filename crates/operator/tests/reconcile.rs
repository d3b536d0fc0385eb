//! The reconcilers against a scripted Kubernetes API (tower-test): each
//! test lists the requests a pass must make, in order, checks their method,
//! path, query and body, answers them, and then checks that the pass made
//! no other request. No API server runs here (none can on these machines);
//! the scripts follow what one answers.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, ensure};
use http::{Method, Request, Response, StatusCode};
use kube::client::Body;
use kube::runtime::controller::Action;
use neutrino_infra::dns::Reconciler;
use neutrino_operator::crd::{DNSData, DNSMasq, IPSet, NetConfig};
use neutrino_operator::{Context, Error, dns, ipset, netconfig};
use serde_json::{Value, json};

type Handle = tower_test::mock::Handle<Request<Body>, Response<Body>>;
type Reply = tower_test::mock::SendResponse<Response<Body>>;

const NS: &str = "openstack";
const UID: &str = "3901b2f3-f724-48fb-a906-7b46e9a5b19a";
const NOW: &str = "2026-08-01T12:00:00Z";
const BASE: &str = "/apis/network.openstack.org/v1beta1/namespaces/openstack";

fn fixed_now() -> String {
    NOW.to_string()
}

fn mock() -> (Arc<Context>, Handle) {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = kube::Client::new(service, "default");
    let ctx = Context {
        client,
        now: fixed_now,
    };
    (Arc::new(ctx), handle)
}

/// One request as the API server sees it.
struct Seen {
    method: Method,
    path: String,
    query: String,
    content_type: String,
    body: Value,
    reply: Reply,
}

impl Seen {
    fn respond(self, status: StatusCode, body: &Value) {
        let resp = Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(Body::from(serde_json::to_vec(body).unwrap()))
            .unwrap();
        self.reply.send_response(resp);
    }

    fn ok(self, body: &Value) {
        self.respond(StatusCode::OK, body);
    }

    /// A server-side apply: PATCH, apply content type, our field manager,
    /// forced (we own these fields).
    fn assert_apply(&self, path: &str) {
        assert_eq!(self.method, Method::PATCH, "{}", self.path);
        assert_eq!(self.path, path);
        assert_eq!(self.content_type, "application/apply-patch+yaml");
        assert!(
            self.query.contains("fieldManager=neutrino-operator")
                && self.query.contains("force=true"),
            "{}",
            self.query
        );
    }
}

async fn next(handle: &mut Handle) -> Seen {
    let (req, reply) = tokio::time::timeout(Duration::from_secs(5), handle.next_request())
        .await
        .expect("the reconciler made no further request within 5 s")
        .expect("the client is gone");
    let (parts, body) = req.into_parts();
    let bytes = body.collect_bytes().await.unwrap();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).expect("JSON request body")
    };
    Seen {
        method: parts.method,
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or_default().to_string(),
        content_type: parts
            .headers
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default(),
        body,
        reply,
    }
}

/// Runs a pass against its script; a pass stuck on a request the script
/// does not answer fails here.
async fn drive<T>(reconcile: impl Future<Output = T>, server: impl Future<Output = ()>) -> T {
    let both = async { tokio::join!(reconcile, server) };
    let (out, ()) = tokio::time::timeout(Duration::from_secs(10), both)
        .await
        .expect("the pass did not finish: it waits on a request the script does not answer");
    out
}

/// After the pass: no request was left unanswered or unscripted.
async fn no_more_requests(ctx: Arc<Context>, mut handle: Handle) {
    drop(ctx);
    let extra = tokio::time::timeout(Duration::from_secs(5), handle.next_request())
        .await
        .expect("the client was not released");
    if let Some((req, _)) = extra {
        panic!("unexpected request: {} {}", req.method(), req.uri());
    }
}

fn list(kind: &str, items: Vec<Value>) -> Value {
    json!({
        "apiVersion": "network.openstack.org/v1beta1",
        "kind": format!("{kind}List"),
        "metadata": {"resourceVersion": "100"},
        "items": items,
    })
}

fn fixtures() -> Vec<Value> {
    let path = format!(
        "{}/../infra/tests/fixtures/doc001.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(path).expect("fixture");
    serde_saphyr::from_multiple(&text).expect("fixture parses")
}

/// Document 001's NetConfig as the cluster holds it.
fn netconfig_json() -> Value {
    let mut nc = fixtures()[0].clone();
    let meta = nc["metadata"].as_object_mut().unwrap();
    meta.insert("namespace".into(), NS.into());
    meta.insert("uid".into(), "nc-uid".into());
    meta.insert("resourceVersion".into(), "10".into());
    meta.insert("generation".into(), 1.into());
    nc
}

/// Document 001's IPSet as the cluster holds it when first created: the
/// document's metadata without the server-side leftovers of its
/// `kubectl get` output, no status.
fn ipset_json(finalizers: &[&str]) -> Value {
    let mut set = fixtures()[1].clone();
    let obj = set.as_object_mut().unwrap();
    obj.remove("status");
    obj.insert("apiVersion".into(), "network.openstack.org/v1beta1".into());
    let meta = obj["metadata"].as_object_mut().unwrap();
    meta.remove("annotations");
    meta.insert("finalizers".into(), json!(finalizers));
    set
}

fn typed<T: serde::de::DeserializeOwned>(v: &Value) -> Arc<T> {
    Arc::new(serde_json::from_value(v.clone()).expect("typed object"))
}

/// The document's status block in our (the REST service's) form: its
/// addresses, the CtlPlane default route the IPSet asks for, dnsDomain and
/// serviceNetwork, Tenant's MTU from its NetConfig.
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

fn ready_conditions() -> Value {
    json!([
        {"type": "Ready", "status": "True", "reason": "Ready", "message": "Setup complete", "lastTransitionTime": NOW},
        {"type": "InputReady", "status": "True", "reason": "Ready", "message": "Input data complete", "lastTransitionTime": NOW},
        {"type": "ReservationReady", "status": "True", "reason": "Ready", "message": "Reservation successful", "lastTransitionTime": NOW},
    ])
}

fn owner(name: &str, uid: &str) -> Value {
    json!({"apiVersion": "network.openstack.org/v1beta1", "kind": "IPSet", "name": name,
           "uid": uid, "controller": true, "blockOwnerDeletion": true})
}

/// The Reservation the operator writes for an IPSet holding `addresses`
/// (network, address) on subnet1 of each network.
fn reservation_json(name: &str, uid: &str, addresses: &[(&str, &str)]) -> Value {
    let mut labels = serde_json::Map::new();
    let mut entries = serde_json::Map::new();
    for (net, addr) in addresses {
        labels.insert(
            format!("ipam.network.openstack.org/{net}"),
            "subnet1".into(),
        );
        entries.insert(
            net.to_string(),
            json!({"address": addr, "network": net, "subnet": "subnet1"}),
        );
    }
    json!({
        "apiVersion": "network.openstack.org/v1beta1",
        "kind": "Reservation",
        "metadata": {"name": name, "namespace": NS, "labels": labels, "ownerReferences": [owner(name, uid)]},
        "spec": {
            "ipSetRef": {"apiVersion": "network.openstack.org/v1beta1", "kind": "IPSet",
                         "name": name, "namespace": NS, "uid": uid},
            "reservation": entries,
        },
    })
}

const DOC001_ADDRESSES: [(&str, &str); 5] = [
    ("CtlPlane", "192.168.122.100"),
    ("External", "10.0.0.10"),
    ("InternalApi", "172.17.0.150"),
    ("Storage", "172.18.0.10"),
    ("Tenant", "172.20.0.10"),
];

#[tokio::test]
async fn ipset_reconcile_creates_the_reservation_and_status_of_document_001() -> Result<()> {
    let (ctx, mut api) = mock();
    let set = ipset_json(&[ipset::FINALIZER]);
    let reconcile = ipset::reconcile(typed::<IPSet>(&set), ctx.clone());
    let server = async {
        let r = next(&mut api).await;
        assert_eq!(
            (r.method.clone(), r.path.as_str()),
            (Method::GET, &*format!("{BASE}/netconfigs"))
        );
        r.ok(&list("NetConfig", vec![netconfig_json()]));

        let r = next(&mut api).await;
        assert_eq!(
            (r.method.clone(), r.path.as_str()),
            (Method::GET, &*format!("{BASE}/reservations"))
        );
        r.ok(&list("Reservation", vec![]));

        let r = next(&mut api).await;
        r.assert_apply(&format!("{BASE}/reservations/edpm-compute-0"));
        let want = reservation_json("edpm-compute-0", UID, &DOC001_ADDRESSES);
        assert_eq!(r.body, want);
        let mut stored = want.clone();
        stored["metadata"]["uid"] = "res-uid".into();
        r.ok(&stored);

        let r = next(&mut api).await;
        r.assert_apply(&format!("{BASE}/ipsets/edpm-compute-0/status"));
        assert_eq!(
            r.body,
            json!({
                "apiVersion": "network.openstack.org/v1beta1",
                "kind": "IPSet",
                "status": {
                    "conditions": ready_conditions(),
                    "observedGeneration": 1,
                    "reservations": documented_reservations(),
                },
            })
        );
        let mut stored = set.clone();
        stored["status"] = r.body["status"].clone();
        r.ok(&stored);
    };
    let action = drive(reconcile, server).await;
    assert_eq!(action?, Action::await_change());
    no_more_requests(ctx, api).await;
    Ok(())
}

#[tokio::test]
async fn ipset_reconcile_of_a_finished_ipset_writes_nothing() -> Result<()> {
    let (ctx, mut api) = mock();
    let mut set = ipset_json(&[ipset::FINALIZER]);
    set["status"] = json!({
        "conditions": ready_conditions(),
        "observedGeneration": 1,
        "reservations": documented_reservations(),
    });
    let mut res = reservation_json("edpm-compute-0", UID, &DOC001_ADDRESSES);
    // Labels others added stay theirs.
    res["metadata"]["labels"]["backup"] = "yes".into();
    let reconcile = ipset::reconcile(typed::<IPSet>(&set), ctx.clone());
    let server = async {
        next(&mut api)
            .await
            .ok(&list("NetConfig", vec![netconfig_json()]));
        next(&mut api)
            .await
            .ok(&list("Reservation", vec![res.clone()]));
    };
    let action = drive(reconcile, server).await;
    assert_eq!(action?, Action::await_change());
    no_more_requests(ctx, api).await;
    Ok(())
}

/// The cluster is the store: a second IPSet's walk skips what every
/// Reservation of the namespace holds, including one restored without an
/// IPSet.
#[tokio::test]
async fn a_second_ipset_gets_the_next_free_addresses() -> Result<()> {
    let (ctx, mut api) = mock();
    let mut set = ipset_json(&[ipset::FINALIZER]);
    set["metadata"]["name"] = "edpm-compute-1".into();
    set["metadata"]["uid"] = "uid-1".into();
    set["spec"]["networks"] = json!([
        {"name": "ctlplane", "subnetName": "subnet1"},
        {"name": "InternalApi", "subnetName": "Subnet1"},
    ]);
    let first = reservation_json("edpm-compute-0", UID, &DOC001_ADDRESSES);
    let mut restored = reservation_json("restored", "x", &[("InternalApi", "172.17.0.11")]);
    restored["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("ownerReferences");
    let reconcile = ipset::reconcile(typed::<IPSet>(&set), ctx.clone());
    let server = async {
        next(&mut api)
            .await
            .ok(&list("NetConfig", vec![netconfig_json()]));
        next(&mut api)
            .await
            .ok(&list("Reservation", vec![first, restored]));
        let r = next(&mut api).await;
        r.assert_apply(&format!("{BASE}/reservations/edpm-compute-1"));
        // .100 is taken; .10 and .12 are excluded, .11 restored: .13.
        // Keys and labels spell the networks as NetConfig does.
        assert_eq!(
            r.body,
            reservation_json(
                "edpm-compute-1",
                "uid-1",
                &[
                    ("CtlPlane", "192.168.122.101"),
                    ("InternalApi", "172.17.0.13")
                ]
            )
        );
        let b = r.body.clone();
        r.ok(&b);
        let r = next(&mut api).await;
        r.assert_apply(&format!("{BASE}/ipsets/edpm-compute-1/status"));
        let got: Vec<(&str, &str)> = r.body["status"]["reservations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["network"].as_str().unwrap(),
                    e["address"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("CtlPlane", "192.168.122.101"),
                ("InternalApi", "172.17.0.13")
            ]
        );
        let mut stored = set.clone();
        stored["status"] = r.body["status"].clone();
        r.ok(&stored);
    };
    let action = drive(reconcile, server).await;
    action?;
    no_more_requests(ctx, api).await;
    Ok(())
}

#[tokio::test]
async fn first_reconcile_adds_the_finalizer_and_nothing_else() -> Result<()> {
    let (ctx, mut api) = mock();
    let set = ipset_json(&[]);
    let reconcile = ipset::reconcile(typed::<IPSet>(&set), ctx.clone());
    let server = async {
        let r = next(&mut api).await;
        assert_eq!(r.method, Method::PATCH);
        assert_eq!(r.path, format!("{BASE}/ipsets/edpm-compute-0"));
        assert_eq!(r.content_type, "application/json-patch+json");
        assert_eq!(
            r.body,
            json!([
                {"op": "test", "path": "/metadata/finalizers", "value": null},
                {"op": "add", "path": "/metadata/finalizers", "value": ["network.openstack.org/ipset"]},
            ])
        );
        r.ok(&ipset_json(&[ipset::FINALIZER]));
    };
    let action = drive(reconcile, server).await;
    // The patch's watch event brings the IPSet back for the real pass.
    assert_eq!(action?, Action::await_change());
    no_more_requests(ctx, api).await;
    Ok(())
}

fn deleted_ipset() -> Value {
    let mut set = ipset_json(&[ipset::FINALIZER]);
    set["metadata"]["deletionTimestamp"] = "2026-08-01T12:30:00Z".into();
    set["status"] = json!({"conditions": ready_conditions(), "observedGeneration": 1,
                           "reservations": documented_reservations()});
    set
}

async fn expect_finalizer_removed(api: &mut Handle) {
    let r = next(api).await;
    assert_eq!(r.method, Method::PATCH);
    assert_eq!(r.path, format!("{BASE}/ipsets/edpm-compute-0"));
    assert_eq!(r.content_type, "application/json-patch+json");
    assert_eq!(
        r.body,
        json!([
            {"op": "test", "path": "/metadata/finalizers/0", "value": "network.openstack.org/ipset"},
            {"op": "remove", "path": "/metadata/finalizers/0"},
        ])
    );
    let mut gone = ipset_json(&[]);
    gone["metadata"]["deletionTimestamp"] = "2026-08-01T12:30:00Z".into();
    r.ok(&gone);
}

#[tokio::test]
async fn deleting_an_ipset_deletes_its_reservation_then_the_finalizer() -> Result<()> {
    let (ctx, mut api) = mock();
    let reconcile = ipset::reconcile(typed::<IPSet>(&deleted_ipset()), ctx.clone());
    let server = async {
        let r = next(&mut api).await;
        assert_eq!(r.method, Method::DELETE);
        assert_eq!(r.path, format!("{BASE}/reservations/edpm-compute-0"));
        r.ok(&reservation_json("edpm-compute-0", UID, &DOC001_ADDRESSES));
        expect_finalizer_removed(&mut api).await;
    };
    let action = drive(reconcile, server).await;
    assert_eq!(action?, Action::await_change());
    no_more_requests(ctx, api).await;
    Ok(())
}

#[tokio::test]
async fn deleting_an_ipset_whose_reservation_is_gone_still_finishes() -> Result<()> {
    let (ctx, mut api) = mock();
    let reconcile = ipset::reconcile(typed::<IPSet>(&deleted_ipset()), ctx.clone());
    let server = async {
        let r = next(&mut api).await;
        assert_eq!(r.method, Method::DELETE);
        r.respond(
            StatusCode::NOT_FOUND,
            &json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound",
                    "code": 404, "message": "reservations.network.openstack.org \"edpm-compute-0\" not found"}),
        );
        expect_finalizer_removed(&mut api).await;
    };
    let action = drive(reconcile, server).await;
    action?;
    no_more_requests(ctx, api).await;
    Ok(())
}

#[tokio::test]
async fn an_invalid_ipset_gets_the_reason_in_its_conditions_and_no_reservation() -> Result<()> {
    let (ctx, mut api) = mock();
    let mut set = ipset_json(&[ipset::FINALIZER]);
    set["spec"]["networks"] = json!([
        {"name": "CtlPlane", "subnetName": "subnet1"},
        {"name": "Nope", "subnetName": "subnet1"},
    ]);
    let reconcile = ipset::reconcile(typed::<IPSet>(&set), ctx.clone());
    let server = async {
        next(&mut api)
            .await
            .ok(&list("NetConfig", vec![netconfig_json()]));
        // No Reservation is listed or written: straight to the status.
        let r = next(&mut api).await;
        r.assert_apply(&format!("{BASE}/ipsets/edpm-compute-0/status"));
        let msg = "Input data error occurred: spec.networks[1].name: Not found: \"Nope\": no such network in the namespace's NetConfig";
        assert_eq!(
            r.body["status"],
            json!({
                "conditions": [
                    {"type": "Ready", "status": "False", "reason": "Error", "severity": "Error",
                     "message": msg, "lastTransitionTime": NOW},
                    {"type": "InputReady", "status": "False", "reason": "Error", "severity": "Error",
                     "message": msg, "lastTransitionTime": NOW},
                    {"type": "ReservationReady", "status": "Unknown", "reason": "Init",
                     "message": "Reservation not started", "lastTransitionTime": NOW},
                ],
                "observedGeneration": 1,
            })
        );
        let mut stored = set.clone();
        stored["status"] = r.body["status"].clone();
        r.ok(&stored);
    };
    let action = drive(reconcile, server).await;
    // Looked at again later: a NetConfig change could make it valid.
    assert_eq!(action?, Action::requeue(neutrino_operator::RETRY));
    no_more_requests(ctx, api).await;
    Ok(())
}

#[tokio::test]
async fn an_ipset_without_a_netconfig_waits_for_one() -> Result<()> {
    let (ctx, mut api) = mock();
    let set = ipset_json(&[ipset::FINALIZER]);
    let reconcile = ipset::reconcile(typed::<IPSet>(&set), ctx.clone());
    let server = async {
        next(&mut api).await.ok(&list("NetConfig", vec![]));
        let r = next(&mut api).await;
        r.assert_apply(&format!("{BASE}/ipsets/edpm-compute-0/status"));
        assert_eq!(
            r.body["status"]["conditions"][1]["message"],
            "Input data error occurred: no NetConfig found in namespace \"openstack\"; create one first"
        );
        let b = set.clone();
        r.ok(&b);
    };
    let action = drive(reconcile, server).await;
    action?;
    no_more_requests(ctx, api).await;
    Ok(())
}

#[tokio::test]
async fn a_taken_fixed_ip_is_a_reservation_error() -> Result<()> {
    let (ctx, mut api) = mock();
    let mut set = ipset_json(&[ipset::FINALIZER]);
    set["metadata"]["name"] = "edpm-compute-1".into();
    let first = reservation_json("edpm-compute-0", UID, &DOC001_ADDRESSES);
    let reconcile = ipset::reconcile(typed::<IPSet>(&set), ctx.clone());
    let server = async {
        next(&mut api)
            .await
            .ok(&list("NetConfig", vec![netconfig_json()]));
        next(&mut api).await.ok(&list("Reservation", vec![first]));
        let r = next(&mut api).await;
        r.assert_apply(&format!("{BASE}/ipsets/edpm-compute-1/status"));
        let conds = &r.body["status"]["conditions"];
        assert_eq!(conds[1]["status"], "True", "input is fine: {conds}");
        assert_eq!(conds[2]["status"], "False");
        assert_eq!(
            conds[2]["message"],
            "Reservation error occurred: spec.networks[1].fixedIP: 172.17.0.150 is already reserved on network InternalApi by edpm-compute-0"
        );
        let b = set.clone();
        r.ok(&b);
    };
    let action = drive(reconcile, server).await;
    action?;
    no_more_requests(ctx, api).await;
    Ok(())
}

fn deleted_netconfig() -> Value {
    let mut nc = netconfig_json();
    nc["metadata"]["finalizers"] = json!([netconfig::FINALIZER]);
    nc["metadata"]["deletionTimestamp"] = "2026-08-01T12:30:00Z".into();
    nc
}

#[tokio::test]
async fn netconfig_deletion_is_refused_while_ipsets_exist() -> Result<()> {
    let (ctx, mut api) = mock();
    let reconcile = netconfig::reconcile(typed::<NetConfig>(&deleted_netconfig()), ctx.clone());
    let server = async {
        let r = next(&mut api).await;
        assert_eq!(
            (r.method.clone(), r.path.as_str()),
            (Method::GET, &*format!("{BASE}/ipsets"))
        );
        r.ok(&list("IPSet", vec![ipset_json(&[ipset::FINALIZER])]));
        // And then nothing: the finalizer stays, so does the NetConfig.
    };
    let result = drive(reconcile, server).await;
    let err = result.err().context("deletion went through")?;
    let Error::Finalizer(inner) = &err else {
        panic!("unexpected error {err:?}");
    };
    ensure!(
        matches!(
            **inner,
            kube::runtime::finalizer::Error::CleanupFailed(Error::InUse(_))
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "failed to clean up object: unable to delete NetConfig netconfig while there are still IPSets in namespace \"openstack\" (edpm-compute-0)"
    );
    no_more_requests(ctx, api).await;
    Ok(())
}

#[tokio::test]
async fn netconfig_deletion_finishes_once_no_ipset_is_left() -> Result<()> {
    let (ctx, mut api) = mock();
    let reconcile = netconfig::reconcile(typed::<NetConfig>(&deleted_netconfig()), ctx.clone());
    let server = async {
        next(&mut api).await.ok(&list("IPSet", vec![]));
        let r = next(&mut api).await;
        assert_eq!(r.method, Method::PATCH);
        assert_eq!(r.path, format!("{BASE}/netconfigs/netconfig"));
        assert_eq!(
            r.body,
            json!([
                {"op": "test", "path": "/metadata/finalizers/0", "value": "network.openstack.org/netconfig"},
                {"op": "remove", "path": "/metadata/finalizers/0"},
            ])
        );
        let b = netconfig_json();
        r.ok(&b);
    };
    let result = drive(reconcile, server).await;
    result?;
    no_more_requests(ctx, api).await;
    Ok(())
}

#[tokio::test]
async fn a_new_netconfig_gets_its_finalizer() -> Result<()> {
    let (ctx, mut api) = mock();
    let reconcile = netconfig::reconcile(typed::<NetConfig>(&netconfig_json()), ctx.clone());
    let server = async {
        let r = next(&mut api).await;
        assert_eq!(r.path, format!("{BASE}/netconfigs/netconfig"));
        assert_eq!(
            r.body[1],
            json!({"op": "add", "path": "/metadata/finalizers", "value": ["network.openstack.org/netconfig"]})
        );
        let b = netconfig_json();
        r.ok(&b);
    };
    let result = drive(reconcile, server).await;
    result?;
    no_more_requests(ctx, api).await;
    Ok(())
}

// ------------------------------------------------------------------ DNS

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

async fn dig_short(port: u16, args: &[&str]) -> Vec<String> {
    let out = tokio::process::Command::new("dig")
        .args([
            "@127.0.0.1",
            "-p",
            &port.to_string(),
            "+short",
            "+time=2",
            "+tries=1",
        ])
        .args(args)
        .output()
        .await
        .expect("dig (Debian's dnsutils)");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with(';'))
        .map(String::from)
        .collect()
}

fn without_times(mut status: Value) -> Value {
    for c in status["conditions"].as_array_mut().unwrap() {
        c.as_object_mut().unwrap().remove("lastTransitionTime");
    }
    status
}

/// A pass of the DNS loop over watched objects: the responder serves the
/// valid DNSData, the invalid one says why, and the DNSMasq's status
/// names the bound address.
#[tokio::test]
async fn dns_sync_serves_watched_dnsdata_and_writes_statuses() -> Result<()> {
    let (ctx, mut api) = mock();
    let port = free_port();
    let masq: Arc<DNSMasq> = typed(&json!({
        "apiVersion": "network.openstack.org/v1beta1", "kind": "DNSMasq",
        "metadata": {"name": "dns", "namespace": NS, "uid": "m-uid", "generation": 2,
                     "annotations": {"dnsmasq.neutrino.openstack.org/listen": format!("127.0.0.1:{port}")}},
        "spec": {"options": [{"key": "server", "values": ["127.0.0.1#9"]}]},
    }));
    let path = format!(
        "{}/../infra/tests/fixtures/dnsdata001.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut hosts: Value = serde_saphyr::from_str(&std::fs::read_to_string(path)?)?;
    hosts["metadata"]["generation"] = 1.into();
    let bad = json!({
        "apiVersion": "network.openstack.org/v1beta1", "kind": "DNSData",
        "metadata": {"name": "bad", "namespace": NS, "generation": 1},
        "spec": {"hosts": [{"ip": "not-an-ip", "hostnames": ["x.ctlplane"]}]},
    });
    let data: Vec<Arc<DNSData>> = vec![typed(&hosts), typed(&bad)];
    let mut reconciler = Reconciler::default();
    let pass = dns::sync(&mut reconciler, &ctx, std::slice::from_ref(&masq), &data);
    let server = async {
        let r = next(&mut api).await;
        r.assert_apply(&format!("{BASE}/dnsdata/somehosts/status"));
        assert_eq!(
            r.body,
            json!({"apiVersion": "network.openstack.org/v1beta1", "kind": "DNSData", "status": {
                "conditions": [{"type": "Ready", "status": "True", "reason": "Ready",
                                "message": "Setup complete", "lastTransitionTime": NOW}],
                "observedGeneration": 1}})
        );
        let b = hosts.clone();
        r.ok(&b);
        let r = next(&mut api).await;
        r.assert_apply(&format!("{BASE}/dnsdata/bad/status"));
        assert_eq!(
            r.body["status"]["conditions"][0]["message"],
            "Input data error occurred: spec.hosts[0].ip: Invalid value: \"not-an-ip\": not a valid IP address"
        );
        assert_eq!(r.body["status"]["conditions"][0]["status"], "False");
        let b = bad.clone();
        r.ok(&b);
        let r = next(&mut api).await;
        r.assert_apply(&format!("{BASE}/dnsmasqs/dns/status"));
        assert_eq!(r.body["kind"], "DNSMasq");
        assert_eq!(
            without_times(r.body["status"].clone()),
            json!({
                "conditions": [
                    {"type": "Ready", "status": "True", "reason": "Ready", "message": "Setup complete"},
                    {"type": "ServiceConfigReady", "status": "True", "reason": "Ready",
                     "message": "Service config create completed"},
                ],
                "observedGeneration": 2,
                "readyCount": 1,
                "dnsAddresses": [format!("127.0.0.1:{port}")],
            })
        );
        let mut b = (*masq).clone();
        b.status = serde_json::from_value(r.body["status"].clone()).unwrap();
        r.ok(&serde_json::to_value(b).unwrap());
    };
    drive(pass, server).await;
    assert_eq!(
        dig_short(port, &["edpm-compute-0.internalapi", "A"]).await,
        ["172.17.0.100"]
    );
    assert_eq!(
        dig_short(port, &["-x", "192.168.122.101"]).await,
        ["edpm-compute-1.ctlplane."]
    );
    reconciler.shutdown().await;
    no_more_requests(ctx, api).await;
    Ok(())
}
