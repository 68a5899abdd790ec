//! Containers: create from a [`ContainerSpec`], start, stop, restart,
//! remove, inspect, list by label, and read logs.

use std::collections::HashMap;

use bollard::models::{
    ContainerCreateBody, EndpointSettings, HostConfig, NetworkingConfig, RestartPolicy,
    RestartPolicyNameEnum,
};
use bollard::query_parameters::{
    CreateContainerOptions, InspectContainerOptions, ListContainersOptions, LogsOptions,
    RemoveContainerOptions, RestartContainerOptions, StartContainerOptions, StopContainerOptions,
};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use crate::{DockerError, Engine};

/// A host directory mounted into a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    pub host: String,
    pub container: String,
    pub read_only: bool,
}

/// Everything berth decides about a container it creates.
#[derive(Debug, Clone, Default)]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    /// `KEY=value` lines.
    pub env: Vec<String>,
    pub labels: HashMap<String, String>,
    pub binds: Vec<Bind>,
    /// The one network the container joins.
    pub network: String,
    /// Extra names of the container on `network`.
    pub aliases: Vec<String>,
    /// `name:ip` lines for `/etc/hosts`.
    pub extra_hosts: Vec<String>,
}

/// What Docker says the container is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainerState {
    Created,
    Running,
    Restarting,
    Paused,
    Exited { code: i64 },
    Dead,
    Other(String),
}

