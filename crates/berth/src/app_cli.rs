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
        AppCommand::Install { file } => {
            let body =
                std::fs::read(file).with_context(|| format!("cannot read `{}`", file.display()))?;
            let req = client
                .request(Method::POST, "/protected/apps?progress=true")
                .header("content-type", "application/json")
                .body(body);
            Some(install_with_progress(&client, req).await?)
        }
        AppCommand::Upgrade { file } => {
            let body =
                std::fs::read(file).with_context(|| format!("cannot read `{}`", file.display()))?;
            let value: Value = serde_json::from_slice(&body)
                .with_context(|| format!("`{}` is not JSON", file.display()))?;
            let name = value["name"].as_str().unwrap_or_default().to_owned();
            let req = client
                .request(Method::PUT, &format!("/protected/apps/{name}"))
                .header("content-type", "application/json")
                .body(body);
            let v: Value = client.send(req).await?.json().await?;
            print_warnings(&v)?;
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

fn print_warnings(v: &Value) -> anyhow::Result<()> {
    let mut err = std::io::stderr().lock();
    for w in v["warnings"].as_array().into_iter().flatten() {
        writeln!(err, "warning: {}", w.as_str().unwrap_or_default())?;
    }
    Ok(())
}

/// Reads the NDJSON answer of an install: pull progress (drawn as a bar on
/// a terminal, as status lines otherwise), then the app or the problem.
async fn install_with_progress(
    client: &Client,
    req: reqwest::RequestBuilder,
) -> anyhow::Result<Value> {
    let mut response = client.send(req).await?;
    let mut bar = PullBar::default();
    let mut pending = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        pending.extend_from_slice(&chunk);
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            let Ok(v) = serde_json::from_slice::<Value>(&line) else {
                continue;
            };
            if let Some(p) = v.get("progress") {
                bar.update(p)?;
            } else if let Some(app) = v.get("app") {
                bar.finish()?;
                print_warnings(app)?;
                return Ok(app.clone());
            } else if let Some(problem) = v.get("problem") {
                bar.finish()?;
                bail!(
                    "{} ({})",
                    problem["detail"].as_str().unwrap_or("install failed"),
                    problem["status"]
                );
            }
        }
    }
    bail!("berth ended the install answer early; see `berth app status` and berth's log")
}

/// Pull progress: bytes downloaded over bytes known, across layers.
#[derive(Default)]
struct PullBar {
    layers: std::collections::BTreeMap<String, (u64, u64, String)>,
    drawn: bool,
}

impl PullBar {
    fn update(&mut self, p: &Value) -> anyhow::Result<()> {
        use std::io::IsTerminal;
        let layer = p["layer"].as_str().unwrap_or_default().to_owned();
        let status = p["status"].as_str().unwrap_or_default().to_owned();
        let entry = self.layers.entry(layer.clone()).or_default();
        let changed = entry.2 != status;
        if let (Some(c), Some(t)) = (p["current"].as_u64(), p["total"].as_u64()) {
            if t > 0 {
                *entry = (c, t, status.clone());
            }
        }
        entry.2 = status.clone();
        let mut err = std::io::stderr().lock();
        if err.is_terminal() {
            let (current, total) = self
                .layers
                .values()
                .fold((0, 0), |(c, t), l| (c + l.0, t + l.1));
            let ratio = if total > 0 {
                current as f64 / total as f64
            } else {
                0.0
            };
            let filled = (ratio * 30.0) as usize;
            write!(
                err,
                "\rpulling [{}{}] {:>3.0}% {:.1}/{:.1} MB ",
                "#".repeat(filled),
                " ".repeat(30 - filled.min(30)),
                ratio * 100.0,
                current as f64 / 1e6,
                total as f64 / 1e6
            )?;
            self.drawn = true;
        } else if changed {
            let prefix = if layer.is_empty() {
                String::new()
            } else {
                format!("{layer}: ")
            };
            writeln!(err, "{prefix}{status}")?;
        }
        Ok(())
    }

    fn finish(&self) -> anyhow::Result<()> {
        if self.drawn {
            writeln!(std::io::stderr())?;
        }
        Ok(())
    }
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
