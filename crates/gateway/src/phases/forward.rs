//! Phase 6, forward: stream the request to the app over a pooled
//! connection, stream the answer back, splice upgrades.

use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{header, Request, Response, StatusCode, Version};
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};

use super::headers::strip_hop_by_hop;
use crate::body::{BoxBody, BoxError};
use crate::directory::ActivityGuard;
use crate::pages;

pub fn is_upgrade(headers: &http::HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE)
        && headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| {
                v.split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
            })
}

pub struct Forwarder {
    client: Client<HttpConnector, BoxBody>,
}

impl Forwarder {
    pub fn new() -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(256)
            .build(connector);
        Self { client }
    }

    pub async fn forward(
        &self,
        mut parts: http::request::Parts,
        body: Incoming,
        upstream: SocketAddr,
        guard: ActivityGuard,
        wants_html: bool,
    ) -> Response<BoxBody> {
        let upgrade = is_upgrade(&parts.headers);
        let client_side = if upgrade {
            parts.extensions.remove::<hyper::upgrade::OnUpgrade>()
        } else {
            None
        };
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        parts.uri = match format!("http://{upstream}{path}").parse() {
            Ok(u) => u,
            Err(_) => {
                return pages::error(
                    wants_html,
                    StatusCode::BAD_REQUEST,
                    "bad path",
                    "the request path is not acceptable",
                )
            }
        };
        parts.version = Version::HTTP_11;
        let req = Request::from_parts(parts, body.map_err(BoxError::from).boxed_unsync());
        let mut resp = match self.client.request(req).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(%upstream, error = %e, "app did not answer");
                return pages::error(
                    wants_html,
                    StatusCode::BAD_GATEWAY,
                    "app not responding",
                    "the app did not answer; it may have crashed",
                );
            }
        };
        if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
            if let Some(client_side) = client_side {
                let app_side = hyper::upgrade::on(&mut resp);
                tokio::spawn(async move {
                    let _guard = guard;
                    if let (Ok(c), Ok(a)) = (client_side.await, app_side.await) {
                        let mut c = TokioIo::new(c);
                        let mut a = TokioIo::new(a);
                        let _ = tokio::io::copy_bidirectional(&mut c, &mut a).await;
                    }
                });
                let (parts, _) = resp.into_parts();
                return Response::from_parts(parts, crate::body::empty());
            }
        }
        strip_hop_by_hop(resp.headers_mut(), false);
        resp.map(|b| {
            GuardedBody {
                inner: b.map_err(BoxError::from).boxed_unsync(),
                _guard: guard,
            }
            .boxed_unsync()
        })
    }
}

/// A response body that holds the request's activity guard until the last
/// byte is sent (or the client goes away).
struct GuardedBody {
    inner: BoxBody,
    _guard: ActivityGuard,
}

impl Body for GuardedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
