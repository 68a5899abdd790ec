//! Tests of scope parsing: real client requests, hostile input, and the caps.

use super::*;

/// Parses `params` and renders the result as `scopes | dropped` for compact expectations.
#[track_caller]
fn check(params: &[&str], expected_scopes: &[&str], expected_dropped: &[(&str, &str)]) {
    let parsed = parse_scopes(params.iter().copied()).unwrap();
    let scopes: Vec<String> = parsed.scopes().iter().map(ToString::to_string).collect();
    assert_eq!(scopes, expected_scopes, "scopes of {params:?}");
    let dropped: Vec<(&str, String)> = parsed
        .dropped()
        .iter()
        .map(|d| (d.scope(), d.reason().to_string()))
        .collect();
    let expected: Vec<(&str, String)> = expected_dropped
        .iter()
        .map(|(s, r)| (*s, (*r).to_owned()))
        .collect();
    assert_eq!(dropped, expected, "dropped of {params:?}");
}

#[test]
fn docker_push_request() {
    check(
        &["repository:alice/bb:push,pull"],
        &["repository:alice/bb:pull,push"],
        &[],
    );
}

#[test]
fn login_request_has_no_scope() {
    check(&[], &[], &[]);
    check(&[""], &[], &[]);
}

#[test]
fn several_params_and_space_separated_scopes() {
    check(
        &[
            "repository:alice/bb:pull repository:bob/cc:pull",
            "registry:catalog:*",
            "repository:alice/aa:push",
        ],
        &[
            "repository:alice/aa:push",
            "repository:alice/bb:pull",
            "repository:bob/cc:pull",
            "registry:catalog:*",
        ],
        &[],
    );
    check(&["  repository:a:pull   "], &["repository:a:pull"], &[]);
}

#[test]
fn repeated_scopes_merge() {
    check(
        &[
            "repository:alice/x:pull",
            "repository:alice/x:push repository:alice/x:pull,pull",
        ],
        &["repository:alice/x:pull,push"],
        &[],
    );
    let repeated = vec!["repository:alice/x:pull"; MAX_SCOPES];
    check(&repeated, &["repository:alice/x:pull"], &[]);
}

#[test]
fn star_swallows_other_actions() {
    check(
        &["repository:alice/x:pull,push,*"],
        &["repository:alice/x:*"],
        &[],
    );
    check(
        &["repository:alice/x:*", "repository:alice/x:delete"],
        &["repository:alice/x:*"],
        &[],
    );
    check(&["registry:catalog:*,*"], &["registry:catalog:*"], &[]);
}

#[test]
fn plugin_class_reads_as_repository() {
    check(
        &["repository(plugin):alice/p:pull", "repository:alice/p:push"],
        &["repository:alice/p:pull,push"],
        &[],
    );
    check(
        &["repository(other):alice/p:pull"],
        &[],
        &[(
            "repository(other):alice/p:pull",
            "unknown resource type `repository(other)`",
        )],
    );
}

#[test]
fn unknown_actions_are_dropped_alone() {
    check(
        &["repository:alice/x:pull,fly,PUSH,"],
        &["repository:alice/x:pull"],
        &[
            ("repository:alice/x:pull,fly,PUSH,", "unknown action `fly`"),
            ("repository:alice/x:pull,fly,PUSH,", "unknown action `PUSH`"),
            ("repository:alice/x:pull,fly,PUSH,", "unknown action ``"),
        ],
    );
    check(
        &["repository:alice/x:fly"],
        &[],
        &[
            ("repository:alice/x:fly", "unknown action `fly`"),
            ("repository:alice/x:fly", "scope names no known action"),
        ],
    );
    check(
        &["repository:alice/x:"],
        &[],
        &[
            ("repository:alice/x:", "unknown action ``"),
            ("repository:alice/x:", "scope names no known action"),
        ],
    );
}

#[test]
fn catalog_knows_only_star() {
    check(
        &["registry:catalog:pull"],
        &[],
        &[
            ("registry:catalog:pull", "unknown action `pull`"),
            ("registry:catalog:pull", "scope names no known action"),
        ],
    );
    check(
        &["registry:other:*"],
        &[],
        &[("registry:other:*", "unknown registry resource `other`")],
    );
}

#[test]
fn malformed_and_hostile_names_are_dropped() {
    let bad_name =
        |name: &str| DropReason::InvalidName(RepositoryName::parse(name).unwrap_err()).to_string();
    for (scope, name) in [
        ("repository:a/../b:push", "a/../b"),
        ("repository:ALICE/x:pull", "ALICE/x"),
        ("repository:alice/x:pull:push", "alice/x:pull"),
        (
            "repository:localhost:5000/alice/x:pull",
            "localhost:5000/alice/x",
        ),
        ("repository::pull", ""),
        ("repository:alice/x%2f..:pull", "alice/x%2f.."),
        ("repository:/alice/x:pull", "/alice/x"),
        ("repository:alice\t/x:pull", "alice\t/x"),
        ("repository:alicé/x:pull", "alicé/x"),
    ] {
        check(&[scope], &[], &[(scope, &bad_name(name))]);
    }
    for scope in ["repository", "repository:alice", ":", "pull"] {
        check(
            &[scope],
            &[],
            &[(scope, "scope must have the form `type:name:actions`")],
        );
    }
    check(
        &["Repository:alice/x:pull"],
        &[],
        &[(
            "Repository:alice/x:pull",
            "unknown resource type `Repository`",
        )],
    );
    check(&["::"], &[], &[("::", "unknown resource type ``")]);
}

