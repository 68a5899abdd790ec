//! berth's identities, paired terminals and peers, and the authentication
//! of requests that the gateway and the core API share.
//!
//! - [`key`], [`cookie`], [`pairing`], [`httpsig`]: pure logic (ids, the
//!   terminal token, pairing codes and limits, peer signatures), tested
//!   without any service.
//! - [`keystore`]: private keys on disk, 0600.
//! - [`Identities`]: the service behind the `/protected/identities`,
//!   `/protected/terminals`, `/protected/peers` and pairing routes.
//! - [`auth::Authenticator`]: `authenticate(&RequestHead) -> AuthOutcome`,
//!   the one call the gateway makes per request; see [`auth`].
//!
//! Architecture invariant: private keys never enter the database or a
//! response; every id that names a key is derived from that key.

pub mod auth;
pub mod cookie;
pub mod handoff;
pub mod httpsig;
pub mod key;
pub mod keystore;
pub mod pairing;
pub mod peer_url;
mod peers;
mod terminals;

use std::path::Path;
use std::sync::{Arc, Mutex};

use berth_store::identity::IdentityRow;
use berth_store::{Store, StoreError};

use crate::auth::Authenticator;
use crate::key::IdentityKey;
use crate::keystore::{KeyStore, KeyStoreError};
use crate::pairing::RateLimiter;

/// Name of the identity berth creates on first start.
pub const DEFAULT_IDENTITY_NAME: &str = "berth";

/// Errors of the identity service, each naming the input at fault.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// `id` is empty for a singleton such as the default identity.
    #[error("no {what}{}", if id.is_empty() { String::new() } else { format!(" `{id}`") })]
    NotFound { what: &'static str, id: String },
    #[error("{reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("{reason}")]
    Conflict { field: &'static str, reason: String },
    #[error("the pairing code is unknown, used or expired")]
    InvalidCode,
    #[error("too many pairing attempts; wait a minute")]
    RateLimited,
    #[error(transparent)]
    Keys(#[from] KeyStoreError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(field: &'static str, reason: impl std::fmt::Display) -> IdentityError {
    IdentityError::Invalid {
        field,
        reason: reason.to_string(),
    }
}

/// What `PUT /protected/identities` carries: no id creates a new identity
/// with a fresh key; an id updates that identity's name, email, description.
#[derive(Debug, Clone, Default)]
pub struct IdentityInput {
    pub id: Option<String>,
    pub name: String,
    pub email: String,
    pub description: String,
}

/// The identity service; cheap to clone.
#[derive(Clone)]
pub struct Identities {
    store: Store,
    keys: KeyStore,
    auth: Authenticator,
    limiter: Arc<Mutex<RateLimiter>>,
    domain: String,
}

impl Identities {
    /// Loads every identity's key from `keys_dir`, creating the default
    /// identity on first start. `domain` is what `whoareyou` reports;
    /// `cookie_domain` is the terminal cookie's `Domain`, if any.
    pub async fn open(
        store: Store,
        keys_dir: &Path,
        domain: String,
        cookie_domain: Option<String>,
    ) -> Result<Self, IdentityError> {
        let this = Self {
            keys: KeyStore::open(keys_dir)?,
            auth: Authenticator::new(store.clone(), cookie_domain),
            limiter: Arc::new(Mutex::new(RateLimiter::for_pairing(
                std::time::Instant::now(),
            ))),
            store,
            domain,
        };
        let rows = this.store.identities().await?;
        if rows.is_empty() {
            this.create(DEFAULT_IDENTITY_NAME, "", "").await?;
        }
        for row in this.store.identities().await? {
            let key = this.keys.load(&row.id)?;
            this.auth.add_key(Arc::new(key), row.is_default);
        }
        Ok(this)
    }

    pub fn authenticator(&self) -> &Authenticator {
        &self.auth
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The default identity's key, for signing calls to peers.
    pub fn default_key(&self) -> Option<Arc<IdentityKey>> {
        self.auth.default_key()
    }

    pub async fn list(&self) -> Result<Vec<IdentityRow>, IdentityError> {
        Ok(self.store.identities().await?)
    }

    pub async fn get(&self, id: &str) -> Result<IdentityRow, IdentityError> {
        self.store
            .identity(id)
            .await?
            .ok_or_else(|| IdentityError::NotFound {
                what: "identity",
                id: id.to_owned(),
            })
    }

    pub async fn default_identity(&self) -> Result<IdentityRow, IdentityError> {
        self.store
            .default_identity()
            .await?
            .ok_or_else(|| IdentityError::NotFound {
                what: "default identity",
                id: String::new(),
            })
    }

    /// Creates or updates an identity; see [`IdentityInput`].
    pub async fn put(&self, input: IdentityInput) -> Result<IdentityRow, IdentityError> {
        check_text("/name", &input.name, 1, 100)?;
        check_text("/email", &input.email, 0, 254)?;
        check_text("/description", &input.description, 0, 2000)?;
        match input.id {
            None => {
                self.create(&input.name, &input.email, &input.description)
                    .await
            }
            Some(id) => self
                .store
                .update_identity(&id, &input.name, &input.email, &input.description)
                .await?
                .ok_or(IdentityError::NotFound {
                    what: "identity",
                    id,
                }),
        }
    }

    async fn create(
        &self,
        name: &str,
        email: &str,
        description: &str,
    ) -> Result<IdentityRow, IdentityError> {
        let key = IdentityKey::generate();
        // The key file first: a row without its key would stop the next start.
        self.keys.save(&key)?;
        let row = self
            .store
            .insert_identity(&IdentityRow {
                id: key.id(),
                name: name.to_owned(),
                email: email.to_owned(),
                description: description.to_owned(),
                public_key: key.public_bytes().to_vec(),
                is_default: false,
            })
            .await?;
        self.auth.add_key(Arc::new(key), row.is_default);
        Ok(row)
    }

    pub async fn make_default(&self, id: &str) -> Result<(), IdentityError> {
        let not_found = || IdentityError::NotFound {
            what: "identity",
            id: id.to_owned(),
        };
        if !self.store.make_default_identity(id).await? {
            return Err(not_found());
        }
        if !self.auth.set_default(id) {
            return Err(not_found());
        }
        Ok(())
    }
}

fn check_text(field: &'static str, s: &str, min: usize, max: usize) -> Result<(), IdentityError> {
    let n = s.chars().count();
    if n < min || n > max || s.chars().any(char::is_control) || s.trim() != s {
        return Err(invalid(
            field,
            format!(
                "`{}` must be {min} to {max} characters without control characters or surrounding spaces",
                field.trim_start_matches('/')
            ),
        ));
    }
    Ok(())
}
