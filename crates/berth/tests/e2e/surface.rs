//! What a running berth shows: health, metrics, the notification sink,
//! doctor, config sources, log format, and an external Postgres.

use std::process::Command;
use std::time::Duration;

use berth_test_support::{free_port, Berth, Ports};

use crate::common::{berth, berth_with_env, bin, get, stdout};

#[tokio::test]
async fn healthz_metrics_and_notification_sink() {
    let b = Berth::start(&bin()).await.unwrap();

    let r = get(&b.url("/healthz")).await;
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["missing"], serde_json::json!([]));

    let metrics = get(&b.url("/metrics")).await.text().await.unwrap();
    assert!(
        metrics.contains("berth_child_up{child=\"postgres\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("berth_child_up{child=\"registry\"} 1"),
        "{metrics}"
    );

    let client = reqwest::Client::new();
    let events = serde_json::json!({"events": [{"id": "e1", "action": "push", "target": {"repository": "a/b"}}]});
    let forged = client
        .post(b.url("/v2/webhooks/events"))
        .bearer_auth("guessed")
        .json(&events)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    assert_eq!(forged.headers()["content-type"], "application/problem+json");

    let secret =
        std::fs::read_to_string(b.data_dir().join("secrets/registry-notification-secret")).unwrap();
    for _ in 0..2 {
        let ok = client
            .post(b.url("/v2/webhooks/events"))
            .bearer_auth(secret.trim())
            .json(&events)
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 202);
    }
    let metrics = get(&b.url("/metrics")).await.text().await.unwrap();
    assert!(
        metrics.contains("berth_registry_events_received_total 1"),
        "redelivery must be idempotent: {metrics}"
    );
    assert!(
        metrics.contains("berth_registry_events_rejected_total 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn registry_challenges_with_a_realm_pointing_at_berth() {
    let b = Berth::start(&bin()).await.unwrap();
    let r = get(&format!("http://{}/v2/", b.registry_addr())).await;
    assert_eq!(r.status(), 401);
    let challenge = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(
        challenge.contains(&format!(
            "realm=\"http://127.0.0.1:{}/v2/token\"",
            b.ports.listen
        )),
        "{challenge}"
    );
}

#[tokio::test]
async fn doctor_passes_against_a_running_berth_and_fails_without_docker() {
    let b = Berth::start(&bin()).await.unwrap();
    let flags = doctor_flags(&b);
    let mut args = vec!["doctor"];
    args.extend(flags.iter().map(String::as_str));
    let o = berth(&args);
    let out = stdout(&o);
    assert!(
        o.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    for check in [
        "docker engine",
        "postgres",
        "registry",
        "port listen",
        "data dir",
    ] {
        assert!(out.contains(check), "missing `{check}` row: {out}");
    }

    let mut json_args = args.clone();
    json_args.push("--json");
    let o = berth_with_env(
        &json_args,
        &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")],
    );
    assert!(!o.status.success());
    let findings: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let docker = findings
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == "docker engine")
        .unwrap();
    assert_eq!(docker["status"], "fail");
    assert!(docker["fix"].as_str().unwrap().contains("dockerd"));
}

#[tokio::test]
async fn doctor_reports_an_occupied_port_when_berth_is_not_running() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let tmp = tempfile::tempdir().unwrap();
    let o = berth(&[
        "doctor",
        "--data-dir",
        tmp.path().join("d").to_str().unwrap(),
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--registry-listen",
        &format!("127.0.0.1:{}", free_port()),
        "--postgres-listen",
        &format!("127.0.0.1:{}", free_port()),
    ]);
    assert!(!o.status.success());
    let out = stdout(&o);
    assert!(out.contains("in use by another program"), "{out}");
    assert!(out.contains("--listen"), "{out}");
}

