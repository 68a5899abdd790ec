//! The route table of the Portus API: every route and the grant it requires,
//! in one place.
//!
//! The router is built from this table (`super::router`), each route carrying
//! its grant as a request extension; the [`super::Ctx`] extractor enforces
//! it before the handler runs (or, for grants about a resource, when the
//! handler has looked the resource up). The end-to-end test
//! `api_routes_refuse_callers_lacking_their_grant` walks this table.

use berth_authz::portus_api::ApiGrant;

/// One route: method, axum path, grant, and a summary for the OpenAPI document.
#[derive(Debug, Clone, Copy)]
pub struct RouteGrant {
    pub method: &'static str,
    pub path: &'static str,
    pub grant: ApiGrant,
    pub summary: &'static str,
}

const fn r(
    method: &'static str,
    path: &'static str,
    grant: ApiGrant,
    summary: &'static str,
) -> RouteGrant {
    RouteGrant {
        method,
        path,
        grant,
        summary,
    }
}

use ApiGrant::{
    Admin, Anyone, Bootstrap, Delete, LoggedIn, NamespaceCreate, NamespaceOwner, Pull, Push,
    TeamMember, TeamOwner, TokenOwner, UserSelf,
};

const ROUTES: &[RouteGrant] = &[
    r("GET", "/api/v1/_ping", Anyone, "liveness"),
    r("GET", "/api/v1/health", Anyone, "component health"),
    r("GET", "/api/version", Anyone, "API and server version"),
    r("GET", "/api/openapi.json", Anyone, "this document"),
    r(
        "POST",
        "/api/v1/users/bootstrap",
        Bootstrap,
        "create the first admin",
    ),
    r("GET", "/api/v1/users", Admin, "list users"),
    r("POST", "/api/v1/users", Admin, "create a user"),
    r(
        "GET",
        "/api/v1/users/{id}",
        Admin,
        "show a user by id or email",
    ),
    r("PUT", "/api/v1/users/{id}", Admin, "update a user"),
    r("DELETE", "/api/v1/users/{id}", Admin, "delete a user"),
    r(
        "GET",
        "/api/v1/users/{id}/application_tokens",
        UserSelf,
        "list a user's application tokens",
    ),
    r(
        "POST",
        "/api/v1/users/{id}/application_tokens",
        UserSelf,
        "create an application token",
    ),
    r(
        "DELETE",
        "/api/v1/users/application_tokens/{id}",
        TokenOwner,
        "revoke an application token",
    ),
    // berth extension: docker identity tokens (refresh tokens), listed and revocable.
    r(
        "GET",
        "/api/v1/users/{id}/refresh_tokens",
        UserSelf,
        "list a user's refresh tokens (berth)",
    ),
    r(
        "DELETE",
        "/api/v1/users/{id}/refresh_tokens/{token_id}",
        UserSelf,
        "revoke a refresh token (berth)",
    ),
    r(
        "GET",
        "/api/v1/teams",
        LoggedIn,
        "list teams the caller may see",
    ),
    r("POST", "/api/v1/teams", LoggedIn, "create a team"),
    r("GET", "/api/v1/teams/{id}", TeamMember, "show a team"),
    r("PUT", "/api/v1/teams/{id}", TeamOwner, "update a team"),
    r("DELETE", "/api/v1/teams/{id}", TeamOwner, "delete a team"),
    r(
        "GET",
        "/api/v1/teams/{id}/namespaces",
        TeamMember,
        "list a team's namespaces",
    ),
    r(
        "GET",
        "/api/v1/teams/{id}/members",
        TeamMember,
        "list a team's members",
    ),
    r(
        "POST",
        "/api/v1/teams/{id}/members",
        TeamOwner,
        "add a member",
    ),
    r(
        "PUT",
        "/api/v1/teams/{id}/members/{member_id}",
        TeamOwner,
        "change a member's role",
    ),
    r(
        "DELETE",
        "/api/v1/teams/{id}/members/{member_id}",
        TeamOwner,
        "remove a member",
    ),
    r(
        "GET",
        "/api/v1/namespaces",
        LoggedIn,
        "list namespaces the caller may pull",
    ),
    r(
        "GET",
        "/api/v1/namespaces/validate",
        LoggedIn,
        "check a namespace name",
    ),
    r(
        "POST",
        "/api/v1/namespaces",
        NamespaceCreate,
        "create a namespace",
    ),
    r("GET", "/api/v1/namespaces/{id}", Pull, "show a namespace"),
    r(
        "PUT",
        "/api/v1/namespaces/{id}",
        NamespaceOwner,
        "update a namespace",
    ),
    r(
        "DELETE",
        "/api/v1/namespaces/{id}",
        NamespaceOwner,
        "delete a namespace",
    ),
    r(
        "GET",
        "/api/v1/namespaces/{id}/repositories",
        Pull,
        "list a namespace's repositories",
    ),
    r(
        "GET",
        "/api/v1/repositories",
        LoggedIn,
        "list repositories the caller may pull",
    ),
    r(
        "GET",
        "/api/v1/repositories/{id}",
        Pull,
        "show a repository with its tags",
    ),
    r(
        "PUT",
        "/api/v1/repositories/{id}",
        Push,
        "update a repository",
    ),
    r(
        "DELETE",
        "/api/v1/repositories/{id}",
        Delete,
        "delete a repository from the registry",
    ),
    r(
        "GET",
        "/api/v1/repositories/{id}/tags",
        Pull,
        "list a repository's tags",
    ),
    r(
        "GET",
        "/api/v1/tags",
        LoggedIn,
        "list tags the caller may pull",
    ),
    r("GET", "/api/v1/tags/{id}", Pull, "show a tag"),
    r(
        "DELETE",
        "/api/v1/tags/{id}",
        Delete,
        "delete a tag's manifest from the registry",
    ),
    r("GET", "/api/v1/registries", Admin, "list registries"),
    r(
        "POST",
        "/api/v1/registries",
        Admin,
        "add a registry (berth fronts exactly one: refused)",
    ),
    r(
        "PUT",
        "/api/v1/registries/{id}",
        Admin,
        "rename the registry or set its external hostname",
    ),
    r(
        "GET",
        "/api/v1/registries/validate",
        Admin,
        "check registry fields",
    ),
    r(
        "GET",
        "/api/v1/repositories/{id}/tags/grouped",
        Pull,
        "a repository's tags grouped by digest",
    ),
    // berth extensions: the audit log and outgoing webhooks (issue 5).
    r(
        "GET",
        "/api/v1/activities",
        LoggedIn,
        "the audit log the caller may see (filters: user, namespace, repository, action, since, until; CSV with Accept: text/csv)",
    ),
    r(
        "GET",
        "/api/v1/activities.csv",
        LoggedIn,
        "the audit log as CSV, same filters",
    ),
    r(
        "GET",
        "/api/v1/namespaces/{id}/webhooks",
        NamespaceOwner,
        "list a namespace's webhooks",
    ),
    r(
        "POST",
        "/api/v1/namespaces/{id}/webhooks",
        NamespaceOwner,
        "create a webhook (its secret is shown once)",
    ),
    r(
        "GET",
        "/api/v1/namespaces/{id}/webhooks/{wid}",
        NamespaceOwner,
        "show a webhook",
    ),
    r(
        "PUT",
        "/api/v1/namespaces/{id}/webhooks/{wid}",
        NamespaceOwner,
        "update a webhook (url, enabled, ...)",
    ),
    r(
        "DELETE",
        "/api/v1/namespaces/{id}/webhooks/{wid}",
        NamespaceOwner,
        "delete a webhook",
    ),
    r(
        "GET",
        "/api/v1/namespaces/{id}/webhooks/{wid}/deliveries",
        NamespaceOwner,
        "a webhook's deliveries and every attempt",
    ),
    r(
        "POST",
        "/api/v1/namespaces/{id}/webhooks/{wid}/deliveries/{did}/resend",
        NamespaceOwner,
        "send a delivery again",
    ),
    // berth extension: reconcile the catalog with the registry now.
    r(
        "POST",
        "/api/v1/registries/{id}/sync",
        Admin,
        "reconcile the catalog with the registry now; 409 while one runs (berth)",
    ),
];

/// Every Portus route berth serves, with its grant.
pub fn portus_routes() -> &'static [RouteGrant] {
    ROUTES
}
