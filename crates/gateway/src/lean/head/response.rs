//! The app's response head, read and rewritten for the client, and the
//! head of a response the gateway made itself.

use bytes::BytesMut;
use http::header::{self, HeaderValue};

use super::{eq, is_hop_by_hop, parse_length, tokens, MAX_HEADERS, MAX_HEAD_BYTES};
use crate::lean::framing::Framing;

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

#[cfg(test)]
mod tests {
    use super::*;

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
