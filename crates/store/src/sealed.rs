//! Secrets berth must read back (webhook signing secrets, basic-auth
//! passwords), sealed with ChaCha20-Poly1305 before they reach the database.
//!
//! A hash would not do: berth signs every delivery with the secret itself.
//! The key lives in a 0600 file outside the database, so a dump of the
//! database alone reveals nothing. The associated data names what a sealed
//! value is, so a sealed password cannot be swapped in for a secret.

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};

/// What a sealed value is for (the associated data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealedKind {
    WebhookSecret,
    WebhookPassword,
}

impl SealedKind {
    fn aad(self) -> &'static [u8] {
        match self {
            Self::WebhookSecret => b"berth webhook secret v1",
            Self::WebhookPassword => b"berth webhook password v1",
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error("the sealing key must be 32 bytes")]
    KeyLength,
    #[error("the system random generator failed")]
    Random,
    #[error("a sealed value does not open with this key (wrong key or tampered)")]
    Open,
}

/// The sealing key. Cheap to clone.
#[derive(Clone)]
pub struct SecretBox {
    key: std::sync::Arc<LessSafeKey>,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

impl SecretBox {
    /// A box from 32 key bytes.
    pub fn new(key: &[u8]) -> Result<Self, SealError> {
        let unbound = UnboundKey::new(&CHACHA20_POLY1305, key).map_err(|_| SealError::KeyLength)?;
        Ok(Self {
            key: std::sync::Arc::new(LessSafeKey::new(unbound)),
        })
    }

    /// A box from the key file's text: 64 hex digits.
    pub fn from_hex(hex: &str) -> Result<Self, SealError> {
        let bytes = data_encoding::HEXLOWER_PERMISSIVE
            .decode(hex.trim().as_bytes())
            .map_err(|_| SealError::KeyLength)?;
        Self::new(&bytes)
    }

    /// `nonce || ciphertext || tag`, with a fresh random nonce.
    pub fn seal(&self, kind: SealedKind, plain: &[u8]) -> Result<Vec<u8>, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| SealError::Random)?;
        let mut in_out = plain.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(kind.aad()),
                &mut in_out,
            )
            .map_err(|_| SealError::Open)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&in_out);
        Ok(out)
    }

    /// The plain value of `sealed`.
    pub fn open(&self, kind: SealedKind, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        if sealed.len() < NONCE_LEN {
            return Err(SealError::Open);
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::Open)?;
        let mut in_out = body.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(kind.aad()), &mut in_out)
            .map_err(|_| SealError::Open)?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_and_refuses_the_wrong_kind_or_key() {
        let b = SecretBox::new(&[7u8; 32]).unwrap();
        let sealed = b.seal(SealedKind::WebhookSecret, b"s3cret").unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"s3cret"));
        assert_eq!(
            b.open(SealedKind::WebhookSecret, &sealed).unwrap(),
            b"s3cret"
        );
        assert_eq!(
            b.open(SealedKind::WebhookPassword, &sealed),
            Err(SealError::Open)
        );
        let other = SecretBox::new(&[8u8; 32]).unwrap();
        assert_eq!(
            other.open(SealedKind::WebhookSecret, &sealed),
            Err(SealError::Open)
        );
        assert_ne!(
            sealed,
            b.seal(SealedKind::WebhookSecret, b"s3cret").unwrap()
        );
        assert_eq!(SecretBox::new(&[1u8; 16]).err(), Some(SealError::KeyLength));
    }
}
