//! JSON request bodies that fail as problem+json naming the field at fault,
//! instead of axum's plain-text rejection.

use serde::de::DeserializeOwned;

use crate::problem::Problem;

/// Parses `bytes` as `T`; unknown, missing or mistyped fields are named.
pub(super) fn json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    serde_json::from_slice(bytes).map_err(|e| {
        let msg = e.to_string();
        // serde names the field in backticks: "missing field `name`".
        let field = msg
            .split('`')
            .nth(1)
            .filter(|_| msg.contains(" field `"))
            .map(|f| format!("/{f}"))
            .unwrap_or_else(|| "/".to_owned());
        Problem::bad_request(format!("the body is not valid: {msg}")).with_field(field)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct B {
        name: String,
    }

    #[test]
    fn the_offending_field_is_named() {
        assert_eq!(
            json::<B>(b"{}").unwrap_err().field.as_deref(),
            Some("/name")
        );
        assert_eq!(
            json::<B>(br#"{"name":"a","x":1}"#)
                .unwrap_err()
                .field
                .as_deref(),
            Some("/x")
        );
        assert_eq!(json::<B>(b"[").unwrap_err().field.as_deref(), Some("/"));
    }
}
