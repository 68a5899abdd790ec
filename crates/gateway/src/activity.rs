//! Per-app activity: requests in flight and the time of the last one.
//!
//! The gateway marks every request's start and end (the end is when the
//! response body is done or the client left, WebSockets included). Idle
//! shutdown claims an idle app with [`ActivityTracker::claim_idle`]: an app
//! with a request or a connection open is never idle, and a request that
//! begins after the claim sees the app as stopping and takes the wake path
//! instead of racing the stop.
//!
//! Counts are kept per thread (a [`Shard`] each), so the gateway's threads
//! never contend for one lock or bounce one cache line on every request;
//! a claim, rare, locks every shard. A thread's first shard is made under
//! the registry lock a claim holds, and starts with the apps being
//! stopped, so no request can slip past a claim on a new thread either.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use thread_local::ThreadLocal;

use crate::directory::ActivityGuard;

#[derive(Debug, Clone, Copy)]
struct Entry {
    in_flight: u64,
    last_seen: Instant,
    /// Claimed for an idle stop that has not finished yet.
    stopping: bool,
}

impl Entry {
    fn fresh(now: Instant) -> Self {
        Self {
            in_flight: 0,
            last_seen: now,
            stopping: false,
        }
    }
}

/// One thread's counts. Keyed by `Arc<str>` so a request's guard shares
/// the key instead of copying the name: `begin` allocates nothing once an
/// app is known.
/// foldhash, not SipHash: looked up on every request, with names of
/// installed apps only (a request reaches the tracker after its app is
/// found), so no caller picks the keys.
#[derive(Default)]
struct Shard {
    apps: foldhash::HashMap<Arc<str>, Entry>,
}

type SharedShard = Arc<Mutex<Shard>>;

#[derive(Default)]
struct Registry {
    shards: Vec<SharedShard>,
    /// Apps claimed for a stop, for shards made during the claim.
    stopping: HashSet<Arc<str>>,
}

impl Registry {
    /// Every shard, locked (in registration order, the only order any
    /// caller takes more than one in).
    fn lock_shards(&self) -> Vec<MutexGuard<'_, Shard>> {
        self.shards.iter().map(|s| lock(s)).collect()
    }
}

#[derive(Default)]
struct Inner {
    registry: Mutex<Registry>,
    local: ThreadLocal<SharedShard>,
}

/// Cheap to clone; all clones share the same counts.
#[derive(Clone, Default)]
pub struct ActivityTracker {
    inner: Arc<Inner>,
}

/// The end of one request, carried by its [`ActivityGuard`].
pub(crate) struct RequestEnd {
    shard: SharedShard,
    app: Arc<str>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The maps stay consistent under a panic (every update is one field),
    // so a poisoned lock is still usable.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl RequestEnd {
    pub(crate) fn end(self) {
        let mut shard = lock(&self.shard);
        if let Some(e) = shard.apps.get_mut(&self.app) {
            e.in_flight = e.in_flight.saturating_sub(1);
            e.last_seen = Instant::now();
        }
    }
}

impl ActivityTracker {
    pub fn new() -> Self {
        Self::default()
    }

    /// This thread's shard, made on its first use.
    fn shard(&self) -> &SharedShard {
        self.inner.local.get_or(|| {
            let mut registry = lock(&self.inner.registry);
            let now = Instant::now();
            let mut shard = Shard::default();
            for app in &registry.stopping {
                let mut e = Entry::fresh(now);
                e.stopping = true;
                shard.apps.insert(Arc::clone(app), e);
            }
            let shard = Arc::new(Mutex::new(shard));
            registry.shards.push(Arc::clone(&shard));
            shard
        })
    }

    /// Marks a request to `app` as started; the guard marks its end.
    pub fn begin(&self, app: &str) -> ActivityGuard {
        let now = Instant::now();
        let shard = self.shard();
        let mut local = lock(shard);
        let key = match local.apps.get_key_value(app) {
            Some((key, _)) => Arc::clone(key),
            None => {
                let key: Arc<str> = Arc::from(app);
                local.apps.insert(Arc::clone(&key), Entry::fresh(now));
                key
            }
        };
        if let Some(e) = local.apps.get_mut(&key) {
            e.in_flight += 1;
            e.last_seen = now;
        }
        drop(local);
        ActivityGuard::request(RequestEnd {
            shard: Arc::clone(shard),
            app: key,
        })
    }

    /// Records activity without a request (an app just started counts as
    /// fresh, so it is not stopped before its first visitor arrives).
    pub fn touch(&self, app: &str) {
        let now = Instant::now();
        lock(self.shard())
            .apps
            .entry(Arc::from(app))
            .and_modify(|e| e.last_seen = now)
            .or_insert(Entry::fresh(now));
    }

