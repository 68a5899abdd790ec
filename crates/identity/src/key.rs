//! Identity key pairs and the ids derived from them.
//!
//! berth uses Ed25519 where the original used RSA: keys are 32 bytes,
//! signatures 64, signing is deterministic (no RNG at signing time), and the
//! verification is fast enough for the gateway's hot path.
//!
//! An identity id is the SHA-512 of the 32 public key bytes, in lowercase
//! RFC 4648 base32 without padding (5 bits per character, 103 characters), as
//! the original's "human-encoded" hash. `short_id` is its first 6 characters.
//! Ids are canonical: [`parse_identity_id`] accepts only what it would print.

use ed25519_dalek::{Signer, Verifier};
use rand::RngCore;
use sha2::{Digest, Sha512};

/// Length of an identity id: 512 bits at 5 bits per character, rounded up.
pub const IDENTITY_ID_LEN: usize = 103;
/// Length of a short id.
pub const SHORT_ID_LEN: usize = 6;

const ID_ALPHABET: &str = "abcdefghijklmnopqrstuvwxyz234567";

/// A key that is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("public key is not canonical standard base64")]
    NotBase64,
    #[error("public key must be 32 bytes (Ed25519), got {0}")]
    WrongLength(usize),
    #[error("public key is not a valid Ed25519 point")]
    NotAPoint,
    #[error("identity id must be {IDENTITY_ID_LEN} characters of `a-z2-7`")]
    MalformedId,
}

/// An identity's key pair. The secret never leaves this type except as the
/// seed written by the key store.
pub struct IdentityKey {
    signing: ed25519_dalek::SigningKey,
}

impl std::fmt::Debug for IdentityKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityKey")
            .field("id", &self.id())
            .finish_non_exhaustive()
    }
}

impl IdentityKey {
    /// A fresh key from the OS CSPRNG.
    pub fn generate() -> Self {
        let mut seed = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut seed);
        Self::from_seed(&seed)
    }

    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self {
            signing: ed25519_dalek::SigningKey::from_bytes(seed),
        }
    }

    /// The secret seed, for the key store only.
    pub(crate) fn seed(&self) -> [u8; 32] {
        self.signing.to_bytes()
    }

    pub fn public_bytes(&self) -> [u8; 32] {
        self.signing.verifying_key().to_bytes()
    }

    pub fn id(&self) -> String {
        identity_id(&self.public_bytes())
    }

    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign(message).to_bytes()
    }
}

/// The id of the identity holding `public_key`.
pub fn identity_id(public_key: &[u8; 32]) -> String {
    let hash = Sha512::digest(public_key);
    data_encoding::BASE32_NOPAD
        .encode(&hash)
        .to_ascii_lowercase()
}

/// The first 6 characters of an id (all of it if shorter).
pub fn short_id(id: &str) -> &str {
    id.get(..SHORT_ID_LEN).unwrap_or(id)
}

/// Accepts a full identity id in its one canonical spelling.
pub fn parse_identity_id(s: &str) -> Result<&str, KeyError> {
    if s.len() == IDENTITY_ID_LEN && s.chars().all(|c| ID_ALPHABET.contains(c)) {
        Ok(s)
    } else {
        Err(KeyError::MalformedId)
    }
}

/// Decodes `public_bytes_b64` (standard base64 with padding, canonical).
pub fn public_key_from_b64(s: &str) -> Result<[u8; 32], KeyError> {
    use base64::Engine;
    let engine = base64::engine::general_purpose::STANDARD;
    let bytes = engine.decode(s).map_err(|_| KeyError::NotBase64)?;
    if engine.encode(&bytes) != s {
        return Err(KeyError::NotBase64);
    }
    let key: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| KeyError::WrongLength(bytes.len()))?;
    ed25519_dalek::VerifyingKey::from_bytes(&key).map_err(|_| KeyError::NotAPoint)?;
    Ok(key)
}

/// Encodes a public key as `public_bytes_b64`.
pub fn public_key_to_b64(key: &[u8; 32]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(key)
}

/// The public key as a PEM SubjectPublicKeyInfo (RFC 8410), as `whoareyou`
/// publishes it.
pub fn public_key_pem(key: &[u8; 32]) -> String {
    use base64::Engine;
    // SEQUENCE { SEQUENCE { OID 1.3.101.112 } BIT STRING { key } }
    let mut der = vec![
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    der.extend_from_slice(key);
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    format!("-----BEGIN PUBLIC KEY-----\n{b64}\n-----END PUBLIC KEY-----\n")
}

/// True when `signature` is `public_key`'s signature of `message`. Strict
/// verification: malleable or small-order forms are refused.
pub fn verify(public_key: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
    let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(public_key) else {
        return false;
    };
    let sig = ed25519_dalek::Signature::from_bytes(signature);
    key.verify_strict(message, &sig).is_ok() && key.verify(message, &sig).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_canonical_hashes_of_the_key() {
        let k = IdentityKey::generate();
        let id = k.id();
        assert_eq!(id.len(), IDENTITY_ID_LEN);
        assert_eq!(parse_identity_id(&id), Ok(id.as_str()));
        assert_eq!(short_id(&id).len(), 6);
        assert!(parse_identity_id(&id.to_ascii_uppercase()).is_err());
        assert!(parse_identity_id(&id[1..]).is_err());
        let again = IdentityKey::from_seed(&k.seed());
        assert_eq!(again.id(), id);
    }

    #[test]
    fn signatures_verify_only_with_their_key_and_message() {
        let k = IdentityKey::generate();
        let other = IdentityKey::generate();
        let sig = k.sign(b"hello");
        assert!(verify(&k.public_bytes(), b"hello", &sig));
        assert!(!verify(&k.public_bytes(), b"hellO", &sig));
        assert!(!verify(&other.public_bytes(), b"hello", &sig));
    }

    #[test]
    fn public_keys_round_trip_through_base64_only_canonically() {
        let k = IdentityKey::generate();
        let b64 = public_key_to_b64(&k.public_bytes());
        assert_eq!(public_key_from_b64(&b64), Ok(k.public_bytes()));
        assert_eq!(
            public_key_from_b64(b64.trim_end_matches('=')),
            Err(KeyError::NotBase64)
        );
        assert_eq!(public_key_from_b64("AAAA"), Err(KeyError::WrongLength(3)));
        assert!(public_key_pem(&k.public_bytes())
            .starts_with("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2Vw"));
    }
}
