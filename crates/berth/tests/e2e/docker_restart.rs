//! Apps come back after the Docker daemon restarts: containers the owner
//! wants running run again, reachable through the gateway, and an app the
//! owner stopped stays stopped.
//!
//! Ignored in the parallel suite because it restarts the daemon every other
//! test shares; scripts/test.sh runs it on its own afterwards
//! (`cargo nextest run -p berth --test e2e --run-ignored only`).

use std::time::{Duration, Instant};

use berth_test_support::Berth;
use serde_json::json;

use crate::apps_support::{app_name, Owner};
use crate::common::bin;

#[tokio::test]
#[ignore = "restarts the shared Docker daemon; scripts/test.sh runs it alone"]
async fn apps_come_back_after_dockerd_restarts() {
    let b = Berth::start(&bin()).await.unwrap();
    let owner = Owner::new(&b);
    let image = berth_test_support::busybox_image().unwrap();
    let app = |name: &str| {
        json!({
            "v": "4.0", "name": name, "image": image,
            "entrypoints": [{"container_port": 8080, "entrypoint_port": "http"}],
            "paths": {"": {"access": "public"}},
            "lifecycle": {"always_on": true}
        })
    };
    let running = app_name("survivor");
    let stopped = app_name("resting");
    for name in [&running, &stopped] {
        let (s, v) = owner.install(&app(name)).await;
        assert!(s.is_success(), "{v}");
        owner.wait_status(name, "running").await;
    }
    let (s, v) = owner.action(&stopped, "stop").await;
    assert!(s.is_success(), "{v}");
    owner.wait_status(&stopped, "stopped").await;

    berth_test_support::restart_docker_daemon().unwrap();

    // berth notices the broken events stream, waits for the engine and
    // reconciles: the running app runs again, the stopped one stays put.
    owner.wait_status(&running, "running").await;
    let c = reqwest::Client::builder()
        .resolve(
            &format!("{running}.localhost"),
            format!("127.0.0.1:{}", b.ports.listen).parse().unwrap(),
        )
        .build()
        .unwrap();
    let url = format!("http://{running}.localhost:{}/", b.ports.listen);
    let start = Instant::now();
    let body = loop {
        // The container may have a new address; the gateway follows it.
        match c.get(&url).send().await {
            Ok(r) if r.status() == 200 => break r.text().await.unwrap(),
            _ if start.elapsed() > Duration::from_secs(30) => {
                panic!("the app never answered after the restart\n{}", b.log())
            }
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    };
    assert_eq!(body.trim(), "hello from busybox");
    let (_, v) = owner.get(&stopped).await;
    assert_eq!(v["status"], "stopped", "{v}");
    assert_eq!(v["want_running"], false, "{v}");

    for name in [&running, &stopped] {
        assert!(owner.uninstall(name, true).await.is_success());
    }
}
