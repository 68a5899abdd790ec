//! Format migrations: a chain of version modules, each converting a document from the
//! version before it, as Garage migrates its stored formats.
//!
//! Migrations work on JSON objects, not typed structs: they move and rewrite the fields
//! their step changed and pass everything else through untouched, so that the checks,
//! which only know the current format, report each problem with a pointer into the
//! migrated document. A field the source version did not know but a later one does
//! (say `entrypoints` in a 3.2 file) passes through and is read as the later version
//! defines it, unless a step overwrites it, which it then warns about.

mod v0_0;
mod v1_0;
mod v2_0;
mod v3_0;
mod v3_1;
mod v3_2;
mod v4_0;

use serde_json::{Map, Value};

use crate::error::{Diagnostics, Pointer};
use crate::template::{parse_raw, print_raw, RawExpr, RawPart};
use crate::version::FormatVersion;

/// An app.json object at some version of the chain.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Document(pub(crate) Map<String, Value>);

/// One version of the format, which knows how to come from the version before it.
pub(crate) trait Migrate: Sized {
    /// `None` only for [`NoPrevious`], the end of the chain.
    const VERSION: Option<FormatVersion>;
    type Previous: Migrate;

    fn from_document(doc: Document) -> Self;
    fn into_document(self) -> Document;
    fn migrate(previous: Self::Previous, diag: &mut Diagnostics) -> Self;

    /// Takes `doc` of `version` up to this version, or gives it back if `version` is not
    /// on the chain below this one.
    fn load(
        doc: Document,
        version: FormatVersion,
        diag: &mut Diagnostics,
    ) -> Result<Self, Document> {
        if Self::VERSION == Some(version) {
            return Ok(Self::from_document(doc));
        }
        let previous = Self::Previous::load(doc, version, diag)?;
        Ok(Self::migrate(previous, diag))
    }
}

/// Below the oldest version; never loads anything.
pub(crate) struct NoPrevious(Document);

impl Migrate for NoPrevious {
    const VERSION: Option<FormatVersion> = None;
    type Previous = NoPrevious;

    fn from_document(doc: Document) -> Self {
        NoPrevious(doc)
    }

    fn into_document(self) -> Document {
        self.0
    }

    fn migrate(previous: Self::Previous, _: &mut Diagnostics) -> Self {
        previous
    }

    fn load(doc: Document, _: FormatVersion, _: &mut Diagnostics) -> Result<Self, Document> {
        Err(doc)
    }
}

pub(crate) use v4_0::V4_0 as Current;

/// Migrates `doc` from `version` to the current format, step by step.
pub(crate) fn upgrade(doc: Document, version: FormatVersion, diag: &mut Diagnostics) -> Document {
    match Current::load(doc, version, diag) {
        Ok(current) => current.into_document(),
        Err(doc) => {
            // Unreachable while every `FormatVersion` is on the chain, which a test checks.
            diag.error(
                &Pointer::root().key("v"),
                format!("no migration from format {version}"),
            );
            doc
        }
    }
}

impl Document {
    fn set_version(&mut self, version: FormatVersion) {
        self.0
            .insert("v".to_owned(), Value::String(version.as_str().to_owned()));
    }
}

/// Rewrites the expressions of a template held in `value` with `rewrite`, which returns
/// whether it changed one. Non-strings and templates that do not parse are left as they
/// are: the checks report them later, at their place in the migrated document.
fn rewrite_template(value: &mut Value, rewrite: impl Fn(&mut RawExpr) -> bool) {
    let Value::String(source) = value else { return };
    let Ok(mut parts) = parse_raw(source) else {
        return;
    };
    let mut changed = false;
    for part in &mut parts {
        if let RawPart::Expr(expr) = part {
            changed |= rewrite(expr);
        }
    }
    if changed {
        *source = print_raw(&parts);
    }
}

/// Applies `rewrite_template` to every header value of every path rule.
fn rewrite_header_templates(doc: &mut Document, rewrite: impl Fn(&mut RawExpr) -> bool) {
    let Some(Value::Object(paths)) = doc.0.get_mut("paths") else {
        return;
    };
    for rule in paths.values_mut() {
        let Some(Value::Object(headers)) = rule.get_mut("headers") else {
            continue;
        };
        for value in headers.values_mut() {
            rewrite_template(value, &rewrite);
        }
    }
}

#[cfg(test)]
mod tests;
