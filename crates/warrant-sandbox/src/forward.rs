//! The `proxy` network mode's forwarder, run by the sandbox's init with poll
//! (no threads): each TCP connection to `127.0.0.1:<port>` inside the sandbox is
//! joined to a new connection to the host's Unix socket.
//!
//! The host socket is reached through an `O_PATH` descriptor the launcher
//! opened before fork, by connecting to `/proc/self/fd/<n>`: the socket is never
//! mounted into the sandbox, so the command cannot connect to it directly.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;

/// Bytes buffered per direction of a connection.
const BUFFER: usize = 16 * 1024;
/// Connections beyond this are refused (closed on accept).
const MAX_CONNECTIONS: usize = 64;

/// One direction of a connection.
struct Half {
    buf: Box<[u8; BUFFER]>,
    start: usize,
    end: usize,
    eof: bool,
    shut: bool,
}

impl Half {
    fn new() -> Self {
        Self { buf: Box::new([0; BUFFER]), start: 0, end: 0, eof: false, shut: false }
    }

    fn pending(&self) -> bool {
        self.start < self.end
    }

    fn wants_read(&self) -> bool {
        !self.eof && !self.pending()
    }

    /// Reads into the (empty) buffer. `Err` means the connection is broken.
    fn fill(&mut self, from: &mut impl Read) -> io::Result<()> {
        match from.read(self.buf.as_mut_slice()) {
            Ok(0) => self.eof = true,
            Ok(n) => {
                self.start = 0;
                self.end = n;
            }
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock
                    || e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
        Ok(())
    }

    fn drain(&mut self, to: &mut impl Write) -> io::Result<()> {
        let pending = self.buf.get(self.start..self.end).unwrap_or_default();
        match to.write(pending) {
            Ok(n) => self.start += n,
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock
                    || e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
        Ok(())
    }
}

struct Connection {
    inside: TcpStream,
    outside: UnixStream,
    up: Half,
    down: Half,
}

impl Connection {
    fn events(&self) -> (libc::c_short, libc::c_short) {
        let flag = |on: bool, bit: libc::c_short| if on { bit } else { 0 };
        let inside =
            flag(self.up.wants_read(), libc::POLLIN) | flag(self.down.pending(), libc::POLLOUT);
        let outside =
            flag(self.down.wants_read(), libc::POLLIN) | flag(self.up.pending(), libc::POLLOUT);
        (inside, outside)
    }

    /// Moves bytes both ways. `Ok(false)` once both directions are finished.
    fn pump(&mut self, inside_ready: bool, outside_ready: bool) -> io::Result<bool> {
        if inside_ready && self.up.wants_read() {
            self.up.fill(&mut self.inside)?;
        }
        if outside_ready && self.down.wants_read() {
            self.down.fill(&mut self.outside)?;
        }
        if self.up.pending() {
            self.up.drain(&mut self.outside)?;
        }
        if self.down.pending() {
            self.down.drain(&mut self.inside)?;
        }
        if self.up.eof && !self.up.pending() && !self.up.shut {
            self.outside.shutdown(Shutdown::Write)?;
            self.up.shut = true;
        }
        if self.down.eof && !self.down.pending() && !self.down.shut {
            self.inside.shutdown(Shutdown::Write)?;
            self.down.shut = true;
        }
        Ok(!(self.up.shut && self.down.shut))
    }
}

pub(crate) struct Forwarder {
    listener: TcpListener,
    target: String,
    connections: Vec<Connection>,
}

impl Forwarder {
    pub(crate) fn new(listener: TcpListener, proxy_fd: RawFd) -> Self {
        let _ = listener.set_nonblocking(true);
        Self { listener, target: format!("/proc/self/fd/{proxy_fd}"), connections: Vec::new() }
    }

    /// Appends the listener and two entries per connection to `fds`.
    /// A descriptor with no wanted events is entered as -1 so that a hung-up
    /// socket the forwarder is not ready to service does not wake poll forever.
    pub(crate) fn register(&self, fds: &mut Vec<libc::pollfd>) {
        let entry = |fd: RawFd, events: libc::c_short| libc::pollfd {
            fd: if events == 0 { -1 } else { fd },
            events,
            revents: 0,
        };
        fds.push(entry(self.listener.as_raw_fd(), libc::POLLIN));
        for conn in &self.connections {
            let (inside, outside) = conn.events();
            fds.push(entry(conn.inside.as_raw_fd(), inside));
            fds.push(entry(conn.outside.as_raw_fd(), outside));
        }
    }

    /// Services what `register` entered, given poll's results in the same order.
    pub(crate) fn service(&mut self, polled: &[libc::pollfd]) {
        let ready = |p: Option<&libc::pollfd>| p.is_some_and(|p| p.fd >= 0 && p.revents != 0);
        let accept = ready(polled.first());
        let mut kept = Vec::with_capacity(self.connections.len());
        for (i, mut conn) in std::mem::take(&mut self.connections).into_iter().enumerate() {
            let inside = ready(polled.get(1 + 2 * i));
            let outside = ready(polled.get(2 + 2 * i));
            if let Ok(true) = conn.pump(inside, outside) {
                kept.push(conn);
            }
        }
        self.connections = kept;
        if accept {
            self.accept_all();
        }
    }

    fn accept_all(&mut self) {
        while let Ok((inside, _)) = self.listener.accept() {
            if self.connections.len() >= MAX_CONNECTIONS {
                continue;
            }
            let Ok(outside) = UnixStream::connect(&self.target) else { continue };
            if inside.set_nonblocking(true).is_err() || outside.set_nonblocking(true).is_err() {
                continue;
            }
            // The relay writes what it reads at once: no Nagle delay on the
            // command's side (the Unix side has none).
            let _ = inside.set_nodelay(true);
            self.connections.push(Connection {
                inside,
                outside,
                up: Half::new(),
                down: Half::new(),
            });
        }
    }
}
