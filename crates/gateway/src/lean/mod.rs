//! The lean HTTP/1 path: the common exchange between a browser and an app
//! (an HTTP/1.1 keep-alive request with no body or a `Content-Length` one)
//! proxied over raw sockets, as nginx and Pingora do, instead of through
//! hyper's server and client.
//!
//! Why: on hyper's path the gateway's CPU per request was about twice
//! nginx's, most of it in hyper's two dispatchers (server and client side)
//! rather than in berth's phases; no tuning of berth's own code could close
//! that gap (stops 12 and 13 in the history).
//!
//! What stays the same: the phases. The head is read into the same
//! `http::request::Parts`, and [`crate::Gateway::admit`] runs route,
//! authenticate, decide, wake and headers exactly as for hyper's path. Only
//! reading and writing the messages is this module's.
//!
//! What is not this path's: everything else is handed over to hyper,
//! together with the bytes already read ([`rewind::Rewind`]), and hyper
//! serves the rest of the connection. That is the core's host, the session
//! hand-off, upgrades, `Expect`, chunked uploads, signed peer requests
//! (their body digest is checked as hyper streams it), HTTP/1.0,
//! absolute-form targets and anything malformed or oversized. A hand-over
//! happens before any byte of the request leaves for the app, so no phase
//! runs twice for one request.
//!
//! Bodies stream through in pieces of at most [`READ_CHUNK`] bytes; neither
//! direction is buffered whole.

pub(crate) mod framing;
pub(crate) mod head;
pub(crate) mod pool;
pub(crate) mod rewind;

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};
use http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::body::BoxBody;
use crate::directory::{CallerMemo, Upstream};
use crate::pages;
use crate::phases::{ip_header_value, route, Admitted, Gateway, RequestCtx, Target, SESSION_PATH};
use crate::stall::{write_all_or_stall, StallTimer};
use framing::{ChunkedScanner, Framing};
use head::{RequestHead, RequestIndex, RequestRead, ResponseExtras, ResponseRead};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The most bytes read at once, from the client or the app.
pub(crate) const READ_CHUNK: usize = 16 * 1024;

/// How the lean path left a client connection.
pub(crate) enum End {
    /// Closed, or to be closed.
    Closed,
    /// For hyper: the socket and the bytes already read from it.
    HandOver { client: TcpStream, buffered: Bytes },
}

/// Serves `client` until it closes, `stop` turns true while it is idle, or
/// a request comes that is hyper's.
pub(crate) async fn serve(
    gateway: &Gateway,
    client: TcpStream,
    peer: SocketAddr,
    stop: &mut watch::Receiver<bool>,
) -> End {
    let mut conn = Connection {
        gateway,
        client,
        peer,
        forwarded_for: ip_header_value(peer.ip()),
        index: RequestIndex::new(),
        spare_headers: HeaderMap::new(),
        last_app: None,
        caller_memo: None,
        inbuf: BytesMut::with_capacity(READ_CHUNK),
        appbuf: BytesMut::new(),
        out: BytesMut::new(),
        reqbuf: BytesMut::new(),
        app: None,
    };
    let end = conn.run(stop).await;
    if let Some(app) = conn.app.take() {
        if let Ok(socket) = app.socket.into_std() {
            gateway.lean_pool().park(app.upstream, socket);
        }
    }
    match end {
        Step::Close => End::Closed,
        Step::HandOver(buffered) => End::HandOver {
            client: conn.client,
            buffered,
        },
    }
}

enum Step {
    Close,
    HandOver(Bytes),
}

/// What one exchange leaves of the client connection.
#[derive(PartialEq, Eq)]
enum After {
    KeepAlive,
    Close,
}

/// What is left on the client connection of a request answered by the
/// gateway itself.
#[derive(Clone, Copy)]
enum BodyLeft {
    /// All of its body, in front of the next request.
    Unread,
    /// Nothing: no body, or it went to the app whole.
    Nothing,
    /// Part of it, or it must not be trusted: the connection closes.
    CutShort,
}

/// A socket to an app, kept by a client connection between requests.
struct AppSocket {
    upstream: Upstream,
    socket: TcpStream,
    /// It carried an earlier exchange, so the app may have closed it since.
    reused: bool,
}

