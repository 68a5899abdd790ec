//! The key that signs registry tokens, and the certificate the registry
//! trusts it by.
//!
//! The key is created on first start and kept: replacing it would invalidate
//! every token in flight and require a registry restart. Rotation (a new key
//! while the registry still trusts the old certificate) builds on the bundle
//! written here.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use data_encoding::BASE32_NOPAD;
use rcgen::{
    CertificateParams, DistinguishedName, DnType, KeyPair, PKCS_ECDSA_P256_SHA256, PKCS_RSA_SHA256,
};
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error("cannot read or write `{path}`: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("signing key `{path}` is not usable: {detail}")]
    BadKey { path: PathBuf, detail: String },
    #[error(
        "signing key `{path}` is readable by other users (mode {mode:o}); run `chmod 600` on it"
    )]
    Exposed { path: PathBuf, mode: u32 },
    #[error("cannot create the signing certificate: {0}")]
    Certificate(String),
    #[error(
        "signing key `{path}` is {found}, but the configuration asks for {wanted}; run `berth registry rotate-key --algorithm {wanted}` with berth stopped"
    )]
    WrongAlgorithm {
        path: PathBuf,
        found: Algorithm,
        wanted: Algorithm,
    },
}

/// The token signature algorithm, and with it the key type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Algorithm {
    /// ECDSA P-256 with SHA-256: fast, the default.
    #[default]
    Es256,
    /// RSA 2048 PKCS#1 v1.5 with SHA-256, for registries or tools that want RSA.
    Rs256,
}

impl std::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Algorithm {
    /// The JWS `alg` name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
            Self::Rs256 => "RS256",
        }
    }

    /// Parses `ES256` or `RS256` (either case).
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_uppercase().as_str() {
            "ES256" => Some(Self::Es256),
            "RS256" => Some(Self::Rs256),
            _ => None,
        }
    }
}

/// Paths of the signing material inside berth's data dir.
#[derive(Debug, Clone)]
pub struct SigningPaths {
    pub key: PathBuf,
    pub cert: PathBuf,
    /// Every certificate the registry should trust (current first).
    pub bundle: PathBuf,
}

impl SigningPaths {
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            key: dir.join("token-signing-key.pem"),
            cert: dir.join("token-signing-cert.pem"),
            bundle: dir.join("token-cert-bundle.pem"),
        }
    }
}

/// The loaded signing key with the facts token issuing needs.
pub struct SigningKey {
    algorithm: Algorithm,
    pkcs8_pem: String,
    pkcs8_der: Vec<u8>,
    public_key_der: Vec<u8>,
    cert_pem: String,
    kid_libtrust: String,
}

impl SigningKey {
    /// Loads the key and certificate, creating both on first use. A key file
    /// that exists but is unreadable or malformed is an error, never silently
    /// replaced: that would lock out every client holding a token.
    pub fn load_or_create(paths: &SigningPaths) -> Result<Self, SigningError> {
        Self::load_or_create_for(paths, Algorithm::Es256)
    }

    /// The algorithm of the key at `paths`, if there is one.
    pub fn existing_algorithm(paths: &SigningPaths) -> Result<Option<Algorithm>, SigningError> {
        if !paths.key.exists() {
            return Ok(None);
        }
        let kp = KeyPair::from_pem(&read(&paths.key)?).map_err(|e| SigningError::BadKey {
            path: paths.key.clone(),
            detail: e.to_string(),
        })?;
        Ok(Some(if kp.is_compatible(&PKCS_RSA_SHA256) {
            Algorithm::Rs256
        } else {
            Algorithm::Es256
        }))
    }

