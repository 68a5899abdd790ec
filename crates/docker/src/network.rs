//! The one bridge network of a berth instance: created with labels, inspected
//! for its gateway and subnet (where the managed Postgres and the core
//! listener bind, and what `pg_hba.conf` admits).

use std::collections::HashMap;
use std::net::IpAddr;

use bollard::models::NetworkCreateRequest;
use bollard::query_parameters::InspectNetworkOptions;

use crate::{DockerError, Engine};

/// Where a network lives in IP space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkInfo {
    pub id: String,
    pub name: String,
    /// The host's address on the network: containers reach host services here.
    pub gateway: IpAddr,
    /// CIDR, such as `172.18.0.0/16`.
    pub subnet: String,
}

impl Engine {
    /// Returns the network `name`, creating it with `labels` if missing.
    pub async fn ensure_network(
        &self,
        name: &str,
        labels: &HashMap<String, String>,
    ) -> Result<NetworkInfo, DockerError> {
        match self.inspect_network(name).await {
            Ok(info) => return Ok(info),
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
        let request = NetworkCreateRequest {
            name: name.to_owned(),
            driver: Some("bridge".into()),
            labels: Some(labels.clone()),
            ..Default::default()
        };
        match self.docker.create_network(request).await {
            Ok(_) => {}
            // Another start raced us; the inspect below settles it.
            Err(e) => match DockerError::from_bollard(e, name) {
                DockerError::Conflict(_) => {}
                other => return Err(other),
            },
        }
        self.inspect_network(name).await
    }

    pub async fn inspect_network(&self, name: &str) -> Result<NetworkInfo, DockerError> {
        let n = self
            .docker
            .inspect_network(name, None::<InspectNetworkOptions>)
            .await
            .map_err(|e| DockerError::from_bollard(e, &format!("network `{name}`")))?;
        let config = n
            .ipam
            .and_then(|i| i.config)
            .and_then(|c| c.into_iter().find(|c| c.gateway.is_some()))
            .ok_or_else(|| DockerError::Api(format!("network `{name}` has no IPv4 gateway")))?;
        let gateway = config
            .gateway
            .as_deref()
            .unwrap_or_default()
            .parse::<IpAddr>()
            .map_err(|e| DockerError::Api(format!("network `{name}` gateway: {e}")))?;
        Ok(NetworkInfo {
            id: n.id.unwrap_or_default(),
            name: name.to_owned(),
            gateway,
            subnet: config.subnet.unwrap_or_default(),
        })
    }

    /// Removes the network; a missing one is not an error.
    pub async fn remove_network(&self, name: &str) -> Result<(), DockerError> {
        match self.docker.remove_network(name).await {
            Ok(()) => Ok(()),
            Err(e) => match DockerError::from_bollard(e, name) {
                DockerError::NotFound { .. } => Ok(()),
                other => Err(other),
            },
        }
    }
}
