//! `berth user|team|namespace` against a running berth: bootstrap stores the
//! admin's credentials (0600), later commands use them, `--json` and tables.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output, Stdio};

use berth_test_support::Berth;

use crate::common::bin;

fn cli(b: &Berth, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Output {
    let url = b.url("");
    let data_dir = b.data_dir().display().to_string();
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .args(["--url", &url, "--data-dir", &data_dir])
        .env_remove("BERTH_AUTH")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[track_caller]
fn ok(o: &Output) -> String {
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

#[tokio::test]
async fn cli_manages_users_teams_and_namespaces() {
    let b = Berth::start(&bin()).await.unwrap();
    ok(&cli(
        &b,
        &[
            "user",
            "bootstrap",
            "--username",
            "root",
            "--email",
            "root@example.org",
            "--password-stdin",
        ],
        "root-password\n",
        &[],
    ));
    let auth = b.data_dir().join("secrets/cli-auth");
    let mode = std::fs::metadata(&auth).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    let created = ok(&cli(
        &b,
        &[
            "user",
            "create",
            "alice",
            "--email",
            "alice@example.org",
            "--json",
        ],
        "alice-password",
        &[],
    ));
    let alice: serde_json::Value = serde_json::from_str(&created).unwrap();
    assert_eq!(alice["username"], "alice");
    let table = ok(&cli(&b, &["user", "list"], "", &[]));
    assert!(table.contains("alice") && table.contains("root"), "{table}");

    ok(&cli(&b, &["team", "create", "ops"], "", &[]));
    ok(&cli(
        &b,
        &["namespace", "create", "ops", "--team", "ops"],
        "",
        &[],
    ));
    let ns: serde_json::Value =
        serde_json::from_str(&ok(&cli(&b, &["namespace", "list", "--json"], "", &[]))).unwrap();
    let ops = ns
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "ops")
        .unwrap();
    assert_eq!(ops["visibility"], "private");
    let id = ops["id"].to_string();
    let changed = ok(&cli(
        &b,
        &["namespace", "visibility", &id, "public"],
        "",
        &[],
    ));
    assert!(changed.contains("public"), "{changed}");

    // Refresh tokens: root logs in the way docker does, then lists and revokes.
    let root_id = ok(&cli(&b, &["user", "list", "--json"], "", &[]));
    let root_id = serde_json::from_str::<serde_json::Value>(&root_id)
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "root")
        .unwrap()["id"]
        .to_string();
    let login = reqwest::Client::new()
        .get(b.url("/v2/token?service=berth-registry&offline_token=true&client_id=docker"))
        .basic_auth("root", Some("root-password"))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let list: serde_json::Value = serde_json::from_str(&ok(&cli(
        &b,
        &["user", "refresh-tokens", &root_id, "--json"],
        "",
        &[],
    )))
    .unwrap();
    let token = list[0]["id"].to_string();
    ok(&cli(
        &b,
        &["user", "revoke-refresh", &root_id, &token],
        "",
        &[],
    ));
    let list: serde_json::Value = serde_json::from_str(&ok(&cli(
        &b,
        &["user", "refresh-tokens", &root_id, "--json"],
        "",
        &[],
    )))
    .unwrap();
    assert!(list[0]["revoked_at"].is_string(), "{list}");

    // alice, with her own credentials, is refused admin work with one clear line.
    let refused = cli(
        &b,
        &["user", "create", "mallory", "--email", "m@example.org"],
        "mallory-password",
        &[("BERTH_AUTH", "alice:not-a-token")],
    );
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.starts_with("error: berth answered 401"), "{err}");
}
