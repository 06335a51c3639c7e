//! A loopback network peer and the convoy measurement built on it.
//!
//! [`LoopbackServer`] is a tiny TCP server bound to the loopback interface only (`127.0.0.1`,
//! or `[::1]` where IPv4 loopback is missing), port 0 so the OS picks a free port. It runs on
//! plain OS threads and never touches a GIL: it plays "the other side of the internet". Two
//! behaviours:
//! * [`Behaviour::Delayed`]: read one request line, wait, answer with [`expected_reply`] — a slow
//!   web server, for clients that overlap their waits.
//! * [`Behaviour::Echo`]: send back every chunk at once — for the convoy effect, where a round
//!   trip should be as short as loopback allows.
//!
//! [`round_trips`] is the convoy experiment (David Beazley, PyCon 2010; CPython issue bpo-7946):
//! one model thread makes echo round trips, each send and receive inside `detach` as
//! CPython's socket module releases the GIL around them, optionally beside a thread that spins
//! on the GIL. The lesson on I/O and the fidelity check both measure with it.
//!
//! Everything is bounded: a delayed answer waits at most [`MAX_DELAY`], a connection lives at
//! most [`CONNECTION_LIFETIME`] and echoes at most [`MAX_ECHOES`] chunks, an idle connection is
//! dropped after [`IDLE_LIMIT`], and a batch of round trips stops at its count or its time
//! limit, whichever comes first. The server stops when [`LoopbackServer::shutdown`] is called or
//! the value is dropped — during an error or a panic too: the accept loop ends, every connection
//! thread is joined, and the listening socket is closed.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};

use crate::work::countdown;
use crate::{Gil, GilGuard};

/// How long a connection may sit idle before either side gives up, so a stuck peer can never
/// keep the server from shutting down or a client waiting for ever.
pub const IDLE_LIMIT: Duration = Duration::from_secs(10);

/// The longest answer delay [`Behaviour::Delayed`] accepts: well inside [`IDLE_LIMIT`], so a
/// client always hears back before it gives up.
pub const MAX_DELAY: Duration = Duration::from_secs(5);

/// The longest a server keeps one connection open.
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(300);

/// The most chunks the echo server sends back on one connection.
pub const MAX_ECHOES: u64 = 10_000_000;

/// The most connections one server accepts in its life.
pub const MAX_CONNECTIONS: u64 = 1 << 20;

