//! Tests of the Docker API filter: every allowed endpoint, and the dangerous neighbours of each.

use super::*;
use DockerDenyReason::*;
use DockerEndpoint::*;

#[track_caller]
fn allow(method: &str, path: &str, endpoint: DockerEndpoint) {
    assert_eq!(
        decide_docker_request(method, path),
        DockerDecision::Allow(endpoint),
        "{method} {path}"
    );
}

#[track_caller]
fn deny(method: &str, path: &str, reason: DockerDenyReason) {
    let decision = decide_docker_request(method, path);
    assert_eq!(decision, DockerDecision::Deny(reason), "{method} {path:?}");
    assert!(!decision.allowed());
}

const ALLOWED: &[(&str, DockerEndpoint)] = &[
    ("/_ping", Ping),
    ("/version", Version),
    ("/info", Info),
    ("/containers/json", ContainerList),
    ("/containers/3f4e8a9b/json", ContainerInspect),
    ("/containers/my-app_1.x/json", ContainerInspect),
    ("/containers/json/json", ContainerInspect),
    ("/containers/3f4e8a9b/logs", ContainerLogs),
    ("/images/json", ImageList),
    ("/images/nginx/json", ImageInspect),
    ("/images/nginx:1.25/json", ImageInspect),
    (
        "/images/registry.local:5000/alice/app:v1/json",
        ImageInspect,
    ),
    ("/images/alice/app@sha256:0123abcd/json", ImageInspect),
    ("/images/sha256:0123abcd/json", ImageInspect),
    ("/images/json/json", ImageInspect),
    ("/networks", NetworkList),
    ("/networks/berth_apps", NetworkInspect),
    ("/volumes", VolumeList),
    ("/volumes/data-1", VolumeInspect),
    ("/events", Events),
];

#[test]
fn allowed_endpoints_with_and_without_version() {
    for (path, endpoint) in ALLOWED {
        for method in ["GET", "HEAD"] {
            allow(method, path, *endpoint);
            allow(method, &format!("/v1.41{path}"), *endpoint);
            allow(method, &format!("/v1.9{path}"), *endpoint);
            allow(method, &format!("/v1.100{path}"), *endpoint);
        }
    }
}

#[test]
fn every_other_method_is_denied_on_every_allowed_path() {
    for (path, _) in ALLOWED {
        for method in [
            "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE", "get", "Get", "head",
            "", " GET", "GET ",
        ] {
            deny(method, path, MethodNotAllowed);
        }
    }
}

#[test]
fn dangerous_reads_are_not_on_the_list() {
    for path in [
        "/containers/abc/attach/ws",
        "/containers/abc/attach",
        "/containers/abc/archive",
        "/containers/abc/export",
        "/containers/abc/top",
        "/containers/abc/stats",
        "/containers/abc/changes",
        "/containers/abc",
        "/containers",
        "/containers/abc/json/x",
        "/containers/a/b/json",
        "/containers/a/b/logs",
        "/images/nginx/get",
        "/images/get",
        "/images/nginx/history",
        "/images/search",
        "/images",
        "/exec/abc/json",
        "/exec/abc/start",
        "/networks/a/b",
        "/volumes/a/b",
        "/session",
        "/grpc",
        "/swarm",
        "/nodes",
        "/services",
        "/tasks",
        "/secrets",
        "/configs",
        "/plugins",
        "/system/df",
        "/distribution/nginx/json",
        "/build",
        "/auth",
        "/events/x",
        "/_ping/x",
        "/v1.41",
        "/v1.41/v1.41/_ping",
        "/v2.0/_ping",
        "/v1./_ping",
        "/v1.1234/_ping",
        "/v1.4a/_ping",
        "/V1.41/_ping",
        "/1.41/_ping",
        "/Info",
        "/INFO",
    ] {
        deny("GET", path, EndpointNotAllowed);
    }
}

#[test]
fn non_canonical_paths_are_denied() {
    for path in [
        "",
        "/",
        "_ping",
        "info",
        "//info",
        "/info/",
        "/containers//json",
        "/containers/json/",
        "/./info",
        "/containers/../info",
        "/images/../../containers/abc/archive/json",
        "/containers/a..b/json",
        "/images/a/../b/json",
        "/images/./json",
        "/v1.41//info",
    ] {
        deny("GET", path, MalformedPath);
    }
    let long = format!("/images/{}/json", "a".repeat(MAX_DOCKER_PATH_LEN));
    deny("GET", &long, MalformedPath);
}

#[test]
fn odd_characters_are_denied() {
    for path in [
        "/info%2f",
        "/containers/abc%2Fjson",
        "/%2e%2e/info",
        "/info\0",
        "/info\0/x",
        "/info?x=1",
        "/info#x",
        "/info ",
        " /info",
        "/in fo",
        "/info\n",
        "/info\r\n",
        "/containers/abc\\..\\json",
        "/images/ngïnx/json",
        "/info;x",
        "/images/a+b/json",
    ] {
        deny("GET", path, ForbiddenCharacter);
    }
}

#[test]
fn reasons_read_as_sentences() {
    assert_eq!(
        MethodNotAllowed.to_string(),
        "only GET and HEAD requests reach the Docker API"
    );
    assert_eq!(
        EndpointNotAllowed.to_string(),
        "this Docker API endpoint is not read-only safe"
    );
}
