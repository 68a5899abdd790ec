//! App names: the one identifier that becomes a subdomain, a container name, a data
//! directory and a Postgres role, so it must be safe in all of them at once.

use std::fmt;
use std::str::FromStr;

use crate::error::InvalidValue;

/// Names that would collide with berth's own components or confuse its owner.
pub const RESERVED_NAMES: [&str; 6] = [
    "berth",
    "portal",
    "portal-core",
    "postgres",
    "registry",
    "localhost",
];

/// The longest name; it keeps `app_<name>` within Postgres' 63-byte identifiers and a
/// subdomain within the 63 characters of a DNS label.
pub const MAX_NAME_LEN: usize = 40;

/// An app name: a lowercase DNS label of at most 40 characters, without `--`.
///
/// Canonical: `AppName::new(s)?.as_str() == s`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AppName(String);

impl AppName {
    /// Checks `name` against `^[a-z]([a-z0-9-]{0,38}[a-z0-9])?$`, refusing `--` (which
    /// DNS reserves for encodings such as `xn--`) and [`RESERVED_NAMES`].
    pub fn new(name: &str) -> Result<AppName, InvalidValue> {
        let fail = |why: &str| Err(InvalidValue::new(format!("app name `{name}` {why}")));
        if name.is_empty() {
            return Err(InvalidValue::new("app name is empty"));
        }
        if name.chars().count() > MAX_NAME_LEN {
            return fail("is longer than 40 characters");
        }
        if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
            return fail("must start with a lowercase letter");
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return fail("may contain only lowercase letters, digits and `-`");
        }
        if name.ends_with('-') {
            return fail("must not end with `-`");
        }
        if name.contains("--") {
            return fail("must not contain `--`");
        }
        if RESERVED_NAMES.contains(&name) {
            return fail("is reserved");
        }
        Ok(AppName(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The Postgres role and database name of this app: `app_` followed by the name with
    /// each `-` replaced by `_` (`paperless-ngx` becomes `app_paperless_ngx`).
    ///
    /// The mapping is injective because names never contain `_`, so no two apps share a
    /// role. The result is a lowercase unquoted identifier of at most 44 bytes, which
    /// Postgres accepts without quoting; the prefix keeps it clear of Postgres' own
    /// names (`postgres`, `pg_*`) and of keywords such as `user`.
    pub fn postgres_identifier(&self) -> String {
        format!("app_{}", self.0.replace('-', "_"))
    }
}

impl fmt::Display for AppName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for AppName {
    type Err = InvalidValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AppName::new(s)
    }
}

impl serde::Serialize for AppName {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for AppName {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        AppName::new(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::{expect, Expect};

    fn check(name: &str, expect: Expect) {
        let actual = match AppName::new(name) {
            Ok(n) => {
                assert_eq!(n.as_str(), name);
                format!("ok {}", n.postgres_identifier())
            }
            Err(e) => e.to_string(),
        };
        expect.assert_eq(&actual);
    }

    #[test]
    fn valid_names() {
        check("a", expect!["ok app_a"]);
        check("paperless-ngx", expect!["ok app_paperless_ngx"]);
        check("node-red", expect!["ok app_node_red"]);
        check("home-assistant", expect!["ok app_home_assistant"]);
        check("a1-b2-c3", expect!["ok app_a1_b2_c3"]);
        check(
            &"a".repeat(40),
            expect!["ok app_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"],
        );
        check("user", expect!["ok app_user"]);
        check("portal2", expect!["ok app_portal2"]);
    }

    #[test]
    fn invalid_names() {
        check("", expect!["app name is empty"]);
        check(
            &"a".repeat(41),
            expect![
                "app name `aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa` is longer than 40 characters"
            ],
        );
        check(
            "Paperless",
            expect!["app name `Paperless` must start with a lowercase letter"],
        );
        check(
            "1app",
            expect!["app name `1app` must start with a lowercase letter"],
        );
        check(
            "-app",
            expect!["app name `-app` must start with a lowercase letter"],
        );
        check(
            "my app",
            expect!["app name `my app` may contain only lowercase letters, digits and `-`"],
        );
        check(
            "my_app",
            expect!["app name `my_app` may contain only lowercase letters, digits and `-`"],
        );
        check(
            "myApp",
            expect!["app name `myApp` may contain only lowercase letters, digits and `-`"],
        );
        check(
            "app.x",
            expect!["app name `app.x` may contain only lowercase letters, digits and `-`"],
        );
        check("app-", expect!["app name `app-` must not end with `-`"]);
        check(
            "xn--app",
            expect!["app name `xn--app` must not contain `--`"],
        );
        check(
            "émile",
            expect!["app name `émile` must start with a lowercase letter"],
        );
    }

    #[test]
    fn reserved_names() {
        for name in RESERVED_NAMES {
            assert_eq!(
                AppName::new(name).unwrap_err().to_string(),
                format!("app name `{name}` is reserved")
            );
        }
    }

    #[test]
    fn postgres_identifier_is_injective_on_hyphen_variants() {
        let a = AppName::new("a-b").unwrap().postgres_identifier();
        let b = AppName::new("ab").unwrap().postgres_identifier();
        assert_ne!(a, b);
    }

    #[test]
    fn serde_validates() {
        let n: AppName = serde_json::from_str("\"node-red\"").unwrap();
        assert_eq!(serde_json::to_string(&n).unwrap(), "\"node-red\"");
        assert!(serde_json::from_str::<AppName>("\"Node\"").is_err());
    }
}
