//! Start-up of registry authorization: the internal service user, the
//! registry row, and the token signer.
//!
//! The service user is berth itself talking to its registry (catalog,
//! manifests, deletes, image pulls for apps). Its password is generated into
//! `<data-dir>/secrets/service-user-password` (0600) and re-applied on every
//! start, so the data dir holds the only copy and it never leaves berth.

use std::time::Duration;

use anyhow::Context;
use berth_api::RegistryAuth;
use berth_authz::policy::PolicySettings;
use berth_registry::signing::SigningKey;
use berth_registry::token::{KidFormat, TokenSigner};
use berth_store::Store;

use crate::config::Config;
use crate::layout::Layout;

/// The internal service user's name (Portus called its own `portus`).
pub const SERVICE_USER: &str = "berth";

pub async fn prepare(
    cfg: &Config,
    layout: &Layout,
    store: &Store,
    signing: &SigningKey,
) -> anyhow::Result<RegistryAuth> {
    let password = layout.secret("service-user-password")?;
    store
        .ensure_service_user(SERVICE_USER, &password)
        .await
        .context("cannot create the internal service user")?;
    let registry_host = cfg
        .registry_url()
        .trim_start_matches("http://")
        .trim_start_matches("https://")
        .to_owned();
    store
        .upsert_registry(
            "berth",
            &registry_host,
            cfg.registry_url().starts_with("https://"),
        )
        .await?;
    let kid_format = if cfg.token_kid_thumbprint {
        KidFormat::Thumbprint
    } else {
        KidFormat::Libtrust
    };
    let signer = TokenSigner::new(
        signing,
        kid_format,
        &cfg.token_issuer,
        &cfg.registry_service,
        Duration::from_secs(cfg.token_ttl_seconds),
    )?;
    tracing::info!(
        kid = signer.kid(),
        service = signer.service(),
        "token endpoint ready"
    );
    Ok(RegistryAuth {
        signer,
        // The managed registry is configured with `storage.delete.enabled`.
        policy: PolicySettings {
            delete_enabled: true,
        },
        service_user: SERVICE_USER.to_owned(),
    })
}
