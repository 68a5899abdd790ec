//! Tests of the registry policy: every combination against a hand-written table,
//! the forbidden side of each rule by name, and the rendered table against its golden file.

use super::*;

/// The expectation, written by hand from the rules, with deletion enabled:
/// (who, namespace kind, [private, protected, public]).
const EXPECTED: &[(&str, &str, [&str; 3])] = &[
    ("anonymous", "global", ["", "", "pull"]),
    ("anonymous", "personal", ["", "", "pull"]),
    ("anonymous", "team", ["", "", "pull"]),
    ("user", "global", ["pull", "pull", "pull"]),
    ("user", "personal", ["", "pull", "pull"]),
    ("user", "team", ["", "pull", "pull"]),
    ("viewer", "global", ["pull", "pull", "pull"]),
    ("viewer", "personal", ["pull", "pull", "pull"]),
    ("viewer", "team", ["pull", "pull", "pull"]),
    ("contributor", "global", ["pull", "pull", "pull"]),
    (
        "contributor",
        "personal",
        ["pull push", "pull push", "pull push"],
    ),
    (
        "contributor",
        "team",
        ["pull push", "pull push", "pull push"],
    ),
    ("owner", "global", ["pull", "pull", "pull"]),
    ("owner", "personal", ["pull push delete"; 3]),
    ("owner", "team", ["pull push delete"; 3]),
    ("admin", "global", ["pull push delete"; 3]),
    ("admin", "personal", ["pull push delete"; 3]),
    ("admin", "team", ["pull push delete"; 3]),
    ("service", "global", ["pull push delete"; 3]),
    ("service", "personal", ["pull push delete"; 3]),
    ("service", "team", ["pull push delete"; 3]),
];

/// The expectation when the namespace does not exist, deletion enabled.
const EXPECTED_MISSING: &[(&str, &str)] = &[
    ("anonymous", ""),
    ("user", ""),
    ("viewer", ""),
    ("contributor", ""),
    ("owner", ""),
    ("admin", "push"),
    ("service", "pull push delete"),
];

fn all_subjects() -> Vec<Subject> {
    let mut subjects = vec![Subject::Anonymous, Subject::Service];
    for admin in [false, true] {
        for bot in [false, true] {
            subjects.push(Subject::User { admin, bot });
        }
    }
    subjects
}

fn all_roles() -> [Option<TeamRole>; 4] {
    [
        None,
        Some(TeamRole::Owner),
        Some(TeamRole::Contributor),
        Some(TeamRole::Viewer),
    ]
}

/// The table's row label; written apart from `effective` on purpose.
fn who(subject: Subject, role: Option<TeamRole>) -> &'static str {
    match (subject, role) {
        (Subject::Anonymous, _) => "anonymous",
        (Subject::Service, _) => "service",
        (Subject::User { admin, bot }, _) if admin && !bot => "admin",
        (Subject::User { .. }, None) => "user",
        (Subject::User { .. }, Some(TeamRole::Viewer)) => "viewer",
        (Subject::User { .. }, Some(TeamRole::Contributor)) => "contributor",
        (Subject::User { .. }, Some(TeamRole::Owner)) => "owner",
    }
}

fn expected_cell(who: &str, namespace: Option<(NamespaceKind, Visibility)>) -> &'static str {
    match namespace {
        None => EXPECTED_MISSING
            .iter()
            .find(|(w, _)| *w == who)
            .map(|(_, cell)| *cell)
            .unwrap(),
        Some((kind, visibility)) => {
            let row = EXPECTED
                .iter()
                .find(|(w, k, _)| *w == who && *k == kind.as_str())
                .unwrap();
            row.2[Visibility::ALL
                .iter()
                .position(|v| *v == visibility)
                .unwrap()]
        }
    }
}

#[test]
fn every_combination_matches_the_table() {
    let mut namespaces = vec![None];
    for kind in NamespaceKind::ALL {
        for visibility in Visibility::ALL {
            namespaces.push(Some((*kind, *visibility)));
        }
    }
    let mut checked = 0;
    for subject in all_subjects() {
        for role in all_roles() {
            for namespace in &namespaces {
                let facts = RepositoryFacts {
                    namespace: namespace.map(|(kind, visibility)| NamespaceFacts {
                        kind,
                        visibility,
                        caller_role: role,
                    }),
                };
                let cell = expected_cell(who(subject, role), *namespace);
                for delete_enabled in [false, true] {
                    let settings = PolicySettings { delete_enabled };
                    for action in Action::ALL {
                        let expected = cell.split(' ').any(|a| a == action.as_str())
                            && (delete_enabled || *action != Action::Delete);
                        let decision = decide(&subject, &facts, *action, &settings);
                        assert_eq!(
                            decision.allowed(),
                            expected,
                            "{subject:?} {role:?} {namespace:?} {action} delete_enabled={delete_enabled}: {}",
                            decision.reason()
                        );
                        assert_eq!(decision.allowed(), decision.reason().allows());
                        checked += 1;
                    }
                }
            }
        }
    }
    assert_eq!(checked, 6 * 4 * 10 * 2 * 3);
}

