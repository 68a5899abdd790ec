//! Calls to the core API (`http://portal_core`): who may use which route.
//!
//! In the original any app on the Docker network could call the owner's
//! `/protected` routes. Here every route declares one [`CoreGrant`] and the
//! caller is either the owner (through a terminal) or an identified app
//! holding explicit permissions from its app.json. An app sees its own record
//! and nothing else unless it holds the permission; everything not granted is
//! denied.

use std::collections::BTreeSet;
use std::fmt;

use crate::keyword::keyword_enum;

/// A permission an app may be given in its app.json.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CorePermission {
    /// `apps:read`: list and read every installed app's record.
    AppsRead,
    /// `identity:read`: read the Portal's identities.
    IdentityRead,
    /// `peers:call`: make signed calls to the same app on other Portals.
    PeersCall,
}

keyword_enum!(CorePermission, "core permission", {
    AppsRead => "apps:read",
    IdentityRead => "identity:read",
    PeersCall => "peers:call",
});

/// Who calls the core API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoreCaller {
    /// The owner, through one of the paired terminals.
    Owner,
    /// An installed app, identified by the core (not by anything it claims).
    App {
        /// The app's name.
        name: String,
        /// What its app.json was granted at install time.
        permissions: BTreeSet<CorePermission>,
    },
}

/// What a core API route requires; each route declares exactly one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoreGrant {
    /// Owner only (installing, pairing, identities management, ...).
    Owner,
    /// The record of one app: the app itself, or a holder of `apps:read`.
    OwnAppRecord {
        /// The app whose record is asked for.
        app: String,
    },
    /// Every app's record.
    AppsRead,
    /// The Portal's identities.
    IdentityRead,
    /// Signed calls to peers.
    PeersCall,
}

/// Why a core API call was let through or not.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CoreReason {
    /// Allowed: the owner may do everything.
    Owner,
    /// Allowed: an app reads its own record.
    OwnRecord,
    /// Allowed: the app holds the permission.
    Permission(CorePermission),
    /// Denied: the route is for the owner only.
    OwnerOnly,
    /// Denied: the app lacks the permission.
    MissingPermission(CorePermission),
}

/// A core API verdict with its reason.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CoreDecision {
    // INVARIANT: `allowed == reason.allows()`.
    allowed: bool,
    reason: CoreReason,
}

/// Decides whether `caller` may use a route requiring `grant`.
pub fn decide_core_api(caller: &CoreCaller, grant: &CoreGrant) -> CoreDecision {
    let reason = match caller {
        CoreCaller::Owner => CoreReason::Owner,
        CoreCaller::App { name, permissions } => {
            let needs = |permission| match permissions.contains(&permission) {
                true => CoreReason::Permission(permission),
                false => CoreReason::MissingPermission(permission),
            };
            match grant {
                CoreGrant::Owner => CoreReason::OwnerOnly,
                // An empty name never matches, even an empty `app`.
                CoreGrant::OwnAppRecord { app } if !name.is_empty() && app == name => {
                    CoreReason::OwnRecord
                }
                CoreGrant::OwnAppRecord { .. } | CoreGrant::AppsRead => {
                    needs(CorePermission::AppsRead)
                }
                CoreGrant::IdentityRead => needs(CorePermission::IdentityRead),
                CoreGrant::PeersCall => needs(CorePermission::PeersCall),
            }
        }
    };
    CoreDecision::from_reason(reason)
}

impl CoreDecision {
    /// Wraps a reason; the verdict is the reason's.
    pub fn from_reason(reason: CoreReason) -> Self {
        Self {
            allowed: reason.allows(),
            reason,
        }
    }

    /// Whether the call may proceed.
    pub fn allowed(&self) -> bool {
        self.allowed
    }

    /// Why.
    pub fn reason(&self) -> &CoreReason {
        &self.reason
    }
}

impl CoreReason {
    /// Whether this reason allows.
    pub fn allows(&self) -> bool {
        match self {
            Self::Owner | Self::OwnRecord | Self::Permission(_) => true,
            Self::OwnerOnly | Self::MissingPermission(_) => false,
        }
    }
}

impl fmt::Display for CoreReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Owner => f.write_str("the owner may do everything"),
            Self::OwnRecord => f.write_str("an app may read its own record"),
            Self::Permission(p) => write!(f, "the app holds `{p}`"),
            Self::OwnerOnly => f.write_str("only the owner may do this"),
            Self::MissingPermission(p) => write!(f, "the app lacks `{p}`"),
        }
    }
}

#[cfg(test)]
mod tests;
