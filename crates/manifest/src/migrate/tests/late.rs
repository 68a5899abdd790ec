//! Migrations from formats 3.0, 3.1 and 3.2, and 4.0 read as is.

use expect_test::expect;

use super::check;

#[test]
fn v3_0_lifecycle_is_set_even_when_given() {
    check(
        r#"{
            "v": "3.0",
            "name": "jupyter-notebook",
            "image": "jupyter/base-notebook:2022-05-09",
            "port": 8888,
            "data_dirs": [{"path": "/home/jovyan/work", "uid": 1000, "gid": 100}],
            "env_vars": {"JUPYTER_TOKEN": "", "NB_UID": 1000},
            "paths": {"": {"access": "private"}},
            "lifecycle": {"always_on": true}
        }"#,
        expect![[r#"
            from 3.0
            {
              "data_dirs": [
                {
                  "gid": 100,
                  "path": "/home/jovyan/work",
                  "uid": 1000
                }
              ],
              "entrypoints": [
                {
                  "container_port": 8888,
                  "entrypoint_port": "http"
                }
              ],
              "env_vars": {
                "JUPYTER_TOKEN": "",
                "NB_UID": "1000"
              },
              "image": "jupyter/base-notebook:2022-05-09",
              "lifecycle": {
                "always_on": false,
                "idle_time_for_shutdown": 60
              },
              "name": "jupyter-notebook",
              "paths": {
                "": {
                  "access": "private",
                  "headers": {}
                }
              },
              "permissions": [],
              "services": [],
              "v": "4.0"
            }
            warning /lifecycle: `lifecycle` of a file older than format 3.1 replaced by the default, as the original did"#]],
    );
}

#[test]
fn v3_1_lifecycle_is_kept() {
    check(
        r#"{
            "v": "3.1",
            "name": "home-assistant",
            "image": "homeassistant/home-assistant:2022.6",
            "port": 8123,
            "data_dirs": ["/config"],
            "services": ["docker_sock_ro"],
            "paths": {
                "": {"access": "private", "headers": {"X-Ptl-Client-Type": "{{ client_type }}"}},
                "/api/webhook": {"access": "public"}
            },
            "lifecycle": {"always_on": true}
        }"#,
        expect![[r#"
            from 3.1
            {
              "data_dirs": [
                {
                  "path": "/config"
                }
              ],
              "entrypoints": [
                {
                  "container_port": 8123,
                  "entrypoint_port": "http"
                }
              ],
              "env_vars": {},
              "image": "homeassistant/home-assistant:2022.6",
              "lifecycle": {
                "always_on": true
              },
              "name": "home-assistant",
              "paths": {
                "": {
                  "access": "private",
                  "headers": {
                    "X-Ptl-Client-Type": "{{ auth.client_type }}"
                  }
                },
                "/api/webhook": {
                  "access": "public",
                  "headers": {}
                }
              },
              "permissions": [],
              "services": [
                "docker_sock_ro"
              ],
              "v": "4.0"
            }"#]],
    );
    check(
        r#"{"v": "3.1", "name": "a", "image": "a"}"#,
        expect![[r#"
        from 3.1
        {
          "data_dirs": [],
          "entrypoints": [],
          "env_vars": {},
          "image": "a",
          "lifecycle": {
            "always_on": false,
            "idle_time_for_shutdown": 60
          },
          "name": "a",
          "paths": {},
          "permissions": [],
          "services": [],
          "v": "4.0"
        }"#]],
    );
}

#[test]
fn v3_2_shared_dirs() {
    check(
        r#"{
            "v": "3.2",
            "name": "jellyfin",
            "image": "jellyfin/jellyfin:10.8.0",
            "port": 8096,
            "data_dirs": [
                "/config",
                {"path": "/media", "shared_dir": "media"},
                {"path": "/music", "shared_dir": "music"}
            ],
            "paths": {"": {"access": "private"}, "/share": {"access": "peer"}},
            "lifecycle": {"always_on": false, "idle_time_for_shutdown": 600},
            "entrypoints": [{"container_port": 1, "entrypoint_port": "mqtt"}]
        }"#,
        expect![[r#"
            from 3.2
            {
              "data_dirs": [
                {
                  "path": "/config"
                },
                {
                  "path": "/media",
                  "read_only": false,
                  "shared_dir": "media"
                },
                {
                  "path": "/music",
                  "read_only": false,
                  "shared_dir": "music"
                }
              ],
              "entrypoints": [
                {
                  "container_port": 8096,
                  "entrypoint_port": "http"
                }
              ],
              "env_vars": {},
              "image": "jellyfin/jellyfin:10.8.0",
              "lifecycle": {
                "always_on": false,
                "idle_time_for_shutdown": 600
              },
              "name": "jellyfin",
              "paths": {
                "": {
                  "access": "private",
                  "headers": {}
                },
                "/share": {
                  "access": "peer",
                  "headers": {}
                }
              },
              "permissions": [],
              "services": [],
              "v": "4.0"
            }
            warning /entrypoints: `entrypoints` of a format 3.2 file replaced by the one derived from `port`"#]],
    );
    check(
        r#"{"v": "3.2", "name": "a", "image": "a", "port": "eighty"}"#,
        expect![[r#"
        refused
        error /entrypoints/0/container_port: expected a number, found a string"#]],
    );
}

#[test]
fn v4_0_is_read_as_is() {
    check(
        r#"{
            "v": "4.0",
            "name": "stirling-pdf",
            "image": "frooodle/s-pdf:0.10.0",
            "entrypoints": [
                {"container_port": 8080, "entrypoint_port": "http"},
                {"container_port": 8883, "entrypoint_port": "mqtt"}
            ],
            "data_dirs": [{"path": "/usr/share/tesseract-ocr/4.00/tessdata", "uid": 1000}],
            "env_vars": {"APP_HOME_NAME": "PDF tools of {{ portal.name }}"},
            "paths": {"": {"access": "private", "headers": {
                "X-Ptl-Client-Id": "{{ auth.client_id }}",
                "X-Ptl-Client-Name": "{{ auth.client_name }}",
                "X-Ptl-Client-Type": "{{ auth.client_type }}"
            }}},
            "lifecycle": {"always_on": false, "idle_time_for_shutdown": 120},
            "permissions": ["identity:read"]
        }"#,
        expect![[r#"
            from 4.0
            {
              "data_dirs": [
                {
                  "path": "/usr/share/tesseract-ocr/4.00/tessdata",
                  "uid": 1000
                }
              ],
              "entrypoints": [
                {
                  "container_port": 8080,
                  "entrypoint_port": "http"
                },
                {
                  "container_port": 8883,
                  "entrypoint_port": "mqtt"
                }
              ],
              "env_vars": {
                "APP_HOME_NAME": "PDF tools of {{ portal.name }}"
              },
              "image": "frooodle/s-pdf:0.10.0",
              "lifecycle": {
                "always_on": false,
                "idle_time_for_shutdown": 120
              },
              "name": "stirling-pdf",
              "paths": {
                "": {
                  "access": "private",
                  "headers": {
                    "X-Ptl-Client-Id": "{{ auth.client_id }}",
                    "X-Ptl-Client-Name": "{{ auth.client_name }}",
                    "X-Ptl-Client-Type": "{{ auth.client_type }}"
                  }
                }
              },
              "permissions": [
                "identity:read"
              ],
              "services": [],
              "v": "4.0"
            }"#]],
    );
    check(
        r#"{"v": "4.0", "name": "a", "image": "a", "port": 80, "paths": {"": {"access": "private", "headers": {"X-Id": "{{ client_id }}"}}}}"#,
        expect![[r#"
            refused
            error /paths//headers/X-Id: unknown template variable `client_id`"#]],
    );
}
