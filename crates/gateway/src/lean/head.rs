//! Message heads for the lean path: a client's request head read into
//! `http` parts (so the phases see what they see on hyper's path), the
//! request head written for the app, and the app's response head read and
//! rewritten for the client. Pure: no I/O.
//!
//! Anything the lean path does not handle is reported as a hand-over, not
//! an error: hyper then reads the same bytes and answers as it always did
//! (a malformed head gets hyper's 400, an upgrade is spliced, and so on).

use std::ops::Range;

use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderName, HeaderValue};
use http::{HeaderMap, Method, Uri, Version};

use super::framing::Framing;

/// Header fields a head may have on the lean path; more is hyper's.
const MAX_HEADERS: usize = 64;
/// Head bytes the lean path buffers; a longer head is hyper's.
pub(crate) const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Where the fields of a parsed request head are in its bytes, read before
/// the head is split off the connection's buffer. A connection keeps one
/// for all its requests.
pub(crate) struct RequestIndex {
    pub len: usize,
    method: Method,
    path: Range<usize>,
    fields: [(Range<usize>, Range<usize>); MAX_HEADERS],
    field_count: usize,
    body: Framing,
    close: bool,
}

/// A complete request head, ready for the phases.
pub(crate) struct RequestHead {
    pub parts: http::request::Parts,
    /// `Empty` or `Length`: other request framings are hyper's.
    pub body: Framing,
    /// The client asked to close the connection after this exchange.
    pub close: bool,
}

/// What the buffered bytes hold.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RequestRead {
    /// Not a whole head yet.
    Partial,
    /// A request the lean path leaves to hyper.
    HandOver,
    /// A head, described in the index.
    Complete,
}

impl RequestIndex {
    pub(crate) fn new() -> Self {
        Self {
            len: 0,
            method: Method::GET,
            path: 0..0,
            fields: std::array::from_fn(|_| (0..0, 0..0)),
            field_count: 0,
            body: Framing::Empty,
            close: false,
        }
    }
}

/// Reads a request head from the start of `buf`, without consuming it,
/// into `index`.
pub(crate) fn read_request(buf: &[u8], index: &mut RequestIndex) -> RequestRead {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let len = match req.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() <= MAX_HEAD_BYTES => {
            return RequestRead::Partial
        }
        // Too long, too many fields, or malformed: hyper answers.
        Ok(httparse::Status::Partial) | Err(_) => return RequestRead::HandOver,
    };
    // HTTP/1.0 (keep-alive by request) is hyper's.
    if req.version != Some(1) {
        return RequestRead::HandOver;
    }
    let (Some(method), Some(path)) = (req.method, req.path) else {
        return RequestRead::HandOver;
    };
    let Ok(method) = Method::from_bytes(method.as_bytes()) else {
        return RequestRead::HandOver;
    };
    // Only origin-form targets; absolute-form, authority-form (CONNECT) and
    // `*` are hyper's.
    if method == Method::CONNECT || !path.starts_with('/') {
        return RequestRead::HandOver;
    }
    let base = buf.as_ptr() as usize;
    let range = |s: &[u8]| {
        let start = s.as_ptr() as usize - base;
        start..start + s.len()
    };
    index.len = len;
    index.method = method;
    index.path = range(path.as_bytes());
    index.field_count = 0;
    index.close = false;
    let mut length: Option<u64> = None;
    for field in req.headers.iter() {
        let name = field.name.as_bytes();
        if eq(name, b"content-length") {
            let Some(n) = parse_length(field.value) else {
                return RequestRead::HandOver;
            };
            // Differing lengths are a smuggling attempt: hyper refuses it.
            if length.is_some_and(|l| l != n) {
                return RequestRead::HandOver;
            }
            length = Some(n);
        } else if eq(name, b"connection") {
            for token in tokens(field.value) {
                if eq(token, b"close") {
                    index.close = true;
                } else if eq(token, b"upgrade") {
                    return RequestRead::HandOver;
                }
            }
        } else if eq(name, b"transfer-encoding")
            || eq(name, b"expect")
            || eq(name, b"upgrade")
            // A peer's signed request: its body digest is checked on
            // hyper's path, which streams it through the verifier.
            || eq(name, b"signature")
            || eq(name, b"signature-input")
        {
            return RequestRead::HandOver;
        }
        index.fields[index.field_count] = (range(name), range(field.value));
        index.field_count += 1;
    }
    index.body = match length {
        Some(0) | None => Framing::Empty,
        Some(n) => Framing::Length(n),
    };
    RequestRead::Complete
}

