//! The request path as named phases over one [`RequestCtx`].

mod forward;
mod headers;
mod route;
mod session;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use berth_authz::gateway::{decide_gateway_request_rule, Caller, GatewayReason};
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;

use crate::body::BoxBody;
use crate::directory::{
    AppDirectory, Authenticator, CallerMemo, CoreHandler, Upstream, UpstreamState, WakeError,
};
use crate::pages;
use crate::upstream::ClientUpstreams;
use crate::GatewayConfig;

pub(crate) use headers::{ip_header_value, HOP_BY_HOP};
pub use route::{route, Target};
pub(crate) use session::SESSION_PATH;

/// What the phases learn about one request.
pub struct RequestCtx {
    /// When the request came, if the log phase will say how long it took
    /// (reading the clock is a measurable share of a request's cost).
    pub start: Option<Instant>,
    pub client: SocketAddr,
    /// Shared: the lean path keeps one per client connection.
    pub app: Arc<str>,
    /// `client` as an `X-Forwarded-For` value, when the connection made it
    /// once for all its requests; else the headers phase makes it.
    pub forwarded_for: Option<http::HeaderValue>,
    pub wants_html: bool,
    pub caller: Caller,
}

impl RequestCtx {
    pub fn new(client: SocketAddr, app: Arc<str>, wants_html: bool) -> Self {
        Self {
            start: tracing::enabled!(tracing::Level::DEBUG).then(Instant::now),
            client,
            app,
            forwarded_for: None,
            wants_html,
            caller: Caller::Anonymous,
        }
    }

    /// Phase: log. One line per request.
    pub fn log(&self, status: u16) {
        tracing::debug!(
            app = %self.app,
            status,
            caller = self.caller.client_type(),
            micros = self.start.map_or(0, |s| s.elapsed().as_micros() as u64),
            "gateway"
        );
    }
}

/// A request the phases let through: where it goes, the activity it
/// holds until its answer is sent, and what the authenticator handed back.
pub(crate) struct Admitted {
    pub upstream: Upstream,
    pub guard: crate::directory::ActivityGuard,
    pub set_cookie: Option<http::HeaderValue>,
    pub body_verifier: Option<Box<dyn crate::directory::BodyVerifier>>,
    /// The request asks to switch protocols (a WebSocket): hyper's path
    /// forwards it over a connection of its own.
    pub upgrade: bool,
}

/// The gateway. Cheap to clone.
#[derive(Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    config: GatewayConfig,
    directory: Arc<dyn AppDirectory>,
    authenticator: Arc<dyn Authenticator>,
    core: CoreHandler,
    forwarder: forward::Forwarder,
    /// Idle upstream connections of the lean HTTP/1 path.
    lean_pool: Arc<crate::lean::pool::LeanPool>,
}

impl Gateway {
    pub fn new(
        config: GatewayConfig,
        directory: Arc<dyn AppDirectory>,
        authenticator: Arc<dyn Authenticator>,
        core: CoreHandler,
    ) -> Self {
        let forwarder = forward::Forwarder::new(config.body_read_timeout);
        Self {
            inner: Arc::new(Inner {
                config,
                directory,
                authenticator,
                core,
                forwarder,
                lean_pool: Arc::default(),
            }),
        }
    }

    /// A copy for one thread: the same directory, authenticator, core and
    /// upstream pool, behind a reference count of its own. Requests clone
    /// the gateway; with one count for all threads, every request would
    /// move its cache line between cores.
    pub fn for_thread(&self) -> Self {
        Self {
            inner: Arc::new(Inner::clone(&self.inner)),
        }
    }

