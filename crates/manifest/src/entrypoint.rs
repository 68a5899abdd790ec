//! `entrypoints`: which container ports berth routes traffic to, and by which protocol.

use serde_json::{json, Value};

use crate::error::{quoted, Diagnostics, Pointer};
use crate::json;

/// How traffic reaches the container port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EntrypointKind {
    /// Web traffic through the gateway, under the app's subdomain; at most one per app.
    Http,
    /// MQTT over TLS, routed by SNI.
    Mqtt,
}

impl EntrypointKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntrypointKind::Http => "http",
            EntrypointKind::Mqtt => "mqtt",
        }
    }
}

/// A container port and the protocol it serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entrypoint {
    container_port: u16,
    kind: EntrypointKind,
}

impl Entrypoint {
    /// In 1..=65535.
    pub fn container_port(&self) -> u16 {
        self.container_port
    }

    /// Read from `entrypoint_port`, a misnomer kept from the original format.
    pub fn kind(&self) -> EntrypointKind {
        self.kind
    }

    pub(crate) fn to_stored(self) -> Value {
        json!({"container_port": self.container_port, "entrypoint_port": self.kind.as_str()})
    }
}

const KEYS: [&str; 2] = ["container_port", "entrypoint_port"];

/// Reads `entrypoints`, refusing a second `http` entrypoint.
pub(crate) fn read(value: Option<&Value>, diag: &mut Diagnostics) -> Vec<Entrypoint> {
    let pointer = Pointer::root().key("entrypoints");
    let Some(items) = value.and_then(|v| json::list(v, &pointer, diag)) else {
        return Vec::new();
    };
    let mut out: Vec<Entrypoint> = Vec::new();
    let mut seen_http = false;
    for (i, item) in items.iter().enumerate() {
        let pointer = pointer.index(i);
        if item.is_null() {
            diag.warn(&pointer, "null item ignored");
            continue;
        }
        let Some(object) = json::object(item, &pointer, diag) else {
            continue;
        };
        json::warn_unknown_keys(object, &pointer, &KEYS, diag);
        let port = match json::get(object, "container_port") {
            Some(v) => {
                let p = pointer.key("container_port");
                json::integer_in(v, &p, (1, 65535), "container port", diag)
                    .and_then(|p| u16::try_from(p).ok())
            }
            None => {
                diag.error(&pointer, "missing `container_port`");
                None
            }
        };
        let kind = match json::get(object, "entrypoint_port") {
            Some(v) => {
                let p = pointer.key("entrypoint_port");
                json::string(v, &p, diag).and_then(|s| match s {
                    "http" => Some(EntrypointKind::Http),
                    "mqtt" => Some(EntrypointKind::Mqtt),
                    other => {
                        let other = quoted(other);
                        diag.error(
                            &p,
                            format!("unknown entrypoint port {other}, expected `http` or `mqtt`"),
                        );
                        None
                    }
                })
            }
            None => {
                diag.error(&pointer, "missing `entrypoint_port`");
                None
            }
        };
        let (Some(container_port), Some(kind)) = (port, kind) else {
            continue;
        };
        if kind == EntrypointKind::Http && std::mem::replace(&mut seen_http, true) {
            diag.error(
                &pointer.key("entrypoint_port"),
                "only one `http` entrypoint is allowed",
            );
            continue;
        }
        out.push(Entrypoint {
            container_port,
            kind,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::testing::check_field;
    use expect_test::{expect, Expect};

    fn check(entrypoints: &str, expect: Expect) {
        check_field(
            "entrypoints",
            &format!(r#""entrypoints": {entrypoints}"#),
            expect,
        );
    }

    #[test]
    fn valid() {
        check(
            r#"[{"container_port": 8000, "entrypoint_port": "http"}, {"container_port": 1, "entrypoint_port": "mqtt"}, {"container_port": 65535, "entrypoint_port": "mqtt"}]"#,
            expect![[
                r#"[{"container_port":8000,"entrypoint_port":"http"},{"container_port":1,"entrypoint_port":"mqtt"},{"container_port":65535,"entrypoint_port":"mqtt"}]"#
            ]],
        );
        check("null", expect!["[]"]);
        check("[]", expect!["[]"]);
        check(
            r#"[{"container_port": 80, "entrypoint_port": "http", "tls": true}]"#,
            expect![[r#"
            [{"container_port":80,"entrypoint_port":"http"}]
            warning /entrypoints/0/tls: unknown key `tls` ignored"#]],
        );
    }

    #[test]
    fn invalid() {
        check(
            r#"[{"container_port": 0, "entrypoint_port": "http"}, {"container_port": 70000, "entrypoint_port": "http"}, {"container_port": "80", "entrypoint_port": "https"}, {}, 5, {"container_port": 80, "entrypoint_port": "http"}, {"container_port": 81, "entrypoint_port": "http"}]"#,
            expect![[r#"
            error /entrypoints/0/container_port: container port `0` is not a whole number from 1 to 65535
            error /entrypoints/1/container_port: container port `70000` is not a whole number from 1 to 65535
            error /entrypoints/2/container_port: expected a number, found a string
            error /entrypoints/2/entrypoint_port: unknown entrypoint port `https`, expected `http` or `mqtt`
            error /entrypoints/3: missing `container_port`
            error /entrypoints/3: missing `entrypoint_port`
            error /entrypoints/4: expected an object, found a number
            error /entrypoints/6/entrypoint_port: only one `http` entrypoint is allowed"#]],
        );
    }
}
