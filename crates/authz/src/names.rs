//! Repository and namespace names: the distribution's path grammar, canonical only.
//!
//! Every security decision keys on these names, so they are parsed, never
//! validated in place: a `RepositoryName` or `NamespaceName` that exists is
//! well formed, and `parse(s)?.to_string() == s` holds for every accepted `s`.
//! Nothing is normalized (no lowercasing, no trimming, no slash folding): an
//! input that is not already canonical is refused, so two spellings can never
//! name the same repository.

use std::fmt;
use std::str::FromStr;

/// The longest repository name the distribution accepts, in bytes.
pub const MAX_REPOSITORY_NAME_LEN: usize = 255;

/// The longest namespace name, in bytes.
///
/// A namespace only exists to hold repositories, and the shortest repository
/// in it is `<namespace>/x`, so a namespace longer than 253 bytes could never
/// hold one within [`MAX_REPOSITORY_NAME_LEN`].
pub const MAX_NAMESPACE_NAME_LEN: usize = MAX_REPOSITORY_NAME_LEN - 2;

/// The longest path component echoed back in an error, so that hostile input
/// cannot blow up logs or problem bodies.
const MAX_ECHOED_COMPONENT: usize = 64;

/// Why a string is not a repository or namespace name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The input is the empty string.
    #[error("name is empty")]
    Empty,
    /// The input is longer than the limit.
    #[error("name is {length} bytes long, longer than the limit of {max}")]
    TooLong {
        /// Length of the input in bytes.
        length: usize,
        /// The limit that applies.
        max: usize,
    },
    /// A character outside `[a-z0-9._-]` (and `/` for repositories).
    #[error("invalid character `{}` in name: use lowercase letters, digits, `.`, `_`, `-`{}", .found.escape_debug(), if *.slash_allowed { " and `/`" } else { "" })]
    InvalidCharacter {
        /// The first offending character.
        found: char,
        /// Whether `/` would have been accepted (repositories yes, namespaces no).
        slash_allowed: bool,
    },
    /// A leading, trailing or doubled `/`.
    #[error("name has an empty path component: no leading, trailing or doubled `/`")]
    EmptyComponent,
    /// A component that starts or ends with a separator, or repeats one.
    #[error(
        "path component `{component}` must start and end with a letter or digit, with a single `.`, `_`, `__` or dashes between them"
    )]
    InvalidComponent {
        /// The offending component, cut to 64 bytes.
        component: String,
    },
}

/// A repository name such as `alice/app` or `nginx`, canonical by construction.
///
/// Path components match `[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*` and are
/// joined by `/`; the whole name is at most 255 bytes. The registry host is
/// never part of it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RepositoryName(String);

/// A namespace name such as `alice` or `team-a`: one path component.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NamespaceName(String);

/// The namespace a repository belongs to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NamespaceRef {
    /// Names without `/` (`nginx`) live in the global namespace.
    Global,
    /// `alice/app` and `alice/a/b` live in the namespace `alice`.
    Named(NamespaceName),
}

impl RepositoryName {
    /// Parses a canonical repository name; anything else is refused.
    pub fn parse(input: &str) -> Result<Self, NameError> {
        check_name(input, MAX_REPOSITORY_NAME_LEN, true)?;
        Ok(Self(input.to_owned()))
    }

    /// The name as the registry spells it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The namespace this repository belongs to: its first path component,
    /// or the global namespace for a name without `/`.
    pub fn namespace_part(&self) -> NamespaceRef {
        match self.0.split_once('/') {
            // INVARIANT: every component of a repository name is a valid
            // namespace name, and a component is shorter than the whole name.
            Some((first, _)) => NamespaceRef::Named(NamespaceName(first.to_owned())),
            None => NamespaceRef::Global,
        }
    }
}

impl NamespaceName {
    /// Parses a canonical namespace name (a single path component).
    pub fn parse(input: &str) -> Result<Self, NameError> {
        check_name(input, MAX_NAMESPACE_NAME_LEN, false)?;
        Ok(Self(input.to_owned()))
    }

    /// The name as stored and shown.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl NamespaceRef {
    /// The namespace's name, `None` for the global namespace.
    pub fn name(&self) -> Option<&str> {
        match self {
            Self::Global => None,
            Self::Named(name) => Some(name.as_str()),
        }
    }
}

impl fmt::Display for RepositoryName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for NamespaceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for RepositoryName {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl FromStr for NamespaceName {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl AsRef<str> for RepositoryName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for NamespaceName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Checks the whole grammar; the order of the checks fixes which error a
/// bad input reports (cheap and most telling first).
fn check_name(input: &str, max: usize, slash_allowed: bool) -> Result<(), NameError> {
    if input.is_empty() {
        return Err(NameError::Empty);
    }
    if input.len() > max {
        return Err(NameError::TooLong {
            length: input.len(),
            max,
        });
    }
    if let Some(found) = input.chars().find(|c| {
        !(is_alphanumeric(*c) || matches!(c, '.' | '_' | '-') || (slash_allowed && *c == '/'))
    }) {
        return Err(NameError::InvalidCharacter {
            found,
            slash_allowed,
        });
    }
    input.split('/').try_for_each(check_component)
}

fn is_alphanumeric(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*` as a small state machine.
///
/// The caller has already checked that only `[a-z0-9._-]` occur.
fn check_component(component: &str) -> Result<(), NameError> {
    if component.is_empty() {
        return Err(NameError::EmptyComponent);
    }
    let invalid = || NameError::InvalidComponent {
        component: component
            .chars()
            .take(MAX_ECHOED_COMPONENT)
            .collect::<String>(),
    };
    let mut chars = component.chars().peekable();
    loop {
        let mut run = 0_usize;
        while chars.next_if(|c| is_alphanumeric(*c)).is_some() {
            run += 1;
        }
        if run == 0 {
            return Err(invalid());
        }
        match chars.next() {
            None => return Ok(()),
            Some('.') => {}
            Some('_') => {
                chars.next_if_eq(&'_');
            }
            Some('-') => while chars.next_if_eq(&'-').is_some() {},
            Some(_) => return Err(invalid()),
        }
    }
}

#[cfg(test)]
mod tests;
