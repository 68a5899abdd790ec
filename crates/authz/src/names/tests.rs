//! Tests of the name grammar: both sides of every rule, and the canonical round trip.

use super::*;

#[track_caller]
fn check_ok(input: &str) {
    let name = RepositoryName::parse(input).unwrap();
    assert_eq!(name.to_string(), input);
    assert_eq!(name.as_str(), input);
    assert_eq!(input.parse::<RepositoryName>().unwrap(), name);
}

#[track_caller]
fn check_err(input: &str, expected: NameError) {
    assert_eq!(
        RepositoryName::parse(input),
        Err(expected),
        "input {input:?}"
    );
}

fn bad_component(component: &str) -> NameError {
    NameError::InvalidComponent {
        component: component.to_owned(),
    }
}

fn bad_char(found: char) -> NameError {
    NameError::InvalidCharacter {
        found,
        slash_allowed: true,
    }
}

#[test]
fn accepts_the_distribution_grammar() {
    for input in [
        "a",
        "0",
        "nginx",
        "alice/app",
        "ns/a/b",
        "a/b/c/d/e",
        "a.b",
        "a_b",
        "a__b",
        "a-b",
        "a--b",
        "a---b",
        "a.b_c__d-e--f",
        "1.0/x",
        "team-a/my_app.v2",
    ] {
        check_ok(input);
    }
}

#[test]
fn accepts_exactly_the_length_limit() {
    let at_limit = "a".repeat(MAX_REPOSITORY_NAME_LEN);
    check_ok(&at_limit);
    let over = "a".repeat(MAX_REPOSITORY_NAME_LEN + 1);
    check_err(
        &over,
        NameError::TooLong {
            length: 256,
            max: 255,
        },
    );
    let components = format!("{}/{}", "a".repeat(127), "b".repeat(127));
    check_ok(&components);
}

#[test]
fn refuses_non_canonical_spellings() {
    check_err("", NameError::Empty);
    check_err("Alice/app", bad_char('A'));
    check_err("alice/App", bad_char('A'));
    check_err(" alice/app", bad_char(' '));
    check_err("alice/app ", bad_char(' '));
    check_err("alice/app\n", bad_char('\n'));
    check_err("alice\0/app", bad_char('\0'));
    check_err("alice%2fapp", bad_char('%'));
    check_err("alice/app:latest", bad_char(':'));
    check_err("localhost:5000/alice/app", bad_char(':'));
    check_err("alice/app@sha256", bad_char('@'));
    check_err("alice\\app", bad_char('\\'));
    check_err("alicé/app", bad_char('é'));
    check_err("/alice/app", NameError::EmptyComponent);
    check_err("alice/app/", NameError::EmptyComponent);
    check_err("alice//app", NameError::EmptyComponent);
    check_err("/", NameError::EmptyComponent);
}

#[test]
fn refuses_bad_separators() {
    check_err("a/../b", bad_component(".."));
    check_err("..", bad_component(".."));
    check_err(".", bad_component("."));
    check_err("a/./b", bad_component("."));
    check_err(".a", bad_component(".a"));
    check_err("a.", bad_component("a."));
    check_err("a..b", bad_component("a..b"));
    check_err("a___b", bad_component("a___b"));
    check_err("a._b", bad_component("a._b"));
    check_err("a-.b", bad_component("a-.b"));
    check_err("-a", bad_component("-a"));
    check_err("a-", bad_component("a-"));
    check_err("_a", bad_component("_a"));
    check_err("alice/a_", bad_component("a_"));
}

#[test]
fn errors_echo_at_most_64_bytes_of_a_component() {
    let long = format!("{}.", "a".repeat(100));
    let Err(NameError::InvalidComponent { component }) = RepositoryName::parse(&long) else {
        panic!("expected an invalid component");
    };
    assert_eq!(component.len(), 64);
}

#[test]
fn error_messages_follow_the_house_style() {
    assert_eq!(
        bad_char('A').to_string(),
        "invalid character `A` in name: use lowercase letters, digits, `.`, `_`, `-` and `/`"
    );
    assert_eq!(
        bad_char('\n').to_string(),
        "invalid character `\\n` in name: use lowercase letters, digits, `.`, `_`, `-` and `/`"
    );
    assert_eq!(
        NamespaceName::parse("a/b").unwrap_err().to_string(),
        "invalid character `/` in name: use lowercase letters, digits, `.`, `_`, `-`"
    );
    assert_eq!(
        bad_component("..").to_string(),
        "path component `..` must start and end with a letter or digit, with a single `.`, `_`, `__` or dashes between them"
    );
}

#[test]
fn namespace_part_is_the_first_component() {
    let ns = |s: &str| RepositoryName::parse(s).unwrap().namespace_part();
    assert_eq!(ns("nginx"), NamespaceRef::Global);
    assert_eq!(ns("nginx").name(), None);
    assert_eq!(ns("alice/app").name(), Some("alice"));
    assert_eq!(ns("ns/a/b").name(), Some("ns"));
    assert_eq!(
        ns("ns/a/b"),
        NamespaceRef::Named(NamespaceName::parse("ns").unwrap())
    );
}

#[test]
fn namespace_names_are_one_component() {
    for input in ["alice", "team-a", "a.b", "a__b", "0"] {
        let name = NamespaceName::parse(input).unwrap();
        assert_eq!(name.to_string(), input);
        assert_eq!(name.as_str(), input);
    }
    assert_eq!(NamespaceName::parse(""), Err(NameError::Empty));
    assert_eq!(
        NamespaceName::parse("Team"),
        Err(NameError::InvalidCharacter {
            found: 'T',
            slash_allowed: false
        })
    );
    assert_eq!(NamespaceName::parse("a..b"), Err(bad_component("a..b")));
    let at_limit = "n".repeat(MAX_NAMESPACE_NAME_LEN);
    assert!(NamespaceName::parse(&at_limit).is_ok());
    // The longest namespace still holds a repository.
    assert!(RepositoryName::parse(&format!("{at_limit}/x")).is_ok());
    assert_eq!(
        NamespaceName::parse(&format!("{at_limit}n")),
        Err(NameError::TooLong {
            length: 254,
            max: 253
        })
    );
}
