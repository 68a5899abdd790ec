//! Token scopes: parsing what `docker` asks for at `/v2/token`, and their canonical form.
//!
//! A scope is `resourcetype[(class)]:resourcename:action[,action]*`. The name
//! may itself hold `:` (a `host:port/` prefix), so the type ends at the first
//! `:` and the actions start after the last one.
//!
//! [`parse_scopes`] is lenient per scope and strict on size: a scope it cannot
//! understand is dropped and reported, never fatal to its neighbours (the
//! token server may always grant less than was asked), but a request over the
//! caps is refused whole, because only a hostile client sends one.
//!
//! Decisions where the spec leaves room:
//! - `repository(plugin)` is read as `repository`: the registry ignores the
//!   class when it checks a token, so authorization is the same, and the
//!   canonical form drops the class. Any other class is dropped.
//! - `*` on a repository stands for every action; a scope holding `*` is
//!   canonically just `*` (`pull,push,*` is `*`).
//! - The only `registry` resource is `catalog`, and its only action is `*`.
//! - Names are never normalized: `repository:ALICE/x:pull`,
//!   `repository:a/../b:push` and `repository:host:5000/a:pull` are dropped
//!   as invalid names, and so is `repository:alice/x:pull:push` (its name is
//!   `alice/x:pull`).

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use crate::names::{NameError, RepositoryName};

/// At most this many scopes in one token request (counting every `scope`
/// parameter, and every space-separated scope inside one).
pub const MAX_SCOPES: usize = 64;

/// At most this many bytes in one scope.
pub const MAX_SCOPE_LEN: usize = 512;

/// At most this many bytes over all `scope` parameters of one request.
pub const MAX_SCOPES_TOTAL_LEN: usize = 8 * 1024;

/// A request over the caps: the token endpoint answers 400 (malformed request).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    /// More scopes (or `scope` parameters) than [`MAX_SCOPES`].
    #[error("too many scopes: at most {max} are accepted")]
    TooManyScopes {
        /// The cap.
        max: usize,
    },
    /// One scope longer than [`MAX_SCOPE_LEN`].
    #[error("a scope is longer than {max} bytes")]
    ScopeTooLong {
        /// The cap.
        max: usize,
    },
    /// All scopes together longer than [`MAX_SCOPES_TOTAL_LEN`].
    #[error("the scopes are longer than {max} bytes in total")]
    TooLarge {
        /// The cap.
        max: usize,
    },
}

/// Why one scope, or one action of it, was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DropReason {
    /// Fewer than two `:`.
    #[error("scope must have the form `type:name:actions`")]
    Malformed,
    /// A type other than `repository`, `repository(plugin)` or `registry`.
    #[error("unknown resource type `{0}`")]
    UnknownResourceType(String),
    /// A `registry` resource other than `catalog`.
    #[error("unknown registry resource `{0}`")]
    UnknownRegistryResource(String),
    /// The repository name is not canonical.
    #[error("invalid repository name: {0}")]
    InvalidName(NameError),
    /// An action this resource does not know; the scope's other actions stay.
    #[error("unknown action `{0}`")]
    UnknownAction(String),
    /// Not a single known action was left.
    #[error("scope names no known action")]
    NoKnownAction,
}

/// What the requested part of a scope refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ResourceType {
    /// `repository` (and `repository(plugin)`).
    Repository,
    /// `registry` (only `registry:catalog:*`).
    Registry,
}

/// A resource a token can give access to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Resource {
    /// One repository.
    Repository(RepositoryName),
    /// The registry's catalog (`/v2/_catalog`).
    Catalog,
}

/// An action as written in a scope; `All` is `*`.
///
/// The order (`pull`, `push`, `delete`, `*`) is the canonical order of actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ScopeAction {
    /// `pull`
    Pull,
    /// `push`
    Push,
    /// `delete`
    Delete,
    /// `*`
    All,
}

/// One understood scope: a resource and a normalized, non-empty set of actions.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Scope {
    resource: Resource,
    // INVARIANT: non-empty, sorted, deduplicated; `[All]` alone if `All` was
    // asked; `[All]` for the catalog.
    actions: Vec<ScopeAction>,
}

