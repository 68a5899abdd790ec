//! Who may see which activities of the audit log.
//!
//! Rules:
//! - Anonymous callers see nothing (the route answers 401).
//! - Admins (not bots: a bot's admin flag is ignored, as in the registry
//!   policy) see every activity.
//! - A user sees the activities on namespaces the registry policy lets them
//!   pull from, plus their own actions wherever they happened.
//! - Anything else (an activity on no namespace, or on one that is gone, by
//!   someone else: a team change, a user change) is for admins only.
//!
//! [`may_see_activity`] decides one activity; [`activity_scope`] and
//! [`may_see_namespace_activities`] are the same rule split so the store can
//! filter and page in SQL. A test proves the two agree.

use crate::policy::{Action, NamespaceFacts, PolicySettings, RepositoryFacts, Subject, decide};
use crate::portus_api::ApiCaller;

/// What is known about one activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ActivityFacts {
    /// The namespace it happened in, as the caller sees it; `None` for
    /// activities on no namespace or on a deleted one.
    pub namespace: Option<NamespaceFacts>,
    /// The user who acted, if known.
    pub actor_id: Option<i64>,
}

/// Which activities a caller may list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActivityScope {
    /// None: log in first (401).
    Unauthenticated,
    /// Every activity.
    All,
    /// Those on namespaces [`may_see_namespace_activities`] allows, plus
    /// those by `own`.
    NamespacesAndOwn {
        /// The caller's user id.
        own: i64,
    },
}

/// The scope of `caller`'s listing.
pub fn activity_scope(caller: ApiCaller) -> ActivityScope {
    match caller {
        ApiCaller::Anonymous => ActivityScope::Unauthenticated,
        ApiCaller::User {
            admin: true,
            bot: false,
            ..
        } => ActivityScope::All,
        ApiCaller::User { id, .. } => ActivityScope::NamespacesAndOwn { own: id },
    }
}

/// Whether `caller` may see activities on a namespace with `facts`: exactly
/// when the registry policy lets them pull from it.
pub fn may_see_namespace_activities(
    caller: ApiCaller,
    facts: NamespaceFacts,
    settings: &PolicySettings,
) -> bool {
    let subject = match caller {
        ApiCaller::Anonymous => return false,
        ApiCaller::User { admin, bot, .. } => Subject::User { admin, bot },
    };
    let repo = RepositoryFacts {
        namespace: Some(facts),
    };
    decide(&subject, &repo, Action::Pull, settings).allowed()
}

