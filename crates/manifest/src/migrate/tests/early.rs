//! Migrations from formats 0.0, 1.0 and 2.0.

use expect_test::expect;

use super::check;

#[test]
fn v0_0_authentication_becomes_paths() {
    check(
        r#"{
            "name": "filebrowser",
            "image": "filebrowser/filebrowser:v2.22.4",
            "port": 80,
            "description": "Browse and share your files",
            "data_dirs": ["/srv", {"path": "/database", "uid": 1000, "gid": 1000}],
            "env_vars": {"FB_BASEURL": "", "FB_PORT": 80, "FB_NOAUTH": true},
            "authentication": {
                "default_access": "public",
                "private_paths": ["/files", "/api/resources", "/share"],
                "public_paths": ["/share", "/static"]
            }
        }"#,
        expect![[r#"
            from 0.0
            {
              "data_dirs": [
                {
                  "path": "/srv"
                },
                {
                  "gid": 1000,
                  "path": "/database",
                  "uid": 1000
                }
              ],
              "entrypoints": [
                {
                  "container_port": 80,
                  "entrypoint_port": "http"
                }
              ],
              "env_vars": {
                "FB_BASEURL": "",
                "FB_NOAUTH": "True",
                "FB_PORT": "80"
              },
              "image": "filebrowser/filebrowser:v2.22.4",
              "lifecycle": {
                "always_on": false,
                "idle_time_for_shutdown": 60
              },
              "name": "filebrowser",
              "paths": {
                "": {
                  "access": "public",
                  "headers": {
                    "X-Ptl-Client-Type": "public"
                  }
                },
                "/api/resources": {
                  "access": "private",
                  "headers": {
                    "X-Ptl-Client-Id": "{{ auth.client_id }}",
                    "X-Ptl-Client-Name": "{{ auth.client_name }}",
                    "X-Ptl-Client-Type": "terminal"
                  }
                },
                "/files": {
                  "access": "private",
                  "headers": {
                    "X-Ptl-Client-Id": "{{ auth.client_id }}",
                    "X-Ptl-Client-Name": "{{ auth.client_name }}",
                    "X-Ptl-Client-Type": "terminal"
                  }
                },
                "/share": {
                  "access": "private",
                  "headers": {
                    "X-Ptl-Client-Id": "{{ auth.client_id }}",
                    "X-Ptl-Client-Name": "{{ auth.client_name }}",
                    "X-Ptl-Client-Type": "terminal"
                  }
                },
                "/static": {
                  "access": "public",
                  "headers": {
                    "X-Ptl-Client-Type": "public"
                  }
                }
              },
              "permissions": [],
              "services": [],
              "store_info": {
                "description_short": "Browse and share your files"
              },
              "v": "4.0"
            }
            warning /authentication/private_paths/2: path `/share` is also public, private wins"#]],
    );
}

#[test]
fn v0_0_without_authentication_is_private() {
    check(
        r#"{"name": "whoami", "image": "traefik/whoami", "port": 80, "description": null}"#,
        expect![[r#"
            from 0.0
            {
              "data_dirs": [],
              "entrypoints": [
                {
                  "container_port": 80,
                  "entrypoint_port": "http"
                }
              ],
              "env_vars": {},
              "image": "traefik/whoami",
              "lifecycle": {
                "always_on": false,
                "idle_time_for_shutdown": 60
              },
              "name": "whoami",
              "paths": {
                "": {
                  "access": "private",
                  "headers": {
                    "X-Ptl-Client-Id": "{{ auth.client_id }}",
                    "X-Ptl-Client-Name": "{{ auth.client_name }}",
                    "X-Ptl-Client-Type": "terminal"
                  }
                }
              },
              "permissions": [],
              "services": [],
              "v": "4.0"
            }"#]],
    );
}

#[test]
fn v0_0_bad_authentication() {
    check(
        r#"{"name": "a", "image": "a", "authentication": {"default_access": "open", "public_paths": "/x", "private_paths": [1, "/ok"], "mode": "x"}}"#,
        expect![[r#"
            refused
            error /authentication/public_paths: expected a list, found a string
            error /authentication/private_paths/0: expected a string, found a number
            error /paths//access: unknown access `open`, expected `public`, `private` or `peer`"#]],
    );
    check(
        r#"{"name": "a", "image": "a", "authentication": true}"#,
        expect![[r#"
        refused
        error /authentication: expected an object, found a boolean"#]],
    );
    check(
        r#"{"name": "a", "image": "a", "authentication": {"default_access": 1}}"#,
        expect![[r#"
            refused
            error /authentication/default_access: expected a string, found a number"#]],
    );
}

#[test]
fn v0_0_paths_are_replaced_by_authentication() {
    check(
        r#"{"name": "a", "image": "a", "authentication": {"default_access": "private"}, "paths": {"": {"access": "public"}}, "mode": 1}"#,
        expect![[r#"
            from 0.0
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
              "paths": {
                "": {
                  "access": "private",
                  "headers": {
                    "X-Ptl-Client-Id": "{{ auth.client_id }}",
                    "X-Ptl-Client-Name": "{{ auth.client_name }}",
                    "X-Ptl-Client-Type": "terminal"
                  }
                }
              },
              "permissions": [],
              "services": [],
              "v": "4.0"
            }
            warning /paths: `paths` of a format 0.0 file replaced by the rules derived from `authentication`
            warning /mode: unknown key `mode` ignored"#]],
    );
}

#[test]
fn v1_0_description_moves_to_store_info() {
    check(
        r#"{
            "v": "1.0",
            "name": "node-red",
            "image": "nodered/node-red:2.2.2",
            "port": 1880,
            "description": "Low-code programming for event-driven applications",
            "data_dirs": [{"path": "/data", "uid": 1000, "gid": 1000}],
            "paths": {
                "": {"access": "private", "headers": {
                    "X-Ptl-Client-Id": "{{ client_id }}",
                    "X-Ptl-Client-Name": "{{ client_name }}",
                    "X-Ptl-Client-Type": "terminal"
                }},
                "/public/": {"access": "public", "headers": {"X-Ptl-Client-Type": "public"}}
            }
        }"#,
        expect![[r#"
            from 1.0
            {
              "data_dirs": [
                {
                  "gid": 1000,
                  "path": "/data",
                  "uid": 1000
                }
              ],
              "entrypoints": [
                {
                  "container_port": 1880,
                  "entrypoint_port": "http"
                }
              ],
              "env_vars": {},
              "image": "nodered/node-red:2.2.2",
              "lifecycle": {
                "always_on": false,
                "idle_time_for_shutdown": 60
              },
              "name": "node-red",
              "paths": {
                "": {
                  "access": "private",
                  "headers": {
                    "X-Ptl-Client-Id": "{{ auth.client_id }}",
                    "X-Ptl-Client-Name": "{{ auth.client_name }}",
                    "X-Ptl-Client-Type": "terminal"
                  }
                },
                "/public/": {
                  "access": "public",
                  "headers": {
                    "X-Ptl-Client-Type": "public"
                  }
                }
              },
              "permissions": [],
              "services": [],
              "store_info": {
                "description_short": "Low-code programming for event-driven applications"
              },
              "v": "4.0"
            }"#]],
    );
    check(
        r#"{"v": "1.0", "name": "a", "image": "a", "description": "old", "store_info": {"description_short": "new", "hint": "h"}}"#,
        expect![[r#"
            from 1.0
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
              "store_info": {
                "description_short": "new",
                "hint": "h"
              },
              "v": "4.0"
            }
            warning /store_info/description_short: kept instead of the top-level `description` of format 1.0"#]],
    );
    check(
        r#"{"v": "1.0", "name": "a", "image": "a", "description": "old", "store_info": {"hint": "h"}}"#,
        expect![[r#"
            from 1.0
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
              "store_info": {
                "description_short": "old",
                "hint": "h"
              },
              "v": "4.0"
            }"#]],
    );
}

#[test]
fn v2_0_own_app_prefix_is_dropped() {
    check(
        r#"{
            "v": "2.0",
            "name": "paperless-ngx",
            "image": "ghcr.io/paperless-ngx/paperless-ngx:1.7.1",
            "port": 8000,
            "services": ["postgres"],
            "data_dirs": ["/usr/src/paperless/data", "/usr/src/paperless/media", "/usr/src/paperless/consume"],
            "env_vars": {
                "PAPERLESS_DBHOST": "{{ apps[\"paperless-ngx\"].postgres.host }}",
                "PAPERLESS_DBUSER": "{{ apps[\"paperless-ngx\"].postgres.user }}",
                "PAPERLESS_DBPASS": "{{apps['paperless-ngx'].postgres.password}}",
                "PAPERLESS_DBNAME": "{{ apps[\"paperless-ngx\"][\"postgres\"].database }}",
                "PAPERLESS_DBPORT": 5432,
                "PAPERLESS_URL": "https://paperless-ngx.{{ portal.domain }}",
                "PAPERLESS_SECRET_KEY": "{{ portal.id[:6] }}",
                "PAPERLESS_ENABLE_HTTP_REMOTE_USER": true,
                "USERMAP_UID": 1000
            },
            "paths": {"": {"access": "private", "headers": {
                "X-Ptl-Client-Id": "{{ client_id }}",
                "X-Ptl-Client-Name": "{{ client_name }}",
                "X-Ptl-Client-Type": "terminal"
            }}},
            "store_info": {
                "description_short": "Scan, index and archive your documents",
                "description_long": ["Paperless-ngx turns paper into a searchable archive.", "Consume by mail or upload."],
                "hint": "Log in as the user you create on first start",
                "is_featured": true
            }
        }"#,
        expect![[r#"
            from 2.0
            {
              "data_dirs": [
                {
                  "path": "/usr/src/paperless/data"
                },
                {
                  "path": "/usr/src/paperless/media"
                },
                {
                  "path": "/usr/src/paperless/consume"
                }
              ],
              "entrypoints": [
                {
                  "container_port": 8000,
                  "entrypoint_port": "http"
                }
              ],
              "env_vars": {
                "PAPERLESS_DBHOST": "{{ postgres.host }}",
                "PAPERLESS_DBNAME": "{{ postgres.database }}",
                "PAPERLESS_DBPASS": "{{ postgres.password }}",
                "PAPERLESS_DBPORT": "5432",
                "PAPERLESS_DBUSER": "{{ postgres.user }}",
                "PAPERLESS_ENABLE_HTTP_REMOTE_USER": "True",
                "PAPERLESS_SECRET_KEY": "{{ portal.id[:6] }}",
                "PAPERLESS_URL": "https://paperless-ngx.{{ portal.domain }}",
                "USERMAP_UID": "1000"
              },
              "image": "ghcr.io/paperless-ngx/paperless-ngx:1.7.1",
              "lifecycle": {
                "always_on": false,
                "idle_time_for_shutdown": 60
              },
              "name": "paperless-ngx",
              "paths": {
                "": {
                  "access": "private",
                  "headers": {
                    "X-Ptl-Client-Id": "{{ auth.client_id }}",
                    "X-Ptl-Client-Name": "{{ auth.client_name }}",
                    "X-Ptl-Client-Type": "terminal"
                  }
                }
              },
              "permissions": [],
              "services": [
                "postgres"
              ],
              "store_info": {
                "description_long": [
                  "Paperless-ngx turns paper into a searchable archive.",
                  "Consume by mail or upload."
                ],
                "description_short": "Scan, index and archive your documents",
                "hint": "Log in as the user you create on first start",
                "is_featured": true
              },
              "v": "4.0"
            }"#]],
    );
}

#[test]
fn v2_0_other_app_prefix_is_refused() {
    check(
        r#"{"v": "2.0", "name": "money-balancer", "image": "a", "services": ["postgres"], "env_vars": {"DB": "{{ apps[\"paperless-ngx\"].postgres.user }}", "UNDERSCORE": "{{ apps.money_balancer.postgres.user }}", "SLICED": "{{ apps[\"money-balancer\"][:3] }}"}}"#,
        expect![[r#"
            refused
            error /env_vars/DB: unknown template variable `apps.paperless-ngx.postgres.user`
            error /env_vars/SLICED: unknown template variable `apps.money-balancer`
            error /env_vars/UNDERSCORE: unknown template variable `apps.money_balancer.postgres.user`"#]],
    );
}

#[test]
fn v2_0_attribute_style_prefix_is_dropped() {
    check(
        r#"{"v": "2.0", "name": "nextcloud", "image": "nextcloud:24", "port": 80, "services": ["postgres"], "env_vars": {"POSTGRES_USER": "{{ apps.nextcloud.postgres.user }}", "POSTGRES_HOST": "{{ apps.nextcloud.postgres.hostspec }}"}}"#,
        expect![[r#"
            from 2.0
            {
              "data_dirs": [],
              "entrypoints": [
                {
                  "container_port": 80,
                  "entrypoint_port": "http"
                }
              ],
              "env_vars": {
                "POSTGRES_HOST": "{{ postgres.hostspec }}",
                "POSTGRES_USER": "{{ postgres.user }}"
              },
              "image": "nextcloud:24",
              "lifecycle": {
                "always_on": false,
                "idle_time_for_shutdown": 60
              },
              "name": "nextcloud",
              "paths": {},
              "permissions": [],
              "services": [
                "postgres"
              ],
              "v": "4.0"
            }"#]],
    );
    check(
        r#"{"v": "2.0", "name": "nextcloud", "image": "nextcloud:24", "env_vars": {"BROKEN": "{{ apps.nextcloud"}}"#,
        expect![[r#"
            refused
            error /env_vars/BROKEN: template syntax error at character 18: expected `.`, `[` or `}}`, found the end of the template"#]],
    );
}
