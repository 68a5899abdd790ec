//! The terminal cookie: its token format, its attributes, and reading it
//! back from a `Cookie` header. Pure: time comes in as Unix seconds.
//!
//! Token (canonical, one spelling only):
//! `v1.<signer short id>.<terminal id>.<issued>.<expires>.<signature>` where
//! the terminal id is 32 lowercase hex characters, times are Unix seconds
//! without leading zeros, and the signature is the signer identity's Ed25519
//! signature of `berth-terminal-v1.<signer>.<terminal>.<issued>.<expires>`,
//! in unpadded base64url. The signer's short id only selects which of the
//! Portal's identity keys to verify with; the signature decides.
//!
//! Attributes: `HttpOnly` (scripts never see it), `Path=/`, `Max-Age` of
//! the token's life, and `SameSite=Lax`. Lax rather than Strict: with Strict
//! a link into berth from anywhere else (a chat, a bookmark synced from
//! another browser) would arrive without the cookie and land on pairing;
//! Lax still withholds the cookie from cross-site POST, PUT and DELETE, and
//! berth changes nothing on GET that an attacker could read back. No
//! `Secure` while berth serves plain HTTP on localhost; `Domain` is set only
//! when the gateway needs the cookie on app subdomains.

use base64::Engine;

use crate::key::{short_id, IdentityKey, SHORT_ID_LEN};

/// Name of the cookie.
pub const COOKIE_NAME: &str = "berth_terminal";
/// How long a token lives: 30 days.
pub const TOKEN_LIFETIME_SECS: i64 = 30 * 24 * 3600;

const PREFIX: &str = "v1";
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Why a terminal token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("terminal cookie is malformed")]
    Malformed,
    #[error("terminal cookie appears more than once")]
    Ambiguous,
    #[error("terminal cookie was signed by an unknown identity")]
    UnknownSigner,
    #[error("terminal cookie signature is invalid")]
    BadSignature,
    #[error("terminal cookie has expired")]
    Expired,
}

/// The claims of a terminal token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerminalToken {
    pub signer: String,
    pub terminal_id: String,
    pub issued: i64,
    pub expires: i64,
}

/// A token as read from a cookie, not yet verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnverifiedToken {
    pub claims: TerminalToken,
    signature: [u8; 64],
}

impl TerminalToken {
    fn signing_input(&self) -> String {
        format!(
            "berth-terminal-{PREFIX}.{}.{}.{}.{}",
            self.signer, self.terminal_id, self.issued, self.expires
        )
    }

    /// Signs a fresh token for `terminal_id`, valid from `now`.
    pub fn issue(key: &IdentityKey, terminal_id: &str, now: i64) -> String {
        let claims = TerminalToken {
            signer: short_id(&key.id()).to_owned(),
            terminal_id: terminal_id.to_owned(),
            issued: now,
            expires: now + TOKEN_LIFETIME_SECS,
        };
        let sig = key.sign(claims.signing_input().as_bytes());
        format!(
            "{PREFIX}.{}.{}.{}.{}.{}",
            claims.signer,
            claims.terminal_id,
            claims.issued,
            claims.expires,
            B64.encode(sig)
        )
    }

    /// True once the token has lived half its life: renew it on use.
    pub fn needs_renewal(&self, now: i64) -> bool {
        now >= self.renewal_at()
    }

    /// When the token has lived half its life.
    pub fn renewal_at(&self) -> i64 {
        self.issued + (self.expires - self.issued) / 2
    }
}

impl UnverifiedToken {
    /// Parses a token, accepting only its canonical spelling.
    pub fn parse(token: &str) -> Result<Self, TokenError> {
        let parts: Vec<&str> = token.split('.').collect();
        let [prefix, signer, terminal, issued, expires, sig] = parts.as_slice() else {
            return Err(TokenError::Malformed);
        };
        if *prefix != PREFIX
            || signer.len() != SHORT_ID_LEN
            || !signer
                .bytes()
                .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
            || !is_terminal_id(terminal)
        {
            return Err(TokenError::Malformed);
        }
        let issued = parse_time(issued)?;
        let expires = parse_time(expires)?;
        let sig_bytes = B64.decode(sig).map_err(|_| TokenError::Malformed)?;
        let signature: [u8; 64] = sig_bytes
            .as_slice()
            .try_into()
            .map_err(|_| TokenError::Malformed)?;
        if B64.encode(signature) != *sig || expires <= issued {
            return Err(TokenError::Malformed);
        }
        Ok(Self {
            claims: TerminalToken {
                signer: (*signer).to_owned(),
                terminal_id: (*terminal).to_owned(),
                issued,
                expires,
            },
            signature,
        })
    }

    /// Checks the signature with the signer's public key, then the expiry.
    pub fn verify(self, public_key: &[u8; 32], now: i64) -> Result<TerminalToken, TokenError> {
        if !crate::key::verify(
            public_key,
            self.claims.signing_input().as_bytes(),
            &self.signature,
        ) {
            return Err(TokenError::BadSignature);
        }
        if now >= self.claims.expires {
            return Err(TokenError::Expired);
        }
        Ok(self.claims)
    }
}

