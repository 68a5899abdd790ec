//! The surface syntax of templates: literal text with `{{ expr }}` holes, parsed into
//! parts without knowing which variables exist, and printed back canonically.
//!
//! The migrations rewrite templates at this level (dropping `apps["<name>"].`, moving
//! `client_id` under `auth.`), before any variable is looked up.

use std::fmt;

use crate::error::quoted;

/// A piece of a template as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RawPart {
    Literal(String),
    Expr(RawExpr),
}

/// `root` followed by attribute, key and slice accessors, as in `portal.id[:6]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawExpr {
    pub(crate) root: String,
    pub(crate) accessors: Vec<Accessor>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Accessor {
    /// `.name`
    Attr(String),
    /// `["name"]`; Jinja looks up attributes and keys alike.
    Key(String),
    /// `[start:stop]` with Python's semantics, no step.
    Slice(Option<i64>, Option<i64>),
}

/// Why a template does not parse, with the character position (from 1) where it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub(crate) position: usize,
    pub(crate) message: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "template syntax error at character {}: {}",
            self.position, self.message
        )
    }
}

/// Splits `source` into literal text and expressions.
///
/// Jinja's statements (`{%`) and comments (`{#`) are refused rather than copied as text,
/// since the original would have interpreted them.
pub(crate) fn parse(source: &str) -> Result<Vec<RawPart>, SyntaxError> {
    let mut cursor = Cursor {
        src: source,
        pos: 0,
    };
    let mut parts = Vec::new();
    let mut literal = String::new();
    while let Some(c) = cursor.peek() {
        if cursor.rest().starts_with("{{") {
            if !literal.is_empty() {
                parts.push(RawPart::Literal(std::mem::take(&mut literal)));
            }
            cursor.pos += 2;
            parts.push(RawPart::Expr(cursor.expression()?));
        } else if cursor.rest().starts_with("{%") {
            return Err(cursor.error("template statements `{%` are not supported"));
        } else if cursor.rest().starts_with("{#") {
            return Err(cursor.error("template comments `{#` are not supported"));
        } else {
            literal.push(c);
            cursor.pos += c.len_utf8();
        }
    }
    if !literal.is_empty() {
        parts.push(RawPart::Literal(literal));
    }
    Ok(parts)
}

/// Prints parts canonically: `{{ a.b["c"][1:2] }}`, so that `parse(print(p)) == p`.
pub(crate) fn print(parts: &[RawPart]) -> String {
    let mut out = String::new();
    for part in parts {
        match part {
            RawPart::Literal(text) => out.push_str(text),
            RawPart::Expr(expr) => {
                out.push_str("{{ ");
                out.push_str(&expr.root);
                for accessor in &expr.accessors {
                    print_accessor(&mut out, accessor);
                }
                out.push_str(" }}");
            }
        }
    }
    out
}

pub(crate) fn print_accessor(out: &mut String, accessor: &Accessor) {
    match accessor {
        Accessor::Attr(name) => {
            out.push('.');
            out.push_str(name);
        }
        Accessor::Key(key) => {
            out.push_str("[\"");
            for c in key.chars() {
                if c == '"' || c == '\\' {
                    out.push('\\');
                }
                out.push(c);
            }
            out.push_str("\"]");
        }
        Accessor::Slice(start, stop) => {
            out.push('[');
            if let Some(start) = start {
                out.push_str(&start.to_string());
            }
            out.push(':');
            if let Some(stop) = stop {
                out.push_str(&stop.to_string());
            }
            out.push(']');
        }
    }
}

struct Cursor<'a> {
    src: &'a str,
    // INVARIANT: always on a char boundary of `src`.
    pos: usize,
}