impl RequestIndex {
    /// The head as `http` parts over `head`, the bytes `read_request` saw
    /// (split off the buffer): values share those bytes instead of copies.
    /// `headers` is an empty map whose memory is reused. `None` when a
    /// name, value or the target is not valid `http`.
    pub(crate) fn build(&self, head: &Bytes, mut headers: HeaderMap) -> Option<RequestHead> {
        let uri = Uri::from_maybe_shared(head.slice(self.path.clone())).ok()?;
        for (name, value) in &self.fields[..self.field_count] {
            let name = HeaderName::from_bytes(head.get(name.clone())?).ok()?;
            let value = HeaderValue::from_maybe_shared(head.slice(value.clone())).ok()?;
            headers.append(name, value);
        }
        let mut request = http::Request::new(());
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = uri;
        *request.version_mut() = Version::HTTP_11;
        *request.headers_mut() = headers;
        let (parts, ()) = request.into_parts();
        Some(RequestHead {
            parts,
            body: self.body,
            close: self.close,
        })
    }
}

/// Writes the request head for the app: origin-form, HTTP/1.1, the
/// headers the phases left (hop-by-hop ones are gone, `Content-Length`
/// stays).
pub(crate) fn write_request(parts: &http::request::Parts, out: &mut BytesMut) {
    out.extend_from_slice(parts.method.as_str().as_bytes());
    out.extend_from_slice(b" ");
    let target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in &parts.headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// An app's response head, read and rewritten for the client.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ResponseHead {
    pub status: u16,
    /// Bytes of the head in the app's buffer.
    pub len: usize,
    pub framing: Framing,
    /// The app keeps the connection open after this response.
    pub reusable: bool,
}

/// What the app's buffered bytes hold.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ResponseRead {
    Partial,
    /// Not a response the lean path can pass on (malformed, too long, a
    /// 101 it never asked for, contradictory lengths).
    Invalid,
    Complete(ResponseHead),
}

/// What the gateway adds to the app's response head.
pub(crate) struct ResponseExtras<'a> {
    /// A renewed terminal cookie.
    pub set_cookie: Option<&'a HeaderValue>,
    /// The client connection closes after this response.
    pub close: bool,
    /// The request was `HEAD`: the response has no body whatever it says.
    pub head_request: bool,
}

