//! One berth per data dir.
//!
//! An exclusive `flock` on `berth.lock` is held for the life of the process.
//! The kernel drops it when the process dies, even by SIGKILL, so a stale
//! lock never blocks the next start.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::Path;

use nix::fcntl::{Flock, FlockArg};

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another berth (pid {pid}) is already running with data dir `{dir}`; stop it first or choose another --data-dir")]
    Held { pid: String, dir: String },
    #[error("cannot open the lock file in `{dir}`: {source}")]
    Io {
        dir: String,
        #[source]
        source: std::io::Error,
    },
}

pub struct DataDirLock {
    _lock: Flock<File>,
}

impl DataDirLock {
    pub fn acquire(lock_path: &Path) -> Result<Self, LockError> {
        let dir = lock_path
            .parent()
            .unwrap_or(lock_path)
            .display()
            .to_string();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(lock_path)
            .map_err(|source| LockError::Io {
                dir: dir.clone(),
                source,
            })?;
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(mut lock) => {
                let _ = lock.set_len(0);
                let _ = lock.rewind();
                let _ = writeln!(lock, "{}", std::process::id());
                Ok(Self { _lock: lock })
            }
            Err((mut file, _)) => {
                let mut pid = String::new();
                let _ = file.read_to_string(&mut pid);
                Err(LockError::Held {
                    pid: pid.trim().to_owned(),
                    dir,
                })
            }
        }
    }

    /// True when some process holds the lock (berth is running there).
    pub fn is_held(lock_path: &Path) -> bool {
        if !lock_path.exists() {
            return false;
        }
        match Self::acquire(lock_path) {
            Ok(_) => false,
            Err(LockError::Held { .. }) => true,
            Err(LockError::Io { .. }) => false,
        }
    }
}
