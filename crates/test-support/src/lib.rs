//! Test support: real berth instances, each in its own slice.
//!
//! Every [`Berth`] gets its own temporary data dir, its own ports (so its own
//! managed Postgres cluster and registry), and is stopped with SIGTERM (then
//! SIGKILL) when dropped, so tests run in parallel and leave nothing behind.

pub mod browser;
mod docker_daemon;
mod images;
mod plain;

// The test helpers keep one flat path (`berth_test_support::busybox_image`)
// whatever file they live in.
pub use browser::Browser;
pub use docker_daemon::restart_docker_daemon;
pub use images::{busybox_image, derived_image, psql_image, upstream_image};
pub use plain::{PlainPostgres, PlainRegistry};

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use rand::Rng;

/// A port on 127.0.0.1 that was free a moment ago.
///
/// Parallel test processes draw from one sequence kept in a locked file, so
/// a port handed out is not handed out again until the whole range has been
/// used: a berth that is restarting leaves its ports unbound for a moment,
/// and a random pick by another test could take them.
///
/// The sequence stays below the kernel's ephemeral range: there, any
/// outgoing connection (a pool's, a browser's) may take a port as its local
/// end while a restarting registry has let go of it, and the registry then
/// fails to bind for as long as that connection lives. CI lost a run so.
pub fn free_port() -> u16 {
    const LOW: u16 = 10_000;
    let high = ephemeral_floor().saturating_sub(1).max(LOW + 1_000);
    let path = std::env::temp_dir().join("berth-test-ports");
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path);
    let locked = file
        .ok()
        .and_then(|f| nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusive).ok());
    let Some(mut lock) = locked else {
        return random_free_port(LOW, high);
    };
    use std::io::{Read, Seek, Write};
    let mut text = String::new();
    let _ = lock.read_to_string(&mut text);
    let mut next: u16 = text
        .trim()
        .parse()
        .unwrap_or(LOW + (std::process::id() % 500) as u16 * 40);
    for _ in 0..(high - LOW) {
        let port = next;
        next = if next >= high { LOW } else { next + 1 };
        if (LOW..=high).contains(&port) && TcpListener::bind(("127.0.0.1", port)).is_ok() {
            let _ = lock.set_len(0);
            let _ = lock.rewind();
            let _ = write!(lock, "{next}");
            return port;
        }
    }
    random_free_port(LOW, high)
}

/// The lowest port the kernel hands to outgoing connections.
fn ephemeral_floor() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768)
}

