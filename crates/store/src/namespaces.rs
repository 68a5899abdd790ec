//! Namespaces (owned by a team, with a visibility) and the facts the
//! registry policy needs about them.

use std::collections::HashMap;

use berth_authz::policy::{NamespaceFacts, NamespaceKind, Visibility};
use chrono::{DateTime, Utc};

use crate::activities::{insert_activity, ActivityAction, NewActivity};
use crate::teams::parse_role;
use crate::{Store, StoreError};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Namespace {
    pub id: i64,
    /// `None` for the global namespace.
    pub name: Option<String>,
    pub team_id: i64,
    pub team_name: String,
    /// `global`, `personal` or `team` (checked by the schema).
    pub kind: String,
    /// `private`, `protected` or `public` (checked by the schema).
    pub visibility: String,
    pub description: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub repositories_count: i64,
}

/// Changes to a namespace; `None` keeps the field.
#[derive(Debug, Clone, Default)]
pub struct NamespaceUpdate {
    pub name: Option<String>,
    pub description: Option<String>,
    pub team_id: Option<i64>,
    pub visibility: Option<Visibility>,
}

const NS_COLUMNS: &str = "n.id, n.name, n.team_id, t.name AS team_name, n.kind, n.visibility, \
    n.description, n.created_at, n.updated_at, \
    (SELECT count(*) FROM repositories r WHERE r.namespace_id = n.id) AS repositories_count";

pub fn visibility_str(v: Visibility) -> &'static str {
    match v {
        Visibility::Private => "private",
        Visibility::Protected => "protected",
        Visibility::Public => "public",
    }
}

fn parse_visibility(v: &str) -> Option<Visibility> {
    match v {
        "private" => Some(Visibility::Private),
        "protected" => Some(Visibility::Protected),
        "public" => Some(Visibility::Public),
        _ => None,
    }
}

fn parse_kind(k: &str) -> Option<NamespaceKind> {
    match k {
        "global" => Some(NamespaceKind::Global),
        "personal" => Some(NamespaceKind::Personal),
        "team" => Some(NamespaceKind::Team),
        _ => None,
    }
}

/// One activity per kind of change `update` makes to a namespace that was
/// `(name, description, team_id, visibility)`; unchanged fields record nothing.
fn namespace_changes(
    id: i64,
    before: &(Option<String>, Option<String>, i64, String),
    update: &NamespaceUpdate,
) -> Vec<NewActivity> {
    let (name, description, team_id, visibility) = before;
    let mut out = Vec::new();
    let mut push = |action, detail| {
        let mut a = NewActivity::new(action);
        a.namespace_id = Some(id);
        a.detail = detail;
        out.push(a);
    };
    if let Some(new) = update.name.as_ref().filter(|n| Some(*n) != name.as_ref()) {
        push(
            ActivityAction::NamespaceRename,
            serde_json::json!({"from": name, "to": new}),
        );
    }
    if let Some(new) = update.visibility.map(visibility_str) {
        if new != visibility {
            push(
                ActivityAction::NamespaceChangeVisibility,
                serde_json::json!({"from": visibility, "to": new}),
            );
        }
    }
    if let Some(new) = update
        .description
        .as_ref()
        .filter(|d| Some(*d) != description.as_ref())
    {
        push(
            ActivityAction::NamespaceChangeDescription,
            serde_json::json!({"to": new}),
        );
    }
    if let Some(new) = update.team_id.filter(|t| t != team_id) {
        push(
            ActivityAction::NamespaceChangeTeam,
            serde_json::json!({"from_team_id": team_id, "to_team_id": new}),
        );
    }
    out
}

impl Namespace {
    /// The policy facts of this namespace for a caller with `role`.
    pub fn facts(&self, role: Option<berth_authz::policy::TeamRole>) -> Option<NamespaceFacts> {
        Some(NamespaceFacts {
            kind: parse_kind(&self.kind)?,
            visibility: parse_visibility(&self.visibility)?,
            caller_role: role,
        })
    }
}

