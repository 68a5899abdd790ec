//! `berth doctor`: checks the machine and the configured services, prints a
//! table with a fix for each failure, and exits non-zero if anything fails.
//!
//! Live checks of the managed Postgres and registry need them running, i.e.
//! a `berth serve` on the same data dir; without one, they are reported as
//! skipped, not failed, and the installation checks still run.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Serialize;

use crate::config::{client_facing, Config, PostgresSource, RegistrySource};
use crate::lock::DataDirLock;
use crate::postgres_cluster::{self, ManagedPostgres};
use crate::serve::META_DATABASE;
use crate::supervisor::run_to_completion;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Skip,
    Fail,
}

#[derive(Debug, Serialize)]
pub struct Finding {
    pub check: String,
    pub status: Status,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

fn ok(check: &str, detail: impl Into<String>) -> Finding {
    Finding {
        check: check.into(),
        status: Status::Ok,
        detail: detail.into(),
        fix: None,
    }
}

fn fail(check: &str, detail: impl Into<String>, fix: impl Into<String>) -> Finding {
    Finding {
        check: check.into(),
        status: Status::Fail,
        detail: detail.into(),
        fix: Some(fix.into()),
    }
}

fn skip(check: &str, detail: impl Into<String>) -> Finding {
    Finding {
        check: check.into(),
        status: Status::Skip,
        detail: detail.into(),
        fix: None,
    }
}

pub async fn run(cfg: &Config) -> Vec<Finding> {
    let mut out = Vec::new();
    let layout = cfg.layout();
    let running = DataDirLock::is_held(&layout.lock_file());
    out.push(if running {
        ok("berth", "a berth is serving this data dir")
    } else {
        skip(
            "berth",
            "no berth is serving this data dir; live checks of managed services are skipped",
        )
    });
    out.push(check_data_dir(cfg));
    out.push(check_docker().await);
    out.extend(check_postgres(cfg, running).await);
    out.extend(check_registry(cfg, running).await);
    out.extend(check_ports(cfg, running).await);
    out
}

fn check_data_dir(cfg: &Config) -> Finding {
    let layout = cfg.layout();
    if let Err(e) = layout.create() {
        return fail(
            "data dir",
            e.to_string(),
            format!(
                "create `{}` and make it writable by this user, or pass another --data-dir",
                cfg.data_dir.display()
            ),
        );
    }
    if matches!(cfg.postgres, PostgresSource::Managed { .. })
        && nix::unistd::Uid::effective().is_root()
    {
        let abs = cfg
            .data_dir
            .canonicalize()
            .unwrap_or_else(|_| cfg.data_dir.clone());
        if let Some(user) = nix::unistd::User::from_name("postgres").ok().flatten() {
            if let Err(e) = postgres_cluster::check_traversable(
                &abs.join("postgres"),
                user.uid.as_raw(),
                user.gid.as_raw(),
            ) {
                return fail(
                    "data dir",
                    e.to_string(),
                    "use a --data-dir such as /var/lib/berth",
                );
            }
        }
    }
    ok(
        "data dir",
        format!("`{}` is writable", cfg.data_dir.display()),
    )
}

async fn check_docker() -> Finding {
    let engine = match berth_docker::Engine::connect() {
        Ok(e) => e,
        Err(e) => {
            return fail(
                "docker engine",
                e.to_string(),
                "install docker.io and start `dockerd`, or set DOCKER_HOST",
            )
        }
    };
    match tokio::time::timeout(Duration::from_secs(5), engine.version()).await {
        Ok(Ok(v)) => ok(
            "docker engine",
            format!(
                "engine {} (API {}) at {}",
                v.version,
                v.api_version,
                engine.endpoint()
            ),
        ),
        Ok(Err(e)) => fail(
            "docker engine",
            e.to_string(),
            "start the daemon (`dockerd &`) or set DOCKER_HOST",
        ),
        Err(_) => fail(
            "docker engine",
            format!("`{}` did not answer within 5s", engine.endpoint()),
            "restart dockerd",
        ),
    }
}

async fn check_postgres(cfg: &Config, running: bool) -> Vec<Finding> {
    match &cfg.postgres {
        PostgresSource::Managed { listen } => {
            let bin = postgres_cluster::bin_dir().join("postgres");
            let installed = match run_to_completion(&bin, &["--version".into()], None).await {
                Ok(v) if v.contains(" 15.") => ok("postgres install", v.trim().to_owned()),
                Ok(v) => fail(
                    "postgres install",
                    format!("found `{}`, berth needs PostgreSQL 15", v.trim()),
                    "apt-get install postgresql-15",
                ),
                Err(e) => fail(
                    "postgres install",
                    e.to_string(),
                    "apt-get install postgresql",
                ),
            };
            let live = if !running {
                skip("postgres", "managed cluster is not running")
            } else {
                let layout = cfg.layout();
                match ManagedPostgres::new(
                    &layout
                        .root()
                        .canonicalize()
                        .map(|p| crate::layout::Layout::new(&p))
                        .unwrap_or(layout),
                    *listen,
                ) {
                    Ok(c) => probe_postgres(&c.admin_options("postgres")).await,
                    Err(e) => fail("postgres", e.to_string(), "apt-get install postgresql"),
                }
            };
            vec![installed, live]
        }
        PostgresSource::External { url } => match berth_store::parse_url(url) {
            Ok(o) => vec![probe_postgres(&o).await],
            Err(e) => vec![fail(
                "postgres",
                format!("postgres_url is not valid: {e}"),
                "fix --postgres-url",
            )],
        },
    }
}

async fn probe_postgres(options: &berth_store::ConnectOptions) -> Finding {
    let version = match berth_store::admin::server_version(options).await {
        Ok(v) => v,
        Err(e) => {
            return fail(
                "postgres",
                e.to_string(),
                "check that the server runs and the URL's credentials are right",
            )
        }
    };
    let probe = format!("{META_DATABASE}_doctor_probe");
    match berth_store::admin::probe_create_database(options, &probe).await {
        Ok(()) => ok(
            "postgres",
            format!("server {version}; can create databases"),
        ),
        Err(e) => fail(
            "postgres",
            format!("server {version}; cannot create a database: {e}"),
            "grant CREATEDB and CREATEROLE to berth's Postgres role",
        ),
    }
}

async fn check_registry(cfg: &Config, running: bool) -> Vec<Finding> {
    let mut out = Vec::new();
    if let RegistrySource::Managed { .. } = cfg.registry {
        out.push(match crate::registry_process::program() {
            Some(p) => match run_to_completion(&p, &["--version".into()], None).await {
                Ok(v) => ok("registry install", v.trim().to_owned()),
                Err(e) => fail(
                    "registry install",
                    e.to_string(),
                    "apt-get install docker-registry",
                ),
            },
            None => fail(
                "registry install",
                "no `docker-registry` in PATH",
                "apt-get install docker-registry",
            ),
        });
        if !running {
            out.push(skip("registry", "managed registry is not running"));
            return out;
        }
    }
    let url = cfg.registry_url();
    let client = reqwest::Client::new();
    let want = cfg.token_realm();
    out.push(
        match berth_registry::probe::challenge(&client, &url).await {
            Ok(c) if c.status == 401 && c.realm.as_deref() == Some(want.as_str()) => ok(
                "registry",
                format!("{url}/v2/ answers 401 with realm {want}"),
            ),
            Ok(c) => fail(
                "registry",
                format!("{url}/v2/ answered {} with realm {:?}", c.status, c.realm),
                format!("configure the registry's auth.token.realm as {want}"),
            ),
            Err(e) => fail(
                "registry",
                e.to_string(),
                "start the registry or fix --registry-url",
            ),
        },
    );
    out
}

async fn check_ports(cfg: &Config, running: bool) -> Vec<Finding> {
    let mut ports: Vec<(&str, SocketAddr)> = vec![("listen", cfg.listen)];
    if let RegistrySource::Managed { listen } = cfg.registry {
        ports.push(("registry_listen", listen));
    }
    if let PostgresSource::Managed { listen } = cfg.postgres {
        ports.push(("postgres_listen", listen));
    }
    let mut out = Vec::new();
    for (key, addr) in ports {
        let check = format!("port {key}");
        let free = tokio::net::TcpListener::bind(addr).await.is_ok();
        out.push(match (free, running) {
            (true, false) => ok(&check, format!("{addr} is free")),
            (false, true) => {
                let answers = tokio::net::TcpStream::connect(client_facing(addr))
                    .await
                    .is_ok();
                if answers {
                    ok(&check, format!("{addr} is served by the running berth"))
                } else {
                    fail(
                        &check,
                        format!("{addr} is bound but does not answer"),
                        "restart berth serve",
                    )
                }
            }
            (true, true) => fail(
                &check,
                format!("{addr} is not served although berth runs"),
                "check berth's log",
            ),
            (false, false) => fail(
                &check,
                format!("{addr} is in use by another program"),
                format!(
                    "stop what uses port {} or pass --{}",
                    addr.port(),
                    key.replace('_', "-")
                ),
            ),
        });
    }
    out
}

/// The human form: one row per check.
pub fn table(findings: &[Finding]) -> String {
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED)
        .set_header(vec!["CHECK", "STATUS", "DETAIL", "FIX"]);
    for f in findings {
        let status = match f.status {
            Status::Ok => "ok",
            Status::Skip => "skip",
            Status::Fail => "FAIL",
        };
        t.add_row(vec![
            f.check.as_str(),
            status,
            f.detail.as_str(),
            f.fix.as_deref().unwrap_or(""),
        ]);
    }
    t.to_string()
}
