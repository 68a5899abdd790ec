//! Request authentication, shared by the gateway and berth's own API.
//!
//! [`Authenticator::authenticate`] turns a request head into an
//! [`authz::gateway::Caller`](berth_authz::gateway::Caller):
//!
//! - no terminal cookie and no signature: `Ok(Caller::Anonymous)`;
//! - a valid `berth_terminal` cookie of a terminal that still exists:
//!   `Caller::Terminal`, with a renewed `Set-Cookie` once the token is past
//!   half its life;
//! - a valid peer signature (see [`crate::httpsig`]) by a known peer, seen
//!   for the first time: `Caller::Peer`, with the [`BodyDigest`] the body
//!   must still be checked against;
//! - credentials that are present but fail: `Err`. Where the path is public
//!   the caller may carry on as anonymous; otherwise answer 401, and for a
//!   cookie error send [`AuthError::clear_cookie`] so the browser forgets it.
//!
//! [`Authenticator::authenticate_http`] does the same from an `http`
//! request head, reading headers as berth's API does; the gateway calls that.
//!
//! The hot path is cheap: the cookie's Ed25519 signature is checked in
//! memory first, so forged cookies never reach the database; a genuine one
//! costs one query (which also records `last_connection`) at most every
//! [`TERMINAL_CACHE_SECS`] per terminal and thread. The caches are per
//! thread so that the gateway's threads never share a lock on the request
//! path. Deleting a terminal through [`crate::Identities`] evicts it from
//! every thread's cache at once, so revocation is immediate on this
//! instance.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use berth_authz::gateway::Caller;
use berth_store::{Store, StoreError};
use thread_local::ThreadLocal;

use crate::cookie::{self, TerminalToken, TokenError, UnverifiedToken};
use crate::httpsig::{self, BodyDigest, SignatureError, SignatureHeaders, Target, MAX_SKEW_SECS};
use crate::key::{short_id, IdentityKey};

mod http_head;
mod memo;

pub use http_head::HeadError;
pub use memo::CallerMemo;

/// How long a terminal found in the database is trusted without asking again.
pub const TERMINAL_CACHE_SECS: u64 = 5;

/// The parts of a request that authentication reads. Header values are as
/// received; a header sent twice must be refused by the caller before this
/// (several `Cookie` headers of one HTTP/2 request may be joined with `; `).
#[derive(Debug, Clone, Copy)]
pub struct RequestHead<'a> {
    pub method: &'a str,
    /// The `Host` header.
    pub authority: &'a str,
    pub path: &'a str,
    /// The query without `?`.
    pub query: Option<&'a str>,
    pub cookie: Option<&'a str>,
    pub signature_input: Option<&'a str>,
    pub signature: Option<&'a str>,
    pub content_digest: Option<&'a str>,
}

/// Who called, and what the response must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthOutcome {
    pub caller: Caller,
    /// A `Set-Cookie` value renewing the terminal cookie, to add to the response.
    pub set_cookie: Option<String>,
    /// For a peer: the digest the request body must match. The request must
    /// be refused (401) if [`BodyDigest::check`] fails; a gateway that streams
    /// checks with [`BodyDigest::hasher`] and aborts the upstream request.
    pub body_digest: Option<BodyDigest>,
    /// For a terminal whose cookie needs nothing this time: what lets the
    /// connection's next requests skip authentication (see [`CallerMemo`]).
    pub memo: Option<CallerMemo>,
}

impl AuthOutcome {
    /// No credentials: public paths only.
    pub fn anonymous() -> Self {
        Self {
            caller: Caller::Anonymous,
            set_cookie: None,
            body_digest: None,
            memo: None,
        }
    }
}

