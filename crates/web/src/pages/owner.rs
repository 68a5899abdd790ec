//! The owner's terminals (a pairing code with its countdown, the paired
//! devices, rename, revoke), the identity, and the known peers, through the
//! same identity service as `/protected/terminals` and `/protected/identities`.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Extension;
use berth_identity::{IdentityError, IdentityInput};

use super::home::owner;
use super::{page_with, redirect, Layout, ListQuery, PageResult};
use crate::csrf::Posted;
use crate::error::WebError;
use crate::format::{Pager, When};
use crate::visitor::Visitor;
use crate::Web;

fn identity_error(e: IdentityError) -> Result<String, WebError> {
    match e {
        IdentityError::NotFound { .. } => Err(WebError::NotFound),
        IdentityError::Invalid { field, reason } | IdentityError::Conflict { field, reason } => {
            Ok(format!("{}: {reason}", field.trim_start_matches('/')))
        }
        other => Err(WebError::internal(&other)),
    }
}

struct TerminalRow {
    id: String,
    name: String,
    icon: String,
    paired: When,
    last: Option<When>,
}

struct Code {
    code: String,
    valid_until: When,
    /// RFC 3339, for the countdown script.
    deadline: String,
}

#[derive(Template)]
#[template(path = "terminals.html")]
struct Terminals {
    l: Layout,
    terminals: Vec<TerminalRow>,
    pager: Pager,
    code: Option<Code>,
    error: Option<String>,
}

async fn render(
    web: &Web,
    v: &Visitor,
    page_no: Option<i64>,
    code: Option<Code>,
    error: Option<String>,
    status: StatusCode,
) -> PageResult {
    owner(v)?;
    let all = web
        .identities()
        .terminals()
        .await
        .map_err(|e| WebError::internal(&e))?;
    let pager = Pager::new(page_no, all.len() as i64, "/home/terminals?".into());
    let terminals = pager
        .slice(&all)
        .iter()
        .map(|t| TerminalRow {
            id: t.id.clone(),
            name: t.name.clone(),
            icon: t.icon.clone(),
            paired: When::new(t.created_at),
            last: When::opt(t.last_connection),
        })
        .collect();
    page_with(
        status,
        &Terminals {
            l: Layout::new(v, "Terminals", "terminals"),
            terminals,
            pager,
            code,
            error,
        },
    )
}

pub(super) async fn terminals(
    State(web): State<Web>,
    Extension(v): Extension<Visitor>,
    Query(q): Query<ListQuery>,
) -> PageResult {
    render(&web, &v, q.page, None, None, StatusCode::OK).await
}

pub(super) async fn pairing_code(State(web): State<Web>, form: Posted) -> PageResult {
    let v = &form.visitor;
    owner(v)?;
    let row = web
        .identities()
        .pairing_code(None)
        .await
        .map_err(|e| WebError::internal(&e))?;
    let code = Code {
        code: row.code,
        valid_until: When::new(row.valid_until),
        deadline: row.valid_until.to_rfc3339(),
    };
    render(&web, v, None, Some(code), None, StatusCode::OK).await
}

pub(super) async fn rename_terminal(
    State(web): State<Web>,
    Path(id): Path<String>,
    form: Posted,
) -> PageResult {
    let v = &form.visitor;
    owner(v)?;
    let current = web
        .identities()
        .terminal(&id)
        .await
        .map_err(|_| WebError::NotFound)?;
    match web
        .identities()
        .update_terminal(&id, form.get("name"), Some(&current.icon))
        .await
    {
        Ok(_) => redirect("/home/terminals"),
        Err(e) => {
            let msg = identity_error(e)?;
            render(
                &web,
                v,
                None,
                None,
                Some(msg),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

pub(super) async fn revoke_terminal(
    State(web): State<Web>,
    Path(id): Path<String>,
    form: Posted,
) -> PageResult {
    owner(&form.visitor)?;
    match web.identities().delete_terminal(&id).await {
        Ok(()) => redirect("/home/terminals"),
        Err(IdentityError::NotFound { .. }) => Err(WebError::NotFound),
        Err(e) => Err(WebError::internal(&e)),
    }
}

struct PeerRow {
    id: String,
    name: String,
    /// Where its apps are, or empty.
    url: String,
}

#[derive(Template)]
#[template(path = "identity.html")]
struct Identity {
    l: Layout,
    id: String,
    name: String,
    email: String,
    description: String,
    peers: Vec<PeerRow>,
    pager: Pager,
    error: Option<String>,
}

async fn render_identity(
    web: &Web,
    v: &Visitor,
    page_no: Option<i64>,
    error: Option<String>,
    status: StatusCode,
) -> PageResult {
    owner(v)?;
    let me = web
        .identities()
        .default_identity()
        .await
        .map_err(|e| WebError::internal(&e))?;
    let all = web
        .identities()
        .peers()
        .await
        .map_err(|e| WebError::internal(&e))?;
    let pager = Pager::new(page_no, all.len() as i64, "/home/identity?".into());
    let peers = pager
        .slice(&all)
        .iter()
        .map(|p| PeerRow {
            id: p.id.clone(),
            name: p.name.clone(),
            url: p.url.clone().unwrap_or_default(),
        })
        .collect();
    page_with(
        status,
        &Identity {
            l: Layout::new(v, "Identity", "identity"),
            id: me.id,
            name: me.name,
            email: me.email,
            description: me.description,
            peers,
            pager,
            error,
        },
    )
}

pub(super) async fn identity(
    State(web): State<Web>,
    Extension(v): Extension<Visitor>,
    Query(q): Query<ListQuery>,
) -> PageResult {
    render_identity(&web, &v, q.page, None, StatusCode::OK).await
}

pub(super) async fn update_identity(State(web): State<Web>, form: Posted) -> PageResult {
    let v = &form.visitor;
    owner(v)?;
    let me = web
        .identities()
        .default_identity()
        .await
        .map_err(|e| WebError::internal(&e))?;
    let input = IdentityInput {
        id: Some(me.id),
        name: form.get("name").to_owned(),
        email: form.get("email").to_owned(),
        description: form.get("description").to_owned(),
    };
    match web.identities().put(input).await {
        Ok(_) => redirect("/home/identity"),
        Err(e) => {
            let msg = identity_error(e)?;
            render_identity(&web, v, None, Some(msg), StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}
