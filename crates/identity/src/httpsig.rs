//! HTTP Message Signatures between peers (RFC 9421), in one fixed profile,
//! with the body bound through `Content-Digest` (RFC 9530). Pure: the clock
//! and the nonce come in as arguments.
//!
//! berth signs exactly these components, in this order, under the label
//! `sig1`: `@method`, `@authority`, `@path`, `@query`, `content-digest`, with
//! the parameters `created`, `keyid` (the signer's full identity id), `alg`
//! (`ed25519`) and `nonce` (16 random bytes, unpadded base64url). The
//! verifier accepts that profile and nothing else, spelled canonically, so
//! there is no negotiation to get wrong. `@query` is covered too (the
//! original covered neither it nor the body), so a captured request cannot
//! be replayed with other arguments.
//!
//! `Content-Digest` is `sha-256=:<base64>:`. The signature covers the header;
//! the receiver must then check the body against it, which [`BodyDigest`]
//! does, incrementally if the body streams.

use base64::Engine;
use sha2::{Digest, Sha256};

use crate::key::{parse_identity_id, IdentityKey};

/// The signature label berth uses.
pub const LABEL: &str = "sig1";
/// How far `created` may be from the verifier's clock, either way.
pub const MAX_SKEW_SECS: i64 = 60;

const COMPONENTS: &str = r#"("@method" "@authority" "@path" "@query" "content-digest")"#;
const STD: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
const URL: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// What is signed about the request, besides the body.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// e.g. `GET`; compared as given (HTTP methods are case-sensitive).
    pub method: &'a str,
    /// The `Host` the request is sent to, e.g. `127.0.0.1:8080`.
    pub authority: &'a str,
    /// The path, without the query.
    pub path: &'a str,
    /// The query without `?`, if any.
    pub query: Option<&'a str>,
}

/// The three headers a signed request carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    pub signature_input: String,
    pub signature: String,
    pub content_digest: String,
}

/// The signature headers as received.
#[derive(Debug, Clone, Copy)]
pub struct SignatureHeaders<'a> {
    pub signature_input: &'a str,
    pub signature: &'a str,
    pub content_digest: &'a str,
}

/// Why a peer signature is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("`Signature-Input` is not berth's signature profile")]
    MalformedInput,
    #[error("`Signature` is malformed")]
    MalformedSignature,
    #[error("`Content-Digest` is not a single sha-256 digest")]
    MalformedDigest,
    #[error("a signed request must carry `Signature-Input`, `Signature` and `Content-Digest`")]
    Incomplete,
    #[error("the signing key is not a known peer")]
    UnknownKey,
    #[error("the signature does not verify")]
    BadSignature,
    #[error("`created` is more than {MAX_SKEW_SECS} seconds away from now")]
    OutsideWindow,
    #[error("the request was already received (replay)")]
    Replayed,
    #[error("the body does not match `Content-Digest`")]
    DigestMismatch,
}

/// `Content-Digest` of `body`.
pub fn content_digest(body: &[u8]) -> String {
    format!("sha-256=:{}:", STD.encode(Sha256::digest(body)))
}

/// A fresh nonce from the OS CSPRNG.
pub fn new_nonce() -> String {
    use rand::RngCore;
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    URL.encode(b)
}

fn params(created: i64, keyid: &str, nonce: &str) -> String {
    format!(r#"{COMPONENTS};created={created};keyid="{keyid}";alg="ed25519";nonce="{nonce}""#)
}

fn signature_base(target: &Target<'_>, digest: &str, params: &str) -> String {
    let query = target.query.unwrap_or("");
    format!(
        "\"@method\": {}\n\"@authority\": {}\n\"@path\": {}\n\"@query\": ?{query}\n\"content-digest\": {digest}\n\"@signature-params\": {params}",
        target.method,
        target.authority.to_ascii_lowercase(),
        target.path,
    )
}

/// Signs a request to a peer as `key`, created at `created` (Unix seconds).
pub fn sign_request(
    key: &IdentityKey,
    target: &Target<'_>,
    body: &[u8],
    created: i64,
    nonce: &str,
) -> SignedHeaders {
    let digest = content_digest(body);
    let params = params(created, &key.id(), nonce);
    let sig = key.sign(signature_base(target, &digest, &params).as_bytes());
    SignedHeaders {
        signature_input: format!("{LABEL}={params}"),
        signature: format!("{LABEL}=:{}:", STD.encode(sig)),
        content_digest: digest,
    }
}

/// A parsed, not yet verified, signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedSignature {
    pub keyid: String,
    pub created: i64,
    pub nonce: String,
    /// The digest the body must match.
    pub body_digest: BodyDigest,
    base: String,
    signature: [u8; 64],
}

