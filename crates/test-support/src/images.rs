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
