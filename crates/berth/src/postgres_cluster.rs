//! berth's managed PostgreSQL 15 cluster.
//!
//! `initdb` and `postgres` refuse to run as root, and berth usually runs as
//! root (it talks to Docker), so when root the cluster belongs to Debian's
//! `postgres` system user. berth itself connects over the Unix socket in
//! `run/postgres` (mode 0700, owned by that user), where `trust` is safe
//! because only that user and root can reach the socket. TCP connections
//! always need a password (scram-sha-256).

use std::ffi::OsString;
use std::net::SocketAddr;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use berth_store::ConnectOptions as PgConnectOptions;
use nix::sys::signal::Signal;
use nix::unistd::{chown, Gid, Uid, User};

use crate::layout::Layout;
use crate::supervisor::{run_to_completion, ChildSpec, SupervisorError};

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("PostgreSQL 15 is not installed (`{0}` is missing); run `apt-get install postgresql`")]
    NotInstalled(PathBuf),
    #[error("berth runs as root but there is no `postgres` system user to run the cluster; run `apt-get install postgresql`")]
    NoPostgresUser,
    #[error("the postgres system user cannot reach `{path}` (mode {mode:o}); put --data-dir under a directory others may traverse, such as /var/lib/berth, or run `chmod o+x {path}`")]
    NotTraversable { path: PathBuf, mode: u32 },
    #[error("cannot prepare `{path}`: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("initdb failed: {0}")]
    Initdb(#[source] SupervisorError),
    #[error(
        "postgres did not accept connections within {0:?}; see the log lines tagged child=postgres"
    )]
    NotReady(Duration),
}

/// Where the binaries live; `BERTH_POSTGRES_BIN` overrides Debian's path.
pub fn bin_dir() -> PathBuf {
    std::env::var_os("BERTH_POSTGRES_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/postgresql/15/bin"))
}

pub struct ManagedPostgres {
    data: PathBuf,
    socket_dir: PathBuf,
    listen: SocketAddr,
    run_as: Option<(u32, u32)>,
    pid_file: PathBuf,
    /// The berth Docker network: Postgres also listens on its gateway, and
    /// `pg_hba.conf` admits its subnet with a password.
    docker_network: Option<(std::net::IpAddr, String)>,
}

impl ManagedPostgres {
    /// Resolves who runs the cluster. `layout` paths must be absolute.
    pub fn new(layout: &Layout, listen: SocketAddr) -> Result<Self, ClusterError> {
        let run_as = if Uid::effective().is_root() {
            let user = User::from_name("postgres")
                .ok()
                .flatten()
                .ok_or(ClusterError::NoPostgresUser)?;
            Some((user.uid.as_raw(), user.gid.as_raw()))
        } else {
            None
        };
        Ok(Self {
            data: layout.postgres_data(),
            socket_dir: layout.postgres_socket_dir(),
            listen,
            run_as,
            pid_file: layout.pid_file("postgres"),
            docker_network: None,
        })
    }

    /// Lets app containers reach the cluster: listen on the network's
    /// `gateway` as well, and admit `subnet` (CIDR) with scram-sha-256.
    pub fn with_docker_network(mut self, gateway: std::net::IpAddr, subnet: &str) -> Self {
        self.docker_network = Some((gateway, subnet.to_owned()));
        self
    }

