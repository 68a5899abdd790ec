//! The registry policy: who may pull, push and delete which repository.
//!
//! One pure function, [`decide`], answers every registry question; the token
//! endpoint ([`crate::grant`]) and the Portus API (`permissions`, "who may
//! pull it") both call it, so they cannot disagree. The verdict is derived
//! from the [`Reason`], so a decision can never say "allowed" for a denying
//! reason. [`policy_table`] renders the whole policy for ARCHITECTURE.md.
//!
//! Rules:
//! - The internal service user may pull, push and delete anything.
//! - Admins may do everything; a push into a namespace that does not exist
//!   yet is allowed only to them (the namespace is then created by the sync).
//! - Nobody deletes while `delete_enabled` is off, admins and service included.
//! - Global namespace (names without `/`): admins push and delete, every
//!   logged-in user pulls, anonymous pulls only if it is public. Team roles do
//!   not apply to it.
//! - Personal and team namespaces: owners pull, push and delete, contributors
//!   pull and push, viewers pull. A personal namespace belongs to a hidden team
//!   whose owner is the user, so it needs no rule of its own.
//! - Non-members pull a public namespace (anonymous too) and a protected one
//!   (logged in only); nothing else.
//! - Bots are users with their roles, never admins: an admin flag on a bot is
//!   ignored (Portus never makes bots admins, so it can only be a data error).
//! - A missing namespace: only admins push (and the service user acts).

mod table;

use std::fmt;

use crate::keyword::keyword_enum;
pub use table::policy_table;

/// Who is asking, independent of the target.
///
/// The caller's team role is a fact about the caller *and* the namespace, so it
/// lives in [`NamespaceFacts::caller_role`], looked up with the namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Subject {
    /// No credentials.
    Anonymous,
    /// A registered account.
    User {
        /// Portus admin flag; ignored for bots.
        admin: bool,
        /// Bot accounts (created by admins for CI).
        bot: bool,
    },
    /// berth's internal user (re-tagging, garbage collection, sync).
    Service,
}

/// A member's role in the team owning a namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TeamRole {
    /// Pull, push, delete, manage the team.
    Owner,
    /// Pull and push.
    Contributor,
    /// Pull.
    Viewer,
}

/// What kind of namespace a repository lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NamespaceKind {
    /// The namespace of names without `/`.
    Global,
    /// A user's own namespace, owned by the user's hidden team.
    Personal,
    /// A namespace of a regular team.
    Team,
}

/// Who besides members may pull.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Visibility {
    /// Members only (the default of new namespaces).
    Private,
    /// Every logged-in user.
    Protected,
    /// Everyone, anonymous included.
    Public,
}

/// A registry action after `*` has been expanded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    /// Read manifests and blobs.
    Pull,
    /// Write manifests and blobs.
    Push,
    /// Delete manifests (distribution deletes by digest).
    Delete,
}

/// Server-wide switches the policy depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PolicySettings {
    /// Mirrors the registry's `storage.delete.enabled`.
    pub delete_enabled: bool,
}

/// What is known about the namespace of the target repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NamespaceFacts {
    /// Global, personal or team.
    pub kind: NamespaceKind,
    /// Who besides members may pull.
    pub visibility: Visibility,
    /// The caller's role in the team owning the namespace, `None` for
    /// non-members; ignored for anonymous, the service user and the global
    /// namespace.
    pub caller_role: Option<TeamRole>,
}

/// What is known about the target repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RepositoryFacts {
    /// `None`: the namespace does not exist (yet).
    pub namespace: Option<NamespaceFacts>,
}

