//! The gateway: berth's front door on its main listener.
//!
//! Every request walks named phases over one [`phases::RequestCtx`], in the
//! manner of Pingora:
//!
//! 1. **route**: the `Host` header picks the target: `<app>.<domain>` is an
//!    app, anything else goes to the core (UI and API) unchanged.
//! 2. **authenticate**: the [`Authenticator`] turns a terminal cookie or a
//!    peer signature into an [`berth_authz::gateway::Caller`].
//! 3. **decide**: `authz::gateway` matches the longest segment-aware path
//!    prefix of the app and decides; a denial is 401 for API clients and a
//!    redirect to pairing for browsers.
//! 4. **wake**: a stopped app is started (once, however many requests wait)
//!    and the request held until its port accepts, or a browser gets a
//!    waiting page that reloads itself.
//! 5. **headers**: client-sent copies of the app's injected headers and the
//!    terminal cookie are removed, the matched path's header templates
//!    rendered and added, `X-Forwarded-*` set.
//! 6. **forward**: the request streams to the app over a pooled connection;
//!    WebSocket and other upgrades are spliced through. Plain keep-alive
//!    requests are read and forwarded by the lean HTTP/1 path (`lean`),
//!    the rest by hyper; both run the same phases 1 to 5.
//! 7. **log**: one line per request.
//!
//! Architecture invariant: the gateway decides nothing itself (authz does)
//! and knows apps only through [`AppDirectory`]; it never buffers a body.

pub mod activity;
pub mod body;
pub mod directory;
mod lean;
mod pages;
pub mod phases;
pub mod server;
mod stall;
pub mod upstream;
pub mod wake;

pub use directory::{
    ActivityGuard, AppDirectory, AppPathRule, AppRoute, AuthOutcome, Authentication, Authenticator,
    BodyVerifier, CallerMemo, CoreHandler, RouteError, Upstream, UpstreamState, WakeError,
};
pub use phases::Gateway;

/// Settings of the gateway.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// The bare domain; apps live at `<app>.<domain>` (e.g. `localhost`).
    pub domain: String,
    /// Name of the terminal cookie, never forwarded to apps.
    pub terminal_cookie: String,
    /// How long a request may wait for a stopped app to start.
    pub wake_timeout: std::time::Duration,
    /// Where browsers without a terminal cookie for an app's host are sent,
    /// on the bare domain: the core hands the cookie over with a one-time
    /// ticket, or asks the browser to pair first.
    pub handoff_path: String,
    /// Plain app requests take the lean HTTP/1 path ([`lean`]); off, every
    /// request goes through hyper's server. On by default; tests turn it
    /// off to prove both paths.
    pub lean_http1: bool,
    /// How long a client may take to send a whole request head, counted
    /// from the connection's start or its previous request's head. A
    /// connection that sends none in time (a slow-loris client, or one
    /// idle between requests) is closed, so idle sockets cannot pile up.
    /// hyper's path closes at this mark; the lean path between it and
    /// twice it (its timer is armed once per period, not per request).
    pub header_read_timeout: std::time::Duration,
    /// How long a request body may go without a byte arriving once its
    /// head is in. A body that stalls longer is answered 408 and its
    /// connection (and the app's) closed, so a client trickling a large
    /// upload cannot hold sockets for good. Checked once per period: a
    /// stall is noticed between this mark and twice it.
    pub body_read_timeout: std::time::Duration,
    /// How long a client may go without taking any of the answer while
    /// the gateway has more to send it (nginx's `send_timeout`). A client
    /// that stops reading a large download, or a WebSocket's messages,
    /// loses its connection instead of holding it and the app's socket.
    /// Checked once per period, as the body-read timeout is.
    pub response_write_timeout: std::time::Duration,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            domain: "localhost".into(),
            terminal_cookie: "berth_terminal".into(),
            wake_timeout: std::time::Duration::from_secs(60),
            handoff_path: "/.berth/handoff".into(),
            lean_http1: true,
            header_read_timeout: std::time::Duration::from_secs(60),
            body_read_timeout: std::time::Duration::from_secs(60),
            response_write_timeout: std::time::Duration::from_secs(60),
        }
    }
}
