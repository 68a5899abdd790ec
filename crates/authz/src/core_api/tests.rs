//! Tests of core API grants: every grant against the owner, a bare app, and apps holding each permission.

use super::*;

fn app(name: &str, permissions: &[CorePermission]) -> CoreCaller {
    CoreCaller::App {
        name: name.to_owned(),
        permissions: permissions.iter().copied().collect(),
    }
}

fn all_grants() -> Vec<CoreGrant> {
    vec![
        CoreGrant::Owner,
        CoreGrant::OwnAppRecord {
            app: "notes".into(),
        },
        CoreGrant::OwnAppRecord {
            app: "other".into(),
        },
        CoreGrant::AppsRead,
        CoreGrant::IdentityRead,
        CoreGrant::PeersCall,
    ]
}

#[test]
fn owner_may_do_everything() {
    for grant in all_grants() {
        let decision = decide_core_api(&CoreCaller::Owner, &grant);
        assert_eq!(decision.reason(), &CoreReason::Owner);
        assert!(decision.allowed());
    }
}

#[test]
fn bare_app_sees_only_its_own_record() {
    use CorePermission::*;
    use CoreReason::*;
    let notes = app("notes", &[]);
    let expected = [
        OwnerOnly,
        OwnRecord,
        MissingPermission(AppsRead),
        MissingPermission(AppsRead),
        MissingPermission(IdentityRead),
        MissingPermission(PeersCall),
    ];
    for (grant, reason) in all_grants().iter().zip(expected) {
        let decision = decide_core_api(&notes, grant);
        assert_eq!(decision.reason(), &reason, "{grant:?}");
        assert_eq!(decision.allowed(), reason.allows());
    }
}

#[test]
fn each_permission_opens_exactly_its_routes() {
    use CoreGrant as G;
    for permission in CorePermission::ALL {
        let caller = app("notes", &[*permission]);
        let allowed: Vec<bool> = all_grants()
            .iter()
            .map(|g| decide_core_api(&caller, g).allowed())
            .collect();
        let expected: Vec<bool> = all_grants()
            .iter()
            .map(|g| match (g, permission) {
                (G::Owner, _) => false,
                (G::OwnAppRecord { app }, _) if app == "notes" => true,
                (G::OwnAppRecord { .. } | G::AppsRead, CorePermission::AppsRead) => true,
                (G::IdentityRead, CorePermission::IdentityRead) => true,
                (G::PeersCall, CorePermission::PeersCall) => true,
                _ => false,
            })
            .collect();
        assert_eq!(allowed, expected, "{permission}");
    }
    let all = app("notes", CorePermission::ALL);
    assert_eq!(
        decide_core_api(&all, &CoreGrant::Owner).reason(),
        &CoreReason::OwnerOnly
    );
}

#[test]
fn record_names_compare_exactly() {
    let notes = app("notes", &[]);
    for other in ["Notes", "notes ", "note", "notes2", ""] {
        let grant = CoreGrant::OwnAppRecord { app: other.into() };
        assert!(!decide_core_api(&notes, &grant).allowed(), "{other:?}");
    }
    let nameless = app("", &[]);
    let grant = CoreGrant::OwnAppRecord { app: String::new() };
    assert!(!decide_core_api(&nameless, &grant).allowed());
}

#[test]
fn permissions_parse_canonically() {
    for permission in CorePermission::ALL {
        assert_eq!(
            permission.to_string().parse::<CorePermission>(),
            Ok(*permission)
        );
    }
    for bad in ["apps", "APPS:READ", "apps:write", " apps:read", ""] {
        assert!(bad.parse::<CorePermission>().is_err(), "{bad:?}");
    }
    assert_eq!(
        "apps".parse::<CorePermission>().unwrap_err().to_string(),
        "unknown core permission: expected one of `apps:read` `identity:read` `peers:call`"
    );
    assert_eq!(
        CoreReason::MissingPermission(CorePermission::PeersCall).to_string(),
        "the app lacks `peers:call`"
    );
}