    /// Handles one request from `client`, whose connection's upstream
    /// connections are `upstreams`.
    pub async fn handle(
        &self,
        mut req: Request<Incoming>,
        client: SocketAddr,
        upstreams: &ClientUpstreams,
    ) -> Response<BoxBody> {
        let inner = &self.inner;
        // Phase: route.
        let app = match route(req.headers(), req.uri(), &inner.config.domain) {
            Target::Core => {
                // The core learns the client address from the extensions.
                req.extensions_mut().insert(client);
                return (inner.core)(req).await;
            }
            Target::App(app) => app,
        };
        let mut ctx = RequestCtx::new(client, app.into(), pages::wants_html(req.headers()));
        let response = self.handle_app(&mut ctx, req, upstreams).await;
        ctx.log(response.status().as_u16());
        response
    }

    /// Ends a client connection: its idle upstream connection is kept for
    /// the next one.
    pub fn release(&self, upstreams: &ClientUpstreams) {
        self.inner.forwarder.release(upstreams);
    }

    async fn handle_app(
        &self,
        ctx: &mut RequestCtx,
        req: Request<Incoming>,
        upstreams: &ClientUpstreams,
    ) -> Response<BoxBody> {
        let (mut parts, body) = req.into_parts();
        // Phase: session (the hand-off of a terminal cookie to this host).
        if parts.uri.path() == session::SESSION_PATH {
            return match self.inner.directory.route(&ctx.app) {
                Some(_) => session::redeem(self.inner.authenticator.as_ref(), &parts),
                None => self.unknown_app(ctx),
            };
        }
        let admitted = match self.admit(ctx, &mut parts, None).await {
            Ok(admitted) => admitted,
            Err(response) => return response,
        };
        // Phase: forward.
        self.inner
            .forwarder
            .forward(upstreams, parts, body, admitted, ctx.wants_html)
            .await
    }

    /// The phases between route and forward, shared by hyper's path and
    /// the lean HTTP/1 one ([`crate::lean`]): authenticate, decide, wake
    /// and headers. `parts` leaves ready for the app; a refusal, a waiting
    /// page or an error is the response to send instead. `memo` is the
    /// connection's [`CallerMemo`], if it keeps one: used when it holds,
    /// replaced by the authenticator's answer when it does not.
    pub(crate) async fn admit(
        &self,
        ctx: &mut RequestCtx,
        parts: &mut http::request::Parts,
        memo: Option<&mut Option<Box<dyn CallerMemo>>>,
    ) -> Result<Admitted, Response<BoxBody>> {
        let inner = &self.inner;
        let Some(app_route) = inner.directory.route(&ctx.app) else {
            return Err(self.unknown_app(ctx));
        };

        // Phase: authenticate.
        let recalled = memo.as_deref().and_then(|m| m.as_ref()?.recall(parts));
        let (set_cookie, body_verifier) = match recalled {
            Some(caller) => {
                ctx.caller = caller;
                (None, None)
            }
            None => {
                let outcome = inner.authenticator.authenticate(parts).outcome().await;
                if let Some(slot) = memo {
                    *slot = outcome.memo;
                }
                ctx.caller = outcome.caller;
                (outcome.set_cookie, outcome.body_verifier)
            }
        };

        // Phase: decide.
        let (decision, rule) =
            decide_gateway_request_rule(&app_route.rules, parts.uri.path(), &ctx.caller);
        if !decision.allowed() {
            return Err(self.deny(ctx, parts, decision.reason()));
        }

        // The request counts as activity from here, before the wake phase
        // reads the app's state: an idle stop then either sees it or is
        // already visible to it (`AppDirectory::begin_request`).
        let guard = inner.directory.begin_request(&ctx.app);

        // Phase: wake.
        let upstream = self.wake(ctx).await?;

        // Phase: headers.
        let upgrade = match headers::prepare(parts, ctx, &app_route, rule, &inner.config) {
            Ok(upgrade) => upgrade,
            Err(detail) => {
                tracing::error!(app = %ctx.app, %detail, "header templates failed");
                return Err(pages::error(
                    ctx.wants_html,
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error",
                    "the gateway could not prepare the request",
                ));
            }
        };
        Ok(Admitted {
            upstream,
            guard,
            set_cookie,
            body_verifier,
            upgrade,
        })
    }