/// Whether `caller` may see one activity with `facts`.
pub fn may_see_activity(
    caller: ApiCaller,
    facts: ActivityFacts,
    settings: &PolicySettings,
) -> bool {
    match (activity_scope(caller), facts) {
        (ActivityScope::Unauthenticated, _) => false,
        (ActivityScope::All, _) => true,
        (ActivityScope::NamespacesAndOwn { own }, ActivityFacts { actor_id, .. })
            if actor_id == Some(own) =>
        {
            true
        }
        (
            ActivityScope::NamespacesAndOwn { .. },
            ActivityFacts {
                namespace: Some(ns),
                ..
            },
        ) => may_see_namespace_activities(caller, ns, settings),
        (
            ActivityScope::NamespacesAndOwn { .. },
            ActivityFacts {
                namespace: None, ..
            },
        ) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{NamespaceKind, TeamRole, Visibility};

    const SETTINGS: PolicySettings = PolicySettings {
        delete_enabled: true,
    };

    fn ns(kind: NamespaceKind, visibility: Visibility, role: Option<TeamRole>) -> NamespaceFacts {
        NamespaceFacts {
            kind,
            visibility,
            caller_role: role,
        }
    }

    fn user(id: i64) -> ApiCaller {
        ApiCaller::User {
            id,
            admin: false,
            bot: false,
        }
    }

    #[test]
    fn a_stranger_does_not_see_a_private_namespace_but_a_member_does() {
        let private = ns(NamespaceKind::Team, Visibility::Private, None);
        let facts = ActivityFacts {
            namespace: Some(private),
            actor_id: Some(1),
        };
        assert!(!may_see_activity(user(2), facts, &SETTINGS));
        let as_member = ActivityFacts {
            namespace: Some(ns(
                NamespaceKind::Team,
                Visibility::Private,
                Some(TeamRole::Viewer),
            )),
            actor_id: Some(1),
        };
        assert!(may_see_activity(user(2), as_member, &SETTINGS));
        // Protected and public namespaces are readable by every user.
        for v in [Visibility::Protected, Visibility::Public] {
            let f = ActivityFacts {
                namespace: Some(ns(NamespaceKind::Team, v, None)),
                actor_id: Some(1),
            };
            assert!(may_see_activity(user(2), f, &SETTINGS), "{v:?}");
        }
    }

    #[test]
    fn own_actions_are_visible_and_others_changes_to_no_namespace_are_not() {
        let team_change_by = |actor| ActivityFacts {
            namespace: None,
            actor_id: Some(actor),
        };
        assert!(may_see_activity(user(2), team_change_by(2), &SETTINGS));
        assert!(!may_see_activity(user(2), team_change_by(3), &SETTINGS));
        let admin = ApiCaller::User {
            id: 9,
            admin: true,
            bot: false,
        };
        assert!(may_see_activity(admin, team_change_by(3), &SETTINGS));
        // A bot's admin flag does not open the whole log.
        let bot_admin = ApiCaller::User {
            id: 8,
            admin: true,
            bot: true,
        };
        assert!(!may_see_activity(bot_admin, team_change_by(3), &SETTINGS));
    }

    #[test]
    fn anonymous_sees_nothing_not_even_public_namespaces() {
        let public = ActivityFacts {
            namespace: Some(ns(NamespaceKind::Team, Visibility::Public, None)),
            actor_id: None,
        };
        assert!(!may_see_activity(ApiCaller::Anonymous, public, &SETTINGS));
        assert_eq!(
            activity_scope(ApiCaller::Anonymous),
            ActivityScope::Unauthenticated
        );
    }

    /// The split used by the SQL filter agrees with the single decision on
    /// every combination of caller, namespace and actor.
    #[test]
    fn the_sql_split_agrees_with_the_decision() {
        let callers = [
            ApiCaller::Anonymous,
            user(1),
            user(2),
            ApiCaller::User {
                id: 1,
                admin: true,
                bot: false,
            },
            ApiCaller::User {
                id: 1,
                admin: true,
                bot: true,
            },
            ApiCaller::User {
                id: 1,
                admin: false,
                bot: true,
            },
        ];
        let kinds = [
            NamespaceKind::Global,
            NamespaceKind::Personal,
            NamespaceKind::Team,
        ];
        let visibilities = [
            Visibility::Private,
            Visibility::Protected,
            Visibility::Public,
        ];
        let roles = [
            None,
            Some(TeamRole::Viewer),
            Some(TeamRole::Contributor),
            Some(TeamRole::Owner),
        ];
        let mut namespaces = vec![None];
        for k in kinds {
            for v in visibilities {
                for r in roles {
                    namespaces.push(Some(ns(k, v, r)));
                }
            }
        }
        for caller in callers {
            for namespace in &namespaces {
                for actor_id in [None, Some(1), Some(2)] {
                    let facts = ActivityFacts {
                        namespace: *namespace,
                        actor_id,
                    };
                    let split = match activity_scope(caller) {
                        ActivityScope::Unauthenticated => false,
                        ActivityScope::All => true,
                        ActivityScope::NamespacesAndOwn { own } => {
                            actor_id == Some(own)
                                || namespace.is_some_and(|n| {
                                    may_see_namespace_activities(caller, n, &SETTINGS)
                                })
                        }
                    };
                    assert_eq!(
                        split,
                        may_see_activity(caller, facts, &SETTINGS),
                        "{caller:?} {facts:?}"
                    );
                }
            }
        }
    }
}
