//! Phase 5, headers: what the app may see of the request.
//!
//! Removed: the terminal cookie, every header the app's rules inject (a
//! client's copy would be a spoof), hop-by-hop headers. Added: the matched
//! rule's rendered headers and `X-Forwarded-For/Proto/Host`. berth is the
//! edge, so a client's `X-Forwarded-For` is replaced, not appended to.

use berth_authz::gateway::{Caller, Rule};
use berth_manifest::template::{TemplateContext, Variable};
use http::header::{self, HeaderName, HeaderValue};
use http::request::Parts;

use super::RequestCtx;
use crate::directory::{AppPathRule, AppRoute};
use crate::GatewayConfig;

/// The hop-by-hop fields of RFC 9110, section 7.6.1, and the old
/// `Proxy-Connection`: they describe one connection, not the message.
/// As `HeaderName`s, not strings: a removal by `&str` parses the name again
/// on every request. The lean path compares raw names against the same list.
/// A `static`, not a `const`: a `const` array is built and dropped again at
/// every use, which is once per header of every request.
pub(crate) static HOP_BY_HOP: [HeaderName; 7] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
static FORWARDING: [HeaderName; 4] = [
    X_FORWARDED_FOR,
    X_FORWARDED_PROTO,
    X_FORWARDED_HOST,
    header::FORWARDED,
];

/// The caller, the only values a path header template may use.
struct AuthContext<'a> {
    client_id: &'a str,
    client_name: &'a str,
    client_type: &'a str,
}

impl TemplateContext for AuthContext<'_> {
    fn value(&self, variable: Variable) -> Option<&str> {
        match variable {
            Variable::AuthClientId => Some(self.client_id),
            Variable::AuthClientName => Some(self.client_name),
            Variable::AuthClientType => Some(self.client_type),
            // The manifest refuses other variables in path headers.
            _ => None,
        }
    }
}

/// `rule` is the rule the decide phase matched the path to. Returns whether
/// the request asks for an upgrade, which the forward phase needs and which
/// stripping the hop-by-hop headers has already had to work out.
pub fn prepare(
    parts: &mut Parts,
    ctx: &RequestCtx,
    route: &AppRoute,
    rule: Option<&Rule<AppPathRule>>,
    config: &GatewayConfig,
) -> Result<bool, String> {
    let upgrade = is_upgrade(&parts.headers);
    strip_hop_by_hop(&mut parts.headers, upgrade, |name| {
        FORWARDING.contains(name) || route.injected.contains(name)
    });
    strip_cookie(&mut parts.headers, &config.terminal_cookie);

    let (client_id, client_name) = match &ctx.caller {
        Caller::Anonymous => ("", ""),
        Caller::Terminal { id, name } => (&**id, &**name),
        Caller::Peer { id } => (&**id, &**id),
    };
    let auth = AuthContext {
        client_id,
        client_name,
        client_type: ctx.caller.client_type(),
    };
    if let Some(rule) = rule {
        for (name, template) in &rule.value().headers {
            let value = template.render(&auth).map_err(|e| e.to_string())?;
            // Names come from users (terminal names); control characters
            // would split the header, so they make the request fail. The
            // rendered string becomes the value without a copy.
            let value = HeaderValue::from_maybe_shared(bytes::Bytes::from(value))
                .map_err(|e| format!("header `{name}`: {e}"))?;
            parts.headers.insert(name.clone(), value);
        }
    }

    let host = parts.headers.get(header::HOST).cloned();
    if let Some(v) = ctx
        .forwarded_for
        .clone()
        .or_else(|| ip_header_value(ctx.client.ip()))
    {
        parts.headers.insert(X_FORWARDED_FOR, v);
    }
    parts
        .headers
        .insert(X_FORWARDED_PROTO, HeaderValue::from_static("http"));
    if let Some(h) = host {
        parts.headers.insert(X_FORWARDED_HOST, h);
    }
    Ok(upgrade)
}

/// The client address as a header value, formatted on the stack: one
/// allocation (the value's) instead of two.
pub(crate) fn ip_header_value(ip: std::net::IpAddr) -> Option<HeaderValue> {
    use std::io::Write;
    // The longest IPv6 text form is 45 bytes.
    let mut buf = [0u8; 64];
    let mut cursor = std::io::Cursor::new(&mut buf[..]);
    write!(cursor, "{ip}").ok()?;
    let len = usize::try_from(cursor.position()).ok()?;
    HeaderValue::from_bytes(buf.get(..len)?).ok()
}

/// The request asks to switch protocols. `Upgrade` alone does not ask:
/// it is hop-by-hop, so it counts only when `Connection` names it too
/// (RFC 9110, 7.8).
fn is_upgrade(headers: &http::HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE)
        && headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| {
                v.split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
            })
}

