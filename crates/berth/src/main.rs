//! The `berth` binary: command line, logging, and wiring. It owns process
//! concerns (config, child supervision, signals); the domain lives in the
//! library crates below it.

mod app_cli;
mod config;
mod doctor;
mod layout;
mod lock;
mod postgres_cluster;
mod registry_process;
mod serve;
mod supervisor;

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
