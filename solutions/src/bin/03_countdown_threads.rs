//! # Exercise 03 · One thread or two? (the tutorial's Exercise 2)
//!
//! Count down from N (`while n > 0: n -= 1`) in one model Python thread, then split the same
//! work over two threads that count down N/2 each. The harness below times both versions under
//! the model GIL and again on the free-threaded build, and prints the speedups.
//!
//! Before you check, decide: why are two threads no faster than one under the GIL, and why are
//! they on the free-threaded build? (The GIL figures the harness prints answer it.)
//!
//! Run it:   `cargo run --release -p exercises --bin 03_countdown_threads`
//! Check it: `cargo xtask check 03_countdown_threads`

use gil_core::Gil;
use gil_core::work::countdown;

// TODO: write `one_thread` and `two_threads`. A model Python thread is an OS thread that holds a
// guard from the `gil` you are given: `gil.attach(name, |py| …)` runs a closure attached,
// `gil.run_threads(n, |i, py| …)` starts n attached threads and waits for them. Count down with
// `countdown(py, n)`, the model of `while n > 0: n -= 1` (it reaches a check point every step).

/// Count down from `n` in ONE model Python thread attached to `gil`.
fn one_thread(gil: &Gil, n: u64) {
    gil.attach("main", |py| countdown(py, n));
}

/// Count down from `n` in TWO model Python threads attached to `gil` at the same time: n/2 each,
/// the second one taking the odd step when `n` is odd. Return how far each thread counted.
fn two_threads(gil: &Gil, n: u64) -> Vec<u64> {
    let shares = [n / 2, n - n / 2];
    gil.run_threads(2, |i, py| {
        countdown(py, shares[i]);
        shares[i]
    })
}

// ─────────────── You do not need to change anything below this line. ───────────────

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use gil_core::Timeline;
use gil_core::measure::{fmt_count, fmt_duration, fmt_ratio, speedup, time};
use gil_core::report::{heading, kv, note};

/// Exercise 03: a countdown in one thread and in two, under the GIL and free-threaded.
#[derive(Parser)]
struct Args {
    /// How far to count down in total (the tutorial's N)
    #[arg(long, default_value_t = 50_000_000)]
    n: u64,
    /// Timed runs of each version; the fastest run counts
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    runs: u32,
}

/// What one interpreter mode measured over all runs.
struct Measured {
    /// Fastest run of `one_thread` and of `two_threads`.
    one: Duration,
    two: Duration,
    /// Threads that attached during one run of each version (the most seen in any run).
    threads_one: usize,
    threads_two: usize,
    /// What `two_threads` said its threads counted, summed (the last run).
    counted: u64,
    /// Least total GIL hold time of one run of each version (free-threaded: time attached).
    held_one: Duration,
    held_two: Duration,
    /// Times the GIL changed hands, summed over the runs of `two_threads`.
    switches: u64,
    /// Countdown steps (check points) the threads of one run of each version executed.
    steps_one: u64,
    steps_two: u64,
    /// Largest share of a two-thread run during which both threads ran "Python" at once.
    parallel: f64,
}

/// The share of a timeline's extent during which at least two threads held (were attached).
fn parallel_share(timeline: &Timeline) -> f64 {
    let mut edges: Vec<(Duration, i32)> = Vec::new();
    for span in timeline.spans() {
        edges.push((span.start, 1));
        edges.push((span.end, -1));
    }
    edges.sort();
    let (mut running, mut since, mut both) = (0, Duration::ZERO, Duration::ZERO);
    for (at, step) in edges {
        if running >= 2 {
            both += at - since;
        }
        running += step;
        since = at;
    }
    let (from, to) = timeline.extent();
    both.as_secs_f64() / (to - from).as_secs_f64().max(1e-9)
}

fn measure(gil: &Gil, n: u64, runs: u32) -> Measured {
    let mut m = Measured {
        one: Duration::MAX,
        two: Duration::MAX,
        threads_one: 0,
        threads_two: 0,
        counted: 0,
        held_one: Duration::MAX,
        held_two: Duration::MAX,
        switches: 0,
        parallel: 0.0,
        steps_one: 0,
        steps_two: 0,
    };
    let steps = |stats: &gil_core::GilStats| stats.threads.iter().map(|t| t.check_points).sum();
    for _ in 0..runs {
        gil.reset_stats();
        let ((), took) = time(|| one_thread(gil, n));
        let stats = gil.stats();
        m.one = m.one.min(took);
        m.threads_one = m.threads_one.max(stats.threads.len());
        m.held_one = m.held_one.min(stats.total_held());
        m.steps_one = steps(&stats);

        gil.reset_stats();
        gil.record_timeline();
        let (counts, took) = time(|| two_threads(gil, n));
        let timeline = gil.take_timeline();
        let stats = gil.stats();
        m.two = m.two.min(took);
        m.threads_two = m.threads_two.max(stats.threads.len());
        m.held_two = m.held_two.min(stats.total_held());
        m.switches += stats.switches;
        m.steps_two = steps(&stats);
        m.counted = counts.iter().sum();
        m.parallel = m.parallel.max(parallel_share(&timeline));
    }
    m
}

fn real_main(args: Args) -> anyhow::Result<()> {
    heading("Exercise 03 · a countdown in one thread and in two");
    kv("countdown", fmt_count(args.n));
    // Warm up (CPU clock, page faults) so the first timed run is not the slowest for no reason.
    Gil::new().attach("warm-up", |py| countdown(py, args.n / 4));
    let with_gil = measure(&Gil::new(), args.n, args.runs);
    let free = measure(&Gil::free_threaded(), args.n, args.runs);
    kv("counted by two threads", fmt_count(with_gil.counted));

    for (mode, m) in [("GIL", &with_gil), ("free-threaded", &free)] {
        heading(&format!("{mode} (fastest of {} runs)", args.runs));
        kv(&format!("one thread ({mode})"), fmt_duration(m.one));
        kv(&format!("two threads ({mode})"), fmt_duration(m.two));
        kv(
            &format!("speedup ({mode})"),
            fmt_ratio(speedup(m.one, m.two)),
        );
        kv(&format!("attached threads (one, {mode})"), m.threads_one);
        kv(
            &format!("countdown steps, one thread ({mode})"),
            fmt_count(m.steps_one),
        );
        kv(
            &format!("countdown steps, two threads ({mode})"),
            fmt_count(m.steps_two),
        );
        kv(&format!("attached threads (two, {mode})"), m.threads_two);
        kv(
            &format!("both threads running ({mode})"),
            format!("{:.0} % of the run", m.parallel * 100.0),
        );
    }
    heading("What the GIL recorded");
    kv("GIL held, one thread", fmt_duration(with_gil.held_one));
    kv("GIL held, two threads", fmt_duration(with_gil.held_two));
    kv(
        "work ratio (GIL)",
        format!(
            "{:.2}",
            with_gil.held_two.as_secs_f64() / with_gil.held_one.as_secs_f64().max(1e-9)
        ),
    );
    kv(
        "GIL switches per two-thread run",
        with_gil.switches / u64::from(args.runs),
    );
    note(
        "Hold times are the least of all runs. Under the GIL the two threads take turns: a work \
         ratio near 1 means that together they held the GIL as long as one thread doing all the \
         work, and they never ran at the same moment. Free-threaded, both count at once.",
    );
    Ok(())
}

fn main() -> ExitCode {
    gil_core::cli::run(|| real_main(Args::parse()))
}
