//! `env_vars`: environment variables of the app's container, whose values are templates.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

use crate::error::{quoted, Diagnostics, InvalidValue, Pointer};
use crate::json;
use crate::template::{Scope, Template};

/// A variable name, `[A-Za-z_][A-Za-z0-9_]*`: what a shell accepts, so that entrypoint
/// scripts can use every variable.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EnvVarName(String);

impl EnvVarName {
    pub fn new(name: &str) -> Result<EnvVarName, InvalidValue> {
        let head = |c: char| c.is_ascii_alphabetic() || c == '_';
        if name.starts_with(head) && name.chars().all(|c| head(c) || c.is_ascii_digit()) {
            Ok(EnvVarName(name.to_owned()))
        } else {
            let name = quoted(name);
            Err(InvalidValue::new(format!(
                "env var name {name} is not letters, digits and `_`, starting with a letter or `_`"
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EnvVarName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Reads one template value: strings, and numbers or booleans as Python's `str()` wrote
/// them; `None` after reporting an error.
pub(crate) fn read_template(
    value: &Value,
    pointer: &Pointer,
    scope: Scope,
    diag: &mut Diagnostics,
) -> Option<Template> {
    let Some(source) = json::scalar_to_string(value) else {
        let kind = json::kind(value);
        diag.error(
            pointer,
            format!("expected a string, number or boolean, found {kind}"),
        );
        return None;
    };
    // NUL cannot pass `execve`; CR and LF in a header would let the app's manifest
    // inject headers. Tabs are fine in both.
    let refused = |c: char| {
        if scope.header {
            c.is_control() && c != '\t'
        } else {
            c == '\0'
        }
    };
    if source.chars().any(refused) {
        let what = if scope.header {
            "header value contains a control character other than tab"
        } else {
            "env var value contains a NUL character"
        };
        diag.error(pointer, what);
        return None;
    }
    match Template::compile(&source, scope) {
        Ok(template) => Some(template),
        Err(messages) => {
            for message in messages {
                diag.error(pointer, message);
            }
            None
        }
    }
}

/// Reads `env_vars`; `null` values are absent variables.
pub(crate) fn read(
    value: Option<&Value>,
    postgres: bool,
    diag: &mut Diagnostics,
) -> BTreeMap<EnvVarName, Template> {
    let pointer = Pointer::root().key("env_vars");
    let scope = Scope {
        postgres,
        header: false,
    };
    let mut out = BTreeMap::new();
    let Some(object) = value.and_then(|v| json::object(v, &pointer, diag)) else {
        return out;
    };
    read_entries(object, &pointer, diag, |name, value, pointer, diag| {
        let name = EnvVarName::new(name).map_err(|e| diag.error(pointer, e.to_string()));
        let template = read_template(value, pointer, scope, diag);
        if let (Ok(name), Some(template)) = (name, template) {
            out.insert(name, template);
        }
    });
    out
}

/// Calls `each` with every non-null member of `object` and its pointer.
pub(crate) fn read_entries(
    object: &Map<String, Value>,
    pointer: &Pointer,
    diag: &mut Diagnostics,
    mut each: impl FnMut(&str, &Value, &Pointer, &mut Diagnostics),
) {
    for (key, value) in object {
        if !value.is_null() {
            each(key, value, &pointer.key(key), diag);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::check_field;
    use expect_test::{expect, Expect};

    fn check(env_vars: &str, services: &str, expect: Expect) {
        let members = format!(r#""env_vars": {env_vars}, "services": {services}"#);
        check_field("env_vars", &members, expect);
    }

    #[test]
    fn values_become_templates() {
        check(
            r#"{"PORT": 80, "DEBUG": true, "QUIET": false, "RATIO": 0.5, "EMPTY": "", "GONE": null, "_X1": "a"}"#,
            "[]",
            expect![[
                r#"{"DEBUG":"True","EMPTY":"","PORT":"80","QUIET":"False","RATIO":"0.5","_X1":"a"}"#
            ]],
        );
        check(
            r#"{"DATABASE_URL": "{{postgres.connection_string}}", "PAPERLESS_DBUSER": "{{ postgres[\"user\"] }}", "SITE": "https://{{ portal.domain }}/{{ portal.id[:6] }}", "DATA": "{{ fs.app_data }}"}"#,
            r#"["postgres"]"#,
            expect![[
                r#"{"DATA":"{{ fs.app_data }}","DATABASE_URL":"{{ postgres.connection_string }}","PAPERLESS_DBUSER":"{{ postgres.user }}","SITE":"https://{{ portal.domain }}/{{ portal.id[:6] }}"}"#
            ]],
        );
    }

    #[test]
    fn bad_names_and_values() {
        check(
            r#"{"1X": "a", "A-B": "b", "": "c", "A B": "d", "OK": [1], "OBJ": {}}"#,
            "[]",
            expect![[r#"
            error /env_vars/: env var name `` is not letters, digits and `_`, starting with a letter or `_`
            error /env_vars/1X: env var name `1X` is not letters, digits and `_`, starting with a letter or `_`
            error /env_vars/A B: env var name `A B` is not letters, digits and `_`, starting with a letter or `_`
            error /env_vars/A-B: env var name `A-B` is not letters, digits and `_`, starting with a letter or `_`
            error /env_vars/OBJ: expected a string, number or boolean, found an object
            error /env_vars/OK: expected a string, number or boolean, found a list"#]],
        );
        check(
            r#"["A=1"]"#,
            "[]",
            expect!["error /env_vars: expected an object, found a list"],
        );
    }

    #[test]
    fn nul_is_refused_but_newlines_are_fine() {
        check(
            r#"{"A": "x\u0000y", "B": "line1\nline2\t"}"#,
            "[]",
            expect!["error /env_vars/A: env var value contains a NUL character"],
        );
        check(
            r#"{"B": "line1\nline2\t"}"#,
            "[]",
            expect![[r#"{"B":"line1\nline2\t"}"#]],
        );
    }

    #[test]
    fn template_errors_name_the_field() {
        check(
            r#"{"DB": "{{ postgres.user }}", "ID": "{{ auth.client_id }}", "X": "{{ portal.nope }}{{ nope }}", "Y": "{{ portal.id"}"#,
            "[]",
            expect![[r#"
            error /env_vars/DB: template variable `postgres.user` needs the `postgres` service
            error /env_vars/ID: template variable `auth.client_id` is only available in path headers
            error /env_vars/X: unknown template variable `portal.nope`
            error /env_vars/X: unknown template variable `nope`
            error /env_vars/Y: template syntax error at character 13: expected `.`, `[` or `}}`, found the end of the template"#]],
        );
    }
}
