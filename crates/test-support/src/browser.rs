//! A real Chromium, driven over WebDriver, for tests of what a person sees.
//!
//! Each [`Browser`] runs its own `chromedriver` on a free port with its own
//! empty profile directory, so tests run in parallel without sharing cookies.
//! The flags are the ones this closed network needs (verified-facts.md):
//! without the background-networking switches Chromium keeps dialling out.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use fantoccini::{elements::Element, Client, ClientBuilder, Locator};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A headless Chromium session; the driver and the profile go when dropped.
pub struct Browser {
    client: Option<Client>,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and opens a session at a window of `width` × 900.
    ///
    /// Chromium will not size a window below about 500 px, so a phone's
    /// width needs [`Browser::start_phone`].
    pub async fn start(width: u32) -> anyhow::Result<Self> {
        Self::launch(width, None).await
    }

    /// Opens a session whose viewport is `width` × `height` CSS pixels by
    /// Chromium's mobile emulation (a phone: touch, the viewport meta tag
    /// honoured, device pixel ratio 1), for widths a window cannot have.
    pub async fn start_phone(width: u32, height: u32) -> anyhow::Result<Self> {
        let metrics = serde_json::json!({
            "deviceMetrics": {"width": width, "height": height, "pixelRatio": 1}
        });
        Self::launch(500, Some(metrics)).await
    }

    async fn launch(
        width: u32,
        mobile_emulation: Option<serde_json::Value>,
    ) -> anyhow::Result<Self> {
        let port = crate::free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {CHROMEDRIVER} (apt install chromium-driver)"))?;
        let profile = tempfile::tempdir()?;
        let mut browser = Browser {
            client: None,
            driver,
            _profile: profile,
        };
        let mut caps = serde_json::json!({
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage",
                    format!("--window-size={width},900"),
                    format!("--user-data-dir={}", browser._profile.path().display()),
                ]
            }
        });
        if let Some(m) = mobile_emulation {
            caps["goog:chromeOptions"]["mobileEmulation"] = m;
        }
        let caps = match caps {
            serde_json::Value::Object(map) => map,
            _ => bail!("capabilities are an object"),
        };
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = loop {
            // chromedriver speaks plain HTTP on loopback: no TLS stack needed.
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(client) => break client,
                Err(e) if Instant::now() > deadline => {
                    return Err(anyhow::anyhow!("chromedriver session: {e}"));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        };
        browser.client = Some(client);
        Ok(browser)
    }

    /// The WebDriver client, for anything this wrapper does not cover.
    pub fn client(&self) -> &Client {
        self.client
            .as_ref()
            .expect("the client is set by start and taken only by drop")
    }

    pub async fn goto(&self, url: &str) -> anyhow::Result<()> {
        self.client()
            .goto(url)
            .await
            .with_context(|| format!("open {url}"))
    }

    /// The element matching `css`, waiting up to 10 s for it to appear.
    pub async fn find(&self, css: &str) -> anyhow::Result<Element> {
        let found = self
            .client()
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await;
        match found {
            Ok(element) => Ok(element),
            Err(e) => bail!(
                "no element `{css}` on {}: {e}",
                self.current_url_lossy().await
            ),
        }
    }

    /// Types `text` into the field matching `css`, replacing what it held.
    pub async fn fill(&self, css: &str, text: &str) -> anyhow::Result<()> {
        let field = self.find(css).await?;
        field.clear().await?;
        field.send_keys(text).await?;
        Ok(())
    }

    pub async fn click(&self, css: &str) -> anyhow::Result<()> {
        self.find(css).await?.click().await?;
        Ok(())
    }

    /// Clicks what submits a form or follows a link, then waits up to
    /// `timeout` for the next page to have loaded. A click may return before
    /// the navigation it starts, and the next page may have the same URL (a
    /// form that redirects back), so the old document is marked and the wait
    /// is for a document without the mark.
    pub async fn click_to_next_page(&self, css: &str, timeout: Duration) -> anyhow::Result<()> {
        let element = self.find(css).await?;
        self.client()
            .execute("window.__berthOldPage = true; return null;", vec![])
            .await?;
        element.click().await?;
        let deadline = Instant::now() + timeout;
        loop {
            let loaded = self
                .client()
                .execute(
                    "return window.__berthOldPage !== true && document.readyState === 'complete';",
                    vec![],
                )
                .await;
            // Mid-navigation a script may fail to run: that is not loaded yet.
            if matches!(loaded, Ok(serde_json::Value::Bool(true))) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "no new page after clicking `{css}` within {timeout:?}; still on {}",
                    self.current_url_lossy().await
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The visible text of the whole page.
    pub async fn text(&self) -> anyhow::Result<String> {
        Ok(self.find("body").await?.text().await?)
    }

    /// Waits up to `timeout` for the page's text to contain `needle`.
    pub async fn wait_for_text(&self, needle: &str, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let text = self.text().await.unwrap_or_default();
            if text.contains(needle) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("`{needle}` did not appear within {timeout:?}; the page says:\n{text}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn current_url_lossy(&self) -> String {
        match self.client().current_url().await {
            Ok(url) => url.to_string(),
            Err(e) => format!("<no url: {e}>"),
        }
    }

    /// The value of the cookie `name` as the page at the current URL sees
    /// it through WebDriver (HttpOnly cookies included).
    pub async fn cookie(&self, name: &str) -> anyhow::Result<Option<String>> {
        match self.client().get_named_cookie(name).await {
            Ok(cookie) => Ok(Some(cookie.value().to_owned())),
            Err(fantoccini::error::CmdError::Standard(e))
                if e.error == fantoccini::error::ErrorStatus::NoSuchCookie =>
            {
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Saves a PNG of the viewport to `path`, creating its directory.
    pub async fn screenshot(&self, path: &Path) -> anyhow::Result<PathBuf> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let png = self.client().screenshot().await?;
        std::fs::write(path, png)?;
        Ok(path.to_path_buf())
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Closing the session needs the runtime; killing the driver takes
        // its Chromium children with it.
        self.client.take();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        // chromedriver leaves Chromium behind when killed; its profile dir
        // names it uniquely.
        let profile = self._profile.path().to_path_buf();
        for pid in crate::processes_mentioning(&profile) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}
