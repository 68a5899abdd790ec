//! One start per app, however many requests wait for it.
//!
//! The first request for a stopped app becomes the leader and starts it in
//! a task of its own (so a client that goes away does not abort the start);
//! every concurrent request for the same app waits for that one result.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Mutex;

use tokio::sync::watch;

use crate::directory::WakeError;

type Outcome = Option<Result<SocketAddr, WakeError>>;

#[derive(Default)]
pub struct SingleFlight {
    inflight: Mutex<HashMap<String, watch::Receiver<Outcome>>>,
}

impl SingleFlight {
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `start` unless a start of `key` is already under way, and
    /// returns that start's result either way.
    pub async fn run<F, Fut>(&self, key: &str, start: F) -> Result<SocketAddr, WakeError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<SocketAddr, WakeError>> + Send + 'static,
    {
        let (leader, mut rx) = {
            let Ok(mut map) = self.inflight.lock() else {
                return Err(WakeError::Failed("wake state poisoned".into()));
            };
            match map.get(key) {
                Some(rx) => (None, rx.clone()),
                None => {
                    let (tx, rx) = watch::channel(None);
                    map.insert(key.to_owned(), rx.clone());
                    (Some(tx), rx)
                }
            }
        };
        if let Some(tx) = leader {
            let handle = tokio::spawn(start());
            let result = handle
                .await
                .unwrap_or_else(|e| Err(WakeError::Failed(format!("start task failed: {e}"))));
            if let Ok(mut map) = self.inflight.lock() {
                map.remove(key);
            }
            let _ = tx.send(Some(result.clone()));
            return result;
        }
        loop {
            if let Some(result) = rx.borrow_and_update().clone() {
                return result;
            }
            if rx.changed().await.is_err() {
                return Err(WakeError::Failed("the start was abandoned".into()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn concurrent_callers_share_one_start() {
        let flight = Arc::new(SingleFlight::new());
        let starts = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let flight = Arc::clone(&flight);
            let starts = Arc::clone(&starts);
            tasks.push(tokio::spawn(async move {
                flight
                    .run("app", move || async move {
                        starts.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        Ok(SocketAddr::from(([127, 0, 0, 1], 1)))
                    })
                    .await
            }));
        }
        for t in tasks {
            assert!(t.await.unwrap().is_ok());
        }
        assert_eq!(starts.load(Ordering::SeqCst), 1);
        // A later call starts again.
        flight
            .run("app", || async { Err(WakeError::Timeout) })
            .await
            .unwrap_err();
    }
}
