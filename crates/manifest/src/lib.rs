//! `berth-manifest`: reads app.json files, the app descriptions of the original Portal,
//! in every format from 0.0 to 4.0, and turns them into a checked [`manifest::AppManifest`].
//!
//! [`parse`] runs three stages: read the JSON and its `v`, migrate step by step to the
//! current format ([`version::FormatVersion::CURRENT`]), then check every field,
//! collecting all errors at once, each with a JSON pointer. Templates in env vars and
//! path headers are parsed and their variables resolved here, so rendering later can
//! only fail for a value the caller does not have.
//!
//! ```
//! let parsed = berth_manifest::parse(r#"{
//!     "v": "2.0",
//!     "name": "paperless-ngx",
//!     "image": "ghcr.io/paperless-ngx/paperless-ngx:1.7.1",
//!     "port": 8000,
//!     "services": ["postgres"],
//!     "env_vars": {"PAPERLESS_DBUSER": "{{ apps[\"paperless-ngx\"].postgres.user }}"}
//! }"#)?;
//! let manifest = &parsed.manifest;
//! assert_eq!(manifest.name().postgres_identifier(), "app_paperless_ngx");
//! assert_eq!(manifest.entrypoints()[0].container_port(), 8000);
//! let user = &manifest.env_vars().values().next().unwrap();
//! assert_eq!(user.to_string(), "{{ postgres.user }}");
//! # Ok::<(), berth_manifest::error::ManifestErrors>(())
//! ```
//!
//! Architecture Invariant: this crate is pure. It does no I/O and knows nothing of
//! Docker, Postgres or HTTP; it depends only on serde, serde_json and thiserror.
//!
//! API Boundary: the public modules are what the other berth crates lean on;
//! `migrate` and `json` are internal.

#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod data_dir;
pub mod entrypoint;
pub mod env;
pub mod error;
pub mod image;
mod json;
pub mod lifecycle;
pub mod manifest;
mod migrate;
pub mod name;
pub mod paths;
pub mod services;
pub mod store_info;
pub mod template;
#[cfg(test)]
mod testing;
pub mod version;

use serde_json::Value;

use error::{Diagnostics, ManifestErrors, Pointer, Warning};
use manifest::AppManifest;
use version::FormatVersion;

/// A manifest read from an app.json, with what was let pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedManifest {
    pub manifest: AppManifest,
    /// Unknown keys ignored, values replaced by a migration, and the like.
    pub warnings: Vec<Warning>,
    /// The format the file was written in, before migration.
    pub source_version: FormatVersion,
}

/// Reads an app.json of any supported format; see the crate documentation.
pub fn parse(json: &str) -> Result<ParsedManifest, ManifestErrors> {
    let value: Value = serde_json::from_str(json)
        .map_err(|e| ManifestErrors::single(&Pointer::root(), format!("invalid json: {e}")))?;
    parse_value(value)
}

/// [`parse`] for a document already read as JSON, such as a request body.
pub fn parse_value(value: Value) -> Result<ParsedManifest, ManifestErrors> {
    let root = Pointer::root();
    let Value::Object(map) = value else {
        let kind = json::kind(&value);
        return Err(ManifestErrors::single(
            &root,
            format!("expected an object, found {kind}"),
        ));
    };
    let source_version = match json::get(&map, "v") {
        None => FormatVersion::V0_0,
        Some(Value::String(v)) => FormatVersion::new(v)
            .map_err(|e| ManifestErrors::single(&root.key("v"), e.to_string()))?,
        Some(other) => {
            let kind = json::kind(other);
            let message = format!("expected a version string such as `4.0`, found {kind}");
            return Err(ManifestErrors::single(&root.key("v"), message));
        }
    };
    let mut diag = Diagnostics::default();
    let doc = migrate::upgrade(migrate::Document(map), source_version, &mut diag);
    let manifest = manifest::read(&doc.0, &mut diag);
    let (manifest, warnings) = diag.finish(manifest)?;
    Ok(ParsedManifest {
        manifest,
        warnings,
        source_version,
    })
}

#[cfg(test)]
mod tests;