/// Removes hop-by-hop headers, those named in `Connection` and those
/// `also` picks, in one pass. An upgrade keeps `Connection: upgrade` and
/// `Upgrade`, which the app needs.
pub fn strip_hop_by_hop(
    headers: &mut http::HeaderMap,
    keep_upgrade: bool,
    also: impl Fn(&HeaderName) -> bool,
) {
    let upgrade = if keep_upgrade {
        headers.get(header::UPGRADE).cloned()
    } else {
        None
    };
    // The values, not parsed names: a header is matched against them in
    // the one removal pass, without a copy per name. Most requests have
    // no `Connection` header, and then nothing is allocated.
    let connection: Vec<HeaderValue> = headers
        .get_all(header::CONNECTION)
        .iter()
        .cloned()
        .collect();
    let named_by_connection = |name: &HeaderName| {
        connection.iter().filter_map(|v| v.to_str().ok()).any(|v| {
            v.split(',')
                .any(|token| token.trim().eq_ignore_ascii_case(name.as_str()))
        })
    };
    remove_present(headers, |name| {
        HOP_BY_HOP.contains(name) || also(name) || named_by_connection(name)
    });
    if let Some(u) = upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, u);
    }
}

/// Removes the headers `doomed` picks. One pass over the names a request
/// has (a handful) instead of a hash lookup per name that might be there.
fn remove_present(headers: &mut http::HeaderMap, doomed: impl Fn(&HeaderName) -> bool) {
    let present: Vec<HeaderName> = headers.keys().filter(|n| doomed(n)).cloned().collect();
    for name in present {
        headers.remove(name);
    }
}

/// Drops the cookie `name` from every `Cookie` header, keeping the others.
fn strip_cookie(headers: &mut http::HeaderMap, name: &str) {
    if name.is_empty() {
        return;
    }
    // One pass over the pairs' names: a byte-window search for the name
    // compared at every offset of a long token, on every request.
    let carries = headers
        .get_all(header::COOKIE)
        .iter()
        .any(|v| cookie_names(v.as_bytes()).any(|n| n == name.as_bytes()));
    if !carries {
        return;
    }
    // The kept pairs, joined as they are found: one allocation, none when
    // the terminal cookie is the only one (as on an app's own host).
    let mut kept = String::new();
    for pair in headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .filter(|c| c.split_once('=').map_or(*c, |(n, _)| n).trim() != name)
    {
        if !kept.is_empty() {
            kept.push_str("; ");
        }
        kept.push_str(pair);
    }
    headers.remove(header::COOKIE);
    if !kept.is_empty() {
        if let Ok(v) = HeaderValue::from_maybe_shared(bytes::Bytes::from(kept)) {
            headers.insert(header::COOKIE, v);
        }
    }
}

/// The names of a `Cookie` value's pairs, trimmed.
fn cookie_names(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|b| *b == b';').map(|pair| {
        let name = pair.split(|b| *b == b'=').next().unwrap_or_default();
        name.trim_ascii()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_cookie_is_removed_and_others_kept() {
        let mut h = http::HeaderMap::new();
        h.append(
            header::COOKIE,
            "a=1; berth_terminal=secret; b=2".parse().unwrap(),
        );
        h.append(header::COOKIE, "berth_terminal=again".parse().unwrap());
        strip_cookie(&mut h, "berth_terminal");
        assert_eq!(h.get(header::COOKIE).unwrap(), "a=1; b=2");
        let mut only = http::HeaderMap::new();
        only.insert(header::COOKIE, "berth_terminal=x".parse().unwrap());
        strip_cookie(&mut only, "berth_terminal");
        assert!(only.get(header::COOKIE).is_none());
        // A value that merely contains the name is not the cookie.
        let mut lookalike = http::HeaderMap::new();
        let value = "x=berth_terminal; my_berth_terminal=1";
        lookalike.insert(header::COOKIE, value.parse().unwrap());
        strip_cookie(&mut lookalike, "berth_terminal");
        assert_eq!(lookalike.get(header::COOKIE).unwrap(), value);
    }

    #[test]
    fn hop_by_hop_and_connection_named_headers_go() {
        let mut h = http::HeaderMap::new();
        h.insert(header::CONNECTION, "keep-alive, x-secret".parse().unwrap());
        h.insert("x-secret", "1".parse().unwrap());
        h.insert("keep-alive", "timeout=5".parse().unwrap());
        h.insert("x-fine", "1".parse().unwrap());
        strip_hop_by_hop(&mut h, false, |_| false);
        assert!(h.get("x-secret").is_none() && h.get(header::CONNECTION).is_none());
        assert!(h.get("x-fine").is_some());
    }
}
