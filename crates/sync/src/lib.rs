//! Keeping berth's catalog in step with the registry.
//!
//! - [`events`]: registry notifications read into catalog events (manifest
//!   push, pull, delete; blobs ignored).
//! - [`plan`]: the pure reconcile decision: from what berth knows and what the
//!   registry answered, which tags and repositories to add, change or remove.
//!   It never removes on partial knowledge.
//! - [`tag_delete`]: deleting one tag while keeping the sibling tags that
//!   share its digest (distribution 2.x can only delete by digest).

pub mod events;
pub mod plan;
pub mod tag_delete;