/// Parses the headers of a signed request against what it targets.
pub fn parse_signature(
    headers: &SignatureHeaders<'_>,
    target: &Target<'_>,
) -> Result<ParsedSignature, SignatureError> {
    let body_digest = BodyDigest::parse(headers.content_digest)?;
    let rest = headers
        .signature_input
        .strip_prefix(LABEL)
        .and_then(|r| r.strip_prefix('='))
        .and_then(|r| r.strip_prefix(COMPONENTS))
        .and_then(|r| r.strip_prefix(";created="))
        .ok_or(SignatureError::MalformedInput)?;
    let (created, rest) = rest.split_once(';').ok_or(SignatureError::MalformedInput)?;
    let created_n: i64 = created
        .parse()
        .map_err(|_| SignatureError::MalformedInput)?;
    let keyid = rest
        .strip_prefix("keyid=\"")
        .and_then(|r| r.split_once('"'))
        .ok_or(SignatureError::MalformedInput)?;
    let nonce = keyid
        .1
        .strip_prefix(";alg=\"ed25519\";nonce=\"")
        .and_then(|r| r.strip_suffix('"'))
        .ok_or(SignatureError::MalformedInput)?;
    let keyid = parse_identity_id(keyid.0).map_err(|_| SignatureError::MalformedInput)?;
    let nonce_ok = nonce.len() == 22 && URL.decode(nonce).is_ok_and(|b| URL.encode(b) == nonce);
    let params = params(created_n, keyid, nonce);
    // INVARIANT: only the canonical spelling passes: re-rendering matches.
    if !nonce_ok || format!("{LABEL}={params}") != headers.signature_input {
        return Err(SignatureError::MalformedInput);
    }
    let sig_b64 = headers
        .signature
        .strip_prefix(LABEL)
        .and_then(|r| r.strip_prefix("=:"))
        .and_then(|r| r.strip_suffix(':'))
        .ok_or(SignatureError::MalformedSignature)?;
    let sig = STD
        .decode(sig_b64)
        .map_err(|_| SignatureError::MalformedSignature)?;
    let signature: [u8; 64] = sig
        .as_slice()
        .try_into()
        .map_err(|_| SignatureError::MalformedSignature)?;
    Ok(ParsedSignature {
        keyid: keyid.to_owned(),
        created: created_n,
        nonce: nonce.to_owned(),
        base: signature_base(target, headers.content_digest, &params),
        body_digest,
        signature,
    })
}

impl ParsedSignature {
    /// Checks the signature with the peer's key and `created` against `now`.
    /// Replays are the caller's business (it holds the nonce cache).
    pub fn verify(&self, public_key: &[u8; 32], now: i64) -> Result<(), SignatureError> {
        if !crate::key::verify(public_key, self.base.as_bytes(), &self.signature) {
            return Err(SignatureError::BadSignature);
        }
        if (now - self.created).abs() > MAX_SKEW_SECS {
            return Err(SignatureError::OutsideWindow);
        }
        Ok(())
    }
}

/// The SHA-256 a body must have, from a verified `Content-Digest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyDigest([u8; 32]);

impl BodyDigest {
    fn parse(header: &str) -> Result<Self, SignatureError> {
        let b64 = header
            .strip_prefix("sha-256=:")
            .and_then(|r| r.strip_suffix(':'))
            .ok_or(SignatureError::MalformedDigest)?;
        let bytes = STD
            .decode(b64)
            .map_err(|_| SignatureError::MalformedDigest)?;
        let d: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| SignatureError::MalformedDigest)?;
        Ok(Self(d))
    }

    /// Checks a whole body.
    pub fn check(&self, body: &[u8]) -> Result<(), SignatureError> {
        let mut h = self.hasher();
        h.update(body);
        h.finish()
    }

    /// Checks a body that streams: feed every chunk, then `finish`.
    pub fn hasher(&self) -> BodyDigestCheck {
        BodyDigestCheck {
            expected: self.0,
            hasher: Sha256::new(),
        }
    }
}

/// An incremental body check; see [`BodyDigest::hasher`].
#[derive(Debug, Clone)]
pub struct BodyDigestCheck {
    expected: [u8; 32],
    hasher: Sha256,
}

impl BodyDigestCheck {
    pub fn update(&mut self, chunk: &[u8]) {
        self.hasher.update(chunk);
    }

    pub fn finish(self) -> Result<(), SignatureError> {
        let got: [u8; 32] = self.hasher.finalize().into();
        if constant_time_eq::constant_time_eq(&got, &self.expected) {
            Ok(())
        } else {
            Err(SignatureError::DigestMismatch)
        }
    }
}

#[cfg(test)]
#[path = "httpsig/tests.rs"]
mod tests;
