//! Amphorae (admin views and actions) on the noop backend.

use neutrino_lb_api::LbConfig;

use crate::fixtures::active_lb;
use crate::support::{backends, send};

#[tokio::test]
async fn admins_list_show_configure_fail_over_and_delete_amphorae() {
    for cloud in backends().await {
        let b = cloud.backend;
        let app = cloud.lb(LbConfig::default());
        let lb = active_lb(&cloud, &app, &cloud.alice, "10.30.0.0/24").await;
        let (lb_id, lb_path) = (lb.id, lb.path);

        let list_path = format!("/v2/octavia/amphorae?loadbalancer_id={lb_id}");
        for token in [&cloud.alice, &cloud.rita, &cloud.olga] {
            let a = send(&app, "GET", &list_path, Some(token)).await;
            assert_eq!(a.status, 403, "{b}: amphorae are for admins");
        }
        let l = send(&app, "GET", &list_path, Some(&cloud.admin)).await;
        assert_eq!(l.status, 200, "{b}: {}", l.body);
        let amps = l.body["amphorae"].as_array().expect("list").clone();
        assert_eq!(amps.len(), 1, "{b}");
        let amp = &amps[0];
        assert_eq!(amp["status"], "ALLOCATED", "{b}");
        assert_eq!(amp["role"], "STANDALONE", "{b}");
        assert_eq!(amp["loadbalancer_id"], lb_id.as_str(), "{b}");
        assert_eq!(
            amp["ha_port_id"], lb.vip_port,
            "{b}: the VIP port carries the HA address"
        );
        for key in [
            "compute_id",
            "vrrp_port_id",
            "created_at",
            "updated_at",
            "lb_network_ip",
        ] {
            assert!(amp[key].is_string(), "{b} {key}: {amp}");
        }
        let amp_id = amp["id"].as_str().expect("id").to_string();
        let one = format!("/v2/octavia/amphorae/{amp_id}");
        let s = send(&app, "GET", &one, Some(&cloud.admin)).await;
        assert_eq!(&s.body["amphora"], amp, "{b}: show equals the list entry");
        let s = send(&app, "GET", &format!("{one}/stats"), Some(&cloud.admin)).await;
        assert_eq!(s.status, 404, "{b}: no stats reported yet");
        assert_eq!(
            s.body["faultstring"],
            format!("Amphora stats for {amp_id} not found."),
            "{b}"
        );

        let c = send(&app, "PUT", &format!("{one}/config"), Some(&cloud.alice)).await;
        assert_eq!(c.status, 403, "{b}");
        let c = send(&app, "PUT", &format!("{one}/config"), Some(&cloud.admin)).await;
        assert_eq!(c.status, 202, "{b}: {}", c.body);

        // Only an amphora in ERROR may be deleted.
        let d = send(&app, "DELETE", &one, Some(&cloud.admin)).await;
        assert_eq!(d.status, 409, "{b}: {}", d.body);

        let f = send(&app, "PUT", &format!("{one}/failover"), Some(&cloud.admin)).await;
        assert_eq!(f.status, 202, "{b}: {}", f.body);
        cloud
            .wait_for(&app, &lb_path, "loadbalancer", "ACTIVE")
            .await;
        let after = send(&app, "GET", &list_path, Some(&cloud.admin)).await;
        let after = after.body["amphorae"].as_array().expect("list").clone();
        assert_eq!(after.len(), 1, "{b}");
        assert_ne!(after[0]["id"], amp_id.as_str(), "{b}: replaced");
        let old = send(&app, "GET", &one, Some(&cloud.admin)).await;
        assert_eq!(old.status, 404, "{b}");
        cloud.assert_rows("lb_flows", 0).await;

        let unknown = send(
            &app,
            "PUT",
            "/v2/octavia/amphorae/nope/failover",
            Some(&cloud.admin),
        )
        .await;
        assert_eq!(unknown.status, 404, "{b}");
        assert_eq!(
            unknown.body["faultstring"], "Amphora nope not found.",
            "{b}"
        );
    }
}
