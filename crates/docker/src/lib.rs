//! berth's adapter to the Docker Engine.
//!
//! Architecture invariant: only this crate depends on bollard. It connects
//! the way the docker CLI does: `DOCKER_HOST` if set, else the standard
//! socket.

use bollard::Docker;

#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error("cannot reach the Docker engine at `{endpoint}`: {detail}")]
    Unreachable { endpoint: String, detail: String },
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
        let docker = Docker::connect_with_defaults().map_err(|e| DockerError::Unreachable {
            endpoint: endpoint.clone(),
            detail: e.to_string(),
        })?;
        Ok(Self { docker, endpoint })
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
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