impl ContainerState {
    pub fn from_docker(status: &str, exit_code: Option<i64>) -> Self {
        match status {
            "created" => Self::Created,
            "running" => Self::Running,
            "restarting" => Self::Restarting,
            "paused" => Self::Paused,
            "exited" => Self::Exited {
                code: exit_code.unwrap_or(0),
            },
            "dead" => Self::Dead,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// A container as inspected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerInfo {
    pub id: String,
    /// Without the leading `/`.
    pub name: String,
    pub image: String,
    pub labels: HashMap<String, String>,
    pub state: ContainerState,
    /// Address on each network it joined, by network name.
    pub addresses: HashMap<String, String>,
}

impl Engine {
    /// Creates (does not start) a container; returns its id.
    pub async fn create_container(&self, spec: &ContainerSpec) -> Result<String, DockerError> {
        let binds = spec
            .binds
            .iter()
            .map(|b| {
                let mode = if b.read_only { "ro" } else { "rw" };
                format!("{}:{}:{mode}", b.host, b.container)
            })
            .collect();
        let mut endpoints = HashMap::new();
        endpoints.insert(
            spec.network.clone(),
            EndpointSettings {
                aliases: Some(spec.aliases.clone()),
                ..Default::default()
            },
        );
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            env: Some(spec.env.clone()),
            labels: Some(spec.labels.clone()),
            host_config: Some(HostConfig {
                binds: Some(binds),
                network_mode: Some(spec.network.clone()),
                extra_hosts: Some(spec.extra_hosts.clone()),
                restart_policy: Some(RestartPolicy {
                    name: Some(RestartPolicyNameEnum::UNLESS_STOPPED),
                    maximum_retry_count: None,
                }),
                ..Default::default()
            }),
            networking_config: Some(NetworkingConfig {
                endpoints_config: Some(endpoints),
            }),
            ..Default::default()
        };
        let options = CreateContainerOptions {
            name: Some(spec.name.clone()),
            ..Default::default()
        };
        let what = format!("image `{}`", spec.image);
        self.docker
            .create_container(Some(options), body)
            .await
            .map(|r| r.id)
            .map_err(|e| DockerError::from_bollard(e, &what))
    }

    pub async fn start_container(&self, name: &str) -> Result<(), DockerError> {
        match self
            .docker
            .start_container(name, None::<StartContainerOptions>)
            .await
        {
            Ok(()) => Ok(()),
            // 304: already running.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 304, ..
            }) => Ok(()),
            Err(e) => Err(DockerError::from_bollard(e, &container(name))),
        }
    }

    pub async fn stop_container(&self, name: &str) -> Result<(), DockerError> {
        let options = StopContainerOptions {
            t: Some(10),
            signal: None,
        };
        match self.docker.stop_container(name, Some(options)).await {
            Ok(()) => Ok(()),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 304, ..
            }) => Ok(()),
            Err(e) => Err(DockerError::from_bollard(e, &container(name))),
        }
    }

    pub async fn restart_container(&self, name: &str) -> Result<(), DockerError> {
        let options = RestartContainerOptions {
            t: Some(10),
            signal: None,
        };
        self.docker
            .restart_container(name, Some(options))
            .await
            .map_err(|e| DockerError::from_bollard(e, &container(name)))
    }

    /// Removes the container, running or not; a missing one is not an error.
    pub async fn remove_container(&self, name: &str) -> Result<(), DockerError> {
        let options = RemoveContainerOptions {
            force: true,
            ..Default::default()
        };
        match self.docker.remove_container(name, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) => match DockerError::from_bollard(e, &container(name)) {
                DockerError::NotFound { .. } => Ok(()),
                // "removal already in progress"
                DockerError::Conflict(_) => Ok(()),
                other => Err(other),
            },
        }
    }

    /// `None` if there is no such container.
    pub async fn inspect_container(
        &self,
        name: &str,
    ) -> Result<Option<ContainerInfo>, DockerError> {
        let c = match self
            .docker
            .inspect_container(name, None::<InspectContainerOptions>)
            .await
        {
            Ok(c) => c,
            Err(e) => {
                return match DockerError::from_bollard(e, &container(name)) {
                    DockerError::NotFound { .. } => Ok(None),
                    other => Err(other),
                }
            }
        };
        let state = c.state.unwrap_or_default();
        let status = state.status.map(|s| s.to_string()).unwrap_or_default();
        let config = c.config.unwrap_or_default();
        let addresses = c
            .network_settings
            .and_then(|n| n.networks)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(net, ep)| {
                ep.ip_address
                    .filter(|ip| !ip.is_empty())
                    .map(|ip| (net, ip))
            })
            .collect();
        Ok(Some(ContainerInfo {
            id: c.id.unwrap_or_default(),
            name: c
                .name
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_owned(),
            image: config.image.unwrap_or_default(),
            labels: config.labels.unwrap_or_default(),
            state: ContainerState::from_docker(&status, state.exit_code),
            addresses,
        }))
    }

    /// Names of all containers (running or not) carrying `label` (`key=value`).
    pub async fn list_container_names(&self, label: &str) -> Result<Vec<String>, DockerError> {
        let mut filters = HashMap::new();
        filters.insert("label".to_owned(), vec![label.to_owned()]);
        let options = ListContainersOptions {
            all: true,
            filters: Some(filters),
            ..Default::default()
        };
        let list = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(|e| DockerError::from_bollard(e, "containers"))?;
        Ok(list
            .into_iter()
            .filter_map(|c| c.names.and_then(|n| n.into_iter().next()))
            .map(|n| n.trim_start_matches('/').to_owned())
            .collect())
    }

    /// The container's output (stdout and stderr interleaved), the last
    /// `tail` lines, then new lines as they come when `follow`.
    pub fn logs(
        &self,
        name: &str,
        follow: bool,
        tail: Option<u32>,
    ) -> impl Stream<Item = Result<Bytes, DockerError>> + Send + 'static {
        let options = LogsOptions {
            follow,
            stdout: true,
            stderr: true,
            tail: tail.map(|t| t.to_string()).unwrap_or_else(|| "all".into()),
            ..Default::default()
        };
        let what = container(name);
        self.docker
            .logs(name, Some(options))
            .map(move |item| match item {
                Ok(out) => Ok(out.into_bytes()),
                Err(e) => Err(DockerError::from_bollard(e, &what)),
            })
    }
}

fn container(name: &str) -> String {
    format!("container `{name}`")
}
