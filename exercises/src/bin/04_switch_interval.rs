//! # Exercise 04 · Counting switches
//!
//! Two CPU-bound threads share the GIL by taking turns. How often they swap depends on the
//! switch interval (`sys.setswitchinterval`, 5 ms unless you change it): a waiting thread waits
//! that long, then sets a drop request, and the holder lets go at its next check point.
//!
//! Set the interval, run two spinning threads, and count how many times the GIL changed hands.
//! The harness calls your function with the interval you pass on the command line and with
//! CPython's default 5 ms, and prints the rates side by side. Predict the rate before you run it.
//!
//! Run it:   `cargo run --release -p exercises --bin 04_switch_interval -- --interval-ms 1`
//! Check it: `cargo xtask check 04_switch_interval`

use std::time::Duration;

use gil_core::{Gil, GilGuard};

// TODO: write `count_switches`. Set the switch interval on `gil` (the model's
// `sys.setswitchinterval` is a method of `Gil`), start two model Python threads that each call
// `spin(py)` once, wait for both, and return how many times the GIL changed hands. You do not
// need to count anything yourself: the model counts switches, see `Gil::stats`. (The harness has
// already reset the statistics before calling you.)

/// Run two CPU-bound threads on `gil` with the switch interval set to `interval`, and return
/// the number of GIL switches the model recorded during the run.
#[allow(unused_variables)] // delete this line once you use the parameters
fn count_switches(
    gil: &Gil,
    interval: Duration,
    spin: &(dyn Fn(&mut GilGuard<'_>) + Sync),
) -> anyhow::Result<u64> {
    todo!("set the interval, run two threads that call spin(py), return the switch count")
}

// ─────────────── You do not need to change anything below this line. ───────────────

use std::hint::black_box;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use gil_core::measure::fmt_count;
use gil_core::report::{heading, kv, note};

/// Exercise 04: GIL switches per second as the switch interval changes.
#[derive(Parser)]
struct Args {
    /// The switch interval to try, in milliseconds (whole numbers)
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=1000))]
    interval_ms: u64,
    /// How long the two threads spin, in milliseconds
    #[arg(long, default_value_t = 400, value_parser = clap::value_parser!(u64).range(10..=60_000))]
    duration_ms: u64,
}

/// What one call of `count_switches` produced, next to what the harness saw itself.
struct Run {
    /// The value `count_switches` returned.
    returned: u64,
    /// Switches the GIL itself recorded, read by the harness after the call.
    switches: u64,
    /// The interval in force after the call.
    interval: Duration,
    /// The interval in force when the threads first took the GIL: the one that shaped the run.
    /// (If they started with different ones, the one that differs from `interval`.)
    at_start: Option<Duration>,
    /// Threads that attached during the call.
    threads: usize,
    /// Wall-clock time of the call.
    wall: Duration,
}

impl Run {
    fn per_second(&self) -> f64 {
        self.switches as f64 / self.wall.as_secs_f64().max(1e-9)
    }
}

/// Call the learner's function on a fresh GIL with two threads spinning until `spin_for` is up.
fn run(interval: Duration, spin_for: Duration) -> anyhow::Result<Run> {
    let gil = Gil::new();
    gil.reset_stats();
    let started = Instant::now();
    let deadline = started + spin_for;
    // Model Python code: a busy loop with a check point after every "bytecode", which stops
    // once the shared deadline has passed. Reading the clock every step would dominate the
    // loop, so it is read every 1024 steps.
    let spin = move |py: &mut GilGuard<'_>| {
        let mut steps = 0u64;
        loop {
            steps = black_box(steps) + 1;
            py.check_point();
            if steps % 1024 == 0 && Instant::now() >= deadline {
                break;
            }
        }
    };
    let returned = count_switches(&gil, interval, &spin)?;
    let wall = started.elapsed();
    let stats = gil.stats();
    let at_start = stats
        .threads
        .iter()
        .filter_map(|t| t.first_interval)
        .max_by_key(|&first| first != interval);
    Ok(Run {
        returned,
        switches: stats.switches,
        interval: gil.switch_interval(),
        at_start,
        threads: stats.threads.len(),
        wall,
    })
}

fn real_main(args: Args) -> anyhow::Result<()> {
    let spin_for = Duration::from_millis(args.duration_ms);
    let chosen = run(Duration::from_millis(args.interval_ms), spin_for)?;
    let default = run(gil_core::DEFAULT_SWITCH_INTERVAL, spin_for)?;

    heading("Exercise 04 · GIL switches as the switch interval changes");
    kv("spin time", format!("{} ms", args.duration_ms));
    let ms = |interval: Duration| format!("{}", interval.as_secs_f64() * 1e3);
    kv("switch interval set (ms)", ms(chosen.interval));
    kv(
        "switch interval when the threads started (ms)",
        chosen.at_start.map_or("no thread started".into(), ms),
    );
    kv("switches returned", fmt_count(chosen.returned));
    kv("switches recorded by the GIL", fmt_count(chosen.switches));
    kv("attached threads", chosen.threads);
    kv("switches per second", format!("{:.0}", chosen.per_second()));
    kv(
        "at most one per interval",
        format!("{:.0} per second", 1.0 / chosen.interval.as_secs_f64()),
    );
    heading("CPython's default, 5 ms");
    kv(
        "switches per second (5 ms)",
        format!("{:.0}", default.per_second()),
    );
    kv("attached threads (5 ms)", default.threads);
    note(
        "A waiting thread asks for the GIL after one interval and the holder lets go at its next \
         check point, so the rate stays a little under one switch per interval: the waiter's \
         timer overshoots, and a hand-over takes time too.",
    );
    Ok(())
}

fn main() -> ExitCode {
    gil_core::cli::run(|| real_main(Args::parse()))
}
