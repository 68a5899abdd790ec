//! Sign-in attempts per client address and per username, on top of the
//! store's lockout: the lockout protects one account, this keeps one client
//! from spraying passwords over many accounts (and from costing argon2
//! hashes without end).

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Attempts allowed per window for one address.
pub(crate) const PER_ADDRESS: u32 = 20;
/// Attempts allowed per window for one username.
pub(crate) const PER_USERNAME: u32 = 10;
const WINDOW: Duration = Duration::from_secs(60);

#[derive(Default)]
pub(crate) struct SignInLimiter {
    addresses: HashMap<IpAddr, (Instant, u32)>,
    usernames: HashMap<String, (Instant, u32)>,
}

fn count<K: std::hash::Hash + Eq>(
    map: &mut HashMap<K, (Instant, u32)>,
    key: K,
    now: Instant,
    limit: u32,
) -> bool {
    let entry = map.entry(key).or_insert((now, 0));
    if now.duration_since(entry.0) > WINDOW {
        *entry = (now, 0);
    }
    entry.1 = entry.1.saturating_add(1);
    entry.1 <= limit
}

impl SignInLimiter {
    /// Counts one attempt; false when it is over either limit.
    pub(crate) fn attempt(&mut self, address: IpAddr, username: &str, now: Instant) -> bool {
        if self.addresses.len() > 10_000 {
            self.addresses
                .retain(|_, (t, _)| now.duration_since(*t) <= WINDOW);
            self.usernames
                .retain(|_, (t, _)| now.duration_since(*t) <= WINDOW);
        }
        let by_address = count(&mut self.addresses, address, now, PER_ADDRESS);
        let by_name = count(
            &mut self.usernames,
            username.to_lowercase(),
            now,
            PER_USERNAME,
        );
        by_address && by_name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_refused_past_its_limit_and_admitted_after_the_window() {
        let mut l = SignInLimiter::default();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let t = Instant::now();
        for i in 0..PER_ADDRESS {
            assert!(l.attempt(ip, &format!("user{i}"), t));
        }
        assert!(!l.attempt(ip, "another", t));
        assert!(l.attempt(ip, "another", t + WINDOW + Duration::from_secs(1)));
    }

    #[test]
    fn one_username_is_refused_past_its_limit_from_any_address() {
        let mut l = SignInLimiter::default();
        let t = Instant::now();
        for i in 0..PER_USERNAME {
            let ip: IpAddr = format!("10.0.0.{i}").parse().unwrap();
            assert!(l.attempt(ip, "Alice", t));
        }
        assert!(!l.attempt("10.0.1.1".parse().unwrap(), "alice", t));
    }
}
