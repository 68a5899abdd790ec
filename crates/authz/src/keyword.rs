//! Canonical spellings of the small keyword enums (roles, visibilities, access kinds, ...).
//!
//! One macro gives each enum the same `as_str`, `Display`, `FromStr` and `ALL`,
//! so every keyword parses back from exactly its display form and nothing else
//! (no case folding, no trimming).

/// Gives a fieldless enum its canonical lowercase spelling: `ALL`, `as_str`,
/// `Display` and a `FromStr` that accepts exactly those spellings.
macro_rules! keyword_enum {
    ($ty:ident, $what:literal, { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $ty {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The canonical lowercase spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $ty {
            type Err = $crate::keyword::UnknownKeyword;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok(Self::$variant),)+
                    _ => Err($crate::keyword::UnknownKeyword { what: $what, expected: concat!($("`", $text, "` "),+) }),
                }
            }
        }
    };
}

/// A keyword (role, visibility, kind, action) that is not spelled canonically.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what}: expected one of {}", .expected.trim_end())]
pub struct UnknownKeyword {
    pub(crate) what: &'static str,
    pub(crate) expected: &'static str,
}

pub(crate) use keyword_enum;
