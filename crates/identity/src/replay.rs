//! The nonce cache that refuses a signed peer request seen before.
//! Pure: time comes in as Unix seconds.
//!
//! A signature is valid for `created ± MAX_SKEW_SECS`, so a nonce need only
//! be remembered until `created + MAX_SKEW_SECS`; after that the window check
//! refuses a replay on its own. The cache is bounded: when it is full of live
//! nonces it refuses new requests (fail closed) rather than forget one.

use std::collections::HashMap;

use crate::httpsig::MAX_SKEW_SECS;

/// Most nonces remembered at once.
pub const MAX_NONCES: usize = 100_000;

#[derive(Debug, Default)]
pub struct NonceCache {
    // (key id, nonce) -> Unix second after which it may be forgotten.
    seen: HashMap<(String, String), i64>,
}

impl NonceCache {
    /// Records `(keyid, nonce)`; false when it was already there or the
    /// cache is full.
    pub fn first_use(&mut self, keyid: &str, nonce: &str, created: i64, now: i64) -> bool {
        if self.seen.len() >= MAX_NONCES {
            self.seen.retain(|_, forget_after| *forget_after >= now);
            if self.seen.len() >= MAX_NONCES {
                tracing::warn!("peer nonce cache is full; refusing signed requests");
                return false;
            }
        }
        let key = (keyid.to_owned(), nonce.to_owned());
        if self.seen.get(&key).is_some_and(|t| *t >= now) {
            return false;
        }
        self.seen.insert(key, created + MAX_SKEW_SECS);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nonce_is_accepted_once_per_key() {
        let mut c = NonceCache::default();
        assert!(c.first_use("k", "n", 100, 100));
        assert!(!c.first_use("k", "n", 100, 130));
        assert!(c.first_use("other", "n", 100, 100));
        assert!(c.first_use("k", "m", 100, 100));
    }
}
