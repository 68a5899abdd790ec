//! Child processes: the only place berth starts programs.
//!
//! Each supervised child runs in its own process group, so that stopping it
//! also stops whatever it forked (Postgres backends). A child that exits on
//! its own is restarted with exponential backoff and the restart is logged
//! and counted. On shutdown, children stop in reverse start order.
//!
//! berth may itself be killed with SIGKILL, which no handler sees. Children
//! then outlive it; the next start finds them by their command line (each
//! carries a marker unique to the data dir) and stops them before starting
//! anew. That is why [`reap_stale`] runs before any port is bound.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use berth_api::Metrics;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::watch;
use tokio::task::JoinHandle;

#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    #[error("cannot start `{program}`: {source}")]
    Spawn {
        program: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{program}` failed ({status}): {output}")]
    Failed {
        program: PathBuf,
        status: ExitStatus,
        output: String,
    },
}

/// How to run one child.
#[derive(Debug, Clone)]
pub struct ChildSpec {
    pub name: &'static str,
    pub program: PathBuf,
    pub args: Vec<OsString>,
    /// uid and gid to drop to; `None` keeps berth's own.
    pub run_as: Option<(u32, u32)>,
    /// The signal that asks for a clean, fast stop.
    pub stop_signal: Signal,
    pub pid_file: PathBuf,
    /// An argument that only this data dir's instance of the child carries.
    pub marker: OsString,
    /// Secrets the child may print (the registry logs its notification
    /// headers); they are masked before the line reaches berth's log.
    pub redact: Vec<String>,
}

const STOP_GRACE: Duration = Duration::from_secs(8);
const BACKOFF_START: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// A child that ran this long before dying is considered healthy again.
const STABLE_AFTER: Duration = Duration::from_secs(30);

struct Supervised {
    name: &'static str,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// Owner of all running children.
pub struct Supervisor {
    children: Vec<Supervised>,
    metrics: Metrics,
}

impl Supervisor {
    pub fn new(metrics: Metrics) -> Self {
        Self {
            children: Vec::new(),
            metrics,
        }
    }

    /// Starts `spec` and keeps it running. The first spawn happens here, so a
    /// missing program is reported to the caller instead of retried forever.
    pub fn start(&mut self, spec: ChildSpec) -> Result<(), SupervisorError> {
        let child = spawn(&spec)?;
        let labels = self.metrics.child(spec.name);
        self.metrics.child_up.get_or_create(&labels).set(1);
        // Export the counter from the start, so a dashboard sees 0, not nothing.
        let _ = self.metrics.child_restarts.get_or_create(&labels);
        let (stop, stop_rx) = watch::channel(false);
        let name = spec.name;
        let metrics = self.metrics.clone();
        let task = tokio::spawn(keep_running(spec, child, stop_rx, metrics));
        self.children.push(Supervised { name, stop, task });
        Ok(())
    }

    /// Stops every child, last started first, and waits for each.
    pub async fn stop_all(mut self) {
        while let Some(s) = self.children.pop() {
            tracing::info!(child = s.name, "stopping");
            let _ = s.stop.send(true);
            let _ = s.task.await;
        }
    }
}

async fn keep_running(
    spec: ChildSpec,
    first: Child,
    mut stop: watch::Receiver<bool>,
    metrics: Metrics,
) {
    let labels = metrics.child(spec.name);
    let mut child = Some(first);
    let mut started = Instant::now();
    let mut backoff = BACKOFF_START;
    loop {
        if let Some(running) = child.as_mut() {
            tokio::select! {
                status = running.wait() => {
                    metrics.child_up.get_or_create(&labels).set(0);
                    let _ = std::fs::remove_file(&spec.pid_file);
                    if started.elapsed() > STABLE_AFTER {
                        backoff = BACKOFF_START;
                    }
                    let status = status.map(|s| s.to_string()).unwrap_or_else(|e| e.to_string());
                    tracing::warn!(child = spec.name, %status, backoff_ms = backoff.as_millis() as u64, "child exited unexpectedly; restarting");
                    child = None;
                }
                _ = stop.changed() => {
                    terminate(&spec, running).await;
                    metrics.child_up.get_or_create(&labels).set(0);
                    return;
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stop.changed() => return,
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
        match spawn(&spec) {
            Ok(c) => {
                metrics.child_restarts.get_or_create(&labels).inc();
                metrics.child_up.get_or_create(&labels).set(1);
                tracing::info!(child = spec.name, pid = c.id(), "child restarted");
                started = Instant::now();
                child = Some(c);
            }
            Err(e) => tracing::error!(child = spec.name, error = %e, "restart failed"),
        }
    }
}

fn spawn(spec: &ChildSpec) -> Result<Child, SupervisorError> {
    let mut cmd = Command::new(&spec.program);
    cmd.args(&spec.args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if let Some((uid, gid)) = spec.run_as {
        cmd.uid(uid).gid(gid);
    }
    let mut child = cmd.spawn().map_err(|source| SupervisorError::Spawn {
        program: spec.program.clone(),
        source,
    })?;
    if let Some(pid) = child.id() {
        let _ = std::fs::write(&spec.pid_file, format!("{pid}\n"));
        tracing::info!(child = spec.name, pid, "child started");
    }
    if let Some(out) = child.stdout.take() {
        tokio::spawn(forward_lines(spec.name, out, spec.redact.clone()));
    }
    if let Some(err) = child.stderr.take() {
        tokio::spawn(forward_lines(spec.name, err, spec.redact.clone()));
    }
    Ok(child)
}

/// Child output becomes berth log lines, tagged with the child's name.
async fn forward_lines(
    name: &'static str,
    stream: impl tokio::io::AsyncRead + Unpin,
    redact: Vec<String>,
) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(mut line)) = lines.next_line().await {
        for secret in redact.iter().filter(|s| !s.is_empty()) {
            if line.contains(secret.as_str()) {
                line = line.replace(secret.as_str(), "[redacted]");
            }
        }
        tracing::info!(target: "berth::child", child = name, "{line}");
    }
}

async fn terminate(spec: &ChildSpec, child: &mut Child) {
    if let Some(pid) = child.id() {
        let pgid = Pid::from_raw(pid as i32);
        let _ = killpg(pgid, spec.stop_signal);
        match tokio::time::timeout(STOP_GRACE, child.wait()).await {
            Ok(_) => {}
            Err(_) => {
                tracing::warn!(child = spec.name, "did not stop in time; killing");
                let _ = killpg(pgid, Signal::SIGKILL);
                let _ = child.wait().await;
            }
        }
        // Whatever else is left in the group (a stuck backend) goes too.
        let _ = killpg(pgid, Signal::SIGKILL);
    }
    let _ = std::fs::remove_file(&spec.pid_file);
    tracing::info!(child = spec.name, "child stopped");
}

/// Stops processes left over by a berth that died without cleaning up:
/// every process whose command line carries `spec.marker`. Returns how many
/// were found.
pub async fn reap_stale(spec: &ChildSpec) -> usize {
    let pids = processes_with_argument(&spec.marker);
    for pid in &pids {
        tracing::warn!(
            child = spec.name,
            pid,
            "found a leftover child from an earlier run; stopping it"
        );
        let _ = killpg(Pid::from_raw(*pid), spec.stop_signal);
        let _ = nix::sys::signal::kill(Pid::from_raw(*pid), spec.stop_signal);
    }
    let deadline = Instant::now() + STOP_GRACE;
    while pids.iter().any(|p| is_alive(*p)) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for pid in &pids {
        if is_alive(*pid) {
            let _ = killpg(Pid::from_raw(*pid), Signal::SIGKILL);
            let _ = nix::sys::signal::kill(Pid::from_raw(*pid), Signal::SIGKILL);
        }
    }
    while pids.iter().any(|p| is_alive(*p)) && Instant::now() < deadline + STOP_GRACE {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = std::fs::remove_file(&spec.pid_file);
    pids.len()
}

/// Pids of processes with `marker` as one of their arguments.
pub fn processes_with_argument(marker: &std::ffi::OsStr) -> Vec<i32> {
    use std::os::unix::ffi::OsStrExt;
    let me = std::process::id() as i32;
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        if cmdline
            .split(|b| *b == 0)
            .any(|arg| arg == marker.as_bytes())
            && is_alive(pid)
        {
            found.push(pid);
        }
    }
    found
}

/// True while `pid` exists and is not a zombie waiting to be reaped.
pub fn is_alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            // The state follows the parenthesised command name.
            let state = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.trim_start().chars().next());
            match state {
                // A zombie thread-group leader may still have threads
                // tearing down, and with them the open sockets (a Go
                // registry's listener): dead only when it is the last one.
                Some('Z') => std::fs::read_dir(format!("/proc/{pid}/task"))
                    .map(|tasks| tasks.count() > 1)
                    .unwrap_or(false),
                Some('X') | None => false,
                Some(_) => true,
            }
        }
        Err(_) => false,
    }
}

/// Runs a one-shot helper program (initdb, `--version` probes) to completion.
pub async fn run_to_completion(
    program: &Path,
    args: &[OsString],
    run_as: Option<(u32, u32)>,
) -> Result<String, SupervisorError> {
    let mut cmd = Command::new(program);
    cmd.args(args).stdin(Stdio::null()).kill_on_drop(true);
    if let Some((uid, gid)) = run_as {
        cmd.uid(uid).gid(gid);
    }
    let out = cmd
        .output()
        .await
        .map_err(|source| SupervisorError::Spawn {
            program: program.to_owned(),
            source,
        })?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(text)
    } else {
        Err(SupervisorError::Failed {
            program: program.to_owned(),
            status: out.status,
            output: text.trim().to_owned(),
        })
    }
}

/// Looks `name` up in `PATH`, like a shell would.
pub fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}
