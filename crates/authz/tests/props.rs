//! Property tests over the public API: parsers never panic, canonical forms
//! round-trip, and a token never holds an action that was not requested and allowed.

use std::collections::{BTreeMap, BTreeSet};

use berth_authz::docker_filter::{DockerDecision, decide_docker_request};
use berth_authz::gateway::{Access, PathRules};
use berth_authz::grant::{decide_scopes, grant};
use berth_authz::names::RepositoryName;
use berth_authz::policy::{
    Action, NamespaceFacts, NamespaceKind, PolicySettings, RepositoryFacts, Subject, TeamRole,
    Visibility, decide, decide_catalog,
};
use berth_authz::scope::{Resource, Scope, ScopeAction, parse_scopes};
use proptest::prelude::*;

/// A canonical path component.
fn component() -> impl Strategy<Value = String> {
    "[a-z0-9]{1,4}((\\.|_|__|-{1,3})[a-z0-9]{1,4}){0,2}"
}

fn repository_name() -> impl Strategy<Value = String> {
    prop::collection::vec(component(), 1..4).prop_map(|parts| parts.join("/"))
}

/// Names that are mostly valid, sometimes hostile.
fn any_name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => repository_name(),
        1 => Just("a/../b".to_owned()),
        1 => Just("ALICE/x".to_owned()),
        1 => Just("localhost:5000/a".to_owned()),
        1 => Just("a//b".to_owned()),
        1 => "[ -~]{0,12}",
    ]
}

fn any_actions() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("pull"),
            Just("push"),
            Just("delete"),
            Just("*"),
            Just("PULL"),
            Just(""),
            Just("fly"),
        ],
        1..5,
    )
    .prop_map(|actions| actions.join(","))
}

fn any_scope() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => (
            prop_oneof![Just("repository"), Just("repository(plugin)"), Just("registry"), Just("blob")],
            any_name(),
            any_actions(),
        )
            .prop_map(|(t, n, a)| format!("{t}:{n}:{a}")),
        1 => Just("registry:catalog:*".to_owned()),
        1 => "[ -~]{0,24}",
    ]
}

/// One token request: up to 4 parameters of up to 3 space-separated scopes.
fn any_request() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(
        prop::collection::vec(any_scope(), 0..4).prop_map(|s| s.join(" ")),
        0..5,
    )
}

fn any_subject() -> impl Strategy<Value = Subject> {
    prop_oneof![
        Just(Subject::Anonymous),
        Just(Subject::Service),
        (any::<bool>(), any::<bool>()).prop_map(|(admin, bot)| Subject::User { admin, bot }),
    ]
}

fn any_facts() -> impl Strategy<Value = Option<RepositoryFacts>> {
    let namespace = (
        prop::sample::select(NamespaceKind::ALL),
        prop::sample::select(Visibility::ALL),
        prop::option::of(prop::sample::select(TeamRole::ALL)),
    )
        .prop_map(|(kind, visibility, caller_role)| NamespaceFacts {
            kind,
            visibility,
            caller_role,
        });
    prop::option::of(
        prop::option::of(namespace).prop_map(|namespace| RepositoryFacts { namespace }),
    )
}

