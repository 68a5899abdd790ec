//! Bare services without berth around them, for tests of one adapter.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::free_port;

/// A bare distribution registry without authentication, for tests of the
/// registry client on its own. Stopped when dropped.
pub struct PlainRegistry {
    child: Child,
    _dir: tempfile::TempDir,
    pub port: u16,
}

impl PlainRegistry {
    pub fn start() -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("berth-plain-registry-")
            .tempdir()?;
        let port = free_port();
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            serde_json::json!({
                "version": 0.1,
                "log": {"level": "warn", "accesslog": {"disabled": true}},
                "storage": {"filesystem": {"rootdirectory": dir.path().join("storage")}, "delete": {"enabled": true}},
                "http": {"addr": format!("127.0.0.1:{port}")}
            })
            .to_string(),
        )?;
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("start docker-registry (install docker-registry)")?;
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if start.elapsed() > Duration::from_secs(10) {
                bail!("plain registry did not listen on {port}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Self {
            child,
            _dir: dir,
            port,
        })
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Copies a local docker image into this registry with skopeo.
    pub fn push_local_image(
        &self,
        image: &str,
        dest: &str,
        format: Option<&str>,
    ) -> anyhow::Result<()> {
        let mut cmd = Command::new("skopeo");
        cmd.args(["copy", "--quiet", "--dest-tls-verify=false"]);
        if let Some(f) = format {
            cmd.args(["--format", f]);
        }
        let out = cmd
            .arg(format!("docker-daemon:{image}"))
            .arg(format!("docker://127.0.0.1:{}/{dest}", self.port))
            .output()?;
        if !out.status.success() {
            bail!(
                "skopeo copy failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }
}

impl Drop for PlainRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