#[tokio::test]
async fn healthz_is_503_and_names_the_registry_when_it_is_unreachable() {
    let tmp = tempfile::tempdir().unwrap();
    let listen = free_port();
    let mut child = Command::new(bin())
        .args([
            "serve",
            "--data-dir",
            tmp.path().join("d").to_str().unwrap(),
        ])
        .args(["--listen", &format!("127.0.0.1:{listen}")])
        .args(["--postgres-listen", &format!("127.0.0.1:{}", free_port())])
        .args([
            "--registry-url",
            &format!("http://127.0.0.1:{}", free_port()),
        ])
        .env("BERTH_REGISTRY_NOTIFICATION_SECRET", "0123456789abcdef0123")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{listen}/healthz");
    let mut body = serde_json::Value::Null;
    for _ in 0..300 {
        if let Ok(r) = reqwest::get(&url).await {
            assert_eq!(r.status(), 503);
            body = r.json().await.unwrap();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    let _ = child.wait();
    assert_eq!(body["missing"], serde_json::json!(["registry"]), "{body}");
    assert_eq!(body["checks"]["postgres"]["ok"], true);
}

#[tokio::test]
async fn external_postgres_url_is_used_instead_of_the_managed_cluster() {
    // Instance A's managed cluster plays the external server.
    let a = Berth::start(&bin()).await.unwrap();
    let socket = a.data_dir().join("run/postgres");
    let sql = [
        "CREATE ROLE ext LOGIN PASSWORD 'ext-pass' CREATEDB CREATEROLE",
        "CREATE DATABASE extdb OWNER ext",
    ];
    let psql = Command::new("psql")
        .args([
            "-h",
            socket.to_str().unwrap(),
            "-p",
            &a.ports.postgres.to_string(),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql[0],
            "-c",
            sql[1],
        ])
        .output()
        .unwrap();
    assert!(
        psql.status.success(),
        "{}",
        String::from_utf8_lossy(&psql.stderr)
    );

    let tmp = tempfile::tempdir().unwrap();
    let ports = Ports::fresh();
    let url = format!(
        "postgres://ext:ext-pass@127.0.0.1:{}/extdb",
        a.ports.postgres
    );
    let mut child = Command::new(bin())
        .args([
            "serve",
            "--data-dir",
            tmp.path().join("d").to_str().unwrap(),
        ])
        .args(["--listen", &format!("127.0.0.1:{}", ports.listen)])
        .args([
            "--registry-listen",
            &format!("127.0.0.1:{}", ports.registry),
        ])
        .env("BERTH_POSTGRES_URL", &url)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let health = format!("http://127.0.0.1:{}/healthz", ports.listen);
    let mut ok = false;
    for _ in 0..300 {
        if let Ok(r) = reqwest::get(&health).await {
            if r.status() == 200 {
                ok = true;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    let _ = child.wait();
    assert!(ok, "berth on an external postgres never became healthy");
    assert!(
        !tmp.path().join("d/postgres").exists(),
        "a managed cluster was created anyway"
    );
    let tables = Command::new("psql")
        .args([
            "-h",
            socket.to_str().unwrap(),
            "-p",
            &a.ports.postgres.to_string(),
            "-U",
            "postgres",
            "-d",
            "extdb",
            "-Atc",
            "SELECT count(*) FROM berth_meta WHERE key = 'instance_id'",
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&tables.stdout).trim(), "1");
}

#[tokio::test]
async fn config_file_is_read_and_json_logs_are_json() {
    let tmp = tempfile::tempdir().unwrap();
    let ports = Ports::fresh();
    let file = tmp.path().join("berth.toml");
    std::fs::write(
        &file,
        format!(
            "data_dir = \"{}\"\nlisten = \"127.0.0.1:{}\"\nregistry_listen = \"127.0.0.1:{}\"\npostgres_listen = \"127.0.0.1:{}\"\n",
            tmp.path().join("d").display(),
            ports.listen,
            ports.registry,
            ports.postgres
        ),
    )
    .unwrap();
    let log = tmp.path().join("log");
    let mut child = Command::new(bin())
        .args([
            "--log-format",
            "json",
            "serve",
            "--config",
            file.to_str().unwrap(),
        ])
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let health = format!("http://127.0.0.1:{}/healthz", ports.listen);
    let mut ok = false;
    for _ in 0..300 {
        if let Ok(r) = reqwest::get(&health).await {
            ok = r.status() == 200;
            if ok {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    let _ = child.wait();
    assert!(ok, "not healthy on the ports from the file");
    let text = std::fs::read_to_string(&log).unwrap();
    let mut lines = 0;
    for line in text.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(v.get("level").is_some());
        lines += 1;
    }
    assert!(lines > 5);
}

fn doctor_flags(b: &Berth) -> Vec<String> {
    vec![
        "--data-dir".into(),
        b.data_dir().display().to_string(),
        "--listen".into(),
        format!("127.0.0.1:{}", b.ports.listen),
        "--registry-listen".into(),
        format!("127.0.0.1:{}", b.ports.registry),
        "--postgres-listen".into(),
        format!("127.0.0.1:{}", b.ports.postgres),
    ]
}

#[tokio::test]
async fn secrets_never_reach_the_log() {
    let b = Berth::start(&bin()).await.unwrap();
    let secret =
        std::fs::read_to_string(b.data_dir().join("secrets/registry-notification-secret")).unwrap();
    let log = b.log();
    assert!(
        log.contains("[redacted]"),
        "the registry's header line should be masked: {log}"
    );
    assert!(
        !log.contains(secret.trim()),
        "notification secret leaked into the log"
    );
}

#[tokio::test]
async fn app_hosts_go_through_the_gateway_and_the_bare_domain_to_the_core() {
    let b = Berth::start(&bin()).await.unwrap();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{}", b.ports.listen).parse().unwrap();
    let client = reqwest::Client::builder()
        .resolve("ghost.localhost", addr)
        .resolve("localhost", addr)
        .build()
        .unwrap();
    let r = client
        .get(format!("http://ghost.localhost:{}/", b.ports.listen))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let r = client
        .get(format!("http://localhost:{}/healthz", b.ports.listen))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
