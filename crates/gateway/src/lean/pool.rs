//! Idle app sockets of the lean path, between client connections.
//!
//! A client connection keeps its app socket while it lives; when it ends,
//! the socket is parked in the gateway's shared [`Parking`] for the next
//! client connection to the same app start (the [`crate::Upstream`] key
//! carries the generation, so a socket never outlives the container it was
//! opened to). Parked sockets are plain std sockets: whichever gateway
//! thread takes one registers it with its own runtime.

use std::io::ErrorKind;
use std::net::TcpStream;

use crate::upstream::Parking;

pub(crate) type LeanPool = Parking<TcpStream>;

/// Open, with nothing to read: an app that closed a parked socket, or sent
/// something unasked, has made it unusable. The socket is non-blocking
/// (tokio's `into_std` leaves it so), so the peek answers at once.
pub(crate) fn is_quiet(socket: &mut TcpStream) -> bool {
    let mut byte = [0u8; 1];
    matches!(socket.peek(&mut byte), Err(e) if e.kind() == ErrorKind::WouldBlock)
}

/// Open, with nothing to read: a socket a client connection kept, which
/// the app has not closed. Anything it did send makes it unusable anyway,
/// so reading it away costs nothing.
pub(crate) fn kept_is_quiet(socket: &tokio::net::TcpStream) -> bool {
    let mut byte = [0u8; 1];
    matches!(socket.try_read(&mut byte), Err(e) if e.kind() == ErrorKind::WouldBlock)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::Upstream;
    use std::io::Write;
    use std::net::TcpListener;
    use std::time::Duration;

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
        assert!(pool.take(Upstream::new(addr, 2), is_quiet).is_none());
        assert!(pool.take(first, is_quiet).is_some());
        assert!(pool.take(first, is_quiet).is_none());

        let (closed, closed_server) = pair();
        drop(closed_server);
        let (chatty, mut chatty_server) = pair();
        chatty_server.write_all(b"x").unwrap();
        pool.park(first, closed);
        pool.park(first, chatty);
        std::thread::sleep(Duration::from_millis(50));
        assert!(pool.take(first, is_quiet).is_none());
    }
}