/// Why a decision came out as it did; the verdict follows from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// Allowed: the internal service user may do anything.
    ServiceUser,
    /// Allowed: admins may do anything.
    Admin,
    /// Allowed: an admin pushes into a namespace that does not exist yet.
    AdminCreatesNamespace,
    /// Allowed: the caller's team role permits the action.
    Member(TeamRole),
    /// Allowed: anyone may pull from a public namespace.
    PublicNamespace,
    /// Allowed: logged-in users may pull from a protected namespace.
    ProtectedNamespace,
    /// Allowed: logged-in users may pull from the global namespace.
    GlobalNamespacePull,
    /// Denied: deletion is disabled on this server.
    DeleteDisabled,
    /// Denied: the namespace does not exist.
    NamespaceMissing,
    /// Denied: anonymous callers may only pull from public namespaces.
    Unauthenticated,
    /// Denied: the caller's team role does not permit the action.
    RoleInsufficient(TeamRole),
    /// Denied: the caller is not a member of the owning team.
    NotMember,
    /// Denied: only admins push to and delete from the global namespace.
    GlobalNamespaceAdminOnly,
    /// Denied: only admins and the service user may list the catalog.
    NotAdmin,
    /// Denied: the facts needed for the decision could not be had.
    FactsUnavailable,
}

/// A verdict with the reason that produced it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Decision {
    // INVARIANT: `allowed == reason.allows()`.
    allowed: bool,
    reason: Reason,
}

/// Decides whether `subject` may perform `action` on a repository with facts `target`.
pub fn decide(
    subject: &Subject,
    target: &RepositoryFacts,
    action: Action,
    settings: &PolicySettings,
) -> Decision {
    Decision::from_reason(reason_for(subject, target, action, settings))
}

/// Decides whether `subject` may list the registry catalog (`registry:catalog:*`).
pub fn decide_catalog(subject: &Subject) -> Decision {
    Decision::from_reason(match effective(subject) {
        Effective::Service => Reason::ServiceUser,
        Effective::Admin => Reason::Admin,
        Effective::User => Reason::NotAdmin,
        Effective::Anonymous => Reason::Unauthenticated,
    })
}

impl Decision {
    /// Wraps a reason; the verdict is the reason's.
    pub fn from_reason(reason: Reason) -> Self {
        Self {
            allowed: reason.allows(),
            reason,
        }
    }

    /// Whether the action is allowed.
    pub fn allowed(&self) -> bool {
        self.allowed
    }

    /// Why.
    pub fn reason(&self) -> Reason {
        self.reason
    }
}

impl Reason {
    /// Whether this reason allows; one exhaustive list, so a new reason must
    /// be sorted into one side on purpose.
    pub fn allows(self) -> bool {
        match self {
            Self::ServiceUser
            | Self::Admin
            | Self::AdminCreatesNamespace
            | Self::Member(_)
            | Self::PublicNamespace
            | Self::ProtectedNamespace
            | Self::GlobalNamespacePull => true,
            Self::DeleteDisabled
            | Self::NamespaceMissing
            | Self::Unauthenticated
            | Self::RoleInsufficient(_)
            | Self::NotMember
            | Self::GlobalNamespaceAdminOnly
            | Self::NotAdmin
            | Self::FactsUnavailable => false,
        }
    }
}

/// The subject as the rules see it: bots lose the admin flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effective {
    Anonymous,
    User,
    Admin,
    Service,
}

fn effective(subject: &Subject) -> Effective {
    match subject {
        Subject::Anonymous => Effective::Anonymous,
        Subject::User {
            admin: true,
            bot: false,
        } => Effective::Admin,
        Subject::User {
            admin: true | false,
            bot: true,
        }
        | Subject::User {
            admin: false,
            bot: false,
        } => Effective::User,
        Subject::Service => Effective::Service,
    }
}

