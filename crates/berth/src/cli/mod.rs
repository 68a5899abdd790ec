//! `berth user|team|namespace ...`: the Portus API from the command line.
//!
//! The CLI talks to the running berth over HTTP, like any API client, so it
//! goes through the same grants. It authenticates with `Portus-Auth`: the
//! credentials come from `BERTH_AUTH` (`user:token`), or else from
//! `<data-dir>/secrets/cli-auth` (0600), which `berth user bootstrap` writes
//! with the first admin's application token.

pub(crate) mod client;
mod commands;

use std::path::PathBuf;

use clap::{Args, Subcommand};

pub use commands::run;

/// Where berth is and who the CLI is.
#[derive(Debug, Args)]
pub struct Target {
    /// berth's HTTP address
    #[arg(
        long,
        env = "BERTH_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub url: String,
    /// Data dir holding `secrets/cli-auth`
    #[arg(
        long,
        env = "BERTH_DATA_DIR",
        default_value = "./berth-data",
        global = true
    )]
    pub data_dir: PathBuf,
    /// Print JSON instead of a table
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create the first admin (only while none exists) and keep its token for the CLI
    Bootstrap {
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: String,
        /// Read the password from standard input
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users
    List,
    /// Create a user; the password is read from standard input
    Create {
        username: String,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        bot: bool,
        #[arg(long)]
        admin: bool,
    },
    /// Disable a user: logins, application and identity tokens stop working
    Disable { id: i64 },
    /// Enable a user again (also clears a lockout)
    Enable { id: i64 },
    /// Delete a user with their personal namespace
    Delete { id: i64 },
    /// Create an application token for a user (yourself, or a bot as admin)
    TokenCreate { id: i64, application: String },
    /// List a user's application tokens
    Tokens { id: i64 },
    /// List a user's refresh tokens (docker identity tokens)
    RefreshTokens { id: i64 },
    /// Revoke one refresh token of a user: that docker client must log in again
    RevokeRefresh { id: i64, token: i64 },
}

#[derive(Debug, Subcommand)]
pub enum TeamCommand {
    /// List teams you may see
    List,
    /// Create a team you own
    Create {
        name: String,
        #[arg(long)]
        description: Option<String>,
    },
    /// List a team's members
    Members { team: i64 },
    /// Add a member: ROLE is owner, contributor or viewer
    AddMember {
        team: i64,
        username: String,
        role: String,
    },
    /// Remove a member (by member id, see `members`)
    RemoveMember { team: i64, member: i64 },
}

#[derive(Debug, Subcommand)]
pub enum NamespaceCommand {
    /// List namespaces you may pull from
    List,
    /// Create a namespace owned by TEAM (private)
    Create {
        name: String,
        #[arg(long)]
        team: String,
        #[arg(long)]
        description: Option<String>,
    },
    /// Change visibility: private, protected or public
    Visibility { id: i64, visibility: String },
}

/// One of the three resource commands.
#[derive(Debug)]
pub enum Resource {
    User(UserCommand),
    Team(TeamCommand),
    Namespace(NamespaceCommand),
}