/// Reads the app's response head from `buf` and, when it is complete,
/// writes the client's version of it to `out`: hop-by-hop headers and those
/// named by `Connection` removed, the framing restated.
pub(crate) fn read_response(
    buf: &[u8],
    extras: &ResponseExtras<'_>,
    out: &mut BytesMut,
) -> ResponseRead {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    let len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() <= MAX_HEAD_BYTES => {
            return ResponseRead::Partial
        }
        Ok(httparse::Status::Partial) | Err(_) => return ResponseRead::Invalid,
    };
    let (Some(status), Some(version)) = (resp.code, resp.version) else {
        return ResponseRead::Invalid;
    };
    if status == 101 {
        return ResponseRead::Invalid;
    }
    let mut close = version == 0;
    let mut chunked = None;
    let mut length: Option<u64> = None;
    let mut named: [&[u8]; 8] = [b""; 8];
    let mut named_count = 0;
    for field in resp.headers.iter() {
        let name = field.name.as_bytes();
        if eq(name, b"connection") {
            for token in tokens(field.value) {
                if eq(token, b"close") {
                    close = true;
                } else if eq(token, b"keep-alive") {
                    close &= version != 0;
                } else if named_count < named.len() {
                    named[named_count] = token;
                    named_count += 1;
                }
            }
        } else if eq(name, b"transfer-encoding") {
            // The last coding decides: chunked, or the body runs to close.
            chunked = Some(
                tokens(field.value)
                    .last()
                    .is_some_and(|t| eq(t, b"chunked")),
            );
        } else if eq(name, b"content-length") {
            let Some(n) = parse_length(field.value) else {
                return ResponseRead::Invalid;
            };
            if length.is_some_and(|l| l != n) {
                return ResponseRead::Invalid;
            }
            length = Some(n);
        }
    }
    let informational = (100..200).contains(&status);
    let framing = if extras.head_request || informational || status == 204 || status == 304 {
        Framing::Empty
    } else {
        match (chunked, length) {
            (Some(true), _) => Framing::Chunked,
            (Some(false), _) => Framing::UntilClose,
            (None, Some(n)) => Framing::Length(n),
            (None, None) => Framing::UntilClose,
        }
    };

    out.extend_from_slice(b"HTTP/1.1 ");
    // httparse reads exactly three digits.
    out.extend_from_slice(&[
        b'0' + (status / 100 % 10) as u8,
        b'0' + (status / 10 % 10) as u8,
        b'0' + (status % 10) as u8,
    ]);
    out.extend_from_slice(b" ");
    out.extend_from_slice(resp.reason.unwrap_or_default().as_bytes());
    out.extend_from_slice(b"\r\n");
    for field in resp.headers.iter() {
        let name = field.name.as_bytes();
        if is_hop_by_hop(name) || named[..named_count].iter().any(|n| eq(n, name)) {
            continue;
        }
        // With a transfer coding the length is not the body's (RFC 9112,
        // 6.3): passing both on would leave the client two framings.
        if chunked.is_some() && eq(name, b"content-length") {
            continue;
        }
        out.extend_from_slice(name);
        out.extend_from_slice(b": ");
        out.extend_from_slice(field.value);
        out.extend_from_slice(b"\r\n");
    }
    if !informational {
        if framing == Framing::Chunked {
            out.extend_from_slice(b"transfer-encoding: chunked\r\n");
        }
        if framing == Framing::UntilClose || extras.close {
            out.extend_from_slice(b"connection: close\r\n");
        }
        if let Some(cookie) = extras.set_cookie {
            out.extend_from_slice(b"set-cookie: ");
            out.extend_from_slice(cookie.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }
    out.extend_from_slice(b"\r\n");
    ResponseRead::Complete(ResponseHead {
        status,
        len,
        framing,
        reusable: !close && framing != Framing::UntilClose,
    })
}

/// Writes the head of a response the gateway made itself (a page, a
/// refusal) for a body of `body_len` bytes.
pub(crate) fn write_response_head(
    parts: &http::response::Parts,
    body_len: usize,
    close: bool,
    out: &mut BytesMut,
) {
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(parts.status.as_str().as_bytes());
    out.extend_from_slice(b" ");
    out.extend_from_slice(
        parts
            .status
            .canonical_reason()
            .unwrap_or_default()
            .as_bytes(),
    );
    out.extend_from_slice(b"\r\n");
    for (name, value) in &parts.headers {
        if name == header::CONTENT_LENGTH
            || name == header::TRANSFER_ENCODING
            || name == header::CONNECTION
        {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"content-length: ");
    out.extend_from_slice(body_len.to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    if close {
        out.extend_from_slice(b"connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// The hop-by-hop fields of RFC 9110, section 7.6.1, and the old
/// `Proxy-Connection`: they describe one connection, not the message.
fn is_hop_by_hop(name: &[u8]) -> bool {
    [
        &b"connection"[..],
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    ]
    .iter()
    .any(|h| eq(name, h))
}

#[inline]
fn eq(a: &[u8], b: &[u8]) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// The comma-separated tokens of a field value, trimmed.
fn tokens(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|b| *b == b',')
        .map(|t| t.trim_ascii())
        .filter(|t| !t.is_empty())
}

/// A `Content-Length` value: digits only (no sign, no spaces inside).
fn parse_length(value: &[u8]) -> Option<u64> {
    let value = value.trim_ascii();
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(raw: &str) -> Option<RequestHead> {
        let mut index = RequestIndex::new();
        match read_request(raw.as_bytes(), &mut index) {
            RequestRead::Complete => {
                let head = Bytes::copy_from_slice(&raw.as_bytes()[..index.len]);
                index.build(&head, HeaderMap::new())
            }
            _ => None,
        }
    }

    fn hands_over(raw: &str) -> bool {
        read_request(raw.as_bytes(), &mut RequestIndex::new()) == RequestRead::HandOver
    }

    #[test]
    fn a_plain_request_becomes_parts() {
        let head =
            request("GET /a?b=1 HTTP/1.1\r\nHost: x.localhost\r\nX-A: 1\r\nX-A: 2\r\n\r\nNEXT")
                .unwrap();
        assert_eq!(head.parts.method, Method::GET);
        assert_eq!(head.parts.uri, "/a?b=1");
        assert_eq!(head.parts.headers["host"], "x.localhost");
        assert_eq!(head.parts.headers.get_all("x-a").iter().count(), 2);
        assert_eq!((head.body, head.close), (Framing::Empty, false));
        let post =
            request("POST / HTTP/1.1\r\nContent-Length: 5\r\nConnection: close\r\n\r\n").unwrap();
        assert_eq!((post.body, post.close), (Framing::Length(5), true));
    }

    #[test]
    fn an_incomplete_head_waits_for_more() {
        assert_eq!(
            read_request(b"GET / HTTP/1.1\r\nHost: x", &mut RequestIndex::new()),
            RequestRead::Partial
        );
    }

    #[test]
    fn what_the_lean_path_does_not_handle_goes_to_hyper() {
        for raw in [
            "GET / HTTP/1.0\r\n\r\n",
            "GET http://x.localhost/ HTTP/1.1\r\n\r\n",
            "CONNECT x:80 HTTP/1.1\r\n\r\n",
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            "POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n",
            "GET / HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
            "GET / HTTP/1.1\r\nUpgrade: h2c\r\n\r\n",
            "POST / HTTP/1.1\r\nSignature-Input: sig=()\r\n\r\n",
            "POST / HTTP/1.1\r\nSignature: sig=:a:\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
            "GET / HTTP/1.1\r\nBad Name: 1\r\n\r\n",
            "garbage\r\n\r\n",
        ] {
            assert!(hands_over(raw), "{raw:?}");
        }
        let long = format!("GET / HTTP/1.1\r\nX: {}", "a".repeat(MAX_HEAD_BYTES + 1));
        assert!(hands_over(&long));
    }

    #[test]
    fn the_request_for_the_app_is_origin_form_http11() {
        let head = request("DELETE /x?y HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n").unwrap();
        let mut out = BytesMut::new();
        write_request(&head.parts, &mut out);
        assert_eq!(
            &out[..],
            b"DELETE /x?y HTTP/1.1\r\nhost: h\r\ncontent-length: 0\r\n\r\n"
        );
    }

    fn response(raw: &str, extras: &ResponseExtras<'_>) -> (ResponseRead, String) {
        let mut out = BytesMut::new();
        let read = read_response(raw.as_bytes(), extras, &mut out);
        (read, String::from_utf8(out.to_vec()).unwrap())
    }

    const PLAIN: ResponseExtras<'static> = ResponseExtras {
        set_cookie: None,
        close: false,
        head_request: false,
    };

    #[test]
    fn response_framing_follows_rfc_9112() {
        let framing = |raw: &str, extras: &ResponseExtras<'_>| match response(raw, extras).0 {
            ResponseRead::Complete(h) => (h.framing, h.reusable),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            framing("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n", &PLAIN),
            (Framing::Length(3), true)
        );
        assert_eq!(
            framing(
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 3\r\n\r\n",
                &PLAIN
            ),
            (Framing::Chunked, true)
        );
        assert_eq!(
            framing("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", &PLAIN),
            (Framing::UntilClose, false)
        );
        assert_eq!(
            framing("HTTP/1.1 200 OK\r\n\r\n", &PLAIN),
            (Framing::UntilClose, false)
        );
        assert_eq!(
            framing(
                "HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n",
                &PLAIN
            ),
            (Framing::Empty, true)
        );
        assert_eq!(
            framing("HTTP/1.1 204 No Content\r\n\r\n", &PLAIN),
            (Framing::Empty, true)
        );
        let head = ResponseExtras {
            head_request: true,
            ..PLAIN
        };
        assert_eq!(
            framing("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", &head),
            (Framing::Empty, true)
        );
        assert_eq!(
            framing(
                "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n",
                &PLAIN
            ),
            (Framing::Length(1), false)
        );
        assert_eq!(
            framing("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", &PLAIN),
            (Framing::Length(1), false)
        );
        assert_eq!(
            framing(
                "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n",
                &PLAIN
            ),
            (Framing::Length(1), true)
        );
    }

    #[test]
    fn the_client_gets_no_hop_by_hop_headers_and_the_restated_framing() {
        let cookie = HeaderValue::from_static("t=1; HttpOnly");
        let extras = ResponseExtras {
            set_cookie: Some(&cookie),
            close: true,
            head_request: false,
        };
        let (read, head) = response(
            "HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Private\r\nX-Private: 1\r\n\
             Keep-Alive: timeout=5\r\nTransfer-Encoding: chunked\r\nX-Kept: 2\r\n\r\n",
            &extras,
        );
        assert!(matches!(read, ResponseRead::Complete(_)));
        assert_eq!(
            head,
            "HTTP/1.1 200 OK\r\nX-Kept: 2\r\ntransfer-encoding: chunked\r\n\
             connection: close\r\nset-cookie: t=1; HttpOnly\r\n\r\n"
        );
        let (_, both) = response(
            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
            &PLAIN,
        );
        assert_eq!(
            both,
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
        );
    }

    #[test]
    fn responses_the_lean_path_cannot_pass_on_are_invalid() {
        for raw in [
            "HTTP/1.1 101 Switching Protocols\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
            "nonsense\r\n\r\n",
        ] {
            assert_eq!(response(raw, &PLAIN).0, ResponseRead::Invalid, "{raw:?}");
        }
        assert_eq!(
            response("HTTP/1.1 200 OK\r\nX: 1", &PLAIN).0,
            ResponseRead::Partial
        );
    }
}
