//! Private keys of identities on disk: one file per identity in
//! `<data-dir>/secrets/identities/`, holding the hex seed, mode 0600.
//!
//! A key file readable by group or others stops start-up, as for berth's
//! other secrets. Files are written atomically (temp file, then rename), so
//! a crash never leaves half a key.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::key::IdentityKey;

#[derive(Debug, thiserror::Error)]
pub enum KeyStoreError {
    #[error("cannot access identity key `{path}`: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("identity key `{0}` is readable by group or others; run `chmod 600` on it")]
    TooOpen(PathBuf),
    #[error("identity key `{0}` is malformed")]
    Malformed(PathBuf),
    #[error("identity key `{0}` does not hold the key of its identity")]
    WrongKey(PathBuf),
}

/// The directory of identity keys.
#[derive(Debug, Clone)]
pub struct KeyStore {
    dir: PathBuf,
}

impl KeyStore {
    /// Uses (and creates, 0700) `dir`.
    pub fn open(dir: &Path) -> Result<Self, KeyStoreError> {
        let io = |source| KeyStoreError::Io {
            path: dir.to_owned(),
            source,
        };
        fs::create_dir_all(dir).map_err(io)?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io)?;
        Ok(Self {
            dir: dir.to_owned(),
        })
    }

    /// Where the key of identity `id` lives. `id` must be a parsed id.
    pub fn path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.ed25519"))
    }

    /// Loads the key of `id`, checking it really is that identity's key.
    pub fn load(&self, id: &str) -> Result<IdentityKey, KeyStoreError> {
        let path = self.path(id);
        let meta = fs::metadata(&path).map_err(|source| KeyStoreError::Io {
            path: path.clone(),
            source,
        })?;
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(KeyStoreError::TooOpen(path));
        }
        let text = fs::read_to_string(&path).map_err(|source| KeyStoreError::Io {
            path: path.clone(),
            source,
        })?;
        let bytes = data_encoding::HEXLOWER
            .decode(text.trim().as_bytes())
            .map_err(|_| KeyStoreError::Malformed(path.clone()))?;
        let seed: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| KeyStoreError::Malformed(path.clone()))?;
        let key = IdentityKey::from_seed(&seed);
        if key.id() != id {
            return Err(KeyStoreError::WrongKey(path));
        }
        Ok(key)
    }

    /// Writes `key` under its id, atomically and 0600.
    pub fn save(&self, key: &IdentityKey) -> Result<(), KeyStoreError> {
        let path = self.path(&key.id());
        let tmp = self.dir.join(format!(".{}.tmp", key.id()));
        let io = |source| KeyStoreError::Io {
            path: path.clone(),
            source,
        };
        let _ = fs::remove_file(&tmp);
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io)?;
        f.write_all(data_encoding::HEXLOWER.encode(&key.seed()).as_bytes())
            .map_err(io)?;
        f.sync_all().map_err(io)?;
        fs::rename(&tmp, &path).map_err(io)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_saved_private_and_loaded_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = KeyStore::open(&dir.path().join("ids")).unwrap();
        let key = IdentityKey::generate();
        store.save(&key).unwrap();
        let mode = fs::metadata(store.path(&key.id()))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(store.load(&key.id()).unwrap().id(), key.id());

        fs::set_permissions(store.path(&key.id()), fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            store.load(&key.id()),
            Err(KeyStoreError::TooOpen(_))
        ));
    }

    #[test]
    fn a_key_under_another_identity_s_name_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = KeyStore::open(dir.path()).unwrap();
        let a = IdentityKey::generate();
        let b = IdentityKey::generate();
        store.save(&b).unwrap();
        fs::rename(store.path(&b.id()), store.path(&a.id())).unwrap();
        assert!(matches!(
            store.load(&a.id()),
            Err(KeyStoreError::WrongKey(_))
        ));
    }
}