/// A scope, or one action of a scope, that was left out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    scope: String,
    reason: DropReason,
}

/// The result of [`parse_scopes`]: merged scopes plus what was left out.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ParsedScopes {
    scopes: Vec<Scope>,
    dropped: Vec<Dropped>,
}

/// Parses the `scope` parameters of one token request.
///
/// Each item of `params` is one `scope` parameter (GET sends several); each may
/// hold several scopes separated by spaces (the form-encoded POST does). Scopes
/// naming the same resource merge; the result is sorted by resource.
pub fn parse_scopes<'a>(
    params: impl IntoIterator<Item = &'a str>,
) -> Result<ParsedScopes, ScopeError> {
    let mut total_len = 0_usize;
    let mut count = 0_usize;
    let mut params_seen = 0_usize;
    let mut merged: BTreeMap<Resource, BTreeSet<ScopeAction>> = BTreeMap::new();
    let mut dropped = Vec::new();
    for param in params {
        params_seen += 1;
        if params_seen > MAX_SCOPES {
            return Err(ScopeError::TooManyScopes { max: MAX_SCOPES });
        }
        total_len = total_len.saturating_add(param.len());
        if total_len > MAX_SCOPES_TOTAL_LEN {
            return Err(ScopeError::TooLarge {
                max: MAX_SCOPES_TOTAL_LEN,
            });
        }
        for raw in param.split(' ').filter(|s| !s.is_empty()) {
            count += 1;
            if count > MAX_SCOPES {
                return Err(ScopeError::TooManyScopes { max: MAX_SCOPES });
            }
            if raw.len() > MAX_SCOPE_LEN {
                return Err(ScopeError::ScopeTooLong { max: MAX_SCOPE_LEN });
            }
            let drop = |reason| Dropped {
                scope: raw.to_owned(),
                reason,
            };
            match parse_lenient(raw) {
                Ok((resource, actions, unknown)) => {
                    merged.entry(resource).or_default().extend(actions);
                    dropped.extend(unknown.into_iter().map(DropReason::UnknownAction).map(drop));
                }
                Err((reason, unknown)) => {
                    dropped.extend(unknown.into_iter().map(DropReason::UnknownAction).map(drop));
                    dropped.push(drop(reason));
                }
            }
        }
    }
    let scopes = merged
        .into_iter()
        .map(|(resource, actions)| Scope {
            resource,
            actions: normalize(actions),
        })
        .collect();
    Ok(ParsedScopes { scopes, dropped })
}

impl Scope {
    /// Parses one scope; unlike [`parse_scopes`], an unknown action is an error.
    ///
    /// Actions may come in any order and repeat; [`fmt::Display`] writes the
    /// canonical form, which parses back to an equal `Scope`.
    pub fn parse(input: &str) -> Result<Self, DropReason> {
        match parse_lenient(input) {
            Ok((resource, actions, unknown)) => match unknown.into_iter().next() {
                Some(action) => Err(DropReason::UnknownAction(action)),
                None => Ok(Self {
                    resource,
                    actions: normalize(actions),
                }),
            },
            Err((reason, _)) => Err(reason),
        }
    }

    /// A scope on one repository; `None` if `actions` is empty.
    pub fn repository(
        name: RepositoryName,
        actions: impl IntoIterator<Item = ScopeAction>,
    ) -> Option<Self> {
        let actions = normalize(actions.into_iter().collect());
        match actions.is_empty() {
            true => None,
            false => Some(Self {
                resource: Resource::Repository(name),
                actions,
            }),
        }
    }

    /// `registry:catalog:*`
    pub fn catalog() -> Self {
        Self {
            resource: Resource::Catalog,
            actions: vec![ScopeAction::All],
        }
    }

    /// The resource asked for.
    pub fn resource(&self) -> &Resource {
        &self.resource
    }

    /// The actions asked for: non-empty, in canonical order, `[*]` alone if
    /// `*` was among them.
    pub fn actions(&self) -> &[ScopeAction] {
        &self.actions
    }
}

impl ParsedScopes {
    /// The understood scopes, one per resource, sorted by resource.
    pub fn scopes(&self) -> &[Scope] {
        &self.scopes
    }

