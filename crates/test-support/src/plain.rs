//! Bare services without berth around them, for tests of one adapter.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

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
        Self::start_on(None)
    }

    /// A plain registry serving `storage` (another registry's storage dir,
    /// say berth's while berth is stopped), or a fresh one.
    pub fn start_on(storage: Option<&Path>) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("berth-plain-registry-")
            .tempdir()?;
        let port = free_port();
        let config = dir.path().join("config.yml");
        let root = storage.map_or_else(|| dir.path().join("storage"), Path::to_path_buf);
        std::fs::write(
            &config,
            serde_json::json!({
                "version": 0.1,
                "log": {"level": "warn", "accesslog": {"disabled": true}},
                "storage": {"filesystem": {"rootdirectory": root}, "delete": {"enabled": true}},
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

/// A throwaway PostgreSQL 15 cluster on a Unix socket only, for tests of
/// the store and the services without a whole berth. Run as the `postgres`
/// system user when the tests run as root (Postgres refuses root).
pub struct PlainPostgres {
    child: Child,
    dir: tempfile::TempDir,
    pub port: u16,
}

impl PlainPostgres {
    pub fn start() -> anyhow::Result<Self> {
        use std::os::unix::fs::PermissionsExt;
        use std::os::unix::process::CommandExt;
        let bin = PathBuf::from("/usr/lib/postgresql/15/bin");
        let dir = tempfile::Builder::new()
            .prefix("berth-plain-pg-")
            .tempdir()?;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777))?;
        let run_as = if nix::unistd::Uid::effective().is_root() {
            let user = nix::unistd::User::from_name("postgres")?.context("no postgres user")?;
            Some((user.uid.as_raw(), user.gid.as_raw()))
        } else {
            None
        };
        let data = dir.path().join("data");
        let mut initdb = Command::new(bin.join("initdb"));
        initdb
            .args([
                "-D",
                &data.display().to_string(),
                "-U",
                "postgres",
                "-A",
                "trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some((u, g)) = run_as {
            initdb.uid(u).gid(g);
        }
        let out = initdb.output()?;
        if !out.status.success() {
            bail!("initdb failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let port = free_port();
        let mut postgres = Command::new(bin.join("postgres"));
        postgres
            .args([
                "-D",
                &data.display().to_string(),
                "-p",
                &port.to_string(),
                "-k",
                &dir.path().display().to_string(),
            ])
            .args(["-c", "listen_addresses=", "-c", "fsync=off"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        if let Some((u, g)) = run_as {
            postgres.uid(u).gid(g);
        }
        let child = postgres.spawn()?;
        let socket = dir.path().join(format!(".s.PGSQL.{port}"));
        let start = Instant::now();
        while !socket.exists() {
            if start.elapsed() > Duration::from_secs(20) {
                bail!("postgres did not create {}", socket.display());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // The socket appears before the server accepts; give it a moment.
        std::thread::sleep(Duration::from_millis(200));
        Ok(Self { child, dir, port })
    }

    /// The socket directory, for `host=` or sqlx's `socket()`.
    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for PlainPostgres {
    fn drop(&mut self) {
        let _ = kill(Pid::from_raw(-(self.child.id() as i32)), Signal::SIGKILL);
        let _ = self.child.wait();
    }
}
