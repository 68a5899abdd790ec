//! Registry tokens: the JWTs berth's `/v2/token` hands to docker clients.
//!
//! A token is a compact JWS over the claims of the distribution token spec
//! (`iss`, `sub`, `aud`, `exp`, `nbf`, `iat`, `jti`, `access`), signed ES256
//! (or RS256, by configuration) with the key whose certificate the registry
//! trusts. The signer is built
//! once: the key is parsed once and the JWS header is encoded once, so each
//! token costs one ECDSA signature and two small base64 encodings.
//!
//! JWS is written here with ring directly rather than through a JWT crate:
//! berth only ever *signs* one fixed algorithm, a dozen lines of JWS, and a
//! JWT crate would re-parse the PKCS#8 key on every signature.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use berth_authz::grant::GrantedAccess;
use rand::RngCore;
use ring::rand::SystemRandom;
use ring::signature::{
    EcdsaKeyPair, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING, RSA_PKCS1_SHA256,
};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::signing::{Algorithm, SigningKey};

/// Clock skew tolerated by `nbf`: a registry whose clock runs a little
/// behind still accepts a fresh token.
pub const NBF_SKEW: Duration = Duration::from_secs(10);

/// The default lifetime of a token (Portus's default too).
pub const DEFAULT_TTL: Duration = Duration::from_secs(300);

/// How the JWS header names the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KidFormat {
    /// distribution 2.x with a `rootcertbundle`.
    #[default]
    Libtrust,
    /// RFC 7638 JWK thumbprint, for distribution 3.x.
    Thumbprint,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the signing key is not a P-256 PKCS#8 key: {0}")]
    Key(String),
    #[error("cannot sign a token")]
    Sign,
    #[error("cannot encode token claims: {0}")]
    Encode(#[from] serde_json::Error),
}

/// The parsed private key.
enum Key {
    Ec(EcdsaKeyPair),
    Rsa(RsaKeyPair),
}

/// Signs registry tokens for one issuer and service.
pub struct TokenSigner {
    key: Key,
    rng: SystemRandom,
    kid: String,
    header_b64: String,
    issuer: String,
    service: String,
    ttl: Duration,
}

/// A signed token and the facts the response body repeats.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: String,
    pub expires_in: u64,
    /// RFC 3339.
    pub issued_at: String,
}

#[derive(Serialize)]
struct Header<'a> {
    typ: &'static str,
    alg: &'static str,
    kid: &'a str,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: u64,
    nbf: u64,
    iat: u64,
    jti: &'a str,
    access: &'a [GrantedAccess],
}

impl TokenSigner {
    pub fn new(
        key: &SigningKey,
        kid_format: KidFormat,
        issuer: &str,
        service: &str,
        ttl: Duration,
    ) -> Result<Self, TokenError> {
        let rng = SystemRandom::new();
        let pair = match key.algorithm() {
            Algorithm::Es256 => EcdsaKeyPair::from_pkcs8(
                &ECDSA_P256_SHA256_FIXED_SIGNING,
                key.private_key_der(),
                &rng,
            )
            .map(Key::Ec)
            .map_err(|e| TokenError::Key(e.to_string()))?,
            Algorithm::Rs256 => RsaKeyPair::from_pkcs8(key.private_key_der())
                .map(Key::Rsa)
                .map_err(|e| TokenError::Key(e.to_string()))?,
        };
        let kid = match (kid_format, key.algorithm()) {
            (KidFormat::Libtrust, _) => key.kid_libtrust().to_owned(),
            (KidFormat::Thumbprint, Algorithm::Es256) => jwk_thumbprint(key.public_key_der())?,
            (KidFormat::Thumbprint, Algorithm::Rs256) => rsa_thumbprint(key.public_key_der())?,
        };
        let header = serde_json::to_vec(&Header {
            typ: "JWT",
            alg: key.algorithm().as_str(),
            kid: &kid,
        })?;
        Ok(Self {
            key: pair,
            rng,
            header_b64: URL_SAFE_NO_PAD.encode(header),
            kid,
            issuer: issuer.to_owned(),
            service: service.to_owned(),
            ttl,
        })
    }

