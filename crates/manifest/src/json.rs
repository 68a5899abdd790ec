//! Lenient reading of JSON values, shared by the migrations and the checks.
//!
//! The original core read app.json with Python dictionaries: `null` meant absent, unknown
//! keys were ignored, and scalars were turned into strings with `str()`. These helpers
//! keep that leniency in one place and report, with a pointer, what they let pass.

use serde_json::{Map, Value};

use crate::error::{Diagnostics, Pointer};

/// Member `key` of `object`, where `null` counts as absent.
pub(crate) fn get<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    match object.get(key) {
        None | Some(Value::Null) => None,
        Some(value) => Some(value),
    }
}

/// Removes member `key` of `object`, where `null` counts as absent.
pub(crate) fn take(object: &mut Map<String, Value>, key: &str) -> Option<Value> {
    match object.remove(key) {
        None | Some(Value::Null) => None,
        Some(value) => Some(value),
    }
}

/// What a value is, for messages such as "expected a string, found a number".
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Warns about each member of `object` not in `known`; such members are ignored.
pub(crate) fn warn_unknown_keys(
    object: &Map<String, Value>,
    pointer: &Pointer,
    known: &[&str],
    diag: &mut Diagnostics,
) {
    for key in object.keys() {
        if !known.contains(&key.as_str()) {
            diag.warn(&pointer.key(key), format!("unknown key `{key}` ignored"));
        }
    }
}

/// The object, or an error naming what was found instead.
pub(crate) fn object<'a>(
    value: &'a Value,
    pointer: &Pointer,
    diag: &mut Diagnostics,
) -> Option<&'a Map<String, Value>> {
    match value {
        Value::Object(map) => Some(map),
        other => {
            diag.error(
                pointer,
                format!("expected an object, found {}", kind(other)),
            );
            None
        }
    }
}

/// The list, or an error naming what was found instead.
pub(crate) fn list<'a>(
    value: &'a Value,
    pointer: &Pointer,
    diag: &mut Diagnostics,
) -> Option<&'a [Value]> {
    match value {
        Value::Array(items) => Some(items),
        other => {
            diag.error(pointer, format!("expected a list, found {}", kind(other)));
            None
        }
    }
}

/// The string, or an error naming what was found instead.
pub(crate) fn string<'a>(
    value: &'a Value,
    pointer: &Pointer,
    diag: &mut Diagnostics,
) -> Option<&'a str> {
    match value {
        Value::String(s) => Some(s),
        other => {
            diag.error(pointer, format!("expected a string, found {}", kind(other)));
            None
        }
    }
}

/// The boolean, or an error naming what was found instead.
pub(crate) fn boolean(value: &Value, pointer: &Pointer, diag: &mut Diagnostics) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        other => {
            diag.error(
                pointer,
                format!("expected a boolean, found {}", kind(other)),
            );
            None
        }
    }
}

/// The whole number within `min..=max`, or an error.
pub(crate) fn integer_in(
    value: &Value,
    pointer: &Pointer,
    (min, max): (u64, u64),
    what: &str,
    diag: &mut Diagnostics,
) -> Option<u64> {
    let Value::Number(n) = value else {
        diag.error(pointer, format!("expected a number, found {}", kind(value)));
        return None;
    };
    match n.as_u64() {
        Some(v) if (min..=max).contains(&v) => Some(v),
        _ => {
            diag.error(
                pointer,
                format!("{what} `{n}` is not a whole number from {min} to {max}"),
            );
            None
        }
    }
}

/// A string as the original's `str()` gave it: numbers as written, booleans as `True` or
/// `False`; `None` for lists and objects, which the caller refuses.
pub(crate) fn scalar_to_string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(true) => Some("True".to_owned()),
        Value::Bool(false) => Some("False".to_owned()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scalars_become_strings_like_python() {
        let cases = [
            (json!(80), Some("80")),
            (json!(-3), Some("-3")),
            (json!(1.5), Some("1.5")),
            (json!(true), Some("True")),
            (json!(false), Some("False")),
            (json!("x"), Some("x")),
            (json!(null), None),
            (json!([1]), None),
            (json!({}), None),
        ];
        for (value, expected) in cases {
            assert_eq!(scalar_to_string(&value).as_deref(), expected, "{value}");
        }
    }

    #[test]
    fn null_is_absent() {
        let map = json!({"a": null, "b": 1});
        let Value::Object(mut map) = map else {
            unreachable!()
        };
        assert_eq!(get(&map, "a"), None);
        assert_eq!(get(&map, "b"), Some(&json!(1)));
        assert_eq!(take(&mut map, "a"), None);
        assert!(!map.contains_key("a"));
    }

    #[test]
    fn integer_range_errors_name_the_value() {
        let mut diag = Diagnostics::default();
        let p = Pointer::root().key("x");
        assert_eq!(
            integer_in(&json!(7), &p, (1, 9), "port", &mut diag),
            Some(7)
        );
        assert_eq!(integer_in(&json!(0), &p, (1, 9), "port", &mut diag), None);
        assert_eq!(integer_in(&json!(-1), &p, (1, 9), "port", &mut diag), None);
        assert_eq!(integer_in(&json!(1.5), &p, (1, 9), "port", &mut diag), None);
        assert_eq!(integer_in(&json!("7"), &p, (1, 9), "port", &mut diag), None);
        let errors = diag.finish::<()>(None).unwrap_err().to_string();
        assert_eq!(
            errors,
            "/x: port `0` is not a whole number from 1 to 9; \
             /x: port `-1` is not a whole number from 1 to 9; \
             /x: port `1.5` is not a whole number from 1 to 9; \
             /x: expected a number, found a string"
        );
    }
}