fn reason_for(
    subject: &Subject,
    target: &RepositoryFacts,
    action: Action,
    settings: &PolicySettings,
) -> Reason {
    match (action, settings.delete_enabled) {
        (Action::Delete, false) => return Reason::DeleteDisabled,
        (Action::Delete, true) | (Action::Pull | Action::Push, _) => {}
    }
    match (effective(subject), target.namespace) {
        (Effective::Service, _) => Reason::ServiceUser,
        (Effective::Admin, Some(_)) => Reason::Admin,
        (Effective::Admin, None) => match action {
            Action::Push => Reason::AdminCreatesNamespace,
            Action::Pull | Action::Delete => Reason::NamespaceMissing,
        },
        (Effective::User | Effective::Anonymous, None) => Reason::NamespaceMissing,
        (Effective::Anonymous, Some(ns)) => anonymous(ns, action),
        (Effective::User, Some(ns)) => user(ns, action),
    }
}

fn anonymous(ns: NamespaceFacts, action: Action) -> Reason {
    match (action, ns.visibility) {
        (Action::Pull, Visibility::Public) => Reason::PublicNamespace,
        (Action::Pull, Visibility::Private | Visibility::Protected)
        | (Action::Push | Action::Delete, _) => Reason::Unauthenticated,
    }
}

fn user(ns: NamespaceFacts, action: Action) -> Reason {
    match ns.kind {
        NamespaceKind::Global => match action {
            Action::Pull => Reason::GlobalNamespacePull,
            Action::Push | Action::Delete => Reason::GlobalNamespaceAdminOnly,
        },
        NamespaceKind::Personal | NamespaceKind::Team => match (ns.caller_role, action) {
            (Some(role @ TeamRole::Owner), _)
            | (Some(role @ TeamRole::Contributor), Action::Pull | Action::Push)
            | (Some(role @ TeamRole::Viewer), Action::Pull) => Reason::Member(role),
            (Some(role @ TeamRole::Contributor), Action::Delete)
            | (Some(role @ TeamRole::Viewer), Action::Push | Action::Delete) => {
                Reason::RoleInsufficient(role)
            }
            (None, Action::Pull) => match ns.visibility {
                Visibility::Public => Reason::PublicNamespace,
                Visibility::Protected => Reason::ProtectedNamespace,
                Visibility::Private => Reason::NotMember,
            },
            (None, Action::Push | Action::Delete) => Reason::NotMember,
        },
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ServiceUser => f.write_str("the internal service user may do anything"),
            Self::Admin => f.write_str("admins may do anything"),
            Self::AdminCreatesNamespace => {
                f.write_str("admins may push into a namespace that does not exist yet")
            }
            Self::Member(role) => write!(f, "the caller is a team {role}"),
            Self::PublicNamespace => f.write_str("the namespace is public"),
            Self::ProtectedNamespace => {
                f.write_str("the namespace is protected and the caller is logged in")
            }
            Self::GlobalNamespacePull => {
                f.write_str("logged-in users may pull from the global namespace")
            }
            Self::DeleteDisabled => f.write_str("deletion is disabled on this server"),
            Self::NamespaceMissing => f.write_str("the namespace does not exist"),
            Self::Unauthenticated => f.write_str("the caller is not logged in"),
            Self::RoleInsufficient(role) => {
                write!(f, "a team {role} may not do this")
            }
            Self::NotMember => f.write_str("the caller is not a member of the owning team"),
            Self::GlobalNamespaceAdminOnly => {
                f.write_str("only admins may change the global namespace")
            }
            Self::NotAdmin => f.write_str("only admins may do this"),
            Self::FactsUnavailable => f.write_str("the repository could not be looked up"),
        }
    }
}

keyword_enum!(TeamRole, "team role", {
    Owner => "owner",
    Contributor => "contributor",
    Viewer => "viewer",
});

keyword_enum!(NamespaceKind, "namespace kind", {
    Global => "global",
    Personal => "personal",
    Team => "team",
});

keyword_enum!(Visibility, "visibility", {
    Private => "private",
    Protected => "protected",
    Public => "public",
});

keyword_enum!(Action, "action", {
    Pull => "pull",
    Push => "push",
    Delete => "delete",
});

#[cfg(test)]
mod tests;