/// What the server does with a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    /// Read one line, wait this long (at most [`MAX_DELAY`]), reply with [`expected_reply`] for
    /// that line, close.
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
    /// Bind a free port on the loopback interface and start serving on a background thread.
    pub fn start(behaviour: Behaviour) -> anyhow::Result<Self> {
        if let Behaviour::Delayed(delay) = behaviour {
            ensure!(
                delay <= MAX_DELAY,
                "the server's delay is at most {} ms, so every client hears back in time",
                MAX_DELAY.as_millis()
            );
        }
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .or_else(|_| TcpListener::bind((Ipv6Addr::LOCALHOST, 0)))
            .context("binding a port on the loopback interface")?;
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
        // A second handle on every open connection, to unblock its thread at shutdown.
        let mut open: Vec<Arc<TcpStream>> = Vec::new();
        for conn in listener.incoming().take(MAX_CONNECTIONS as usize) {
            if stop.load(Relaxed) {
                break;
            }
            let Ok(conn) = conn else { continue };
            // A handle nobody else holds belongs to a finished connection: let it go.
            open.retain(|c| Arc::strong_count(c) > 1);
            let conn = Arc::new(conn);
            open.push(Arc::clone(&conn));
            scope.spawn(move || {
                // A client that vanished is the client's problem, not the server's.
                if serve(&conn, behaviour, stop).is_ok() {
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

fn serve(mut conn: &TcpStream, behaviour: Behaviour, stop: &AtomicBool) -> std::io::Result<()> {
    conn.set_read_timeout(Some(IDLE_LIMIT))?;
    conn.set_write_timeout(Some(IDLE_LIMIT))?;
    conn.set_nodelay(true)?;
    match behaviour {
        Behaviour::Delayed(delay) => {
            let mut line = String::new();
            BufReader::new(conn.take(64 * 1024)).read_line(&mut line)?;
            pause(delay.min(MAX_DELAY), stop);
            writeln!(conn, "{}", expected_reply(line.trim_end()))?;
            conn.shutdown(Shutdown::Write)
        }
        Behaviour::Echo => {
            let opened = Instant::now();
            let mut buf = [0u8; 4096];
            for _ in 0..MAX_ECHOES {
                let n = conn.read(&mut buf)?;
                if n == 0 || stop.load(Relaxed) || opened.elapsed() > CONNECTION_LIFETIME {
                    break;
                }
                conn.write_all(&buf[..n])?;
            }
            Ok(())
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
    let mut conn = TcpStream::connect_timeout(&addr, IDLE_LIMIT)
        .with_context(|| format!("connecting to {addr}"))?;
    conn.set_read_timeout(Some(IDLE_LIMIT))?;
    conn.set_write_timeout(Some(IDLE_LIMIT))?;
    writeln!(conn, "{request}")?;
    let mut reply = String::new();
    conn.take(64 * 1024)
        .read_to_string(&mut reply)
        .with_context(|| format!("reading the reply to {request:?}"))?;
    Ok(reply.trim_end().to_owned())
}

/// Bytes in one echo message.
const MESSAGE: &[u8; 16] = b"ping-0123456789\n";

/// A batch of convoy round trips: how many, for how long at most, and beside what.
#[derive(Clone, Copy, Debug)]
pub struct Convoy {
    /// Round trips to make.
    pub ops: usize,
    /// Stop early once the batch has run this long (the count made is reported).
    pub time_limit: Duration,
    /// `Some(chunk)`: one thread spins on the GIL meanwhile, counting down `chunk` steps between
    /// two looks at its stop flag. `None`: the I/O thread is alone.
    pub spinner: Option<u64>,
}

/// What the I/O thread of one batch saw.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RoundTrips {
    /// Round trips made (fewer than asked if the time limit came first).
    pub ops: usize,
    /// Time for all of them.
    pub elapsed: Duration,
    /// Time the I/O thread spent waiting to get the GIL back.
    pub io_waited: Duration,
    /// Times the GIL came back to the I/O thread from another thread.
    pub io_won_back: u64,
}

impl RoundTrips {
    /// Average time of one round trip.
    pub fn per_op(&self) -> Duration {
        self.elapsed
            .div_f64(self.ops.max(1) as f64)
            .max(Duration::from_nanos(1))
    }

    /// Share of the batch the I/O thread spent waiting for the GIL (0.0 to 1.0).
    pub fn io_wait_share(&self) -> f64 {
        (self.io_waited.as_secs_f64() / self.elapsed.as_secs_f64().max(1e-9)).min(1.0)
    }

    /// Round trips per second.
    pub fn ops_per_sec(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Run one batch of echo round trips against the echo server at `addr`, on model threads of
/// `gil`. The spinner, if any, is running before the first round trip, as after Python's
/// `Thread.start()`; it stops when the batch ends, however it ends.
pub fn round_trips(gil: &Gil, addr: SocketAddr, batch: Convoy) -> anyhow::Result<RoundTrips> {
    let mut conn =
        TcpStream::connect_timeout(&addr, IDLE_LIMIT).context("connecting to the echo server")?;
    conn.set_nodelay(true)?;
    conn.set_read_timeout(Some(IDLE_LIMIT))?;
    conn.set_write_timeout(Some(IDLE_LIMIT))?;
    let (stop, spinning) = (
        AtomicBool::new(false),
        AtomicBool::new(batch.spinner.is_none()),
    );
    std::thread::scope(|s| {
        if let Some(chunk) = batch.spinner {
            let (stop, spinning) = (&stop, &spinning);
            s.spawn(move || {
                let mut py = gil.acquire("cpu");
                spinning.store(true, Relaxed);
                while !stop.load(Relaxed) {
                    countdown(&mut py, chunk.max(1));
                }
            });
        }
        while !spinning.load(Relaxed) {
            std::thread::yield_now();
        }
        let io = s.spawn(|| {
            let mut py = gil.acquire("io");
            echo_loop(&mut py, &mut conn, batch)
        });
        let joined = io.join();
        // Whatever happened to the I/O thread, the spinner must stop or the scope never ends.
        stop.store(true, Relaxed);
        joined.unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// The I/O thread's loop: every blocking call with the GIL released, a check point after each
/// round trip as the interpreter would reach one.
fn echo_loop(
    py: &mut GilGuard<'_>,
    conn: &mut TcpStream,
    batch: Convoy,
) -> anyhow::Result<RoundTrips> {
    let mut back = [0u8; MESSAGE.len()];
    let before = py.stats();
    let clock = Instant::now();
    let mut ops = 0;
    while ops < batch.ops && clock.elapsed() < batch.time_limit {
        py.detach(|| conn.write_all(MESSAGE))
            .context("sending an echo")?;
        py.detach(|| conn.read_exact(&mut back))
            .context("receiving an echo")?;
        ensure!(&back == MESSAGE, "echo {ops} came back wrong");
        py.check_point();
        ops += 1;
    }
    let elapsed = clock.elapsed();
    let after = py.stats();
    Ok(RoundTrips {
        ops,
        elapsed,
        io_waited: after.waited.saturating_sub(before.waited),
        io_won_back: after.switches_in.saturating_sub(before.switches_in),
    })
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
    fn the_server_listens_on_loopback_only() {
        let server = LoopbackServer::start(Behaviour::Echo).unwrap();
        assert!(server.addr().ip().is_loopback(), "{}", server.addr());
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
    fn a_delay_beyond_the_limit_is_refused() {
        let err = LoopbackServer::start(Behaviour::Delayed(MAX_DELAY * 2)).unwrap_err();
        assert!(err.to_string().contains("at most"), "{err}");
    }

    #[test]
    fn shutdown_does_not_wait_for_a_silent_client() {
        let server = LoopbackServer::start(Behaviour::Delayed(MAX_DELAY)).unwrap();
        let _silent = TcpStream::connect(server.addr()).unwrap();
        let clock = Instant::now();
        drop(server);
        assert!(
            clock.elapsed() < Duration::from_secs(4),
            "{:?}",
            clock.elapsed()
        );
    }

    #[test]
    fn shutdown_interrupts_a_delayed_answer() {
        let server = LoopbackServer::start(Behaviour::Delayed(MAX_DELAY)).unwrap();
        let addr = server.addr();
        let client = std::thread::spawn(move || fetch(addr, "GET /slow"));
        std::thread::sleep(Duration::from_millis(100));
        let clock = Instant::now();
        server.shutdown().unwrap();
        assert!(
            clock.elapsed() < Duration::from_secs(4),
            "{:?}",
            clock.elapsed()
        );
        let _ = client.join().unwrap();
    }

    #[test]
    fn round_trips_alone_make_every_trip_and_never_lose_the_gil() {
        let server = LoopbackServer::start(Behaviour::Echo).unwrap();
        let batch = Convoy {
            ops: 50,
            time_limit: Duration::from_secs(30),
            spinner: None,
        };
        let r = round_trips(&Gil::new(), server.addr(), batch).unwrap();
        assert_eq!(r.ops, 50);
        assert_eq!(r.io_won_back, 0);
    }

    #[test]
    fn a_batch_stops_at_its_time_limit() {
        let server = LoopbackServer::start(Behaviour::Echo).unwrap();
        let batch = Convoy {
            ops: usize::MAX,
            time_limit: Duration::from_millis(50),
            spinner: Some(10_000),
        };
        let r = round_trips(&Gil::new(), server.addr(), batch).unwrap();
        assert!(r.ops < usize::MAX && r.ops >= 1);
        assert!(r.elapsed < Duration::from_secs(5), "{:?}", r.elapsed);
    }
}