    /// The `kid` every token carries.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The service name tokens are issued for (their `aud`).
    pub fn service(&self) -> &str {
        &self.service
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Signs a token for `subject` (empty for anonymous) holding `access`.
    pub fn sign(
        &self,
        subject: &str,
        access: &[GrantedAccess],
        now: SystemTime,
    ) -> Result<IssuedToken, TokenError> {
        let iat = now
            .duration_since(UNIX_EPOCH)
            .map_err(|_| TokenError::Sign)?
            .as_secs();
        let mut jti = [0_u8; 16];
        rand::thread_rng().fill_bytes(&mut jti);
        let jti = URL_SAFE_NO_PAD.encode(jti);
        let claims = serde_json::to_vec(&Claims {
            iss: &self.issuer,
            sub: subject,
            aud: &self.service,
            exp: iat.saturating_add(self.ttl.as_secs()),
            nbf: iat.saturating_sub(NBF_SKEW.as_secs()),
            iat,
            jti: &jti,
            access,
        })?;
        let mut signing_input = String::with_capacity(self.header_b64.len() + claims.len() * 2);
        signing_input.push_str(&self.header_b64);
        signing_input.push('.');
        URL_SAFE_NO_PAD.encode_string(&claims, &mut signing_input);
        let signature = match &self.key {
            Key::Ec(k) => k
                .sign(&self.rng, signing_input.as_bytes())
                .map_err(|_| TokenError::Sign)?
                .as_ref()
                .to_vec(),
            Key::Rsa(k) => {
                let mut sig = vec![0_u8; k.public().modulus_len()];
                k.sign(
                    &RSA_PKCS1_SHA256,
                    &self.rng,
                    signing_input.as_bytes(),
                    &mut sig,
                )
                .map_err(|_| TokenError::Sign)?;
                sig
            }
        };
        signing_input.push('.');
        URL_SAFE_NO_PAD.encode_string(&signature, &mut signing_input);
        let issued_at = chrono::DateTime::<chrono::Utc>::from(now)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        Ok(IssuedToken {
            token: signing_input,
            expires_in: self.ttl.as_secs(),
            issued_at,
        })
    }
}

/// RFC 7638 thumbprint of a P-256 public key given as DER SubjectPublicKeyInfo.
///
/// The SPKI of an uncompressed P-256 point ends with `04 || x || y`.
pub fn jwk_thumbprint(spki_der: &[u8]) -> Result<String, TokenError> {
    let point = spki_der
        .len()
        .checked_sub(65)
        .and_then(|start| spki_der.get(start..))
        .filter(|p| p.first() == Some(&4))
        .ok_or_else(|| TokenError::Key("public key is not an uncompressed P-256 point".into()))?;
    let (x, y) = (point.get(1..33), point.get(33..65));
    let (Some(x), Some(y)) = (x, y) else {
        return Err(TokenError::Key("public key is too short".into()));
    };
    // Members in lexicographic order, no whitespace (RFC 7638 section 3).
    let jwk = format!(
        r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(x),
        URL_SAFE_NO_PAD.encode(y)
    );
    Ok(URL_SAFE_NO_PAD.encode(Sha256::digest(jwk.as_bytes())))
}

/// RFC 7638 thumbprint of an RSA public key given as DER SubjectPublicKeyInfo.
pub fn rsa_thumbprint(spki_der: &[u8]) -> Result<String, TokenError> {
    use rsa::pkcs8::DecodePublicKey as _;
    use rsa::traits::PublicKeyParts as _;
    let key = rsa::RsaPublicKey::from_public_key_der(spki_der)
        .map_err(|e| TokenError::Key(e.to_string()))?;
    let jwk = format!(
        r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(key.e().to_bytes_be()),
        URL_SAFE_NO_PAD.encode(key.n().to_bytes_be())
    );
    Ok(URL_SAFE_NO_PAD.encode(Sha256::digest(jwk.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::SigningPaths;
    use berth_authz::grant::grant;
    use berth_authz::policy::{PolicySettings, Subject};
    use berth_authz::scope::Scope;
    use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};

    fn signer(format: KidFormat) -> (TokenSigner, SigningKey, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let key = SigningKey::load_or_create(&SigningPaths::in_dir(dir.path())).unwrap();
        let s = TokenSigner::new(&key, format, "berth", "berth-registry", DEFAULT_TTL).unwrap();
        (s, key, dir)
    }

    fn part(token: &str, i: usize) -> serde_json::Value {
        let seg = token.split('.').nth(i).unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(seg).unwrap()).unwrap()
    }

    #[test]
    fn token_carries_the_spec_claims_and_verifies_with_the_public_key() {
        let (s, key, _dir) = signer(KidFormat::Libtrust);
        let scope = Scope::parse("registry:catalog:*").unwrap();
        let access = grant(
            &Subject::Service,
            &[scope],
            |_| None,
            &PolicySettings {
                delete_enabled: true,
            },
        );
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let t = s.sign("alice", &access, now).unwrap();
        let header = part(&t.token, 0);
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["kid"], key.kid_libtrust());
        let claims = part(&t.token, 1);
        assert_eq!(claims["iss"], "berth");
        assert_eq!(claims["aud"], "berth-registry");
        assert_eq!(claims["sub"], "alice");
        assert_eq!(claims["iat"], 1_700_000_000_u64);
        assert_eq!(claims["exp"], 1_700_000_300_u64);
        assert_eq!(claims["nbf"], 1_699_999_990_u64);
        assert_eq!(claims["access"][0]["type"], "registry");
        assert_eq!(claims["access"][0]["actions"][0], "*");
        assert_eq!(t.issued_at, "2023-11-14T22:13:20Z");

        let (input, sig) = t.token.rsplit_once('.').unwrap();
        let spki = key.public_key_der();
        let point = &spki[spki.len() - 65..];
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
            .verify(input.as_bytes(), &URL_SAFE_NO_PAD.decode(sig).unwrap())
            .unwrap();
    }

    #[test]
    fn jti_differs_between_tokens() {
        let (s, _key, _dir) = signer(KidFormat::Libtrust);
        let now = SystemTime::now();
        let a = part(&s.sign("a", &[], now).unwrap().token, 1);
        let b = part(&s.sign("a", &[], now).unwrap().token, 1);
        assert_ne!(a["jti"], b["jti"]);
        assert_eq!(a["access"], serde_json::json!([]));
    }

    #[test]
    fn rs256_tokens_verify_with_the_rsa_public_key() {
        use crate::signing::Algorithm;
        use ring::signature::RSA_PKCS1_2048_8192_SHA256;
        let dir = tempfile::tempdir().unwrap();
        let paths = SigningPaths::in_dir(dir.path());
        let key = SigningKey::load_or_create_for(&paths, Algorithm::Rs256).unwrap();
        let s = TokenSigner::new(&key, KidFormat::Libtrust, "berth", "svc", DEFAULT_TTL).unwrap();
        let t = s.sign("alice", &[], SystemTime::now()).unwrap();
        assert_eq!(part(&t.token, 0)["alg"], "RS256");
        assert_eq!(part(&t.token, 0)["kid"], key.kid_libtrust());
        let (input, sig) = t.token.rsplit_once('.').unwrap();
        // ring verifies RSA with the PKCS#1 RSAPublicKey inside the SPKI.
        use rsa::pkcs1::EncodeRsaPublicKey as _;
        use rsa::pkcs8::DecodePublicKey as _;
        let pkcs1 = rsa::RsaPublicKey::from_public_key_der(key.public_key_der())
            .unwrap()
            .to_pkcs1_der()
            .unwrap();
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, pkcs1.as_bytes())
            .verify(input.as_bytes(), &URL_SAFE_NO_PAD.decode(sig).unwrap())
            .unwrap();
        let thumb =
            TokenSigner::new(&key, KidFormat::Thumbprint, "berth", "svc", DEFAULT_TTL).unwrap();
        assert_eq!(thumb.kid().len(), 43);
    }

    #[test]
    fn thumbprint_kid_is_43_base64url_characters() {
        let (s, key, _dir) = signer(KidFormat::Thumbprint);
        assert_eq!(s.kid().len(), 43);
        assert_ne!(s.kid(), key.kid_libtrust());
        assert!(jwk_thumbprint(b"short").is_err());
    }
}
