//! Tests of whole-manifest checks: required fields, multiple errors, round trip.

use expect_test::{expect, Expect};

use crate::data_dir::DataDirSource;
use crate::entrypoint::EntrypointKind;
use crate::lifecycle::Lifecycle;
use crate::paths::Access;
use crate::services::{Permission, Service};
use crate::template::Variable;
use crate::testing::{document, outcome};

fn check(json: &str, expect: Expect) {
    expect.assert_eq(&outcome(json, None));
}

#[test]
fn minimal_manifest_gets_defaults() {
    check(
        r#"{"v": "4.0", "name": "app", "image": "nginx"}"#,
        expect![[r#"
        {
          "data_dirs": [],
          "entrypoints": [],
          "env_vars": {},
          "image": "nginx",
          "lifecycle": {
            "always_on": false,
            "idle_time_for_shutdown": 60
          },
          "name": "app",
          "paths": {},
          "permissions": [],
          "services": [],
          "v": "4.0"
        }"#]],
    );
}

#[test]
fn required_fields() {
    check(
        r#"{"v": "4.0"}"#,
        expect![[r#"
        error missing `name`
        error missing `image`"#]],
    );
    check(
        r#"{"v": "4.0", "name": null, "image": 3}"#,
        expect![[r#"
        error missing `name`
        error /image: expected a string, found a number"#]],
    );
}

#[test]
fn name_and_image_errors_point_at_their_field() {
    check(
        r#"{"v": "4.0", "name": "Paperless NGX", "image": "ghcr.io/Paperless"}"#,
        expect![[r#"
        error /name: app name `Paperless NGX` must start with a lowercase letter
        error /image: image reference `ghcr.io/Paperless` is invalid: path component `Paperless` is not lowercase letters and digits separated by `.`, `_`, `__` or dashes"#]],
    );
    check(
        r#"{"v": "4.0", "name": "portal", "image": "a:b:c"}"#,
        expect![[r#"
        error /name: app name `portal` is reserved
        error /image: image reference `a:b:c` is invalid: path component `a:b` is not lowercase letters and digits separated by `.`, `_`, `__` or dashes"#]],
    );
}

#[test]
fn unknown_keys_are_warnings() {
    check(
        &document(r#""icon": "icon.png", "port": 80, "Name": "x""#),
        expect![[r#"
        {
          "data_dirs": [],
          "entrypoints": [],
          "env_vars": {},
          "image": "nginx",
          "lifecycle": {
            "always_on": false,
            "idle_time_for_shutdown": 60
          },
          "name": "app",
          "paths": {},
          "permissions": [],
          "services": [],
          "v": "4.0"
        }
        warning /Name: unknown key `Name` ignored
        warning /icon: unknown key `icon` ignored
        warning /port: unknown key `port` ignored"#]],
    );
}

#[test]
fn all_errors_are_reported_at_once() {
    check(
        r#"{
            "v": "4.0",
            "name": "My App",
            "image": "",
            "entrypoints": [{"container_port": 0, "entrypoint_port": "http"}],
            "data_dirs": ["/data/../etc", "/proc/self"],
            "services": ["redis"],
            "env_vars": {"DB": "{{ postgres.user }}", "BAD NAME": "x"},
            "paths": {"": {"access": "everyone", "headers": {"X-Id": "{{ auth.client }}"}}},
            "lifecycle": {"always_on": true, "idle_time_for_shutdown": 10},
            "permissions": ["root"],
            "extra": 1
        }"#,
        expect![[r#"
            error /name: app name `My App` must start with a lowercase letter
            error /image: image reference `` is invalid: it is empty
            error /entrypoints/0/container_port: container port `0` is not a whole number from 1 to 65535
            error /data_dirs/0: data dir path `/data/../etc` must not contain `.` or `..` segments
            error /data_dirs/1: data dir path `/proc/self` must not be in `/proc`, `/sys` or `/dev`
            error /services/0: unknown service `redis`, expected one of `postgres`, `docker_sock_ro`
            error /env_vars/BAD NAME: env var name `BAD NAME` is not letters, digits and `_`, starting with a letter or `_`
            error /env_vars/DB: template variable `postgres.user` needs the `postgres` service
            error /paths//access: unknown access `everyone`, expected `public`, `private` or `peer`
            error /paths//headers/X-Id: unknown template variable `auth.client`
            error /lifecycle: set either `always_on` or `idle_time_for_shutdown`, not both
            error /permissions/0: unknown permission `root`, expected one of `apps:read`, `identity:read`, `peers:call`"#]],
    );
}

#[test]
fn getters_expose_the_typed_manifest() {
    let json = r#"{
        "v": "4.0", "name": "paperless-ngx", "image": "ghcr.io/paperless-ngx/paperless-ngx:1.17",
        "entrypoints": [{"container_port": 8000, "entrypoint_port": "http"}],
        "data_dirs": [{"path": "/usr/src/paperless/media", "uid": 1000}, {"path": "/consume", "shared_dir": "documents", "read_only": true}],
        "services": ["postgres"],
        "env_vars": {"PAPERLESS_DBUSER": "{{ postgres.user }}"},
        "paths": {"": {"access": "peer"}},
        "lifecycle": {"always_on": true},
        "permissions": ["apps:read"]
    }"#;
    let m = crate::parse(json).unwrap().manifest;
    assert_eq!(m.name().postgres_identifier(), "app_paperless_ngx");
    assert_eq!(m.image().domain(), Some("ghcr.io"));
    assert_eq!(m.entrypoints()[0].container_port(), 8000);
    assert_eq!(m.entrypoints()[0].kind(), EntrypointKind::Http);
    assert_eq!(
        m.data_dirs()[0].path().relative(),
        "usr/src/paperless/media"
    );
    assert_eq!(
        m.data_dirs()[0].source(),
        &DataDirSource::App {
            uid: Some(1000),
            gid: None
        }
    );
    assert!(matches!(
        m.data_dirs()[1].source(),
        DataDirSource::Shared {
            read_only: true,
            ..
        }
    ));
    assert!(m.has_service(Service::Postgres));
    assert!(!m.has_service(Service::DockerSockRo));
    let (name, template) = m.env_vars().iter().next().unwrap();
    assert_eq!(name.as_str(), "PAPERLESS_DBUSER");
    assert_eq!(
        template.variables().collect::<Vec<_>>(),
        vec![Variable::PostgresUser]
    );
    let (prefix, rule) = m.paths().iter().next().unwrap();
    assert!(prefix.is_default());
    assert_eq!(rule.access(), Access::Peer);
    assert_eq!(m.lifecycle(), Lifecycle::AlwaysOn);
    assert!(m.has_permission(Permission::AppsRead));
    assert!(!m.has_permission(Permission::PeersCall));
    assert_eq!(m.store_info(), None);
    assert_eq!(serde_json::to_value(&m).unwrap(), m.to_stored_value());
}
