//! The read-only Docker API proxy for apps granted `docker_sock_ro`: which requests pass.
//!
//! The original bind-mounted the socket with `:ro`, which protects only the
//! socket file: every API call, POST included, still worked. berth puts a
//! proxy in front that forwards only an allowlist of read-only endpoints.
//! Being read-only is not enough to be allowed: `GET /containers/{id}/attach/ws`
//! attaches, `GET .../archive` and `.../export` read files out of containers,
//! `GET /images/{name}/get` exports image contents; none is on the list.
//!
//! The path must already be in the exact form the proxy forwards (no query);
//! anything the daemon's router might rewrite (`..`, `.`, `//`, percent
//! encodings, trailing `/`) is denied rather than normalized, so the checked
//! path and the served path cannot differ. The query string is not checked:
//! no allowed endpoint has a query parameter that writes.

use std::fmt;

/// The longest path the filter looks at; the Docker API needs far less.
pub const MAX_DOCKER_PATH_LEN: usize = 1024;

/// The verdict on one Docker API request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DockerDecision {
    /// Forward it; the endpoint it matched.
    Allow(DockerEndpoint),
    /// Answer 403 with the reason.
    Deny(DockerDenyReason),
}

/// The allowed endpoints (each also under a `/v1.NN` prefix).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DockerEndpoint {
    /// `/_ping`
    Ping,
    /// `/version`
    Version,
    /// `/info`
    Info,
    /// `/containers/json`
    ContainerList,
    /// `/containers/{id}/json`
    ContainerInspect,
    /// `/containers/{id}/logs`
    ContainerLogs,
    /// `/images/json`
    ImageList,
    /// `/images/{name}/json`; the name may hold `/`, `:` and `@`.
    ImageInspect,
    /// `/networks`
    NetworkList,
    /// `/networks/{id}`
    NetworkInspect,
    /// `/volumes`
    VolumeList,
    /// `/volumes/{name}`
    VolumeInspect,
    /// `/events`
    Events,
}

/// Why a Docker API request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DockerDenyReason {
    /// Only `GET` and `HEAD` pass.
    MethodNotAllowed,
    /// Empty, relative, too long, or with `..`, `.` or empty segments.
    MalformedPath,
    /// A character outside `[A-Za-z0-9._:@/-]`: `%` encodings, NUL, spaces, `?`.
    ForbiddenCharacter,
    /// A well-formed path that is not on the allowlist.
    EndpointNotAllowed,
}

/// Decides whether the proxy forwards `method path` to the Docker daemon.
///
/// `method` is matched case-sensitively, as HTTP methods are.
pub fn decide_docker_request(method: &str, path: &str) -> DockerDecision {
    match method {
        "GET" | "HEAD" => match route(path) {
            Ok(endpoint) => DockerDecision::Allow(endpoint),
            Err(reason) => DockerDecision::Deny(reason),
        },
        _ => DockerDecision::Deny(DockerDenyReason::MethodNotAllowed),
    }
}

impl DockerDecision {
    /// Whether the request may pass.
    pub fn allowed(&self) -> bool {
        match self {
            Self::Allow(_) => true,
            Self::Deny(_) => false,
        }
    }
}

fn route(path: &str) -> Result<DockerEndpoint, DockerDenyReason> {
    if path.len() > MAX_DOCKER_PATH_LEN {
        return Err(DockerDenyReason::MalformedPath);
    }
    if !path
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':' | b'@' | b'/'))
    {
        return Err(DockerDenyReason::ForbiddenCharacter);
    }
    let rest = path
        .strip_prefix('/')
        .ok_or(DockerDenyReason::MalformedPath)?;
    let segments: Vec<&str> = rest.split('/').collect();
    if path.contains("..")
        || segments
            .iter()
            .any(|s| s.is_empty() || *s == "." || *s == "..")
    {
        return Err(DockerDenyReason::MalformedPath);
    }
    let segments = match segments.split_first() {
        Some((first, rest)) if is_api_version(first) => rest,
        Some(_) | None => segments.as_slice(),
    };
    match segments {
        ["_ping"] => Ok(DockerEndpoint::Ping),
        ["version"] => Ok(DockerEndpoint::Version),
        ["info"] => Ok(DockerEndpoint::Info),
        ["containers", "json"] => Ok(DockerEndpoint::ContainerList),
        ["containers", _, "json"] => Ok(DockerEndpoint::ContainerInspect),
        ["containers", _, "logs"] => Ok(DockerEndpoint::ContainerLogs),
        ["images", "json"] => Ok(DockerEndpoint::ImageList),
        // The daemon routes `/images/{name:.*}/json` to inspect whatever
        // `name` holds, slashes included.
        ["images", _, .., "json"] => Ok(DockerEndpoint::ImageInspect),
        ["networks"] => Ok(DockerEndpoint::NetworkList),
        ["networks", _] => Ok(DockerEndpoint::NetworkInspect),
        ["volumes"] => Ok(DockerEndpoint::VolumeList),
        ["volumes", _] => Ok(DockerEndpoint::VolumeInspect),
        ["events"] => Ok(DockerEndpoint::Events),
        _ => Err(DockerDenyReason::EndpointNotAllowed),
    }
}

/// `v1.NN`: `v1.` and one to three digits.
fn is_api_version(segment: &str) -> bool {
    segment.strip_prefix("v1.").is_some_and(|minor| {
        (1..=3).contains(&minor.len()) && minor.bytes().all(|b| b.is_ascii_digit())
    })
}

impl fmt::Display for DockerDenyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::MethodNotAllowed => "only GET and HEAD requests reach the Docker API",
            Self::MalformedPath => "the request path is not in canonical form",
            Self::ForbiddenCharacter => "the request path holds a forbidden character",
            Self::EndpointNotAllowed => "this Docker API endpoint is not read-only safe",
        })
    }
}

#[cfg(test)]
mod tests;