/// Why an exchange with the app failed.
enum Failure {
    /// Nothing came back: on a reused socket, the app had closed it.
    NoAnswer,
    /// The app answered something the lean path cannot pass on, or broke
    /// off; nothing has reached the client yet.
    BadAnswer,
    /// The client went away, or bytes of the answer already reached it:
    /// the only thing left is to close.
    Broken,
    /// The client stopped sending the request body midway.
    BodyStalled,
}

struct Connection<'g> {
    gateway: &'g Gateway,
    client: TcpStream,
    peer: SocketAddr,
    // Per-request state made once per connection, so a request allocates
    // as little as it can: the client's `X-Forwarded-For` value, the head
    // index, the header map's memory, and the app the last `Host` named.
    forwarded_for: Option<HeaderValue>,
    index: RequestIndex,
    spare_headers: HeaderMap,
    last_app: Option<(HeaderValue, Arc<str>)>,
    /// Who the last request proved to be, for the next one.
    caller_memo: Option<Box<dyn CallerMemo>>,
    /// Read from the client, not yet handled (a head, body, the next
    /// pipelined request).
    inbuf: BytesMut,
    /// Read from the app, not yet passed on.
    appbuf: BytesMut,
    /// The next write to the client.
    out: BytesMut,
    /// The request for the app, kept whole until it is answered: a reused
    /// socket found closed may need it again.
    reqbuf: BytesMut,
    app: Option<AppSocket>,
}