impl Cursor<'_> {
    fn rest(&self) -> &str {
        self.src.get(self.pos..).unwrap_or("")
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn skip_whitespace(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
    }

    fn error(&self, message: impl Into<String>) -> SyntaxError {
        let before = self.src.get(..self.pos).unwrap_or("");
        SyntaxError {
            position: before.chars().count() + 1,
            message: message.into(),
        }
    }

    fn unexpected(&self, expected: &str) -> SyntaxError {
        match self.peek() {
            Some(c) => {
                let c = quoted(c.encode_utf8(&mut [0; 4]));
                self.error(format!("expected {expected}, found {c}"))
            }
            None => self.error(format!(
                "expected {expected}, found the end of the template"
            )),
        }
    }

    /// Parses what follows `{{`, up to and including `}}`.
    fn expression(&mut self) -> Result<RawExpr, SyntaxError> {
        if self.peek() == Some('-') {
            return Err(self.error("whitespace control `{{-` is not supported"));
        }
        self.skip_whitespace();
        let root = self.identifier()?;
        let mut accessors = Vec::new();
        loop {
            self.skip_whitespace();
            match self.peek() {
                Some('.') => {
                    self.bump();
                    self.skip_whitespace();
                    accessors.push(Accessor::Attr(self.identifier()?));
                }
                Some('[') => {
                    self.bump();
                    accessors.push(self.subscript()?);
                }
                Some('}') if self.rest().starts_with("}}") => {
                    self.pos += 2;
                    return Ok(RawExpr { root, accessors });
                }
                Some('|') => return Err(self.error("template filters `|` are not supported")),
                _ => return Err(self.unexpected("`.`, `[` or `}}`")),
            }
        }
    }

    fn identifier(&mut self) -> Result<String, SyntaxError> {
        let mut name = String::new();
        match self.peek() {
            Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
            _ => return Err(self.unexpected("a variable name")),
        }
        while let Some(c) = self
            .peek()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        {
            name.push(c);
            self.bump();
        }
        Ok(name)
    }

    /// Parses what follows `[`: a quoted key or a slice, up to and including `]`.
    fn subscript(&mut self) -> Result<Accessor, SyntaxError> {
        self.skip_whitespace();
        let accessor = match self.peek() {
            Some(quote @ ('"' | '\'')) => {
                self.bump();
                Accessor::Key(self.string(quote)?)
            }
            _ => {
                let start = self.integer()?;
                self.skip_whitespace();
                if self.peek() != Some(':') {
                    return Err(match start {
                        Some(_) => self.error("indexing by number is not supported, use a slice"),
                        None => self.unexpected("a quoted key or a slice"),
                    });
                }
                self.bump();
                self.skip_whitespace();
                let stop = self.integer()?;
                self.skip_whitespace();
                if self.peek() == Some(':') {
                    return Err(self.error("slice steps are not supported"));
                }
                Accessor::Slice(start, stop)
            }
        };
        self.skip_whitespace();
        if self.peek() != Some(']') {
            return Err(self.unexpected("`]`"));
        }
        self.bump();
        Ok(accessor)
    }

    fn string(&mut self, quote: char) -> Result<String, SyntaxError> {
        let mut out = String::new();
        loop {
            match self.bump() {
                None => return Err(self.error("unterminated string")),
                Some(c) if c == quote => return Ok(out),
                Some('\\') => match self.peek() {
                    Some(c @ ('\\' | '"' | '\'')) => {
                        self.bump();
                        out.push(c);
                    }
                    _ => {
                        return Err(
                            self.error("only `\\\\`, `\\\"` and `\\'` escapes are supported")
                        )
                    }
                },
                Some(c) => out.push(c),
            }
        }
    }

    fn integer(&mut self) -> Result<Option<i64>, SyntaxError> {
        let start = self.pos;
        if self.peek() == Some('-') {
            self.bump();
        }
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
        }
        let text = self.src.get(start..self.pos).unwrap_or("");
        match text {
            "" => Ok(None),
            "-" => Err(self.unexpected("a digit")),
            _ => text
                .parse()
                .map(Some)
                .map_err(|_| self.error(format!("number `{text}` is too large"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::{expect, Expect};

    fn check(source: &str, expect: Expect) {
        let actual = match parse(source) {
            Ok(parts) => {
                let printed = print(&parts);
                assert_eq!(parse(&printed).as_ref(), Ok(&parts), "reparse of {printed}");
                format!("{parts:?}\n{printed}")
            }
            Err(e) => e.to_string(),
        };
        expect.assert_eq(&actual);
    }

    #[test]
    fn literal_only() {
        check(
            "plain } text { here }}",
            expect![[r#"
            [Literal("plain } text { here }}")]
            plain } text { here }}"#]],
        );
        check(
            "",
            expect![[r#"
            []
        "#]],
        );
    }

    #[test]
    fn expressions_with_accessors() {
        check(
            "postgres://{{postgres.userspec}}@{{ postgres.hostspec }}/x",
            expect![[r#"
            [Literal("postgres://"), Expr(RawExpr { root: "postgres", accessors: [Attr("userspec")] }), Literal("@"), Expr(RawExpr { root: "postgres", accessors: [Attr("hostspec")] }), Literal("/x")]
            postgres://{{ postgres.userspec }}@{{ postgres.hostspec }}/x"#]],
        );
        check(
            r#"{{ apps["paperless-ngx"].postgres.user }}"#,
            expect![[r#"
            [Expr(RawExpr { root: "apps", accessors: [Key("paperless-ngx"), Attr("postgres"), Attr("user")] })]
            {{ apps["paperless-ngx"].postgres.user }}"#]],
        );
        check(
            "{{ apps['a\\'b\"'] }}",
            expect![[r#"
            [Expr(RawExpr { root: "apps", accessors: [Key("a'b\"")] })]
            {{ apps["a'b\""] }}"#]],
        );
        check(
            "id-{{ portal.id[:6] }}{{ portal . id [ -2 : ] }}{{ x[1:3] }}{{ x[:] }}",
            expect![[r#"
            [Literal("id-"), Expr(RawExpr { root: "portal", accessors: [Attr("id"), Slice(None, Some(6))] }), Expr(RawExpr { root: "portal", accessors: [Attr("id"), Slice(Some(-2), None)] }), Expr(RawExpr { root: "x", accessors: [Slice(Some(1), Some(3))] }), Expr(RawExpr { root: "x", accessors: [Slice(None, None)] })]
            id-{{ portal.id[:6] }}{{ portal.id[-2:] }}{{ x[1:3] }}{{ x[:] }}"#]],
        );
        check(
            "{{ x }}}",
            expect![[r#"
            [Expr(RawExpr { root: "x", accessors: [] }), Literal("}")]
            {{ x }}}"#]],
        );
    }

    #[test]
    fn syntax_errors() {
        check(
            "{{ }}",
            expect!["template syntax error at character 4: expected a variable name, found `}`"],
        );
        check("{{ x", expect!["template syntax error at character 5: expected `.`, `[` or `}}`, found the end of the template"]);
        check(
            "a {{ x } b",
            expect!["template syntax error at character 8: expected `.`, `[` or `}}`, found `}`"],
        );
        check(
            "{{ x | lower }}",
            expect!["template syntax error at character 6: template filters `|` are not supported"],
        );
        check("{{ x[0] }}", expect!["template syntax error at character 7: indexing by number is not supported, use a slice"]);
        check(
            "{{ x[::2] }}",
            expect!["template syntax error at character 7: slice steps are not supported"],
        );
        check(
            "{{ x[:6 }}",
            expect!["template syntax error at character 9: expected `]`, found `}`"],
        );
        check(
            "{{ x['a }}",
            expect!["template syntax error at character 11: unterminated string"],
        );
        check(
            r#"{{ x["\n"] }}"#,
            expect![[
                r#"template syntax error at character 8: only `\\`, `\"` and `\'` escapes are supported"#
            ]],
        );
        check(
            "{{ x[-] }}",
            expect!["template syntax error at character 7: expected a digit, found `]`"],
        );
        check(
            "{{ x[:99999999999999999999] }}",
            expect![
                "template syntax error at character 27: number `99999999999999999999` is too large"
            ],
        );
        check(
            "{{ 1x }}",
            expect!["template syntax error at character 4: expected a variable name, found `1`"],
        );
        check(
            "{{- x }}",
            expect![
                "template syntax error at character 3: whitespace control `{{-` is not supported"
            ],
        );
        check(
            "{{ x -}}",
            expect!["template syntax error at character 6: expected `.`, `[` or `}}`, found `-`"],
        );
        check(
            "é{% if x %}",
            expect![
                "template syntax error at character 2: template statements `{%` are not supported"
            ],
        );
        check(
            "{# c #}",
            expect![
                "template syntax error at character 1: template comments `{#` are not supported"
            ],
        );
        check(
            "{{ x.}}",
            expect!["template syntax error at character 6: expected a variable name, found `}`"],
        );
        check(
            "{{ x[y] }}",
            expect![
                "template syntax error at character 6: expected a quoted key or a slice, found `y`"
            ],
        );
    }
}