    /// `app` summed over `shards`: requests in flight and
    /// the last activity, or `None` if no thread has seen it.
    fn totals(shards: &[MutexGuard<'_, Shard>], app: &str) -> Option<(u64, Instant)> {
        shards
            .iter()
            .filter_map(|s| s.apps.get(app))
            .fold(None, |acc, e| match acc {
                None => Some((e.in_flight, e.last_seen)),
                Some((n, last)) => Some((n + e.in_flight, last.max(e.last_seen))),
            })
    }

    /// How long `app` has had no request and no open connection; `None`
    /// while something is in flight. An app never seen is idle since
    /// `fallback` (the caller passes when it started the app).
    pub fn idle_for(&self, app: &str, fallback: Instant) -> Option<Duration> {
        let registry = lock(&self.inner.registry);
        let shards = registry.lock_shards();
        match Self::totals(&shards, app) {
            Some((n, _)) if n > 0 => None,
            Some((_, last)) => Some(last.elapsed()),
            None => Some(fallback.elapsed()),
        }
    }

    /// Marks `app` as stopping if it has been idle for at least `idle`
    /// (see [`Self::idle_for`] for `fallback`), and says whether it did.
    /// Checked and marked holding every shard's lock, which
    /// [`Self::begin`] takes, so no request can begin between the check
    /// and the mark unseen: either it began first and the claim fails, or
    /// it begins after and [`Self::is_stopping`] is true for it.
    pub fn claim_idle(&self, app: &str, fallback: Instant, idle: Duration) -> bool {
        let mut registry = lock(&self.inner.registry);
        if registry.stopping.contains(app) {
            return false;
        }
        let mut shards = registry.lock_shards();
        let (in_flight, last) = Self::totals(&shards, app).unwrap_or((0, fallback));
        if in_flight > 0 || last.elapsed() < idle {
            return false;
        }
        let key: Arc<str> = Arc::from(app);
        for shard in &mut shards {
            shard
                .apps
                .entry(Arc::clone(&key))
                .or_insert(Entry::fresh(last))
                .stopping = true;
        }
        drop(shards);
        registry.stopping.insert(key);
        true
    }

    /// Ends a claim: the stop is done (or failed) and the directory knows
    /// the app's new state.
    pub fn release_idle(&self, app: &str) {
        let mut registry = lock(&self.inner.registry);
        registry.stopping.remove(app);
        for shard in &registry.shards {
            if let Some(e) = lock(shard).apps.get_mut(app) {
                e.stopping = false;
            }
        }
    }

    /// Whether an idle stop of `app` is under way. Reads this thread's
    /// shard only, which a claim marks with all the others.
    pub fn is_stopping(&self, app: &str) -> bool {
        lock(self.shard()).apps.get(app).is_some_and(|e| e.stopping)
    }

    pub fn in_flight(&self, app: &str) -> u64 {
        let registry = lock(&self.inner.registry);
        let shards = registry.lock_shards();
        Self::totals(&shards, app).map_or(0, |(n, _)| n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_requests_keep_an_app_busy() {
        let t = ActivityTracker::new();
        let long_ago = Instant::now() - Duration::from_secs(100);
        assert!(t.idle_for("a", long_ago).unwrap() >= Duration::from_secs(100));
        let g1 = t.begin("a");
        let g2 = t.begin("a");
        assert_eq!(t.idle_for("a", long_ago), None);
        drop(g1);
        assert_eq!(t.idle_for("a", long_ago), None);
        drop(g2);
        assert!(t.idle_for("a", long_ago).unwrap() < Duration::from_secs(1));
        assert_eq!(t.in_flight("a"), 0);
    }

    #[test]
    fn an_idle_claim_excludes_open_requests_and_is_seen_by_later_ones() {
        let t = ActivityTracker::new();
        let long_ago = Instant::now() - Duration::from_secs(100);
        let hour = Duration::from_secs(3600);
        // Forbidden: busy, or not idle long enough.
        let g = t.begin("a");
        assert!(!t.claim_idle("a", long_ago, Duration::ZERO));
        assert!(!t.is_stopping("a"));
        drop(g);
        assert!(!t.claim_idle("a", long_ago, hour));
        // Allowed once: a second claim while the first holds fails.
        assert!(t.claim_idle("a", long_ago, Duration::ZERO));
        assert!(!t.claim_idle("a", long_ago, Duration::ZERO));
        // A request beginning now sees the stop and must wake the app.
        let late = t.begin("a");
        assert!(t.is_stopping("a"));
        t.release_idle("a");
        assert!(!t.is_stopping("a"));
        assert!(!t.claim_idle("a", long_ago, Duration::ZERO));
        drop(late);
        // An app never seen is idle since the fallback.
        assert!(t.claim_idle("b", long_ago, Duration::from_secs(50)));
        assert!(!t.is_stopping("c"));
    }

    #[test]
    fn counts_from_every_thread_add_up_and_a_claim_reaches_new_threads() {
        let t = ActivityTracker::new();
        let long_ago = Instant::now() - Duration::from_secs(100);
        let here = t.begin("a");
        let there = {
            let t = t.clone();
            std::thread::spawn(move || t.begin("a")).join().unwrap()
        };
        assert_eq!(t.in_flight("a"), 2);
        // Forbidden: a request open on another thread keeps the app busy.
        drop(here);
        assert!(!t.claim_idle("a", long_ago, Duration::ZERO));
        drop(there);
        assert_eq!(t.in_flight("a"), 0);
        assert!(t.claim_idle("a", long_ago, Duration::ZERO));
        // A thread that never saw the app, first used during the claim,
        // still sees the stop.
        let seen = {
            let t = t.clone();
            std::thread::spawn(move || t.is_stopping("a"))
                .join()
                .unwrap()
        };
        assert!(seen);
        t.release_idle("a");
        let seen = {
            let t = t.clone();
            std::thread::spawn(move || t.is_stopping("a"))
                .join()
                .unwrap()
        };
        assert!(!seen);
    }
}
