//! # Exercise 06 · The call that froze everyone
//!
//! A small web application runs in a model Python interpreter next to a heartbeat thread that
//! wakes every millisecond and needs the GIL for a moment. Users complain that the heartbeat
//! stalls for tens of milliseconds whenever a page is served. Somewhere in the request path a
//! blocking call is made *while holding the GIL*, so no other thread can run until it returns —
//! and no drop request can help, because a thread blocked in a call reaches no check point.
//!
//! Read the application below, find the blocking call, and write `handle`: the same request
//! handler, with the GIL released around that call. The harness serves the same requests with
//! the shipped handler and then with yours, and prints how long the heartbeat had to wait.
//!
//! Run it:   `cargo run --release -p exercises --bin 06_blocking_call`
//! Check it: `cargo xtask check 06_blocking_call`

use gil_core::GilGuard;
use gil_core::work::countdown;

// ───────────── The application, as it shipped (read it; do not change it) ─────────────

/// An HTTP request for one user's profile page.
struct Request {
    user: u64,
}

/// A row of the `profiles` table, decoded into "Python objects".
struct Profile {
    name: String,
    visits: u64,
}

/// Python code: parse the request and validate it. Returns the user id to look up.
fn parse(py: &mut GilGuard<'_>, request: &Request) -> u64 {
    countdown(py, 100_000); // routing, header parsing, validation …
    request.user
}

/// Python code: turn a raw database row into a `Profile`.
fn decode(py: &mut GilGuard<'_>, row: &[u8]) -> Profile {
    countdown(py, 100_000);
    let text = String::from_utf8_lossy(row);
    let (name, visits) = text.split_once(',').unwrap_or((&text, "0"));
    Profile {
        name: name.to_owned(),
        visits: visits.parse().unwrap_or(0),
    }
}

/// Python code: fetch a user's profile.
fn fetch_profile(py: &mut GilGuard<'_>, db: &Database, user: u64) -> Profile {
    let row = db.query(user);
    decode(py, &row)
}

/// Python code: render the page.
fn render(py: &mut GilGuard<'_>, profile: &Profile) -> String {
    countdown(py, 100_000);
    format!("<h1>{}</h1><p>{} visits</p>", profile.name, profile.visits)
}

/// The request handler as it shipped.
fn handle_as_shipped(py: &mut GilGuard<'_>, db: &Database, request: &Request) -> String {
    let user = parse(py, request);
    let profile = fetch_profile(py, db, user);
    render(py, &profile)
}

// TODO: write `handle`: the same page as `handle_as_shipped`, built from the same steps, but with
// the GIL released around the one call that blocks. Which call blocks, and does it touch any
// Python object? `py.detach(|| …)` runs a closure with the GIL released.

/// Serve `request` like `handle_as_shipped` does, without blocking while holding the GIL.
#[allow(unused_variables)] // delete this line once you use the parameters
fn handle(py: &mut GilGuard<'_>, db: &Database, request: &Request) -> String {
    todo!(
        "serve the request like handle_as_shipped, with the GIL released around the blocking call"
    )
}

// ─────────────── You do not need to change anything below this line. ───────────────

use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use gil_core::Gil;
use gil_core::measure::{fmt_count, fmt_duration};
use gil_core::report::{heading, kv, note};

/// Exercise 06: find the blocking call made while holding the GIL.
#[derive(Parser)]
struct Args {
    /// How many requests to serve (with each handler)
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=1000))]
    requests: u64,
    /// How long one database query blocks, in milliseconds
    #[arg(long, default_value_t = 40, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    db_ms: u64,
    /// Varies the users asked for
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// The database client. A query is a network round trip: the calling OS thread blocks.
struct Database {
    round_trip: Duration,
    /// Total time callers spent blocked in `query`.
    blocked: Mutex<Duration>,
}

impl Database {
    /// Look up a user's row. Blocks for one round trip; touches no Python object.
    fn query(&self, user: u64) -> Vec<u8> {
        let started = Instant::now();
        std::thread::sleep(self.round_trip);
        *self.blocked.lock().unwrap_or_else(|e| e.into_inner()) += started.elapsed();
        format!("user{user},{}", user.wrapping_mul(7919) % 100_000).into_bytes()
    }
}

