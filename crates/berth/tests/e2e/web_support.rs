//! Helpers of the web UI's end-to-end tests: a signed-in browser, a
//! form-posting HTTP client with its own cookies (for the forbidden and
//! forged sides, which a browser would never send), and screenshots.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use berth_test_support::{Berth, Browser};
use reqwest::redirect::Policy;

/// The UI's base URL at `localhost`, so apps at `<app>.localhost` share
/// the browser's idea of the domain.
pub fn base(b: &Berth) -> String {
    format!("http://localhost:{}", b.ports.listen)
}

/// Saves a screenshot of the current page as `<name>.png` in
/// `BERTH_SCREENSHOT_DIR`, or in `target/screenshots` without it. An
/// ordinary test run must not rewrite the committed `docs/screenshots`
/// (every run would leave the work tree changed); refreshing them is asked
/// for with `BERTH_SCREENSHOT_DIR=docs/screenshots`, relative to the
/// workspace.
pub async fn shot(browser: &Browser, name: &str) {
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = match std::env::var_os("BERTH_SCREENSHOT_DIR") {
        Some(dir) => workspace.join(dir),
        None => workspace.join("target/screenshots"),
    };
    browser
        .screenshot(&dir.join(format!("{name}.png")))
        .await
        .unwrap();
}

/// Signs the browser in through the form.
pub async fn sign_in(browser: &Browser, b: &Berth, user: &str, password: &str) {
    browser.goto(&format!("{}/sign-in", base(b))).await.unwrap();
    browser.fill("#username", user).await.unwrap();
    browser.fill("#password", password).await.unwrap();
    browser
        .click("form.card button[type=submit]")
        .await
        .unwrap();
    browser
        .wait_for_text("Dashboard", Duration::from_secs(10))
        .await
        .unwrap();
}

/// An HTTP client that keeps the UI's cookies and reads form tokens from
/// pages, following no redirects.
pub struct WebClient {
    base: String,
    http: reqwest::Client,
    cookies: HashMap<String, String>,
}

pub struct Answer {
    pub status: u16,
    pub location: String,
    pub body: String,
    /// The answer's `Set-Cookie` lines, attributes and all.
    pub set_cookies: Vec<String>,
}

impl WebClient {
    pub fn new(b: &Berth) -> Self {
        Self {
            base: base(b),
            http: reqwest::Client::builder()
                .redirect(Policy::none())
                .build()
                .unwrap(),
            cookies: HashMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.get(name).map(String::as_str)
    }

    pub fn set_cookie(&mut self, name: &str, value: &str) {
        self.cookies.insert(name.to_owned(), value.to_owned());
    }

    async fn answer(&mut self, r: reqwest::Response) -> Answer {
        let mut set_cookies = Vec::new();
        for v in r.headers().get_all("set-cookie") {
            let v = v.to_str().unwrap();
            set_cookies.push(v.to_owned());
            let pair = v.split(';').next().unwrap();
            let (k, val) = pair.split_once('=').unwrap();
            if val.is_empty() || v.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), val.to_owned());
            }
        }
        Answer {
            status: r.status().as_u16(),
            location: r
                .headers()
                .get("location")
                .map(|l| l.to_str().unwrap().to_owned())
                .unwrap_or_default(),
            body: r.text().await.unwrap_or_default(),
            set_cookies,
        }
    }

    pub async fn get(&mut self, path: &str) -> Answer {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.answer(r).await
    }

    /// Posts `fields` as a form, with extra headers.
    pub async fn post(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Answer {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let r = req.send().await.unwrap();
        self.answer(r).await
    }

    /// The CSRF token in the forms of the page at `path`.
    pub async fn csrf(&mut self, path: &str) -> String {
        let page = self.get(path).await;
        let marker = "name=\"_csrf\" value=\"";
        let start = page
            .body
            .find(marker)
            .unwrap_or_else(|| panic!("no form token on {path}: {}", page.body))
            + marker.len();
        page.body[start..].split('"').next().unwrap().to_owned()
    }

    /// Signs in through the form; panics unless it worked.
    pub async fn sign_in(&mut self, user: &str, password: &str) {
        let token = self.csrf("/sign-in").await;
        let a = self
            .post(
                "/sign-in",
                &[
                    ("_csrf", &token),
                    ("username", user),
                    ("password", password),
                ],
                &[],
            )
            .await;
        assert_eq!(a.status, 303, "{}", a.body);
        assert!(self.cookie("berth_session").is_some());
    }
}

/// The metadata store of a test's berth, over its Unix socket.
pub async fn store_of(b: &Berth) -> berth_store::Store {
    let options = berth_store::ConnectOptions::new()
        .socket(b.data_dir().join("run/postgres"))
        .port(b.ports.postgres)
        .username("postgres")
        .database("berth");
    berth_store::Store::connect(options).await.unwrap()
}
