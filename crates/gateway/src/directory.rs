//! What the gateway needs from the rest of berth, as traits: where apps are
//! and how to wake them ([`AppDirectory`]), who is calling
//! ([`Authenticator`]), and the core's own handler ([`CoreHandler`]).

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use berth_authz::gateway::{Access, Caller, PathRules, RuleAccess};
use berth_manifest::template::Template;
use http::HeaderName;

use crate::body::BoxBody;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The core's handler for requests not addressed to an app.
pub type CoreHandler = Arc<
    dyn Fn(http::Request<hyper::body::Incoming>) -> BoxFuture<'static, http::Response<BoxBody>>
        + Send
        + Sync,
>;

/// One path rule of an app: its access and the headers to inject.
#[derive(Debug, Clone)]
pub struct AppPathRule {
    pub access: Access,
    pub headers: Vec<(HeaderName, Template)>,
}

impl RuleAccess for AppPathRule {
    fn access(&self) -> Access {
        self.access
    }
}

/// How to reach one app and whom to let in.
#[derive(Debug, Clone)]
pub struct AppRoute {
    pub rules: Arc<PathRules<AppPathRule>>,
    /// Every header name any rule injects: a client's copies are removed on
    /// every path, so that no path lets a spoofed value through.
    pub injected: Arc<[HeaderName]>,
}

/// Why an app's manifest cannot become a route.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    #[error(transparent)]
    Path(#[from] berth_authz::gateway::PathRuleError),
    #[error("header name `{0}` is not valid HTTP")]
    HeaderName(String),
}

impl AppRoute {
    /// The gateway's view of an app's `paths`: the manifest's rules with
    /// their header templates, and every injected header name. The templates
    /// use only `auth.*` (the manifest refuses anything else in a path
    /// header), so the caller alone renders them.
    pub fn from_manifest(
        manifest: &berth_manifest::manifest::AppManifest,
    ) -> Result<Self, RouteError> {
        let mut injected: Vec<HeaderName> = Vec::new();
        let mut rules = Vec::new();
        for (prefix, rule) in manifest.paths() {
            let mut headers = Vec::new();
            for (name, template) in rule.headers() {
                let name = HeaderName::from_bytes(name.as_str().as_bytes())
                    .map_err(|_| RouteError::HeaderName(name.as_str().to_owned()))?;
                if !injected.contains(&name) {
                    injected.push(name.clone());
                }
                headers.push((name, template.clone()));
            }
            let access = match rule.access() {
                berth_manifest::paths::Access::Public => Access::Public,
                berth_manifest::paths::Access::Private => Access::Private,
                berth_manifest::paths::Access::Peer => Access::Peer,
            };
            rules.push((prefix.as_str().to_owned(), AppPathRule { access, headers }));
        }
        Ok(Self {
            rules: Arc::new(PathRules::new(rules)?),
            injected: Arc::from(injected),
        })
    }
}

/// A header name that shares no memory with `name`. A custom name's bytes
/// are reference counted; a copy per thread keeps the count of the one a
/// thread injects on every request on that thread's core.
fn own_header_name(name: &HeaderName) -> HeaderName {
    HeaderName::from_bytes(name.as_str().as_bytes()).unwrap_or_else(|_| name.clone())
}

impl AppRoute {
    /// A copy sharing nothing with `self` (see [`own_header_name`]), for
    /// a directory that keeps one per thread.
    pub fn copy_for_thread(&self) -> Self {
        let rules = self.rules.rules().iter().map(|rule| {
            let value = AppPathRule {
                access: rule.value().access,
                headers: rule
                    .value()
                    .headers
                    .iter()
                    .map(|(name, template)| (own_header_name(name), template.clone()))
                    .collect(),
            };
            (rule.prefix().to_owned(), value)
        });
        Self {
            // The rules were valid when first built; they still are.
            rules: PathRules::new(rules)
                .map(Arc::new)
                .unwrap_or_else(|_| Arc::clone(&self.rules)),
            injected: self.injected.iter().map(own_header_name).collect(),
        }
    }
}

/// A running app's container: its address, and which start of the app it
/// is. Upstream connections are reused only within one generation, since a
/// restarted app may come back at the same address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Upstream {
    pub addr: SocketAddr,
    /// Changes whenever the app starts again.
    pub generation: u64,
}

impl Upstream {
    pub fn new(addr: SocketAddr, generation: u64) -> Self {
        Self { addr, generation }
    }
}

/// Where an app is right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamState {
    Running(Upstream),
    /// Stopped on purpose (idle or by the owner); a request wakes it.
    Stopped,
    /// Exited on its own or unhealthy; requests get 502.
    Crashed,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum WakeError {
    #[error("the app did not accept connections in time")]
    Timeout,
    #[error("the app could not be started: {0}")]
    Failed(String),
    #[error("no such app")]
    Unknown,
}

/// Held while a request to an app is in flight (body streaming included);
/// dropping it tells the directory the request ended. Idle shutdown counts
/// these.
pub struct ActivityGuard {
    end: GuardEnd,
}

enum GuardEnd {
    Nothing,
    Call(Box<dyn FnOnce() + Send>),
    /// The tracker's own end of a request: no allocation per request.
    Request(crate::activity::RequestEnd),
}

impl ActivityGuard {
    pub fn new(on_drop: impl FnOnce() + Send + 'static) -> Self {
        Self {
            end: GuardEnd::Call(Box::new(on_drop)),
        }
    }

