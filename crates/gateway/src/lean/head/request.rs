//! The client's request head: read into `http` parts for the phases, and
//! written again for the app.

use std::ops::Range;

use bytes::{Bytes, BytesMut};
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Method, Uri, Version};

use super::{eq, parse_length, tokens, MAX_HEADERS, MAX_HEAD_BYTES};
use crate::lean::framing::Framing;

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
}
