//! What the gateway answers itself: problem+json for API clients, small
//! HTML pages for browsers. Errors keep their source: the app (502, 504),
//! the client (401, 404), or berth (500).

use http::{header, HeaderValue, Response, StatusCode};

use crate::body::{full, BoxBody};

/// Browsers ask for HTML; API clients do not.
pub fn wants_html(headers: &http::HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}

pub fn problem(status: StatusCode, title: &str, detail: &str) -> Response<BoxBody> {
    let body = format!(
        "{{\"type\":\"about:blank\",\"title\":{},\"status\":{},\"detail\":{}}}",
        json_string(title),
        status.as_u16(),
        json_string(detail)
    );
    respond(status, "application/problem+json", body)
}

pub fn html(
    status: StatusCode,
    title: &str,
    message: &str,
    refresh_secs: Option<u32>,
) -> Response<BoxBody> {
    let refresh = refresh_secs
        .map(|s| format!("<meta http-equiv=\"refresh\" content=\"{s}\">"))
        .unwrap_or_default();
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">{refresh}<meta name=\"viewport\" content=\"width=device-width\"><title>{t}</title></head><body style=\"font-family:sans-serif;max-width:36em;margin:4em auto\"><h1>{t}</h1><p>{m}</p></body></html>",
        t = escape_html(title),
        m = escape_html(message)
    );
    let mut r = respond(status, "text/html; charset=utf-8", body);
    r.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
    );
    r
}

/// Chooses the page or the problem by what the client accepts.
pub fn error(wants_html: bool, status: StatusCode, title: &str, detail: &str) -> Response<BoxBody> {
    if wants_html {
        html(status, title, detail, None)
    } else {
        problem(status, title, detail)
    }
}

pub fn redirect(location: &str) -> Response<BoxBody> {
    let mut r = respond(
        StatusCode::FOUND,
        "text/plain; charset=utf-8",
        String::new(),
    );
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

fn respond(status: StatusCode, content_type: &'static str, body: String) -> Response<BoxBody> {
    let mut r = Response::new(full(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_user_text() {
        assert_eq!(
            escape_html("<script>\"x\"</script>"),
            "&lt;script&gt;&quot;x&quot;&lt;/script&gt;"
        );
        assert_eq!(json_string("a\"b\n"), "\"a\\\"b\\u000a\"");
    }
}
