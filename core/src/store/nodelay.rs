//! Turns Nagle's algorithm off on this process's TCP connections to Postgres.
//!
//! sqlx 0.9.0 no longer sets `TCP_NODELAY` on the sockets it opens (upstream issue
//! transact-rs/sqlx#4335, fixed in their main branch but not released). With Nagle on, a
//! statement larger than one TCP segment waits for the server's delayed ACK, up to 40 ms on
//! Linux: a batch of deliveries, or one large message, took 40 ms more per statement. sqlx
//! gives no access to its sockets, so after each new connection this finds the process's TCP
//! sockets whose peer is the database and sets the option on them. Remove this module when a
//! sqlx release sets the option again.

use std::net::SocketAddr;

/// Sets `TCP_NODELAY` on every TCP socket of this process connected to one of `peers`.
/// Errors are ignored: the option only changes latency. Linux only (it lists `/proc/self/fd`).
pub(crate) fn set_on_connections_to(peers: &[SocketAddr]) {
    #[cfg(target_os = "linux")]
    {
        let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
            return;
        };
        for entry in dir.flatten() {
            let Ok(fd) = entry.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let is_socket = std::fs::read_link(entry.path())
                .is_ok_and(|t| t.to_string_lossy().starts_with("socket:"));
            if is_socket {
                set_if_peer(fd, peers);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = peers;
}

#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn set_if_peer(fd: i32, peers: &[SocketAddr]) {
    // SAFETY: `fd` was listed in /proc/self/fd, so it is a descriptor of this process, and it
    // is only borrowed for the two system calls below; nothing is read from or written to it,
    // and it is not closed here. If another thread closed it meanwhile, the calls fail with
    // EBADF; if the number was reused, the peer check below applies to the new socket, and
    // setting TCP_NODELAY on a connection to the database is what we want anyway.
    let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    let sock = socket2::SockRef::from(&fd);
    let to_db = sock
        .peer_addr()
        .ok()
        .and_then(|a| a.as_socket())
        .is_some_and(|a| peers.contains(&a));
    if to_db {
        let _ = sock.set_tcp_nodelay(true);
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};

    #[test]
    fn only_connections_to_the_peer_get_nodelay() {
        let db = TcpListener::bind("127.0.0.1:0").unwrap();
        let other = TcpListener::bind("127.0.0.1:0").unwrap();
        let to_db = TcpStream::connect(db.local_addr().unwrap()).unwrap();
        let to_other = TcpStream::connect(other.local_addr().unwrap()).unwrap();
        assert!(!to_db.nodelay().unwrap());
        set_on_connections_to(&[db.local_addr().unwrap()]);
        assert!(to_db.nodelay().unwrap());
        assert!(!to_other.nodelay().unwrap());
    }
}
