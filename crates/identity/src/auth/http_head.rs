//! Reading a [`RequestHead`] out of an `http` request head, so the gateway
//! and the API read headers the same way: a signature header sent twice is
//! refused (which copy was signed is a guess), several `Cookie` headers (as
//! HTTP/2 sends them) are joined, and the authority is `Host`, else the URI's.

use http::header::{self, HeaderName};
use http::{HeaderMap, Method, Uri};

use super::{AuthError, AuthOutcome, Authenticator, RequestHead};

/// A header berth cannot read as sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    #[error("header `{0}` is sent more than once")]
    Repeated(&'static str),
    #[error("header `{0}` is not visible ASCII")]
    NotAscii(&'static str),
}

impl HeadError {
    /// The header at fault, for problem+json.
    pub fn header(self) -> &'static str {
        match self {
            Self::Repeated(h) | Self::NotAscii(h) => h,
        }
    }
}

// As `HeaderName`s: looking a header up by `&str` parses the name first.
pub(super) const SIGNATURE_INPUT: HeaderName = HeaderName::from_static("signature-input");
pub(super) const SIGNATURE: HeaderName = HeaderName::from_static("signature");
pub(super) const CONTENT_DIGEST: HeaderName = HeaderName::from_static("content-digest");

fn single<'a>(
    headers: &'a HeaderMap,
    header: &HeaderName,
    name: &'static str,
) -> Result<Option<&'a str>, HeadError> {
    let mut values = headers.get_all(header).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(HeadError::Repeated(name));
    }
    first
        .map(|v| v.to_str().map_err(|_| HeadError::NotAscii(name)))
        .transpose()
}

/// The [`RequestHead`] of an `http` request head. One `Cookie` header
/// (HTTP/1.1) is read in place; several (as HTTP/2 sends them) are joined
/// into `joined`.
fn read_head<'a>(
    method: &'a Method,
    uri: &'a Uri,
    headers: &'a HeaderMap,
    joined: &'a mut Option<String>,
) -> Result<RequestHead<'a>, HeadError> {
    let mut values = headers.get_all(header::COOKIE).iter();
    let cookie: Option<&str> = match (values.next(), values.next()) {
        (None, _) => None,
        (Some(only), None) => Some(only.to_str().map_err(|_| HeadError::NotAscii("cookie"))?),
        (Some(_), Some(_)) => {
            let mut cookies = Vec::new();
            for v in headers.get_all(header::COOKIE) {
                cookies.push(v.to_str().map_err(|_| HeadError::NotAscii("cookie"))?);
            }
            Some(joined.insert(cookies.join("; ")).as_str())
        }
    };
    let authority = single(headers, &header::HOST, "host")?
        .or_else(|| uri.authority().map(|a| a.as_str()))
        .unwrap_or("");
    Ok(RequestHead {
        method: method.as_str(),
        authority,
        path: uri.path(),
        query: uri.query(),
        cookie,
        signature_input: single(headers, &SIGNATURE_INPUT, "signature-input")?,
        signature: single(headers, &SIGNATURE, "signature")?,
        content_digest: single(headers, &CONTENT_DIGEST, "content-digest")?,
    })
}

impl Authenticator {
    /// [`Authenticator::authenticate`] for an `http` request head. The outer
    /// error is a malformed head (answer 400); the inner result is as for
    /// `authenticate`.
    pub async fn authenticate_http(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
    ) -> Result<Result<AuthOutcome, AuthError>, HeadError> {
        let mut joined = None;
        let head = read_head(method, uri, headers, &mut joined)?;
        Ok(self.authenticate(&head).await)
    }

    /// [`Authenticator::authenticate_now`] for an `http` request head:
    /// `None` when the database must be asked (then call
    /// [`Self::authenticate_http`]).
    pub fn authenticate_http_now(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
    ) -> Option<Result<Result<AuthOutcome, AuthError>, HeadError>> {
        let mut joined = None;
        match read_head(method, uri, headers, &mut joined) {
            Ok(head) => self.authenticate_now(&head).map(Ok),
            Err(e) => Some(Err(e)),
        }
    }
}
