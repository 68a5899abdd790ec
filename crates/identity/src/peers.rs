//! Peers, as methods of [`Identities`]: other berth instances known by the
//! id derived from their public key.
//!
//! The id is checked against the key, so a peer cannot be registered under
//! an id it does not hold the key of; the key of a known id never changes.

use berth_store::identity::PeerRow;

use crate::httpsig::{new_nonce, sign_request, SignedHeaders, Target};
use crate::key::{identity_id, parse_identity_id, public_key_from_b64};
use crate::peer_url::PeerUrl;
use crate::{invalid, Identities, IdentityError};

impl Identities {
    pub async fn peers(&self) -> Result<Vec<PeerRow>, IdentityError> {
        Ok(self.store.peers().await?)
    }

    pub async fn peer(&self, id: &str) -> Result<PeerRow, IdentityError> {
        self.store
            .peer(id)
            .await?
            .ok_or_else(|| IdentityError::NotFound {
                what: "peer",
                id: id.to_owned(),
            })
    }

    /// Adds a peer, or replaces a known one's name and URL.
    pub async fn put_peer(
        &self,
        id: &str,
        name: &str,
        public_bytes_b64: &str,
        url: Option<&str>,
    ) -> Result<PeerRow, IdentityError> {
        crate::check_text("/name", name, 1, 100)?;
        let url = url
            .map(PeerUrl::parse)
            .transpose()
            .map_err(|e| invalid("/url", e))?;
        let key =
            public_key_from_b64(public_bytes_b64).map_err(|e| invalid("/public_bytes_b64", e))?;
        parse_identity_id(id).map_err(|e| invalid("/id", e))?;
        if identity_id(&key) != id {
            return Err(invalid("/id", "`id` is not the hash of `public_bytes_b64`"));
        }
        if self.auth.default_key().is_some_and(|k| k.id() == id) {
            return Err(invalid("/id", "a berth cannot be its own peer"));
        }
        Ok(self
            .store
            .upsert_peer(&PeerRow {
                id: id.to_owned(),
                name: name.to_owned(),
                public_key: key.to_vec(),
                url: url.map(|u| u.to_string()),
            })
            .await?)
    }

    /// Signs a request to a peer as this berth's default identity, now and
    /// with a fresh nonce: what `/internal/call_peer` adds to the request it
    /// forwards. `None` only if there is no default identity.
    pub fn sign_for_peer(&self, target: &Target<'_>, body: &[u8]) -> Option<SignedHeaders> {
        let key = self.auth.default_key()?;
        let now = chrono::Utc::now().timestamp();
        Some(sign_request(&key, target, body, now, &new_nonce()))
    }

    pub async fn delete_peer(&self, id: &str) -> Result<(), IdentityError> {
        if self.store.delete_peer(id).await? {
            Ok(())
        } else {
            Err(IdentityError::NotFound {
                what: "peer",
                id: id.to_owned(),
            })
        }
    }
}
