//! Helpers of the apps end-to-end tests: an owner client for
//! `/protected/apps`, `docker exec`, and superuser SQL on the managed cluster.

use std::process::Command;
use std::time::{Duration, Instant};

use berth_test_support::Berth;
use reqwest::StatusCode;
use serde_json::Value;

/// The owner, calling berth's main listener with the owner token.
pub struct Owner {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Owner {
    pub fn new(b: &Berth) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: b.url(""),
            token: b.owner_token(),
        }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(b);
        }
        let r = req.send().await.expect("request");
        let status = r.status();
        let text = r.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn install(&self, app: &Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::POST, "/protected/apps", Some(app))
            .await
    }

    pub async fn upgrade(&self, app: &Value) -> (StatusCode, Value) {
        let name = app["name"].as_str().unwrap();
        self.call(
            reqwest::Method::PUT,
            &format!("/protected/apps/{name}"),
            Some(app),
        )
        .await
    }

    pub async fn get(&self, name: &str) -> (StatusCode, Value) {
        self.call(
            reqwest::Method::GET,
            &format!("/protected/apps/{name}"),
            None,
        )
        .await
    }

    pub async fn list(&self) -> (StatusCode, Value) {
        self.call(reqwest::Method::GET, "/protected/apps", None)
            .await
    }

    pub async fn action(&self, name: &str, action: &str) -> (StatusCode, Value) {
        self.call(
            reqwest::Method::POST,
            &format!("/protected/apps/{name}/{action}"),
            None,
        )
        .await
    }

    pub async fn uninstall(&self, name: &str, purge: bool) -> StatusCode {
        self.call(
            reqwest::Method::DELETE,
            &format!("/protected/apps/{name}?purge={purge}"),
            None,
        )
        .await
        .0
    }

    /// Polls the app's record until its status is `want` (fails after 30 s,
    /// which is a hang, not a timing assertion).
    pub async fn wait_status(&self, name: &str, want: &str) -> Value {
        let start = Instant::now();
        loop {
            let (_, v) = self.get(name).await;
            if v["status"] == want {
                return v;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "`{name}` never became {want}: {v}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// `docker exec <container> sh -c <script>`: (success, stdout, stderr).
pub fn exec(container: &str, script: &str) -> (bool, String, String) {
    let out = Command::new("docker")
        .args(["exec", container, "sh", "-c", script])
        .output()
        .expect("docker exec");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        String::from_utf8_lossy(&out.stderr).trim().to_owned(),
    )
}

/// `docker <args>`: (success, stdout).
pub fn docker(args: &[&str]) -> (bool, String) {
    let out = Command::new("docker").args(args).output().expect("docker");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_owned(),
    )
}

/// Runs `sql` as the cluster's superuser over its Unix socket.
pub fn superuser_sql(b: &Berth, sql: &str) -> String {
    sql_in(b, "postgres", sql)
}

/// Runs `sql` as the superuser in berth's own database.
pub fn berth_sql(b: &Berth, sql: &str) -> String {
    sql_in(b, "berth", sql)
}

fn sql_in(b: &Berth, dbname: &str, sql: &str) -> String {
    let conn = format!(
        "host={} port={} user=postgres dbname={dbname}",
        b.data_dir().join("run/postgres").display(),
        b.ports.postgres
    );
    let out = Command::new("psql")
        .args([conn.as_str(), "-XAtc", sql])
        .output()
        .expect("psql");
    assert!(
        out.status.success(),
        "psql: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

pub fn role_exists(b: &Berth, role: &str) -> bool {
    superuser_sql(
        b,
        &format!("SELECT count(*) FROM pg_roles WHERE rolname = '{role}'"),
    ) == "1"
}

pub fn database_exists(b: &Berth, db: &str) -> bool {
    superuser_sql(
        b,
        &format!("SELECT count(*) FROM pg_database WHERE datname = '{db}'"),
    ) == "1"
}

/// A unique, valid app name.
pub fn app_name(prefix: &str) -> String {
    berth_test_support::unique_name(prefix)
}
