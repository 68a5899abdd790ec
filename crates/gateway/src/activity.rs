//! Per-app activity: requests in flight and the time of the last one.
//!
//! The gateway marks every request's start and end (the end is when the
//! response body is done or the client left, WebSockets included). Idle
//! shutdown claims an idle app with [`ActivityTracker::claim_idle`], under the
//! same lock as [`ActivityTracker::begin`]: an app with a request or a
//! connection open is never idle, and a request that begins after the claim
//! sees the app as stopping and takes the wake path instead of racing the
//! stop.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

type Apps = Arc<Mutex<HashMap<Arc<str>, Entry>>>;

/// Cheap to clone; all clones share the same counts.
#[derive(Clone, Default)]
pub struct ActivityTracker {
    /// Keyed by `Arc<str>` so a request's guard shares the key instead of
    /// copying the name: `begin` allocates nothing once an app is known.
    apps: Apps,
}

/// The end of one request, carried by its [`ActivityGuard`].
pub(crate) struct RequestEnd {
    apps: Apps,
    app: Arc<str>,
}

impl RequestEnd {
    pub(crate) fn end(self) {
        if let Ok(mut apps) = self.apps.lock() {
            if let Some(e) = apps.get_mut(&self.app) {
                e.in_flight = e.in_flight.saturating_sub(1);
                e.last_seen = Instant::now();
            }
        }
    }
}

impl ActivityTracker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Marks a request to `app` as started; the guard marks its end.
    pub fn begin(&self, app: &str) -> ActivityGuard {
        let now = Instant::now();
        let Ok(mut apps) = self.apps.lock() else {
            return ActivityGuard::none();
        };
        let key = match apps.get_key_value(app) {
            Some((key, _)) => Arc::clone(key),
            None => {
                let key: Arc<str> = Arc::from(app);
                apps.insert(Arc::clone(&key), Entry::fresh(now));
                key
            }
        };
        if let Some(e) = apps.get_mut(&key) {
            e.in_flight += 1;
            e.last_seen = now;
        }
        drop(apps);
        ActivityGuard::request(RequestEnd {
            apps: Arc::clone(&self.apps),
            app: key,
        })
    }

    /// Records activity without a request (an app just started counts as
    /// fresh, so it is not stopped before its first visitor arrives).
    pub fn touch(&self, app: &str) {
        if let Ok(mut apps) = self.apps.lock() {
            apps.entry(Arc::from(app))
                .and_modify(|e| e.last_seen = Instant::now())
                .or_insert(Entry::fresh(Instant::now()));
        }
    }

    /// How long `app` has had no request and no open connection; `None`
    /// while something is in flight. An app never seen is idle since
    /// `fallback` (the caller passes when it started the app).
    pub fn idle_for(&self, app: &str, fallback: Instant) -> Option<Duration> {
        let apps = self.apps.lock().ok()?;
        match apps.get(app) {
            Some(e) if e.in_flight > 0 => None,
            Some(e) => Some(e.last_seen.elapsed()),
            None => Some(fallback.elapsed()),
        }
    }

    /// Marks `app` as stopping if it has been idle for at least `idle`
    /// (see [`Self::idle_for`] for `fallback`), and says whether it did.
    /// Checked and marked under the lock that [`Self::begin`] takes, so no
    /// request can begin between the check and the mark unseen: either it
    /// began first and the claim fails, or it begins after and
    /// [`Self::is_stopping`] is true for it.
    pub fn claim_idle(&self, app: &str, fallback: Instant, idle: Duration) -> bool {
        let Ok(mut apps) = self.apps.lock() else {
            return false;
        };
        let e = apps.entry(Arc::from(app)).or_insert(Entry::fresh(fallback));
        let claimed = !e.stopping && e.in_flight == 0 && e.last_seen.elapsed() >= idle;
        if claimed {
            e.stopping = true;
        }
        claimed
    }

    /// Ends a claim: the stop is done (or failed) and the directory knows
    /// the app's new state.
    pub fn release_idle(&self, app: &str) {
        if let Ok(mut apps) = self.apps.lock() {
            if let Some(e) = apps.get_mut(app) {
                e.stopping = false;
            }
        }
    }

    /// Whether an idle stop of `app` is under way.
    pub fn is_stopping(&self, app: &str) -> bool {
        self.apps
            .lock()
            .ok()
            .and_then(|a| a.get(app).map(|e| e.stopping))
            .unwrap_or(false)
    }

    pub fn in_flight(&self, app: &str) -> u64 {
        self.apps
            .lock()
            .ok()
            .and_then(|a| a.get(app).map(|e| e.in_flight))
            .unwrap_or(0)
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
}
