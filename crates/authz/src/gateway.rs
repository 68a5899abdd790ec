//! Per-path access to apps behind the gateway: which rule a request path falls
//! under, and whether the caller may pass.
//!
//! An app's `paths` map URL prefixes to `public`, `private` or `peer`. The
//! original matched the longest *string* prefix, so `/public` also opened
//! `/publicity`. Here a prefix matches only at a segment boundary: `/public`
//! matches `/public`, `/public/x` and `/public;x`, never `/publicity`; a
//! prefix ending in `/` matches what starts with it; `""` and `/` match
//! everything. The longest matching prefix wins; no match means private.
//!
//! `;` counts as a boundary because servlet containers drop `;params` from a
//! segment, so `/admin;x` reaches `/admin`. Request paths that an app could
//! normalize into a different path are refused outright rather than guessed
//! at: `.` and `..` segments (and any `..`), `//`, `\`, and percent-encodings
//! of unreserved characters, `/`, `\`, `;`, `%` and control characters. Paths
//! are case-sensitive; an app that folds case must not rely on path rules.
//!
//! Access kinds: `public` lets anyone in; `private` only the owner's paired
//! terminals; `peer` other Portals *and* terminals, since a terminal is the
//! owner and may reach whatever a peer may.

use std::fmt;
use std::sync::Arc;

use crate::keyword::keyword_enum;

/// The longest request path the gateway looks at.
pub const MAX_REQUEST_PATH_LEN: usize = 8 * 1024;

/// Who may reach a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Access {
    /// Anyone, anonymous included.
    Public,
    /// The owner's paired terminals only (the default).
    Private,
    /// Other Portals (signed peer calls) and the owner's terminals.
    Peer,
}

keyword_enum!(Access, "access", {
    Public => "public",
    Private => "private",
    Peer => "peer",
});

/// Who is calling, as authenticated by the gateway. The strings are shared
/// (`Arc<str>`): the identity service hands out the same caller from its
/// cache on every request of a terminal, without copying it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Caller {
    /// No valid terminal cookie and no valid peer signature.
    Anonymous,
    /// One of the owner's paired devices.
    Terminal {
        /// Terminal id.
        id: Arc<str>,
        /// Terminal name, as the owner named it.
        name: Arc<str>,
    },
    /// Another Portal, by its short id.
    Peer {
        /// The peer's id.
        id: Arc<str>,
    },
}

/// Gives the gateway the access of a rule's value, so that rules may carry
/// more (such as header templates) than the access alone.
pub trait RuleAccess {
    /// The access this rule grants.
    fn access(&self) -> Access;
}

/// One path rule: a validated prefix and what it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule<T = Access> {
    prefix: String,
    value: T,
}

/// An app's path rules, ready for matching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathRules<T = Access> {
    // INVARIANT: prefixes are valid and distinct, sorted longest first.
    rules: Vec<Rule<T>>,
}

/// A prefix in an app's `paths` that berth refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathRuleError {
    /// Neither `""` nor starting with `/`.
    #[error("path prefix `{0}` must be empty or start with `/`")]
    NotAbsolute(String),
    /// A character outside the URL path characters, `;` and `%` included.
    #[error("path prefix `{0}` holds a character outside letters, digits and `-._~!$&'()*+,=:@/`")]
    ForbiddenCharacter(String),
    /// `..` anywhere, or a `.` segment.
    #[error("path prefix `{0}` holds a `.` or `..` segment")]
    DotSegment(String),
    /// `//` inside the prefix.
    #[error("path prefix `{0}` holds an empty segment")]
    EmptySegment(String),
    /// The same prefix twice.
    #[error("path prefix `{0}` is given twice")]
    Duplicate(String),
}

/// A request path the gateway refuses instead of matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum RequestPathError {
    /// Not starting with `/`.
    #[error("request path must start with `/`")]
    NotAbsolute,
    /// Longer than [`MAX_REQUEST_PATH_LEN`].
    #[error("request path is too long")]
    TooLong,
    /// Raw spaces, controls, non-ASCII, `\`, `?` or `#`.
    #[error("request path holds a forbidden character")]
    ForbiddenCharacter,
    /// `%` not followed by two hex digits.
    #[error("request path holds a malformed percent-encoding")]
    MalformedEncoding,
    /// A percent-encoded character that an app might decode into another path.
    #[error("request path percent-encodes a character that must appear as itself")]
    ForbiddenEncoding,
    /// `..` anywhere, or a `.` segment.
    #[error("request path holds a `.` or `..` segment")]
    DotSegment,
    /// `//`.
    #[error("request path holds an empty segment")]
    EmptySegment,
}