/// True for a terminal id: 32 lowercase hex characters.
pub fn is_terminal_id(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn parse_time(s: &str) -> Result<i64, TokenError> {
    let t: i64 = s.parse().map_err(|_| TokenError::Malformed)?;
    if t <= 0 || t.to_string() != s {
        return Err(TokenError::Malformed);
    }
    Ok(t)
}

/// The `Set-Cookie` value carrying `token`.
pub fn set_cookie(token: &str, domain: Option<&str>) -> String {
    let domain = domain.map(|d| format!("; Domain={d}")).unwrap_or_default();
    format!("{COOKIE_NAME}={token}; Path=/; Max-Age={TOKEN_LIFETIME_SECS}; HttpOnly; SameSite=Lax{domain}")
}

/// The `Set-Cookie` value that removes the cookie, for a refused token.
pub fn clear_cookie(domain: Option<&str>) -> String {
    let domain = domain.map(|d| format!("; Domain={d}")).unwrap_or_default();
    format!("{COOKIE_NAME}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax{domain}")
}

/// The terminal token in a `Cookie` header: `Ok(None)` when there is none, an
/// error when there are two (which one the server would pick is a guess).
pub fn find_token(cookie_header: &str) -> Result<Option<&str>, TokenError> {
    let mut found = None;
    for pair in cookie_header.split(';') {
        let Some((name, value)) = pair.trim().split_once('=') else {
            continue;
        };
        if name == COOKIE_NAME {
            if found.is_some() {
                return Err(TokenError::Ambiguous);
            }
            found = Some(value);
        }
    }
    Ok(found)
}

/// Removes the terminal cookie from a `Cookie` header, for the gateway:
/// the cookie must never reach an app. `None` when nothing is left.
pub fn strip_cookie(cookie_header: &str) -> Option<String> {
    let kept: Vec<&str> = cookie_header
        .split(';')
        .map(str::trim)
        .filter(|pair| {
            !pair.is_empty() && pair.split_once('=').map_or(*pair, |(n, _)| n) != COOKIE_NAME
        })
        .collect();
    (!kept.is_empty()).then(|| kept.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn token(key: &IdentityKey) -> String {
        TerminalToken::issue(key, "0123456789abcdef0123456789abcdef", NOW)
    }

    #[test]
    fn an_issued_token_verifies_with_its_signer_only() {
        let k = IdentityKey::generate();
        let t = token(&k);
        let claims = UnverifiedToken::parse(&t)
            .unwrap()
            .verify(&k.public_bytes(), NOW + 1)
            .unwrap();
        assert_eq!(claims.terminal_id, "0123456789abcdef0123456789abcdef");
        assert_eq!(claims.signer, short_id(&k.id()));
        let other = IdentityKey::generate();
        assert_eq!(
            UnverifiedToken::parse(&t)
                .unwrap()
                .verify(&other.public_bytes(), NOW),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn tampered_expired_and_non_canonical_tokens_are_refused() {
        let k = IdentityKey::generate();
        let t = token(&k);
        let later = t.replace(
            &format!(".{}.", NOW + TOKEN_LIFETIME_SECS),
            &format!(".{}.", NOW + 2 * TOKEN_LIFETIME_SECS),
        );
        assert_eq!(
            UnverifiedToken::parse(&later)
                .unwrap()
                .verify(&k.public_bytes(), NOW),
            Err(TokenError::BadSignature)
        );
        assert_eq!(
            UnverifiedToken::parse(&t)
                .unwrap()
                .verify(&k.public_bytes(), NOW + TOKEN_LIFETIME_SECS),
            Err(TokenError::Expired)
        );
        let zero_padded = t.replace(&format!(".{NOW}."), &format!(".0{NOW}."));
        for bad in [
            "",
            "v1",
            &t[..t.len() - 1],
            &format!("{t}="),
            &format!("v2{}", &t[2..]),
            &t.replace(
                "0123456789abcdef0123456789abcdef",
                "0123456789ABCDEF0123456789ABCDEF",
            ),
            &zero_padded,
            &format!("{t}.x"),
        ] {
            assert_eq!(
                UnverifiedToken::parse(bad),
                Err(TokenError::Malformed),
                "{bad}"
            );
        }
    }

    #[test]
    fn renewal_starts_at_half_life() {
        let c = TerminalToken {
            signer: "abcdef".into(),
            terminal_id: String::new(),
            issued: NOW,
            expires: NOW + TOKEN_LIFETIME_SECS,
        };
        assert!(!c.needs_renewal(NOW + TOKEN_LIFETIME_SECS / 2 - 1));
        assert!(c.needs_renewal(NOW + TOKEN_LIFETIME_SECS / 2));
    }

    #[test]
    fn cookie_headers_are_read_and_stripped() {
        assert_eq!(find_token("a=1; berth_terminal=x.y; b=2"), Ok(Some("x.y")));
        assert_eq!(find_token("a=1"), Ok(None));
        assert_eq!(
            find_token("berth_terminal=a; berth_terminal=b"),
            Err(TokenError::Ambiguous)
        );
        assert_eq!(
            strip_cookie("a=1; berth_terminal=x; b=2").as_deref(),
            Some("a=1; b=2")
        );
        assert_eq!(strip_cookie("berth_terminal=x"), None);
        let c = set_cookie("tok", None);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax") && c.contains("Path=/"));
        assert!(c.contains("Max-Age=2592000"));
    }
}
