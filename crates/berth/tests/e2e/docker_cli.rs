//! The real `docker` CLI and `skopeo` against a test's berth registry, each
//! client with its own `DOCKER_CONFIG` so logins never collide.

use std::cell::RefCell;
use std::io::Write;
use std::process::{Command, Output, Stdio};

use berth_test_support::Berth;

pub struct DockerClient {
    config: tempfile::TempDir,
    registry: String,
    /// Local tags this client created, removed on drop.
    tags: RefCell<Vec<String>>,
}

impl DockerClient {
    pub fn new(b: &Berth) -> Self {
        Self {
            config: tempfile::tempdir().unwrap(),
            registry: b.registry_addr().to_string(),
            tags: RefCell::new(Vec::new()),
        }
    }

    pub fn registry(&self) -> &str {
        &self.registry
    }

    pub fn config_json(&self) -> String {
        std::fs::read_to_string(self.config.path().join("config.json")).unwrap_or_default()
    }

    fn docker(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = Command::new("docker");
        cmd.args(args)
            .env("DOCKER_CONFIG", self.config.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("run docker");
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
        }
        drop(child.stdin.take());
        child.wait_with_output().unwrap()
    }

    pub fn login(&self, user: &str, password: &str) -> Output {
        self.docker(
            &["login", &self.registry, "-u", user, "--password-stdin"],
            Some(password),
        )
    }

    /// Tags the test busybox image as `<registry>/<repo>` and pushes it.
    pub fn push(&self, repo: &str) -> Output {
        let image = berth_test_support::busybox_image().unwrap();
        let target = format!("{}/{repo}", self.registry);
        let tag = self.docker(&["tag", &image, &target], None);
        assert!(tag.status.success(), "{}", text(&tag));
        self.tags.borrow_mut().push(target.clone());
        self.docker(&["push", &target], None)
    }

    /// Pulls `<registry>/<repo>` after removing any local tag of it, so the
    /// registry must authorize the manifest fetch.
    pub fn pull(&self, repo: &str) -> Output {
        let target = format!("{}/{repo}", self.registry);
        let _ = self.docker(&["rmi", &target], None);
        let out = self.docker(&["pull", &target], None);
        if out.status.success() {
            self.tags.borrow_mut().push(target);
        }
        out
    }
}

impl Drop for DockerClient {
    fn drop(&mut self) {
        for t in self.tags.borrow().iter() {
            let _ = Command::new("docker")
                .args(["rmi", t])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// `skopeo inspect` of `<registry>/<repo>` with `user:password`, or anonymously.
pub fn skopeo_inspect(registry: &str, repo: &str, creds: Option<&str>) -> Output {
    let mut cmd = Command::new("skopeo");
    cmd.args(["inspect", "--tls-verify=false"]);
    match creds {
        Some(c) => cmd.args(["--creds", c]),
        None => cmd.arg("--no-creds"),
    };
    cmd.arg(format!("docker://{registry}/{repo}"))
        .output()
        .expect("run skopeo")
}

pub fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[track_caller]
pub fn assert_ok(o: &Output) {
    assert!(o.status.success(), "expected success: {}", text(o));
}

#[track_caller]
pub fn assert_denied(o: &Output) {
    assert!(!o.status.success(), "expected refusal: {}", text(o));
    let err = String::from_utf8_lossy(&o.stderr).to_lowercase();
    assert!(
        err.contains("denied")
            || err.contains("unauthorized")
            || err.contains("authentication required")
            || err.contains("not found"),
        "refused for another reason: {}",
        text(o)
    );
}