/// Why the gateway let a request through or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GatewayReason {
    /// Allowed: the path is public.
    PublicPath,
    /// Allowed: the caller is one of the owner's terminals.
    Terminal,
    /// Allowed: the caller is a peer and the path admits peers.
    Peer,
    /// Denied: the path needs a terminal (or a peer) and the caller is anonymous.
    Unauthenticated,
    /// Denied: a peer calls a private path.
    PeerForbidden,
    /// Denied: the request path was refused before matching.
    RejectedPath(RequestPathError),
}

/// A gateway verdict with its reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GatewayDecision {
    // INVARIANT: `allowed == reason.allows()`.
    allowed: bool,
    reason: GatewayReason,
}

/// Where a browser may be sent back to after signing in: `next` if it is
/// a path on the same host, else `/`. Anything with a scheme, a `//`
/// authority, a backslash (which browsers read as `/`) or a control
/// character could leave the host, so the hand-off and pairing pages
/// never become an open redirect.
pub fn local_redirect_path(next: Option<&str>) -> &str {
    match next {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && !p.contains('\\')
                && !p.chars().any(char::is_control) =>
        {
            p
        }
        _ => "/",
    }
}

/// Decides whether `caller` may reach a path with `access`.
pub fn decide_gateway(access: Access, caller: &Caller) -> GatewayDecision {
    GatewayDecision::from_reason(match (access, caller) {
        (Access::Public, _) => GatewayReason::PublicPath,
        (Access::Private | Access::Peer, Caller::Terminal { .. }) => GatewayReason::Terminal,
        (Access::Peer, Caller::Peer { .. }) => GatewayReason::Peer,
        (Access::Private, Caller::Peer { .. }) => GatewayReason::PeerForbidden,
        (Access::Private | Access::Peer, Caller::Anonymous) => GatewayReason::Unauthenticated,
    })
}

/// Matches `path` against `rules` and decides; a refused path is denied and no
/// matching rule means private.
pub fn decide_gateway_request<T: RuleAccess>(
    rules: &PathRules<T>,
    path: &str,
    caller: &Caller,
) -> GatewayDecision {
    decide_gateway_request_rule(rules, path, caller).0
}

/// [`decide_gateway_request`], with the rule that matched: the gateway
/// renders that rule's headers next, without matching the path again.
pub fn decide_gateway_request_rule<'r, T: RuleAccess>(
    rules: &'r PathRules<T>,
    path: &str,
    caller: &Caller,
) -> (GatewayDecision, Option<&'r Rule<T>>) {
    match rules.match_path(path) {
        Ok(rule) => (
            decide_gateway(
                rule.map_or(Access::Private, |rule| rule.value.access()),
                caller,
            ),
            rule,
        ),
        Err(error) => (
            GatewayDecision::from_reason(GatewayReason::RejectedPath(error)),
            None,
        ),
    }
}

impl<T> PathRules<T> {
    /// Validates the prefixes of an app's `paths`.
    pub fn new(rules: impl IntoIterator<Item = (String, T)>) -> Result<Self, PathRuleError> {
        let mut out: Vec<Rule<T>> = Vec::new();
        for (prefix, value) in rules {
            check_prefix(&prefix)?;
            if out.iter().any(|rule| rule.prefix == prefix) {
                return Err(PathRuleError::Duplicate(prefix));
            }
            out.push(Rule { prefix, value });
        }
        out.sort_by_key(|rule| std::cmp::Reverse(rule.prefix.len()));
        Ok(Self { rules: out })
    }

    /// The rule with the longest prefix matching `path` at a segment boundary;
    /// `Ok(None)` if none matches, `Err` if the path is refused.
    pub fn match_path(&self, path: &str) -> Result<Option<&Rule<T>>, RequestPathError> {
        check_request_path(path)?;
        Ok(self
            .rules
            .iter()
            .find(|rule| prefix_matches(&rule.prefix, path)))
    }

    /// The rules, longest prefix first.
    pub fn rules(&self) -> &[Rule<T>] {
        &self.rules
    }
}

