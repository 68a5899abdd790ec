//! The harness of `gateway.rs`: a real HTTP upstream and a WebSocket echo
//! on loopback, an app directory and authenticator standing in for the apps
//! and identity services, and a gateway serving in front of them. Each test
//! binary uses part of it.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use berth_authz::gateway::{Access, Caller, PathRules};
use berth_gateway::body::{full, BoxBody};
use berth_gateway::directory::BoxFuture;
use berth_gateway::wake::SingleFlight;
use berth_gateway::{
    ActivityGuard, AppDirectory, AppPathRule, AppRoute, AuthOutcome, Authentication, Authenticator,
    Gateway, GatewayConfig, Upstream, UpstreamState, WakeError,
};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::{Request, Response};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// A real HTTP upstream: `/big?n=N` streams N bytes; `/public/upload*`
/// reads the body and answers its length; anything else echoes the
/// request's method, path and headers as JSON.
pub async fn start_upstream() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let svc =
                    hyper::service::service_fn(|req: Request<hyper::body::Incoming>| async move {
                        if req.uri().path().starts_with("/public/upload") {
                            return Ok::<_, Infallible>(upload_answer(req).await);
                        }
                        Ok::<_, Infallible>(upstream_answer(req))
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}

/// `/public/upload*`: reads the whole request body, then answers with
/// its length; a body that breaks off is answered 400.
async fn upload_answer(req: Request<hyper::body::Incoming>) -> Response<BoxBody> {
    match req.into_body().collect().await {
        Ok(body) => {
            let received = body.to_bytes().len();
            Response::new(full(
                serde_json::json!({ "received": received }).to_string(),
            ))
        }
        Err(_) => {
            let mut res = Response::new(full("body broke off"));
            *res.status_mut() = http::StatusCode::BAD_REQUEST;
            res
        }
    }
}

pub fn upstream_answer(req: Request<hyper::body::Incoming>) -> Response<BoxBody> {
    if req.uri().path() == "/big" {
        let n: u64 = req
            .uri()
            .query()
            .and_then(|q| q.strip_prefix("n="))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let chunk = Bytes::from(vec![7u8; 64 * 1024]);
        let chunks = n / chunk.len() as u64;
        let stream = futures_util::stream::iter(0..chunks)
            .map(move |_| Ok::<_, berth_gateway::body::BoxError>(Frame::data(chunk.clone())));
        return Response::new(StreamBody::new(stream).boxed_unsync());
    }
    let headers: BTreeMap<String, String> = req
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("?").to_owned()))
        .collect();
    let body = serde_json::json!({"path": req.uri().path(), "headers": headers});
    Response::new(full(body.to_string()))
}

pub async fn start_ws_echo() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                    return;
                };
                while let Some(Ok(msg)) = ws.next().await {
                    if msg.is_text() && ws.send(msg).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

pub struct App {
    pub route: AppRoute,
    pub state: Mutex<UpstreamState>,
    pub upstream: SocketAddr,
}

#[derive(Default)]
pub struct Directory {
    pub apps: HashMap<String, App>,
    pub starts: Arc<AtomicUsize>,
    pub active: Arc<AtomicUsize>,
    /// Calls of `state`, and those made with no request begun: an idle
    /// stop could have been decided between such a call and the request.
    pub state_calls: AtomicUsize,
    pub state_calls_unguarded: AtomicUsize,
    pub flight: SingleFlight,
}

impl AppDirectory for Directory {
    fn route(&self, app: &str) -> Option<AppRoute> {
        self.apps.get(app).map(|a| a.route.clone())
    }
    fn state(&self, app: &str) -> UpstreamState {
        self.state_calls.fetch_add(1, Ordering::SeqCst);
        if self.active.load(Ordering::SeqCst) == 0 {
            self.state_calls_unguarded.fetch_add(1, Ordering::SeqCst);
        }
        self.apps
            .get(app)
            .map_or(UpstreamState::Crashed, |a| *a.state.lock().unwrap())
    }
    fn wake<'a>(&'a self, app: &'a str) -> BoxFuture<'a, Result<Upstream, WakeError>> {
        Box::pin(async move {
            let a = self.apps.get(app).ok_or(WakeError::Unknown)?;
            let upstream = a.upstream;
            let starts = Arc::clone(&self.starts);
            self.flight
                .run(app, || async move {
                    starts.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    Ok(upstream)
                })
                .await
                .map(|addr| Upstream::new(addr, 2))
                .inspect(|up| *a.state.lock().unwrap() = UpstreamState::Running(*up))
        })
    }
    fn begin_request(&self, _app: &str) -> ActivityGuard {
        self.active.fetch_add(1, Ordering::SeqCst);
        let active = Arc::clone(&self.active);
        ActivityGuard::new(move || {
            active.fetch_sub(1, Ordering::SeqCst);
        })
    }
}

/// Stands in for the identity service: the cookie `berth_terminal=good`
/// is terminal `t1` named `Ann's phone`; header `x-test-peer` is a peer.
pub struct TestAuth;

impl Authenticator for TestAuth {
    fn authenticate<'a>(&'a self, parts: &'a http::request::Parts) -> Authentication<'a> {
        // Pending, as the identity service is for a terminal it must look up.
        Authentication::pending(async move {
            let cookie = parts
                .headers
                .get("cookie")
                .and_then(|c| c.to_str().ok())
                .unwrap_or("");
            if cookie.split(';').any(|c| c.trim() == "berth_terminal=good") {
                return AuthOutcome {
                    caller: Caller::Terminal {
                        id: "t1".into(),
                        name: "Ann's phone".into(),
                    },
                    set_cookie: None,
                    body_verifier: None,
                    memo: None,
                };
            }
            if let Some(p) = parts
                .headers
                .get("x-test-peer")
                .and_then(|p| p.to_str().ok())
            {
                return AuthOutcome {
                    caller: Caller::Peer { id: p.into() },
                    set_cookie: None,
                    body_verifier: None,
                    memo: None,
                };
            }
            AuthOutcome::anonymous()
        })
    }
}

pub fn route() -> AppRoute {
    // A 0.0-era app.json, as in the wild: the migration gives private paths
    // the X-Ptl-* headers and public paths X-Ptl-Client-Type only.
    let manifest = berth_manifest::parse(
        r#"{"name": "notes", "image": "x/notes:1", "port": 80,
            "authentication": {"default_access": "private", "public_paths": ["/public"]}}"#,
    )
    .unwrap()
    .manifest;
    let mut route = AppRoute::from_manifest(&manifest).unwrap();
    // Add a peer path the 0.0 format cannot express.
    let mut rules: Vec<(String, AppPathRule)> = route
        .rules
        .rules()
        .iter()
        .map(|r| (r.prefix().to_owned(), r.value().clone()))
        .collect();
    let private_headers = rules
        .iter()
        .find(|(p, _)| p.is_empty())
        .unwrap()
        .1
        .headers
        .clone();
    rules.push((
        "/peer".into(),
        AppPathRule {
            access: Access::Peer,
            headers: private_headers,
        },
    ));
    route.rules = Arc::new(PathRules::new(rules).unwrap());
    route
}

