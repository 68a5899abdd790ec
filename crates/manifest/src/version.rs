//! The app.json format versions berth reads, from the `v` field.

use std::fmt;

use crate::error::{quoted, InvalidValue};

/// A format version; a file without `v` is 0.0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FormatVersion {
    V0_0,
    V1_0,
    V2_0,
    V3_0,
    V3_1,
    V3_2,
    V4_0,
}

impl FormatVersion {
    /// The format of stored manifests.
    pub const CURRENT: FormatVersion = FormatVersion::V4_0;

    /// Every version read, oldest first.
    pub const SUPPORTED: [FormatVersion; 7] = [
        FormatVersion::V0_0,
        FormatVersion::V1_0,
        FormatVersion::V2_0,
        FormatVersion::V3_0,
        FormatVersion::V3_1,
        FormatVersion::V3_2,
        FormatVersion::V4_0,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FormatVersion::V0_0 => "0.0",
            FormatVersion::V1_0 => "1.0",
            FormatVersion::V2_0 => "2.0",
            FormatVersion::V3_0 => "3.0",
            FormatVersion::V3_1 => "3.1",
            FormatVersion::V3_2 => "3.2",
            FormatVersion::V4_0 => "4.0",
        }
    }

    /// Only the exact strings of [`FormatVersion::SUPPORTED`]; notably `5.0`, the
    /// successor's transitional format, is refused, since its fields mean other things.
    pub fn new(v: &str) -> Result<FormatVersion, InvalidValue> {
        FormatVersion::SUPPORTED
            .into_iter()
            .find(|version| version.as_str() == v)
            .ok_or_else(|| {
                let supported: Vec<&str> = Self::SUPPORTED.iter().map(|v| v.as_str()).collect();
                InvalidValue::new(format!(
                    "unsupported format version {}, supported versions are {}",
                    quoted(v),
                    supported.join(", ")
                ))
            })
    }
}

impl fmt::Display for FormatVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_strings_only() {
        for v in FormatVersion::SUPPORTED {
            assert_eq!(FormatVersion::new(v.as_str()), Ok(v));
        }
        for bad in ["5.0", "9", "abc", "4", "4.00", " 4.0", ""] {
            let message = FormatVersion::new(bad).unwrap_err().to_string();
            assert_eq!(
                message,
                format!("unsupported format version `{bad}`, supported versions are 0.0, 1.0, 2.0, 3.0, 3.1, 3.2, 4.0")
            );
        }
    }
}
