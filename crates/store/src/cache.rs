//! An in-process cache of what the token endpoint reads on every request:
//! the user behind a refresh or application token, and namespace facts.
//!
//! Correctness rests on two rules. berth is the only writer of these
//! tables, and every store method that changes users, credentials, teams,
//! memberships or namespaces calls [`AuthCache::changed`] after its write
//! committed, which clears everything and bumps a generation. A reader
//! notes the generation before its query and inserts only if it has not
//! moved, so a read that raced a write can never re-insert stale data.
//! Entries also expire after [`TTL`], as defence in depth.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use berth_authz::policy::NamespaceFacts;

use crate::users::User;

/// Longest life of an entry even without a write.
pub const TTL: Duration = Duration::from_secs(10);

/// Above this many entries the cache starts over, bounding memory.
const MAX_ENTRIES: usize = 100_000;

/// Which credential a cached user came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum CredentialKey {
    /// Token hash and client id.
    Refresh(Vec<u8>, String),
    /// Token hash and username.
    Application(Vec<u8>, String),
}

type FactsKey = (Option<i64>, Option<String>);

#[derive(Default)]
struct Inner {
    generation: u64,
    users: HashMap<CredentialKey, (Instant, User)>,
    facts: HashMap<FactsKey, (Instant, Option<NamespaceFacts>)>,
}

#[derive(Default)]
pub(crate) struct AuthCache {
    inner: Mutex<Inner>,
}

impl AuthCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the maps half-updated
        // in a way that matters: start over.
        self.inner.lock().unwrap_or_else(|poisoned| {
            let mut g = poisoned.into_inner();
            g.users.clear();
            g.facts.clear();
            g
        })
    }

    /// Called after every committed write that can change an answer.
    pub fn changed(&self) {
        let mut g = self.lock();
        g.generation = g.generation.wrapping_add(1);
        g.users.clear();
        g.facts.clear();
    }

    pub fn generation(&self) -> u64 {
        self.lock().generation
    }

    pub fn user(&self, key: &CredentialKey) -> Option<User> {
        let g = self.lock();
        g.users
            .get(key)
            .filter(|(at, _)| at.elapsed() < TTL)
            .map(|(_, u)| u.clone())
    }

    pub fn put_user(&self, generation: u64, key: CredentialKey, user: User) {
        let mut g = self.lock();
        if g.generation != generation {
            return;
        }
        if g.users.len() >= MAX_ENTRIES {
            g.users.clear();
        }
        g.users.insert(key, (Instant::now(), user));
    }

    /// `Some(facts)` when cached (`facts` itself `None`: no such namespace).
    pub fn facts(&self, caller: Option<i64>, name: Option<&str>) -> Option<Option<NamespaceFacts>> {
        let g = self.lock();
        g.facts
            .get(&(caller, name.map(str::to_owned)))
            .filter(|(at, _)| at.elapsed() < TTL)
            .map(|(_, f)| *f)
    }

    pub fn put_facts(
        &self,
        generation: u64,
        caller: Option<i64>,
        entries: Vec<(Option<String>, Option<NamespaceFacts>)>,
    ) {
        let mut g = self.lock();
        if g.generation != generation {
            return;
        }
        if g.facts.len() >= MAX_ENTRIES {
            g.facts.clear();
        }
        let now = Instant::now();
        for (name, facts) in entries {
            g.facts.insert((caller, name), (now, facts));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_authz::policy::{NamespaceKind, Visibility};

    const FACTS: NamespaceFacts = NamespaceFacts {
        kind: NamespaceKind::Team,
        visibility: Visibility::Private,
        caller_role: None,
    };

    #[test]
    fn a_read_that_raced_a_write_is_not_cached() {
        let c = AuthCache::default();
        let before = c.generation();
        c.changed();
        c.put_facts(before, Some(1), vec![(Some("ns".into()), Some(FACTS))]);
        assert_eq!(c.facts(Some(1), Some("ns")), None);
        let now = c.generation();
        c.put_facts(
            now,
            Some(1),
            vec![(Some("ns".into()), Some(FACTS)), (None, None)],
        );
        assert_eq!(c.facts(Some(1), Some("ns")), Some(Some(FACTS)));
        assert_eq!(c.facts(Some(1), None), Some(None));
        assert_eq!(c.facts(Some(2), Some("ns")), None);
        c.changed();
        assert_eq!(c.facts(Some(1), Some("ns")), None);
    }
}
