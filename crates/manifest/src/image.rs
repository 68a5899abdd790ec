//! Docker image references, checked against the grammar of the distribution project's
//! `reference` package, so that nothing else reaches `docker pull` or the registry.

use std::fmt;
use std::str::FromStr;

use crate::error::InvalidValue;

/// The longest name (domain and path) the grammar allows.
pub const MAX_IMAGE_NAME_LEN: usize = 255;

/// `[domain[:port]/]path[:tag][@sha256:<hex>]`, kept exactly as written.
///
/// No normalisation: `nginx` stays `nginx` (not `docker.io/library/nginx:latest`), so
/// `ImageReference::new(s)?.as_str() == s`. The first path component is a domain when
/// it contains `.` or `:`, is `localhost`, or has an uppercase letter, as Docker decides.
/// Digests are `sha256` in lowercase hex only, the one form registries produce.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageReference {
    full: String,
    domain: Option<String>,
    path: String,
    tag: Option<String>,
    digest: Option<String>,
}

impl ImageReference {
    pub fn new(reference: &str) -> Result<ImageReference, InvalidValue> {
        parse(reference).map_err(|why| {
            InvalidValue::new(format!("image reference `{reference}` is invalid: {why}"))
        })
    }

    pub fn as_str(&self) -> &str {
        &self.full
    }

    /// The registry host and optional port, such as `ghcr.io` or `localhost:5000`.
    pub fn domain(&self) -> Option<&str> {
        self.domain.as_deref()
    }

    /// The repository path within the registry, such as `paperless-ngx/paperless-ngx`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The name without tag or digest: domain and path.
    pub fn name(&self) -> String {
        match &self.domain {
            Some(domain) => format!("{domain}/{}", self.path),
            None => self.path.clone(),
        }
    }

    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest with its algorithm, such as `sha256:0123…`.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }
}

impl fmt::Display for ImageReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.full)
    }
}

impl FromStr for ImageReference {
    type Err = InvalidValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ImageReference::new(s)
    }
}

impl serde::Serialize for ImageReference {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.full)
    }
}

impl<'de> serde::Deserialize<'de> for ImageReference {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        ImageReference::new(&s).map_err(serde::de::Error::custom)
    }
}

fn parse(full: &str) -> Result<ImageReference, String> {
    if full.is_empty() {
        return Err("it is empty".to_owned());
    }
    let (rest, digest) = match full.split_once('@') {
        Some((rest, digest)) => (rest, Some(check_digest(digest)?)),
        None => (full, None),
    };
    let last_slash = rest.rfind('/');
    let (name, tag) = match rest.rfind(':') {
        Some(colon) if last_slash.is_none_or(|slash| colon > slash) => {
            let name = rest.get(..colon).unwrap_or("");
            let tag = rest.get(colon + 1..).unwrap_or("");
            (name, Some(check_tag(tag)?))
        }
        _ => (rest, None),
    };
    if name.len() > MAX_IMAGE_NAME_LEN {
        return Err(format!(
            "the name is longer than {MAX_IMAGE_NAME_LEN} characters"
        ));
    }
    let (domain, path) = match name.split_once('/') {
        Some((first, path))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.chars().any(|c| c.is_ascii_uppercase()) =>
        {
            check_domain(first)?;
            (Some(first.to_owned()), path)
        }
        _ => (None, name),
    };
    for component in path.split('/') {
        check_path_component(component)?;
    }
    Ok(ImageReference {
        full: full.to_owned(),
        domain,
        path: path.to_owned(),
        tag: tag.map(str::to_owned),
        digest: digest.map(str::to_owned),
    })
}

/// `sha256:` followed by 64 lowercase hex digits.
fn check_digest(digest: &str) -> Result<&str, String> {
    let ok = digest.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    });
    if ok {
        Ok(digest)
    } else {
        Err(format!(
            "digest `{digest}` is not `sha256:` followed by 64 lowercase hex digits"
        ))
    }
}

