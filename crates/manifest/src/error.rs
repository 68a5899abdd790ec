//! Errors and warnings of app.json parsing, and the JSON pointers that locate them.
//!
//! Everything found wrong in one app.json is collected in one `Diagnostics` and reported at
//! once, so that an app author fixes a file in one round instead of one error per upload.

use std::fmt;

/// One problem in an app.json, located by an RFC 6901 JSON pointer.
///
/// The pointer points into the document as migrated to the current format, except for
/// fields that have no place there (such as `/authentication` of format 0.0), which are
/// located in the source document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pointer: String,
    message: String,
}

impl FieldError {
    /// The RFC 6901 JSON pointer to the offending field; `""` is the whole document.
    pub fn pointer(&self) -> &str {
        &self.pointer
    }

    /// A lowercase message without final period; user input is quoted in backticks.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_located(f, &self.pointer, &self.message)
    }
}

/// Something accepted but probably not meant, such as an unknown key that was ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pointer: String,
    message: String,
}

impl Warning {
    /// The RFC 6901 JSON pointer to the field concerned; `""` is the whole document.
    pub fn pointer(&self) -> &str {
        &self.pointer
    }

    /// A lowercase message without final period; user input is quoted in backticks.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_located(f, &self.pointer, &self.message)
    }
}

fn write_located(f: &mut fmt::Formatter<'_>, pointer: &str, message: &str) -> fmt::Result {
    if pointer.is_empty() {
        f.write_str(message)
    } else {
        // A pointer holds user input too: escape it like a quoted value.
        let pointer = escape_controls(pointer);
        write!(f, "{pointer}: {message}")
    }
}

/// All the errors of one app.json; never empty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ManifestErrors {
    // INVARIANT: never empty.
    errors: Vec<FieldError>,
}

impl ManifestErrors {
    /// The errors in document order (as far as the checks go in document order).
    pub fn errors(&self) -> &[FieldError] {
        &self.errors
    }

    /// Gives the errors up, for callers that map them to their own report.
    pub fn into_errors(self) -> Vec<FieldError> {
        self.errors
    }

    pub(crate) fn single(pointer: &Pointer, message: impl Into<String>) -> Self {
        Self {
            errors: vec![FieldError {
                pointer: pointer.to_string(),
                message: message.into(),
            }],
        }
    }
}

impl fmt::Display for ManifestErrors {
    /// One line, errors separated by `; `, so that it fits a log line or an HTTP detail.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

/// A value refused by the constructor of a newtype such as [`crate::name::AppName`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct InvalidValue {
    message: String,
}

impl InvalidValue {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

/// `value` in backticks, with control characters escaped so that a message stays on
/// one line and shows what was really sent.
pub(crate) fn quoted(value: &str) -> String {
    format!("`{}`", escape_controls(value))
}

/// `value` with control characters escaped as in Rust source (`\n`, `\0`).
fn escape_controls(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out
}

/// An RFC 6901 JSON pointer under construction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Pointer(String);

impl Pointer {
    pub(crate) fn root() -> Self {
        Self::default()
    }

    /// The pointer to member `key` of the object this pointer locates.
    pub(crate) fn key(&self, key: &str) -> Self {
        let mut out = self.0.clone();
        out.push('/');
        for c in key.chars() {
            match c {
                '~' => out.push_str("~0"),
                '/' => out.push_str("~1"),
                c => out.push(c),
            }
        }
        Self(out)
    }

    /// The pointer to item `index` of the array this pointer locates.
    pub(crate) fn index(&self, index: usize) -> Self {
        Self(format!("{}/{index}", self.0))
    }
}

impl fmt::Display for Pointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Collects errors and warnings while a document is migrated and checked.
#[derive(Debug, Default)]
pub(crate) struct Diagnostics {
    errors: Vec<FieldError>,
    warnings: Vec<Warning>,
}

impl Diagnostics {
    pub(crate) fn error(&mut self, pointer: &Pointer, message: impl Into<String>) {
        self.errors.push(FieldError {
            pointer: pointer.to_string(),
            message: message.into(),
        });
    }

    pub(crate) fn warn(&mut self, pointer: &Pointer, message: impl Into<String>) {
        self.warnings.push(Warning {
            pointer: pointer.to_string(),
            message: message.into(),
        });
    }

    pub(crate) fn error_count(&self) -> usize {
        self.errors.len()
    }

    /// The value with its warnings if no error was reported, else all errors.
    ///
    /// A missing value with no error reported is a bug; it still fails, never panics.
    pub(crate) fn finish<T>(self, value: Option<T>) -> Result<(T, Vec<Warning>), ManifestErrors> {
        match value {
            Some(value) if self.errors.is_empty() => Ok((value, self.warnings)),
            _ if !self.errors.is_empty() => Err(ManifestErrors {
                errors: self.errors,
            }),
            _ => Err(ManifestErrors::single(
                &Pointer::root(),
                "app manifest could not be read",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_escape_tilde_and_slash() {
        let p = Pointer::root().key("paths").key("/api/~x").key("headers");
        assert_eq!(p.to_string(), "/paths/~1api~1~0x/headers");
        assert_eq!(Pointer::root().key("paths").key("").to_string(), "/paths/");
        assert_eq!(Pointer::root().key("a").index(3).to_string(), "/a/3");
        assert_eq!(Pointer::root().to_string(), "");
    }

    #[test]
    fn quoting_escapes_control_characters() {
        assert_eq!(quoted("a\nb\0c`d"), "`a\\nb\\0c`d`");
        let mut d = Diagnostics::default();
        d.error(&Pointer::root().key("`a\nb`"), "m");
        let errors = d.finish::<()>(None).unwrap_err();
        assert_eq!(errors.errors()[0].pointer(), "/`a\nb`");
        assert_eq!(errors.to_string(), "/`a\\nb`: m");
    }

    #[test]
    fn errors_display_on_one_line() {
        let mut d = Diagnostics::default();
        d.error(&Pointer::root().key("name"), "bad name");
        d.error(&Pointer::root(), "bad document");
        let errors = d.finish::<()>(Some(())).unwrap_err();
        assert_eq!(errors.to_string(), "/name: bad name; bad document");
        assert_eq!(errors.errors().len(), 2);
    }

    #[test]
    fn finish_without_value_or_error_still_fails() {
        let errors = Diagnostics::default().finish::<()>(None).unwrap_err();
        assert_eq!(errors.to_string(), "app manifest could not be read");
    }
}