/// What serving all requests with one handler looked like.
struct Served {
    pages: u64,
    checksum: u64,
    /// Time the server thread spent in `Database::query`, and of it with the GIL released.
    blocked: Duration,
    released: Duration,
    /// The heartbeat's longest wait for the GIL after waking, and how often it ticked.
    worst_wait: Duration,
    ticks: u64,
    /// "Bytecodes" (check points) the server thread ran: the Python steps of the handler.
    python_steps: u64,
}

/// Sets the flag when dropped.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

type Handler = fn(&mut GilGuard<'_>, &Database, &Request) -> String;

/// Serve every request with `handler` on a server thread, beside a heartbeat thread.
fn serve(handler: Handler, args: &Args) -> Served {
    let gil = Gil::new();
    let db = Database {
        round_trip: Duration::from_millis(args.db_ms),
        blocked: Mutex::new(Duration::ZERO),
    };
    let done = AtomicBool::new(false);
    let (pages, checksum, (worst_wait, ticks)) = std::thread::scope(|s| {
        let heartbeat = s.spawn(|| {
            let mut py = gil.acquire("heartbeat");
            let (mut worst, mut ticks) = (Duration::ZERO, 0);
            while !done.load(Ordering::SeqCst) {
                // Sleep 1 ms with the GIL released, then time how long taking it back takes.
                let woke = py.detach(|| {
                    std::thread::sleep(Duration::from_millis(1));
                    Instant::now()
                });
                worst = worst.max(woke.elapsed());
                ticks += 1;
            }
            (worst, ticks)
        });
        let server = s.spawn(|| {
            // Stops the heartbeat however this thread ends, a panic included.
            let _stop = StopOnDrop(&done);
            let mut py = gil.acquire("server");
            let (mut pages, mut checksum) = (0, 0u64);
            for i in 0..args.requests {
                let request = Request {
                    user: (args.seed.wrapping_mul(1_000_003) + i * 37) % 10_000,
                };
                let page = handler(&mut py, &db, &request);
                pages += 1;
                for byte in page.bytes() {
                    checksum = checksum.wrapping_mul(31).wrapping_add(u64::from(byte));
                }
            }
            (pages, checksum % 1_000_000_007)
        });
        let served = server.join();
        let beats = heartbeat.join();
        let (pages, checksum) = served.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        let beats = beats.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (pages, checksum, beats)
    });
    let stats = gil.stats();
    let server = || stats.threads.iter().filter(|t| t.name == "server");
    let released = server().map(|t| t.detached).sum();
    let python_steps = server().map(|t| t.check_points).sum();
    Served {
        pages,
        checksum,
        blocked: *db.blocked.lock().unwrap_or_else(|e| e.into_inner()),
        released,
        worst_wait,
        ticks,
        python_steps,
    }
}

fn real_main(args: Args) -> anyhow::Result<()> {
    let shipped = serve(handle_as_shipped, &args);
    let yours = serve(handle, &args);

    heading("Exercise 06 · the call that froze everyone");
    kv("requests", args.requests);
    kv(
        "database round trip",
        fmt_duration(Duration::from_millis(args.db_ms)),
    );
    for (who, served) in [("shipped", &shipped), ("yours", &yours)] {
        heading(&format!("Handler {who}"));
        kv(&format!("pages served ({who})"), served.pages);
        kv(&format!("page checksum ({who})"), served.checksum);
        kv(
            &format!("Python steps run by the server ({who})"),
            fmt_count(served.python_steps),
        );
        kv(&format!("heartbeat ticks ({who})"), fmt_count(served.ticks));
        kv(
            &format!("heartbeat worst wait ({who})"),
            fmt_duration(served.worst_wait),
        );
        kv(
            &format!("blocked in queries ({who})"),
            fmt_duration(served.blocked),
        );
        kv(
            &format!("blocked holding the GIL ({who})"),
            fmt_duration(served.blocked.saturating_sub(served.released)),
        );
    }
    note(
        "The heartbeat asks for the GIL after each 1 ms nap. If the holder is busy in Python \
         code, the heartbeat waits one switch interval, then sets a drop request, and the holder \
         lets go at its next check point; a holder blocked in a call that did not release the \
         GIL reaches no check point, so it hands the GIL over only when the call returns.",
    );
    Ok(())
}

fn main() -> ExitCode {
    gil_core::cli::run(|| real_main(Args::parse()))
}
