//! The `postgres` service: an app's password, kept in a 0600 file under
//! `<data-dir>/secrets/apps/` (a 0700 dir readable only by berth's user),
//! and the template values the app's container sees.
//!
//! The password is 32 bytes from the OS CSPRNG, hex-encoded (256 bits of
//! entropy). It is kept as long as the app's database is: uninstalling
//! without purge keeps both, so a reinstall reuses the database and password.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use berth_manifest::template::Variable;
use rand::RngCore;

use crate::{io, AppsConfig, AppsError, POSTGRES_HOST};

/// Reads the app's password, creating it on first use. `true` in the second
/// field when the password existed before (data kept from an earlier install).
pub(crate) fn load_or_create_password(path: &Path) -> Result<(String, bool), AppsError> {
    match std::fs::read_to_string(path) {
        Ok(s) if s.trim().len() >= 64 => return Ok((s.trim().to_owned(), true)),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(format!("cannot read `{}`", path.display()))(e)),
    }
    let dir = path.parent().ok_or_else(|| {
        io("password file has no parent")(std::io::ErrorKind::InvalidInput.into())
    })?;
    std::fs::create_dir_all(dir).map_err(io(format!("cannot create `{}`", dir.display())))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(io(format!("cannot protect `{}`", dir.display())))?;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let password: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    // Written to a temporary file first, so a crash never leaves half a password.
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io(format!("cannot write `{}`", tmp.display())))?;
    f.write_all(password.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(io(format!("cannot write `{}`", tmp.display())))?;
    std::fs::rename(&tmp, path).map_err(io(format!("cannot write `{}`", path.display())))?;
    Ok((password, false))
}

/// The seven `postgres.*` values (plus `database`) as the container sees them.
pub(crate) fn template_values(
    config: &AppsConfig,
    ident: &str,
    password: &str,
    out: &mut BTreeMap<Variable, String>,
) {
    let host = POSTGRES_HOST.to_owned();
    let port = config.postgres_port.to_string();
    out.insert(
        Variable::PostgresConnectionString,
        format!("postgres://{ident}:{password}@{host}:{port}/{ident}"),
    );
    out.insert(Variable::PostgresUserspec, format!("{ident}:{password}"));
    out.insert(Variable::PostgresUser, ident.to_owned());
    out.insert(Variable::PostgresPassword, password.to_owned());
    out.insert(Variable::PostgresHostspec, format!("{host}:{port}"));
    out.insert(Variable::PostgresHost, host);
    out.insert(Variable::PostgresPort, port);
    out.insert(Variable::PostgresDatabase, ident.to_owned());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_is_created_once_private_and_long() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets/apps/x.postgres-password");
        let (a, existed) = load_or_create_password(&path).unwrap();
        assert!(!existed);
        assert_eq!(a.len(), 64);
        let (b, existed) = load_or_create_password(&path).unwrap();
        assert!(existed);
        assert_eq!(a, b);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let mode = std::fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
    }
}