impl Store {
    /// Creates a team namespace, private unless asked otherwise.
    pub async fn create_namespace(
        &self,
        name: &str,
        team_id: i64,
        description: Option<&str>,
        visibility: Visibility,
    ) -> Result<Namespace, StoreError> {
        let mut tx = self.pool().begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO namespaces (name, team_id, kind, visibility, description) \
             VALUES ($1, $2, 'team', $3, $4) RETURNING id",
        )
        .bind(name)
        .bind(team_id)
        .bind(visibility_str(visibility))
        .bind(description)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| StoreError::conflict_or(e, "name"))?;
        let mut a = NewActivity::new(ActivityAction::NamespaceCreate);
        a.namespace_id = Some(id);
        a.team_id = Some(team_id);
        a.detail = serde_json::json!({"visibility": visibility_str(visibility)});
        insert_activity(&mut tx, self.actor(), &a).await?;
        tx.commit().await?;
        self.changed();
        self.namespace(id).await?.ok_or(StoreError::NotFound)
    }

    pub async fn namespace(&self, id: i64) -> Result<Option<Namespace>, StoreError> {
        let sql = format!("SELECT {NS_COLUMNS} FROM namespaces n JOIN teams t ON t.id = n.team_id WHERE n.id = $1");
        Ok(sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?)
    }

    pub async fn namespace_by_name(&self, name: &str) -> Result<Option<Namespace>, StoreError> {
        let sql = format!("SELECT {NS_COLUMNS} FROM namespaces n JOIN teams t ON t.id = n.team_id WHERE n.name = $1");
        Ok(sqlx::query_as(&sql)
            .bind(name)
            .fetch_optional(self.pool())
            .await?)
    }

    /// Every namespace (the caller filters by what the policy lets it pull).
    pub async fn namespaces(&self) -> Result<Vec<Namespace>, StoreError> {
        let sql = format!(
            "SELECT {NS_COLUMNS} FROM namespaces n JOIN teams t ON t.id = n.team_id ORDER BY n.id"
        );
        Ok(sqlx::query_as(&sql).fetch_all(self.pool()).await?)
    }

    pub async fn team_namespaces(&self, team_id: i64) -> Result<Vec<Namespace>, StoreError> {
        let sql = format!("SELECT {NS_COLUMNS} FROM namespaces n JOIN teams t ON t.id = n.team_id WHERE n.team_id = $1 ORDER BY n.id");
        Ok(sqlx::query_as(&sql)
            .bind(team_id)
            .fetch_all(self.pool())
            .await?)
    }

    /// Applies `update`. Renaming or moving a personal or the global
    /// namespace is refused; their visibility may change.
    pub async fn update_namespace(
        &self,
        id: i64,
        update: &NamespaceUpdate,
    ) -> Result<Option<Namespace>, StoreError> {
        if update.name.is_some() || update.team_id.is_some() {
            let kind: Option<String> =
                sqlx::query_scalar("SELECT kind FROM namespaces WHERE id = $1")
                    .bind(id)
                    .fetch_optional(self.pool())
                    .await?;
            if kind.as_deref().is_some_and(|k| k != "team") {
                return Err(StoreError::Rule(
                    "personal and global namespaces cannot be renamed or moved",
                ));
            }
        }
        let mut tx = self.pool().begin().await?;
        let before: Option<(Option<String>, Option<String>, i64, String)> = sqlx::query_as(
            "SELECT name, description, team_id, visibility FROM namespaces WHERE id = $1 FOR UPDATE",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE namespaces SET name = COALESCE($2, name), description = COALESCE($3, description), \
             team_id = COALESCE($4, team_id), visibility = COALESCE($5, visibility), updated_at = now() \
             WHERE id = $1",
        )
        .bind(id)
        .bind(&update.name)
        .bind(&update.description)
        .bind(update.team_id)
        .bind(update.visibility.map(visibility_str))
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::conflict_or(e, "name"))?;
        if let Some(before) = before {
            for a in namespace_changes(id, &before, update) {
                insert_activity(&mut tx, self.actor(), &a).await?;
            }
        }
        tx.commit().await?;
        self.changed();
        self.namespace(id).await
    }

    /// Deletes a team namespace; personal and global ones stay.
    pub async fn delete_namespace(&self, id: i64) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        let name: Option<Option<String>> =
            sqlx::query_scalar("SELECT name FROM namespaces WHERE id = $1 AND kind = 'team'")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(name) = name else {
            return Ok(false);
        };
        // Recorded first, while the namespace's name still resolves.
        let mut a = NewActivity::new(ActivityAction::NamespaceDelete);
        a.namespace_id = Some(id);
        a.target = name;
        insert_activity(&mut tx, self.actor(), &a).await?;
        sqlx::query("DELETE FROM namespaces WHERE id = $1 AND kind = 'team'")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.changed();
        Ok(true)
    }

    /// Policy facts of each named namespace (`None` key: the global one) for
    /// `caller` (`None`: anonymous or service). One query for all; a
    /// namespace missing from the map does not exist.
    pub async fn namespace_facts(
        &self,
        caller: Option<i64>,
        names: &[Option<&str>],
    ) -> Result<HashMap<Option<String>, NamespaceFacts>, StoreError> {
        let mut out = HashMap::new();
        let mut missing: Vec<Option<&str>> = Vec::new();
        for name in names {
            match self.cache().facts(caller, *name) {
                Some(Some(f)) => {
                    out.insert(name.map(str::to_owned), f);
                }
                Some(None) => {}
                None => missing.push(*name),
            }
        }
        if missing.is_empty() {
            return Ok(out);
        }
        let generation = self.cache().generation();
        let named: Vec<&str> = missing.iter().flatten().copied().collect();
        let want_global = missing.iter().any(Option::is_none);
        let rows: Vec<(Option<String>, String, String, Option<String>)> = sqlx::query_as(
            "SELECT n.name, n.kind, n.visibility, m.role FROM namespaces n \
             LEFT JOIN team_members m ON m.team_id = n.team_id AND m.user_id = $1 \
             WHERE n.name = ANY($2) OR (n.kind = 'global' AND $3)",
        )
        .bind(caller)
        .bind(&named)
        .bind(want_global)
        .fetch_all(self.pool())
        .await?;
        let found: HashMap<Option<String>, NamespaceFacts> = rows
            .into_iter()
            .filter_map(|(name, kind, visibility, role)| {
                Some((
                    name,
                    NamespaceFacts {
                        kind: parse_kind(&kind)?,
                        visibility: parse_visibility(&visibility)?,
                        caller_role: role.as_deref().and_then(parse_role),
                    },
                ))
            })
            .collect();
        // Absent namespaces are cached too: creating one clears the cache.
        let entries = missing
            .iter()
            .map(|n| {
                let key = n.map(str::to_owned);
                let facts = found.get(&key).copied();
                (key, facts)
            })
            .collect();
        self.cache().put_facts(generation, caller, entries);
        out.extend(found);
        Ok(out)
    }
}
