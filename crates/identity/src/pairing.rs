//! Pairing codes, terminal names and icons, and the pairing rate limit.
//! Pure: the clock comes in as an [`Instant`].
//!
//! A code is 8 characters from the 32 letters and digits that cannot be
//! confused when read aloud or typed (no `0 O 1 I`), drawn from the OS
//! CSPRNG: 40 bits. With the attempt limits below (10 a minute per client,
//! 30 a minute in all) guessing one live code takes longer than any
//! deadline by many orders of magnitude; the original had 6 digits from a
//! non-cryptographic RNG and no limit. Input is read case-insensitively and
//! may carry `-` or spaces, since people type codes.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use rand::Rng;

/// The code alphabet, in order.
pub const CODE_ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
/// Characters in a code.
pub const CODE_LEN: usize = 8;
/// Validity of a code when the owner asks for none.
pub const DEFAULT_DEADLINE_SECS: u32 = 600;
/// The longest validity the owner may ask for: an hour.
pub const MAX_DEADLINE_SECS: u32 = 3600;
/// Longest terminal name, in characters.
pub const MAX_TERMINAL_NAME_CHARS: usize = 64;

/// A fresh code from the OS CSPRNG.
pub fn generate_code() -> String {
    let mut rng = rand::rngs::OsRng;
    (0..CODE_LEN)
        .map(|_| {
            let i = rng.gen_range(0..CODE_ALPHABET.len());
            char::from(CODE_ALPHABET.get(i).copied().unwrap_or(b'2'))
        })
        .collect()
}

/// The canonical form of a typed code, or `None` when it cannot be one.
pub fn normalize_code(input: &str) -> Option<String> {
    let code: String = input
        .chars()
        .filter(|c| *c != '-' && *c != ' ')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == CODE_LEN && code.bytes().all(|b| CODE_ALPHABET.contains(&b))).then_some(code)
}

/// Checks a requested deadline in seconds.
pub fn deadline(requested: Option<u32>) -> Result<u32, PairingInputError> {
    match requested {
        None => Ok(DEFAULT_DEADLINE_SECS),
        Some(s) if (1..=MAX_DEADLINE_SECS).contains(&s) => Ok(s),
        Some(_) => Err(PairingInputError::Deadline),
    }
}

/// Input to pairing or renaming that berth refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PairingInputError {
    #[error("deadline must be between 1 and {MAX_DEADLINE_SECS} seconds")]
    Deadline,
    #[error("name must be 1 to {MAX_TERMINAL_NAME_CHARS} characters without control characters or surrounding spaces")]
    Name,
    #[error("icon must be one of `unknown`, `smartphone`, `tablet`, `notebook`, `desktop`")]
    Icon,
}

impl PairingInputError {
    /// The input field at fault, for problem+json.
    pub fn field(self) -> &'static str {
        match self {
            Self::Deadline => "deadline",
            Self::Name => "/name",
            Self::Icon => "/icon",
        }
    }
}

/// Checks a terminal name as the owner typed it.
pub fn terminal_name(name: &str) -> Result<&str, PairingInputError> {
    let n = name.chars().count();
    if (1..=MAX_TERMINAL_NAME_CHARS).contains(&n)
        && name.trim() == name
        && !name.chars().any(char::is_control)
    {
        Ok(name)
    } else {
        Err(PairingInputError::Name)
    }
}

/// Checks a terminal icon; absent means `unknown`.
pub fn terminal_icon(icon: Option<&str>) -> Result<&'static str, PairingInputError> {
    match icon {
        None | Some("unknown") => Ok("unknown"),
        Some("smartphone") => Ok("smartphone"),
        Some("tablet") => Ok("tablet"),
        Some("notebook") => Ok("notebook"),
        Some("desktop") => Ok("desktop"),
        Some(_) => Err(PairingInputError::Icon),
    }
}

