//! A filtering proxy in front of the engine's Unix socket: the Docker API an
//! app granted `docker_sock_ro` sees.
//!
//! The proxy listens on its own Unix socket, asks a filter about each
//! request's method and path, answers 403 with a Docker-style JSON message
//! when refused, and otherwise forwards the request to the engine over a
//! fresh connection, streaming the response body back as it arrives (so
//! `GET /events` and `logs?follow=1` keep streaming). The decision itself
//! lives in the caller (berth's `authz` crate); this module only moves bytes.

use std::convert::Infallible;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{UnixListener, UnixStream};
use tokio::task::JoinHandle;

/// Decides on `(method, path)`; `Err` carries the reason given to the client.
pub type Filter = Arc<dyn Fn(&str, &str) -> Result<Forward, String> + Send + Sync>;

/// How an allowed request is forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forward {
    /// The engine's answer, streamed as it comes.
    AsIs,
    /// A container inspect: the values of `Config.Env` are replaced, since
    /// they hold other apps' credentials (their database passwords).
    RedactEnv,
}

type ProxyBody = Either<Incoming, Full<Bytes>>;

/// A running proxy. Dropping it stops accepting and removes the socket file.
#[derive(Debug)]
pub struct ProxyHandle {
    socket: PathBuf,
    task: JoinHandle<()>,
}

impl ProxyHandle {
    pub fn socket(&self) -> &Path {
        &self.socket
    }
}

impl Drop for ProxyHandle {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.socket);
    }
}

/// Binds `socket` (replacing a stale file) and serves until the handle drops.
/// The socket is mode 0666 so that an app running as any uid can connect;
/// who can reach the file is decided by where it is mounted.
pub fn serve(socket: &Path, upstream: &Path, filter: Filter) -> std::io::Result<ProxyHandle> {
    match std::fs::remove_file(socket) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let listener = UnixListener::bind(socket)?;
    std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o666))?;
    let upstream = upstream.to_owned();
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let upstream = upstream.clone();
            let filter = filter.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| {
                    let upstream = upstream.clone();
                    let filter = filter.clone();
                    async move { Ok::<_, Infallible>(handle(req, &upstream, &filter).await) }
                });
                if let Err(e) = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await
                {
                    tracing::debug!(error = %e, "docker proxy connection ended");
                }
            });
        }
    });
    Ok(ProxyHandle {
        socket: socket.to_owned(),
        task,
    })
}

async fn handle(req: Request<Incoming>, upstream: &Path, filter: &Filter) -> Response<ProxyBody> {
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let how = match filter(&method, &path) {
        Ok(how) => how,
        Err(reason) => {
            tracing::info!(%method, %path, %reason, "docker proxy refused a request");
            return message(StatusCode::FORBIDDEN, &reason);
        }
    };
    match forward(req, upstream).await {
        Ok(response) if how == Forward::RedactEnv => redact_env(response).await,
        Ok(response) => response.map(Either::Left),
        Err(e) => {
            tracing::warn!(error = %e, "docker proxy cannot reach the engine");
            message(
                StatusCode::BAD_GATEWAY,
                "the Docker engine is not reachable",
            )
        }
    }
}

async fn forward(
    req: Request<Incoming>,
    upstream: &Path,
) -> Result<Response<Incoming>, Box<dyn std::error::Error + Send + Sync>> {
    let stream = UnixStream::connect(upstream).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "docker proxy upstream connection ended");
        }
    });
    Ok(sender.send_request(req).await?)
}

/// Reads the whole (small) inspect answer and blanks every env value.
async fn redact_env(response: Response<Incoming>) -> Response<ProxyBody> {
    use http_body_util::BodyExt;
    let (mut parts, body) = response.into_parts();
    let Ok(collected) = body.collect().await else {
        return message(
            StatusCode::BAD_GATEWAY,
            "the Docker engine answer broke off",
        );
    };
    let bytes = collected.to_bytes();
    let body = match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(mut value) => {
            if let Some(env) = value
                .pointer_mut("/Config/Env")
                .and_then(|e| e.as_array_mut())
            {
                for item in env.iter_mut() {
                    let name = item
                        .as_str()
                        .and_then(|s| s.split_once('='))
                        .map(|(k, _)| k.to_owned())
                        .unwrap_or_default();
                    *item = serde_json::Value::String(format!("{name}=<redacted>"));
                }
            }
            Bytes::from(value.to_string())
        }
        // Not JSON (an error text): nothing to redact.
        Err(_) => bytes,
    };
    parts.headers.remove(hyper::header::CONTENT_LENGTH);
    parts.headers.remove(hyper::header::TRANSFER_ENCODING);
    Response::from_parts(parts, Either::Right(Full::new(body)))
}

/// Docker's own error shape: `{"message": "..."}`.
fn message(status: StatusCode, text: &str) -> Response<ProxyBody> {
    let body = serde_json::json!({ "message": text }).to_string();
    let mut response = Response::new(Either::Right(Full::new(Bytes::from(body))));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}
