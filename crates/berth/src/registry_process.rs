//! berth's managed CNCF distribution registry (`docker-registry serve`).

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use berth_registry::config::RegistryConfig;
use berth_registry::signing::{write_atomically, SigningError, SigningPaths};
use nix::sys::signal::Signal;

use crate::config::{client_facing, Config};
use crate::layout::Layout;
use crate::supervisor::{find_in_path, ChildSpec};

#[derive(Debug, thiserror::Error)]
pub enum RegistryProcessError {
    #[error("the registry is not installed (no `docker-registry` in PATH); run `apt-get install docker-registry`")]
    NotInstalled,
    #[error(transparent)]
    Write(#[from] SigningError),
    #[error(
        "the registry did not answer /v2/ within {0:?}; see the log lines tagged child=registry"
    )]
    NotReady(Duration),
}

/// `BERTH_REGISTRY_BIN` overrides the lookup in `PATH`.
pub fn program() -> Option<PathBuf> {
    std::env::var_os("BERTH_REGISTRY_BIN")
        .map(PathBuf::from)
        .or_else(|| find_in_path("docker-registry"))
}

pub struct ManagedRegistry {
    program: PathBuf,
    config_path: PathBuf,
    pid_file: PathBuf,
    base_url: String,
    notification_secret: String,
}

impl ManagedRegistry {
    /// Writes the registry config (0600: it holds secrets) for this start.
    pub fn prepare(
        cfg: &Config,
        layout: &Layout,
        listen: std::net::SocketAddr,
        notification_secret: &str,
        http_secret: &str,
    ) -> Result<Self, RegistryProcessError> {
        let program = program().ok_or(RegistryProcessError::NotInstalled)?;
        let registry_cfg = RegistryConfig {
            storage_dir: layout.registry_storage(),
            listen: listen.to_string(),
            token_realm: cfg.token_realm(),
            service: cfg.registry_service.clone(),
            issuer: cfg.token_issuer.clone(),
            root_cert_bundle: SigningPaths::in_dir(&layout.keys()).bundle,
            notification_url: cfg.notification_url(),
            notification_secret: notification_secret.to_owned(),
            http_secret: http_secret.to_owned(),
        };
        let config_path = layout.registry_config();
        write_atomically(&config_path, registry_cfg.render().as_bytes(), 0o600)?;
        Ok(Self {
            program,
            config_path,
            pid_file: layout.pid_file("registry"),
            base_url: format!("http://{}", client_facing(listen)),
            notification_secret: notification_secret.to_owned(),
        })
    }

    pub fn child_spec(&self) -> ChildSpec {
        ChildSpec {
            name: "registry",
            program: self.program.clone(),
            args: vec![OsString::from("serve"), self.config_path.clone().into()],
            run_as: None,
            stop_signal: Signal::SIGTERM,
            pid_file: self.pid_file.clone(),
            marker: self.config_path.clone().into(),
            redact: vec![self.notification_secret.clone()],
        }
    }

    /// Waits until `/v2/` answers at all.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<(), RegistryProcessError> {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + timeout;
        loop {
            if berth_registry::probe::challenge(&client, &self.base_url)
                .await
                .is_ok()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(RegistryProcessError::NotReady(timeout));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