    /// Like [`Self::load_or_create`] for `algorithm`; an existing key of
    /// another type is refused (switching is a rotation).
    pub fn load_or_create_for(
        paths: &SigningPaths,
        algorithm: Algorithm,
    ) -> Result<Self, SigningError> {
        let key_pair = if paths.key.exists() {
            check_private(&paths.key)?;
            let pem = read(&paths.key)?;
            let kp = KeyPair::from_pem(&pem).map_err(|e| SigningError::BadKey {
                path: paths.key.clone(),
                detail: e.to_string(),
            })?;
            let found = if kp.is_compatible(&PKCS_RSA_SHA256) {
                Algorithm::Rs256
            } else {
                Algorithm::Es256
            };
            if found != algorithm {
                return Err(SigningError::WrongAlgorithm {
                    path: paths.key.clone(),
                    found,
                    wanted: algorithm,
                });
            }
            kp
        } else {
            let kp = generate(algorithm)?;
            write_atomically(&paths.key, kp.serialize_pem().as_bytes(), 0o600)?;
            kp
        };
        let cert_pem = if paths.cert.exists() {
            read(&paths.cert)?
        } else {
            let pem = self_signed_certificate(&key_pair)?;
            write_atomically(&paths.cert, pem.as_bytes(), 0o644)?;
            pem
        };
        if !paths.bundle.exists() {
            write_atomically(&paths.bundle, cert_pem.as_bytes(), 0o644)?;
        }
        Ok(Self {
            algorithm,
            pkcs8_pem: key_pair.serialize_pem(),
            pkcs8_der: key_pair.serialize_der(),
            public_key_der: key_pair.public_key_der(),
            kid_libtrust: libtrust_key_id(&key_pair.public_key_der()),
            cert_pem,
        })
    }

    /// Replaces the signing key with a new one while the registry keeps
    /// trusting the old certificate: the bundle becomes the new certificate
    /// followed by the one it replaces, so tokens signed before the rotation
    /// stay valid until they expire. The old key is kept as
    /// `previous-token-signing-key.pem` (0600) for the record, and the
    /// certificate before that drops out of the bundle.
    ///
    /// The registry reads its bundle at start, so the caller rotates while
    /// berth (and with it the managed registry) is stopped.
    pub fn rotate(paths: &SigningPaths, algorithm: Algorithm) -> Result<Self, SigningError> {
        let old_cert = if paths.cert.exists() {
            read(&paths.cert)?
        } else {
            String::new()
        };
        if paths.key.exists() {
            let previous = paths.key.with_file_name("previous-token-signing-key.pem");
            fs::rename(&paths.key, &previous).map_err(|source| SigningError::Io {
                path: previous.clone(),
                source,
            })?;
        }
        let _ = fs::remove_file(&paths.cert);
        let _ = fs::remove_file(&paths.bundle);
        let key = Self::load_or_create_for(paths, algorithm)?;
        let bundle = format!("{}{old_cert}", key.cert_pem);
        write_atomically(&paths.bundle, bundle.as_bytes(), 0o644)?;
        Ok(key)
    }

    /// The signature algorithm of this key.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// PKCS#8 PEM of the private key, for the JWT signer.
    pub fn private_key_pem(&self) -> &str {
        &self.pkcs8_pem
    }

    /// PKCS#8 DER of the private key, for [`crate::token::TokenSigner`].
    pub fn private_key_der(&self) -> &[u8] {
        &self.pkcs8_der
    }

    /// DER SubjectPublicKeyInfo of the public key.
    pub fn public_key_der(&self) -> &[u8] {
        &self.public_key_der
    }

    pub fn certificate_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The `kid` distribution 2.x expects with a `rootcertbundle`.
    pub fn kid_libtrust(&self) -> &str {
        &self.kid_libtrust
    }
}

/// Shows the key id only: the private key must never reach a log line.
impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid_libtrust", &self.kid_libtrust)
            .finish_non_exhaustive()
    }
}

/// A fresh key pair. ring cannot generate RSA keys, so RSA keys come from
/// the `rsa` crate and are handed to rcgen as PKCS#8.
fn generate(algorithm: Algorithm) -> Result<KeyPair, SigningError> {
    let err = |e: &dyn std::fmt::Display| SigningError::Certificate(e.to_string());
    match algorithm {
        Algorithm::Es256 => KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(|e| err(&e)),
        Algorithm::Rs256 => {
            use rsa::pkcs8::EncodePrivateKey as _;
            let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).map_err(|e| err(&e))?;
            let pem = key
                .to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
                .map_err(|e| err(&e))?;
            KeyPair::from_pem_and_sign_algo(&pem, &PKCS_RSA_SHA256).map_err(|e| err(&e))
        }
    }
}

fn self_signed_certificate(key_pair: &KeyPair) -> Result<String, SigningError> {
    let mut params = CertificateParams::new(Vec::<String>::new())
        .map_err(|e| SigningError::Certificate(e.to_string()))?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "berth token signer");
    params.distinguished_name = dn;
    let cert = params
        .self_signed(key_pair)
        .map_err(|e| SigningError::Certificate(e.to_string()))?;
    Ok(cert.pem())
}

