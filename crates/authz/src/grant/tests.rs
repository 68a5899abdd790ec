//! Tests of token grants: per-action decisions, `*` expansion, catalog, determinism.

use std::cell::Cell;

use super::*;
use crate::policy::{NamespaceFacts, NamespaceKind, TeamRole, Visibility};
use crate::scope::parse_scopes;

const ON: PolicySettings = PolicySettings {
    delete_enabled: true,
};
const OFF: PolicySettings = PolicySettings {
    delete_enabled: false,
};
const ALICE: Subject = Subject::User {
    admin: false,
    bot: false,
};
const ADMIN: Subject = Subject::User {
    admin: true,
    bot: false,
};

/// Facts as seen by Alice: she owns `alice`, contributes to `team`, views
/// `viewers`, `pub` is public, `nginx` is in a public global namespace, and
/// `broken/*` cannot be looked up.
fn facts(name: &RepositoryName) -> Option<RepositoryFacts> {
    let ns = |kind, visibility, caller_role| RepositoryFacts {
        namespace: Some(NamespaceFacts {
            kind,
            visibility,
            caller_role,
        }),
    };
    match name.namespace_part().name() {
        None => Some(ns(NamespaceKind::Global, Visibility::Public, None)),
        Some("alice") => Some(ns(
            NamespaceKind::Personal,
            Visibility::Private,
            Some(TeamRole::Owner),
        )),
        Some("team") => Some(ns(
            NamespaceKind::Team,
            Visibility::Private,
            Some(TeamRole::Contributor),
        )),
        Some("viewers") => Some(ns(
            NamespaceKind::Team,
            Visibility::Private,
            Some(TeamRole::Viewer),
        )),
        Some("pub") => Some(ns(NamespaceKind::Team, Visibility::Public, None)),
        Some("broken") => None,
        Some(_) => Some(RepositoryFacts { namespace: None }),
    }
}

/// Grants `scopes` (one request) and renders the access claim as `type:name:actions` lines.
#[track_caller]
fn check(subject: Subject, settings: PolicySettings, scopes: &[&str], expected: &[&str]) {
    let parsed = parse_scopes(scopes.iter().copied()).unwrap();
    let granted = grant(&subject, parsed.scopes(), facts, &settings);
    let rendered: Vec<String> = granted
        .iter()
        .map(|g| {
            let actions: Vec<&str> = g.actions().iter().map(|a| a.as_str()).collect();
            format!("{}:{}:{}", g.resource_type(), g.name(), actions.join(","))
        })
        .collect();
    assert_eq!(rendered, expected, "{subject:?} asking {scopes:?}");
}

#[test]
fn owner_push_gets_what_was_asked() {
    check(
        ALICE,
        ON,
        &["repository:alice/bb:push,pull"],
        &["repository:alice/bb:pull,push"],
    );
}

#[test]
fn each_action_is_decided_alone() {
    check(
        ALICE,
        ON,
        &["repository:team/x:pull,push,delete"],
        &["repository:team/x:pull,push"],
    );
    check(
        ALICE,
        ON,
        &["repository:viewers/x:push,pull"],
        &["repository:viewers/x:pull"],
    );
    check(ALICE, ON, &["repository:pub/x:push"], &[]);
    check(
        ALICE,
        ON,
        &["repository:pub/x:pull,push"],
        &["repository:pub/x:pull"],
    );
}

#[test]
fn star_is_granted_as_concrete_actions_only() {
    check(
        ALICE,
        ON,
        &["repository:alice/x:*"],
        &["repository:alice/x:pull,push,delete"],
    );
    check(
        ALICE,
        OFF,
        &["repository:alice/x:*"],
        &["repository:alice/x:pull,push"],
    );
    check(
        ALICE,
        ON,
        &["repository:team/x:pull,push,*"],
        &["repository:team/x:pull,push"],
    );
    check(
        ALICE,
        ON,
        &["repository:nginx:*"],
        &["repository:nginx:pull"],
    );
    check(
        Subject::Anonymous,
        ON,
        &["repository:nginx:*"],
        &["repository:nginx:pull"],
    );
    check(
        ADMIN,
        ON,
        &["repository:nginx:*"],
        &["repository:nginx:pull,push,delete"],
    );
}

