//! `berth registry catalog|manifest|delete|sync` against a real berth:
//! `catalog` and `manifest` speak to its registry as the service user,
//! `delete` and `sync` go through the Portus API with the caller's
//! credentials; errors are one `error:` line and a non-zero exit.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use berth_test_support::{free_port, Berth};
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{assert_one_clear_error, bin, stdout};
use crate::docker_cli::{assert_ok, skopeo_inspect, text, DockerClient};
use crate::portus::{Api, Auth, TestUser};
use crate::sync::wait_for_tags;

fn registry(b: &Berth, args: &[&str], auth: Option<&str>) -> Output {
    let mut cmd = Command::new(bin());
    cmd.arg("registry")
        .args(args)
        .args(["--data-dir", &b.data_dir().display().to_string()])
        .env_remove("BERTH_AUTH")
        .env_remove("BERTH_URL")
        .env_remove("BERTH_DATA_DIR");
    if let Some(a) = auth {
        cmd.env("BERTH_AUTH", a);
    }
    cmd.output().expect("run berth registry")
}

fn sha256_of(bytes: &[u8]) -> String {
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    let hex = String::from_utf8_lossy(&out.stdout);
    format!("sha256:{}", hex.split_whitespace().next().unwrap_or(""))
}

/// `user:token` for the CLI's `BERTH_AUTH`, from a new application token.
async fn app_token(api: &Api, user: &TestUser) -> String {
    let (s, v) = api
        .call(
            &user.auth(),
            Method::POST,
            &format!("/api/v1/users/{}/application_tokens", user.id),
            Some(json!({"application": "cli"})),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    format!("{}:{}", user.name, v["plain_token"].as_str().unwrap())
}

#[tokio::test]
async fn registry_cli_lists_shows_deletes_and_syncs() {
    let b = Berth::start(&bin()).await.unwrap();
    let api = Api::new(&b);
    let admin = api.bootstrap().await;
    let alice = api.create_user(&admin, "alice", false).await;
    let docker = DockerClient::new(&b);
    assert_ok(&docker.login("alice", &alice.password));
    for t in ["alice/web:1", "alice/web:stable", "alice/db:1"] {
        assert_ok(&docker.push(t));
    }
    let creds = format!("alice:{}", alice.password);
    let reg = docker.registry().to_owned();

    // catalog: a table, and JSON with digests.
    let table = stdout(&registry(&b, &["catalog"], None));
    assert!(table.contains("REPOSITORY"), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.contains("alice/web") && l.contains("stable")),
        "{table}"
    );
    let o = registry(&b, &["catalog", "--json"], None);
    assert!(o.status.success(), "{}", text(&o));
    let listed: Value = serde_json::from_slice(&o.stdout).unwrap();
    let web = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["repository"] == "alice/web")
        .cloned()
        .unwrap();
    let names: Vec<&str> = web["tags"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, ["1", "stable"]);
    let digest = web["tags"][0]["digest"].as_str().unwrap().to_owned();

    // manifest: the bytes as served, then the digest, which is theirs.
    let o = registry(&b, &["manifest", "alice/web:1"], None);
    assert!(o.status.success(), "{}", text(&o));
    let out = o.stdout.clone();
    let body_end = out[..out.len() - 1]
        .iter()
        .rposition(|c| *c == b'\n')
        .unwrap();
    let (bytes, last) = out.split_at(body_end + 1);
    assert_eq!(String::from_utf8_lossy(last).trim(), digest);
    let served = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let digest_of_bytes = if sha256_of(served) == digest {
        sha256_of(served)
    } else {
        sha256_of(bytes)
    };
    assert_eq!(
        digest_of_bytes, digest,
        "digest line is not the bytes' digest"
    );
    let manifest: Value = serde_json::from_slice(bytes).unwrap();
    assert_eq!(manifest["schemaVersion"], 2);

    // delete goes through berth's API with the CLI's credentials: without
    // any, or as bob (no member of alice's namespace), nothing is deleted.
    let alice_auth = app_token(&api, &alice).await;
    let bob = api.create_user(&admin, "bob", false).await;
    let bob_auth = app_token(&api, &bob).await;
    assert_one_clear_error(
        &registry(&b, &["delete", "alice/web", "stable"], None),
        "401",
    );
    assert_one_clear_error(
        &registry(&b, &["delete", "alice/web", "stable"], Some(&bob_auth)),
        "does not exist",
    );
    assert_ok(&skopeo_inspect(&reg, "alice/web:stable", Some(&creds)));

    // delete a tag: the sibling stays, in the registry and in the API, and
    // the audit log names alice, not berth's service user.
    let o = registry(&b, &["delete", "alice/web", "stable"], Some(&alice_auth));
    assert!(o.status.success(), "{}", text(&o));
    assert!(stdout(&o).contains("kept 1"), "{}", text(&o));
    let gone = skopeo_inspect(&reg, "alice/web:stable", Some(&creds));
    assert!(!gone.status.success(), "{}", text(&gone));
    assert_ok(&skopeo_inspect(&reg, "alice/web:1", Some(&creds)));
    wait_for_tags(&api, &alice.auth(), "alice/web", &["1"]).await;
    let (s, deletes) = api
        .call(
            &admin,
            Method::GET,
            "/api/v1/activities?repository=alice/web&action=tag.delete",
            None,
        )
        .await;
    assert_eq!(s, 200, "{deletes}");
    assert_eq!(deletes[0]["actor"]["name"], "alice", "{deletes}");
    assert_eq!(deletes[0]["tag"], "stable", "{deletes}");

    // delete a digest: every tag on it goes.
    let o = registry(&b, &["manifest", "alice/db:1"], None);
    let db_digest = stdout(&o).lines().last().unwrap().to_owned();
    let o = registry(&b, &["delete", "alice/db", &db_digest], Some(&alice_auth));
    assert!(o.status.success(), "{}", text(&o));
    let gone = skopeo_inspect(&reg, "alice/db:1", Some(&creds));
    assert!(!gone.status.success(), "{}", text(&gone));

    // Unknown tag, digest, repository name: one error line each.
    assert_one_clear_error(
        &registry(&b, &["manifest", "alice/web:nope"], None),
        "does not exist",
    );
    assert_one_clear_error(
        &registry(&b, &["delete", "alice/web", "nope"], Some(&alice_auth)),
        "does not exist",
    );
    assert_one_clear_error(
        &registry(&b, &["delete", "alice/db", &db_digest], Some(&alice_auth)),
        "does not exist",
    );
    assert_one_clear_error(
        &registry(&b, &["manifest", "Alice/Web:1"], None),
        "not a repository name",
    );

    // sync: admins only, through the API, with the CLI's credentials.
    assert_one_clear_error(&registry(&b, &["sync"], Some(&alice_auth)), "403");
    let (s, _) = api
        .call(
            &alice.auth(),
            Method::POST,
            "/api/v1/registries/1/sync",
            None,
        )
        .await;
    assert_eq!(s, 403, "a non-admin may not reconcile");
    let Auth::Token { user, token } = &admin else {
        unreachable!()
    };
    let o = registry(&b, &["sync", "--json"], Some(&format!("{user}:{token}")));
    assert!(o.status.success(), "{}", text(&o));
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["complete"], true, "{report}");
    assert_eq!(
        report["deep"], true,
        "an asked-for reconcile HEADs every tag"
    );
    assert!(report["repositories"].as_u64().unwrap() >= 1, "{report}");
    let (s, health) = api
        .call(&Auth::Anonymous, Method::GET, "/api/v1/health", None)
        .await;
    assert_eq!(s, 200, "{health}");
    assert_eq!(health["sync"]["success"], true, "{health}");
}

#[tokio::test]
async fn registry_cli_without_a_running_berth_is_one_error() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().display().to_string();
    for args in [
        vec!["catalog"],
        vec!["manifest", "a/b:1"],
        vec!["delete", "a/b", "1"],
        vec!["sync"],
    ] {
        let o = Command::new(bin())
            .arg("registry")
            .args(&args)
            .args(["--data-dir", &data])
            .env_remove("BERTH_URL")
            .output()
            .unwrap();
        assert_one_clear_error(&o, "is `berth serve` running");
    }
    // A stale address (berth stopped): the registry cannot be reached.
    std::fs::create_dir_all(dir.path().join("run")).unwrap();
    std::fs::create_dir_all(dir.path().join("secrets")).unwrap();
    std::fs::write(
        dir.path().join("run/registry.url"),
        format!("http://127.0.0.1:{}\n", free_port()),
    )
    .unwrap();
    std::fs::write(dir.path().join("secrets/service-user-password"), "x").unwrap();
    let o = Command::new(bin())
        .args(["registry", "catalog", "--data-dir", &data])
        .output()
        .unwrap();
    assert_one_clear_error(&o, "is `berth serve` running");
}
