//! Keeping berth's catalog in step with the registry.
//!
//! - [`events`]: registry notifications read into catalog events (manifest
//!   push, pull, delete; blobs ignored).
//! - [`plan`]: the pure reconcile decision: from what berth knows and what the
//!   registry answered, which tags and repositories to add, change or remove.
//!   It never removes on partial knowledge.
//! - [`reconcile`]: one reconcile run against the registry, applied to the
//!   store, with request counts.
//! - [`notifications`]: applies stored notifications in arrival order.
//! - [`service`]: the shared sync service: one reconcile at a time, its
//!   last outcome, and the deletes of the Portus API.
//! - [`tag_delete`]: deleting one tag while keeping the sibling tags that
//!   share its digest (distribution 2.x can only delete by digest).

pub mod events;
pub mod notifications;
pub mod plan;
pub mod reconcile;
pub mod service;
pub mod tag_delete;
