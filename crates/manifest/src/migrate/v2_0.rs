//! Format 2.0, from 1.0: top-level `description` moves to `store_info.description_short`.

use serde_json::{Map, Value};

use super::v1_0::V1_0;
use super::{Document, Migrate};
use crate::error::{Diagnostics, Pointer};
use crate::json;
use crate::version::FormatVersion;

pub(crate) struct V2_0(pub(super) Document);

impl Migrate for V2_0 {
    const VERSION: Option<FormatVersion> = Some(FormatVersion::V2_0);
    type Previous = V1_0;

    fn from_document(doc: Document) -> Self {
        V2_0(doc)
    }

    fn into_document(self) -> Document {
        self.0
    }

    fn migrate(previous: V1_0, diag: &mut Diagnostics) -> Self {
        let mut doc = previous.into_document();
        if let Some(description) = json::take(&mut doc.0, "description") {
            let pointer = Pointer::root().key("store_info");
            match doc.0.get_mut("store_info") {
                Some(Value::Object(info)) if json::get(info, "description_short").is_some() => {
                    diag.warn(
                        &pointer.key("description_short"),
                        "kept instead of the top-level `description` of format 1.0",
                    );
                }
                Some(Value::Object(info)) => {
                    info.insert("description_short".to_owned(), description);
                }
                _ => {
                    let mut info = Map::new();
                    info.insert("description_short".to_owned(), description);
                    doc.0.insert("store_info".to_owned(), Value::Object(info));
                }
            }
        }
        doc.set_version(FormatVersion::V2_0);
        V2_0(doc)
    }
}
