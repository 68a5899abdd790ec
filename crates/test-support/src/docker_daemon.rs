//! Restarting the machine's Docker daemon, for the one test that proves
//! apps come back after it. That test runs alone (scripts/test.sh runs it
//! after the parallel suite), since every other test shares the daemon.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

fn docker_answers() -> bool {
    Command::new("docker")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn dockerd_pids() -> Vec<i32> {
    let out = Command::new("pgrep").args(["-x", "dockerd"]).output();
    out.map(|o| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    })
    .unwrap_or_default()
}

/// Stops dockerd (which stops every container) and starts it again the
/// way this machine runs it: systemd where it is in charge, else the way
/// scripts/install-deps.sh starts it. Returns once the daemon answers.
pub fn restart_docker_daemon() -> anyhow::Result<()> {
    let systemd = Command::new("systemctl")
        .args(["is-active", "--quiet", "docker"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if systemd {
        let ok = Command::new("systemctl")
            .args(["restart", "docker"])
            .status()?
            .success();
        if !ok {
            bail!("systemctl restart docker failed");
        }
    } else {
        let pids = dockerd_pids();
        if pids.is_empty() {
            bail!("no dockerd process to restart");
        }
        for pid in &pids {
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(*pid),
                nix::sys::signal::Signal::SIGTERM,
            )?;
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while !dockerd_pids().is_empty() {
            if Instant::now() > deadline {
                bail!("dockerd did not stop within 60 s");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open("/var/log/berth-dockerd.log")
            .context("open /var/log/berth-dockerd.log")?;
        // setsid: the daemon must outlive this test process and its group.
        Command::new("setsid")
            .arg("dockerd")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("start dockerd")?;
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while !docker_answers() {
        if Instant::now() > deadline {
            bail!("dockerd did not answer within 60 s of its restart");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(())
}
