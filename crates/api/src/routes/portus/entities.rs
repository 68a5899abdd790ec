//! The entities of Portus API v1 as serialized, built from store records.
//!
//! Field names and shapes follow Portus 2.4's Grape entities, so clients
//! that parse Portus answers parse berth's.

use berth_store::{ApplicationToken, Namespace, Registry, Repository, Tag, Team, TeamMember, User};
use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Serialize)]
pub(crate) struct UserEntity {
    id: i64,
    username: String,
    email: Option<String>,
    current_sign_in_at: Option<DateTime<Utc>>,
    last_sign_in_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    admin: bool,
    enabled: bool,
    locked_at: Option<DateTime<Utc>>,
    namespace_id: Option<i64>,
    display_name: Option<String>,
    bot: bool,
}

impl From<&User> for UserEntity {
    fn from(u: &User) -> Self {
        Self {
            id: u.id,
            username: u.username.clone(),
            email: u.email.clone(),
            current_sign_in_at: u.current_sign_in_at,
            last_sign_in_at: u.last_sign_in_at,
            created_at: u.created_at,
            updated_at: u.updated_at,
            admin: u.admin,
            enabled: u.enabled,
            locked_at: u.locked_at,
            namespace_id: u.namespace_id,
            display_name: u.display_name.clone(),
            bot: u.bot,
        }
    }
}

#[derive(Serialize)]
pub(crate) struct TokenEntity {
    id: i64,
    application: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    plain_token: Option<String>,
}

impl TokenEntity {
    pub fn new(t: &ApplicationToken, plain: Option<String>) -> Self {
        Self {
            id: t.id,
            application: t.application.clone(),
            plain_token: plain,
        }
    }
}

#[derive(Serialize)]
pub(crate) struct IdName {
    id: i64,
    name: Option<String>,
}

#[derive(Serialize)]
pub(crate) struct TeamEntity {
    id: i64,
    name: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    description: Option<String>,
    description_md: Option<String>,
    hidden: bool,
    role: Option<&'static str>,
    updatable: bool,
    destroyable: bool,
    users_count: i64,
    namespaces_count: i64,
}

impl TeamEntity {
    pub fn new(t: &Team, role: Option<&'static str>, manage: bool) -> Self {
        Self {
            id: t.id,
            name: t.name.clone(),
            created_at: t.created_at,
            updated_at: t.updated_at,
            description: t.description.clone(),
            description_md: t.description.clone(),
            hidden: t.hidden,
            role,
            updatable: manage,
            destroyable: manage,
            users_count: t.users_count,
            namespaces_count: t.namespaces_count,
        }
    }
}

#[derive(Serialize)]
pub(crate) struct MemberEntity {
    id: i64,
    team_id: i64,
    user_id: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    role: String,
    display_name: String,
    admin: bool,
    current: bool,
}

impl MemberEntity {
    pub fn new(m: &TeamMember, caller: Option<i64>) -> Self {
        Self {
            id: m.id,
            team_id: m.team_id,
            user_id: m.user_id,
            created_at: m.created_at,
            updated_at: m.updated_at,
            role: m.role.clone(),
            display_name: m.display_name.clone().unwrap_or_else(|| m.username.clone()),
            admin: m.admin,
            current: caller == Some(m.user_id),
        }
    }
}

#[derive(Serialize)]
pub(crate) struct NamespaceEntity {
    id: i64,
    name: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    description: Option<String>,
    description_md: Option<String>,
    team: IdName,
    repositories_count: i64,
    webhooks_count: i64,
    visibility: String,
    global: bool,
    orphan: bool,
    updatable: bool,
    destroyable: bool,
    permissions: Permissions,
}

/// What the caller may do with a namespace, decided by `authz`.
#[derive(Serialize, Default, Clone, Copy)]
pub(crate) struct Permissions {
    pub pull: bool,
    pub push: bool,
    pub delete: bool,
    pub change_visibility: bool,
}

impl NamespaceEntity {
    pub fn new(n: &Namespace, permissions: Permissions) -> Self {
        Self {
            id: n.id,
            name: n.name.clone(),
            created_at: n.created_at,
            updated_at: n.updated_at,
            description: n.description.clone(),
            description_md: n.description.clone(),
            team: IdName {
                id: n.team_id,
                name: Some(n.team_name.clone()),
            },
            repositories_count: n.repositories_count,
            webhooks_count: 0,
            visibility: n.visibility.clone(),
            global: n.kind == "global",
            orphan: false,
            updatable: permissions.change_visibility,
            destroyable: permissions.change_visibility && n.kind == "team",
            permissions,
        }
    }
}

#[derive(Serialize)]
pub(crate) struct TagEntity {
    id: i64,
    name: String,
    author: IdName,
    digest: String,
    image_id: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    size: Option<i64>,
    size_human: String,
    scanned: i32,
    vulnerabilities: Option<()>,
    /// berth extension: Docker schema 2 or OCI, image or index.
    media_type: Option<String>,
    /// berth extension: the platforms of an index or manifest list.
    platforms: Vec<String>,
}

impl From<&Tag> for TagEntity {
    fn from(t: &Tag) -> Self {
        Self {
            id: t.id,
            name: t.name.clone(),
            author: IdName {
                id: t.author_id.unwrap_or(0),
                name: t.author_name.clone(),
            },
            digest: t.digest.clone(),
            image_id: t.image_id.clone(),
            created_at: t.created_at,
            updated_at: t.updated_at,
            size: t.size,
            size_human: human_size(t.size.unwrap_or(0)),
            scanned: 0,
            vulnerabilities: None,
            media_type: t.media_type.clone(),
            platforms: t.platforms.clone(),
        }
    }
}

#[derive(Serialize)]
pub(crate) struct RepositoryEntity {
    id: i64,
    name: String,
    full_name: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    description: Option<String>,
    description_md: Option<String>,
    namespace: IdName,
    registry_hostname: String,
    stars: i64,
    tags_count: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    tags: Option<Vec<TagEntity>>,
    starred: bool,
    destroyable: bool,
}

impl RepositoryEntity {
    pub fn new(
        r: &Repository,
        hostname: &str,
        tags: Option<Vec<TagEntity>>,
        destroyable: bool,
    ) -> Self {
        let full_name = match &r.namespace_name {
            Some(ns) => format!("{ns}/{}", r.name),
            None => r.name.clone(),
        };
        Self {
            id: r.id,
            name: r.name.clone(),
            full_name,
            created_at: r.created_at,
            updated_at: r.updated_at,
            description: r.description.clone(),
            description_md: r.description.clone(),
            namespace: IdName {
                id: r.namespace_id,
                name: r.namespace_name.clone(),
            },
            registry_hostname: hostname.to_owned(),
            stars: 0,
            tags_count: r.tags_count,
            tags,
            starred: false,
            destroyable,
        }
    }
}

#[derive(Serialize)]
pub(crate) struct RegistryEntity {
    id: i64,
    name: String,
    hostname: String,
    external_hostname: Option<String>,
    use_ssl: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<&Registry> for RegistryEntity {
    fn from(r: &Registry) -> Self {
        Self {
            id: r.id,
            name: r.name.clone(),
            hostname: r.hostname.clone(),
            external_hostname: r.external_hostname.clone(),
            use_ssl: r.use_ssl,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

fn human_size(bytes: i64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut size = bytes as f64;
    let mut unit = 0;
    while size >= 1024.0 && unit + 1 < UNITS.len() {
        size /= 1024.0;
        unit += 1;
    }
    format!("{size:.1} {}", UNITS.get(unit).copied().unwrap_or("B"))
}
