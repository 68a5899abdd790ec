//! Helpers shared by the unit tests: a minimal valid document and a printable outcome.

use crate::parse;
use expect_test::Expect;

/// A 4.0 document with a valid name and image, plus `members` (JSON object members).
pub(crate) fn document(members: &str) -> String {
    let sep = if members.is_empty() { "" } else { ", " };
    format!(r#"{{"v": "4.0", "name": "app", "image": "nginx"{sep}{members}}}"#)
}

/// The stored JSON (or one field of it, compact) and the warnings, or the errors; one
/// item per line. Also checks that the stored JSON parses back to the same manifest.
pub(crate) fn outcome(json: &str, field: Option<&str>) -> String {
    match parse(json) {
        Ok(parsed) => {
            let stored = parsed.manifest.to_stored_json();
            let again =
                parse(&stored).unwrap_or_else(|e| panic!("stored json refused: {e}\n{stored}"));
            assert_eq!(again.manifest, parsed.manifest, "round trip of {stored}");
            assert_eq!(again.warnings, vec![], "warnings on stored json {stored}");
            let value = parsed.manifest.to_stored_value();
            let mut lines = vec![match field {
                Some(field) => match value.get(field) {
                    Some(v) => v.to_string(),
                    None => "(absent)".to_owned(),
                },
                None => serde_json::to_string_pretty(&value).unwrap(),
            }];
            lines.extend(parsed.warnings.iter().map(|w| format!("warning {w}")));
            lines.join("\n")
        }
        Err(errors) => {
            let lines: Vec<String> = errors
                .errors()
                .iter()
                .map(|e| format!("error {e}"))
                .collect();
            lines.join("\n")
        }
    }
}

/// Checks one field of a 4.0 document made of `members`.
pub(crate) fn check_field(field: &str, members: &str, expect: Expect) {
    expect.assert_eq(&outcome(&document(members), Some(field)));
}
