//! Helpers shared by the end-to-end tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_berth"))
}

/// Runs `berth` with `args` to completion.
pub fn berth(args: &[&str]) -> Output {
    berth_with_env(args, &[])
}

pub fn berth_with_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .env_remove("BERTH_CONFIG")
        .env_remove("BERTH_POSTGRES_URL")
        .env_remove("BERTH_REGISTRY_URL");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run berth")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A start-up failure must be one clear line, never a panic or backtrace.
#[track_caller]
pub fn assert_one_clear_error(o: &Output, needle: &str) {
    let err = stderr(o);
    assert!(!o.status.success(), "expected failure, got success: {err}");
    assert!(!err.contains("panicked"), "panic in stderr: {err}");
    assert!(
        !err.contains("stack backtrace"),
        "backtrace in stderr: {err}"
    );
    let error_lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(
        error_lines.len(),
        1,
        "want exactly one error line, got: {err}"
    );
    assert!(
        error_lines[0].contains(needle),
        "error line lacks `{needle}`: {err}"
    );
}

/// The pid in `path`, waiting up to 5 s for it: the file appears before
/// its content does, so a reader that saw it exist may still find it empty.
pub fn read_pid(path: &Path) -> i32 {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let read = std::fs::read_to_string(path).unwrap_or_default();
        if let Ok(pid) = read.trim().parse() {
            return pid;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no pid in {}",
            path.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

pub async fn get(url: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(url)
        .send()
        .await
        .expect("request")
}

/// A fresh pairing code, fetched with the owner token as the CLI would.
pub async fn pairing_code(b: &berth_test_support::Berth) -> String {
    let code: serde_json::Value = reqwest::Client::new()
        .get(b.url("/protected/terminals/pairing-code"))
        .bearer_auth(b.owner_token().trim())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    code["code"].as_str().unwrap().to_owned()
}

/// Pairs a terminal named `name` through the API and returns its cookie
/// as a `Cookie` header pair (`berth_terminal=...`).
pub async fn pair_terminal(b: &berth_test_support::Berth, name: &str) -> String {
    let code = pairing_code(b).await;
    let r = reqwest::Client::new()
        .post(b.url(&format!("/public/pair/terminal?code={code}")))
        .json(&serde_json::json!({"name": name, "icon": "desktop"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let set = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    set.split(';').next().unwrap().to_owned()
}
