//! Where a peer is: the base URL of its domain, under which its apps are
//! served as `<app>.<domain>`. A call an app makes to its peers
//! (`/internal/call_peer`) goes to the same app there, so the URL names a
//! domain and a port, never a path, and never an IP address (there is no
//! `<app>.<address>`).
//!
//! Pure: parsing and the names derived from a parsed URL.

use std::fmt;

/// A parsed, canonical peer URL: `http://host[:port]` or `https://…`, the
/// host lowercase, no default port, nothing after the authority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerUrl {
    https: bool,
    host: String,
    port: Option<u16>,
}

impl PeerUrl {
    /// Parses what the owner typed; the error says what is wrong with it.
    pub fn parse(input: &str) -> Result<Self, String> {
        let (https, rest) = if let Some(rest) = strip_prefix_ci(input, "http://") {
            (false, rest)
        } else if let Some(rest) = strip_prefix_ci(input, "https://") {
            (true, rest)
        } else {
            return Err("must start with `http://` or `https://`".into());
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains(['/', '?', '#', '@', '[', ']']) {
            return Err("must be `http(s)://domain[:port]`, with no path, query or user".into());
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => {
                let port: u16 = port
                    .parse()
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| format!("`{port}` is not a port"))?;
                (host, Some(port))
            }
            None => (authority, None),
        };
        let host = host.to_ascii_lowercase();
        check_domain(&host)?;
        let default = if https { 443 } else { 80 };
        Ok(Self {
            https,
            host,
            port: port.filter(|p| *p != default),
        })
    }

    /// The domain.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// `<app>.<domain>[:port]`: the `Host` of a call to `app` at this
    /// peer, and the `@authority` its signature covers.
    pub fn app_authority(&self, app: &str) -> String {
        match self.port {
            Some(port) => format!("{app}.{}:{port}", self.host),
            None => format!("{app}.{}", self.host),
        }
    }

    /// `http(s)://<app>.<domain>[:port]`.
    pub fn app_origin(&self, app: &str) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}", self.app_authority(app))
    }
}

impl fmt::Display for PeerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.https { "https" } else { "http" };
        match self.port {
            Some(port) => write!(f, "{scheme}://{}:{port}", self.host),
            None => write!(f, "{scheme}://{}", self.host),
        }
    }
}

/// Whether `host` is `localhost` or a name under it, which resolve to
/// loopback whatever DNS says (RFC 6761), as browsers and curl do.
pub fn is_localhost_name(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    host.eq_ignore_ascii_case("localhost")
        || host.len() > ".localhost".len()
            && host[host.len() - ".localhost".len()..].eq_ignore_ascii_case(".localhost")
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// A DNS name of letters, digits and hyphens in dot-separated labels, not
/// all digits (an IPv4 address has no `<app>.` form).
fn check_domain(host: &str) -> Result<(), String> {
    if host.is_empty() {
        return Err("names no domain".into());
    }
    if host.len() > 253 {
        return Err("the domain is longer than 253 characters".into());
    }
    for label in host.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !ok {
            return Err(format!("`{host}` is not a domain name"));
        }
    }
    if host.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(
            "must name the peer's domain, not an IP address: its apps are at `<app>.<domain>`"
                .into(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_urls_and_app_names() {
        let u = PeerUrl::parse("HTTP://Localhost:18080/").unwrap();
        assert_eq!(u.to_string(), "http://localhost:18080");
        assert_eq!(u.app_authority("notes"), "notes.localhost:18080");
        assert_eq!(u.app_origin("notes"), "http://notes.localhost:18080");
        let u = PeerUrl::parse("https://alice.example.net:443").unwrap();
        assert_eq!(u.to_string(), "https://alice.example.net");
        assert_eq!(u.app_authority("chat"), "chat.alice.example.net");
        let u = PeerUrl::parse("http://bob.example.net").unwrap();
        assert_eq!(u.app_origin("chat"), "http://chat.bob.example.net");
    }

    #[test]
    fn what_is_not_a_peer_domain_is_refused() {
        for bad in [
            "",
            "localhost:8080",
            "ftp://x.net",
            "http://",
            "http://x.net/path",
            "http://x.net?q",
            "http://user@x.net",
            "http://x.net:0",
            "http://x.net:99999",
            "http://x.net:port",
            "http://127.0.0.1:8080",
            "http://[::1]:8080",
            "http://-x.net",
            "http://x..net",
            "http://x_y.net",
        ] {
            assert!(PeerUrl::parse(bad).is_err(), "{bad:?}");
        }
        let e = PeerUrl::parse("http://10.0.0.1").unwrap_err();
        assert!(e.contains("not an IP address"), "{e}");
    }

    #[test]
    fn localhost_names() {
        assert!(is_localhost_name("localhost"));
        assert!(is_localhost_name("notes.localhost"));
        assert!(is_localhost_name("notes.LOCALHOST."));
        assert!(!is_localhost_name("notlocalhost"));
        assert!(!is_localhost_name("localhost.example.net"));
        assert!(!is_localhost_name("example.net"));
    }
}