const ON: PolicySettings = PolicySettings {
    delete_enabled: true,
};
const OFF: PolicySettings = PolicySettings {
    delete_enabled: false,
};
const USER: Subject = Subject::User {
    admin: false,
    bot: false,
};
const ADMIN: Subject = Subject::User {
    admin: true,
    bot: false,
};

fn ns(kind: NamespaceKind, visibility: Visibility, role: Option<TeamRole>) -> RepositoryFacts {
    RepositoryFacts {
        namespace: Some(NamespaceFacts {
            kind,
            visibility,
            caller_role: role,
        }),
    }
}

#[track_caller]
fn check(
    subject: Subject,
    facts: RepositoryFacts,
    action: Action,
    settings: PolicySettings,
    expected: Reason,
) {
    let decision = decide(&subject, &facts, action, &settings);
    assert_eq!(decision.reason(), expected);
    assert_eq!(decision.allowed(), expected.allows());
}

#[test]
fn team_roles_and_their_forbidden_side() {
    use NamespaceKind::Team;
    use TeamRole::*;
    use Visibility::Private;
    check(
        USER,
        ns(Team, Private, Some(Owner)),
        Action::Delete,
        ON,
        Reason::Member(Owner),
    );
    check(
        USER,
        ns(Team, Private, Some(Contributor)),
        Action::Push,
        ON,
        Reason::Member(Contributor),
    );
    check(
        USER,
        ns(Team, Private, Some(Contributor)),
        Action::Delete,
        ON,
        Reason::RoleInsufficient(Contributor),
    );
    check(
        USER,
        ns(Team, Private, Some(Viewer)),
        Action::Pull,
        ON,
        Reason::Member(Viewer),
    );
    check(
        USER,
        ns(Team, Private, Some(Viewer)),
        Action::Push,
        ON,
        Reason::RoleInsufficient(Viewer),
    );
    check(
        USER,
        ns(Team, Private, Some(Viewer)),
        Action::Delete,
        ON,
        Reason::RoleInsufficient(Viewer),
    );
    check(
        USER,
        ns(Team, Private, None),
        Action::Pull,
        ON,
        Reason::NotMember,
    );
}

#[test]
fn visibility_and_its_forbidden_side() {
    use NamespaceKind::{Personal, Team};
    use Visibility::*;
    check(
        Subject::Anonymous,
        ns(Team, Public, None),
        Action::Pull,
        ON,
        Reason::PublicNamespace,
    );
    check(
        Subject::Anonymous,
        ns(Team, Public, None),
        Action::Push,
        ON,
        Reason::Unauthenticated,
    );
    check(
        Subject::Anonymous,
        ns(Team, Protected, None),
        Action::Pull,
        ON,
        Reason::Unauthenticated,
    );
    check(
        USER,
        ns(Team, Protected, None),
        Action::Pull,
        ON,
        Reason::ProtectedNamespace,
    );
    check(
        USER,
        ns(Team, Public, None),
        Action::Push,
        ON,
        Reason::NotMember,
    );
    check(
        USER,
        ns(Personal, Private, None),
        Action::Pull,
        ON,
        Reason::NotMember,
    );
    check(
        USER,
        ns(Personal, Protected, None),
        Action::Delete,
        ON,
        Reason::NotMember,
    );
}

#[test]
fn personal_namespace_belongs_to_its_owner() {
    use NamespaceKind::Personal;
    use Visibility::Private;
    for action in Action::ALL {
        check(
            USER,
            ns(Personal, Private, Some(TeamRole::Owner)),
            *action,
            ON,
            Reason::Member(TeamRole::Owner),
        );
    }
}

#[test]
fn global_namespace_and_its_forbidden_side() {
    use NamespaceKind::Global;
    use Visibility::*;
    check(
        USER,
        ns(Global, Private, None),
        Action::Pull,
        ON,
        Reason::GlobalNamespacePull,
    );
    check(
        USER,
        ns(Global, Public, Some(TeamRole::Owner)),
        Action::Push,
        ON,
        Reason::GlobalNamespaceAdminOnly,
    );
    check(
        USER,
        ns(Global, Public, Some(TeamRole::Owner)),
        Action::Delete,
        ON,
        Reason::GlobalNamespaceAdminOnly,
    );
    check(
        ADMIN,
        ns(Global, Private, None),
        Action::Push,
        ON,
        Reason::Admin,
    );
    check(
        Subject::Anonymous,
        ns(Global, Public, None),
        Action::Pull,
        ON,
        Reason::PublicNamespace,
    );
    check(
        Subject::Anonymous,
        ns(Global, Private, None),
        Action::Pull,
        ON,
        Reason::Unauthenticated,
    );
    check(
        Subject::Anonymous,
        ns(Global, Protected, None),
        Action::Pull,
        ON,
        Reason::Unauthenticated,
    );
}

#[test]
fn delete_switch_binds_everyone() {
    use NamespaceKind::Team;
    use Visibility::Private;
    let facts = ns(Team, Private, Some(TeamRole::Owner));
    for subject in [USER, ADMIN, Subject::Service, Subject::Anonymous] {
        check(subject, facts, Action::Delete, OFF, Reason::DeleteDisabled);
    }
    check(
        Subject::Service,
        facts,
        Action::Delete,
        ON,
        Reason::ServiceUser,
    );
    check(ADMIN, facts, Action::Delete, ON, Reason::Admin);
}