    /// Creates the cluster on first start (initdb into a scratch dir, then a
    /// rename, so a crash never leaves half a cluster), and (re)writes the
    /// access rules berth owns.
    pub async fn prepare(&self) -> Result<(), ClusterError> {
        let postgres = bin_dir().join("postgres");
        if !postgres.is_file() {
            return Err(ClusterError::NotInstalled(postgres));
        }
        if let Some((uid, gid)) = self.run_as {
            check_traversable(&self.data, uid, gid)?;
        }
        self.own_dir(&self.socket_dir)?;
        if !self.data.join("PG_VERSION").is_file() {
            let scratch = self.data.with_extension("initdb");
            let _ = std::fs::remove_dir_all(&scratch);
            self.own_dir(&scratch)?;
            let args: Vec<OsString> = vec![
                "-D".into(),
                scratch.clone().into(),
                "-U".into(),
                "postgres".into(),
                // pg_hba.conf is replaced right after; trust never
                // applies to a running server.
                "-A".into(),
                "trust".into(),
                "-E".into(),
                "UTF8".into(),
                "--locale=C".into(),
                "--no-sync".into(),
            ];
            tracing::info!(dir = %self.data.display(), "initialising the managed postgres cluster");
            run_to_completion(&bin_dir().join("initdb"), &args, self.run_as)
                .await
                .map_err(ClusterError::Initdb)?;
            std::fs::rename(&scratch, &self.data).map_err(|source| ClusterError::Io {
                path: self.data.clone(),
                source,
            })?;
        }
        let mut hba = "# Written by berth on every start; edits are overwritten.\n\
                   local all all trust\n\
                   host all all 127.0.0.1/32 scram-sha-256\n\
                   host all all ::1/128 scram-sha-256\n"
            .to_owned();
        if let Some((_, subnet)) = &self.docker_network {
            // App containers: each role may open only the database whose
            // CONNECT it holds (PUBLIC's is revoked), always with a password.
            hba.push_str(&format!("host all all {subnet} scram-sha-256\n"));
        }
        let hba_path = self.data.join("pg_hba.conf");
        std::fs::write(&hba_path, hba).map_err(|source| ClusterError::Io {
            path: hba_path.clone(),
            source,
        })?;
        self.chown(&hba_path)?;
        Ok(())
    }

    fn own_dir(&self, dir: &Path) -> Result<(), ClusterError> {
        let io = |source| ClusterError::Io {
            path: dir.to_owned(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io)?;
        self.chown(dir)
    }

    fn chown(&self, path: &Path) -> Result<(), ClusterError> {
        if let Some((uid, gid)) = self.run_as {
            chown(path, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid))).map_err(|e| {
                ClusterError::Io {
                    path: path.to_owned(),
                    source: e.into(),
                }
            })?;
        }
        Ok(())
    }

    pub fn child_spec(&self) -> ChildSpec {
        let c = |s: &str| -> OsString { s.into() };
        ChildSpec {
            name: "postgres",
            program: bin_dir().join("postgres"),
            args: vec![
                c("-D"),
                self.data.clone().into(),
                c("-p"),
                self.listen.port().to_string().into(),
                c("-k"),
                self.socket_dir.clone().into(),
                c("-c"),
                self.listen_addresses().into(),
                c("-c"),
                c("unix_socket_permissions=0700"),
                c("-c"),
                c("logging_collector=off"),
                c("-c"),
                c("password_encryption=scram-sha-256"),
            ],
            run_as: self.run_as,
            // SIGINT is Postgres's "fast" shutdown: it does not wait for
            // clients to disconnect.
            stop_signal: Signal::SIGINT,
            pid_file: self.pid_file.clone(),
            marker: self.data.clone().into(),
            redact: Vec::new(),
        }
    }

    fn listen_addresses(&self) -> String {
        match &self.docker_network {
            Some((gateway, _)) => format!("listen_addresses={},{gateway}", self.listen.ip()),
            None => format!("listen_addresses={}", self.listen.ip()),
        }
    }

    /// Superuser connection over the Unix socket.
    pub fn admin_options(&self, database: &str) -> PgConnectOptions {
        PgConnectOptions::new()
            .socket(&self.socket_dir)
            .port(self.listen.port())
            .username("postgres")
            .database(database)
            .application_name("berth")
    }

    /// Waits until the server accepts connections.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<(), ClusterError> {
        let deadline = Instant::now() + timeout;
        loop {
            if berth_store::admin::server_version(&self.admin_options("postgres"))
                .await
                .is_ok()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(ClusterError::NotReady(timeout));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Checks that `uid`/`gid` may traverse every ancestor of `path`.
pub fn check_traversable(path: &Path, uid: u32, gid: u32) -> Result<(), ClusterError> {
    for dir in path.ancestors().skip(1) {
        let Ok(meta) = std::fs::metadata(dir) else {
            continue;
        };
        let mode = meta.mode() & 0o777;
        let bit = if meta.uid() == uid {
            0o100
        } else if meta.gid() == gid {
            0o010
        } else {
            0o001
        };
        if mode & bit == 0 {
            return Err(ClusterError::NotTraversable {
                path: dir.to_owned(),
                mode,
            });
        }
    }
    Ok(())
}
