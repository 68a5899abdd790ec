//! What a page answers when it cannot show what was asked: an HTML page
//! with the status, never internal detail (that goes to the log).

use askama::Template;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use berth_store::StoreError;

#[derive(Debug)]
pub(crate) enum WebError {
    /// Also what a visitor gets for what they may not read: a private
    /// namespace does not exist for them.
    NotFound,
    Forbidden,
    /// Needs a registry account: sent to sign in.
    SignIn,
    /// Needs the owner: sent to pair this browser.
    Pair,
    Csrf,
    CrossSite,
    BadForm,
    Internal,
}

impl WebError {
    pub(crate) fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(%cause, "web page failed");
        Self::Internal
    }
}

impl From<StoreError> for WebError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::NotFound,
            other => Self::internal(&other),
        }
    }
}

impl From<askama::Error> for WebError {
    fn from(e: askama::Error) -> Self {
        Self::internal(&e)
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    title: &'static str,
    message: &'static str,
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, title, message) = match self {
            Self::SignIn => {
                return (
                    StatusCode::SEE_OTHER,
                    [(header::LOCATION, "/sign-in")],
                )
                    .into_response()
            }
            Self::Pair => {
                return (StatusCode::SEE_OTHER, [(header::LOCATION, "/pair?next=/home")]).into_response()
            }
            Self::NotFound => (
                StatusCode::NOT_FOUND,
                "Not found",
                "There is nothing here, or nothing you may see.",
            ),
            Self::Forbidden => (
                StatusCode::FORBIDDEN,
                "Not allowed",
                "Your account may not do this.",
            ),
            Self::Csrf => (
                StatusCode::FORBIDDEN,
                "Form expired",
                "This form was not sent from a current page of berth. Go back, reload the page and try again.",
            ),
            Self::CrossSite => (
                StatusCode::FORBIDDEN,
                "Refused",
                "Another site tried to send this request on your behalf; berth refused it.",
            ),
            Self::BadForm => (
                StatusCode::BAD_REQUEST,
                "Bad form",
                "The form could not be read.",
            ),
            Self::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "berth could not answer; the cause is in its log.",
            ),
        };
        let page = ErrorPage { title, message };
        match page.render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(_) => (status, title).into_response(),
        }
    }
}
