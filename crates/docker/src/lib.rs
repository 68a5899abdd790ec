//! berth's adapter to the Docker Engine.
//!
//! Architecture invariant: only this crate depends on bollard. It connects
//! the way the docker CLI does: `DOCKER_HOST` if set, else the standard
//! socket. Callers see berth's own types (`ContainerSpec`, `ContainerInfo`,
//! `NetworkInfo`, ...), never bollard's.

mod container;
mod events;
mod image;
mod network;
pub mod proxy;

use bollard::{ClientVersion, Docker};

pub use container::{Bind, ContainerInfo, ContainerSpec, ContainerState};
pub use events::ContainerEvent;
pub use image::PullProgress;
pub use network::NetworkInfo;

/// The API version berth speaks. Debian bookworm's engine (20.10) tops out at
/// 1.41 and refuses newer clients outright; later engines still accept it.
const API_VERSION: ClientVersion = ClientVersion {
    major_version: 1,
    minor_version: 41,
};

#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error("cannot reach the Docker engine at `{endpoint}`: {detail}")]
    Unreachable { endpoint: String, detail: String },
    #[error("{what} not found")]
    NotFound { what: String },
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("the Docker engine refused: {0}")]
    Api(String),
}

impl DockerError {
    fn from_bollard(e: bollard::errors::Error, what: &str) -> Self {
        match e {
            bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            } => DockerError::NotFound {
                what: what.to_owned(),
            },
            bollard::errors::Error::DockerResponseServerError {
                status_code: 409,
                message,
            } => DockerError::Conflict(message),
            bollard::errors::Error::DockerResponseServerError { message, .. } => {
                DockerError::Api(message)
            }
            other => DockerError::Api(other.to_string()),
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, DockerError::NotFound { .. })
    }
}

/// Connection to the Docker engine. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Engine {
    docker: Docker,
    endpoint: String,
}

/// What the engine says about itself.
#[derive(Debug, Clone)]
pub struct EngineVersion {
    pub version: String,
    pub api_version: String,
}

impl Engine {
    /// Connects lazily: this never fails for a missing daemon; [`Engine::version`] does.
    pub fn connect() -> Result<Self, DockerError> {
        let endpoint =
            std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into());
        let unreachable = |e: bollard::errors::Error| DockerError::Unreachable {
            endpoint: endpoint.clone(),
            detail: e.to_string(),
        };
        let docker = if let Some(path) = endpoint.strip_prefix("unix://") {
            Docker::connect_with_unix(path, 120, &API_VERSION).map_err(unreachable)?
        } else {
            Docker::connect_with_defaults().map_err(unreachable)?
        };
        Ok(Self { docker, endpoint })
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The engine's Unix socket, for the read-only proxy; `None` for TCP engines.
    pub fn socket_path(&self) -> Option<&str> {
        self.endpoint.strip_prefix("unix://")
    }

    /// Asks the daemon for its version; the cheapest proof that it answers.
    pub async fn version(&self) -> Result<EngineVersion, DockerError> {
        let v = self
            .docker
            .version()
            .await
            .map_err(|e| DockerError::Unreachable {
                endpoint: self.endpoint.clone(),
                detail: e.to_string(),
            })?;
        Ok(EngineVersion {
            version: v.version.unwrap_or_default(),
            api_version: v.api_version.unwrap_or_default(),
        })
    }
}
