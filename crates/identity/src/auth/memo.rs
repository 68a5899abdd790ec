//! A connection's memory of who it authenticated last.
//!
//! A browser sends the same terminal cookie on every request of a
//! keep-alive connection. Authenticating it again finds the same answer in
//! the per-thread caches, but the finding (reading the credentials out of
//! the head, two cache look-ups, two clock reads) cost the gateway more
//! than all its other phases but the header rewrite. A [`CallerMemo`] lets
//! the connection answer the next request with a byte comparison.
//!
//! It never trusts more than the caches it is made from:
//!
//! - it holds only while the request carries byte for byte the `Cookie`
//!   header it was made from, and no peer-signature header;
//! - it ends when the terminal's cache entry would ([`TERMINAL_CACHE_SECS`]
//!   after the database confirmed the terminal), and before the token is
//!   due for renewal, so that renewal and expiry stay the authenticator's;
//! - renaming or deleting any terminal ends every memo at once: the
//!   revocation count it saw is no longer the current one.
//!
//! [`TERMINAL_CACHE_SECS`]: super::TERMINAL_CACHE_SECS

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use berth_authz::gateway::Caller;
use http::header::{self, HeaderMap};

use super::http_head::{CONTENT_DIGEST, SIGNATURE, SIGNATURE_INPUT};

/// The caller a connection's last request proved, and what must stay the
/// same for the next request to be that caller too.
#[derive(Debug, Clone)]
pub struct CallerMemo {
    cookie: Box<[u8]>,
    caller: Caller,
    until: Instant,
    revocations_seen: u64,
    revocations: Arc<AtomicU64>,
}

impl PartialEq for CallerMemo {
    fn eq(&self, other: &Self) -> bool {
        self.cookie == other.cookie
            && self.caller == other.caller
            && self.until == other.until
            && self.revocations_seen == other.revocations_seen
            && Arc::ptr_eq(&self.revocations, &other.revocations)
    }
}

impl Eq for CallerMemo {}

/// Counts terminal renames and deletions; a memo made before one is void.
#[derive(Debug, Default)]
pub(crate) struct Revocations(Arc<AtomicU64>);

impl Revocations {
    /// The count now. Read before the caches are: a change made between
    /// the two reads then voids the memo made from them.
    pub(crate) fn seen(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    /// Called after a terminal left the caches.
    pub(crate) fn bump(&self) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }
}

impl CallerMemo {
    pub(crate) fn new(
        cookie: &str,
        caller: Caller,
        until: Instant,
        revocations_seen: u64,
        revocations: &Revocations,
    ) -> Self {
        Self {
            cookie: cookie.as_bytes().into(),
            caller,
            until,
            revocations_seen,
            revocations: Arc::clone(&revocations.0),
        }
    }

    /// The caller of a request with `headers`, if it presents exactly the
    /// credentials this memo was made from and the memo still holds;
    /// `None`: authenticate the request afresh.
    pub fn recall(&self, headers: &HeaderMap) -> Option<&Caller> {
        if self.revocations.load(Ordering::Acquire) != self.revocations_seen {
            return None;
        }
        let mut cookies = headers.get_all(header::COOKIE).iter();
        let (Some(cookie), None) = (cookies.next(), cookies.next()) else {
            return None;
        };
        if cookie.as_bytes() != &*self.cookie
            || headers.contains_key(SIGNATURE_INPUT)
            || headers.contains_key(SIGNATURE)
            || headers.contains_key(CONTENT_DIGEST)
        {
            return None;
        }
        (Instant::now() < self.until).then_some(&self.caller)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.append(*name, value.parse().unwrap());
        }
        h
    }

    fn memo(revocations: &Revocations, until: Instant) -> CallerMemo {
        let caller = Caller::Terminal {
            id: "t1".into(),
            name: "phone".into(),
        };
        CallerMemo::new(
            "berth_terminal=abc",
            caller,
            until,
            revocations.seen(),
            revocations,
        )
    }

    #[test]
    fn only_the_same_cookie_and_no_signature_is_the_same_caller() {
        let revocations = Revocations::default();
        let m = memo(&revocations, Instant::now() + Duration::from_secs(60));
        assert!(m
            .recall(&headers(&[("cookie", "berth_terminal=abc")]))
            .is_some());
        for other in [
            headers(&[]),
            headers(&[("cookie", "berth_terminal=abd")]),
            headers(&[("cookie", "berth_terminal=abc; theme=dark")]),
            headers(&[("cookie", "berth_terminal=abc"), ("cookie", "a=1")]),
            headers(&[("cookie", "berth_terminal=abc"), ("signature", "s")]),
            headers(&[("cookie", "berth_terminal=abc"), ("signature-input", "s")]),
            headers(&[("cookie", "berth_terminal=abc"), ("content-digest", "d")]),
        ] {
            assert!(m.recall(&other).is_none(), "{other:?}");
        }
    }

    #[test]
    fn a_revocation_or_the_deadline_ends_it() {
        let revocations = Revocations::default();
        let h = headers(&[("cookie", "berth_terminal=abc")]);
        let m = memo(&revocations, Instant::now() + Duration::from_secs(60));
        revocations.bump();
        assert!(m.recall(&h).is_none());
        assert!(memo(&revocations, Instant::now()).recall(&h).is_none());
    }
}
