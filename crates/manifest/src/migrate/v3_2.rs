//! Format 3.2, from 3.1: allows `shared_dir` in `data_dirs`; nothing to rewrite.

use super::v3_1::V3_1;
use super::{Document, Migrate};
use crate::error::Diagnostics;
use crate::version::FormatVersion;

pub(crate) struct V3_2(pub(super) Document);

impl Migrate for V3_2 {
    const VERSION: Option<FormatVersion> = Some(FormatVersion::V3_2);
    type Previous = V3_1;

    fn from_document(doc: Document) -> Self {
        V3_2(doc)
    }

    fn into_document(self) -> Document {
        self.0
    }

    fn migrate(previous: V3_1, _: &mut Diagnostics) -> Self {
        let mut doc = previous.into_document();
        doc.set_version(FormatVersion::V3_2);
        V3_2(doc)
    }
}