#[test]
fn catalog_only_for_admins_and_service() {
    check(ADMIN, ON, &["registry:catalog:*"], &["registry:catalog:*"]);
    check(
        Subject::Service,
        ON,
        &["registry:catalog:*"],
        &["registry:catalog:*"],
    );
    check(ALICE, ON, &["registry:catalog:*"], &[]);
    check(Subject::Anonymous, ON, &["registry:catalog:*"], &[]);
}

#[test]
fn unknown_facts_and_missing_namespaces_get_nothing() {
    check(ADMIN, ON, &["repository:broken/x:pull,push"], &[]);
    check(Subject::Service, ON, &["repository:broken/x:pull"], &[]);
    check(ALICE, ON, &["repository:nobody/x:push"], &[]);
    check(
        ADMIN,
        ON,
        &["repository:nobody/x:pull,push"],
        &["repository:nobody/x:push"],
    );
}

#[test]
fn output_is_sorted_and_merged() {
    check(
        ALICE,
        ON,
        &[
            "registry:catalog:*",
            "repository:team/b:push repository:alice/a:pull",
            "repository:team/b:pull repository:viewers/c:delete",
        ],
        &["repository:alice/a:pull", "repository:team/b:pull,push"],
    );
    check(
        ADMIN,
        ON,
        &["registry:catalog:* repository:b:pull repository:a:pull"],
        &[
            "repository:a:pull",
            "repository:b:pull",
            "registry:catalog:*",
        ],
    );
}

#[test]
fn facts_are_looked_up_once_per_repository() {
    let calls = Cell::new(0);
    let parsed =
        parse_scopes(["repository:alice/x:pull repository:alice/x:push,delete,*"]).unwrap();
    let counting = |name: &RepositoryName| {
        calls.set(calls.get() + 1);
        facts(name)
    };
    let granted = grant(&ALICE, parsed.scopes(), counting, &ON);
    assert_eq!(calls.get(), 1);
    assert_eq!(granted.len(), 1);
}

#[test]
fn duplicate_scopes_passed_directly_are_merged() {
    let scope = Scope::parse("repository:alice/x:pull").unwrap();
    let granted = grant(&ALICE, &[scope.clone(), scope], facts, &ON);
    assert_eq!(granted.len(), 1);
    assert_eq!(granted[0].actions(), [ScopeAction::Pull]);
}

#[test]
fn decisions_explain_every_action() {
    let parsed = parse_scopes(["repository:viewers/x:* registry:catalog:*"]).unwrap();
    let decisions = decide_scopes(&ALICE, parsed.scopes(), facts, &ON);
    let rendered: Vec<String> = decisions
        .iter()
        .map(|d| {
            format!(
                "{} {} {}: {}",
                d.resource().name(),
                d.action(),
                d.decision().allowed(),
                d.decision().reason()
            )
        })
        .collect();
    assert_eq!(
        rendered,
        [
            "viewers/x pull true: the caller is a team viewer",
            "viewers/x push false: a team viewer may not do this",
            "viewers/x delete false: a team viewer may not do this",
            "catalog * false: only admins may do this",
        ]
    );
}

#[cfg(feature = "serde")]
#[test]
fn access_claim_json_shape() {
    let parsed = parse_scopes(["repository:alice/bb:push,pull registry:catalog:*"]).unwrap();
    let granted = grant(&ADMIN, parsed.scopes(), facts, &ON);
    assert_eq!(
        serde_json::to_string(&granted).unwrap(),
        r#"[{"type":"repository","name":"alice/bb","actions":["pull","push"]},{"type":"registry","name":"catalog","actions":["*"]}]"#
    );
}