#[test]
fn a_dropped_scope_leaves_its_neighbours() {
    check(
        &["repository:a/../b:push repository:alice/x:pull", "junk"],
        &["repository:alice/x:pull"],
        &[
            (
                "repository:a/../b:push",
                "invalid repository name: path component `..` must start and end with a letter or digit, with a single `.`, `_`, `__` or dashes between them",
            ),
            ("junk", "scope must have the form `type:name:actions`"),
        ],
    );
}

#[test]
fn caps_refuse_the_whole_request() {
    let at_cap = vec!["repository:a:pull"; MAX_SCOPES];
    assert!(parse_scopes(at_cap.iter().copied()).is_ok());
    let over = vec!["repository:a:pull"; MAX_SCOPES + 1];
    assert_eq!(
        parse_scopes(over.iter().copied()),
        Err(ScopeError::TooManyScopes { max: 64 })
    );
    let in_one = vec!["repository:a:pull"; MAX_SCOPES + 1].join(" ");
    assert_eq!(
        parse_scopes([in_one.as_str()]),
        Err(ScopeError::TooManyScopes { max: 64 })
    );
    let empty_params = vec![""; MAX_SCOPES + 1];
    assert_eq!(
        parse_scopes(empty_params.iter().copied()),
        Err(ScopeError::TooManyScopes { max: 64 })
    );
    let long_name = format!("repository:{}:pull", "a/".repeat(300));
    assert_eq!(
        parse_scopes([long_name.as_str()]),
        Err(ScopeError::ScopeTooLong { max: 512 })
    );
    let at_len = format!("repository:{}:pull", "a".repeat(MAX_SCOPE_LEN - 16));
    assert_eq!(at_len.len(), MAX_SCOPE_LEN);
    assert!(parse_scopes([at_len.as_str()]).is_ok());
    let big = "x".repeat(MAX_SCOPES_TOTAL_LEN + 1);
    assert_eq!(
        parse_scopes([big.as_str()]),
        Err(ScopeError::TooLarge { max: 8192 })
    );
    let spread = vec![" ".repeat(MAX_SCOPES_TOTAL_LEN / 2 + 1); 2];
    assert_eq!(
        parse_scopes(spread.iter().map(String::as_str)),
        Err(ScopeError::TooLarge { max: 8192 })
    );
    assert_eq!(
        ScopeError::TooManyScopes { max: 64 }.to_string(),
        "too many scopes: at most 64 are accepted"
    );
}

#[test]
fn the_caps_stop_reading_early() {
    // A hostile iterator of endless parameters is not read to its end.
    let endless = std::iter::repeat("repository:a:pull");
    assert_eq!(
        parse_scopes(endless),
        Err(ScopeError::TooManyScopes { max: 64 })
    );
}

#[test]
fn single_scope_parse_is_strict_and_round_trips() {
    let scope = Scope::parse("repository:alice/bb:push,pull,push").unwrap();
    assert_eq!(scope.to_string(), "repository:alice/bb:pull,push");
    assert_eq!(Scope::parse(&scope.to_string()), Ok(scope.clone()));
    assert_eq!(scope.resource().resource_type(), ResourceType::Repository);
    assert_eq!(scope.resource().name(), "alice/bb");
    assert_eq!(scope.actions(), [ScopeAction::Pull, ScopeAction::Push]);
    assert_eq!(
        Scope::parse("repository:alice/bb:pull,fly"),
        Err(DropReason::UnknownAction("fly".to_owned()))
    );
    assert_eq!(Scope::parse("registry:catalog:*"), Ok(Scope::catalog()));
    assert_eq!(Scope::catalog().to_string(), "registry:catalog:*");
    assert_eq!("junk".parse::<Scope>(), Err(DropReason::Malformed));
    for canonical in [
        "repository:a:pull",
        "repository:a:push",
        "repository:a:delete",
        "repository:a:*",
        "repository:a/b/c:pull,push,delete",
        "registry:catalog:*",
    ] {
        assert_eq!(Scope::parse(canonical).unwrap().to_string(), canonical);
    }
}

#[test]
fn constructors_normalize() {
    let name = RepositoryName::parse("alice/x").unwrap();
    assert_eq!(Scope::repository(name.clone(), []), None);
    let scope = Scope::repository(
        name.clone(),
        [ScopeAction::Delete, ScopeAction::Pull, ScopeAction::Pull],
    )
    .unwrap();
    assert_eq!(scope.to_string(), "repository:alice/x:pull,delete");
    let star = Scope::repository(name, [ScopeAction::Push, ScopeAction::All]).unwrap();
    assert_eq!(star.to_string(), "repository:alice/x:*");
}

#[test]
fn actions_parse_and_display() {
    for action in ScopeAction::ALL {
        assert_eq!(ScopeAction::parse(action.as_str()), Some(action));
        assert_eq!(action.to_string(), action.as_str());
    }
    assert_eq!(ScopeAction::parse("Pull"), None);
    assert_eq!(ScopeAction::parse(" pull"), None);
}
