//! Who is calling: Basic credentials (password or application token), the
//! `Portus-Auth` header, and the registry policy's view of the caller.
//!
//! Every failure mode (unknown user, wrong secret, disabled, locked) looks
//! the same to the client, so nothing tells which usernames exist.

#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

use axum::http::{header, HeaderMap};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use berth_authz::policy::Subject;
use berth_store::{PasswordLogin, Store, StoreError, User};

/// Credentials that could not even be read (bad base64, no `:`): 400/401.
#[derive(Debug)]
pub(crate) struct MalformedCredentials;

/// The `Authorization: Basic` pair, if any.
pub(crate) fn basic_credentials(
    headers: &HeaderMap,
) -> Result<Option<(String, String)>, MalformedCredentials> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| MalformedCredentials)?;
    let Some(encoded) = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))
    else {
        return Err(MalformedCredentials);
    };
    let decoded = STANDARD
        .decode(encoded.trim())
        .map_err(|_| MalformedCredentials)?;
    let decoded = String::from_utf8(decoded).map_err(|_| MalformedCredentials)?;
    let (user, secret) = decoded.split_once(':').ok_or(MalformedCredentials)?;
    Ok(Some((user.to_owned(), secret.to_owned())))
}

/// Logs in with a secret that is an application token or else the password.
///
/// The token is tried first: it is one index probe, while a password costs
/// an argon2 hash. Only password failures count toward the lockout.
pub(crate) async fn login_secret(
    store: &Store,
    username: &str,
    secret: &str,
) -> Result<Option<User>, StoreError> {
    if let Some(user) = store.login_application_token(username, secret).await? {
        return Ok(Some(user));
    }
    match store.login_password(username, secret).await? {
        PasswordLogin::Ok(user) => Ok(Some(user)),
        PasswordLogin::Refused => Ok(None),
    }
}

/// The caller of the Portus API from `Portus-Auth: <username>:<application token>`,
/// or else from Basic credentials (password or application token), which
/// stand in for Portus's web session: a new user needs them to create a
/// first application token.
///
/// `Ok(None)`: no credentials (anonymous). Credentials that do not log in
/// are `Err(MalformedCredentials)`, answered 401.
pub(crate) async fn portus_caller(
    store: &Store,
    headers: &HeaderMap,
) -> Result<Result<Option<User>, MalformedCredentials>, StoreError> {
    let Some(value) = headers.get("portus-auth") else {
        return Ok(match basic_credentials(headers) {
            Ok(None) => Ok(None),
            Ok(Some((user, secret))) => api_login(store, &user, &secret)
                .await?
                .ok_or(MalformedCredentials)
                .map(Some),
            Err(e) => Err(e),
        });
    };
    let Some((username, token)) = value.to_str().ok().and_then(|v| v.split_once(':')) else {
        return Ok(Err(MalformedCredentials));
    };
    Ok(store
        .login_application_token(username, token)
        .await?
        .filter(|u| !u.service)
        .ok_or(MalformedCredentials)
        .map(Some))
}

/// Basic credentials on the API: an application token, or a password for
/// humans only (bots have no web login in Portus, so no password session).
/// The service user talks to the registry only, never to the API.
async fn api_login(
    store: &Store,
    username: &str,
    secret: &str,
) -> Result<Option<User>, StoreError> {
    if let Some(user) = store.login_application_token(username, secret).await? {
        return Ok(Some(user).filter(|u| !u.service));
    }
    match store.login_password(username, secret).await? {
        PasswordLogin::Ok(user) if !user.bot && !user.service => Ok(Some(user)),
        PasswordLogin::Ok(_) | PasswordLogin::Refused => Ok(None),
    }
}

/// The registry policy's view of a caller.
pub(crate) fn subject(user: Option<&User>) -> Subject {
    match user {
        None => Subject::Anonymous,
        Some(u) if u.service => Subject::Service,
        Some(u) => Subject::User {
            admin: u.admin,
            bot: u.bot,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with_auth(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn basic_credentials_split_at_the_first_colon() {
        let h = with_auth(&format!("Basic {}", STANDARD.encode("alice:pa:ss")));
        let (u, p) = basic_credentials(&h).unwrap().unwrap();
        assert_eq!((u.as_str(), p.as_str()), ("alice", "pa:ss"));
        assert!(basic_credentials(&HeaderMap::new()).unwrap().is_none());
    }

    #[test]
    fn malformed_basic_credentials_are_refused() {
        for bad in [
            "Bearer x",
            "Basic !!!",
            &format!("Basic {}", STANDARD.encode("nocolon")),
        ] {
            assert!(basic_credentials(&with_auth(bad)).is_err(), "{bad}");
        }
    }
}