    pub fn none() -> Self {
        Self {
            end: GuardEnd::Nothing,
        }
    }

    pub(crate) fn request(end: crate::activity::RequestEnd) -> Self {
        Self {
            end: GuardEnd::Request(end),
        }
    }
}

impl Drop for ActivityGuard {
    fn drop(&mut self) {
        match std::mem::replace(&mut self.end, GuardEnd::Nothing) {
            GuardEnd::Nothing => {}
            GuardEnd::Call(f) => f(),
            GuardEnd::Request(end) => end.end(),
        }
    }
}

/// The apps, as the gateway sees them. Implemented by the apps service.
pub trait AppDirectory: Send + Sync + 'static {
    /// The app's route, or `None` for an unknown app. Must be cheap: it is
    /// called on every request (an in-memory map).
    fn route(&self, app: &str) -> Option<AppRoute>;
    /// Where the app is now. Cheap, like `route`.
    fn state(&self, app: &str) -> UpstreamState;
    /// Starts a stopped app and resolves when its port accepts connections.
    /// Concurrent calls for one app must share a single start.
    fn wake<'a>(&'a self, app: &'a str) -> BoxFuture<'a, Result<Upstream, WakeError>>;
    /// Marks the start of a request; the guard marks its end. The gateway
    /// calls it before [`Self::state`], so an idle stop decided after it
    /// sees the request, and one decided before it can be reported by
    /// `state` as [`UpstreamState::Stopped`].
    fn begin_request(&self, app: &str) -> ActivityGuard;
}

/// Checks a request body as it streams (a signed peer request's
/// `Content-Digest`); a mismatch aborts the request to the app.
pub trait BodyVerifier: Send {
    fn update(&mut self, chunk: &[u8]);
    /// True when the whole body matched.
    fn finish(self: Box<Self>) -> bool;
}

/// Who is calling, a renewed cookie to hand back, and a body check.
pub struct AuthOutcome {
    pub caller: Caller,
    pub set_cookie: Option<http::HeaderValue>,
    pub body_verifier: Option<Box<dyn BodyVerifier>>,
    /// What lets the connection answer its next requests without asking
    /// the authenticator; `None` to ask every time.
    pub memo: Option<Box<dyn CallerMemo>>,
}

impl AuthOutcome {
    pub fn anonymous() -> Self {
        Self {
            caller: Caller::Anonymous,
            set_cookie: None,
            body_verifier: None,
            memo: None,
        }
    }
}

/// An authenticator's promise about a connection's next requests: one
/// with the same credentials, while the promise holds, has the same
/// caller and needs nothing else (no cookie to renew, no body to check).
/// The lean path keeps one per client connection.
pub trait CallerMemo: Send + Sync {
    /// The caller of a request with `parts`; `None` when it presents other
    /// credentials or the memo no longer holds: authenticate afresh.
    fn recall(&self, parts: &http::request::Parts) -> Option<Caller>;
}

/// An authentication answered from memory, or one that must still ask
/// (the database, for a terminal not seen lately or a peer). Nearly every
/// request is a browser's repeated cookie, answered at once: boxing a
/// future for it cost the gateway a large allocation per request.
pub enum Authentication<'a> {
    Ready(AuthOutcome),
    Pending(BoxFuture<'a, AuthOutcome>),
}

impl<'a> Authentication<'a> {
    pub fn pending(future: impl Future<Output = AuthOutcome> + Send + 'a) -> Self {
        Self::Pending(Box::pin(future))
    }

    pub async fn outcome(self) -> AuthOutcome {
        match self {
            Self::Ready(outcome) => outcome,
            Self::Pending(future) => future.await,
        }
    }
}

/// Turns request credentials (terminal cookie, peer signature) into a
/// caller. Implemented by the identity service; must never fail open: any
/// error is [`Caller::Anonymous`].
pub trait Authenticator: Send + Sync + 'static {
    fn authenticate<'a>(&'a self, parts: &'a http::request::Parts) -> Authentication<'a>;

    /// The `Set-Cookie` value a one-time hand-off `ticket` carries to the
    /// app host `host`, or `None` when the ticket is unknown, used, expired
    /// or meant for another host.
    fn redeem_handoff(&self, _ticket: &str, _host: &str) -> Option<http::HeaderValue> {
        None
    }
}

/// An authenticator that knows nobody: everyone is anonymous.
pub struct NobodyAuthenticator;

impl Authenticator for NobodyAuthenticator {
    fn authenticate<'a>(&'a self, _parts: &'a http::request::Parts) -> Authentication<'a> {
        Authentication::Ready(AuthOutcome::anonymous())
    }
}

/// A directory with no apps: every app host is 404. Used until the apps
/// service provides the real one.
pub struct NoApps;

impl AppDirectory for NoApps {
    fn route(&self, _app: &str) -> Option<AppRoute> {
        None
    }
    fn state(&self, _app: &str) -> UpstreamState {
        UpstreamState::Crashed
    }
    fn wake<'a>(&'a self, _app: &'a str) -> BoxFuture<'a, Result<Upstream, WakeError>> {
        Box::pin(async { Err(WakeError::Unknown) })
    }
    fn begin_request(&self, _app: &str) -> ActivityGuard {
        ActivityGuard::none()
    }
}
