//! Message heads for the lean path: a client's request head read into
//! `http` parts (so the phases see what they see on hyper's path), the
//! request head written for the app (`request`), and the app's response
//! head read and rewritten for the client (`response`). Pure: no I/O.
//!
//! Anything the lean path does not handle is reported as a hand-over, not
//! an error: hyper then reads the same bytes and answers as it always did
//! (a malformed head gets hyper's 400, an upgrade is spliced, and so on).

mod request;
mod response;

pub(crate) use request::{read_request, write_request, RequestHead, RequestIndex, RequestRead};
pub(crate) use response::{
    read_response, write_response_head, ResponseExtras, ResponseHead, ResponseRead,
};

use crate::phases::HOP_BY_HOP;

/// Header fields a head may have on the lean path; more is hyper's.
const MAX_HEADERS: usize = 64;
/// Head bytes the lean path buffers; a longer head is hyper's.
pub(crate) const MAX_HEAD_BYTES: usize = 64 * 1024;

/// A hop-by-hop field: the headers phase's list, matched on raw bytes.
pub(super) fn is_hop_by_hop(name: &[u8]) -> bool {
    HOP_BY_HOP.iter().any(|h| eq(name, h.as_str().as_bytes()))
}

#[inline]
pub(super) fn eq(a: &[u8], b: &[u8]) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// The comma-separated tokens of a field value, trimmed.
pub(super) fn tokens(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|b| *b == b',')
        .map(|t| t.trim_ascii())
        .filter(|t| !t.is_empty())
}

/// A `Content-Length` value: digits only (no sign, no spaces inside).
pub(super) fn parse_length(value: &[u8]) -> Option<u64> {
    let value = value.trim_ascii();
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}