impl Connection<'_> {
    async fn run(&mut self, stop: &mut watch::Receiver<bool>) -> Step {
        // Made once: re-registering a waiter with the stop signal on every
        // request would cost a lock each time.
        let stopping = crate::server::stopping(stop);
        tokio::pin!(stopping);
        // The header-read timeout, armed once per period rather than per
        // request (a timer set and cleared on every request costs a lock
        // on the runtime's timer wheel each time). When it fires with no
        // whole head read since it was armed, the connection has spent at
        // least a full period on the head it is waiting for.
        let period = self.gateway.config().header_read_timeout;
        let head_deadline = tokio::time::sleep(period);
        tokio::pin!(head_deadline);
        let mut head_read_this_period = false;
        loop {
            loop {
                match head::read_request(&self.inbuf, &mut self.index) {
                    RequestRead::Complete => break,
                    RequestRead::HandOver => return Step::HandOver(self.inbuf.split().freeze()),
                    RequestRead::Partial => {}
                }
                self.inbuf.reserve(READ_CHUNK);
                let idle = self.inbuf.is_empty();
                let read = tokio::select! {
                    biased;
                    // Between requests a shutdown closes the connection.
                    () = &mut stopping, if idle => return Step::Close,
                    () = &mut head_deadline => {
                        if !std::mem::take(&mut head_read_this_period) {
                            return Step::Close;
                        }
                        head_deadline.as_mut().reset(tokio::time::Instant::now() + period);
                        continue;
                    }
                    read = self.client.read_buf(&mut self.inbuf) => read,
                };
                if !matches!(read, Ok(n) if n > 0) {
                    return Step::Close;
                }
            }
            head_read_this_period = true;
            let head_bytes = self.inbuf.split_to(self.index.len).freeze();
            let headers = std::mem::take(&mut self.spare_headers);
            let Some(mut request) = self.index.build(&head_bytes, headers) else {
                return self.hand_back(&head_bytes);
            };
            // Phase: route. The core and the session hand-off are hyper's.
            let Some(app) = self.app_of(&request) else {
                return self.hand_back(&head_bytes);
            };
            let mut ctx =
                RequestCtx::new(self.peer, app, pages::wants_html(&request.parts.headers));
            ctx.forwarded_for.clone_from(&self.forwarded_for);
            let admitted = self
                .gateway
                .admit(&mut ctx, &mut request.parts, Some(&mut self.caller_memo))
                .await;
            let (status, after) = match admitted {
                Err(response) => self.answer(&request, response, BodyLeft::Unread).await,
                // Signed requests are hyper's, so no verifier comes here;
                // should one, the body is not sent unchecked.
                Ok(admitted) if admitted.body_verifier.is_some() => {
                    let response = pages::error(
                        ctx.wants_html,
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "internal error",
                        "the gateway could not check the request body",
                    );
                    self.answer(&request, response, BodyLeft::CutShort).await
                }
                Ok(admitted) => self.exchange(&ctx, &request, admitted).await,
            };
            ctx.log(status);
            if after == After::Close {
                return Step::Close;
            }
            let mut headers = request.parts.headers;
            headers.clear();
            self.spare_headers = headers;
        }
    }

    /// Writes to the client, giving up once it stops reading.
    async fn write_client(&self, buf: &[u8]) -> io::Result<()> {
        let period = self.gateway.config().response_write_timeout;
        write_all_or_stall(&self.client, buf, period).await
    }

    /// The app a request is for, or `None` when it is for the core or the
    /// session hand-off. A connection's requests nearly always name one
    /// host: its app is found once.
    fn app_of(&mut self, request: &RequestHead) -> Option<Arc<str>> {
        if request.parts.uri.path() == SESSION_PATH {
            return None;
        }
        let host = request.parts.headers.get(header::HOST);
        if let (Some(host), Some((last_host, app))) = (host, &self.last_app) {
            if host == last_host {
                return Some(Arc::clone(app));
            }
        }
        let domain = &self.gateway.config().domain;
        let Target::App(app) = route(&request.parts.headers, &request.parts.uri, domain) else {
            return None;
        };
        let app: Arc<str> = app.into();
        if let Some(host) = host {
            self.last_app = Some((host.clone(), Arc::clone(&app)));
        }
        Some(app)
    }

    /// Hands the connection to hyper from the request whose head is
    /// `head_bytes`, with whatever followed it.
    fn hand_back(&mut self, head_bytes: &Bytes) -> Step {
        let mut all = BytesMut::with_capacity(head_bytes.len() + self.inbuf.len());
        all.extend_from_slice(head_bytes);
        all.extend_from_slice(&self.inbuf);
        self.inbuf.clear();
        Step::HandOver(all.freeze())
    }

    /// Sends a response the gateway made (a refusal, a page). A request
    /// body already read whole is skipped; one still on its way closes the
    /// connection after the answer.
    async fn answer(
        &mut self,
        request: &RequestHead,
        response: http::Response<BoxBody>,
        body: BodyLeft,
    ) -> (u16, After) {
        let cut_short = match (body, request.body) {
            (BodyLeft::Unread, Framing::Length(n)) if n <= self.inbuf.len() as u64 => {
                self.inbuf.advance(usize::try_from(n).unwrap_or(usize::MAX));
                false
            }
            (BodyLeft::Unread, Framing::Empty) | (BodyLeft::Nothing, _) => false,
            (BodyLeft::Unread, _) | (BodyLeft::CutShort, _) => true,
        };
        let close = request.close || cut_short;
        let (parts, body) = response.into_parts();
        // Gateway pages are small and complete; nothing streams here.
        let body = body
            .collect()
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        self.out.clear();
        head::write_response_head(&parts, body.len(), close, &mut self.out);
        if request.parts.method != Method::HEAD {
            self.out.extend_from_slice(&body);
        }
        let after = match self.write_client(&self.out).await {
            Ok(()) if !close => After::KeepAlive,
            _ => After::Close,
        };
        (parts.status.as_u16(), after)
    }

    /// Phase: forward. The request goes to the app, the answer back.
    async fn exchange(
        &mut self,
        ctx: &RequestCtx,
        request: &RequestHead,
        admitted: Admitted,
    ) -> (u16, After) {
        let Admitted {
            upstream,
            guard,
            set_cookie,
            ..
        } = admitted;
        let body_len = match request.body {
            Framing::Length(n) => n,
            _ => 0,
        };
        // The head and the body bytes already read go in one write.
        self.reqbuf.clear();
        head::write_request(&request.parts, &mut self.reqbuf);
        let early = usize::try_from(body_len)
            .unwrap_or(usize::MAX)
            .min(self.inbuf.len());
        self.reqbuf.extend_from_slice(&self.inbuf[..early]);
        self.inbuf.advance(early);
        let unread = body_len - early as u64;
        // A request wholly at hand may go again over a new socket when a
        // reused one turns out closed, if sending it twice is harmless.
        let resendable = unread == 0 && request.parts.method.is_idempotent();
        let extras = ResponseExtras {
            set_cookie: set_cookie.as_ref(),
            close: request.close,
            head_request: request.parts.method == Method::HEAD,
        };
        let mut attempts = 0;
        let result = loop {
            attempts += 1;
            let mut app = match self.app_socket(upstream, !resendable).await {
                Ok(app) => app,
                Err(e) => {
                    tracing::warn!(upstream = %upstream.addr, error = %e, "app did not answer");
                    break Err(Failure::BadAnswer);
                }
            };
            let sent = self.send(&mut app, unread, &extras).await;
            match sent {
                Err(Failure::NoAnswer) if app.reused && resendable && attempts < 2 => continue,
                Ok(head) => break Ok((app, head)),
                Err(failure) => break Err(failure),
            }
        };
        let (mut app, head) = match result {
            Ok(sent) => sent,
            Err(Failure::Broken) => return (0, After::Close),
            Err(Failure::BodyStalled) => {
                // The app has part of a request: its socket is dropped
                // (closed) with it, and so is the client's after the answer.
                let response = pages::error(
                    ctx.wants_html,
                    StatusCode::REQUEST_TIMEOUT,
                    "request timed out",
                    "the request body stopped arriving",
                );
                return self.answer(request, response, BodyLeft::CutShort).await;
            }
            Err(Failure::NoAnswer | Failure::BadAnswer) => {
                let response = pages::error(
                    ctx.wants_html,
                    StatusCode::BAD_GATEWAY,
                    "app not responding",
                    "the app did not answer; it may have crashed",
                );
                let body = if unread > 0 {
                    BodyLeft::CutShort
                } else {
                    BodyLeft::Nothing
                };
                return self.answer(request, response, body).await;
            }
        };
        let passed = self.pass_body(&mut app, head.framing).await;
        drop(guard);
        let status = head.status;
        if passed.is_err() {
            return (status, After::Close);
        }
        if head.reusable && self.appbuf.is_empty() {
            app.reused = true;
            self.app = Some(app);
        }
        self.appbuf.clear();
        if request.close || head.framing == Framing::UntilClose {
            (status, After::Close)
        } else {
            (status, After::KeepAlive)
        }
    }

    /// The kept socket if it goes to `upstream`, else a parked one, else a
    /// new one. `check` asks that a kept socket be proven open first (for
    /// a request that cannot be sent again).
    async fn app_socket(&mut self, upstream: Upstream, check: bool) -> io::Result<AppSocket> {
        if let Some(kept) = self.app.take() {
            if kept.upstream == upstream && (!check || pool::kept_is_quiet(&kept.socket)) {
                return Ok(kept);
            }
            if kept.upstream != upstream && pool::kept_is_quiet(&kept.socket) {
                if let Ok(socket) = kept.socket.into_std() {
                    self.gateway.lean_pool().park(kept.upstream, socket);
                }
            }
        }
        if let Some(socket) = self.gateway.lean_pool().take(upstream, pool::is_quiet) {
            if let Ok(socket) = TcpStream::from_std(socket) {
                return Ok(AppSocket {
                    upstream,
                    socket,
                    reused: true,
                });
            }
        }
        let socket = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(upstream.addr))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connecting timed out"))??;
        let _ = socket.set_nodelay(true);
        Ok(AppSocket {
            upstream,
            socket,
            reused: false,
        })
    }

    /// Writes the request (`self.reqbuf`, then `unread` body bytes still
    /// to come from the client) and reads the app's response head; 1xx
    /// heads go on to the client. On success `self.out` holds the client's
    /// head and `self.appbuf` starts with the body.
    async fn send(
        &mut self,
        app: &mut AppSocket,
        mut unread: u64,
        extras: &ResponseExtras<'_>,
    ) -> Result<head::ResponseHead, Failure> {
        self.appbuf.clear();
        if app.socket.write_all(&self.reqbuf).await.is_err() {
            return Err(Failure::NoAnswer);
        }
        // Armed only for a body still to come, which few requests have.
        let mut stall = None;
        while unread > 0 {
            if self.inbuf.is_empty() {
                self.inbuf.reserve(READ_CHUNK);
                let period = self.gateway.config().body_read_timeout;
                let stall = stall.get_or_insert_with(|| StallTimer::new(period));
                let read = tokio::select! {
                    biased;
                    read = self.client.read_buf(&mut self.inbuf) => read,
                    () = stall.stalled() => return Err(Failure::BodyStalled),
                };
                match read {
                    Ok(n) if n > 0 => stall.progress(),
                    _ => return Err(Failure::Broken),
                }
            }
            let take = usize::try_from(unread)
                .unwrap_or(usize::MAX)
                .min(self.inbuf.len());
            if app.socket.write_all(&self.inbuf[..take]).await.is_err() {
                return Err(Failure::BadAnswer);
            }
            self.inbuf.advance(take);
            unread -= take as u64;
        }
        let mut informational = false;
        loop {
            self.out.clear();
            match head::read_response(&self.appbuf, extras, &mut self.out) {
                ResponseRead::Complete(head) if (100..200).contains(&head.status) => {
                    // A 103 or a stray 100: the client may use it; the
                    // final response follows.
                    self.appbuf.advance(head.len);
                    if self.write_client(&self.out).await.is_err() {
                        return Err(Failure::Broken);
                    }
                    informational = true;
                    continue;
                }
                ResponseRead::Complete(head) => {
                    self.appbuf.advance(head.len);
                    return Ok(head);
                }
                ResponseRead::Invalid if informational => return Err(Failure::Broken),
                ResponseRead::Invalid => return Err(Failure::BadAnswer),
                ResponseRead::Partial => {}
            }
            self.appbuf.reserve(READ_CHUNK);
            match app.socket.read_buf(&mut self.appbuf).await {
                Ok(n) if n > 0 => {}
                _ if informational => return Err(Failure::Broken),
                _ if self.appbuf.is_empty() => return Err(Failure::NoAnswer),
                _ => return Err(Failure::BadAnswer),
            }
        }
    }

    /// Sends the client's head (in `self.out`) and streams the body after
    /// it, as the app sends it. Leaves in `self.appbuf` whatever the app
    /// sent past the body's end.
    async fn pass_body(&mut self, app: &mut AppSocket, framing: Framing) -> Result<(), ()> {
        let mut scanner = ChunkedScanner::default();
        let mut left = match framing {
            Framing::Length(n) => n,
            _ => 0,
        };
        loop {
            // How much of what the app sent belongs to the body.
            let (take, done) = match framing {
                Framing::Empty => (0, true),
                Framing::Length(_) => {
                    let take = usize::try_from(left)
                        .unwrap_or(usize::MAX)
                        .min(self.appbuf.len());
                    left -= take as u64;
                    (take, left == 0)
                }
                Framing::Chunked => match scanner.scan(&self.appbuf) {
                    Ok(Some(end)) => (end, true),
                    Ok(None) => (self.appbuf.len(), false),
                    Err(e) => {
                        tracing::warn!(error = %e, "app sent a malformed chunked body");
                        return Err(());
                    }
                },
                Framing::UntilClose => (self.appbuf.len(), false),
            };
            if self.out.is_empty() {
                self.write_client(&self.appbuf[..take])
                    .await
                    .map_err(drop)?;
            } else {
                // The head and the first body bytes go in one write.
                self.out.extend_from_slice(&self.appbuf[..take]);
                self.write_client(&self.out).await.map_err(drop)?;
                self.out.clear();
            }
            self.appbuf.advance(take);
            if done {
                return Ok(());
            }
            // The app's buffer is empty here: reuse its memory.
            self.appbuf.clear();
            self.appbuf.reserve(READ_CHUNK);
            match app.socket.read_buf(&mut self.appbuf).await {
                Ok(n) if n > 0 => {}
                Ok(_) if framing == Framing::UntilClose => return Ok(()),
                _ => return Err(()),
            }
        }
    }
}