pub struct Harness {
    pub addr: SocketAddr,
    pub dir: Arc<Directory>,
}

pub async fn harness(stopped: bool) -> Harness {
    harness_on(stopped, true).await
}

/// `lean`: plain requests take the lean HTTP/1 path (the default), or
/// every request goes through hyper's server.
pub async fn harness_on(stopped: bool, lean: bool) -> Harness {
    let config = GatewayConfig {
        lean_http1: lean,
        ..GatewayConfig::default()
    };
    harness_with(stopped, config).await
}

pub async fn harness_with(stopped: bool, config: GatewayConfig) -> Harness {
    let upstream = start_upstream().await;
    let ws = start_ws_echo().await;
    let state = |addr| {
        if stopped {
            UpstreamState::Stopped
        } else {
            UpstreamState::Running(Upstream::new(addr, 1))
        }
    };
    let mut dir = Directory::default();
    dir.apps.insert(
        "notes".into(),
        App {
            route: route(),
            state: Mutex::new(state(upstream)),
            upstream,
        },
    );
    dir.apps.insert(
        "chat".into(),
        App {
            route: route(),
            state: Mutex::new(UpstreamState::Running(Upstream::new(ws, 1))),
            upstream: ws,
        },
    );
    let dead = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    dir.apps.insert(
        "dead".into(),
        App {
            route: route(),
            state: Mutex::new(UpstreamState::Running(Upstream::new(dead, 1))),
            upstream: dead,
        },
    );
    let dir = Arc::new(dir);
    let addr = serve_gateway(config, dir.clone(), Arc::new(TestAuth)).await;
    Harness { addr, dir }
}

/// A gateway in front of `dir`, serving on a loopback port of its own;
/// every host that is not an app's gets the core's answer, `core`.
pub async fn serve_gateway(
    config: GatewayConfig,
    dir: Arc<dyn AppDirectory>,
    auth: Arc<dyn Authenticator>,
) -> SocketAddr {
    let core: berth_gateway::CoreHandler =
        Arc::new(|_req| Box::pin(async { Response::new(full("core")) }));
    let gateway = Gateway::new(config, dir, auth, core);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(berth_gateway::server::serve(
        listener,
        gateway,
        std::future::pending(),
        Duration::from_secs(1),
    ));
    addr
}

impl Harness {
    pub fn client(&self) -> reqwest::Client {
        let mut b = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
        for app in ["notes", "chat", "dead", "ghost"] {
            b = b.resolve(&format!("{app}.localhost"), self.addr);
        }
        b.build().unwrap()
    }
    pub fn url(&self, app: &str, path: &str) -> String {
        format!("http://{app}.localhost:{}{path}", self.addr.port())
    }
    pub async fn echo(&self, req: reqwest::RequestBuilder) -> (u16, serde_json::Value) {
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(serde_json::Value::Null))
    }
}
