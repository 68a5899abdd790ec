//! `data_dirs`: host directories under `<data-dir>/apps/<app>/` and
//! `<data-dir>/shared/<name>/`, created before the container starts and
//! bind-mounted into it.
//!
//! The app writes inside its directories, so it can plant symlinks there
//! (`/data/sub -> /`) and wait for berth to `chown` or mount through them.
//! Directories are therefore created one component at a time, refusing any
//! component that is a symlink, the result must canonicalize to a path inside
//! the base, and the `chown` goes through a descriptor opened with
//! `O_NOFOLLOW`. Docker itself resolves the host path again when it mounts;
//! an app swapping a directory for a symlink in that window is the residual
//! risk, and it only affects where its own mount points.

use std::fs::OpenOptions;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

use berth_docker::Bind;
use berth_manifest::data_dir::DataDirSource;
use berth_manifest::manifest::AppManifest;
use nix::fcntl::OFlag;
use nix::unistd::{Gid, Uid};

use crate::{AppsConfig, AppsError};

/// Creates every data dir of `manifest` and returns the binds to mount.
pub(crate) fn prepare(config: &AppsConfig, manifest: &AppManifest) -> Result<Vec<Bind>, AppsError> {
    let name = manifest.name().as_str();
    let mut binds = Vec::new();
    for dir in manifest.data_dirs() {
        let (base, relative, owner, read_only) = match dir.source() {
            DataDirSource::App { uid, gid } => (
                config.app_dir(name),
                dir.path().relative().to_owned(),
                Some((*uid, *gid)),
                false,
            ),
            DataDirSource::Shared {
                dir: shared,
                read_only,
            } => (
                config.data_dir.join("shared"),
                shared.as_str().to_owned(),
                None,
                *read_only,
            ),
        };
        let host = create_inside(&base, &relative).map_err(|detail| AppsError::DataDir {
            path: dir.path().to_string(),
            detail,
        })?;
        if let Some((uid, gid)) = owner {
            if uid.is_some() || gid.is_some() {
                chown_nofollow(&host, uid, gid).map_err(|detail| AppsError::DataDir {
                    path: dir.path().to_string(),
                    detail,
                })?;
            }
        }
        binds.push(Bind {
            host: host.display().to_string(),
            container: dir.path().to_string(),
            read_only,
        });
    }
    Ok(binds)
}

/// Creates `base/relative` component by component, refusing symlinks, and
/// returns the canonical path, which is inside `base`.
pub(crate) fn create_inside(base: &Path, relative: &str) -> Result<PathBuf, String> {
    std::fs::create_dir_all(base)
        .map_err(|e| format!("cannot create `{}`: {e}", base.display()))?;
    let base = base
        .canonicalize()
        .map_err(|e| format!("cannot resolve `{}`: {e}", base.display()))?;
    let mut path = base.clone();
    for component in Path::new(relative).components() {
        let Component::Normal(part) = component else {
            return Err(format!("`{relative}` is not a plain relative path"));
        };
        path.push(part);
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(format!("`{}` is a symlink", path.display()));
            }
            Ok(meta) if !meta.is_dir() => {
                return Err(format!("`{}` is not a directory", path.display()));
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                match std::fs::create_dir(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        let meta = std::fs::symlink_metadata(&path)
                            .map_err(|e| format!("cannot inspect `{}`: {e}", path.display()))?;
                        if !meta.is_dir() {
                            return Err(format!("`{}` is not a directory", path.display()));
                        }
                    }
                    Err(e) => return Err(format!("cannot create `{}`: {e}", path.display())),
                }
            }
            Err(e) => return Err(format!("cannot inspect `{}`: {e}", path.display())),
        }
    }
    let canonical = path
        .canonicalize()
        .map_err(|e| format!("cannot resolve `{}`: {e}", path.display()))?;
    if !canonical.starts_with(&base) {
        return Err(format!(
            "`{}` escapes `{}`",
            canonical.display(),
            base.display()
        ));
    }
    Ok(canonical)
}

fn chown_nofollow(path: &Path, uid: Option<u32>, gid: Option<u32>) -> Result<(), String> {
    let dir = OpenOptions::new()
        .read(true)
        .custom_flags((OFlag::O_NOFOLLOW | OFlag::O_DIRECTORY).bits())
        .open(path)
        .map_err(|e| format!("cannot open `{}`: {e}", path.display()))?;
    nix::unistd::fchown(
        dir.as_raw_fd(),
        uid.map(Uid::from_raw),
        gid.map(Gid::from_raw),
    )
    .map_err(|e| format!("cannot chown `{}`: {e}", path.display()))
}

/// The app's own directory tree, for purge.
pub(crate) fn remove_app_dir(config: &AppsConfig, app: &str) -> Result<(), AppsError> {
    crate::remove_tree(&config.app_dir(app))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_dirs_are_created_inside_the_base() {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().join("apps/x");
        let p = create_inside(&base, "a/b/c").unwrap();
        assert!(p.is_dir());
        assert!(p.starts_with(base.canonicalize().unwrap()));
        // Idempotent.
        assert_eq!(create_inside(&base, "a/b/c").unwrap(), p);
    }

    #[test]
    fn a_planted_symlink_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().join("apps/x");
        std::fs::create_dir_all(&base).unwrap();
        let outside = tmp.path().join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, base.join("data")).unwrap();
        let err = create_inside(&base, "data/sub").unwrap_err();
        assert!(err.contains("is a symlink"), "{err}");
        assert!(!outside.join("sub").exists());
        let err = create_inside(&base, "data").unwrap_err();
        assert!(err.contains("is a symlink"), "{err}");
    }

    #[test]
    fn dot_dot_never_gets_here_but_is_refused_anyway() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(create_inside(tmp.path(), "../x").is_err());
        assert!(create_inside(tmp.path(), "/etc").is_err());
    }
}
