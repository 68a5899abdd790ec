//! The CLI's commands: one API call each, printed as a table or JSON.

use std::io::Write;

use anyhow::Context;
use comfy_table::Table;
use reqwest::Method;
use serde_json::{json, Value};

use super::client::{auth_file, read_stdin, Client};
use super::{NamespaceCommand, Resource, Target, TeamCommand, UserCommand};

pub async fn run(target: &Target, resource: Resource) -> anyhow::Result<()> {
    let c = Client::new(&target.url, &target.data_dir);
    let (value, columns): (Value, &[&str]) = match resource {
        Resource::User(cmd) => user(&c, target, cmd).await?,
        Resource::Team(cmd) => team(&c, cmd).await?,
        Resource::Namespace(cmd) => namespace(&c, cmd).await?,
    };
    print(&value, columns, target.json)
}

const USER_COLUMNS: &[&str] = &[
    "id",
    "username",
    "email",
    "admin",
    "bot",
    "enabled",
    "locked_at",
];
const TOKEN_COLUMNS: &[&str] = &["id", "application", "plain_token"];

async fn user(
    c: &Client,
    target: &Target,
    cmd: UserCommand,
) -> anyhow::Result<(Value, &'static [&'static str])> {
    Ok(match cmd {
        UserCommand::Bootstrap {
            username,
            email,
            password_stdin,
        } => {
            let password = if password_stdin {
                read_stdin()?
            } else {
                anyhow::bail!("pass the password with --password-stdin")
            };
            let v = c
                .call(Method::POST, "/api/v1/users/bootstrap", Some(json!({"user": {"username": username, "email": email, "password": password}})))
                .await?;
            let token = v["plain_token"]
                .as_str()
                .context("berth returned no token")?;
            let path = auth_file(&target.data_dir);
            berth_registry::signing::write_atomically(
                &path,
                format!("{username}:{token}").as_bytes(),
                0o600,
            )
            .with_context(|| format!("cannot store the CLI credentials in `{}`", path.display()))?;
            (
                json!({"username": username, "credentials": path.display().to_string()}),
                &["username", "credentials"],
            )
        }
        UserCommand::List => (
            c.call(Method::GET, "/api/v1/users?all=true", None).await?,
            USER_COLUMNS,
        ),
        UserCommand::Create {
            username,
            email,
            bot,
            admin,
        } => {
            let password = read_stdin()?;
            let body = json!({"user": {"username": username, "email": email, "password": password, "bot": bot, "admin": admin}});
            (
                c.call(Method::POST, "/api/v1/users", Some(body)).await?,
                USER_COLUMNS,
            )
        }
        UserCommand::Disable { id } => (set_enabled(c, id, false).await?, USER_COLUMNS),
        UserCommand::Enable { id } => (set_enabled(c, id, true).await?, USER_COLUMNS),
        UserCommand::Delete { id } => {
            c.call(Method::DELETE, &format!("/api/v1/users/{id}"), None)
                .await?;
            (json!({"deleted": id}), &["deleted"])
        }
        UserCommand::TokenCreate { id, application } => (
            c.call(
                Method::POST,
                &format!("/api/v1/users/{id}/application_tokens"),
                Some(json!({"application": application})),
            )
            .await?,
            TOKEN_COLUMNS,
        ),
        UserCommand::RefreshTokens { id } => (
            c.call(
                Method::GET,
                &format!("/api/v1/users/{id}/refresh_tokens"),
                None,
            )
            .await?,
            &["id", "client_id", "created_at", "revoked_at"],
        ),
        UserCommand::RevokeRefresh { id, token } => {
            c.call(
                Method::DELETE,
                &format!("/api/v1/users/{id}/refresh_tokens/{token}"),
                None,
            )
            .await?;
            (json!({"revoked": token}), &["revoked"])
        }
        UserCommand::Tokens { id } => (
            c.call(
                Method::GET,
                &format!("/api/v1/users/{id}/application_tokens"),
                None,
            )
            .await?,
            &["id", "application"],
        ),
    })
}

async fn set_enabled(c: &Client, id: i64, enabled: bool) -> anyhow::Result<Value> {
    c.call(
        Method::PUT,
        &format!("/api/v1/users/{id}"),
        Some(json!({"user": {"enabled": enabled}})),
    )
    .await
}

const TEAM_COLUMNS: &[&str] = &[
    "id",
    "name",
    "role",
    "users_count",
    "namespaces_count",
    "description",
];
const MEMBER_COLUMNS: &[&str] = &["id", "user_id", "display_name", "role"];

async fn team(c: &Client, cmd: TeamCommand) -> anyhow::Result<(Value, &'static [&'static str])> {
    Ok(match cmd {
        TeamCommand::List => (
            c.call(Method::GET, "/api/v1/teams?all=true", None).await?,
            TEAM_COLUMNS,
        ),
        TeamCommand::Create { name, description } => (
            c.call(
                Method::POST,
                "/api/v1/teams",
                Some(json!({"name": name, "description": description})),
            )
            .await?,
            TEAM_COLUMNS,
        ),
        TeamCommand::Members { team } => (
            c.call(Method::GET, &format!("/api/v1/teams/{team}/members"), None)
                .await?,
            MEMBER_COLUMNS,
        ),
        TeamCommand::AddMember {
            team,
            username,
            role,
        } => (
            c.call(
                Method::POST,
                &format!("/api/v1/teams/{team}/members"),
                Some(json!({"user": username, "role": role})),
            )
            .await?,
            MEMBER_COLUMNS,
        ),
        TeamCommand::RemoveMember { team, member } => {
            c.call(
                Method::DELETE,
                &format!("/api/v1/teams/{team}/members/{member}"),
                None,
            )
            .await?;
            (json!({"removed": member}), &["removed"])
        }
    })
}

const NAMESPACE_COLUMNS: &[&str] = &["id", "name", "team", "visibility", "repositories_count"];

async fn namespace(
    c: &Client,
    cmd: NamespaceCommand,
) -> anyhow::Result<(Value, &'static [&'static str])> {
    Ok(match cmd {
        NamespaceCommand::List => (
            c.call(Method::GET, "/api/v1/namespaces?all=true", None)
                .await?,
            NAMESPACE_COLUMNS,
        ),
        NamespaceCommand::Create {
            name,
            team,
            description,
        } => (
            c.call(
                Method::POST,
                "/api/v1/namespaces",
                Some(json!({"name": name, "team": team, "description": description})),
            )
            .await?,
            NAMESPACE_COLUMNS,
        ),
        NamespaceCommand::Visibility { id, visibility } => (
            c.call(
                Method::PUT,
                &format!("/api/v1/namespaces/{id}"),
                Some(json!({"namespace": {"visibility": visibility}})),
            )
            .await?,
            NAMESPACE_COLUMNS,
        ),
    })
}

/// JSON as berth answered, or a table of `columns` for humans.
fn print(value: &Value, columns: &[&str], as_json: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if as_json {
        writeln!(out, "{}", serde_json::to_string_pretty(value)?)?;
        return Ok(());
    }
    let rows: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    let mut table = Table::new();
    table.load_preset(comfy_table::presets::NOTHING);
    table.set_header(columns.iter().copied());
    for row in rows {
        table.add_row(columns.iter().map(|c| cell(&row[*c])));
    }
    writeln!(out, "{table}")?;
    Ok(())
}

fn cell(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        Value::Object(o) => o.get("name").map(cell).unwrap_or_else(|| v.to_string()),
        other => other.to_string(),
    }
}
