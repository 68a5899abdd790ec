//! Status changes as a stream, and the two statuses Docker cannot tell:
//! `starting` (berth is waking the app and its port does not answer yet)
//! and `idle-stopped` (berth stopped it after its idle time; the next
//! request starts it again).
//!
//! The stream carries app names only: a subscriber reads the current view,
//! so a slow one that misses messages still ends up with the right status.

use tokio::sync::broadcast;

use crate::{Apps, AppsError};

/// Messages kept for a slow subscriber before it starts missing some.
pub(crate) const EVENTS_BUFFER: usize = 256;

impl Apps {
    /// Names of apps whose status may have changed, as it happens.
    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        self.inner.changes.subscribe()
    }

    /// Tells subscribers that `name` may have changed.
    pub(crate) fn changed(&self, name: &str) {
        // No subscriber is fine.
        let _ = self.inner.changes.send(name.to_owned());
    }

    /// While set, the app shows as `starting`: the gateway sets it when a
    /// request wakes the app and clears it once the port accepts.
    pub fn set_starting(&self, name: &str, starting: bool) {
        let changed = {
            let mut set = self
                .inner
                .starting
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if starting {
                set.insert(name.to_owned())
            } else {
                set.remove(name)
            }
        };
        if changed {
            self.changed(name);
        }
    }

    pub(crate) fn is_starting(&self, name: &str) -> bool {
        self.inner
            .starting
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .contains(name)
    }

    /// Stops an app for idleness. Does nothing when the owner stopped it or
    /// it is busy installing; returns whether it was stopped.
    pub async fn stop_idle(&self, name: &str) -> Result<bool, AppsError> {
        let lock = self.lock_for(name);
        let _guard = lock.lock().await;
        if !self.store().set_app_idle(name).await? {
            return Ok(false);
        }
        self.engine().stop_container(name).await?;
        self.refresh(name).await;
        self.changed(name);
        Ok(true)
    }
}