/// Credentials that were presented and refused.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(transparent)]
    Cookie(#[from] TokenError),
    #[error("the terminal was removed; pair this device again")]
    Revoked,
    #[error(transparent)]
    Signature(#[from] SignatureError),
    #[error("a request may carry a terminal cookie or a peer signature, not both")]
    Ambiguous,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AuthError {
    /// A `Set-Cookie` value that removes a refused terminal cookie.
    pub fn clear_cookie(&self, domain: Option<&str>) -> Option<String> {
        matches!(self, Self::Cookie(_) | Self::Revoked).then(|| cookie::clear_cookie(domain))
    }
}

/// Authenticates requests; cheap to clone.
#[derive(Clone)]
pub struct Authenticator {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    keys: RwLock<KeyRing>,
    /// Per thread (as `verified`), so the request path of one gateway
    /// thread takes no lock another one holds.
    terminals: ThreadLocal<Mutex<foldhash::HashMap<Arc<str>, CachedTerminal>>>,
    /// Tokens whose signature checked out, by their exact text. An Ed25519
    /// verification costs more than the rest of a proxied request; a
    /// browser sends the same cookie on every request, and equality with a
    /// token already verified proves as much as verifying it again. Expiry
    /// and revocation are still checked on every request.
    /// Keyed with foldhash: only tokens whose signature verified are
    /// inserted, so no caller can choose colliding keys.
    verified: ThreadLocal<Mutex<foldhash::HashMap<String, Arc<TerminalToken>>>>,
    cookie_domain: Option<String>,
    handoffs: crate::handoff::Handoffs,
    revocations: memo::Revocations,
}

/// Verified tokens kept at most; past it the cache starts over.
const MAX_VERIFIED_TOKENS: usize = 10_000;

#[derive(Default)]
struct KeyRing {
    default: Option<Arc<IdentityKey>>,
    by_short_id: HashMap<String, Vec<Arc<IdentityKey>>>,
}

/// A terminal the database confirmed, and when.
struct KnownTerminal {
    id: Arc<str>,
    name: Arc<str>,
    checked: Instant,
}

/// Keyed by the terminal's id, which the caller shares with the key.
struct CachedTerminal {
    name: Arc<str>,
    checked: Instant,
}

/// What a request presents, before it is checked.
enum Credentials<'h> {
    None,
    Terminal(&'h str),
    Peer,
}

/// Seconds since the epoch. Read on every authenticated request: the
/// system clock directly, not a calendar date built and thrown away.
fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl Authenticator {
    pub(crate) fn new(store: Store, cookie_domain: Option<String>) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                keys: RwLock::new(KeyRing::default()),
                terminals: ThreadLocal::new(),
                verified: ThreadLocal::new(),
                cookie_domain,
                handoffs: crate::handoff::Handoffs::default(),
                revocations: memo::Revocations::default(),
            }),
        }
    }

    /// The terminal cookie's `Domain`, for [`AuthError::clear_cookie`].
    pub fn cookie_domain(&self) -> Option<&str> {
        self.inner.cookie_domain.as_deref()
    }

    /// Adds an identity key; `default` makes it the one that signs cookies.
    pub(crate) fn add_key(&self, key: Arc<IdentityKey>, default: bool) {
        let mut ring = self
            .inner
            .keys
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if default {
            ring.default = Some(key.clone());
        }
        let id = key.id();
        let same = ring
            .by_short_id
            .entry(short_id(&id).to_owned())
            .or_default();
        if !same.iter().any(|k| k.id() == id) {
            same.push(key);
        }
    }

    /// Makes the known key `id` the default; false when it is unknown.
    pub(crate) fn set_default(&self, id: &str) -> bool {
        let mut ring = self
            .inner
            .keys
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let key = ring
            .by_short_id
            .get(short_id(id))
            .and_then(|ks| ks.iter().find(|k| k.id() == id).cloned());
        let found = key.is_some();
        if found {
            ring.default = key;
        }
        found
    }

    pub(crate) fn default_key(&self) -> Option<Arc<IdentityKey>> {
        let ring = self
            .inner
            .keys
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        ring.default.clone()
    }

    /// The `Set-Cookie` value for a newly paired terminal.
    pub(crate) fn issue_cookie(&self, terminal_id: &str) -> Option<String> {
        let key = self.default_key()?;
        let token = TerminalToken::issue(&key, terminal_id, unix_now());
        Some(cookie::set_cookie(
            &token,
            self.inner.cookie_domain.as_deref(),
        ))
    }

    /// A one-time ticket handing the terminal cookie `token` to `app_host`;
    /// the caller has just authenticated `token` (see [`crate::handoff`]).
    pub fn issue_handoff(&self, token: &str, app_host: &str) -> String {
        self.inner.handoffs.issue(token, app_host, Instant::now())
    }

    /// The host-only `Set-Cookie` value a ticket carries to `app_host`, once.
    /// The token inside is still checked on every request, so a terminal
    /// revoked meanwhile gets nothing from it.
    pub fn redeem_handoff(&self, ticket: &str, app_host: &str) -> Option<String> {
        let token = self
            .inner
            .handoffs
            .redeem(ticket, app_host, Instant::now())?;
        Some(cookie::set_cookie(&token, None))
    }

    /// Drops a terminal from the cache, so its next request asks the
    /// database, and voids every [`CallerMemo`] (after the eviction: a memo
    /// made from the evicted entry then saw the count before the bump).
    pub(crate) fn forget_terminal(&self, id: &str) {
        for cache in self.inner.terminals.iter() {
            cache
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(id);
        }
        self.inner.revocations.bump();
    }

    /// Decides who sent the request; see the module docs for the contract.
    pub async fn authenticate(&self, head: &RequestHead<'_>) -> Result<AuthOutcome, AuthError> {
        match self.credentials(head)? {
            Credentials::None => Ok(AuthOutcome::anonymous()),
            Credentials::Terminal(token) => self.terminal(head, token).await,
            Credentials::Peer => self.peer(head).await,
        }
    }

    /// [`Self::authenticate`] when memory alone can answer: no credentials,
    /// refused ones, or a terminal cookie verified and its terminal checked
    /// within [`TERMINAL_CACHE_SECS`]. `None` when the database must be
    /// asked; then call [`Self::authenticate`].
    pub fn authenticate_now(
        &self,
        head: &RequestHead<'_>,
    ) -> Option<Result<AuthOutcome, AuthError>> {
        let token = match self.credentials(head) {
            Ok(Credentials::None) => return Some(Ok(AuthOutcome::anonymous())),
            Ok(Credentials::Terminal(token)) => token,
            Ok(Credentials::Peer) => return None,
            Err(e) => return Some(Err(e)),
        };
        let revocations_seen = self.inner.revocations.seen();
        let now = unix_now();
        let claims = match self.claims(token, now) {
            Ok(claims) => claims,
            Err(e) => return Some(Err(e.into())),
        };
        let known = self.cached_terminal(&claims.terminal_id)?;
        Some(Ok(self.terminal_outcome(
            head,
            &claims,
            known,
            now,
            revocations_seen,
        )))
    }

    fn credentials<'h>(&self, head: &RequestHead<'h>) -> Result<Credentials<'h>, AuthError> {
        let token = match head.cookie {
            Some(c) => cookie::find_token(c)?,
            None => None,
        };
        let signed = head.signature_input.is_some()
            || head.signature.is_some()
            || head.content_digest.is_some();
        match (token, signed) {
            (Some(_), true) => Err(AuthError::Ambiguous),
            (Some(token), false) => Ok(Credentials::Terminal(token)),
            (None, true) => Ok(Credentials::Peer),
            (None, false) => Ok(Credentials::None),
        }
    }

    async fn terminal(
        &self,
        head: &RequestHead<'_>,
        token: &str,
    ) -> Result<AuthOutcome, AuthError> {
        let revocations_seen = self.inner.revocations.seen();
        let now = unix_now();
        let claims = self.claims(token, now)?;
        let known = match self.cached_terminal(&claims.terminal_id) {
            Some(known) => known,
            None => self.look_up_terminal(&claims.terminal_id).await?,
        };
        Ok(self.terminal_outcome(head, &claims, known, now, revocations_seen))
    }

    /// The claims of a token whose signature checks out and that has not
    /// expired; a token verified before is found, not verified again.
    fn claims(&self, token: &str, now: i64) -> Result<Arc<TerminalToken>, TokenError> {
        match self.verified_before(token) {
            Some(claims) if now < claims.expires => Ok(claims),
            Some(_) => Err(TokenError::Expired),
            None => {
                let claims = Arc::new(self.verify_terminal_token(token, now)?);
                self.remember_verified(token, &claims);
                Ok(claims)
            }
        }
    }

    fn terminal_outcome(
        &self,
        head: &RequestHead<'_>,
        claims: &TerminalToken,
        known: KnownTerminal,
        now: i64,
        revocations_seen: u64,
    ) -> AuthOutcome {
        let caller = Caller::Terminal {
            id: known.id,
            name: known.name,
        };
        if claims.needs_renewal(now) {
            return AuthOutcome {
                caller,
                set_cookie: self.issue_cookie(&claims.terminal_id),
                body_digest: None,
                memo: None,
            };
        }
        // `now` is whole seconds, up to one behind the clock: the memo ends
        // a second early rather than a moment late.
        let renewal_in = claims.renewal_at() - now - 1;
        let memo = match (head.cookie, u64::try_from(renewal_in)) {
            (Some(cookie), Ok(secs)) if secs > 0 => {
                let until = (known.checked + Duration::from_secs(TERMINAL_CACHE_SECS))
                    .min(Instant::now() + Duration::from_secs(secs));
                Some(CallerMemo::new(
                    cookie,
                    caller.clone(),
                    until,
                    revocations_seen,
                    &self.inner.revocations,
                ))
            }
            _ => None,
        };
        AuthOutcome {
            caller,
            set_cookie: None,
            body_digest: None,
            memo,
        }
    }

    fn verified_before(&self, token: &str) -> Option<Arc<TerminalToken>> {
        self.inner
            .verified
            .get_or_default()
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(token)
            .cloned()
    }

    fn remember_verified(&self, token: &str, claims: &Arc<TerminalToken>) {
        let mut verified = self
            .inner
            .verified
            .get_or_default()
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if verified.len() >= MAX_VERIFIED_TOKENS {
            verified.clear();
        }
        verified.insert(token.to_owned(), Arc::clone(claims));
    }

    /// Parses `token` and checks its signature against the signer's keys.
    fn verify_terminal_token(&self, token: &str, now: i64) -> Result<TerminalToken, TokenError> {
        let unverified = UnverifiedToken::parse(token)?;
        let candidates = {
            let ring = self
                .inner
                .keys
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            ring.by_short_id
                .get(&unverified.claims.signer)
                .cloned()
                .unwrap_or_default()
        };
        let mut result = Err(TokenError::UnknownSigner);
        for key in candidates {
            result = unverified.clone().verify(&key.public_bytes(), now);
            if !matches!(result, Err(TokenError::BadSignature)) {
                break;
            }
        }
        result
    }

    /// The terminal, if the database confirmed it exists within
    /// [`TERMINAL_CACHE_SECS`].
    fn cached_terminal(&self, id: &str) -> Option<KnownTerminal> {
        let ttl = Duration::from_secs(TERMINAL_CACHE_SECS);
        let cache = self
            .inner
            .terminals
            .get_or_default()
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        cache
            .get_key_value(id)
            .filter(|(_, t)| t.checked.elapsed() < ttl)
            .map(|(id, t)| KnownTerminal {
                id: Arc::clone(id),
                name: Arc::clone(&t.name),
                checked: t.checked,
            })
    }

    /// Asks the database whether the terminal still exists (recording its
    /// `last_connection`) and caches the answer.
    async fn look_up_terminal(&self, id: &str) -> Result<KnownTerminal, AuthError> {
        let ttl = Duration::from_secs(TERMINAL_CACHE_SECS);
        let Some(row) = self.inner.store.touch_terminal(id).await? else {
            self.forget_terminal(id);
            return Err(AuthError::Revoked);
        };
        let known = KnownTerminal {
            id: Arc::from(id),
            name: Arc::from(row.name),
            checked: Instant::now(),
        };
        let mut cache = self
            .inner
            .terminals
            .get_or_default()
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if cache.len() > 10_000 {
            cache.retain(|_, t| t.checked.elapsed() < ttl);
        }
        cache.insert(
            Arc::clone(&known.id),
            CachedTerminal {
                name: Arc::clone(&known.name),
                checked: known.checked,
            },
        );
        Ok(known)
    }

    async fn peer(&self, head: &RequestHead<'_>) -> Result<AuthOutcome, AuthError> {
        let (Some(signature_input), Some(signature), Some(content_digest)) =
            (head.signature_input, head.signature, head.content_digest)
        else {
            return Err(SignatureError::Incomplete.into());
        };
        let target = Target {
            method: head.method,
            authority: head.authority,
            path: head.path,
            query: head.query,
        };
        let parsed = httpsig::parse_signature(
            &SignatureHeaders {
                signature_input,
                signature,
                content_digest,
            },
            &target,
        )?;
        let Some(peer) = self.inner.store.peer(&parsed.keyid).await? else {
            return Err(SignatureError::UnknownKey.into());
        };
        let key: [u8; 32] = peer
            .public_key
            .as_slice()
            .try_into()
            .map_err(|_| SignatureError::UnknownKey)?;
        let now = unix_now();
        parsed.verify(&key, now)?;
        // Only a verified signature may take a nonce, or anyone could burn
        // a peer's nonces in advance. The database remembers it until the
        // signature's window closes, across restarts.
        let first = self
            .inner
            .store
            .first_use_of_nonce(&parsed.keyid, &parsed.nonce, parsed.created + MAX_SKEW_SECS)
            .await?;
        if !first {
            return Err(SignatureError::Replayed.into());
        }
        Ok(AuthOutcome {
            caller: Caller::Peer {
                id: Arc::from(peer.id),
            },
            set_cookie: None,
            body_digest: Some(parsed.body_digest),
            memo: None,
        })
    }
}