#[test]
fn bots_are_users_never_admins() {
    use NamespaceKind::Team;
    use Visibility::Private;
    let admin_bot = Subject::User {
        admin: true,
        bot: true,
    };
    let bot = Subject::User {
        admin: false,
        bot: true,
    };
    check(
        admin_bot,
        ns(Team, Private, None),
        Action::Pull,
        ON,
        Reason::NotMember,
    );
    check(
        bot,
        ns(Team, Private, Some(TeamRole::Contributor)),
        Action::Push,
        ON,
        Reason::Member(TeamRole::Contributor),
    );
    check(
        admin_bot,
        RepositoryFacts { namespace: None },
        Action::Push,
        ON,
        Reason::NamespaceMissing,
    );
    assert_eq!(decide_catalog(&admin_bot).reason(), Reason::NotAdmin);
}

#[test]
fn missing_namespace() {
    let missing = RepositoryFacts { namespace: None };
    check(
        ADMIN,
        missing,
        Action::Push,
        ON,
        Reason::AdminCreatesNamespace,
    );
    check(ADMIN, missing, Action::Pull, ON, Reason::NamespaceMissing);
    check(ADMIN, missing, Action::Delete, ON, Reason::NamespaceMissing);
    check(USER, missing, Action::Push, ON, Reason::NamespaceMissing);
    check(
        Subject::Anonymous,
        missing,
        Action::Pull,
        ON,
        Reason::NamespaceMissing,
    );
    check(
        Subject::Service,
        missing,
        Action::Push,
        ON,
        Reason::ServiceUser,
    );
}

#[test]
fn roles_are_ignored_for_anonymous_and_service() {
    use NamespaceKind::Team;
    use Visibility::Private;
    check(
        Subject::Anonymous,
        ns(Team, Private, Some(TeamRole::Owner)),
        Action::Pull,
        ON,
        Reason::Unauthenticated,
    );
    check(
        Subject::Service,
        ns(Team, Private, None),
        Action::Push,
        ON,
        Reason::ServiceUser,
    );
}

#[test]
fn catalog_is_for_admins_and_the_service_user() {
    assert_eq!(
        decide_catalog(&Subject::Service).reason(),
        Reason::ServiceUser
    );
    assert_eq!(decide_catalog(&ADMIN).reason(), Reason::Admin);
    assert!(decide_catalog(&ADMIN).allowed());
    assert_eq!(decide_catalog(&USER).reason(), Reason::NotAdmin);
    assert!(!decide_catalog(&USER).allowed());
    assert_eq!(
        decide_catalog(&Subject::Anonymous).reason(),
        Reason::Unauthenticated
    );
}

#[test]
fn reasons_read_as_sentences() {
    assert_eq!(
        Reason::Member(TeamRole::Owner).to_string(),
        "the caller is a team owner"
    );
    assert_eq!(
        Reason::RoleInsufficient(TeamRole::Viewer).to_string(),
        "a team viewer may not do this"
    );
    assert!(!Decision::from_reason(Reason::FactsUnavailable).allowed());
}

#[test]
fn keywords_round_trip() {
    for role in TeamRole::ALL {
        assert_eq!(role.to_string().parse::<TeamRole>(), Ok(*role));
    }
    for kind in NamespaceKind::ALL {
        assert_eq!(kind.to_string().parse::<NamespaceKind>(), Ok(*kind));
    }
    for visibility in Visibility::ALL {
        assert_eq!(
            visibility.to_string().parse::<Visibility>(),
            Ok(*visibility)
        );
    }
    for action in Action::ALL {
        assert_eq!(action.to_string().parse::<Action>(), Ok(*action));
    }
    let err = "Owner".parse::<TeamRole>().unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown team role: expected one of `owner` `contributor` `viewer`"
    );
    assert!("pull ".parse::<Action>().is_err());
}

/// The rendered table is checked in as `policy-table.md`; `UPDATE_EXPECT=1` rewrites it.
#[test]
fn policy_table_matches_the_golden_file() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/policy-table.md");
    let rendered = policy_table();
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(path, &rendered).unwrap();
    }
    let golden = std::fs::read_to_string(path).unwrap();
    assert_eq!(
        golden, rendered,
        "run with UPDATE_EXPECT=1 and review the diff"
    );
}

#[test]
fn policy_table_shows_the_forbidden_side() {
    let table = policy_table();
    assert!(
        table.contains("| anonymous | team | - | - | pull |"),
        "{table}"
    );
    assert!(
        table.contains("| user, not a member | team | - | pull | pull |"),
        "{table}"
    );
    assert!(
        table.contains("| viewer | team | pull | pull | pull |"),
        "{table}"
    );
    assert!(
        table.contains("| contributor | global | pull | pull | pull |"),
        "{table}"
    );
    assert!(table.contains("| admin | push |"), "{table}");
}