/// Fixed-window limits on pairing attempts, per client address and in all.
/// Every attempt counts, right or wrong, before the code is even looked at.
#[derive(Debug)]
pub struct RateLimiter {
    window: Duration,
    per_client: u32,
    global: u32,
    clients: HashMap<IpAddr, Window>,
    all: Window,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    count: u32,
}

impl Window {
    fn hit(&mut self, now: Instant, window: Duration, limit: u32) -> bool {
        if now.saturating_duration_since(self.start) >= window {
            *self = Window {
                start: now,
                count: 0,
            };
        }
        self.count = self.count.saturating_add(1);
        self.count <= limit
    }
}

/// Most client windows kept; beyond, expired ones are dropped.
const MAX_CLIENTS: usize = 4096;

impl RateLimiter {
    /// berth's limits: 10 attempts a minute per client, 30 in all.
    pub fn for_pairing(now: Instant) -> Self {
        Self::new(now, Duration::from_secs(60), 10, 30)
    }

    pub fn new(now: Instant, window: Duration, per_client: u32, global: u32) -> Self {
        Self {
            window,
            per_client,
            global,
            clients: HashMap::new(),
            all: Window {
                start: now,
                count: 0,
            },
        }
    }

    /// Counts one attempt from `client`; false when it must be refused.
    pub fn attempt(&mut self, client: IpAddr, now: Instant) -> bool {
        if self.clients.len() >= MAX_CLIENTS {
            let window = self.window;
            self.clients
                .retain(|_, w| now.saturating_duration_since(w.start) < window);
        }
        let (window, per_client) = (self.window, self.per_client);
        let client_ok = self
            .clients
            .entry(client)
            .or_insert(Window {
                start: now,
                count: 0,
            })
            .hit(now, window, per_client);
        let global_ok = self.all.hit(now, window, self.global);
        client_ok && global_ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_canonical_and_typed_forms_normalize() {
        for _ in 0..100 {
            let c = generate_code();
            assert_eq!(normalize_code(&c).as_deref(), Some(c.as_str()));
        }
        assert_eq!(normalize_code("abcd-efgh").as_deref(), Some("ABCDEFGH"));
        assert_eq!(normalize_code("ABCD EFG"), None);
        assert_eq!(normalize_code("ABCDEFG0"), None, "0 is not in the alphabet");
        assert_eq!(normalize_code("ABCDEFGHJ"), None);
    }

    #[test]
    fn deadlines_names_and_icons_are_checked() {
        assert_eq!(deadline(None), Ok(600));
        assert_eq!(deadline(Some(3600)), Ok(3600));
        assert_eq!(deadline(Some(0)), Err(PairingInputError::Deadline));
        assert_eq!(deadline(Some(3601)), Err(PairingInputError::Deadline));
        assert_eq!(terminal_name("Alice's phone"), Ok("Alice's phone"));
        assert!(terminal_name("").is_err());
        assert!(terminal_name(" x").is_err());
        assert!(terminal_name("a\nb").is_err());
        assert!(terminal_name(&"x".repeat(65)).is_err());
        assert_eq!(terminal_icon(None), Ok("unknown"));
        assert_eq!(terminal_icon(Some("tablet")), Ok("tablet"));
        assert_eq!(terminal_icon(Some("Tablet")), Err(PairingInputError::Icon));
    }

    #[test]
    fn attempts_are_limited_per_client_and_globally() {
        let t0 = Instant::now();
        let mut l = RateLimiter::new(t0, Duration::from_secs(60), 3, 5);
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        assert!(l.attempt(a, t0) && l.attempt(a, t0) && l.attempt(a, t0));
        assert!(!l.attempt(a, t0), "fourth attempt of one client");
        assert!(l.attempt(b, t0), "fifth attempt in all");
        assert!(!l.attempt(b, t0), "the global window is full");
        let later = t0 + Duration::from_secs(60);
        assert!(l.attempt(a, later) && l.attempt(b, later));
    }
}
