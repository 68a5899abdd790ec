//! `berth registry catalog|manifest|delete|sync`: a client of the running
//! berth's registry, the seed's `bin/client.rb` done properly.
//!
//! `catalog` and `manifest` speak the distribution API as berth's internal
//! service user, through berth's own token endpoint like any client: the
//! password is `<data-dir>/secrets/service-user-password` and the registry's
//! address `<data-dir>/run/registry.url` (both written by `berth serve`).
//! `delete` and `sync` ask berth itself, through the Portus API, with the
//! CLI's Portus credentials (`BERTH_AUTH` or `<data-dir>/secrets/cli-auth`):
//! a change goes through berth's own locks and is audited under the
//! operator's name.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context};
use berth_authz::names::RepositoryName;
use berth_registry::client::{ClientError, Credentials, RegistryClient};
use clap::Args;
use comfy_table::Table;
use futures_util::stream::{self, StreamExt};
use reqwest::Method;
use serde_json::{json, Value};

/// Where the running berth is.
#[derive(Debug, Args)]
pub struct Target {
    /// berth's data dir: the service user's password and the addresses
    #[arg(long, env = "BERTH_DATA_DIR", default_value = "./berth-data")]
    data_dir: PathBuf,
    /// The registry [default: from <data-dir>/run/registry.url]
    #[arg(long, value_name = "URL")]
    registry: Option<String>,
    /// berth's API, for `delete` and `sync` [default: from <data-dir>/run/api.url]
    #[arg(long, env = "BERTH_URL", value_name = "URL")]
    url: Option<String>,
    /// Print JSON instead of a table
    #[arg(long)]
    json: bool,
}

/// One registry command.
#[derive(Debug)]
pub enum Action {
    Catalog,
    Manifest {
        reference: String,
    },
    Delete {
        repository: String,
        reference: String,
    },
    Sync,
}

/// How many repositories `catalog` asks about at once.
const CONCURRENCY: usize = 8;

pub async fn run(target: &Target, action: Action) -> anyhow::Result<()> {
    match action {
        Action::Catalog => catalog(target).await,
        Action::Manifest { reference } => manifest(target, &reference).await,
        Action::Delete {
            repository,
            reference,
        } => delete(target, &repository, &reference).await,
        Action::Sync => sync(target).await,
    }
}

/// The running berth's address from `run/<file>`, or the flag.
fn address(target: &Target, flag: Option<&String>, file: &str) -> anyhow::Result<String> {
    let url = match flag {
        Some(u) => u.clone(),
        None => {
            let path = target.data_dir.join("run").join(file);
            std::fs::read_to_string(&path).with_context(|| {
                format!(
                    "cannot find berth's address in `{}`; is `berth serve` running with this --data-dir?",
                    path.display()
                )
            })?
        }
    };
    Ok(url.trim().trim_end_matches('/').to_owned())
}

fn client(target: &Target) -> anyhow::Result<(RegistryClient, String)> {
    let url = address(target, target.registry.as_ref(), "registry.url")?;
    let secret = target.data_dir.join("secrets/service-user-password");
    let password = std::fs::read_to_string(&secret)
        .with_context(|| {
            format!(
                "cannot read the service user's password `{}`; run as the user that runs `berth serve`",
                secret.display()
            )
        })?
        .trim()
        .to_owned();
    let credentials = Credentials {
        username: crate::registry_auth::SERVICE_USER.to_owned(),
        password,
    };
    Ok((RegistryClient::new(&url, Some(credentials))?, url))
}

/// A client error with the fix when berth is not there.
fn unreachable(e: ClientError, url: &str) -> anyhow::Error {
    match e {
        ClientError::Transport { .. } | ClientError::Token { .. } => {
            anyhow::anyhow!("{e}; is `berth serve` running (registry {url})?")
        }
        other => other.into(),
    }
}

fn repository_name(raw: &str) -> anyhow::Result<String> {
    RepositoryName::parse(raw)
        .map(|n| n.to_string())
        .map_err(|e| anyhow::anyhow!("`{raw}` is not a repository name: {e}"))
}

