//! The lesson's own network peer: a tiny TCP server on `127.0.0.1`, port 0 (the OS picks a free
//! port), running on plain OS threads — it plays "the other side of the internet", so it never
//! touches the GIL.
//!
//! Two behaviours:
//! * [`Behaviour::Delayed`]: read one request line, wait, answer with [`expected_reply`]. A slow
//!   web server, for clients that overlap their waits (parts 2 and 6).
//! * [`Behaviour::Echo`]: send back every chunk it receives, at once. For the convoy effect
//!   (part 5), where each round trip should be as short as loopback allows.
//!
//! The server shuts down when [`LoopbackServer::shutdown`] is called or the value is dropped —
//! also during an error or a panic: the accept loop stops, every connection thread is joined, and
//! the listening socket is closed. (On Ctrl-C the process exits and the OS closes the sockets.)

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// How long a connection may sit idle before the server gives up on it, so a stuck client can
/// never keep the server from shutting down.
const IDLE_LIMIT: Duration = Duration::from_secs(10);

/// What the server does with a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    /// Read one line, wait this long, reply with [`expected_reply`] for that line, close.
    Delayed(Duration),
    /// Echo every chunk straight back until the client closes.
    Echo,
}

/// The answer the delayed server gives to the request line `request` (without its newline).
///
/// Deterministic, so clients (and tests) can check they got *their* answer and not a neighbour's.
pub fn expected_reply(request: &str) -> String {
    let checksum = request.bytes().fold(17u32, |acc, b| {
        acc.wrapping_mul(31).wrapping_add(u32::from(b))
    });
    format!("200 OK {request} len={} sum={checksum:08x}", request.len())
}

/// A running loopback server. Drop it (or call [`shutdown`](Self::shutdown)) to stop it.
#[derive(Debug)]
pub struct LoopbackServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    served: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl LoopbackServer {
    /// Bind `127.0.0.1:0` and start serving on a background thread.
    pub fn start(behaviour: Behaviour) -> anyhow::Result<Self> {
        let listener =
            TcpListener::bind(("127.0.0.1", 0)).context("binding a port on 127.0.0.1")?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let served = Arc::new(AtomicU64::new(0));
        let thread = std::thread::Builder::new()
            .name("server".into())
            .spawn({
                let (stop, served) = (Arc::clone(&stop), Arc::clone(&served));
                move || accept_loop(&listener, behaviour, &stop, &served)
            })
            .context("starting the server thread")?;
        Ok(LoopbackServer {
            addr,
            stop,
            served,
            thread: Some(thread),
        })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Connections answered so far.
    pub fn served(&self) -> u64 {
        self.served.load(Relaxed)
    }

    /// Stop accepting, wait for every connection thread, and return how many were served.
    pub fn shutdown(mut self) -> anyhow::Result<u64> {
        self.stop_and_join()?;
        Ok(self.served())
    }

    fn stop_and_join(&mut self) -> anyhow::Result<()> {
        let Some(thread) = self.thread.take() else {
            return Ok(());
        };
        self.stop.store(true, Relaxed);
        // `accept` blocks; one connection wakes it so it can see the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if thread.join().is_err() {
            bail!("the server thread panicked");
        }
        Ok(())
    }
}

impl Drop for LoopbackServer {
    fn drop(&mut self) {
        let _ = self.stop_and_join();
    }
}

/// Accept connections until `stop`; one scoped thread per connection, all joined before return.
fn accept_loop(
    listener: &TcpListener,
    behaviour: Behaviour,
    stop: &AtomicBool,
    served: &AtomicU64,
) {
    std::thread::scope(|scope| {
        // A second handle on every connection, to unblock its thread at shutdown.
        let mut open = Vec::new();
        for conn in listener.incoming() {
            if stop.load(Relaxed) {
                break;
            }
            let Ok(conn) = conn else { continue };
            if let Ok(handle) = conn.try_clone() {
                open.push(handle);
            }
            scope.spawn(move || {
                // A client that vanished is the client's problem, not the lesson's.
                if serve(conn, behaviour, stop).is_ok() {
                    served.fetch_add(1, Relaxed);
                }
            });
        }
        // Shutting a socket down wakes a thread blocked reading it; the scope then joins them all.
        for conn in open {
            let _ = conn.shutdown(Shutdown::Both);
        }
    });
}