    fn unknown_app(&self, ctx: &RequestCtx) -> Response<BoxBody> {
        pages::error(
            ctx.wants_html,
            StatusCode::NOT_FOUND,
            "no such app",
            &format!("there is no app named `{}` here", ctx.app),
        )
    }

    pub(crate) fn config(&self) -> &GatewayConfig {
        &self.inner.config
    }

    pub(crate) fn lean_pool(&self) -> &crate::lean::pool::LeanPool {
        &self.inner.lean_pool
    }

    fn deny(
        &self,
        ctx: &RequestCtx,
        parts: &http::request::Parts,
        reason: GatewayReason,
    ) -> Response<BoxBody> {
        match reason {
            GatewayReason::RejectedPath(_) => pages::error(
                ctx.wants_html,
                StatusCode::BAD_REQUEST,
                "bad path",
                "the request path is not acceptable",
            ),
            GatewayReason::PeerForbidden => pages::error(
                ctx.wants_html,
                StatusCode::FORBIDDEN,
                "forbidden",
                "peers may not reach this path",
            ),
            _ if ctx.wants_html => {
                let host = parts
                    .headers
                    .get(http::header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .unwrap_or_default();
                let port = host
                    .rsplit_once(':')
                    .map(|(_, p)| format!(":{p}"))
                    .unwrap_or_default();
                let next = format!(
                    "http://{host}{}",
                    parts
                        .uri
                        .path_and_query()
                        .map(|p| p.as_str())
                        .unwrap_or("/")
                );
                pages::redirect(&format!(
                    "http://{}{port}{}?next={}",
                    self.inner.config.domain,
                    self.inner.config.handoff_path,
                    percent_encode(&next)
                ))
            }
            _ => pages::problem(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "pair this device as a terminal, or sign the request as a peer",
            ),
        }
    }

    /// Returns where to send the request, starting the app if needed.
    async fn wake(&self, ctx: &RequestCtx) -> Result<Upstream, Response<BoxBody>> {
        let dir = &self.inner.directory;
        match dir.state(&ctx.app) {
            UpstreamState::Running(upstream) => Ok(upstream),
            UpstreamState::Crashed => Err(pages::error(
                ctx.wants_html,
                StatusCode::BAD_GATEWAY,
                "app crashed",
                &format!("`{}` stopped unexpectedly; see its logs", ctx.app),
            )),
            UpstreamState::Stopped if ctx.wants_html => {
                // A browser gets a page that reloads itself while the app
                // starts in the background.
                let dir = Arc::clone(dir);
                let app = ctx.app.clone();
                tokio::spawn(async move {
                    if let Err(e) = dir.wake(&app).await {
                        tracing::warn!(%app, error = %e, "wake failed");
                    }
                });
                Err(pages::html(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "starting",
                    &format!("`{}` is starting; this page reloads itself", ctx.app),
                    Some(1),
                ))
            }
            UpstreamState::Stopped => {
                match tokio::time::timeout(self.inner.config.wake_timeout, dir.wake(&ctx.app)).await
                {
                    Ok(Ok(upstream)) => Ok(upstream),
                    Ok(Err(WakeError::Unknown)) => Err(pages::problem(
                        StatusCode::NOT_FOUND,
                        "no such app",
                        "the app is gone",
                    )),
                    Ok(Err(WakeError::Failed(why))) => Err(pages::problem(
                        StatusCode::BAD_GATEWAY,
                        "app failed to start",
                        &why,
                    )),
                    Ok(Err(WakeError::Timeout)) | Err(_) => Err(pages::problem(
                        StatusCode::GATEWAY_TIMEOUT,
                        "app start timed out",
                        "the app did not accept connections in time",
                    )),
                }
            }
        }
    }
}

/// Percent-encodes everything but unreserved characters (for `next=`).
fn percent_encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