async fn catalog(target: &Target) -> anyhow::Result<()> {
    let (c, url) = client(target)?;
    let repos = c.catalog(1000).await.map_err(|e| unreachable(e, &url))?;
    let total = repos.len();
    let progress = total > 50 && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let mut done = 0;
    let mut listed: Vec<(String, Vec<(String, String)>)> = Vec::new();
    let mut answers = stream::iter(repos)
        .map(|repo| {
            let c = &c;
            async move {
                let tags = c.tags(&repo, 1000).await?.unwrap_or_default();
                let mut out = Vec::new();
                for tag in tags {
                    let digest = c
                        .head_manifest(&repo, &tag)
                        .await?
                        .map(|h| h.digest)
                        .unwrap_or_else(|| "-".into());
                    out.push((tag, digest));
                }
                Ok::<_, ClientError>((repo, out))
            }
        })
        .buffer_unordered(CONCURRENCY);
    while let Some(answer) = answers.next().await {
        let (repo, mut tags) = answer.map_err(|e| unreachable(e, &url))?;
        tags.sort();
        listed.push((repo, tags));
        done += 1;
        if progress {
            eprint!("\r{done}/{total} repositories");
        }
    }
    if progress {
        eprintln!();
    }
    listed.sort();
    let mut out = std::io::stdout().lock();
    if target.json {
        let v: Vec<Value> = listed
            .iter()
            .map(|(repo, tags)| {
                json!({
                    "repository": repo,
                    "tags": tags.iter().map(|(t, d)| json!({"name": t, "digest": d})).collect::<Vec<_>>(),
                })
            })
            .collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        return Ok(());
    }
    let mut table = Table::new();
    table.load_preset(comfy_table::presets::NOTHING);
    table.set_header(["REPOSITORY", "TAG", "DIGEST"]);
    for (repo, tags) in &listed {
        if tags.is_empty() {
            table.add_row([repo.as_str(), "-", "-"]);
        }
        for (tag, digest) in tags {
            table.add_row([repo.as_str(), tag.as_str(), digest.as_str()]);
        }
    }
    writeln!(out, "{table}")?;
    Ok(())
}

/// `repo:tag` or `repo@digest` split into repository and reference.
fn split_reference(raw: &str) -> anyhow::Result<(String, String)> {
    let (repo, reference) = match raw.split_once('@') {
        Some((repo, digest)) => (repo, digest),
        None => {
            let slash = raw.rfind('/').map_or(0, |i| i + 1);
            match raw.get(slash..).and_then(|last| last.rfind(':')) {
                Some(colon) => (
                    raw.get(..slash + colon).unwrap_or(raw),
                    raw.get(slash + colon + 1..).unwrap_or(""),
                ),
                None => {
                    bail!("`{raw}` names no tag; write <repository>:<tag> or <repository>@<digest>")
                }
            }
        }
    };
    if reference.is_empty() {
        bail!("`{raw}` names no tag; write <repository>:<tag> or <repository>@<digest>");
    }
    Ok((repository_name(repo)?, reference.to_owned()))
}

async fn manifest(target: &Target, raw: &str) -> anyhow::Result<()> {
    let (repo, reference) = split_reference(raw)?;
    let (c, url) = client(target)?;
    let Some(m) = c
        .manifest(&repo, &reference)
        .await
        .map_err(|e| unreachable(e, &url))?
    else {
        bail!("manifest `{raw}` does not exist in the registry");
    };
    let mut out = std::io::stdout().lock();
    out.write_all(&m.bytes)?;
    if !m.bytes.ends_with(b"\n") {
        writeln!(out)?;
    }
    writeln!(out, "{}", m.summary.digest)?;
    Ok(())
}

