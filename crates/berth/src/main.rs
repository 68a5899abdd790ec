//! The `berth` binary: command line, logging, and wiring. It owns process
//! concerns (config, child supervision, signals); the domain lives in the
//! library crates below it.

mod app_cli;
mod app_directory;
mod bench;
mod bench_sync;
mod cli;
mod config;
mod doctor;
mod front_door;
mod layout;
mod lock;
mod postgres_cluster;
mod registry_auth;
mod registry_cli;
mod registry_process;
mod serve;
mod supervisor;
mod sync_worker;
mod webhook_worker;

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{Config, ConfigArgs, LogFormat};

/// berth: a personal server whose private container registry is also its app store.
#[derive(Debug, Parser)]
#[command(name = "berth", version, propagate_version = true)]
struct Cli {
    /// Log line format
    #[arg(long, env = "BERTH_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run berth in the foreground with its managed Postgres and registry
    Serve {
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Install, list, start, stop, restart, read logs of and uninstall apps
    App(app_cli::AppArgs),
    /// Check Docker, Postgres, the registry, ports and the data dir
    Doctor {
        #[command(flatten)]
        config: ConfigArgs,
        /// Print the findings as JSON
        #[arg(long)]
        json: bool,
    },
    /// Registry maintenance
    #[command(subcommand)]
    Registry(RegistryCommand),
    /// Measure a running berth: token endpoint, catalog sync (loopback only)
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Manage users and their application tokens (through the running berth)
    User {
        #[command(flatten)]
        target: cli::Target,
        #[command(subcommand)]
        command: cli::UserCommand,
    },
    /// Manage teams and their members
    Team {
        #[command(flatten)]
        target: cli::Target,
        #[command(subcommand)]
        command: cli::TeamCommand,
    },
    /// Manage namespaces and their visibility
    Namespace {
        #[command(flatten)]
        target: cli::Target,
        #[command(subcommand)]
        command: cli::NamespaceCommand,
    },
}

#[derive(Debug, Subcommand)]
enum RegistryCommand {
    /// Sign tokens with a new key; the registry keeps trusting the old certificate
    /// until the next rotation. Run while berth is stopped.
    RotateKey {
        #[arg(long, env = "BERTH_DATA_DIR", default_value = "./berth-data")]
        data_dir: std::path::PathBuf,
        /// ES256 or RS256 [default: the current key's]; set `token_algorithm` to match
        #[arg(long)]
        algorithm: Option<String>,
    },
    /// Repositories and their tags, as the registry serves them
    Catalog {
        #[command(flatten)]
        target: registry_cli::Target,
    },
    /// The manifest of <repository>:<tag> (or @<digest>) as served, then its digest
    Manifest {
        #[command(flatten)]
        target: registry_cli::Target,
        reference: String,
    },
    /// Delete a tag (its sibling tags on the same digest stay) or a digest (every tag on it goes)
    Delete {
        #[command(flatten)]
        target: registry_cli::Target,
        repository: String,
        /// A tag, or a digest `sha256:...`
        reference: String,
    },
    /// Reconcile berth's catalog with the registry now (admin API; credentials as for `berth user`)
    Sync {
        #[command(flatten)]
        target: registry_cli::Target,
    },
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// tokens/s and p50/p99 for the refresh, application-token and password paths, and sign-only
    Tokens(bench::BenchArgs),
    /// Catalog sync: populate N×M images, full and steady-state reconcile, event-to-visible p50/p99
    Sync(bench_sync::SyncBenchArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fatal(&anyhow::anyhow!("cannot start the async runtime: {e}")),
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve { config } => serve::run(Config::load(&config)?)
                .await
                .map(|()| ExitCode::SUCCESS),
            Command::Doctor { config, json } => doctor_command(&Config::load(&config)?, json).await,
            Command::Registry(RegistryCommand::RotateKey {
                data_dir,
                algorithm,
            }) => rotate_key(&data_dir, algorithm.as_deref()).map(|()| ExitCode::SUCCESS),
            Command::Registry(RegistryCommand::Catalog { target }) => {
                registry_cli::run(&target, registry_cli::Action::Catalog)
                    .await
                    .map(|()| ExitCode::SUCCESS)
            }
            Command::Registry(RegistryCommand::Manifest { target, reference }) => {
                registry_cli::run(&target, registry_cli::Action::Manifest { reference })
                    .await
                    .map(|()| ExitCode::SUCCESS)
            }
            Command::Registry(RegistryCommand::Delete {
                target,
                repository,
                reference,
            }) => registry_cli::run(
                &target,
                registry_cli::Action::Delete {
                    repository,
                    reference,
                },
            )
            .await
            .map(|()| ExitCode::SUCCESS),
            Command::Registry(RegistryCommand::Sync { target }) => {
                registry_cli::run(&target, registry_cli::Action::Sync)
                    .await
                    .map(|()| ExitCode::SUCCESS)
            }
            Command::Bench(BenchCommand::Tokens(args)) => {
                bench::run(args).await.map(|()| ExitCode::SUCCESS)
            }
            Command::Bench(BenchCommand::Sync(args)) => {
                bench_sync::run(args).await.map(|()| ExitCode::SUCCESS)
            }
            Command::User { target, command } => cli::run(&target, cli::Resource::User(command))
                .await
                .map(|()| ExitCode::SUCCESS),
            Command::Team { target, command } => cli::run(&target, cli::Resource::Team(command))
                .await
                .map(|()| ExitCode::SUCCESS),
            Command::Namespace { target, command } => {
                cli::run(&target, cli::Resource::Namespace(command))
                    .await
                    .map(|()| ExitCode::SUCCESS)
            }
            Command::App(args) => app_cli::run(args).await,
        }
    });
    // Background tasks (log forwarders) must not delay exit.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    match result {
        Ok(code) => code,
        Err(e) => fatal(&e),
    }
}

