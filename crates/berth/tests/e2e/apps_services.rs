//! The services apps get, seen from inside their containers: Postgres and
//! its seven template variables, data dirs (uid 1000, symlinks, shared and
//! read-only), persistence across upgrade and reinstall, the read-only
//! Docker socket, and the core API at `http://portal_core/`.

use std::time::Duration;

use berth_test_support::{busybox_image, psql_image, Berth};
use reqwest::StatusCode;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::apps_support::{app_name, database_exists, exec, role_exists, Owner};
use crate::common::bin;

fn env_vars() -> serde_json::Value {
    json!({
        "PG_CONN": "{{ postgres.connection_string }}",
        "PG_USERSPEC": "{{ postgres.userspec }}",
        "PG_USER": "{{ postgres.user }}",
        "PG_PASSWORD": "{{ postgres.password }}",
        "PG_HOSTSPEC": "{{ postgres.hostspec }}",
        "PG_HOST": "{{ postgres.host }}",
        "PG_PORT": "{{ postgres.port }}"
    })
}

#[tokio::test]
async fn postgres_variables_work_inside_the_container_and_apps_cannot_open_each_other() {
    let b = Berth::start(&bin()).await.unwrap();
    let owner = Owner::new(&b);
    let image = psql_image(false).unwrap();
    let (a, other) = (app_name("pga"), app_name("pgb"));
    for name in [&a, &other] {
        let (s, v) = owner
            .install(&json!({"v": "4.0", "name": name, "image": image, "services": ["postgres"], "env_vars": env_vars()}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
    }
    owner.wait_status(&a, "running").await;
    let ident = format!("app_{}", a.replace('-', "_"));
    let port = b.ports.postgres.to_string();

    let env = |var: &str| exec(&a, &format!("echo ${var}")).1;
    let password = env("PG_PASSWORD");
    assert_eq!(password.len(), 64, "32 random bytes, hex");
    assert!(password.bytes().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(env("PG_USER"), ident);
    assert_eq!(env("PG_HOST"), "postgres");
    assert_eq!(env("PG_PORT"), port);
    assert_eq!(env("PG_HOSTSPEC"), format!("postgres:{port}"));
    assert_eq!(env("PG_USERSPEC"), format!("{ident}:{password}"));
    assert_eq!(
        env("PG_CONN"),
        format!("postgres://{ident}:{password}@postgres:{port}/{ident}")
    );

    // The container resolves `postgres` and logs in with exactly what it got.
    let (ok, out, err) = exec(
        &a,
        r#"psql "$PG_CONN" -XAtc "select current_user || ',' || current_database()""#,
    );
    assert!(ok, "{err}");
    assert_eq!(out, format!("{ident},{ident}"));
    let (ok, out, err) = exec(
        &a,
        r#"psql "postgres://$PG_USERSPEC@$PG_HOSTSPEC/$PG_USER" -XAtc "select 1""#,
    );
    assert!(ok && out == "1", "{err}");

    // Forbidden side: A's credentials open neither B's database nor berth's.
    let other_db = format!("app_{}", other.replace('-', "_"));
    for db in [other_db.as_str(), "berth", "postgres"] {
        let (ok, _, err) = exec(
            &a,
            &format!(r#"psql "postgres://$PG_USERSPEC@$PG_HOSTSPEC/{db}" -XAtc "select 1""#),
        );
        assert!(!ok, "app A opened `{db}`");
        assert!(err.contains("permission denied for database"), "{err}");
    }
    // A wrong password is refused too.
    let (ok, _, err) = exec(
        &a,
        r#"psql "postgres://$PG_USER:wrong@$PG_HOSTSPEC/$PG_USER" -XAtc "select 1""#,
    );
    assert!(
        !ok && err.contains("password authentication failed"),
        "{err}"
    );

    // The password is readable only by berth.
    let file = b
        .data_dir()
        .join(format!("secrets/apps/{a}.postgres-password"));
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&file).unwrap().permissions());
    assert_eq!(mode & 0o077, 0, "{mode:o}");
}

#[tokio::test]
async fn data_dirs_survive_stop_upgrade_and_reinstall_and_go_with_purge() {
    let b = Berth::start(&bin()).await.unwrap();
    let owner = Owner::new(&b);
    let image = psql_image(true).unwrap();
    let name = app_name("data");
    let app = |marker: &str| {
        json!({"v": "4.0", "name": name, "image": image, "services": ["postgres"],
            "env_vars": {"PG_CONN": "{{ postgres.connection_string }}", "MARKER": marker},
            "data_dirs": [{"path": "/data", "uid": 1000, "gid": 1000}, {"path": "/var/lib/app/state", "uid": 1000},
                {"path": "/media", "shared_dir": "media", "read_only": true}]})
    };
    let (s, v) = owner.install(&app("one")).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    owner.wait_status(&name, "running").await;

    // The app runs as uid 1000 and owns its data dirs.
    assert_eq!(exec(&name, "id -u").1, "1000");
    let (ok, _, err) = exec(
        &name,
        "echo kept > /data/file && echo nested > /var/lib/app/state/f",
    );
    assert!(ok, "{err}");
    let host = b.data_dir().join("apps").join(&name);
    assert_eq!(
        std::fs::read_to_string(host.join("data/file")).unwrap(),
        "kept\n"
    );
    assert!(host.join("var/lib/app/state/f").is_file());
    // The shared dir is mounted read-only.
    std::fs::write(b.data_dir().join("shared/media/song"), "la").unwrap();
    assert_eq!(exec(&name, "cat /media/song").1, "la");
    assert!(
        !exec(&name, "echo x > /media/new").0,
        "read-only shared dir was writable"
    );
    let (ok, _, err) = exec(
        &name,
        r#"psql "$PG_CONN" -XAtc "create table t (v text); insert into t values ('row')""#,
    );
    assert!(ok, "{err}");
    let first_conn = exec(&name, "echo $PG_CONN").1;

    assert_eq!(owner.action(&name, "stop").await.0, StatusCode::OK);
    assert_eq!(owner.action(&name, "start").await.0, StatusCode::OK);
    owner.wait_status(&name, "running").await;
    assert_eq!(exec(&name, "cat /data/file").1, "kept");

    // Upgrade: a new manifest recreates the container, data stays.
    let (s, v) = owner.upgrade(&app("two")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    owner.wait_status(&name, "running").await;
    assert_eq!(exec(&name, "echo $MARKER").1, "two");
    assert_eq!(exec(&name, "cat /data/file").1, "kept");

    // Uninstall without purge keeps data and database; reinstall reuses them.
    assert_eq!(owner.uninstall(&name, false).await, StatusCode::NO_CONTENT);
    assert!(host.join("data/file").is_file());
    let ident = format!("app_{}", name.replace('-', "_"));
    assert!(role_exists(&b, &ident) && database_exists(&b, &ident));
    let (s, v) = owner.install(&app("three")).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    owner.wait_status(&name, "running").await;
    assert_eq!(
        exec(&name, "echo $PG_CONN").1,
        first_conn,
        "password changed on reinstall"
    );
    let (ok, out, err) = exec(&name, r#"psql "$PG_CONN" -XAtc "select v from t""#);
    assert!(ok && out == "row", "{err}");
    assert_eq!(exec(&name, "cat /data/file").1, "kept");

    // Purge removes everything of the app.
    assert_eq!(owner.uninstall(&name, true).await, StatusCode::NO_CONTENT);
    assert!(!host.exists());
    assert!(!role_exists(&b, &ident) && !database_exists(&b, &ident));
    assert!(!b
        .data_dir()
        .join(format!("secrets/apps/{name}.postgres-password"))
        .exists());
    // Shared dirs belong to the owner, not the app.
    assert!(b.data_dir().join("shared/media/song").exists());
}

#[tokio::test]
async fn a_symlink_planted_in_a_data_dir_cannot_redirect_it() {
    let b = Berth::start(&bin()).await.unwrap();
    let owner = Owner::new(&b);
    let name = app_name("link");
    let outside = b.data_dir().with_extension("outside");
    std::fs::create_dir_all(&outside).unwrap();
    let host = b.data_dir().join("apps").join(&name);
    std::fs::create_dir_all(&host).unwrap();
    std::os::unix::fs::symlink(&outside, host.join("data")).unwrap();

    // The database step runs before the data dirs: the failed install must
    // take back the role it made, though the app dir was there before it.
    let (s, problem) = owner
        .install(&json!({"v": "4.0", "name": name, "image": busybox_image().unwrap(), "services": ["postgres"], "data_dirs": [{"path": "/data/sub", "uid": 1000}]}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["field"], "/data_dirs");
    assert!(!outside.join("sub").exists());
    assert_eq!(owner.get(&name).await.0, StatusCode::NOT_FOUND);
    assert!(!crate::apps_support::docker(&["container", "inspect", &name]).0);
    let ident = format!("app_{}", name.replace('-', "_"));
    assert!(!role_exists(&b, &ident) && !database_exists(&b, &ident));
    assert!(!b
        .data_dir()
        .join(format!("secrets/apps/{name}.postgres-password"))
        .exists());
    // The app dir was the user's before the install: it stays.
    assert!(host.join("data").symlink_metadata().is_ok());
}

/// One HTTP/1.0 request over a Unix socket: (status, body so far).
async fn unix_http(socket: &std::path::Path, request: &str) -> (u16, String) {
    let mut s = tokio::net::UnixStream::connect(socket).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, text)
}

#[tokio::test]
async fn docker_sock_ro_allows_reads_streams_events_and_refuses_writes() {
    let b = Berth::start(&bin()).await.unwrap();
    let owner = Owner::new(&b);
    let name = app_name("sock");
    let (s, v) = owner
        .install(&json!({"v": "4.0", "name": name, "image": busybox_image().unwrap(), "services": ["docker_sock_ro"], "env_vars": {"SECRET": "hunter2"}}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    owner.wait_status(&name, "running").await;
    let socket = b.data_dir().join(format!("run/docker-proxy/{name}.sock"));

    let (status, body) = unix_http(&socket, "GET /containers/json HTTP/1.0\r\n\r\n").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(&format!("/{name}")), "{body}");
    let (status, body) = unix_http(
        &socket,
        "POST /containers/create HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("\"message\""), "{body}");
    // Inspect is allowed, but env values (other apps' passwords) are not shown.
    let (status, body) = unix_http(
        &socket,
        &format!("GET /containers/{name}/json HTTP/1.0\r\n\r\n"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("SECRET=<redacted>"), "{body}");
    assert!(!body.contains("hunter2"), "{body}");
    for denied in [
        "DELETE /containers/x",
        "POST /containers/x/exec",
        "GET /containers/x/archive",
        "GET /images/x/get",
        "GET /v1.41/containers/../json",
    ] {
        let (status, body) = unix_http(&socket, &format!("{denied} HTTP/1.0\r\n\r\n")).await;
        assert_eq!(status, 403, "{denied}: {body}");
    }

    // The app sees the socket where Docker clients look for it.
    let (ok, out, _) = exec(&name, "ls -l /var/run/docker.sock");
    assert!(ok && out.starts_with('s'), "{out}");

    // Events keep streaming: open the stream, then cause an event.
    let mut events = tokio::net::UnixStream::connect(&socket).await.unwrap();
    events
        .write_all(format!("GET /events?filters=%7B%22container%22%3A%5B%22{name}%22%5D%7D HTTP/1.1\r\nHost: docker\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut seen = String::new();
    let mut buf = [0u8; 4096];
    let n = events.read(&mut buf).await.unwrap();
    seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    assert!(seen.starts_with("HTTP/1.1 200"), "{seen}");
    assert_eq!(owner.action(&name, "restart").await.0, StatusCode::OK);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !seen.contains("\"restart\"") {
        assert!(
            std::time::Instant::now() < deadline,
            "no event streamed: {seen}"
        );
        let n = tokio::time::timeout(Duration::from_secs(30), events.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "stream closed: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }

    // The socket goes away with the app.
    assert_eq!(owner.uninstall(&name, false).await, StatusCode::NO_CONTENT);
    assert!(!socket.exists());
}

#[tokio::test]
async fn apps_reach_portal_core_and_see_only_what_they_are_granted() {
    let b = Berth::start(&bin()).await.unwrap();
    let owner = Owner::new(&b);
    let image = busybox_image().unwrap();
    let (plain, reader) = (app_name("plain"), app_name("reader"));
    let (s, v) = owner
        .install(&json!({"v": "4.0", "name": plain, "image": image}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = owner
        .install(&json!({"v": "4.0", "name": reader, "image": image, "permissions": ["apps:read"]}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    owner.wait_status(&plain, "running").await;
    owner.wait_status(&reader, "running").await;

    let get =
        |app: &str, path: &str| exec(app, &format!("wget -qO- http://portal_core{path} 2>&1"));
    let (ok, own, _) = get(&plain, &format!("/protected/apps/{plain}"));
    assert!(
        ok && own.contains(&format!("\"name\":\"{plain}\"")),
        "{own}"
    );
    // Forbidden side: another app's record, the full list, owner actions.
    let (ok, out, _) = get(&plain, &format!("/protected/apps/{reader}"));
    assert!(!ok && out.contains("403"), "{out}");
    let (_, list, _) = get(&plain, "/protected/apps");
    assert!(list.contains(&plain) && !list.contains(&reader), "{list}");
    let (ok, out, _) = exec(
        &plain,
        &format!("wget -qO- --post-data '' http://portal_core/protected/apps/{reader}/stop 2>&1"),
    );
    assert!(!ok && out.contains("403"), "{out}");
    let (ok, out, _) = exec(
        &plain,
        "wget -qO- --post-data '{}' http://portal_core/protected/apps 2>&1",
    );
    assert!(!ok && out.contains("403"), "{out}");

    // `apps:read` grants every record.
    let (ok, other, _) = get(&reader, &format!("/protected/apps/{plain}"));
    assert!(ok && other.contains(&plain), "{other}");
    let (_, list, _) = get(&reader, "/protected/apps");
    assert!(list.contains(&plain) && list.contains(&reader), "{list}");
    assert_eq!(owner.get(&reader).await.1["status"], "running");
}