    /// What was left out, in request order, for logs.
    pub fn dropped(&self) -> &[Dropped] {
        &self.dropped
    }

    /// The understood scopes, by value.
    pub fn into_scopes(self) -> Vec<Scope> {
        self.scopes
    }
}

impl Dropped {
    /// The scope as the client sent it (at most [`MAX_SCOPE_LEN`] bytes).
    pub fn scope(&self) -> &str {
        &self.scope
    }

    /// Why it, or one of its actions, was left out.
    pub fn reason(&self) -> &DropReason {
        &self.reason
    }
}

impl Resource {
    /// The resource type.
    pub fn resource_type(&self) -> ResourceType {
        match self {
            Self::Repository(_) => ResourceType::Repository,
            Self::Catalog => ResourceType::Registry,
        }
    }

    /// The resource name as written in a scope and in the token.
    pub fn name(&self) -> &str {
        match self {
            Self::Repository(name) => name.as_str(),
            Self::Catalog => "catalog",
        }
    }
}

impl ResourceType {
    /// The type as written in a scope and in the token's `type` field.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Repository => "repository",
            Self::Registry => "registry",
        }
    }
}

impl ScopeAction {
    /// Every action, in canonical order.
    pub const ALL: [Self; 4] = [Self::Pull, Self::Push, Self::Delete, Self::All];

    /// The action as written in a scope and in the token.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pull => "pull",
            Self::Push => "push",
            Self::Delete => "delete",
            Self::All => "*",
        }
    }

    /// Parses one action; `None` for an unknown one.
    pub fn parse(input: &str) -> Option<Self> {
        match input {
            "pull" => Some(Self::Pull),
            "push" => Some(Self::Push),
            "delete" => Some(Self::Delete),
            "*" => Some(Self::All),
            _ => None,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:",
            self.resource.resource_type().as_str(),
            self.resource.name()
        )?;
        for (i, action) in self.actions.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(action.as_str())?;
        }
        Ok(())
    }
}

impl fmt::Display for ScopeAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for ResourceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = DropReason;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The known actions of one scope, plus the unknown ones for the report.
type Lenient = (Resource, BTreeSet<ScopeAction>, Vec<String>);

/// Parses one scope, keeping the known actions and listing the unknown ones.
///
/// On error the unknown actions seen so far are returned too, so that the
/// report names them.
fn parse_lenient(input: &str) -> Result<Lenient, (DropReason, Vec<String>)> {
    let no_unknown = |reason| (reason, Vec::new());
    let (resource_type, rest) = input
        .split_once(':')
        .ok_or_else(|| no_unknown(DropReason::Malformed))?;
    let (name, actions) = rest
        .rsplit_once(':')
        .ok_or_else(|| no_unknown(DropReason::Malformed))?;
    let resource = match resource_type {
        "repository" | "repository(plugin)" => RepositoryName::parse(name)
            .map(Resource::Repository)
            .map_err(|e| no_unknown(DropReason::InvalidName(e)))?,
        "registry" => match name {
            "catalog" => Resource::Catalog,
            other => {
                return Err(no_unknown(DropReason::UnknownRegistryResource(
                    other.to_owned(),
                )));
            }
        },
        other => {
            return Err(no_unknown(DropReason::UnknownResourceType(
                other.to_owned(),
            )));
        }
    };
    let mut known = BTreeSet::new();
    let mut unknown = Vec::new();
    for action in actions.split(',') {
        match (&resource, ScopeAction::parse(action)) {
            (Resource::Repository(_), Some(action))
            | (Resource::Catalog, Some(action @ ScopeAction::All)) => {
                known.insert(action);
            }
            (Resource::Catalog, Some(_)) | (_, None) => unknown.push(action.to_owned()),
        }
    }
    match known.is_empty() {
        true => Err((DropReason::NoKnownAction, unknown)),
        false => Ok((resource, known, unknown)),
    }
}

/// Sorted, deduplicated, and `*` swallows everything else.
fn normalize(actions: BTreeSet<ScopeAction>) -> Vec<ScopeAction> {
    match actions.contains(&ScopeAction::All) {
        true => vec![ScopeAction::All],
        false => actions.into_iter().collect(),
    }
}

#[cfg(test)]
mod tests;
