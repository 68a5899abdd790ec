//! Start, restart, stop, crash and kill: the supervision guarantees.

use std::time::Duration;

use berth_test_support::{processes_mentioning, Berth, Ports};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::common::{bin, get, read_pid};

#[tokio::test]
async fn restart_keeps_cluster_registry_storage_and_signing_key() {
    let mut b = Berth::start(&bin()).await.unwrap();
    let key = b.data_dir().join("keys/token-signing-key.pem");
    let key_before = std::fs::read(&key).unwrap();
    let marker = b.data_dir().join("registry/storage/kept");
    std::fs::write(&marker, b"x").unwrap();
    assert!(b
        .log()
        .contains("initialising the managed postgres cluster"));

    b.restart().await.unwrap();

    assert_eq!(
        std::fs::read(&key).unwrap(),
        key_before,
        "signing key replaced"
    );
    assert!(marker.exists(), "registry storage lost");
    let log = b.log();
    assert!(
        !log.contains("initialising the managed postgres cluster"),
        "cluster was initialised again: {log}"
    );
    let r = reqwest::get(b.url("/healthz")).await;
    let r = r.unwrap_or_else(|e| panic!("{e}; log:\n{log}"));
    let health: serde_json::Value = r.json().await.unwrap();
    assert_eq!(health["status"], "ok");
}

#[tokio::test]
async fn sigterm_stops_berth_and_every_child_within_ten_seconds() {
    let mut b = Berth::start(&bin()).await.unwrap();
    let children = processes_mentioning(b.data_dir());
    assert!(
        children.len() >= 2,
        "expected postgres and registry, found {children:?}"
    );

    let (code, took) = b
        .stop_with(Signal::SIGTERM, Duration::from_secs(10))
        .unwrap();

    assert_eq!(code, Some(0), "exit code; log:\n{}", b.log());
    assert!(took < Duration::from_secs(10));
    let left = processes_mentioning(b.data_dir());
    assert!(left.is_empty(), "orphans after SIGTERM: {left:?}");
}

#[tokio::test]
async fn sigint_stops_cleanly_too() {
    let mut b = Berth::start(&bin()).await.unwrap();
    let (code, _) = b
        .stop_with(Signal::SIGINT, Duration::from_secs(10))
        .unwrap();
    assert_eq!(code, Some(0), "exit code; log:\n{}", b.log());
    let left = processes_mentioning(b.data_dir());
    assert!(left.is_empty(), "orphans after SIGINT: {left:?}");
}

/// A signal while berth is still starting stops the start: berth exits 0
/// and takes the children it already started with it. Before the handlers
/// went in first, the signal's default action killed berth outright and
/// left postgres running.
#[tokio::test]
async fn a_signal_during_start_up_stops_the_start_and_its_children() {
    for signal in [Signal::SIGTERM, Signal::SIGINT] {
        let tmp = tempfile::tempdir().unwrap();
        let data_dir = tmp.path().join("data");
        let mut b = Berth::spawn(&bin(), &data_dir, Ports::fresh(), Some(tmp)).unwrap();
        let pid_file = data_dir.join("run/postgres.pid");
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while !pid_file.exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "postgres never started:\n{}",
                b.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        let postgres = read_pid(&pid_file);

        let (code, _) = b.stop_with(signal, Duration::from_secs(10)).unwrap();

        assert_eq!(code, Some(0), "{signal} exit code; log:\n{}", b.log());
        assert!(!alive(postgres), "postgres outlived {signal} at start-up");
        let left = processes_mentioning(b.data_dir());
        assert!(left.is_empty(), "orphans after {signal}: {left:?}");
    }
}

#[tokio::test]
async fn children_of_a_killed_berth_are_replaced_on_next_start() {
    let mut b = Berth::start(&bin()).await.unwrap();
    let postgres = read_pid(&b.data_dir().join("run/postgres.pid"));
    let registry = read_pid(&b.data_dir().join("run/registry.pid"));

    b.stop_with(Signal::SIGKILL, Duration::from_secs(5))
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    // The children's stdout and stderr are pipes into the dead berth. The
    // postmaster ignores SIGPIPE and lives on; the registry is a Go program,
    // which exits on a write to a broken stderr, so whether it is still
    // there depends on whether it logged since. Either way the next start
    // must leave no child of the old run behind; postgres proves the reaping.
    assert!(alive(postgres), "postgres should outlive SIGKILL");

    b.restart().await.unwrap();

    assert!(!alive(postgres), "old postgres {postgres} still running");
    assert!(!alive(registry), "old registry {registry} still running");
    assert!(b.log().contains("found a leftover child"), "{}", b.log());
}

#[tokio::test]
async fn crashed_children_are_restarted_and_counted() {
    let b = Berth::start(&bin()).await.unwrap();
    for child in ["registry", "postgres"] {
        let pid = read_pid(&b.data_dir().join(format!("run/{child}.pid")));
        kill(Pid::from_raw(pid), Signal::SIGKILL).unwrap();
        wait_for(Duration::from_secs(30), || async {
            let m = get(&b.url("/metrics"))
                .await
                .text()
                .await
                .unwrap_or_default();
            m.contains(&format!(
                "berth_child_restarts_total{{child=\"{child}\"}} 1"
            ))
        })
        .await;
        let mut healthy = false;
        for _ in 0..100 {
            if get(&b.url("/healthz")).await.status() == 200 {
                healthy = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(
            healthy,
            "not healthy again after {child} crash:\n{}",
            b.log()
        );
        let new_pid = read_pid(&b.data_dir().join(format!("run/{child}.pid")));
        assert_ne!(new_pid, pid);
    }
    assert!(b.log().contains("child exited unexpectedly; restarting"));
}

#[tokio::test]
async fn two_instances_run_side_by_side() {
    let exe = bin();
    let (a, b) = tokio::join!(Berth::start(&exe), Berth::start(&exe));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_ne!(a.ports.listen, b.ports.listen);
    for x in [&a, &b] {
        assert_eq!(get(&x.url("/healthz")).await.status(), 200);
    }
}

fn alive(pid: i32) -> bool {
    berth_test_support::pid_alive(pid)
}

async fn wait_for<F, Fut>(timeout: Duration, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = std::time::Instant::now();
    while start.elapsed() < timeout {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("condition not met within {timeout:?}");
}
