//! Bad input and broken surroundings: one clear line, non-zero exit.

use std::net::TcpListener;

use berth_test_support::free_port;

use crate::common::{assert_one_clear_error, berth, berth_with_env, stderr};

fn ports_args(dir: &str) -> Vec<String> {
    vec![
        "serve".into(),
        "--data-dir".into(),
        dir.into(),
        "--listen".into(),
        format!("127.0.0.1:{}", free_port()),
        "--registry-listen".into(),
        format!("127.0.0.1:{}", free_port()),
        "--postgres-listen".into(),
        format!("127.0.0.1:{}", free_port()),
    ]
}

#[test]
fn bad_flag_value_is_one_line() {
    let o = berth(&["serve", "--listen", "not-an-address"]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("--listen"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn unknown_flag_is_refused() {
    let o = berth(&["serve", "--no-such-flag"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--no-such-flag"));
}

#[test]
fn occupied_port_names_the_port_and_the_fix() {
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut args = ports_args(dir.to_str().unwrap());
    args[4] = format!("127.0.0.1:{port}");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = berth(&args);
    assert_one_clear_error(&o, &port.to_string());
    assert!(stderr(&o).contains("--listen"), "{}", stderr(&o));
}

#[test]
fn unwritable_data_dir_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("a-file");
    std::fs::write(&file, b"").unwrap();
    let dir = file.join("data");
    let args = ports_args(dir.to_str().unwrap());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = berth(&args);
    assert_one_clear_error(&o, "data dir");
}

#[test]
fn missing_docker_daemon_names_the_fix() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let args = ports_args(dir.to_str().unwrap());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let sock = format!("unix://{}/no-docker.sock", tmp.path().display());
    let o = berth_with_env(&args, &[("DOCKER_HOST", &sock)]);
    assert_one_clear_error(&o, "dockerd");
}

#[test]
fn second_berth_on_the_same_data_dir_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    std::fs::create_dir_all(&dir).unwrap();
    let lock = std::fs::File::create(dir.join("berth.lock")).unwrap();
    let _held = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusiveNonblock).unwrap();
    let args = ports_args(dir.to_str().unwrap());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = berth(&args);
    assert_one_clear_error(&o, "already running");
}

#[test]
fn invalid_config_file_names_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("berth.toml");
    std::fs::write(&file, "listen = \"127.0.0.1:1\"\nlisten_typo = 1\n").unwrap();
    let o = berth(&["serve", "--config", file.to_str().unwrap()]);
    assert_one_clear_error(&o, "listen_typo");
}
