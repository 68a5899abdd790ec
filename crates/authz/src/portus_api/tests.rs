//! Tests of the Portus API grants: each grant's allowed and forbidden side.

use super::*;
use crate::policy::{NamespaceKind, Visibility};

const ON: PolicySettings = PolicySettings {
    delete_enabled: true,
};
const ALICE: ApiCaller = ApiCaller::User {
    id: 1,
    admin: false,
    bot: false,
};
const ADMIN: ApiCaller = ApiCaller::User {
    id: 9,
    admin: true,
    bot: false,
};
const ADMIN_BOT: ApiCaller = ApiCaller::User {
    id: 8,
    admin: true,
    bot: true,
};

fn check(grant: ApiGrant, caller: ApiCaller, target: ApiTarget) -> ApiVerdict {
    decide_api(grant, caller, target, &ON)
}

fn ns(visibility: Visibility, role: Option<TeamRole>) -> ApiTarget {
    ApiTarget::Namespace(NamespaceFacts {
        kind: NamespaceKind::Team,
        visibility,
        caller_role: role,
    })
}

#[test]
fn anonymous_gets_401_except_on_open_routes_and_public_pulls() {
    use ApiGrant::*;
    for g in [
        LoggedIn,
        Admin,
        UserSelf,
        TokenOwner,
        TeamMember,
        TeamOwner,
        NamespaceCreate,
        NamespaceOwner,
        Push,
        Delete,
    ] {
        assert_eq!(
            check(g, ApiCaller::Anonymous, ApiTarget::None),
            ApiVerdict::Unauthenticated,
            "{g:?}"
        );
    }
    assert_eq!(
        check(Anyone, ApiCaller::Anonymous, ApiTarget::None),
        ApiVerdict::Allowed
    );
    assert_eq!(
        check(Bootstrap, ApiCaller::Anonymous, ApiTarget::None),
        ApiVerdict::Allowed
    );
    assert_eq!(
        check(Pull, ApiCaller::Anonymous, ns(Visibility::Public, None)),
        ApiVerdict::Allowed
    );
    assert_eq!(
        check(Pull, ApiCaller::Anonymous, ns(Visibility::Protected, None)),
        ApiVerdict::Unauthenticated
    );
}

#[test]
fn non_admins_cannot_use_admin_routes_and_admin_bots_are_not_admins() {
    assert_eq!(
        check(ApiGrant::Admin, ALICE, ApiTarget::None),
        ApiVerdict::Forbidden
    );
    assert_eq!(
        check(ApiGrant::Admin, ADMIN, ApiTarget::None),
        ApiVerdict::Allowed
    );
    assert_eq!(
        check(ApiGrant::Admin, ADMIN_BOT, ApiTarget::None),
        ApiVerdict::Forbidden
    );
}

#[test]
fn application_tokens_are_their_users_own_and_admins_manage_only_bots() {
    let bob = ApiTarget::User { id: 2, bot: false };
    let bot = ApiTarget::User { id: 3, bot: true };
    assert_eq!(
        check(
            ApiGrant::UserSelf,
            ALICE,
            ApiTarget::User { id: 1, bot: false }
        ),
        ApiVerdict::Allowed
    );
    assert_eq!(check(ApiGrant::UserSelf, ALICE, bob), ApiVerdict::Forbidden);
    assert_eq!(check(ApiGrant::UserSelf, ALICE, bot), ApiVerdict::Forbidden);
    assert_eq!(check(ApiGrant::UserSelf, ADMIN, bob), ApiVerdict::Forbidden);
    assert_eq!(check(ApiGrant::UserSelf, ADMIN, bot), ApiVerdict::Allowed);
    assert_eq!(
        check(ApiGrant::TokenOwner, ALICE, ApiTarget::Token { owner: 1 }),
        ApiVerdict::Allowed
    );
    assert_eq!(
        check(ApiGrant::TokenOwner, ALICE, ApiTarget::Token { owner: 2 }),
        ApiVerdict::Forbidden
    );
    assert_eq!(
        check(ApiGrant::TokenOwner, ADMIN, ApiTarget::Token { owner: 2 }),
        ApiVerdict::Forbidden
    );
}

#[test]
fn team_management_needs_owner_and_reading_needs_membership() {
    let team = |r| ApiTarget::Team { caller_role: r };
    for (role, member, owner, create) in [
        (None, false, false, false),
        (Some(TeamRole::Viewer), true, false, false),
        (Some(TeamRole::Contributor), true, false, true),
        (Some(TeamRole::Owner), true, true, true),
    ] {
        let v = |b| {
            if b {
                ApiVerdict::Allowed
            } else {
                ApiVerdict::Forbidden
            }
        };
        assert_eq!(
            check(ApiGrant::TeamMember, ALICE, team(role)),
            v(member),
            "{role:?}"
        );
        assert_eq!(
            check(ApiGrant::TeamOwner, ALICE, team(role)),
            v(owner),
            "{role:?}"
        );
        assert_eq!(
            check(ApiGrant::NamespaceCreate, ALICE, team(role)),
            v(create),
            "{role:?}"
        );
        assert_eq!(
            check(
                ApiGrant::NamespaceOwner,
                ALICE,
                ns(Visibility::Private, role)
            ),
            v(owner),
            "{role:?}"
        );
        assert_eq!(
            check(ApiGrant::TeamOwner, ADMIN, team(role)),
            ApiVerdict::Allowed
        );
    }
}

#[test]
fn registry_grants_follow_the_policy() {
    assert_eq!(
        check(ApiGrant::Pull, ALICE, ns(Visibility::Private, None)),
        ApiVerdict::Forbidden
    );
    assert_eq!(
        check(ApiGrant::Pull, ALICE, ns(Visibility::Protected, None)),
        ApiVerdict::Allowed
    );
    assert_eq!(
        check(
            ApiGrant::Push,
            ALICE,
            ns(Visibility::Public, Some(TeamRole::Viewer))
        ),
        ApiVerdict::Forbidden
    );
    assert_eq!(
        check(
            ApiGrant::Push,
            ALICE,
            ns(Visibility::Private, Some(TeamRole::Contributor))
        ),
        ApiVerdict::Allowed
    );
    assert_eq!(
        check(
            ApiGrant::Delete,
            ALICE,
            ns(Visibility::Private, Some(TeamRole::Contributor))
        ),
        ApiVerdict::Forbidden
    );
    let off = PolicySettings {
        delete_enabled: false,
    };
    assert_eq!(
        decide_api(ApiGrant::Delete, ADMIN, ns(Visibility::Private, None), &off),
        ApiVerdict::Forbidden
    );
}

#[test]
/// Even for admins: missing facts deny.
fn a_target_of_the_wrong_kind_denies() {
    assert_eq!(
        check(ApiGrant::TeamOwner, ALICE, ApiTarget::None),
        ApiVerdict::Forbidden
    );
    assert_eq!(
        check(ApiGrant::UserSelf, ALICE, ApiTarget::Token { owner: 1 }),
        ApiVerdict::Forbidden
    );
    assert_eq!(
        check(ApiGrant::Pull, ALICE, ApiTarget::None),
        ApiVerdict::Forbidden
    );
    assert_eq!(
        check(ApiGrant::TeamOwner, ADMIN, ApiTarget::None),
        ApiVerdict::Forbidden
    );
}
