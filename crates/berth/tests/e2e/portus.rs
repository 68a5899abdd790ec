//! A small client of berth's Portus API for the end-to-end tests.

use berth_test_support::Berth;
use reqwest::Method;
use serde_json::{json, Value};

/// How a test authenticates: `Portus-Auth` with an application token, or
/// Basic with a password.
#[derive(Clone, Debug)]
pub enum Auth {
    Anonymous,
    Token { user: String, token: String },
    Password { user: String, password: String },
}

pub struct Api {
    base: String,
    http: reqwest::Client,
}

/// A user created for a test, with their password and id.
#[derive(Clone, Debug)]
pub struct TestUser {
    pub id: i64,
    pub name: String,
    pub password: String,
}

impl TestUser {
    pub fn auth(&self) -> Auth {
        Auth::Password {
            user: self.name.clone(),
            password: self.password.clone(),
        }
    }
}

impl Api {
    pub fn new(b: &Berth) -> Self {
        Self {
            base: b.url(""),
            http: reqwest::Client::new(),
        }
    }

    pub async fn call(
        &self,
        auth: &Auth,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        req = match auth {
            Auth::Anonymous => req,
            Auth::Token { user, token } => req.header("Portus-Auth", format!("{user}:{token}")),
            Auth::Password { user, password } => req.basic_auth(user, Some(password)),
        };
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.expect("api request");
        let status = r.status().as_u16();
        let text = r.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Bootstraps the first admin `admin` and returns its token auth.
    pub async fn bootstrap(&self) -> Auth {
        let (s, v) = self
            .call(
                &Auth::Anonymous,
                Method::POST,
                "/api/v1/users/bootstrap",
                Some(json!({"user": {"username": "admin", "email": "admin@example.org", "password": "admin-password"}})),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        Auth::Token {
            user: "admin".into(),
            token: v["plain_token"].as_str().unwrap().to_owned(),
        }
    }

    pub async fn create_user(&self, admin: &Auth, name: &str, bot: bool) -> TestUser {
        let password = format!("{name}-password");
        let (s, v) = self
            .call(
                admin,
                Method::POST,
                "/api/v1/users",
                Some(json!({"user": {"username": name, "email": format!("{name}@example.org"), "password": password, "bot": bot}})),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        TestUser {
            id: v["id"].as_i64().unwrap(),
            name: name.to_owned(),
            password,
        }
    }

    /// Creates team `name` owned by `owner` and returns its id.
    pub async fn create_team(&self, owner: &Auth, name: &str) -> i64 {
        let (s, v) = self
            .call(
                owner,
                Method::POST,
                "/api/v1/teams",
                Some(json!({"name": name})),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        v["id"].as_i64().unwrap()
    }

    pub async fn add_member(&self, owner: &Auth, team: i64, user: &str, role: &str) {
        let (s, v) = self
            .call(
                owner,
                Method::POST,
                &format!("/api/v1/teams/{team}/members"),
                Some(json!({"user": user, "role": role})),
            )
            .await;
        assert_eq!(s, 201, "{v}");
    }

    /// Creates namespace `name` in `team` and returns its id.
    pub async fn create_namespace(&self, auth: &Auth, name: &str, team: &str) -> i64 {
        let (s, v) = self
            .call(
                auth,
                Method::POST,
                "/api/v1/namespaces",
                Some(json!({"name": name, "team": team})),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        v["id"].as_i64().unwrap()
    }

    pub async fn set_visibility(&self, auth: &Auth, namespace: i64, visibility: &str) -> u16 {
        self.call(
            auth,
            Method::PUT,
            &format!("/api/v1/namespaces/{namespace}"),
            Some(json!({"namespace": {"visibility": visibility}})),
        )
        .await
        .0
    }
}
