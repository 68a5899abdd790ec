//! Format 4.0, from 3.2, the current format: `port` becomes an `http` entrypoint, and
//! the path header variables move under `auth.` (`{{ client_id }}` becomes
//! `{{ auth.client_id }}`).

use serde_json::json;

use super::v3_2::V3_2;
use super::{rewrite_header_templates, Document, Migrate};
use crate::error::{Diagnostics, Pointer};
use crate::json;
use crate::template::{Accessor, RawExpr};
use crate::version::FormatVersion;

pub(crate) struct V4_0(pub(super) Document);

impl Migrate for V4_0 {
    const VERSION: Option<FormatVersion> = Some(FormatVersion::V4_0);
    type Previous = V3_2;

    fn from_document(doc: Document) -> Self {
        V4_0(doc)
    }

    fn into_document(self) -> Document {
        self.0
    }

    fn migrate(previous: V3_2, diag: &mut Diagnostics) -> Self {
        let mut doc = previous.into_document();
        if let Some(port) = json::take(&mut doc.0, "port") {
            if json::get(&doc.0, "entrypoints").is_some() {
                diag.warn(
                    &Pointer::root().key("entrypoints"),
                    "`entrypoints` of a format 3.2 file replaced by the one derived from `port`",
                );
            }
            // A bad port is passed on, for the checks to report at its new place.
            let entrypoints = json!([{"container_port": port, "entrypoint_port": "http"}]);
            doc.0.insert("entrypoints".to_owned(), entrypoints);
        }
        rewrite_header_templates(&mut doc, move_under_auth);
        doc.set_version(FormatVersion::V4_0);
        V4_0(doc)
    }
}

fn move_under_auth(expr: &mut RawExpr) -> bool {
    if !["client_id", "client_name", "client_type"].contains(&expr.root.as_str()) {
        return false;
    }
    let field = std::mem::replace(&mut expr.root, "auth".to_owned());
    expr.accessors.insert(0, Accessor::Attr(field));
    true
}
