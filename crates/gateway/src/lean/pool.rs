//! Idle upstream sockets of the lean path, between client connections.
//!
//! A client connection keeps its upstream socket while it lives; when it
//! ends, the socket is parked here for the next client connection to the
//! same app start ([`Upstream`] carries the generation, so a socket never
//! outlives the container it was opened to). Parked sockets are plain std
//! sockets: whichever gateway thread takes one registers it with its own
//! runtime.

use std::collections::HashMap;
use std::io::ErrorKind;
use std::net::TcpStream;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::directory::Upstream;

/// A parked socket older than this is closed rather than reused.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Parked sockets kept per upstream at most.
const MAX_IDLE_PER_UPSTREAM: usize = 256;

#[derive(Default)]
pub(crate) struct LeanPool {
    idle: Mutex<HashMap<Upstream, Vec<(TcpStream, Instant)>>>,
}

impl LeanPool {
    /// The most recently parked socket to `upstream` that is still open
    /// and quiet (an app that closed it, or sent something unasked, has
    /// made it unusable).
    pub(crate) fn take(&self, upstream: Upstream) -> Option<TcpStream> {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        let parked = idle.get_mut(&upstream)?;
        while let Some((socket, since)) = parked.pop() {
            if since.elapsed() < IDLE_TIMEOUT && is_quiet(&socket) {
                return Some(socket);
            }
        }
        None
    }

    /// Parks `socket`, which must have finished its last exchange.
    pub(crate) fn park(&self, upstream: Upstream, socket: TcpStream) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        // Parking is rare (once per client connection), so it also sweeps.
        idle.retain(|_, parked| {
            parked.retain(|(_, since)| since.elapsed() < IDLE_TIMEOUT);
            !parked.is_empty()
        });
        let parked = idle.entry(upstream).or_default();
        if parked.len() < MAX_IDLE_PER_UPSTREAM {
            parked.push((socket, Instant::now()));
        }
    }
}

/// Open, with nothing to read. The socket is non-blocking (tokio's
/// `into_std` leaves it so), so the peek answers at once.
fn is_quiet(socket: &TcpStream) -> bool {
    let mut byte = [0u8; 1];
    matches!(socket.peek(&mut byte), Err(e) if e.kind() == ErrorKind::WouldBlock)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;

    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        client.set_nonblocking(true).unwrap();
        (client, server)
    }

    #[test]
    fn only_open_quiet_sockets_of_the_same_start_come_back() {
        let pool = LeanPool::default();
        let (quiet, _quiet_server) = pair();
        let addr = quiet.peer_addr().unwrap();
        let first = Upstream::new(addr, 1);
        pool.park(first, quiet);
        // Another start of the app at the same address gets nothing.
        assert!(pool.take(Upstream::new(addr, 2)).is_none());
        assert!(pool.take(first).is_some());
        assert!(pool.take(first).is_none());

        let (closed, closed_server) = pair();
        drop(closed_server);
        let (chatty, mut chatty_server) = pair();
        chatty_server.write_all(b"x").unwrap();
        pool.park(first, closed);
        pool.park(first, chatty);
        std::thread::sleep(Duration::from_millis(50));
        assert!(pool.take(first).is_none());
    }
}
