//! Tests of the entry points: malformed input, and a property test that `parse` never
//! panics.

use expect_test::{expect, Expect};
use proptest::prelude::*;

use crate::parse;
use crate::testing::outcome;

fn check(json: &str, expect: Expect) {
    expect.assert_eq(&outcome(json, None));
}

#[test]
fn malformed_input() {
    check(
        "",
        expect!["error invalid json: EOF while parsing a value at line 1 column 0"],
    );
    check(
        "{",
        expect!["error invalid json: EOF while parsing an object at line 1 column 1"],
    );
    check("[]", expect!["error expected an object, found a list"]);
    check("null", expect!["error expected an object, found null"]);
    check(
        r#"{"name": "a", "image": "a"} x"#,
        expect!["error invalid json: trailing characters at line 1 column 29"],
    );
    check(
        &format!("{}1{}", "[".repeat(200), "]".repeat(200)),
        expect!["error invalid json: recursion limit exceeded at line 1 column 128"],
    );
}

/// JSON values, biased towards the keys and strings app.json files use.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::{json, Value};
    let key = prop_oneof![
        Just("v".to_owned()),
        Just("name".to_owned()),
        Just("image".to_owned()),
        Just("port".to_owned()),
        Just("entrypoints".to_owned()),
        Just("data_dirs".to_owned()),
        Just("services".to_owned()),
        Just("env_vars".to_owned()),
        Just("paths".to_owned()),
        Just("lifecycle".to_owned()),
        Just("permissions".to_owned()),
        Just("store_info".to_owned()),
        Just("authentication".to_owned()),
        Just("description".to_owned()),
        Just("path".to_owned()),
        Just("headers".to_owned()),
        Just("access".to_owned()),
        Just("".to_owned()),
        "\\PC{0,8}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|n| json!(n)),
        prop_oneof![
            Just("0.0"),
            Just("2.0"),
            Just("3.2"),
            Just("4.0"),
            Just("postgres"),
            Just("/data"),
            Just("{{ postgres.user }}"),
            Just("{{ apps[\"a\"].postgres.user }}"),
            Just("{{ client_id }}"),
            Just("{{ portal.id[:6] }}"),
            Just("public"),
            Just("a"),
            Just("http"),
            Just("media"),
        ]
        .prop_map(|s| json!(s)),
        "\\PC{0,16}".prop_map(Value::String),
        "[{}\\[\\]:\"'a-z._ /|-]{0,16}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(key.clone(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A template of literal text (with quotes, backslashes, `}` and non-ASCII) and
/// expressions valid for an app with the `postgres` service: env vars know everything
/// but `auth.*`, path headers only `auth.*`.
fn template(header: bool) -> impl Strategy<Value = String> {
    let text = "[a-zA-Z0-9 }/:\"\\\\.é-]{1,8}";
    let piece = if header {
        prop_oneof![
            text,
            Just("{{ auth.client_id[-2:][1:] }}".to_owned()),
            Just("{{auth.client_name}}".to_owned()),
            Just("{{ auth['client_type'] }}".to_owned()),
        ]
        .boxed()
    } else {
        prop_oneof![
            text,
            Just("{{ postgres.user }}".to_owned()),
            Just("{{portal.id[:6]}}".to_owned()),
            Just("{{ portal['domain'] }}".to_owned()),
            Just("{{ portal.name }}".to_owned()),
            Just("{{ fs.app_data }}".to_owned()),
        ]
        .boxed()
    };
    prop::collection::vec(piece, 0..5).prop_map(|pieces| pieces.concat())
}

/// A valid 4.0 manifest with generated env vars, paths, headers and data dirs.
fn valid_manifest() -> impl Strategy<Value = String> {
    use serde_json::json;
    let env = prop::collection::btree_map("[A-Za-z_][A-Za-z0-9_]{0,6}", template(false), 0..4);
    let headers = prop::collection::btree_map("X-[a-z]{1,6}", template(true), 0..3);
    let prefix = prop_oneof![Just(String::new()), "(/[a-z0-9._~%-]{1,5}){1,3}/?"];
    let access = prop_oneof![Just("public"), Just("private"), Just("peer")];
    let rule = (access, headers)
        .prop_map(|(access, headers)| json!({"access": access, "headers": headers}));
    let paths = prop::collection::btree_map(prefix, rule, 0..3);
    let dirs = prop::collection::btree_set("(/[a-z0-9 ._-]{1,6}){1,3}", 0..4);
    let lifecycle = prop_oneof![
        Just(json!({"always_on": true})),
        (5u32..=86_400).prop_map(|s| json!({"idle_time_for_shutdown": s})),
    ];
    (env, paths, dirs, lifecycle).prop_map(|(env, paths, dirs, lifecycle)| {
        let env: serde_json::Map<_, _> = env.into_iter().map(|(k, v)| (k, json!(v))).collect();
        json!({
            "v": "4.0", "name": "paperless-ngx", "image": "ghcr.io/paperless-ngx/paperless-ngx:1.7",
            "services": ["postgres"], "env_vars": env, "paths": paths,
            "data_dirs": dirs, "lifecycle": lifecycle,
        })
        .to_string()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn generated_manifests_round_trip(json in valid_manifest()) {
        let parsed = parse(&json);
        let parsed = match parsed {
            // Random names can still hit `.` or `..` segments; those must be refused.
            Err(e) => {
                prop_assert!(e.to_string().contains("`..` segments"), "{e}");
                return Ok(());
            }
            Ok(parsed) => parsed,
        };
        let stored = parsed.manifest.to_stored_json();
        let again = parse(&stored).map(|p| p.manifest);
        prop_assert_eq!(again, Ok(parsed.manifest));
    }

    #[test]
    fn parse_never_panics_on_json(value in json_value()) {
        let text = value.to_string();
        if let Ok(parsed) = parse(&text) {
            let stored = parsed.manifest.to_stored_json();
            let again = parse(&stored).map(|p| p.manifest);
            prop_assert_eq!(again, Ok(parsed.manifest));
        }
    }

    #[test]
    fn parse_never_panics_on_text(text in "\\PC{0,64}") {
        let _ = parse(&text);
    }

    #[test]
    fn templates_never_panic(source in "[{}\\[\\]:\"'a-z._ 0-9|#%-]{0,40}") {
        let members = format!(r#""env_vars": {{"X": {}}}"#, serde_json::Value::String(source));
        let _ = parse(&crate::testing::document(&members));
    }
}