impl<T> Rule<T> {
    /// The prefix as given.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// What the rule carries.
    pub fn value(&self) -> &T {
        &self.value
    }
}

impl RuleAccess for Access {
    fn access(&self) -> Access {
        *self
    }
}

impl Caller {
    /// The `auth.client_type` header value: `terminal`, `peer` or `public`.
    pub fn client_type(&self) -> &'static str {
        match self {
            Self::Anonymous => "public",
            Self::Terminal { .. } => "terminal",
            Self::Peer { .. } => "peer",
        }
    }
}

impl GatewayDecision {
    /// Wraps a reason; the verdict is the reason's.
    pub fn from_reason(reason: GatewayReason) -> Self {
        Self {
            allowed: reason.allows(),
            reason,
        }
    }

    /// Whether the request may pass.
    pub fn allowed(&self) -> bool {
        self.allowed
    }

    /// Why.
    pub fn reason(&self) -> GatewayReason {
        self.reason
    }
}

impl GatewayReason {
    /// Whether this reason allows.
    pub fn allows(self) -> bool {
        match self {
            Self::PublicPath | Self::Terminal | Self::Peer => true,
            Self::Unauthenticated | Self::PeerForbidden | Self::RejectedPath(_) => false,
        }
    }
}

impl fmt::Display for GatewayReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PublicPath => f.write_str("the path is public"),
            Self::Terminal => f.write_str("the caller is a paired terminal"),
            Self::Peer => f.write_str("the caller is a peer and the path admits peers"),
            Self::Unauthenticated => f.write_str("the path needs a paired terminal"),
            Self::PeerForbidden => f.write_str("the path is private to the owner's terminals"),
            Self::RejectedPath(error) => error.fmt(f),
        }
    }
}

/// Segment-aware prefix match; both sides already validated.
fn prefix_matches(prefix: &str, path: &str) -> bool {
    match path.strip_prefix(prefix) {
        None => false,
        Some(rest) => {
            prefix.is_empty()
                || prefix.ends_with('/')
                || rest.is_empty()
                || rest.starts_with(['/', ';'])
        }
    }
}

fn check_prefix(prefix: &str) -> Result<(), PathRuleError> {
    let fail = |make: fn(String) -> PathRuleError| Err(make(prefix.to_owned()));
    if prefix.is_empty() {
        return Ok(());
    }
    if !prefix.starts_with('/') {
        return fail(PathRuleError::NotAbsolute);
    }
    if !prefix
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,=:@/".contains(&b))
    {
        return fail(PathRuleError::ForbiddenCharacter);
    }
    if prefix.contains("..") || prefix.split('/').any(|segment| segment == ".") {
        return fail(PathRuleError::DotSegment);
    }
    if prefix.contains("//") {
        return fail(PathRuleError::EmptySegment);
    }
    Ok(())
}

fn check_request_path(path: &str) -> Result<(), RequestPathError> {
    if path.len() > MAX_REQUEST_PATH_LEN {
        return Err(RequestPathError::TooLong);
    }
    if !path.starts_with('/') {
        return Err(RequestPathError::NotAbsolute);
    }
    let mut bytes = path.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'%' => {
                let decoded = match (bytes.next().and_then(hex), bytes.next().and_then(hex)) {
                    (Some(high), Some(low)) => high * 16 + low,
                    (None, _) | (_, None) => return Err(RequestPathError::MalformedEncoding),
                };
                if must_not_be_encoded(decoded) {
                    return Err(RequestPathError::ForbiddenEncoding);
                }
            }
            b'\\' | b'?' | b'#' => return Err(RequestPathError::ForbiddenCharacter),
            0x21..=0x7e => {}
            _ => return Err(RequestPathError::ForbiddenCharacter),
        }
    }
    let is_dot = |segment: &str| segment.split(';').next() == Some(".");
    if path.contains("..") || path.split('/').any(is_dot) {
        return Err(RequestPathError::DotSegment);
    }
    if path.contains("//") {
        return Err(RequestPathError::EmptySegment);
    }
    Ok(())
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Unreserved characters (RFC 3986 says encoding them changes nothing, so an
/// app may decode them), separators an app may act on, `%` (double decoding)
/// and control characters.
fn must_not_be_encoded(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/' | b'\\' | b';' | b'%')
        || b.is_ascii_control()
}

#[cfg(test)]
mod tests;
