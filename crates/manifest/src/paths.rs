//! `paths`: who may reach which URL prefixes of the app, and the headers the gateway adds
//! to requests it lets through.
//!
//! Matching requests to prefixes is the `authz` crate's job; this module only guarantees
//! that prefixes and headers are well-formed. A request that matches no prefix is
//! private: with no `""` entry the whole app is private, as in the original (default-deny).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::{json, Map, Value};

use crate::env::{read_entries, read_template};
use crate::error::{quoted, Diagnostics, InvalidValue, Pointer};
use crate::json;
use crate::template::{Scope, Template};

/// A URL path prefix: `""` (the whole app) or a path starting with `/`.
///
/// Refused: `..` segments, whitespace and control characters, `?` and `#`, which
/// could never match a normalised request path and so would silently not apply.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PathPrefix(String);

impl PathPrefix {
    pub fn new(prefix: &str) -> Result<PathPrefix, InvalidValue> {
        let fail = |why: &str| {
            let prefix = quoted(prefix);
            Err(InvalidValue::new(format!("path {prefix} {why}")))
        };
        if !prefix.is_empty() && !prefix.starts_with('/') {
            return fail("must be empty or start with `/`");
        }
        if prefix.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return fail("must not contain whitespace or control characters");
        }
        if prefix.contains(['?', '#']) {
            return fail("must not contain `?` or `#`");
        }
        if prefix.split('/').any(|segment| segment == "..") {
            return fail("must not contain `..` segments");
        }
        Ok(PathPrefix(prefix.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is `""`, the default for the whole app.
    pub fn is_default(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for PathPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An HTTP header name: a `token` of RFC 9110, kept as written.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HeaderName(String);

impl HeaderName {
    pub fn new(name: &str) -> Result<HeaderName, InvalidValue> {
        let tchar = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
        if !name.is_empty() && name.chars().all(tchar) {
            Ok(HeaderName(name.to_owned()))
        } else {
            let name = quoted(name);
            Err(InvalidValue::new(format!(
                "header name {name} is not a valid HTTP token"
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who may reach a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Access {
    /// Anyone, without authentication.
    Public,
    /// The owner's paired terminals only.
    Private,
    /// The owner's terminals and the owner's peers (signed calls from other Portals).
    Peer,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Public => "public",
            Access::Private => "private",
            Access::Peer => "peer",
        }
    }
}

/// The rule for one path prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathRule {
    access: Access,
    headers: BTreeMap<HeaderName, Template>,
}

impl PathRule {
    pub fn access(&self) -> Access {
        self.access
    }

    /// Header templates, which may use `auth.*`; header names are unique ignoring case.
    pub fn headers(&self) -> &BTreeMap<HeaderName, Template> {
        &self.headers
    }

    pub(crate) fn to_stored(&self) -> Value {
        let headers: Map<String, Value> = self
            .headers
            .iter()
            .map(|(name, template)| (name.to_string(), json!(template.to_string())))
            .collect();
        json!({"access": self.access.as_str(), "headers": headers})
    }
}

const KEYS: [&str; 2] = ["access", "headers"];

/// Reads `paths`.
pub(crate) fn read(
    value: Option<&Value>,
    diag: &mut Diagnostics,
) -> BTreeMap<PathPrefix, PathRule> {
    let pointer = Pointer::root().key("paths");
    let mut out = BTreeMap::new();
    let Some(object) = value.and_then(|v| json::object(v, &pointer, diag)) else {
        return out;
    };
    read_entries(object, &pointer, diag, |prefix, value, pointer, diag| {
        let prefix = PathPrefix::new(prefix).map_err(|e| diag.error(pointer, e.to_string()));
        let rule = read_rule(value, pointer, diag);
        if let (Ok(prefix), Some(rule)) = (prefix, rule) {
            out.insert(prefix, rule);
        }
    });
    out
}

fn read_rule(value: &Value, pointer: &Pointer, diag: &mut Diagnostics) -> Option<PathRule> {
    let object = json::object(value, pointer, diag)?;
    json::warn_unknown_keys(object, pointer, &KEYS, diag);
    let access = match json::get(object, "access") {
        Some(v) => {
            let p = pointer.key("access");
            json::string(v, &p, diag).and_then(|s| match s {
                "public" => Some(Access::Public),
                "private" => Some(Access::Private),
                "peer" => Some(Access::Peer),
                other => {
                    let other = quoted(other);
                    diag.error(
                        &p,
                        format!("unknown access {other}, expected `public`, `private` or `peer`"),
                    );
                    None
                }
            })
        }
        None => {
            diag.error(pointer, "missing `access`");
            None
        }
    };
    let headers = read_headers(json::get(object, "headers"), &pointer.key("headers"), diag);
    Some(PathRule {
        access: access?,
        headers: headers?,
    })
}

fn read_headers(
    value: Option<&Value>,
    pointer: &Pointer,
    diag: &mut Diagnostics,
) -> Option<BTreeMap<HeaderName, Template>> {
    let mut out = BTreeMap::new();
    let Some(value) = value else {
        return Some(out);
    };
    let object = json::object(value, pointer, diag)?;
    // Only `auth.*` may appear, so whether the app has postgres does not matter.
    let scope = Scope {
        postgres: false,
        header: true,
    };
    let errors_before = diag.error_count();
    let mut seen = BTreeSet::new();
    read_entries(object, pointer, diag, |name, value, pointer, diag| {
        let lower = name.to_ascii_lowercase();
        if !seen.insert(lower) {
            let name = quoted(name);
            diag.error(
                pointer,
                format!("header {name} is listed twice, ignoring case"),
            );
            return;
        }
        let name = HeaderName::new(name).map_err(|e| diag.error(pointer, e.to_string()));
        let template = read_template(value, pointer, scope, diag);
        if let (Ok(name), Some(template)) = (name, template) {
            out.insert(name, template);
        }
    });
    (diag.error_count() == errors_before).then_some(out)
}

#[cfg(test)]
mod tests {
    use crate::testing::check_field;
    use expect_test::{expect, Expect};

    fn check(paths: &str, expect: Expect) {
        check_field(
            "paths",
            &format!(r#""paths": {paths}, "services": ["postgres"]"#),
            expect,
        );
    }

    #[test]
    fn valid() {
        check(
            r#"{"": {"access": "private", "headers": {"X-Ptl-Client-Id": "{{ auth.client_id }}", "X-Ptl-Client-Type": "{{auth.client_type}}", "X-Who": "{{ auth.client_name[:8] }}@x", "X-Num": 1}}, "/public/": {"access": "public"}, "/api/v1": {"access": "peer", "headers": null}, "/gone": null}"#,
            expect![[
                r#"{"":{"access":"private","headers":{"X-Num":"1","X-Ptl-Client-Id":"{{ auth.client_id }}","X-Ptl-Client-Type":"{{ auth.client_type }}","X-Who":"{{ auth.client_name[:8] }}@x"}},"/api/v1":{"access":"peer","headers":{}},"/public/":{"access":"public","headers":{}}}"#
            ]],
        );
        check(
            r#"{"/a/..b/c./%2e": {"access": "public"}}"#,
            expect![[r#"{"/a/..b/c./%2e":{"access":"public","headers":{}}}"#]],
        );
        check("{}", expect!["{}"]);
        check(
            r#"{"": {"access": "public", "headers": {"X-A": "a\tb"}}}"#,
            expect![[r#"{"":{"access":"public","headers":{"X-A":"a\tb"}}}"#]],
        );
        check(
            r#"{"": {"access": "public", "headers": {"X-A": "a\r\nX-Admin: 1", "X-B": "\u0000"}}}"#,
            expect![[r#"
            error /paths//headers/X-A: header value contains a control character other than tab
            error /paths//headers/X-B: header value contains a control character other than tab"#]],
        );
        check(
            r#"{"/e": {"access": "public", "cache": true}}"#,
            expect![[r#"
            {"/e":{"access":"public","headers":{}}}
            warning /paths/~1e/cache: unknown key `cache` ignored"#]],
        );
    }

    #[test]
    fn bad_prefixes() {
        check(
            r#"{"api": {"access": "public"}, "/a/../b": {"access": "public"}, "/..": {"access": "public"}, "/a b": {"access": "public"}, "/a\tb": {"access": "public"}, "/a?x=1": {"access": "public"}, "/a#x": {"access": "public"}}"#,
            expect![[r#"
            error /paths/~1..: path `/..` must not contain `..` segments
            error /paths/~1a\tb: path `/a\tb` must not contain whitespace or control characters
            error /paths/~1a b: path `/a b` must not contain whitespace or control characters
            error /paths/~1a#x: path `/a#x` must not contain `?` or `#`
            error /paths/~1a~1..~1b: path `/a/../b` must not contain `..` segments
            error /paths/~1a?x=1: path `/a?x=1` must not contain `?` or `#`
            error /paths/api: path `api` must be empty or start with `/`"#]],
        );
    }

    /// The gateway renders path headers per request and knows only the caller: any other
    /// variable is refused here, naming the header and the variable, rather than failing
    /// every request later. The app has `postgres`, so `postgres.*` is refused for being
    /// in a header, not for a missing service.
    #[test]
    fn headers_know_only_the_caller() {
        check(
            r#"{"": {"access": "private", "headers": {"X-Db": "{{ postgres.user }}", "X-Id": "{{ portal.id[:6] }}", "X-Dir": "{{ fs.app_data }}", "X-Ok": "{{ auth.client_type }}", "X-Mixed": "{{ auth.client_id }}/{{ portal.domain }}"}}, "/p": {"access": "peer", "headers": {"X-Pw": "{{ postgres.password }}"}}}"#,
            expect![[r#"
            error /paths//headers/X-Db: template variable `postgres.user` is not available in path headers, only `auth.client_id`, `auth.client_name` and `auth.client_type` are
            error /paths//headers/X-Dir: template variable `fs.app_data` is not available in path headers, only `auth.client_id`, `auth.client_name` and `auth.client_type` are
            error /paths//headers/X-Id: template variable `portal.id` is not available in path headers, only `auth.client_id`, `auth.client_name` and `auth.client_type` are
            error /paths//headers/X-Mixed: template variable `portal.domain` is not available in path headers, only `auth.client_id`, `auth.client_name` and `auth.client_type` are
            error /paths/~1p/headers/X-Pw: template variable `postgres.password` is not available in path headers, only `auth.client_id`, `auth.client_name` and `auth.client_type` are"#]],
        );
    }

    #[test]
    fn bad_rules() {
        check(
            r#"{"": {"access": "open"}, "/a": {}, "/b": "public", "/c": {"access": "public", "headers": {"X A": "v", "x-b": "1", "X-B": "2", "X-C": "{{ auth.nope }}", "X-D": []}}, "/d": {"access": "peer", "headers": []}}"#,
            expect![[r#"
            error /paths//access: unknown access `open`, expected `public`, `private` or `peer`
            error /paths/~1a: missing `access`
            error /paths/~1b: expected an object, found a string
            error /paths/~1c/headers/X A: header name `X A` is not a valid HTTP token
            error /paths/~1c/headers/X-C: unknown template variable `auth.nope`
            error /paths/~1c/headers/X-D: expected a string, number or boolean, found a list
            error /paths/~1c/headers/x-b: header `x-b` is listed twice, ignoring case
            error /paths/~1d/headers: expected an object, found a list"#]],
        );
    }
}
