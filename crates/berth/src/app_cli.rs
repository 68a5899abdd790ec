//! `berth app ...`: the owner's command line for apps. It talks to the
//! running berth over HTTP (the address in `<data-dir>/run/api.url`, or
//! `--url`) with the owner token from `<data-dir>/owner.token`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use serde_json::Value;

#[derive(Debug, Args)]
pub struct AppArgs {
    /// berth's data dir, where the owner token and the API address are
    #[arg(
        long,
        env = "BERTH_DATA_DIR",
        value_name = "DIR",
        default_value = "./berth-data",
        global = true
    )]
    data_dir: PathBuf,
    /// berth's API [default: from <data-dir>/run/api.url]
    #[arg(long, env = "BERTH_URL", value_name = "URL", global = true)]
    url: Option<String>,
    /// Print JSON instead of a table
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: AppCommand,
}

#[derive(Debug, Subcommand)]
enum AppCommand {
    /// Install an app from its app.json
    Install {
        file: PathBuf,
    },
    /// Replace an installed app's app.json (a new image version); data is kept
    Upgrade {
        file: PathBuf,
    },
    /// List installed apps with their live status
    List,
    /// Show one app
    Status {
        name: String,
    },
    Start {
        name: String,
    },
    Stop {
        name: String,
    },
    Restart {
        name: String,
    },
    /// Print the app's output
    Logs {
        name: String,
        /// Keep printing new output
        #[arg(short, long)]
        follow: bool,
        /// Only the last N lines
        #[arg(long, value_name = "N")]
        tail: Option<u32>,
    },
    /// Remove the app; its data dirs and database are kept unless --purge
    Uninstall {
        name: String,
        #[arg(long)]
        purge: bool,
    },
}

struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    fn new(args: &AppArgs) -> anyhow::Result<Self> {
        let token_file = args.data_dir.join("owner.token");
        let token = std::fs::read_to_string(&token_file)
            .with_context(|| {
                format!(
                    "cannot read the owner token `{}`; start `berth serve` with this --data-dir first, or pass --data-dir",
                    token_file.display()
                )
            })?
            .trim()
            .to_owned();
        let base = match &args.url {
            Some(u) => u.clone(),
            None => std::fs::read_to_string(args.data_dir.join("run/api.url"))
                .context("cannot find berth's address in <data-dir>/run/api.url; is `berth serve` running? (or pass --url)")?,
        };
        Ok(Self {
            http: reqwest::Client::new(),
            base: base.trim().trim_end_matches('/').to_owned(),
            token,
        })
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
    }

    /// Sends and turns a problem+json answer into one error.
    async fn send(&self, req: reqwest::RequestBuilder) -> anyhow::Result<reqwest::Response> {
        let response = req.send().await.with_context(|| {
            format!(
                "cannot reach berth at {}; is `berth serve` running?",
                self.base
            )
        })?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let body: Value = response.json().await.unwrap_or_default();
        let detail = body["detail"].as_str().unwrap_or("no detail").to_owned();
        let mut message = format!("{detail} ({status})");
        if let Some(errors) = body["errors"].as_array() {
            message = format!("the app.json is invalid ({} problems)", errors.len());
            for e in errors {
                let pointer = e["pointer"].as_str().unwrap_or_default();
                let pointer = if pointer.is_empty() { "/" } else { pointer };
                message.push_str(&format!(
                    "\n  {pointer}: {}",
                    e["detail"].as_str().unwrap_or_default()
                ));
            }
        }
        bail!(message)
    }
}

pub async fn run(args: AppArgs) -> anyhow::Result<ExitCode> {
    use reqwest::Method;
    let client = Client::new(&args)?;
    let mut out = std::io::stdout().lock();
    let view = match &args.command {
        AppCommand::Install { file } | AppCommand::Upgrade { file } => {
            let body =
                std::fs::read(file).with_context(|| format!("cannot read `{}`", file.display()))?;
            let req = match &args.command {
                AppCommand::Upgrade { .. } => {
                    let value: Value = serde_json::from_slice(&body)
                        .with_context(|| format!("`{}` is not JSON", file.display()))?;
                    let name = value["name"].as_str().unwrap_or_default().to_owned();
                    client.request(Method::PUT, &format!("/protected/apps/{name}"))
                }
                _ => {
                    writeln!(
                        std::io::stderr(),
                        "installing from {} (pulling the image if it is not present)...",
                        file.display()
                    )?;
                    client.request(Method::POST, "/protected/apps")
                }
            };
            let r = client
                .send(req.header("content-type", "application/json").body(body))
                .await?;
            let v: Value = r.json().await?;
            for w in v["warnings"].as_array().into_iter().flatten() {
                writeln!(
                    std::io::stderr(),
                    "warning: {}",
                    w.as_str().unwrap_or_default()
                )?;
            }
            Some(v)
        }
        AppCommand::List => {
            let v: Value = client
                .send(client.request(Method::GET, "/protected/apps"))
                .await?
                .json()
                .await?;
            if args.json {
                writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
            } else {
                writeln!(
                    out,
                    "{}",
                    table(v.as_array().map(Vec::as_slice).unwrap_or(&[]))
                )?;
            }
            None
        }
        AppCommand::Status { name } => Some(
            client
                .send(client.request(Method::GET, &format!("/protected/apps/{name}")))
                .await?
                .json()
                .await?,
        ),
        AppCommand::Start { name } | AppCommand::Stop { name } | AppCommand::Restart { name } => {
            let action = match &args.command {
                AppCommand::Start { .. } => "start",
                AppCommand::Stop { .. } => "stop",
                _ => "restart",
            };
            Some(
                client
                    .send(client.request(Method::POST, &format!("/protected/apps/{name}/{action}")))
                    .await?
                    .json()
                    .await?,
            )
        }
        AppCommand::Logs { name, follow, tail } => {
            let mut path = format!("/protected/apps/{name}/logs?follow={follow}");
            if let Some(n) = tail {
                path.push_str(&format!("&tail={n}"));
            }
            let mut r = client.send(client.request(Method::GET, &path)).await?;
            while let Some(chunk) = r.chunk().await? {
                out.write_all(&chunk)?;
                out.flush()?;
            }
            None
        }
        AppCommand::Uninstall { name, purge } => {
            client
                .send(client.request(
                    Method::DELETE,
                    &format!("/protected/apps/{name}?purge={purge}"),
                ))
                .await?;
            let what = if *purge {
                "and its data deleted"
            } else {
                "(data kept)"
            };
            writeln!(out, "uninstalled `{name}` {what}")?;
            None
        }
    };
    if let Some(v) = view {
        if args.json {
            writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        } else {
            writeln!(out, "{}", table(std::slice::from_ref(&v)))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn table(apps: &[Value]) -> String {
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED)
        .set_header(["name", "status", "phase", "image", "services"]);
    for a in apps {
        let mut status = a["status"].as_str().unwrap_or("?").to_owned();
        if let Some(code) = a["exit_code"].as_i64() {
            status.push_str(&format!(" ({code})"));
        }
        if let Some(error) = a["last_error"].as_str() {
            status.push_str(&format!(": {error}"));
        }
        let services: Vec<&str> = a["services"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        t.add_row([
            a["name"].as_str().unwrap_or("?").to_owned(),
            status,
            a["phase"].as_str().unwrap_or("?").to_owned(),
            a["image"].as_str().unwrap_or("?").to_owned(),
            services.join(", "),
        ]);
    }
    t.to_string()
}
