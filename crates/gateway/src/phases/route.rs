//! Phase 1, route: which target a request is for, from its `Host`.

use http::{HeaderMap, Uri};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The core's UI and API: the bare domain, an IP address, or any host
    /// that is not a subdomain of the configured domain.
    Core,
    /// `<app>.<domain>`; the label is lowercased.
    App(String),
}

/// Decides the target from the `Host` header (or an absolute-form URI).
/// Compares without allocating; only an app's label is copied (lowercased).
pub fn route(headers: &HeaderMap, uri: &Uri, domain: &str) -> Target {
    let host = headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()))
        .unwrap_or_default();
    let name = strip_port(host).trim_end_matches('.');
    let domain = domain.trim_end_matches('.');
    let Some(split) = name.len().checked_sub(domain.len() + 1) else {
        return Target::Core;
    };
    // `get`, not slicing: never a panic on a split inside a character.
    let (Some(label), Some(suffix)) = (name.get(..split), name.get(split..)) else {
        return Target::Core;
    };
    match suffix.strip_prefix('.') {
        Some(d) if d.eq_ignore_ascii_case(domain) && !label.is_empty() => {
            Target::App(label.to_ascii_lowercase())
        }
        _ => Target::Core,
    }
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        // An IPv6 literal is never an app.
        return host;
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(host: &str, want: Target) {
        let mut h = HeaderMap::new();
        h.insert(http::header::HOST, host.parse().unwrap());
        assert_eq!(
            route(&h, &Uri::from_static("/"), "localhost"),
            want,
            "{host}"
        );
    }

    #[test]
    fn routes_by_host() {
        check("localhost:8080", Target::Core);
        check("127.0.0.1:8080", Target::Core);
        check("[::1]:8080", Target::Core);
        check("notes.localhost:8080", Target::App("notes".into()));
        check("Notes.LocalHost", Target::App("notes".into()));
        check("notes.localhost.", Target::App("notes".into()));
        check("evil-localhost:8080", Target::Core);
        check(".localhost", Target::Core);
        check("a.b.localhost", Target::App("a.b".into()));
        check("localhost", Target::Core);
        check("xlocalhost", Target::Core);
        check("NOTES.localhost:1", Target::App("notes".into()));
    }
}
