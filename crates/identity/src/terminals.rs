//! Pairing and the owner's terminals, as methods of [`Identities`].
//!
//! Pairing counts the attempt against the rate limit before it looks at the
//! code, so wrong codes and right ones cost the same. Deleting a terminal
//! evicts it from the authenticator's cache, so its next request is refused.

use std::net::IpAddr;

use berth_store::identity::{PairError, PairingCodeRow, TerminalRow};
use rand::RngCore;

use crate::pairing;
use crate::{invalid, Identities, IdentityError};

/// A fresh terminal id: 16 bytes from the OS CSPRNG, lowercase hex.
fn new_terminal_id() -> String {
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    data_encoding::HEXLOWER.encode(&b)
}

fn not_found(id: &str) -> IdentityError {
    IdentityError::NotFound {
        what: "terminal",
        id: id.to_owned(),
    }
}

impl From<PairError> for IdentityError {
    fn from(e: PairError) -> Self {
        match e {
            PairError::InvalidCode => IdentityError::InvalidCode,
            PairError::NameTaken(name) => IdentityError::Conflict {
                field: "/name",
                reason: format!("a terminal named `{name}` already exists"),
            },
            PairError::Store(e) => IdentityError::Store(e),
        }
    }
}

impl Identities {
    /// Issues a pairing code valid for `deadline` seconds (default 600).
    pub async fn pairing_code(
        &self,
        deadline: Option<u32>,
    ) -> Result<PairingCodeRow, IdentityError> {
        let secs = pairing::deadline(deadline).map_err(|e| invalid(e.field(), e))?;
        let code = pairing::generate_code();
        Ok(self
            .store
            .insert_pairing_code(&code, i64::from(secs))
            .await?)
    }

    /// Pairs a device: consumes `code` once and returns the new terminal with
    /// the `Set-Cookie` value for its cookie.
    pub async fn pair(
        &self,
        client: IpAddr,
        code: &str,
        name: &str,
        icon: Option<&str>,
    ) -> Result<(TerminalRow, String), IdentityError> {
        let allowed = self
            .limiter
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .attempt(client, std::time::Instant::now());
        if !allowed {
            return Err(IdentityError::RateLimited);
        }
        let name = pairing::terminal_name(name).map_err(|e| invalid(e.field(), e))?;
        let icon = pairing::terminal_icon(icon).map_err(|e| invalid(e.field(), e))?;
        let code = pairing::normalize_code(code).ok_or(IdentityError::InvalidCode)?;
        let id = new_terminal_id();
        let row = self.store.pair_terminal(&code, &id, name, icon).await?;
        let cookie = self
            .auth
            .issue_cookie(&row.id)
            .ok_or(IdentityError::NotFound {
                what: "default identity",
                id: String::new(),
            })?;
        tracing::info!(terminal = %row.id, name = %row.name, "terminal paired");
        Ok((row, cookie))
    }

    pub async fn terminals(&self) -> Result<Vec<TerminalRow>, IdentityError> {
        Ok(self.store.terminals().await?)
    }

    pub async fn terminal(&self, id: &str) -> Result<TerminalRow, IdentityError> {
        self.store.terminal(id).await?.ok_or_else(|| not_found(id))
    }

    pub async fn terminal_by_name(&self, name: &str) -> Result<TerminalRow, IdentityError> {
        self.store
            .terminal_by_name(name)
            .await?
            .ok_or_else(|| IdentityError::NotFound {
                what: "terminal named",
                id: name.to_owned(),
            })
    }

    /// Renames a terminal and sets its icon.
    pub async fn update_terminal(
        &self,
        id: &str,
        name: &str,
        icon: Option<&str>,
    ) -> Result<TerminalRow, IdentityError> {
        let name = pairing::terminal_name(name).map_err(|e| invalid(e.field(), e))?;
        let icon = pairing::terminal_icon(icon).map_err(|e| invalid(e.field(), e))?;
        let row = self
            .store
            .update_terminal(id, name, icon)
            .await?
            .ok_or_else(|| not_found(id))?;
        self.auth.forget_terminal(id);
        Ok(row)
    }

    /// Deletes a terminal; its cookie is refused from its next request on.
    pub async fn delete_terminal(&self, id: &str) -> Result<(), IdentityError> {
        let deleted = self.store.delete_terminal(id).await?;
        self.auth.forget_terminal(id);
        if !deleted {
            return Err(not_found(id));
        }
        tracing::info!(terminal = %id, "terminal removed");
        Ok(())
    }
}
