//! Migration tests: a real-looking file of every format, migrated and checked.
//!
//! Formats 0.0 to 2.0 are in `early`, 3.0 to 4.0 in `late`.

use expect_test::{expect, Expect};

mod early;
mod late;

use super::*;
use crate::testing::outcome;

/// Shows the source version, then the stored JSON and warnings, or the errors.
pub(super) fn check(json: &str, expect: Expect) {
    let version = match crate::parse(json) {
        Ok(parsed) => format!("from {}", parsed.source_version),
        Err(_) => "refused".to_owned(),
    };
    expect.assert_eq(&format!("{version}\n{}", outcome(json, None)));
}

#[test]
fn every_version_is_on_the_chain() {
    for version in FormatVersion::SUPPORTED {
        let mut diag = Diagnostics::default();
        let mut doc = Document(Map::new());
        doc.set_version(version);
        let out = upgrade(doc, version, &mut diag);
        assert_eq!(diag.error_count(), 0, "{version}");
        assert_eq!(out.0.get("v"), Some(&Value::String("4.0".to_owned())));
    }
}

#[test]
fn unknown_versions_are_refused() {
    check(
        r#"{"v": "5.0", "name": "a", "image": "a"}"#,
        expect![[r#"
        refused
        error /v: unsupported format version `5.0`, supported versions are 0.0, 1.0, 2.0, 3.0, 3.1, 3.2, 4.0"#]],
    );
    check(
        r#"{"v": "9", "name": "a", "image": "a"}"#,
        expect![[r#"
        refused
        error /v: unsupported format version `9`, supported versions are 0.0, 1.0, 2.0, 3.0, 3.1, 3.2, 4.0"#]],
    );
    check(
        r#"{"v": "abc"}"#,
        expect![[r#"
        refused
        error /v: unsupported format version `abc`, supported versions are 0.0, 1.0, 2.0, 3.0, 3.1, 3.2, 4.0"#]],
    );
    check(
        r#"{"v": 4.0, "name": "a", "image": "a"}"#,
        expect![[r#"
        refused
        error /v: expected a version string such as `4.0`, found a number"#]],
    );
    check(
        r#"{"v": null, "name": "a", "image": "a"}"#,
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
        }"#]],
    );
}
