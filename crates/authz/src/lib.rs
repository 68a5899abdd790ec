//! berth's authorization decisions, as pure functions.
//!
//! Every question "may this caller do that?" that berth answers is decided
//! here, with a verdict and the reason behind it, in the style of Cedar: one
//! exhaustive `match` per decision, a verdict derived from its reason, and
//! deny whenever something needed for the decision is missing or malformed.
//!
//! - [`names`]: repository and namespace names, canonical only.
//! - [`scope`]: token scopes as `docker` sends them, with caps on hostile input.
//! - [`policy`]: the registry policy (pull, push, delete, catalog) and its table.
//! - [`grant`]: a token request's scopes turned into the token's `access` claim.
//! - [`docker_filter`]: the read-only Docker API proxy for apps.
//! - [`gateway`]: per-path access to apps (public, private, peer).
//! - [`core_api`]: which app may call which core API route.
//! - [`portus_api`]: which caller may use which Portus API v1 route.
//! - [`activities`]: which activities of the audit log a caller may see.
//!
//! Architecture invariant: this crate does no I/O and knows no async runtime,
//! HTTP framework or database; callers look facts up and pass them in.

#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod activities;
pub mod core_api;
pub mod docker_filter;
pub mod gateway;
pub mod grant;
pub mod keyword;
pub mod names;
pub mod policy;
pub mod portus_api;
pub mod scope;

#[cfg(feature = "serde")]
mod serde_impls;
