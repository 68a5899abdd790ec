//! The data dir: what lives where, and who may read it.
//!
//! ```text
//! <data-dir>/
//!   berth.lock            flock held by the running berth (one per data dir)
//!   instance-id           this data dir's id: names its Docker network and labels
//!   owner.token           the owner's API token, 0600; the CLI reads it
//!   apps/<app>/           apps' data dirs
//!   shared/<name>/        the owner's shared dirs (documents, media, music)
//!   secrets/              0700: generated secrets
//!   secrets/identities/   0700: identity keys, one 0600 file each
//!   keys/                 token signing key (0600) and certificates
//!   postgres/             the managed cluster (owned by the postgres user)
//!   registry/config.yml   generated on every start, 0600
//!   registry/storage/     blobs and manifests
//!   run/                  pid files of children; run/postgres is the socket dir
//!   run/api.url           where the running berth's API listens, for the CLI
//!   run/registry.url      where the running berth's registry listens, for the CLI
//!   run/docker-proxy/     one read-only Docker API socket per docker_sock_ro app
//! ```

use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rand::RngCore;

#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    #[error("data dir `{path}` is not writable: {source}; choose another --data-dir or fix its permissions")]
    NotWritable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read `{path}`: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Write(#[from] berth_registry::signing::SigningError),
}

#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_owned(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
    pub fn lock_file(&self) -> PathBuf {
        self.root.join("berth.lock")
    }
    pub fn secrets(&self) -> PathBuf {
        self.root.join("secrets")
    }
    pub fn identity_keys(&self) -> PathBuf {
        self.secrets().join("identities")
    }
    pub fn owner_token_file(&self) -> PathBuf {
        self.root.join("owner.token")
    }
    pub fn keys(&self) -> PathBuf {
        self.root.join("keys")
    }
    pub fn postgres_data(&self) -> PathBuf {
        self.root.join("postgres")
    }
    pub fn postgres_socket_dir(&self) -> PathBuf {
        self.run().join("postgres")
    }
    pub fn registry_config(&self) -> PathBuf {
        self.root.join("registry").join("config.yml")
    }
    pub fn registry_storage(&self) -> PathBuf {
        self.root.join("registry").join("storage")
    }
    pub fn run(&self) -> PathBuf {
        self.root.join("run")
    }
    pub fn pid_file(&self, child: &str) -> PathBuf {
        self.run().join(format!("{child}.pid"))
    }

    /// Creates the directories berth writes to. The root is made traversable
    /// (0711) so the unprivileged postgres user can reach its cluster; it
    /// cannot list it. Secrets stay 0700.
    pub fn create(&self) -> Result<(), LayoutError> {
        let mk = |p: &Path, mode: u32| -> Result<(), LayoutError> {
            fs::create_dir_all(p).map_err(|source| LayoutError::NotWritable {
                path: p.to_owned(),
                source,
            })?;
            fs::set_permissions(p, fs::Permissions::from_mode(mode)).map_err(|source| {
                LayoutError::NotWritable {
                    path: p.to_owned(),
                    source,
                }
            })
        };
        mk(&self.root, 0o711)?;
        mk(&self.secrets(), 0o700)?;
        mk(&self.keys(), 0o700)?;
        mk(&self.run(), 0o711)?;
        mk(&self.root.join("registry"), 0o700)?;
        mk(&self.registry_storage(), 0o700)?;
        // A probe write proves the data dir is writable now, not at the
        // first event hours later.
        let probe = self.run().join(".write-probe");
        fs::write(&probe, b"ok").map_err(|source| LayoutError::NotWritable {
            path: self.root.clone(),
            source,
        })?;
        let _ = fs::remove_file(probe);
        Ok(())
    }

    pub fn api_url_file(&self) -> PathBuf {
        self.run().join("api.url")
    }

    pub fn registry_url_file(&self) -> PathBuf {
        self.run().join("registry.url")
    }

    /// This data dir's instance id (32 hex characters), created on first use.
    /// It names the Docker network and labels every Docker object, so two
    /// berths on one engine never touch each other's.
    pub fn instance_id(&self) -> Result<String, LayoutError> {
        self.read_or_create(&self.root.join("instance-id"))
    }

    fn read_or_create(&self, path: &Path) -> Result<String, LayoutError> {
        match fs::read_to_string(path) {
            Ok(s) if !s.trim().is_empty() => Ok(s.trim().to_owned()),
            Ok(_) => self.create_secret_file(path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => self.create_secret_file(path),
            Err(source) => Err(LayoutError::Read {
                path: path.to_owned(),
                source,
            }),
        }
    }

    fn create_secret_file(&self, path: &Path) -> Result<String, LayoutError> {
        let value = random_hex(32);
        berth_registry::signing::write_atomically(path, value.as_bytes(), 0o600)?;
        Ok(value)
    }

    /// Reads the secret `name`, generating 32 random bytes (hex) on first use.
    pub fn secret(&self, name: &str) -> Result<String, LayoutError> {
        self.secret_at(self.secrets().join(name))
    }

    /// The owner's bearer token for `/protected`, generated on first start.
    pub fn owner_token(&self) -> Result<String, LayoutError> {
        self.secret_at(self.owner_token_file())
    }

    fn secret_at(&self, path: PathBuf) -> Result<String, LayoutError> {
        match fs::File::open(&path) {
            Ok(mut f) => {
                let mut s = String::new();
                f.read_to_string(&mut s)
                    .map_err(|source| LayoutError::Read { path, source })?;
                Ok(s.trim().to_owned())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let value = random_hex(32);
                berth_registry::signing::write_atomically(&path, value.as_bytes(), 0o600)?;
                Ok(value)
            }
            Err(source) => Err(LayoutError::Read { path, source }),
        }
    }
}

/// `n` bytes from the OS CSPRNG, hex-encoded.
pub fn random_hex(n: usize) -> String {
    let mut buf = vec![0u8; n];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_generated_once_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(&dir.path().join("data"));
        layout.create().unwrap();
        let a = layout.secret("x").unwrap();
        let b = layout.secret("x").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), 64);
        let mode = fs::metadata(layout.secrets().join("x"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
