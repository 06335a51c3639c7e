//! # Exercise 05 · Overlapping downloads
//!
//! Four downloads of half a second each take two seconds one after another. In threads they can
//! take half a second in all — but only if each thread lets go of the GIL while it waits, as
//! CPython's socket and file calls do (`Py_BEGIN_ALLOW_THREADS` … `Py_END_ALLOW_THREADS`).
//!
//! Download every URL in its own model Python thread, releasing the GIL around the blocking call.
//! The harness counts how long the GIL was held while the downloads ran, and how many downloads
//! were in flight at once.
//!
//! Run it:   `cargo run --release -p exercises --bin 05_overlap_downloads`
//! Check it: `cargo xtask check 05_overlap_downloads`

use gil_core::Gil;

// TODO: write `download_all`. Start one model Python thread per URL on `gil` (`gil.run_threads`
// starts n attached threads and waits for them). Each thread calls `server.download(url)` — a
// blocking call that touches no Python objects — with the GIL released: `py.detach(|| …)`
// runs a closure with the GIL let go and takes it back afterwards. Add up the bytes.

/// Download every URL in `urls` from `server`, one model Python thread per URL, with the GIL
/// released during each blocking download. Return the total number of bytes received.
#[allow(unused_variables)] // delete this line once you use the parameters
fn download_all(gil: &Gil, server: &Server, urls: &[String]) -> usize {
    todo!("one thread per URL, the GIL released around server.download, return the total bytes")
}

// ─────────────── You do not need to change anything below this line. ───────────────

use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use clap::Parser;
use gil_core::measure::{fmt_count, fmt_duration, fmt_ratio, speedup, time};
use gil_core::report::{heading, kv, note};

/// Exercise 05: N simulated downloads in N threads, the GIL released while they wait.
#[derive(Parser)]
struct Args {
    /// How many files to download
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=256))]
    downloads: u64,
    /// How long one download blocks, in milliseconds
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    latency_ms: u64,
    /// Varies the file sizes
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// A pretend web server. Downloading blocks the calling OS thread for `latency`, the way
/// `urllib.request.urlopen(url).read()` waits on a socket.
struct Server {
    latency: Duration,
    seed: u64,
    /// Downloads in progress right now, and the most there ever were at once.
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
}

impl Server {
    /// Fetch `url`: block for the server's latency, then return the file's bytes.
    ///
    /// Plain Rust that touches no Python object — in CPython terms, C code that may run with
    /// the GIL released.
    fn download(&self, url: &str) -> Vec<u8> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_in_flight.fetch_max(now, Ordering::SeqCst);
        std::thread::sleep(self.latency);
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        vec![b'x'; self.size_of(url)]
    }

    /// Every file has its own size, between 1,000 and 100,999 bytes, fixed by the seed.
    fn size_of(&self, url: &str) -> usize {
        let mut h = self.seed ^ 0x9E37_79B9_7F4A_7C15;
        for byte in url.bytes() {
            h = (h ^ u64::from(byte)).wrapping_mul(0x0100_0000_01B3);
        }
        1_000 + (h % 100_000) as usize
    }
}

fn real_main(args: Args) -> anyhow::Result<()> {
    let server = Server {
        latency: Duration::from_millis(args.latency_ms),
        seed: args.seed,
        in_flight: AtomicUsize::new(0),
        most_in_flight: AtomicUsize::new(0),
    };
    let urls: Vec<String> = (0..args.downloads)
        .map(|i| format!("https://files.example/data-{i}.csv"))
        .collect();

    // One download on its own, as the yardstick.
    let (_, one) = time(|| server.download("https://files.example/probe"));
    server.most_in_flight.store(0, Ordering::SeqCst);

    let gil = Gil::new();
    let (bytes, wall) = time(|| download_all(&gil, &server, &urls));
    let stats = gil.stats();
    let one_after_another = one * u32::try_from(args.downloads)?;

    heading("Exercise 05 · overlapping downloads");
    kv("downloads", args.downloads);
    kv("bytes downloaded", fmt_count(bytes as u64));
    kv("attached threads", stats.threads.len());
    kv(
        "most downloads in flight",
        server.most_in_flight.load(Ordering::SeqCst),
    );
    kv(
        "GIL held during downloads",
        fmt_duration(stats.total_held()),
    );
    kv(
        "waited with the GIL released",
        fmt_duration(stats.threads.iter().map(|t| t.detached).sum()),
    );
    heading("Wall clock");
    kv("one download", fmt_duration(one));
    kv(
        "one after another (estimate)",
        fmt_duration(one_after_another),
    );
    kv("all downloads", fmt_duration(wall));
    kv("speedup", fmt_ratio(speedup(one_after_another, wall)));
    note(
        "While a thread waits inside detach it holds no GIL, so the other threads start \
         their downloads too: the waits overlap, and the GIL is held only for the moments \
         between them.",
    );
    Ok(())
}

fn main() -> ExitCode {
    gil_core::cli::run(|| real_main(Args::parse()))
}
