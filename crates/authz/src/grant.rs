//! What goes into a registry token: every requested action decided on its own.
//!
//! [`decide_scopes`] turns each requested action into one [`ScopeDecision`]
//! (the audit trail); [`grant`] keeps the allowed ones in the shape of the
//! token's `access` claim. Invariants, checked by tests:
//! - a token never holds an action that was not both requested and allowed;
//! - `*` on a repository is expanded and granted as the concrete allowed
//!   actions, never as `*` (so a later new action cannot slip in);
//! - `registry:catalog:*` is granted as `*` to admins and the service user only;
//! - the output is sorted and deduplicated, resources without any allowed
//!   action are left out, and facts are looked up once per repository;
//! - a repository whose facts cannot be had (`None`) gets nothing.

use std::collections::BTreeMap;
use std::collections::BTreeSet;

use crate::names::RepositoryName;
use crate::policy::{
    Action, Decision, PolicySettings, Reason, RepositoryFacts, Subject, decide, decide_catalog,
};
use crate::scope::{Resource, ResourceType, Scope, ScopeAction};

/// One entry of the token's `access` claim: `{"type", "name", "actions"}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GrantedAccess {
    resource: Resource,
    // INVARIANT: non-empty, sorted, deduplicated; concrete actions for a
    // repository, `[All]` for the catalog.
    actions: Vec<ScopeAction>,
}

/// The decision on one concrete action of one requested resource.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ScopeDecision {
    resource: Resource,
    action: ScopeAction,
    decision: Decision,
}

/// Decides every requested action on its own, for logs and for [`grant`].
///
/// `facts` is called at most once per requested repository; `None` means the
/// facts could not be had, and every action on that repository is denied.
/// The result is sorted by resource and action, one entry per pair.
pub fn decide_scopes(
    subject: &Subject,
    requested: &[Scope],
    facts: impl Fn(&RepositoryName) -> Option<RepositoryFacts>,
    settings: &PolicySettings,
) -> Vec<ScopeDecision> {
    let mut repositories: BTreeMap<&RepositoryName, BTreeSet<Action>> = BTreeMap::new();
    let mut catalog = false;
    for scope in requested {
        match scope.resource() {
            Resource::Repository(name) => {
                let actions = repositories.entry(name).or_default();
                for action in scope.actions() {
                    match concrete(*action) {
                        Some(action) => {
                            actions.insert(action);
                        }
                        None => actions.extend(Action::ALL),
                    }
                }
            }
            // INVARIANT: a catalog scope holds exactly `*`.
            Resource::Catalog => catalog = true,
        }
    }
    let mut out = Vec::new();
    for (name, actions) in repositories {
        let target = facts(name);
        for action in actions {
            out.push(ScopeDecision {
                resource: Resource::Repository(name.clone()),
                action: ScopeAction::from(action),
                decision: match &target {
                    Some(target) => decide(subject, target, action, settings),
                    None => Decision::from_reason(Reason::FactsUnavailable),
                },
            });
        }
    }
    // `Resource::Catalog` sorts after every repository, so `out` stays sorted.
    if catalog {
        out.push(ScopeDecision {
            resource: Resource::Catalog,
            action: ScopeAction::All,
            decision: decide_catalog(subject),
        });
    }
    out
}

/// The token's `access` claim for `requested`: only actions checked and allowed.
pub fn grant(
    subject: &Subject,
    requested: &[Scope],
    facts: impl Fn(&RepositoryName) -> Option<RepositoryFacts>,
    settings: &PolicySettings,
) -> Vec<GrantedAccess> {
    let mut granted: Vec<GrantedAccess> = Vec::new();
    for decided in decide_scopes(subject, requested, facts, settings) {
        if !decided.decision.allowed() {
            continue;
        }
        // `decide_scopes` is sorted by resource, so equal resources are adjacent.
        match granted.last_mut() {
            Some(last) if last.resource == decided.resource => last.actions.push(decided.action),
            Some(_) | None => granted.push(GrantedAccess {
                resource: decided.resource,
                actions: vec![decided.action],
            }),
        }
    }
    granted
}

impl GrantedAccess {
    /// The `type` field: `repository` or `registry`.
    pub fn resource_type(&self) -> ResourceType {
        self.resource.resource_type()
    }

    /// The resource.
    pub fn resource(&self) -> &Resource {
        &self.resource
    }

    /// The `name` field.
    pub fn name(&self) -> &str {
        self.resource.name()
    }

    /// The `actions` field, in canonical order.
    pub fn actions(&self) -> &[ScopeAction] {
        &self.actions
    }
}

impl ScopeDecision {
    /// The resource asked for.
    pub fn resource(&self) -> &Resource {
        &self.resource
    }

    /// The concrete action decided (`*` only for the catalog).
    pub fn action(&self) -> ScopeAction {
        self.action
    }

    /// The verdict and its reason.
    pub fn decision(&self) -> Decision {
        self.decision
    }
}

impl From<Action> for ScopeAction {
    fn from(action: Action) -> Self {
        match action {
            Action::Pull => Self::Pull,
            Action::Push => Self::Push,
            Action::Delete => Self::Delete,
        }
    }
}

/// The policy action behind a scope action; `None` for `*`, which is never decided as such.
fn concrete(action: ScopeAction) -> Option<Action> {
    match action {
        ScopeAction::Pull => Some(Action::Pull),
        ScopeAction::Push => Some(Action::Push),
        ScopeAction::Delete => Some(Action::Delete),
        ScopeAction::All => None,
    }
}

#[cfg(test)]
mod tests;
