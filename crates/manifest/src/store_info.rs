//! `store_info`: texts shown in the app store. Purely cosmetic, so read leniently: what
//! does not fit is dropped with a warning instead of refusing the app.

use serde_json::{json, Map, Value};

use crate::error::{Diagnostics, Pointer};
use crate::json;

/// A store text, as one string or as paragraphs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreText {
    Single(String),
    Paragraphs(Vec<String>),
}

impl StoreText {
    fn to_stored(&self) -> Value {
        match self {
            StoreText::Single(s) => json!(s),
            StoreText::Paragraphs(p) => json!(p),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreInfo {
    description_short: Option<String>,
    description_long: Option<StoreText>,
    hint: Option<StoreText>,
    is_featured: Option<bool>,
}

impl StoreInfo {
    pub fn description_short(&self) -> Option<&str> {
        self.description_short.as_deref()
    }

    pub fn description_long(&self) -> Option<&StoreText> {
        self.description_long.as_ref()
    }

    pub fn hint(&self) -> Option<&StoreText> {
        self.hint.as_ref()
    }

    pub fn is_featured(&self) -> bool {
        self.is_featured.unwrap_or(false)
    }

    pub(crate) fn to_stored(&self) -> Value {
        let mut out = Map::new();
        if let Some(s) = &self.description_short {
            out.insert("description_short".to_owned(), json!(s));
        }
        if let Some(t) = &self.description_long {
            out.insert("description_long".to_owned(), t.to_stored());
        }
        if let Some(t) = &self.hint {
            out.insert("hint".to_owned(), t.to_stored());
        }
        if let Some(b) = self.is_featured {
            out.insert("is_featured".to_owned(), json!(b));
        }
        Value::Object(out)
    }
}

const KEYS: [&str; 4] = [
    "description_short",
    "description_long",
    "hint",
    "is_featured",
];

/// Reads `store_info`; never reports an error, only warnings.
pub(crate) fn read(value: Option<&Value>, diag: &mut Diagnostics) -> Option<StoreInfo> {
    let pointer = Pointer::root().key("store_info");
    let value = value?;
    let Value::Object(object) = value else {
        diag.warn(
            &pointer,
            format!("ignored: expected an object, found {}", json::kind(value)),
        );
        return None;
    };
    json::warn_unknown_keys(object, &pointer, &KEYS, diag);
    let description_short = json::get(object, "description_short").and_then(|v| {
        let text = json::scalar_to_string(v);
        if text.is_none() {
            let p = pointer.key("description_short");
            diag.warn(
                &p,
                format!("ignored: expected a string, found {}", json::kind(v)),
            );
        }
        text
    });
    let text = |key: &str, diag: &mut Diagnostics| {
        let v = json::get(object, key)?;
        read_text(v, &pointer.key(key), diag)
    };
    let description_long = text("description_long", diag);
    let hint = text("hint", diag);
    let is_featured = json::get(object, "is_featured").and_then(|v| match v {
        Value::Bool(b) => Some(*b),
        other => {
            let p = pointer.key("is_featured");
            diag.warn(
                &p,
                format!("ignored: expected a boolean, found {}", json::kind(other)),
            );
            None
        }
    });
    Some(StoreInfo {
        description_short,
        description_long,
        hint,
        is_featured,
    })
}

fn read_text(value: &Value, pointer: &Pointer, diag: &mut Diagnostics) -> Option<StoreText> {
    match value {
        Value::Array(items) => {
            let mut paragraphs = Vec::new();
            for (i, item) in items.iter().enumerate() {
                match json::scalar_to_string(item) {
                    Some(s) => paragraphs.push(s),
                    None => {
                        let kind = json::kind(item);
                        diag.warn(
                            &pointer.index(i),
                            format!("ignored: expected a string, found {kind}"),
                        );
                    }
                }
            }
            Some(StoreText::Paragraphs(paragraphs))
        }
        other => match json::scalar_to_string(other) {
            Some(s) => Some(StoreText::Single(s)),
            None => {
                let kind = json::kind(other);
                diag.warn(
                    pointer,
                    format!("ignored: expected a string or a list, found {kind}"),
                );
                None
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::check_field;
    use expect_test::{expect, Expect};

    fn check(store_info: &str, expect: Expect) {
        check_field(
            "store_info",
            &format!(r#""store_info": {store_info}"#),
            expect,
        );
    }

    #[test]
    fn valid() {
        check(
            r#"{"description_short": "Scan and index documents", "description_long": ["One.", "Two."], "hint": "Needs 2 GB", "is_featured": true}"#,
            expect![[
                r#"{"description_long":["One.","Two."],"description_short":"Scan and index documents","hint":"Needs 2 GB","is_featured":true}"#
            ]],
        );
        check("{}", expect!["{}"]);
        check("null", expect!["(absent)"]);
    }

    #[test]
    fn lenient() {
        check(
            r#"{"description_short": ["x"], "description_long": {"a": 1}, "hint": ["a", 2, null, {}], "is_featured": "yes", "icon": "x.png"}"#,
            expect![[r#"
            {"hint":["a","2"]}
            warning /store_info/icon: unknown key `icon` ignored
            warning /store_info/description_short: ignored: expected a string, found a list
            warning /store_info/description_long: ignored: expected a string or a list, found an object
            warning /store_info/hint/2: ignored: expected a string, found null
            warning /store_info/hint/3: ignored: expected a string, found an object
            warning /store_info/is_featured: ignored: expected a boolean, found a string"#]],
        );
        check(
            r#""an app""#,
            expect![[r#"
            (absent)
            warning /store_info: ignored: expected an object, found a string"#]],
        );
    }
}
