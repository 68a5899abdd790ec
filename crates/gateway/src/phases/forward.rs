//! Phase 6, forward: stream the request to the app over the client
//! connection's upstream connection, stream the answer back; upgrades go
//! through a shared pool and are spliced.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
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
use crate::directory::{ActivityGuard, BodyVerifier, Upstream};
use crate::pages;
use crate::phases::Admitted;
use crate::stall::StallLimitedBody;
use crate::upstream::{ClientUpstreams, IdlePool};

/// Cheap to clone; clones share the upgrade client and the idle pool.
#[derive(Clone)]
pub struct Forwarder {
    /// For upgrades: the upgraded connection leaves HTTP, so it must not
    /// be a client connection's kept one.
    client: Client<HttpConnector, BoxBody>,
    idle: Arc<IdlePool>,
    body_read_timeout: Duration,
}

impl Forwarder {
    pub fn new(body_read_timeout: Duration) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(256)
            .build(connector);
        Self {
            client,
            idle: Arc::new(IdlePool::default()),
            body_read_timeout,
        }
    }

    /// Parks a finished client connection's idle upstream connection.
    pub fn release(&self, upstreams: &ClientUpstreams) {
        upstreams.park(&self.idle);
    }

    /// Sends an admitted request to its app and returns the app's answer,
    /// or the gateway's page when there is none, with the cookie the
    /// authenticator handed back, if any.
    pub(crate) async fn forward(
        &self,
        upstreams: &ClientUpstreams,
        parts: http::request::Parts,
        body: Incoming,
        mut admitted: Admitted,
        wants_html: bool,
    ) -> Response<BoxBody> {
        let set_cookie = admitted.set_cookie.take();
        let mut response = self
            .exchange(upstreams, parts, body, admitted, wants_html)
            .await;
        if let Some(cookie) = set_cookie {
            response.headers_mut().append(header::SET_COOKIE, cookie);
        }
        response
    }

    async fn exchange(
        &self,
        upstreams: &ClientUpstreams,
        mut parts: http::request::Parts,
        body: Incoming,
        admitted: Admitted,
        wants_html: bool,
    ) -> Response<BoxBody> {
        let Admitted {
            upstream,
            guard,
            body_verifier: verifier,
            upgrade,
            ..
        } = admitted;
        let client_side = if upgrade {
            parts.extensions.remove::<hyper::upgrade::OnUpgrade>()
        } else {
            None
        };
        // An absolute-form request may come without `Host`; the hop to the
        // app is origin-form, so the authority must travel as `Host`.
        if !parts.headers.contains_key(header::HOST) {
            if let Some(host) = parts
                .uri
                .authority()
                .and_then(|a| http::HeaderValue::from_str(a.as_str()).ok())
            {
                parts.headers.insert(header::HOST, host);
            }
        }
        if let Err(e) = target_uri(&mut parts.uri, upstream, upgrade) {
            tracing::debug!(error = %e, "request target not forwardable");
            return pages::error(
                wants_html,
                StatusCode::BAD_REQUEST,
                "bad path",
                "the request path is not acceptable",
            );
        }
        parts.version = Version::HTTP_11;
        let body = body.map_err(BoxError::from).boxed_unsync();
        // A body still to come may stall; one already whole cannot.
        let stalled = Arc::new(AtomicBool::new(false));
        let body = if body.is_end_stream() {
            body
        } else {
            StallLimitedBody::new(body, self.body_read_timeout, Arc::clone(&stalled)).boxed_unsync()
        };
        let body = match verifier {
            Some(v) => VerifiedBody {
                inner: body,
                verifier: Some(v),
            }
            .boxed_unsync(),
            None => body,
        };
        let req = Request::from_parts(parts, body);
        let sent = if upgrade {
            self.client.request(req).await.map_err(BoxError::from)
        } else {
            upstreams
                .send(&self.idle, upstream, req)
                .await
                .map_err(BoxError::from)
        };
        let mut resp = match sent {
            Ok(r) => r,
            Err(_) if stalled.load(Ordering::Relaxed) => {
                // The client's connection closes after this: the rest of
                // its body is not coming, or not worth reading.
                let mut page = pages::error(
                    wants_html,
                    StatusCode::REQUEST_TIMEOUT,
                    "request timed out",
                    "the request body stopped arriving",
                );
                page.headers_mut()
                    .insert(header::CONNECTION, http::HeaderValue::from_static("close"));
                return page;
            }
            Err(e) => {
                tracing::warn!(upstream = %upstream.addr, error = %e, "app did not answer");
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
        strip_hop_by_hop(resp.headers_mut(), false, |_| false);
        resp.map(|b| {
            GuardedBody {
                inner: b,
                _guard: guard,
            }
            .boxed_unsync()
        })
    }
}

/// Rewrites the request target for the hop to the app. The client
/// connection's own upstream connection takes origin-form (`/path?query`),
/// which most requests already are, so they go unchanged; the shared
/// pool used for upgrades needs the absolute form to pick its connection.
fn target_uri(uri: &mut http::Uri, upstream: Upstream, upgrade: bool) -> Result<(), http::Error> {
    let origin_form = uri.scheme().is_none() && uri.authority().is_none();
    if origin_form && !upgrade && uri.path_and_query().is_some() {
        return Ok(());
    }
    let path = uri
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| http::uri::PathAndQuery::from_static("/"));
    let mut builder = http::Uri::builder().path_and_query(path);
    if upgrade {
        builder = builder
            .scheme(http::uri::Scheme::HTTP)
            .authority(upstream.addr.to_string());
    }
    *uri = builder.build()?;
    Ok(())
}

/// A response body that holds the request's activity guard until the last
/// byte is sent (or the client goes away). It wraps the app's body itself,
/// not a boxed copy: one allocation less per request.
struct GuardedBody {
    inner: Incoming,
    _guard: ActivityGuard,
}

impl Body for GuardedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        Pin::new(&mut self.inner)
            .poll_frame(cx)
            .map_err(BoxError::from)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A request body checked as it streams; a mismatch at the end becomes an
/// error, so the app never receives the request as complete.
struct VerifiedBody {
    inner: BoxBody,
    verifier: Option<Box<dyn BodyVerifier>>,
}

#[derive(Debug, thiserror::Error)]
#[error("the request body does not match its signed digest")]
struct DigestMismatch;

impl Body for VerifiedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(data), Some(v)) = (frame.data_ref(), self.verifier.as_mut()) {
                    v.update(data);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(None) => match self.verifier.take().map(|v| v.finish()) {
                Some(false) => Poll::Ready(Some(Err(Box::new(DigestMismatch)))),
                _ => Poll::Ready(None),
            },
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        // The check runs when the inner body reports its end.
        self.verifier.is_none() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
