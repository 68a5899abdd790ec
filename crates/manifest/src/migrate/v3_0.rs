//! Format 3.0, from 2.0: env var templates drop the `apps["<own name>"].` prefix, so
//! `{{ apps["paperless-ngx"].postgres.user }}` becomes `{{ postgres.user }}`.
//!
//! Only the app's own name is dropped, as in the original; a template naming another
//! app stays as it is and is refused as an unknown variable.

use serde_json::Value;

use super::v2_0::V2_0;
use super::{rewrite_template, Document, Migrate};
use crate::error::Diagnostics;
use crate::template::{Accessor, RawExpr};
use crate::version::FormatVersion;

pub(crate) struct V3_0(pub(super) Document);

impl Migrate for V3_0 {
    const VERSION: Option<FormatVersion> = Some(FormatVersion::V3_0);
    type Previous = V2_0;

    fn from_document(doc: Document) -> Self {
        V3_0(doc)
    }

    fn into_document(self) -> Document {
        self.0
    }

    fn migrate(previous: V2_0, _: &mut Diagnostics) -> Self {
        let mut doc = previous.into_document();
        let name = match doc.0.get("name") {
            Some(Value::String(name)) => Some(name.clone()),
            _ => None,
        };
        if let (Some(name), Some(Value::Object(env))) = (name, doc.0.get_mut("env_vars")) {
            for value in env.values_mut() {
                rewrite_template(value, |expr| strip_own_prefix(expr, &name));
            }
        }
        doc.set_version(FormatVersion::V3_0);
        V3_0(doc)
    }
}

/// `apps["<name>"].group.field` (or `apps.<name>.group…`) becomes `group.field`.
fn strip_own_prefix(expr: &mut RawExpr, name: &str) -> bool {
    if expr.root != "apps" {
        return false;
    }
    let (own, next) = match expr.accessors.as_slice() {
        [Accessor::Attr(own) | Accessor::Key(own), Accessor::Attr(next) | Accessor::Key(next), ..] => {
            (own.as_str(), next.clone())
        }
        _ => return false,
    };
    if own != name {
        return false;
    }
    expr.root = next;
    expr.accessors.drain(..2);
    true
}
