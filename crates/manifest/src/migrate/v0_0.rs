//! Format 0.0, files without `v`: the oldest, and the start of the chain.
//!
//! It had `port`, `description` and an `authentication` object instead of `paths`.

use super::{Document, Migrate, NoPrevious};
use crate::error::Diagnostics;
use crate::version::FormatVersion;

pub(crate) struct V0_0(pub(super) Document);

impl Migrate for V0_0 {
    const VERSION: Option<FormatVersion> = Some(FormatVersion::V0_0);
    type Previous = NoPrevious;

    fn from_document(doc: Document) -> Self {
        V0_0(doc)
    }

    fn into_document(self) -> Document {
        self.0
    }

    fn migrate(previous: NoPrevious, _: &mut Diagnostics) -> Self {
        V0_0(previous.into_document())
    }
}
