//! Per-app activity: requests in flight and the time of the last one.
//!
//! The gateway marks every request's start and end (the end is when the
//! response body is done or the client left, WebSockets included). Idle
//! shutdown asks [`ActivityTracker::idle_for`]: an app with a request or a
//! connection open is never idle.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::directory::ActivityGuard;

#[derive(Debug, Clone, Copy)]
struct Entry {
    in_flight: u64,
    last_seen: Instant,
}

/// Cheap to clone; all clones share the same counts.
#[derive(Clone, Default)]
pub struct ActivityTracker {
    apps: Arc<Mutex<HashMap<String, Entry>>>,
}

impl ActivityTracker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Marks a request to `app` as started; the guard marks its end.
    pub fn begin(&self, app: &str) -> ActivityGuard {
        let now = Instant::now();
        if let Ok(mut apps) = self.apps.lock() {
            let e = apps.entry(app.to_owned()).or_insert(Entry {
                in_flight: 0,
                last_seen: now,
            });
            e.in_flight += 1;
            e.last_seen = now;
        }
        let apps = Arc::clone(&self.apps);
        let app = app.to_owned();
        ActivityGuard::new(move || {
            if let Ok(mut apps) = apps.lock() {
                if let Some(e) = apps.get_mut(&app) {
                    e.in_flight = e.in_flight.saturating_sub(1);
                    e.last_seen = Instant::now();
                }
            }
        })
    }

    /// Records activity without a request (an app just started counts as
    /// fresh, so it is not stopped before its first visitor arrives).
    pub fn touch(&self, app: &str) {
        if let Ok(mut apps) = self.apps.lock() {
            apps.entry(app.to_owned())
                .and_modify(|e| e.last_seen = Instant::now())
                .or_insert(Entry {
                    in_flight: 0,
                    last_seen: Instant::now(),
                });
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
}