proptest! {
    #[test]
    fn names_parse_only_canonical_input(input in "[ -~]{0,40}") {
        if let Ok(name) = RepositoryName::parse(&input) {
            prop_assert_eq!(name.to_string(), input);
        }
    }

    #[test]
    fn generated_names_parse(input in repository_name()) {
        let name = RepositoryName::parse(&input).unwrap();
        prop_assert_eq!(name.as_str(), input.as_str());
    }

    #[test]
    fn scope_parsing_never_panics(params in prop::collection::vec(any::<String>(), 0..6)) {
        let _ = parse_scopes(params.iter().map(String::as_str));
    }

    #[test]
    fn parsed_scopes_are_canonical_and_merged(request in any_request()) {
        let parsed = parse_scopes(request.iter().map(String::as_str)).unwrap();
        let mut seen = BTreeSet::new();
        for scope in parsed.scopes() {
            let text = scope.to_string();
            prop_assert_eq!(Scope::parse(&text), Ok(scope.clone()));
            prop_assert!(seen.insert(scope.resource().clone()), "resource twice: {}", text);
            prop_assert!(!scope.actions().is_empty());
            prop_assert!(scope.actions().windows(2).all(|w| w[0] < w[1]));
            prop_assert!(
                !scope.actions().contains(&ScopeAction::All) || scope.actions().len() == 1
            );
        }
        let resources: Vec<&Resource> = parsed.scopes().iter().map(Scope::resource).collect();
        prop_assert!(resources.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn tokens_hold_only_requested_and_allowed_actions(
        request in any_request(),
        subject in any_subject(),
        facts_by_namespace in prop::collection::vec(any_facts(), 8),
        delete_enabled in any::<bool>(),
    ) {
        let settings = PolicySettings { delete_enabled };
        let parsed = parse_scopes(request.iter().map(String::as_str)).unwrap();
        // Facts depend on the name only, so every lookup of a name agrees.
        let facts = |name: &RepositoryName| {
            let index = name.as_str().len() % facts_by_namespace.len();
            facts_by_namespace[index]
        };
        let mut requested: BTreeMap<Resource, BTreeSet<ScopeAction>> = BTreeMap::new();
        for scope in parsed.scopes() {
            requested.entry(scope.resource().clone()).or_default().extend(scope.actions());
        }
        let granted = grant(&subject, parsed.scopes(), facts, &settings);
        prop_assert!(granted.windows(2).all(|w| w[0].resource() < w[1].resource()));
        for access in &granted {
            prop_assert!(!access.actions().is_empty());
            prop_assert!(access.actions().windows(2).all(|w| w[0] < w[1]));
            let asked = &requested[access.resource()];
            for action in access.actions() {
                match (access.resource(), action) {
                    (Resource::Catalog, ScopeAction::All) => {
                        prop_assert!(decide_catalog(&subject).allowed());
                    }
                    (Resource::Catalog, other) => prop_assert!(false, "catalog got {}", other),
                    (Resource::Repository(_), ScopeAction::All) => {
                        prop_assert!(false, "`*` granted on a repository");
                    }
                    (Resource::Repository(name), concrete) => {
                        prop_assert!(asked.contains(concrete) || asked.contains(&ScopeAction::All));
                        let action = match concrete {
                            ScopeAction::Pull => Action::Pull,
                            ScopeAction::Push => Action::Push,
                            _ => Action::Delete,
                        };
                        let target = facts(name).expect("granted without facts");
                        prop_assert!(decide(&subject, &target, action, &settings).allowed());
                    }
                }
            }
        }
        // And nothing allowed is left out.
        let decisions = decide_scopes(&subject, parsed.scopes(), facts, &settings);
        let allowed = decisions.iter().filter(|d| d.decision().allowed()).count();
        let in_token: usize = granted.iter().map(|g| g.actions().len()).sum();
        prop_assert_eq!(allowed, in_token);
    }

    #[test]
    fn docker_filter_never_panics_and_allows_only_reads(
        method in prop_oneof![Just("GET".to_owned()), Just("HEAD".to_owned()), "[A-Za-z]{0,7}"],
        path in prop_oneof![
            "(/[a-z_0-9.:@-]{1,8}){0,5}",
            "(/(v1\\.41|containers|images|json|logs|attach|ws|\\.\\.|%2e|exec)){0,5}",
            any::<String>(),
        ],
    ) {
        if let DockerDecision::Allow(_) = decide_docker_request(&method, &path) {
            prop_assert!(method == "GET" || method == "HEAD");
            prop_assert!(!path.contains("..") && !path.contains("//") && !path.contains('%'));
            prop_assert!(!path.ends_with('/'));
            let segments: Vec<&str> = path.split('/').collect();
            let last = segments[segments.len() - 1];
            let before = segments[segments.len() - 2];
            prop_assert!(
                ["_ping", "version", "info", "json", "logs", "networks", "volumes", "events"].contains(&last)
                    || ["networks", "volumes"].contains(&before),
                "{} allowed", path
            );
        }
    }

    #[test]
    fn gateway_matches_only_at_segment_boundaries(
        prefixes in prop::collection::btree_set("(/[a-z]{1,3}){0,3}/?", 0..5),
        path in prop_oneof!["(/[a-z.;%0-9]{0,4}){1,5}", any::<String>()],
    ) {
        let rules = PathRules::new(prefixes.iter().map(|p| (p.clone(), Access::Public))).unwrap();
        if let Ok(Some(rule)) = rules.match_path(&path) {
            let prefix = rule.prefix();
            prop_assert!(path.starts_with(prefix));
            let rest = &path[prefix.len()..];
            prop_assert!(
                prefix.is_empty() || prefix.ends_with('/') || rest.is_empty()
                    || rest.starts_with('/') || rest.starts_with(';'),
                "{} matched {}", prefix, path
            );
            prop_assert!(!path.contains("..") && !path.contains("//"));
            // No longer prefix also matches at a boundary.
            for other in rules.rules() {
                if other.prefix().len() > prefix.len() {
                    let p = other.prefix();
                    let boundary = path.strip_prefix(p).is_some_and(|r| {
                        p.ends_with('/') || r.is_empty() || r.starts_with('/') || r.starts_with(';')
                    });
                    prop_assert!(!boundary, "{} is longer and matches {}", p, path);
                }
            }
        }
    }
}