/// The libtrust key id: SHA-256 of the DER SubjectPublicKeyInfo, first 240
/// bits, base32 without padding, in twelve groups of four joined by `:`.
pub fn libtrust_key_id(spki_der: &[u8]) -> String {
    let digest = Sha256::digest(spki_der);
    let encoded = BASE32_NOPAD.encode(digest.get(..30).unwrap_or(&digest));
    encoded
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(":")
}

fn read(path: &Path) -> Result<String, SigningError> {
    fs::read_to_string(path).map_err(|source| SigningError::Io {
        path: path.to_owned(),
        source,
    })
}

fn check_private(path: &Path) -> Result<(), SigningError> {
    let meta = fs::metadata(path).map_err(|source| SigningError::Io {
        path: path.to_owned(),
        source,
    })?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(SigningError::Exposed {
            path: path.to_owned(),
            mode,
        });
    }
    Ok(())
}

/// Writes through a temporary file and a rename, so a crash never leaves a
/// half-written key behind.
pub fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> Result<(), SigningError> {
    let io = |source| SigningError::Io {
        path: path.to_owned(),
        source,
    };
    let tmp = path.with_extension("tmp");
    let _ = fs::remove_file(&tmp);
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)?;
    fs::set_permissions(&tmp, fs::Permissions::from_mode(mode)).map_err(io)?;
    fs::rename(&tmp, path).map_err(io)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_created_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let paths = SigningPaths::in_dir(dir.path());
        let first = SigningKey::load_or_create(&paths).unwrap();
        let second = SigningKey::load_or_create(&paths).unwrap();
        assert_eq!(first.kid_libtrust(), second.kid_libtrust());
        assert_eq!(first.certificate_pem(), second.certificate_pem());
        let mode = fs::metadata(&paths.key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn rotation_signs_with_a_new_key_and_keeps_trusting_the_old_one() {
        let dir = tempfile::tempdir().unwrap();
        let paths = SigningPaths::in_dir(dir.path());
        let first = SigningKey::load_or_create(&paths).unwrap();
        let second = SigningKey::rotate(&paths, Algorithm::Es256).unwrap();
        assert_ne!(first.kid_libtrust(), second.kid_libtrust());
        let bundle = fs::read_to_string(&paths.bundle).unwrap();
        assert!(bundle.starts_with(second.certificate_pem()));
        assert!(bundle.contains(first.certificate_pem()));
        // The next start loads the new key.
        let loaded = SigningKey::load_or_create(&paths).unwrap();
        assert_eq!(loaded.kid_libtrust(), second.kid_libtrust());
        // A second rotation drops the oldest certificate.
        let third = SigningKey::rotate(&paths, Algorithm::Rs256).unwrap();
        assert_eq!(third.algorithm(), Algorithm::Rs256);
        // The configuration must now ask for RS256.
        let err = SigningKey::load_or_create_for(&paths, Algorithm::Es256).unwrap_err();
        assert!(matches!(err, SigningError::WrongAlgorithm { .. }), "{err}");
        SigningKey::load_or_create_for(&paths, Algorithm::Rs256).unwrap();
        let bundle = fs::read_to_string(&paths.bundle).unwrap();
        assert!(
            bundle.contains(third.certificate_pem()) && bundle.contains(second.certificate_pem())
        );
        assert!(!bundle.contains(first.certificate_pem()));
    }

    #[test]
    fn exposed_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let paths = SigningPaths::in_dir(dir.path());
        SigningKey::load_or_create(&paths).unwrap();
        fs::set_permissions(&paths.key, fs::Permissions::from_mode(0o644)).unwrap();
        let err = SigningKey::load_or_create(&paths).unwrap_err();
        assert!(matches!(err, SigningError::Exposed { .. }), "{err}");
    }

    #[test]
    fn libtrust_kid_has_twelve_groups_of_four() {
        let kid = libtrust_key_id(b"any public key bytes");
        let groups: Vec<_> = kid.split(':').collect();
        assert_eq!(groups.len(), 12);
        assert!(groups.iter().all(|g| g.len() == 4));
        assert!(kid
            .chars()
            .all(|c| c == ':' || c.is_ascii_uppercase() || ('2'..='7').contains(&c)));
    }
}