/// Deletes through the running berth's API (`DELETE /api/v1/tags/{id}`)
/// with the CLI's Portus credentials, not as the service user straight to
/// the registry: berth's delete takes the sync's locks, so no reconcile or
/// notification pass sees the registry between the digest delete and the
/// re-put of the siblings, and the audit log and webhooks name the
/// operator. A digest goes with every tag berth records at it.
async fn delete(target: &Target, repository: &str, reference: &str) -> anyhow::Result<()> {
    let repo = repository_name(repository)?;
    let url = address(target, target.url.as_ref(), "api.url")?;
    let api = crate::cli::client::Client::new(&url, &target.data_dir);
    let by_digest = reference.starts_with("sha256:");
    let shown = if by_digest {
        format!("manifest `{repo}@{reference}`")
    } else {
        format!("tag `{repo}:{reference}`")
    };
    let Some(repo_id) = api
        .call(Method::GET, "/api/v1/repositories?all=true", None)
        .await?
        .as_array()
        .and_then(|all| all.iter().find(|r| r["full_name"] == repo.as_str()))
        .and_then(|r| r["id"].as_i64())
    else {
        bail!("{shown} does not exist in berth's catalog (`berth registry sync` reconciles it)");
    };
    let tags_path = format!("/api/v1/repositories/{repo_id}/tags?all=true");
    let tags = api.call(Method::GET, &tags_path, None).await?;
    let chosen: Vec<(i64, String, String)> = tags
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| {
            let id = t["id"].as_i64()?;
            let name = t["name"].as_str()?.to_owned();
            let digest = t["digest"].as_str()?.to_owned();
            let hit = if by_digest {
                digest == reference
            } else {
                name == reference
            };
            hit.then_some((id, name, digest))
        })
        .collect();
    if chosen.is_empty() {
        bail!("{shown} does not exist in berth's catalog (`berth registry sync` reconciles it)");
    }
    for (id, name, _) in &chosen {
        api.call(Method::DELETE, &format!("/api/v1/tags/{id}"), None)
            .await
            .with_context(|| format!("deleting `{repo}:{name}`"))?;
    }
    let mut out = std::io::stdout().lock();
    if by_digest {
        let names: Vec<&str> = chosen.iter().map(|(_, n, _)| n.as_str()).collect();
        writeln!(
            out,
            "deleted {repo}@{reference} and its tags {}",
            names.join(", ")
        )?;
        return Ok(());
    }
    let digest = chosen.first().map(|(_, _, d)| d.as_str()).unwrap_or("");
    let after = api.call(Method::GET, &tags_path, None).await?;
    let kept: Vec<&str> = after
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["digest"] == digest)
        .filter_map(|t| t["name"].as_str())
        .collect();
    let kept = if kept.is_empty() {
        "no other tag shared it".to_owned()
    } else {
        format!("kept {}", kept.join(", "))
    };
    writeln!(out, "deleted {repo}:{reference} ({digest}); {kept}")?;
    Ok(())
}

async fn sync(target: &Target) -> anyhow::Result<()> {
    let url = address(target, target.url.as_ref(), "api.url")?;
    let api = crate::cli::client::Client::new(&url, &target.data_dir);
    let registries = api
        .call(Method::GET, "/api/v1/registries", None)
        .await
        .context("cannot find the registry")?;
    let Some(id) = registries.get(0).and_then(|r| r["id"].as_i64()) else {
        bail!("berth has no registry yet; restart `berth serve`");
    };
    let report = api
        .call(Method::POST, &format!("/api/v1/registries/{id}/sync"), None)
        .await
        .context("reconcile refused")?;
    let mut out = std::io::stdout().lock();
    if target.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        let mut table = Table::new();
        table.load_preset(comfy_table::presets::NOTHING);
        table.set_header([
            "REPOSITORIES",
            "UPSERTS",
            "REMOVALS",
            "FETCHED",
            "REQUESTS",
            "SKIPPED",
        ]);
        table.add_row([
            report["repositories"].to_string(),
            report["upserts"].to_string(),
            report["removals"].to_string(),
            report["manifests_fetched"].to_string(),
            report["requests"].to_string(),
            report["skipped"].as_array().map_or(0, Vec::len).to_string(),
        ]);
        writeln!(out, "{table}")?;
    }
    if let Some(e) = report["catalog_error"].as_str() {
        bail!("the registry's catalog could not be read, nothing was removed: {e}");
    }
    if report["complete"] != true {
        bail!("some repositories got no answer from the registry; nothing was removed for them");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        assert_eq!(
            split_reference("alice/web:1").unwrap(),
            ("alice/web".into(), "1".into())
        );
        assert_eq!(
            split_reference("solo@sha256:ab").unwrap(),
            ("solo".into(), "sha256:ab".into())
        );
        assert!(split_reference("alice/web").is_err());
        assert!(split_reference("alice/web:").is_err());
        assert!(split_reference("Bad/Name:1").is_err());
    }
}
