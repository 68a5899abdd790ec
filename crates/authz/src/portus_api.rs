//! Who may call which Portus API v1 route.
//!
//! Every route of `/api/v1` declares one [`ApiGrant`] in the API's route
//! table; [`decide_api`] is the only place that turns a grant, the caller and
//! the facts about the target into a verdict. Registry-shaped grants
//! (pull/push/delete a namespace or repository) are answered by
//! [`crate::policy::decide`], so the API and the token endpoint cannot
//! disagree.
//!
//! Rules:
//! - An anonymous caller gets [`ApiVerdict::Unauthenticated`] (401) for any
//!   grant but [`ApiGrant::Anyone`], [`ApiGrant::Bootstrap`] and pulls the
//!   policy allows anonymously (public namespaces).
//! - Admins may do everything except act as another user's application
//!   tokens: they manage tokens of bots only (as in Portus).
//! - Team management needs the owner role; reading a team needs membership.
//! - Creating a namespace needs owner or contributor in the team.
//! - Facts that are missing or of the wrong kind deny.

use crate::policy::{
    Action, NamespaceFacts, PolicySettings, RepositoryFacts, Subject, TeamRole, decide,
};

/// The grant a route requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApiGrant {
    /// Anyone, anonymous included.
    Anyone,
    /// Anyone, while no admin exists (the handler checks that part).
    Bootstrap,
    /// Any logged-in user.
    LoggedIn,
    /// Admins only.
    Admin,
    /// The user named in the path, or an admin when that user is a bot.
    UserSelf,
    /// The owner of the application token named in the path.
    TokenOwner,
    /// A member of the team in the path, or an admin.
    TeamMember,
    /// An owner of the team in the path, or an admin.
    TeamOwner,
    /// An owner or contributor of the team named in the body, or an admin.
    NamespaceCreate,
    /// An owner of the namespace's team, or an admin.
    NamespaceOwner,
    /// Whoever the registry policy lets pull from the namespace.
    Pull,
    /// Whoever the registry policy lets push to the namespace.
    Push,
    /// Whoever the registry policy lets delete from the namespace.
    Delete,
}

/// The caller of an API route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApiCaller {
    /// No `Portus-Auth` header.
    Anonymous,
    /// A logged-in user.
    User {
        /// The user's id.
        id: i64,
        /// Admin flag (ignored for bots by the registry policy).
        admin: bool,
        /// Bot flag.
        bot: bool,
    },
}

/// What is known about the route's target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApiTarget {
    /// The route names no resource (lists, creation).
    None,
    /// A user account.
    User {
        /// Its id.
        id: i64,
        /// Whether it is a bot.
        bot: bool,
    },
    /// An application token.
    Token {
        /// Its owner's id.
        owner: i64,
    },
    /// A team, with the caller's role in it.
    Team {
        /// `None` for non-members.
        caller_role: Option<TeamRole>,
    },
    /// A namespace (or a repository or tag inside one).
    Namespace(NamespaceFacts),
}

/// The verdict: allowed, 401, or 403.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApiVerdict {
    /// Go ahead.
    Allowed,
    /// Log in first (401).
    Unauthenticated,
    /// Logged in, not allowed (403).
    Forbidden,
}

/// Decides whether `caller` may use a route requiring `grant` on `target`.
pub fn decide_api(
    grant: ApiGrant,
    caller: ApiCaller,
    target: ApiTarget,
    settings: &PolicySettings,
) -> ApiVerdict {
    match grant {
        ApiGrant::Anyone | ApiGrant::Bootstrap => ApiVerdict::Allowed,
        ApiGrant::Pull => registry(caller, target, Action::Pull, settings),
        ApiGrant::Push => registry(caller, target, Action::Push, settings),
        ApiGrant::Delete => registry(caller, target, Action::Delete, settings),
        ApiGrant::LoggedIn
        | ApiGrant::Admin
        | ApiGrant::UserSelf
        | ApiGrant::TokenOwner
        | ApiGrant::TeamMember
        | ApiGrant::TeamOwner
        | ApiGrant::NamespaceCreate
        | ApiGrant::NamespaceOwner => match caller {
            ApiCaller::Anonymous => ApiVerdict::Unauthenticated,
            ApiCaller::User { id, admin, bot } => {
                let admin = admin && !bot;
                verdict(logged_in(grant, id, admin, target))
            }
        },
    }
}

fn logged_in(grant: ApiGrant, id: i64, admin: bool, target: ApiTarget) -> bool {
    match (grant, target) {
        (ApiGrant::LoggedIn, _) => true,
        (ApiGrant::Admin, _) => admin,
        (ApiGrant::UserSelf, ApiTarget::User { id: target, bot }) => id == target || (admin && bot),
        (ApiGrant::TokenOwner, ApiTarget::Token { owner }) => id == owner,
        (ApiGrant::TeamMember, ApiTarget::Team { caller_role }) => admin || caller_role.is_some(),
        (ApiGrant::TeamOwner, ApiTarget::Team { caller_role }) => {
            admin || caller_role == Some(TeamRole::Owner)
        }
        (ApiGrant::NamespaceCreate, ApiTarget::Team { caller_role }) => {
            admin || matches!(caller_role, Some(TeamRole::Owner | TeamRole::Contributor))
        }
        (ApiGrant::NamespaceOwner, ApiTarget::Namespace(ns)) => {
            admin || ns.caller_role == Some(TeamRole::Owner)
        }
        // Any other pairing is a target of the wrong kind: deny.
        (
            ApiGrant::UserSelf
            | ApiGrant::TokenOwner
            | ApiGrant::TeamMember
            | ApiGrant::TeamOwner
            | ApiGrant::NamespaceCreate
            | ApiGrant::NamespaceOwner
            | ApiGrant::Anyone
            | ApiGrant::Bootstrap
            | ApiGrant::Pull
            | ApiGrant::Push
            | ApiGrant::Delete,
            _,
        ) => false,
    }
}

fn registry(
    caller: ApiCaller,
    target: ApiTarget,
    action: Action,
    settings: &PolicySettings,
) -> ApiVerdict {
    let ApiTarget::Namespace(ns) = target else {
        return match caller {
            ApiCaller::Anonymous => ApiVerdict::Unauthenticated,
            ApiCaller::User { .. } => ApiVerdict::Forbidden,
        };
    };
    let subject = match caller {
        ApiCaller::Anonymous => Subject::Anonymous,
        ApiCaller::User { admin, bot, .. } => Subject::User { admin, bot },
    };
    let facts = RepositoryFacts {
        namespace: Some(ns),
    };
    match (decide(&subject, &facts, action, settings).allowed(), caller) {
        (true, _) => ApiVerdict::Allowed,
        (false, ApiCaller::Anonymous) => ApiVerdict::Unauthenticated,
        (false, ApiCaller::User { .. }) => ApiVerdict::Forbidden,
    }
}

fn verdict(allowed: bool) -> ApiVerdict {
    if allowed {
        ApiVerdict::Allowed
    } else {
        ApiVerdict::Forbidden
    }
}

#[cfg(test)]
mod tests;
