//! Reading a [`RequestHead`] out of an `http` request head, so the gateway
//! and the API read headers the same way: a signature header sent twice is
//! refused (which copy was signed is a guess), several `Cookie` headers (as
//! HTTP/2 sends them) are joined, and the authority is `Host`, else the URI's.

use std::borrow::Cow;

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

fn single<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<Option<&'a str>, HeadError> {
    let mut values = headers.get_all(name).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(HeadError::Repeated(name));
    }
    first
        .map(|v| v.to_str().map_err(|_| HeadError::NotAscii(name)))
        .transpose()
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
        // One Cookie header (HTTP/1.1) is read in place; only several (as
        // HTTP/2 sends them) are joined into a new string.
        let mut values = headers.get_all(http::header::COOKIE).iter();
        let cookie: Option<Cow<'_, str>> = match (values.next(), values.next()) {
            (None, _) => None,
            (Some(only), None) => Some(Cow::Borrowed(
                only.to_str().map_err(|_| HeadError::NotAscii("cookie"))?,
            )),
            (Some(_), Some(_)) => {
                let mut cookies = Vec::new();
                for v in headers.get_all(http::header::COOKIE) {
                    cookies.push(v.to_str().map_err(|_| HeadError::NotAscii("cookie"))?);
                }
                Some(Cow::Owned(cookies.join("; ")))
            }
        };
        let authority = single(headers, "host")?
            .or_else(|| uri.authority().map(|a| a.as_str()))
            .unwrap_or("");
        let head = RequestHead {
            method: method.as_str(),
            authority,
            path: uri.path(),
            query: uri.query(),
            cookie: cookie.as_deref(),
            signature_input: single(headers, "signature-input")?,
            signature: single(headers, "signature")?,
            content_digest: single(headers, "content-digest")?,
        };
        Ok(self.authenticate(&head).await)
    }
}