fn random_free_port(low: u16, high: u16) -> u16 {
    let mut rng = rand::thread_rng();
    for _ in 0..200 {
        let port = rng.gen_range(low..high);
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// A name unique to this test run, for Docker labels, databases, namespaces.
pub fn unique_name(prefix: &str) -> String {
    let n: u32 = rand::thread_rng().gen();
    format!("{prefix}-{}-{n:08x}", std::process::id())
}

/// Ports of one instance.
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    pub listen: u16,
    pub registry: u16,
    pub postgres: u16,
}

impl Ports {
    pub fn fresh() -> Self {
        Self {
            listen: free_port(),
            registry: free_port(),
            postgres: free_port(),
        }
    }
}

/// A running `berth serve`.
pub struct Berth {
    child: Option<Child>,
    bin: PathBuf,
    data_dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    pub ports: Ports,
    log_path: PathBuf,
}

impl Berth {
    /// Starts berth on a fresh data dir and waits for `/healthz` to be 200.
    pub async fn start(bin: &Path) -> anyhow::Result<Self> {
        let tmp = tempfile::Builder::new().prefix("berth-test-").tempdir()?;
        let data_dir = tmp.path().join("data");
        let mut b = Self::spawn(bin, &data_dir, Ports::fresh(), Some(tmp))?;
        b.wait_healthy(Duration::from_secs(60)).await?;
        Ok(b)
    }

    /// Spawns without waiting; for tests of start-up failures and restarts.
    pub fn spawn(
        bin: &Path,
        data_dir: &Path,
        ports: Ports,
        tmp: Option<tempfile::TempDir>,
    ) -> anyhow::Result<Self> {
        let (child, log_path) = spawn_serve(bin, data_dir, ports)?;
        Ok(Self {
            child: Some(child),
            bin: bin.to_owned(),
            data_dir: data_dir.to_owned(),
            _tmp: tmp,
            ports,
            log_path,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.ports.listen)
    }

    pub fn registry_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.ports.registry))
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The owner's API token (`<data-dir>/owner.token`).
    pub fn owner_token(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("owner.token"))
            .unwrap_or_default()
            .trim()
            .to_owned()
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// Everything the instance logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Polls `/healthz` until 200, failing early if berth exits.
    pub async fn wait_healthy(&mut self, timeout: Duration) -> anyhow::Result<Duration> {
        let start = Instant::now();
        let client = reqwest::Client::new();
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Some(status) = child.try_wait()? {
                    bail!(
                        "berth exited with {status} before becoming healthy:\n{}",
                        self.log()
                    );
                }
            }
            if let Ok(r) = client
                .get(self.url("/healthz"))
                .timeout(Duration::from_secs(3))
                .send()
                .await
            {
                if r.status().as_u16() == 200 {
                    return Ok(start.elapsed());
                }
            }
            if start.elapsed() > timeout {
                bail!("berth was not healthy within {timeout:?}:\n{}", self.log());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sends `signal` and waits for the process to exit; returns the exit
    /// code and how long it took.
    pub fn stop_with(
        &mut self,
        signal: Signal,
        timeout: Duration,
    ) -> anyhow::Result<(Option<i32>, Duration)> {
        let Some(mut child) = self.child.take() else {
            bail!("berth is not running");
        };
        let start = Instant::now();
        kill(Pid::from_raw(child.id() as i32), signal)?;
        loop {
            if let Some(status) = child.try_wait()? {
                return Ok((status.code(), start.elapsed()));
            }
            if start.elapsed() > timeout {
                let _ = child.kill();
                let _ = child.wait();
                bail!("berth did not exit within {timeout:?} after {signal}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts berth again on the same data dir and ports.
    pub async fn restart(&mut self) -> anyhow::Result<Duration> {
        if self.child.is_some() {
            self.stop_with(Signal::SIGTERM, Duration::from_secs(15))?;
        }
        let (child, log_path) = spawn_serve(&self.bin, &self.data_dir, self.ports)?;
        self.child = Some(child);
        self.log_path = log_path;
        self.wait_healthy(Duration::from_secs(60)).await
    }
}

impl Drop for Berth {
    fn drop(&mut self) {
        if self.child.is_some() {
            let _ = self.stop_with(Signal::SIGTERM, Duration::from_secs(15));
        }
        // Children of a berth that was SIGKILLed in a test are still ours
        // to clean: find them by their data-dir marker.
        reap_by_marker(&self.data_dir);
        // Apps' containers and the instance's network outlive berth by
        // design (restart policy); a test's must not.
        remove_docker_objects(&self.data_dir);
    }
}

/// Starts `berth serve` on `data_dir` and `ports`, logging to a file beside
/// the data dir (one per start, so a restart's log is its own).
fn spawn_serve(bin: &Path, data_dir: &Path, ports: Ports) -> anyhow::Result<(Child, PathBuf)> {
    static STARTS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = STARTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let log_path = data_dir.with_extension(format!("log.{}.{n}", ports.listen));
    if let Some(parent) = log_path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let log = std::fs::File::create(&log_path)?;
    let child = Command::new(bin)
        .arg("serve")
        .args(["--data-dir", &data_dir.display().to_string()])
        .args(["--listen", &format!("127.0.0.1:{}", ports.listen)])
        .args([
            "--registry-listen",
            &format!("127.0.0.1:{}", ports.registry),
        ])
        .args([
            "--postgres-listen",
            &format!("127.0.0.1:{}", ports.postgres),
        ])
        .env_remove("BERTH_CONFIG")
        .env_remove("BERTH_POSTGRES_URL")
        .env_remove("BERTH_REGISTRY_URL")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .with_context(|| format!("cannot start {}", bin.display()))?;
    Ok((child, log_path))
}

/// Kills every process whose arguments mention `dir`.
pub fn reap_by_marker(dir: &Path) {
    let Ok(canonical) = dir.canonicalize() else {
        return;
    };
    let needle = canonical.display().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        if String::from_utf8_lossy(&cmdline).contains(&needle) && pid != std::process::id() as i32 {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
}

/// True while `pid` has not finished exiting: a zombie thread-group leader
/// whose other threads still run (a Go program) is alive.
pub fn pid_alive(pid: i32) -> bool {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return false;
    };
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_owned())
            .unwrap_or_default()
    };
    let zombie = field("State:").starts_with(['Z', 'X']);
    !zombie || field("Threads:").parse::<u32>().unwrap_or(1) > 1
}

/// Pids of processes whose arguments mention `dir`.
pub fn processes_mentioning(dir: &Path) -> Vec<i32> {
    let Ok(canonical) = dir.canonicalize() else {
        return Vec::new();
    };
    let needle = canonical.display().to_string();
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<i32>().ok())
            else {
                continue;
            };
            let alive = pid_alive(pid);
            if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
                if alive && String::from_utf8_lossy(&cmdline).contains(&needle) {
                    out.push(pid);
                }
            }
        }
    }
    out
}

/// Removes every container and network of the berth instance whose data dir
/// is `data_dir` (found by the `berth.instance` label), so tests leave no
/// Docker objects behind.
pub fn remove_docker_objects(data_dir: &Path) {
    let Ok(id) = std::fs::read_to_string(data_dir.join("instance-id")) else {
        return;
    };
    let id = id.trim();
    if id.is_empty() {
        return;
    }
    let label = format!("label=berth.instance={id}");
    if let Ok(out) = Command::new("docker")
        .args(["ps", "-aq", "--filter", &label])
        .output()
    {
        let ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        if !ids.is_empty() {
            let _ = Command::new("docker")
                .args(["rm", "-f"])
                .args(&ids)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
    if let Ok(out) = Command::new("docker")
        .args(["network", "ls", "-q", "--filter", &label])
        .output()
    {
        for net in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            let _ = Command::new("docker")
                .args(["network", "rm", net])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}
