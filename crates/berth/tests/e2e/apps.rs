//! Apps end to end: the owner API and its errors, bad input leaving nothing
//! behind, live status from Docker events, convergence after a berth restart,
//! and the CLI.

use berth_test_support::{busybox_image, Berth};
use reqwest::StatusCode;
use serde_json::json;

use crate::apps_support::{app_name, database_exists, docker, role_exists, Owner};
use crate::common::{berth, bin, stderr, stdout};

#[tokio::test]
async fn the_apps_api_needs_the_owner_token() {
    let b = Berth::start(&bin()).await.unwrap();
    let token_file = b.data_dir().join("owner.token");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&token_file).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);

    let http = reqwest::Client::new();
    let none = http.get(b.url("/protected/apps")).send().await.unwrap();
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(none.headers()["content-type"], "application/problem+json");
    let wrong = http
        .post(b.url("/protected/apps"))
        .bearer_auth("not-the-token")
        .json(&json!({"name": "x", "image": "y"}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);

    let (status, list) = Owner::new(&b).list().await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list, json!([]));
}

#[tokio::test]
async fn invalid_app_json_reports_every_field_at_once_and_leaves_nothing() {
    let b = Berth::start(&bin()).await.unwrap();
    let owner = Owner::new(&b);
    let (status, problem) = owner
        .install(&json!({
            "v": "4.0",
            "name": "Bad_Name",
            "image": "",
            "services": ["postgres", "mongo"],
            "data_dirs": ["/data/../etc", "/proc/x"],
            "entrypoints": [{"container_port": 70000, "entrypoint_port": "http"}],
            "env_vars": {"DB": "{{ postgres.usr }}"}
        }))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let pointers: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap())
        .collect();
    for want in [
        "/name",
        "/image",
        "/services/1",
        "/data_dirs/0",
        "/data_dirs/1",
        "/entrypoints/0/container_port",
        "/env_vars/DB",
    ] {
        assert!(pointers.contains(&want), "{want} missing in {problem}");
    }
    assert_eq!(problem["field"], "/name");

    let (status, problem) = owner
        .install(&json!({"v": "9.0", "name": "x", "image": "y"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["field"], "/v");
    assert_eq!(owner.list().await.1, json!([]));
}

#[tokio::test]
async fn an_unavailable_image_leaves_no_container_role_dir_or_record() {
    let b = Berth::start(&bin()).await.unwrap();
    let owner = Owner::new(&b);
    let name = app_name("noimg");
    // A registry that refuses connections: the pull fails without internet.
    let (status, problem) = owner
        .install(&json!({
            "v": "4.0", "name": name, "image": "127.0.0.1:1/berth-test/missing:1",
            "services": ["postgres", "docker_sock_ro"], "data_dirs": ["/data"]
        }))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["field"], "/image");

    assert_eq!(owner.get(&name).await.0, StatusCode::NOT_FOUND);
    let ident = format!("app_{}", name.replace('-', "_"));
    assert!(!role_exists(&b, &ident));
    assert!(!database_exists(&b, &ident));
    assert!(!b.data_dir().join("apps").join(&name).exists());
    assert!(!b
        .data_dir()
        .join(format!("run/docker-proxy/{name}.sock"))
        .exists());
    assert!(
        !docker(&["container", "inspect", &name]).0,
        "container left behind"
    );
}

