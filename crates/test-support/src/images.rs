//! Test images built locally, never pulled: busybox from Debian's
//! `busybox-static` in an image `FROM scratch`, and images derived from it.
//! Each is built once per machine under a file lock shared by parallel test
//! processes.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context};

/// Builds (once per machine, under a file lock shared by parallel test
/// processes) a tiny image `FROM scratch` holding Debian's static busybox,
/// and returns its reference. Nothing is pulled from the internet.
///
/// The image runs `httpd` on port 8080 serving `/www` by default, so it can
/// stand in for a web app; tests override the command as they need.
pub fn busybox_image() -> anyhow::Result<String> {
    build_once("berth-test/busybox:1", |ctx| {
        std::fs::copy("/bin/busybox", ctx.join("busybox"))
            .context("copy /bin/busybox (install busybox-static)")?;
        std::fs::write(
            ctx.join("Dockerfile"),
            "FROM scratch\n\
         COPY busybox /bin/busybox\n\
         RUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n\
         RUN [\"/bin/mkdir\", \"-p\", \"/www\", \"/tmp\"]\n\
         RUN [\"/bin/sh\", \"-c\", \"echo hello from busybox > /www/index.html\"]\n\
         EXPOSE 8080\n\
         CMD [\"/bin/httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n",
        )?;
        Ok(())
    })
}

/// Builds (once per machine) `FROM berth-test/busybox:1` plus Debian's
/// `psql` with the shared libraries it links, so that a test app can open
/// its own database from inside its container. Runs as uid 1000 when
/// `uid1000`, to prove data dirs are `chown`ed for non-root apps.
pub fn psql_image(uid1000: bool) -> anyhow::Result<String> {
    let base = busybox_image()?;
    let tag = if uid1000 {
        "berth-test/psql-uid1000:1"
    } else {
        "berth-test/psql:1"
    };
    build_once(tag, |ctx| {
        let psql = Path::new("/usr/lib/postgresql/15/bin/psql");
        let ldd = Command::new("ldd").arg(psql).output()?;
        let root = ctx.join("rootfs");
        let mut files = vec![psql.to_owned()];
        for line in String::from_utf8_lossy(&ldd.stdout).lines() {
            let path = line
                .split_whitespace()
                .find(|w| w.starts_with('/'))
                .map(PathBuf::from);
            if let Some(p) = path {
                files.push(p);
            }
        }
        for f in &files {
            let target = root.join(f.strip_prefix("/")?);
            std::fs::create_dir_all(target.parent().context("no parent")?)?;
            std::fs::copy(f, &target).with_context(|| format!("copy {}", f.display()))?;
        }
        let etc = root.join("etc");
        std::fs::create_dir_all(&etc)?;
        std::fs::write(etc.join("nsswitch.conf"), "hosts: files dns\n")?;
        std::fs::write(
            etc.join("passwd"),
            "root:x:0:0:root:/:/bin/sh\napp:x:1000:1000:app:/tmp:/bin/sh\n",
        )?;
        std::fs::write(etc.join("group"), "root:x:0:\napp:x:1000:\n")?;
        let user = if uid1000 { "USER 1000:1000\n" } else { "" };
        std::fs::write(
            ctx.join("Dockerfile"),
            format!(
                "FROM {base}\nCOPY rootfs/ /\nENV PATH=/usr/lib/postgresql/15/bin:/bin\n{user}"
            ),
        )?;
        Ok(())
    })
}

/// Builds (once per machine) `FROM berth-test/busybox:1` plus `lines` of
/// Dockerfile as `tag`: test apps with another command or user.
pub fn derived_image(tag: &str, lines: &str) -> anyhow::Result<String> {
    let base = busybox_image()?;
    build_once(tag, |ctx| {
        std::fs::write(ctx.join("Dockerfile"), format!("FROM {base}\n{lines}\n"))?;
        Ok(())
    })
}

/// Builds `src/bin/test-upstream.rs` with the cargo that built this crate
/// and puts it, with the shared libraries it links, in an image FROM
/// scratch that serves on port 8080. The tag carries a hash of the binary,
/// so a changed server is a new image, never a stale one.
pub fn upstream_image() -> anyhow::Result<String> {
    let out = Command::new(env!("CARGO"))
        .args([
            "build",
            "-q",
            "-p",
            "berth-test-support",
            "--bin",
            "test-upstream",
            "--message-format=json-render-diagnostics",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stderr(Stdio::inherit())
        .output()
        .context("run cargo build for the test upstream")?;
    if !out.status.success() {
        bail!("cargo build of the test upstream failed");
    }
    let exe = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|m| m["executable"].as_str().map(PathBuf::from))
        .next_back()
        .context("cargo named no test-upstream executable")?;
    let binary = std::fs::read(&exe).with_context(|| format!("read {}", exe.display()))?;
    let hash = {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        binary.hash(&mut h);
        h.finish()
    };
    build_once(&format!("berth-test/upstream:{hash:016x}"), |ctx| {
        let root = ctx.join("rootfs");
        copy_with_libraries(&exe, Path::new("/bin/test-upstream"), &root)?;
        std::fs::write(
            ctx.join("Dockerfile"),
            "FROM scratch\nCOPY rootfs/ /\nEXPOSE 8080\nCMD [\"/bin/test-upstream\"]\n",
        )?;
        Ok(())
    })
}

/// Copies `exe` to `at` under `root`, with every shared library `ldd`
/// names at its own path, so the program runs in an image FROM scratch.
fn copy_with_libraries(exe: &Path, at: &Path, root: &Path) -> anyhow::Result<()> {
    let ldd = Command::new("ldd").arg(exe).output()?;
    let mut files = vec![(exe.to_owned(), at.to_owned())];
    for line in String::from_utf8_lossy(&ldd.stdout).lines() {
        if let Some(p) = line.split_whitespace().find(|w| w.starts_with('/')) {
            files.push((PathBuf::from(p), PathBuf::from(p)));
        }
    }
    for (from, to) in &files {
        let target = root.join(to.strip_prefix("/")?);
        std::fs::create_dir_all(target.parent().context("no parent")?)?;
        std::fs::copy(from, &target).with_context(|| format!("copy {}", from.display()))?;
    }
    Ok(())
}

/// Builds `tag` from a context that `prepare` writes, unless the image is
/// already there. A file lock shared by parallel test processes makes one
/// of them build while the others wait and then find it.
fn build_once(
    tag: &str,
    prepare: impl FnOnce(&Path) -> anyhow::Result<()>,
) -> anyhow::Result<String> {
    let lock_file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(std::env::temp_dir().join("berth-test-image.lock"))?;
    let _lock = nix::fcntl::Flock::lock(lock_file, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| anyhow::anyhow!("cannot lock the image build: {e}"))?;
    let present = Command::new("docker")
        .args(["image", "inspect", tag])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?
        .success();
    if present {
        return Ok(tag.to_owned());
    }
    let ctx = tempfile::tempdir()?;
    prepare(ctx.path())?;
    let out = Command::new("docker")
        .args(["build", "-q", "-t", tag])
        .arg(ctx.path())
        .output()?;
    if !out.status.success() {
        bail!(
            "docker build failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(tag.to_owned())
}
