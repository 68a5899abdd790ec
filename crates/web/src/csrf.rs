//! CSRF protection: every state-changing form carries a synchronizer token
//! in `_csrf` (or the `X-CSRF-Token` header for scripts), checked by the
//! [`Posted`] extractor before the handler sees the form.
//!
//! A signed-in visitor's token is derived from the session's secret, so it
//! changes at sign-in and dies at logout; before sign-in it is derived from
//! a random `berth_csrf` cookie. An attacker's page can neither read these
//! cookies nor the pages that carry the token.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::WebError;
use crate::visitor::Visitor;
use crate::Web;

/// 256 random bits from the OS CSPRNG, base64url: session ids and CSRF seeds.
pub(crate) fn random_secret() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

/// Whether a cookie value has the shape of [`random_secret`].
pub(crate) fn well_formed(v: &str) -> bool {
    v.len() == 43
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The form token of a secret (a session id or a visitor's seed).
pub(crate) fn token_for(kind: &str, secret: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"berth-csrf\0");
    h.update(kind.as_bytes());
    h.update(b"\0");
    h.update(secret.as_bytes());
    URL_SAFE_NO_PAD.encode(h.finalize())
}

fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A posted form whose CSRF token matched, with the visitor who posted it.
pub(crate) struct Posted {
    pub visitor: Visitor,
    fields: HashMap<String, String>,
}

impl Posted {
    /// A field's value, trimmed; empty when absent.
    pub fn get(&self, name: &str) -> &str {
        self.fields.get(name).map(|v| v.trim()).unwrap_or("")
    }

    /// A field's value as sent (a pasted app.json keeps its whitespace).
    pub fn raw(&self, name: &str) -> &str {
        self.fields.get(name).map(String::as_str).unwrap_or("")
    }

    pub fn checked(&self, name: &str) -> bool {
        matches!(self.get(name), "on" | "true" | "1" | "yes")
    }
}

impl FromRequest<Web> for Posted {
    type Rejection = WebError;

    async fn from_request(req: Request, state: &Web) -> Result<Self, WebError> {
        let visitor = req
            .extensions()
            .get::<Visitor>()
            .cloned()
            .ok_or(WebError::Csrf)?;
        let header_token = req
            .headers()
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|_| WebError::BadForm)?;
        let fields: HashMap<String, String> = form_urlencoded::parse(&bytes).into_owned().collect();
        let sent = fields
            .get("_csrf")
            .map(String::as_str)
            .or(header_token.as_deref())
            .unwrap_or("");
        if sent.is_empty() || !same(sent, &visitor.csrf) {
            return Err(WebError::Csrf);
        }
        Ok(Self { visitor, fields })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_differ_by_secret_and_kind_and_compare_exactly() {
        let s = random_secret();
        assert!(well_formed(&s));
        assert_ne!(token_for("session", &s), token_for("visitor", &s));
        assert_ne!(
            token_for("session", &s),
            token_for("session", &random_secret())
        );
        let t = token_for("session", &s);
        assert!(same(&t, &t.clone()));
        assert!(!same(&t, &t[1..]));
        assert!(!well_formed("short"));
        assert!(!well_formed(&format!("{}!", &s[1..])));
    }
}
