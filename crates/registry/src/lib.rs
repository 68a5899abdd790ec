//! berth's knowledge of the CNCF distribution registry.
//!
//! - [`config`]: the registry configuration berth generates for its managed
//!   registry (token auth pointing back at berth, notifications to berth).
//! - [`signing`]: the token signing key and certificate the registry trusts.
//! - [`token`]: signing registry tokens (ES256 JWTs with the `access` claim).
//! - [`client`]: the distribution API client berth uses as its service user.
//! - [`manifest`]: manifest summaries (digest, size, platforms).
//! - [`upload`]: pushing small generated images (benchmarks, tests).
//! - [`probe`]: the unauthenticated `/v2/` challenge, used by health and doctor.
//!
//! Architecture invariant: nothing here starts processes or owns files beyond
//! what the caller hands in; the binary decides where things live.

#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod client;
pub mod config;
pub mod manifest;
pub mod probe;
pub mod signing;
pub mod token;
pub mod upload;
