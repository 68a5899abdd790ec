//! Format 3.1, from 3.0: adds `lifecycle`, always set to idle shutdown after 60 seconds.
//!
//! As in the original, a `lifecycle` already in a 3.0 file (where it meant nothing) is
//! overwritten; unlike the original, berth warns about it.

use serde_json::json;

use super::v3_0::V3_0;
use super::{Document, Migrate};
use crate::error::{Diagnostics, Pointer};
use crate::json;
use crate::lifecycle::DEFAULT_IDLE_SECONDS;
use crate::version::FormatVersion;

pub(crate) struct V3_1(pub(super) Document);

impl Migrate for V3_1 {
    const VERSION: Option<FormatVersion> = Some(FormatVersion::V3_1);
    type Previous = V3_0;

    fn from_document(doc: Document) -> Self {
        V3_1(doc)
    }

    fn into_document(self) -> Document {
        self.0
    }

    fn migrate(previous: V3_0, diag: &mut Diagnostics) -> Self {
        let mut doc = previous.into_document();
        if json::take(&mut doc.0, "lifecycle").is_some() {
            diag.warn(
                &Pointer::root().key("lifecycle"),
                "`lifecycle` of a file older than format 3.1 replaced by the default, as the original did",
            );
        }
        let lifecycle = json!({"always_on": false, "idle_time_for_shutdown": DEFAULT_IDLE_SECONDS});
        doc.0.insert("lifecycle".to_owned(), lifecycle);
        doc.set_version(FormatVersion::V3_1);
        V3_1(doc)
    }
}
