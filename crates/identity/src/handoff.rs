//! One-time tickets that carry a paired terminal from the bare domain to an
//! app's host.
//!
//! Browsers keep the terminal cookie per host, and Chromium does not send a
//! `Domain=localhost` cookie to `app.localhost`, so a cookie set at pairing
//! never reaches an app's host. The core (which sees the cookie) issues a
//! ticket bound to one app host; the gateway on that host redeems it once
//! and sets a host-only copy of the cookie there. Tickets live in memory for
//! a minute: a restart only makes the browser go round once more.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// How long a ticket may travel from the core to the app's host.
pub const TICKET_LIFETIME: Duration = Duration::from_secs(60);
/// Tickets kept at most; beyond it the oldest are dropped, so a flood of
/// hand-offs by a paired terminal cannot grow memory without bound.
const MAX_TICKETS: usize = 10_000;

struct Ticket {
    token: String,
    host: String,
    expires: Instant,
}

/// Outstanding tickets, keyed by the SHA-256 of the ticket.
#[derive(Default)]
pub struct Handoffs {
    tickets: Mutex<HashMap<[u8; 32], Ticket>>,
}

fn key(ticket: &str) -> [u8; 32] {
    Sha256::digest(ticket.as_bytes()).into()
}

impl Handoffs {
    /// A ticket that hands `token` to `host` (e.g. `app.localhost:8080`).
    pub fn issue(&self, token: &str, host: &str, now: Instant) -> String {
        let mut raw = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut raw);
        let ticket = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
        let mut tickets = self.tickets.lock().unwrap_or_else(PoisonError::into_inner);
        tickets.retain(|_, t| t.expires > now);
        if tickets.len() >= MAX_TICKETS {
            if let Some(oldest) = tickets
                .iter()
                .min_by_key(|(_, t)| t.expires)
                .map(|(k, _)| *k)
            {
                tickets.remove(&oldest);
            }
        }
        tickets.insert(
            key(&ticket),
            Ticket {
                token: token.to_owned(),
                host: host.to_ascii_lowercase(),
                expires: now + TICKET_LIFETIME,
            },
        );
        ticket
    }

    /// The token `ticket` carries, if it is unexpired and meant for `host`.
    /// A ticket is consumed by its first redemption, right or wrong host.
    pub fn redeem(&self, ticket: &str, host: &str, now: Instant) -> Option<String> {
        let found = self
            .tickets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&key(ticket))?;
        (found.expires > now && found.host == host.to_ascii_lowercase()).then_some(found.token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ticket_is_redeemed_once_on_its_own_host_before_it_expires() {
        let h = Handoffs::default();
        let now = Instant::now();
        let t = h.issue("tok", "app.localhost:8080", now);
        assert_eq!(h.redeem(&t, "APP.localhost:8080", now), Some("tok".into()));
        assert_eq!(h.redeem(&t, "app.localhost:8080", now), None, "used twice");

        let t = h.issue("tok", "app.localhost:8080", now);
        assert_eq!(h.redeem(&t, "other.localhost:8080", now), None);
        assert_eq!(
            h.redeem(&t, "app.localhost:8080", now),
            None,
            "burnt by the wrong host"
        );

        let t = h.issue("tok", "app.localhost:8080", now);
        assert_eq!(
            h.redeem(&t, "app.localhost:8080", now + TICKET_LIFETIME),
            None
        );
        assert_eq!(h.redeem("made-up", "app.localhost:8080", now), None);
    }
}