/// `[\w][\w.-]{0,127}`.
fn check_tag(tag: &str) -> Result<&str, String> {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let ok = tag.starts_with(word)
        && tag.len() <= 128
        && tag.chars().all(|c| word(c) || c == '.' || c == '-');
    if ok {
        Ok(tag)
    } else {
        Err(format!("tag `{tag}` is not 1 to 128 letters, digits, `_`, `.` or `-`, starting with a letter, digit or `_`"))
    }
}

/// `host[:port]`, where host is dot-separated labels or a bracketed IPv6 address.
fn check_domain(domain: &str) -> Result<(), String> {
    let fail = || Err(format!("registry domain `{domain}` is invalid"));
    let (host, port) = if let Some(v6) = domain.strip_prefix('[') {
        let Some((addr, after)) = v6.split_once(']') else {
            return fail();
        };
        if addr.is_empty()
            || !addr
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
        {
            return fail();
        }
        match after {
            "" => ("", None),
            _ => match after.strip_prefix(':') {
                Some(port) => ("", Some(port)),
                None => return fail(),
            },
        }
    } else {
        match domain.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (domain, None),
        }
    };
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if !domain.starts_with('[') && !host.split('.').all(label_ok) {
        return fail();
    }
    if let Some(port) = port {
        if port.is_empty() || !port.chars().all(|c| c.is_ascii_digit()) {
            return fail();
        }
    }
    Ok(())
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*`.
fn check_path_component(component: &str) -> Result<(), String> {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let fail = || {
        Err(format!(
            "path component `{component}` is not lowercase letters and digits separated by `.`, `_`, `__` or dashes"
        ))
    };
    if !component.starts_with(alnum) || !component.ends_with(alnum) {
        return fail();
    }
    // Splitting on alphanumerics leaves the separators, which must each be valid.
    for separator in component.split(alnum).filter(|s| !s.is_empty()) {
        let ok = matches!(separator, "." | "_" | "__") || separator.chars().all(|c| c == '-');
        if !ok {
            return fail();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::{expect, Expect};

    fn check(reference: &str, expect: Expect) {
        let actual = match ImageReference::new(reference) {
            Ok(r) => {
                assert_eq!(r.as_str(), reference);
                format!(
                    "domain={:?} path={} tag={:?} digest={:?} name={}",
                    r.domain(),
                    r.path(),
                    r.tag(),
                    r.digest(),
                    r.name()
                )
            }
            Err(e) => e.to_string(),
        };
        expect.assert_eq(&actual);
    }

    const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn valid_references() {
        check(
            "nginx",
            expect![[r#"domain=None path=nginx tag=None digest=None name=nginx"#]],
        );
        check(
            "nodered/node-red:3.0.2",
            expect![[
                r#"domain=None path=nodered/node-red tag=Some("3.0.2") digest=None name=nodered/node-red"#
            ]],
        );
        check(
            "ghcr.io/paperless-ngx/paperless-ngx:1.17",
            expect![[
                r#"domain=Some("ghcr.io") path=paperless-ngx/paperless-ngx tag=Some("1.17") digest=None name=ghcr.io/paperless-ngx/paperless-ngx"#
            ]],
        );
        check(
            "localhost:5000/a/b__c.d---e:Latest_1",
            expect![[
                r#"domain=Some("localhost:5000") path=a/b__c.d---e tag=Some("Latest_1") digest=None name=localhost:5000/a/b__c.d---e"#
            ]],
        );
        check(
            "localhost/x",
            expect![[r#"domain=Some("localhost") path=x tag=None digest=None name=localhost/x"#]],
        );
        check(
            "Registry/x",
            expect![[r#"domain=Some("Registry") path=x tag=None digest=None name=Registry/x"#]],
        );
        check(
            "[::1]:5000/x:1",
            expect![[
                r#"domain=Some("[::1]:5000") path=x tag=Some("1") digest=None name=[::1]:5000/x"#
            ]],
        );
        check(
            &format!("x@sha256:{HEX}"),
            expect![[
                r#"domain=None path=x tag=None digest=Some("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef") name=x"#
            ]],
        );
        check(
            &format!("r.io:443/x:v1@sha256:{HEX}"),
            expect![[
                r#"domain=Some("r.io:443") path=x tag=Some("v1") digest=Some("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef") name=r.io:443/x"#
            ]],
        );
        check(
            &format!("x:{}", "t".repeat(128)),
            expect![[
                r#"domain=None path=x tag=Some("tttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttt") digest=None name=x"#
            ]],
        );
    }

    #[test]
    fn invalid_references() {
        check("", expect!["image reference `` is invalid: it is empty"]);
        check("Nginx", expect!["image reference `Nginx` is invalid: path component `Nginx` is not lowercase letters and digits separated by `.`, `_`, `__` or dashes"]);
        check("a/B", expect!["image reference `a/B` is invalid: path component `B` is not lowercase letters and digits separated by `.`, `_`, `__` or dashes"]);
        check("a__-b", expect!["image reference `a__-b` is invalid: path component `a__-b` is not lowercase letters and digits separated by `.`, `_`, `__` or dashes"]);
        check("a___b", expect!["image reference `a___b` is invalid: path component `a___b` is not lowercase letters and digits separated by `.`, `_`, `__` or dashes"]);
        check("a..b", expect!["image reference `a..b` is invalid: path component `a..b` is not lowercase letters and digits separated by `.`, `_`, `__` or dashes"]);
        check("-a", expect!["image reference `-a` is invalid: path component `-a` is not lowercase letters and digits separated by `.`, `_`, `__` or dashes"]);
        check("a//b", expect!["image reference `a//b` is invalid: path component `` is not lowercase letters and digits separated by `.`, `_`, `__` or dashes"]);
        check("a/", expect!["image reference `a/` is invalid: path component `` is not lowercase letters and digits separated by `.`, `_`, `__` or dashes"]);
        check("x:", expect!["image reference `x:` is invalid: tag `` is not 1 to 128 letters, digits, `_`, `.` or `-`, starting with a letter, digit or `_`"]);
        check("x:.a", expect!["image reference `x:.a` is invalid: tag `.a` is not 1 to 128 letters, digits, `_`, `.` or `-`, starting with a letter, digit or `_`"]);
        check(&format!("x:{}", "t".repeat(129)), expect!["image reference `x:ttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttt` is invalid: tag `ttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttt` is not 1 to 128 letters, digits, `_`, `.` or `-`, starting with a letter, digit or `_`"]);
        check("x@sha256:abc", expect!["image reference `x@sha256:abc` is invalid: digest `sha256:abc` is not `sha256:` followed by 64 lowercase hex digits"]);
        check(&format!("x@md5:{HEX}"), expect!["image reference `x@md5:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef` is invalid: digest `md5:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef` is not `sha256:` followed by 64 lowercase hex digits"]);
        check(
            "-bad.io/x",
            expect!["image reference `-bad.io/x` is invalid: registry domain `-bad.io` is invalid"],
        );
        check(
            "bad.io:/x",
            expect!["image reference `bad.io:/x` is invalid: registry domain `bad.io:` is invalid"],
        );
        check(
            "bad.io:5x/x",
            expect![
                "image reference `bad.io:5x/x` is invalid: registry domain `bad.io:5x` is invalid"
            ],
        );
        check("[zz]/x", expect!["image reference `[zz]/x` is invalid: path component `[zz]` is not lowercase letters and digits separated by `.`, `_`, `__` or dashes"]);
        check("x y", expect!["image reference `x y` is invalid: path component `x y` is not lowercase letters and digits separated by `.`, `_`, `__` or dashes"]);
        check("x:1 ", expect!["image reference `x:1 ` is invalid: tag `1 ` is not 1 to 128 letters, digits, `_`, `.` or `-`, starting with a letter, digit or `_`"]);
    }

    #[test]
    fn name_length_limit() {
        let long = format!("a/{}", "b".repeat(253));
        assert!(ImageReference::new(&long).is_ok());
        let too_long = format!("a/{}", "b".repeat(254));
        check(&too_long, expect!["image reference `a/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb` is invalid: the name is longer than 255 characters"]);
    }
}