fn serve(conn: TcpStream, behaviour: Behaviour, stop: &AtomicBool) -> std::io::Result<()> {
    conn.set_read_timeout(Some(IDLE_LIMIT))?;
    conn.set_nodelay(true)?;
    match behaviour {
        Behaviour::Delayed(delay) => {
            let mut line = String::new();
            BufReader::new(&conn).read_line(&mut line)?;
            pause(delay, stop);
            let mut conn = conn;
            writeln!(conn, "{}", expected_reply(line.trim_end()))?;
            conn.shutdown(Shutdown::Write)
        }
        Behaviour::Echo => {
            let mut conn = conn;
            let mut buf = [0u8; 4096];
            loop {
                let n = conn.read(&mut buf)?;
                if n == 0 || stop.load(Relaxed) {
                    return Ok(());
                }
                conn.write_all(&buf[..n])?;
            }
        }
    }
}

/// Sleep for `delay`, but wake early if the server is told to stop.
fn pause(delay: Duration, stop: &AtomicBool) {
    let until = Instant::now() + delay;
    while !stop.load(Relaxed) {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        std::thread::sleep(left.min(Duration::from_millis(20)));
    }
}

/// One request to a [`Behaviour::Delayed`] server: send `request`, return the reply line.
///
/// This is the blocking call a Python client makes (`sock.sendall`, then `sock.recv` until the
/// server closes); callers decide whether it runs with the GIL released.
pub fn fetch(addr: SocketAddr, request: &str) -> anyhow::Result<String> {
    let mut conn = TcpStream::connect(addr).with_context(|| format!("connecting to {addr}"))?;
    conn.set_read_timeout(Some(IDLE_LIMIT))?;
    writeln!(conn, "{request}")?;
    let mut reply = String::new();
    conn.read_to_string(&mut reply)
        .with_context(|| format!("reading the reply to {request:?}"))?;
    Ok(reply.trim_end().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_differ_per_request_and_are_stable() {
        assert_eq!(expected_reply("GET /a"), expected_reply("GET /a"));
        assert_ne!(expected_reply("GET /a"), expected_reply("GET /b"));
    }

    #[test]
    fn echo_server_echoes_and_shuts_down() {
        let server = LoopbackServer::start(Behaviour::Echo).unwrap();
        let mut conn = TcpStream::connect(server.addr()).unwrap();
        conn.write_all(b"ping").unwrap();
        let mut buf = [0u8; 4];
        conn.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"ping");
        drop(conn);
        server.shutdown().unwrap();
    }

    #[test]
    fn shutdown_does_not_wait_for_a_silent_client() {
        let server = LoopbackServer::start(Behaviour::Delayed(Duration::from_secs(30))).unwrap();
        let _silent = TcpStream::connect(server.addr()).unwrap();
        let clock = Instant::now();
        drop(server);
        assert!(
            clock.elapsed() < Duration::from_secs(5),
            "took {:?}",
            clock.elapsed()
        );
    }

    #[test]
    fn shutdown_interrupts_a_delayed_answer() {
        let server = LoopbackServer::start(Behaviour::Delayed(Duration::from_secs(30))).unwrap();
        let addr = server.addr();
        let client = std::thread::spawn(move || fetch(addr, "GET /slow"));
        std::thread::sleep(Duration::from_millis(100));
        let clock = Instant::now();
        server.shutdown().unwrap();
        assert!(
            clock.elapsed() < Duration::from_secs(5),
            "took {:?}",
            clock.elapsed()
        );
        let _ = client.join().unwrap();
    }
}
