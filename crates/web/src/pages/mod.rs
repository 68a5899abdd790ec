//! The route table of the UI and what every page shares: the layout's
//! fields, rendering, and redirects after a successful form.

mod account;
mod activities;
mod auth;
mod home;
mod namespaces;
mod owner;
mod registry;
mod social;
mod tag_delete;
mod teams;

use askama::Template;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::error::WebError;
use crate::visitor::Visitor;
use crate::Web;

pub(crate) type PageResult = Result<Response, WebError>;

pub(crate) fn routes() -> Router<Web> {
    Router::new()
        .route("/", get(registry::index))
        .route("/explore", get(registry::explore))
        .route("/search", get(registry::search))
        .route(
            "/r/{*name}",
            get(registry::repository).post(registry::update_description),
        )
        .route(
            "/tag-delete/{id}",
            get(tag_delete::confirm).post(tag_delete::delete),
        )
        .route("/star/{*name}", post(social::star))
        .route("/comments/{*name}", post(social::comment))
        .route("/comment-delete/{id}", post(social::delete_comment))
        .route("/activities", get(activities::list))
        .route("/activities.csv", get(activities::csv))
        .route("/sign-in", get(auth::form).post(auth::sign_in))
        .route("/sign-out", post(auth::sign_out))
        .route(
            "/namespaces",
            get(namespaces::list).post(namespaces::create),
        )
        .route(
            "/namespaces/{id}",
            get(namespaces::show).post(namespaces::update),
        )
        .route("/teams", get(teams::list).post(teams::create))
        .route("/teams/{id}", get(teams::show))
        .route("/teams/{id}/members", post(teams::add_member))
        .route("/teams/{id}/members/{member}/role", post(teams::set_role))
        .route(
            "/teams/{id}/members/{member}/remove",
            post(teams::remove_member),
        )
        .route("/tokens", get(account::tokens).post(account::create_token))
        .route("/tokens/{id}/revoke", post(account::revoke_token))
        .route("/tokens/refresh/{id}/revoke", post(account::revoke_refresh))
        .route("/users", get(account::users).post(account::create_user))
        .route("/users/{id}/enabled", post(account::set_enabled))
        .route("/users/{id}/admin", post(account::make_admin))
        .route("/home", get(home::home))
        .route("/home/admin", post(home::create_admin))
        .route("/home/install", post(home::install))
        .route("/home/events", get(home::events))
        .route("/home/apps/{name}/logs", get(home::logs))
        .route(
            "/home/apps/{name}/uninstall",
            get(home::confirm_uninstall).post(home::uninstall),
        )
        .route("/home/apps/{name}/{action}", post(home::control))
        .route("/home/terminals", get(owner::terminals))
        .route("/home/terminals/code", post(owner::pairing_code))
        .route("/home/terminals/{id}/rename", post(owner::rename_terminal))
        .route("/home/terminals/{id}/revoke", post(owner::revoke_terminal))
        .route(
            "/home/identity",
            get(owner::identity).post(owner::update_identity),
        )
}

/// What the layout shows around every page.
pub(crate) struct Layout {
    pub title: String,
    pub username: Option<String>,
    pub signed_in: bool,
    pub admin: bool,
    pub owner: bool,
    pub csrf: String,
    /// Which navigation entry is current.
    pub section: &'static str,
}

impl Layout {
    pub fn new(v: &Visitor, title: impl Into<String>, section: &'static str) -> Self {
        Self {
            title: title.into(),
            username: v.user.as_ref().map(|u| u.username.clone()),
            signed_in: v.signed_in,
            admin: v.is_admin(),
            owner: v.owner,
            csrf: v.csrf.clone(),
            section,
        }
    }

    /// Whether `s` is the current section, for `aria-current`.
    pub fn is(&self, s: &str) -> bool {
        self.section == s
    }
}

/// Renders a page with status 200.
pub(crate) fn page<T: Template>(t: &T) -> PageResult {
    page_with(StatusCode::OK, t)
}

/// Renders a page with `status` (422 for a form shown again with errors).
pub(crate) fn page_with<T: Template>(status: StatusCode, t: &T) -> PageResult {
    Ok((status, Html(t.render()?)).into_response())
}

/// After a successful form: back to a page with GET.
pub(crate) fn redirect(to: &str) -> PageResult {
    Ok((StatusCode::SEE_OTHER, [(header::LOCATION, to.to_owned())]).into_response())
}

/// A number from the path; anything else names nothing.
pub(crate) fn id(raw: &str) -> Result<i64, WebError> {
    raw.parse().map_err(|_| WebError::NotFound)
}

/// The page numbers of a page's several lists, each under its own
/// parameter (`?members=2&namespaces=1`); anything unreadable is page 1.
#[derive(serde::Deserialize, Default)]
#[serde(transparent)]
pub(crate) struct Pages(std::collections::HashMap<String, String>);

impl Pages {
    pub fn of(&self, list: &str) -> Option<i64> {
        self.0.get(list).and_then(|v| v.parse().ok())
    }

    /// The start of one list's page links: `prefix` (ending in `?` or
    /// `&`) with the current pages of the page's `others` lists kept, so
    /// paging one list leaves the others where the reader put them.
    pub fn keeping(&self, mut prefix: String, others: &[&str]) -> String {
        use std::fmt::Write;
        for list in others {
            if let Some(n) = self.of(list) {
                let _ = write!(prefix, "{list}={n}&");
            }
        }
        prefix
    }
}

/// `?page=N&q=...` of list pages.
#[derive(serde::Deserialize, Default)]
pub(crate) struct ListQuery {
    pub page: Option<i64>,
    pub q: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::Pages;

    #[test]
    fn a_list_link_keeps_the_other_lists_pages_and_nothing_unreadable() {
        let pages = Pages(
            [("members", "3"), ("namespaces", "x"), ("q", "a")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        );
        assert_eq!(
            pages.keeping("/teams/1?".into(), &["members"]),
            "/teams/1?members=3&"
        );
        assert_eq!(
            pages.keeping("/teams/1?".into(), &["namespaces"]),
            "/teams/1?"
        );
        assert_eq!(Pages::default().keeping("/t?".into(), &["a"]), "/t?");
    }
}