#[tokio::test]
async fn status_follows_docker_events_and_start_stop_restart() {
    let b = Berth::start(&bin()).await.unwrap();
    let owner = Owner::new(&b);
    let name = app_name("status");
    let (status, view) = owner
        .install(&json!({"v": "4.0", "name": name, "image": busybox_image().unwrap()}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{view}");
    assert_eq!(view["phase"], "installed");
    owner.wait_status(&name, "running").await;

    let (_, labels) = docker(&[
        "inspect",
        "-f",
        "{{json .Config.Labels}} {{.HostConfig.RestartPolicy.Name}}",
        &name,
    ]);
    assert!(
        labels.contains(&format!("\"berth.app\":\"{name}\"")),
        "{labels}"
    );
    assert!(labels.contains("berth.instance"), "{labels}");
    assert!(labels.ends_with("unless-stopped"), "{labels}");

    // Changed behind berth's back: only the events stream can tell.
    assert!(docker(&["stop", "-t", "1", &name]).0);
    let v = owner.wait_status(&name, "exited").await;
    assert!(v["exit_code"].is_i64(), "{v}");
    assert!(docker(&["start", &name]).0);
    owner.wait_status(&name, "running").await;

    let (s, _) = owner.action(&name, "stop").await;
    assert_eq!(s, StatusCode::OK);
    let v = owner.wait_status(&name, "stopped").await;
    assert_eq!(v["want_running"], false);
    assert!(v["exit_code"].is_null(), "{v}");
    let (s, _) = owner.action(&name, "start").await;
    assert_eq!(s, StatusCode::OK);
    owner.wait_status(&name, "running").await;
    let (s, _) = owner.action(&name, "restart").await;
    assert_eq!(s, StatusCode::OK);
    owner.wait_status(&name, "running").await;

    assert_eq!(
        owner.action("no-such-app", "start").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        owner
            .install(&json!({"v": "4.0", "name": name, "image": busybox_image().unwrap()}))
            .await
            .0,
        StatusCode::CONFLICT
    );

    assert_eq!(owner.uninstall(&name, false).await, StatusCode::NO_CONTENT);
    assert!(!docker(&["container", "inspect", &name]).0);
    assert_eq!(owner.get(&name).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn apps_come_back_after_a_berth_restart_and_a_removed_container_is_recreated() {
    let mut b = Berth::start(&bin()).await.unwrap();
    let owner = Owner::new(&b);
    let name = app_name("restart");
    let (status, view) = owner
        .install(&json!({"v": "4.0", "name": name, "image": busybox_image().unwrap(), "data_dirs": ["/data"]}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{view}");
    owner.wait_status(&name, "running").await;

    b.stop_with(
        nix::sys::signal::Signal::SIGKILL,
        std::time::Duration::from_secs(5),
    )
    .unwrap();
    // The killed berth's children are reaped on the next start, but their
    // ports may linger a moment; reap them here so the restart is about apps.
    berth_test_support::reap_by_marker(b.data_dir());
    while !berth_test_support::processes_mentioning(b.data_dir()).is_empty() {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // Lost while berth was down; berth must converge back to its records.
    assert!(docker(&["rm", "-f", &name]).0);
    b.restart().await.unwrap();

    let owner = Owner::new(&b);
    owner.wait_status(&name, "running").await;
    assert!(b.log().contains("apps converged"), "{}", b.log());
}

#[tokio::test]
async fn the_cli_installs_lists_stops_and_uninstalls() {
    let b = Berth::start(&bin()).await.unwrap();
    let name = app_name("cli");
    let file = b.data_dir().with_extension("app.json");
    std::fs::write(
        &file,
        json!({"v": "4.0", "name": name, "image": busybox_image().unwrap()}).to_string(),
    )
    .unwrap();
    let data_dir = b.data_dir().display().to_string();
    let cli = |args: &[&str]| {
        let mut all = vec!["app", "--data-dir", data_dir.as_str()];
        all.extend_from_slice(args);
        berth(&all)
    };

    let out = cli(&["install", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains(&name), "{}", stdout(&out));

    let out = cli(&["list", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let list: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(list[0]["name"], name.as_str());

    let out = cli(&["stop", &name]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = cli(&["status", &name]);
    assert!(stdout(&out).contains("stopped"), "{}", stdout(&out));

    // Bad input: one clear error naming the field, non-zero exit.
    let bad = b.data_dir().with_extension("bad.json");
    std::fs::write(&bad, r#"{"v": "4.0", "name": "Nope", "image": "x"}"#).unwrap();
    let out = cli(&["install", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("error:") && err.contains("/name"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    let out = cli(&["uninstall", &name, "--purge"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = cli(&["status", &name]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("404"), "{}", stderr(&out));
}

#[tokio::test]
async fn a_killed_berth_finishes_interrupted_installs_and_uninstalls_on_restart() {
    let mut b = Berth::start(&bin()).await.unwrap();
    let owner = Owner::new(&b);
    let image = busybox_image().unwrap();
    let (leaving, arriving) = (app_name("leaving"), app_name("arriving"));
    let (s, v) = owner
        .install(&json!({"v": "4.0", "name": leaving, "image": image, "services": ["postgres"], "data_dirs": ["/data"]}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");

    // The states a berth killed mid-way leaves: an install recorded but not
    // carried out, an uninstall begun, and a role no app accounts for.
    let manifest = json!({"v": "4.0", "name": arriving, "image": image, "services": ["postgres"]});
    crate::apps_support::berth_sql(
        &b,
        &format!(
            "INSERT INTO apps (name, manifest, phase) VALUES ('{arriving}', '{manifest}', 'installing'); \
             UPDATE apps SET phase = 'uninstalling', purge = true WHERE name = '{leaving}'"
        ),
    );
    crate::apps_support::superuser_sql(&b, "CREATE ROLE app_ghost LOGIN");
    b.stop_with(
        nix::sys::signal::Signal::SIGKILL,
        std::time::Duration::from_secs(5),
    )
    .unwrap();
    berth_test_support::reap_by_marker(b.data_dir());
    while !berth_test_support::processes_mentioning(b.data_dir()).is_empty() {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    b.restart().await.unwrap();

    let owner = Owner::new(&b);
    let view = owner.wait_status(&arriving, "running").await;
    assert_eq!(view["phase"], "installed");
    let ident = format!("app_{}", arriving.replace('-', "_"));
    assert!(role_exists(&b, &ident) && database_exists(&b, &ident));

    assert_eq!(owner.get(&leaving).await.0, StatusCode::NOT_FOUND);
    assert!(!docker(&["container", "inspect", &leaving]).0);
    assert!(!b.data_dir().join("apps").join(&leaving).exists());
    assert!(!role_exists(
        &b,
        &format!("app_{}", leaving.replace('-', "_"))
    ));
    assert!(!role_exists(&b, "app_ghost"));
}

#[tokio::test]
async fn logs_are_read_and_followed() {
    let b = Berth::start(&bin()).await.unwrap();
    let owner = Owner::new(&b);
    let image = berth_test_support::derived_image(
        "berth-test/ticker:1",
        r#"CMD ["/bin/sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done"]"#,
    )
    .unwrap();
    let name = app_name("logs");
    let (s, v) = owner
        .install(&json!({"v": "4.0", "name": name, "image": image}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    owner.wait_status(&name, "running").await;

    let http = reqwest::Client::new();
    let url = |q: &str| b.url(&format!("/protected/apps/{name}/logs{q}"));
    // Without the token: refused.
    assert_eq!(
        http.get(url("")).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );

    // Follow: new lines keep arriving on one response.
    let mut r = http
        .get(url("?follow=true&tail=1"))
        .bearer_auth(b.owner_token())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let mut seen = String::new();
    while seen.matches("tick").count() < 3 {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(30), r.chunk())
            .await
            .expect("log stream stalled")
            .unwrap()
            .expect("log stream ended");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    drop(r);

    // Without follow the response ends, holding what was logged so far.
    let r = http
        .get(url("?tail=2"))
        .bearer_auth(b.owner_token())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let text = r.text().await.unwrap();
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.starts_with("tick "), "{text}");

    let missing = http
        .get(b.url("/protected/apps/no-such-app/logs"))
        .bearer_auth(b.owner_token())
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

/// A throwaway registry without auth on 127.0.0.1 (which Docker trusts
/// without TLS), killed on drop.
struct PlainRegistry {
    child: std::process::Child,
    _dir: tempfile::TempDir,
    port: u16,
}

impl PlainRegistry {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = berth_test_support::free_port();
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nstorage: {{filesystem: {{rootdirectory: {}}}}}\nhttp: {{addr: 127.0.0.1:{port}}}\n",
                dir.path().join("storage").display()
            ),
        )
        .unwrap();
        let child = std::process::Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Self {
            child,
            _dir: dir,
            port,
        }
    }
}

impl Drop for PlainRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn a_missing_image_is_pulled_with_progress_in_the_cli() {
    let b = Berth::start(&bin()).await.unwrap();
    let registry = PlainRegistry::start();
    let name = app_name("pull");
    let image = format!("127.0.0.1:{}/berth-test/{name}:1", registry.port);
    assert!(docker(&["tag", &busybox_image().unwrap(), &image]).0);
    assert!(docker(&["push", &image]).0, "push to the test registry");
    assert!(docker(&["rmi", &image]).0);

    let file = b.data_dir().with_extension("pull.json");
    std::fs::write(
        &file,
        json!({"v": "4.0", "name": name, "image": image}).to_string(),
    )
    .unwrap();
    let data_dir = b.data_dir().display().to_string();
    let out = berth(&[
        "app",
        "--data-dir",
        &data_dir,
        "install",
        file.to_str().unwrap(),
    ]);
    // Whatever happens, the pulled tag is ours to remove.
    let cleanup = image.clone();
    let _guard = scopeguard(move || {
        let _ = std::process::Command::new("docker")
            .args(["rmi", "-f", &cleanup])
            .output();
    });
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("Pulling from berth-test/"),
        "no progress shown: {err}"
    );
    assert!(stdout(&out).contains("running"), "{}", stdout(&out));
    Owner::new(&b).wait_status(&name, "running").await;
}

/// Runs `f` when dropped.
fn scopeguard(f: impl FnOnce()) -> impl Drop {
    struct Guard<F: FnOnce()>(Option<F>);
    impl<F: FnOnce()> Drop for Guard<F> {
        fn drop(&mut self) {
            if let Some(f) = self.0.take() {
                f();
            }
        }
    }
    Guard(Some(f))
}

#[tokio::test]
async fn a_foreign_container_of_the_same_name_is_left_alone_and_nothing_is_created() {
    let b = Berth::start(&bin()).await.unwrap();
    let owner = Owner::new(&b);
    let image = busybox_image().unwrap();
    let name = app_name("foreign");
    // Not berth's: no instance label. Removed at the end whatever happens.
    assert!(docker(&["create", "--name", &name, &image]).0);
    let cleanup = name.clone();
    let _guard = scopeguard(move || {
        let _ = std::process::Command::new("docker")
            .args(["rm", "-f", &cleanup])
            .output();
    });

    let (s, problem) = owner
        .install(&json!({"v": "4.0", "name": name, "image": image, "services": ["postgres"], "data_dirs": ["/data"]}))
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["field"], "/name");
    let (_, labels) = docker(&["inspect", "-f", "{{json .Config.Labels}}", &name]);
    assert!(!labels.contains("berth"), "{labels}");
    assert!(!role_exists(&b, &format!("app_{}", name.replace('-', "_"))));
    assert!(!b.data_dir().join("apps").join(&name).exists());
    assert_eq!(owner.get(&name).await.0, StatusCode::NOT_FOUND);

    // Other refusals of the API, each naming its field.
    let other = app_name("other");
    let (s, _) = owner
        .install(&json!({"v": "4.0", "name": other, "image": image}))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, problem) = owner
        .upgrade(&json!({"v": "4.0", "name": "renamed", "image": image}))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{problem}");
    let http = reqwest::Client::new();
    let r = http
        .put(b.url(&format!("/protected/apps/{other}")))
        .bearer_auth(b.owner_token())
        .json(&json!({"v": "4.0", "name": "renamed", "image": image}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["field"],
        "/name"
    );
    let r = http
        .delete(b.url(&format!("/protected/apps/{other}?purge=yes")))
        .bearer_auth(b.owner_token())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["field"],
        "purge"
    );
    assert_eq!(
        owner.uninstall("no-such-app", true).await,
        StatusCode::NOT_FOUND
    );
}
