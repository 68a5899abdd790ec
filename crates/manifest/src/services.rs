//! `services` (what berth provides to the app) and `permissions` (what the app may ask of
//! the core API), both closed sets of names listed without duplicates.

use serde_json::Value;

use crate::error::{quoted, Diagnostics, Pointer};
use crate::json;

/// A service berth runs for the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Service {
    /// A database and role of its own on the shared Postgres, named by
    /// [`crate::name::AppName::postgres_identifier`]; enables the `postgres.*` variables.
    Postgres,
    /// The Docker socket. Despite its name this is full control of the host (the `:ro`
    /// flag protects only the socket file), so berth must filter it; see the `authz` crate.
    DockerSockRo,
}

impl Service {
    pub fn as_str(self) -> &'static str {
        match self {
            Service::Postgres => "postgres",
            Service::DockerSockRo => "docker_sock_ro",
        }
    }
}

/// What an app may do on the core API beyond reading its own record (a berth extension;
/// the original let every app do anything).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    /// `apps:read`: list and read all installed apps.
    AppsRead,
    /// `identity:read`: read the Portal's default identity.
    IdentityRead,
    /// `peers:call`: ask the core to make signed calls to the same app on peers.
    PeersCall,
}

impl Permission {
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::AppsRead => "apps:read",
            Permission::IdentityRead => "identity:read",
            Permission::PeersCall => "peers:call",
        }
    }
}

const SERVICES: [Service; 2] = [Service::Postgres, Service::DockerSockRo];
const PERMISSIONS: [Permission; 3] = [
    Permission::AppsRead,
    Permission::IdentityRead,
    Permission::PeersCall,
];

/// Reads `services`.
pub(crate) fn read_services(value: Option<&Value>, diag: &mut Diagnostics) -> Vec<Service> {
    read_names(
        value,
        "services",
        "service",
        &SERVICES,
        |s| s.as_str(),
        diag,
    )
}

/// Reads `permissions`.
pub(crate) fn read_permissions(value: Option<&Value>, diag: &mut Diagnostics) -> Vec<Permission> {
    read_names(
        value,
        "permissions",
        "permission",
        &PERMISSIONS,
        |p| p.as_str(),
        diag,
    )
}

fn read_names<T: Copy + PartialEq>(
    value: Option<&Value>,
    key: &str,
    what: &str,
    known: &[T],
    name: fn(T) -> &'static str,
    diag: &mut Diagnostics,
) -> Vec<T> {
    let pointer = Pointer::root().key(key);
    let Some(items) = value.and_then(|v| json::list(v, &pointer, diag)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let pointer = pointer.index(i);
        if item.is_null() {
            diag.warn(&pointer, "null item ignored");
            continue;
        }
        let Some(s) = json::string(item, &pointer, diag) else {
            continue;
        };
        let Some(found) = known.iter().copied().find(|k| name(*k) == s) else {
            let expected: Vec<String> = known.iter().map(|k| format!("`{}`", name(*k))).collect();
            let s = quoted(s);
            diag.error(
                &pointer,
                format!(
                    "unknown {what} {s}, expected one of {}",
                    expected.join(", ")
                ),
            );
            continue;
        };
        if out.contains(&found) {
            diag.error(
                &pointer,
                format!("{what} `{}` is listed twice", name(found)),
            );
            continue;
        }
        out.push(found);
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::testing::check_field;
    use expect_test::{expect, Expect};

    fn check(key: &str, value: &str, expect: Expect) {
        check_field(key, &format!(r#""{key}": {value}"#), expect);
    }

    #[test]
    fn services() {
        check(
            "services",
            r#"["postgres", "docker_sock_ro"]"#,
            expect![[r#"["postgres","docker_sock_ro"]"#]],
        );
        check("services", "null", expect!["[]"]);
        check(
            "services",
            r#"["postgres", "redis", "postgres", 1, null]"#,
            expect![[r#"
            error /services/1: unknown service `redis`, expected one of `postgres`, `docker_sock_ro`
            error /services/2: service `postgres` is listed twice
            error /services/3: expected a string, found a number"#]],
        );
        check(
            "services",
            r#""postgres""#,
            expect!["error /services: expected a list, found a string"],
        );
    }

    #[test]
    fn permissions() {
        check(
            "permissions",
            r#"["apps:read", "identity:read", "peers:call"]"#,
            expect![[r#"["apps:read","identity:read","peers:call"]"#]],
        );
        check("permissions", "[]", expect!["[]"]);
        check(
            "permissions",
            r#"["apps:write", "peers:call", "peers:call"]"#,
            expect![[r#"
            error /permissions/0: unknown permission `apps:write`, expected one of `apps:read`, `identity:read`, `peers:call`
            error /permissions/2: permission `peers:call` is listed twice"#]],
        );
    }
}
