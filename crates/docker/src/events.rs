//! The engine's event stream, narrowed to container events of one label.
//! berth keeps app status current from it instead of polling per request.

use std::collections::HashMap;

use bollard::query_parameters::EventsOptions;
use futures_util::{Stream, StreamExt};

use crate::{DockerError, Engine};

/// A container event: `start`, `die`, `stop`, `restart`, `destroy`, `create`, ...
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerEvent {
    pub action: String,
    pub container_id: String,
    pub labels: HashMap<String, String>,
    /// `exitCode` of a `die` event.
    pub exit_code: Option<i64>,
}

impl Engine {
    /// Container events of containers carrying `label` (`key=value`), from
    /// `since` (unix seconds; replayed by the engine) or from now on. The
    /// stream ends when the engine goes away (e.g. dockerd restarts).
    pub fn container_events(
        &self,
        label: &str,
        since: Option<i64>,
    ) -> impl Stream<Item = Result<ContainerEvent, DockerError>> + Send + 'static {
        let mut filters = HashMap::new();
        filters.insert("type".to_owned(), vec!["container".to_owned()]);
        filters.insert("label".to_owned(), vec![label.to_owned()]);
        let options = EventsOptions {
            filters: Some(filters),
            since: since.map(|s| s.to_string()),
            ..Default::default()
        };
        self.docker.events(Some(options)).map(|item| {
            let event = item.map_err(|e| DockerError::from_bollard(e, "event stream"))?;
            let actor = event.actor.unwrap_or_default();
            let labels = actor.attributes.unwrap_or_default();
            let exit_code = labels.get("exitCode").and_then(|c| c.parse().ok());
            Ok(ContainerEvent {
                action: event.action.unwrap_or_default(),
                container_id: actor.id.unwrap_or_default(),
                labels,
                exit_code,
            })
        })
    }
}