async fn doctor_command(cfg: &Config, json: bool) -> anyhow::Result<ExitCode> {
    let findings = doctor::run(cfg).await;
    let text = if json {
        serde_json::to_string_pretty(&findings)?
    } else {
        doctor::table(&findings)
    };
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{text}")?;
    let failed = findings
        .iter()
        .filter(|f| f.status == doctor::Status::Fail)
        .count();
    if failed > 0 {
        if !json {
            writeln!(stdout, "{failed} check(s) failed")?;
        }
        Ok(ExitCode::FAILURE)
    } else {
        Ok(ExitCode::SUCCESS)
    }
}

/// Rotates the token signing key under the data-dir lock, so a running
/// berth (whose registry would not reload its bundle) refuses it.
fn rotate_key(data_dir: &std::path::Path, algorithm: Option<&str>) -> anyhow::Result<()> {
    use berth_registry::signing::{Algorithm, SigningKey};
    let layout = layout::Layout::new(data_dir);
    let _lock = lock::DataDirLock::acquire(&layout.lock_file())
        .map_err(|e| anyhow::anyhow!("{e}; stop `berth serve` before rotating the key"))?;
    let paths = berth_registry::signing::SigningPaths::in_dir(&layout.keys());
    let Some(current) = SigningKey::existing_algorithm(&paths)? else {
        anyhow::bail!(
            "no signing key in `{}`; start berth once first",
            layout.keys().display()
        );
    };
    let algorithm = match algorithm {
        None => current,
        Some(a) => Algorithm::parse(a)
            .ok_or_else(|| anyhow::anyhow!("unknown algorithm `{a}`; use ES256 or RS256"))?,
    };
    let key = SigningKey::rotate(&paths, algorithm)?;
    writeln!(
        std::io::stdout(),
        "new {} signing key {}; the registry trusts the previous one too until the next rotation",
        key.algorithm(),
        key.kid_libtrust()
    )?;
    Ok(())
}

/// One line on stderr, the whole cause chain, no backtrace.
fn fatal(e: &anyhow::Error) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "error: {e:#}");
    ExitCode::FAILURE
}

fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("BERTH_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,hyper=warn,bollard=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
