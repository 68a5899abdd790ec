//! A minimal HTTP client of berth's Portus API for the CLI.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use reqwest::Method;
use serde_json::Value;

pub struct Client {
    base: String,
    http: reqwest::Client,
    auth: Option<String>,
}

/// The credentials file inside the data dir.
pub fn auth_file(data_dir: &Path) -> PathBuf {
    data_dir.join("secrets").join("cli-auth")
}

impl Client {
    /// A client with credentials from `BERTH_AUTH` or the data dir, if any.
    pub fn new(url: &str, data_dir: &Path) -> Self {
        let auth = std::env::var("BERTH_AUTH").ok().or_else(|| {
            std::fs::read_to_string(auth_file(data_dir))
                .ok()
                .map(|s| s.trim().to_owned())
        });
        Self {
            base: url.trim_end_matches('/').to_owned(),
            http: reqwest::Client::new(),
            auth,
        }
    }

    /// Calls the API; a non-2xx answer becomes an error naming Portus's message.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(a) = &self.auth {
            req = req.header("Portus-Auth", a);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.with_context(|| {
            format!(
                "cannot reach berth at {}; is `berth serve` running?",
                self.base
            )
        })?;
        let status = r.status();
        let text = r.text().await.unwrap_or_default();
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if !status.is_success() {
            let hint = match status.as_u16() {
                401 => "; run `berth user bootstrap` or set BERTH_AUTH=user:token",
                _ => "",
            };
            bail!("berth answered {status}: {}{hint}", value["message"]);
        }
        Ok(value)
    }
}

/// The whole of standard input without the final newline.
pub fn read_stdin() -> anyhow::Result<String> {
    let mut s = String::new();
    std::io::stdin().read_to_string(&mut s)?;
    Ok(s.trim_end_matches(['\n', '\r']).to_owned())
}
