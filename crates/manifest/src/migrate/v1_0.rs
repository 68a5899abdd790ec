//! Format 1.0, from 0.0: the `authentication` object becomes `paths`.
//!
//! `default_access` (private if absent) becomes the `""` rule, `public_paths` and
//! `private_paths` become rules of their own. Private rules get the headers naming the
//! terminal, public ones only `X-Ptl-Client-Type: public`. A file without
//! `authentication` is private as a whole. A path listed both public and private stays
//! private, the safer reading.

use serde_json::{json, Map, Value};

use super::v0_0::V0_0;
use super::{Document, Migrate};
use crate::error::{quoted, Diagnostics, Pointer};
use crate::json;
use crate::version::FormatVersion;

pub(crate) struct V1_0(pub(super) Document);

impl Migrate for V1_0 {
    const VERSION: Option<FormatVersion> = Some(FormatVersion::V1_0);
    type Previous = V0_0;

    fn from_document(doc: Document) -> Self {
        V1_0(doc)
    }

    fn into_document(self) -> Document {
        self.0
    }

    fn migrate(previous: V0_0, diag: &mut Diagnostics) -> Self {
        let mut doc = previous.into_document();
        let pointer = Pointer::root().key("authentication");
        let paths = match json::take(&mut doc.0, "authentication") {
            None => default_paths("private"),
            Some(Value::Object(auth)) => paths_from(&auth, &pointer, diag),
            Some(other) => {
                let kind = json::kind(&other);
                diag.error(&pointer, format!("expected an object, found {kind}"));
                default_paths("private")
            }
        };
        if json::get(&doc.0, "paths").is_some() {
            diag.warn(
                &Pointer::root().key("paths"),
                "`paths` of a format 0.0 file replaced by the rules derived from `authentication`",
            );
        }
        doc.0.insert("paths".to_owned(), Value::Object(paths));
        doc.set_version(FormatVersion::V1_0);
        V1_0(doc)
    }
}

const KEYS: [&str; 3] = ["default_access", "public_paths", "private_paths"];

fn rule(access: &str) -> Value {
    if access == "public" {
        json!({"access": "public", "headers": {"X-Ptl-Client-Type": "public"}})
    } else {
        json!({
            "access": access,
            "headers": {
                "X-Ptl-Client-Type": "terminal",
                "X-Ptl-Client-Id": "{{ client_id }}",
                "X-Ptl-Client-Name": "{{ client_name }}",
            }
        })
    }
}

fn default_paths(access: &str) -> Map<String, Value> {
    let mut paths = Map::new();
    paths.insert(String::new(), rule(access));
    paths
}

fn paths_from(
    auth: &Map<String, Value>,
    pointer: &Pointer,
    diag: &mut Diagnostics,
) -> Map<String, Value> {
    json::warn_unknown_keys(auth, pointer, &KEYS, diag);
    // An unknown access is passed on, for the checks to report at `/paths//access`.
    let default_access = match json::get(auth, "default_access") {
        Some(Value::String(access)) => access.clone(),
        Some(other) => {
            let kind = json::kind(other);
            diag.error(
                &pointer.key("default_access"),
                format!("expected a string, found {kind}"),
            );
            "private".to_owned()
        }
        None => "private".to_owned(),
    };
    let mut paths = default_paths(&default_access);
    let mut public = Vec::new();
    for (key, access) in [("public_paths", "public"), ("private_paths", "private")] {
        let Some(list) = json::get(auth, key) else {
            continue;
        };
        let list_pointer = pointer.key(key);
        let Some(items) = json::list(list, &list_pointer, diag) else {
            continue;
        };
        for (i, item) in items.iter().enumerate() {
            let Some(path) = json::string(item, &list_pointer.index(i), diag) else {
                continue;
            };
            if access == "public" {
                public.push(path);
            } else if public.contains(&path) {
                let path = quoted(path);
                diag.warn(
                    &list_pointer.index(i),
                    format!("path {path} is also public, private wins"),
                );
            }
            paths.insert(path.to_owned(), rule(access));
        }
    }
    paths
}
