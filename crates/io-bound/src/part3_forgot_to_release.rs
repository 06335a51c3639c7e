//! Part 3 — "forgot to release": a blocking call made while holding the GIL.
//!
//! Releasing the GIL is not automatic. CPython cannot know that a C function is about to wait;
//! the function's author has to wrap the wait in `Py_BEGIN_ALLOW_THREADS` (in Rust with PyO3:
//! `py.detach(..)`). An extension that forgets keeps the GIL for the whole wait, and every
//! other thread that wants to run Python queues behind it.
//!
//! The experiment: N threads each make a few requests to the slow server, first through a
//! well-behaved extension ([`allow_threads`](gil_core::GilGuard::allow_threads) around the
//! request), then through one that makes the identical call while holding the GIL. The
//! timeline shows the difference: mostly `░` (released, waiting together) versus one `█` at a
//! time. With the GIL held, the waits cannot overlap, so the wall time is at least their sum.

use std::time::Duration;

use gil_core::measure::{fmt_duration, fmt_ratio, time};
use gil_core::{GilGuard, report};

use crate::{CHART_CELLS, Config, Overlap, fmt_percent, print_chart};
use gil_core::echo::{Behaviour, LoopbackServer, expected_reply, fetch};

/// Requests each thread makes.
pub const CALLS_PER_THREAD: usize = 4;

/// One run of the N threads.
#[derive(Clone, Debug)]
pub struct Run {
    /// Wall-clock time of the run.
    pub wall: Duration,
    /// How the threads spent their time.
    pub overlap: Overlap,
    /// The rendered timeline chart.
    pub chart: String,
}

/// What part 3 measured.
#[derive(Clone, Debug)]
pub struct Report {
    /// Threads per run.
    pub threads: usize,
    /// The server's delay per request.
    pub call_delay: Duration,
    /// Sum of every request's server-side wait in one run (threads × calls × delay).
    pub sum_of_waits: Duration,
    /// The extension that calls `allow_threads`.
    pub released: Run,
    /// The extension that forgot to.
    pub held: Run,
    /// Replies that matched their request, over both runs.
    pub correct_replies: usize,
}

/// Thread `i`'s requests; `release` decides whether each waits with the GIL released.
fn requests(
    py: &mut GilGuard<'_>,
    server: &LoopbackServer,
    i: usize,
    release: bool,
) -> anyhow::Result<usize> {
    let mut correct = 0;
    for call in 0..CALLS_PER_THREAD {
        let request = format!("GET /t{}/call-{call}", i + 1);
        let reply = if release {
            py.allow_threads(|| fetch(server.addr(), &request))?
        } else {
            // The bug: the same blocking call, GIL held throughout.
            fetch(server.addr(), &request)?
        };
        correct += usize::from(reply == expected_reply(&request));
        py.check_point();
    }
    Ok(correct)
}

fn one_run(cfg: &Config, server: &LoopbackServer, release: bool) -> anyhow::Result<(Run, usize)> {
    let gil = cfg.gil()?;
    gil.record_timeline();
    let (results, wall) =
        time(|| gil.run_threads(cfg.downloads, |i, py| requests(py, server, i, release)));
    let chart = gil.take_timeline().render(CHART_CELLS);
    let overlap = Overlap::from_stats(&gil.stats(), wall);
    let correct = results.into_iter().sum::<anyhow::Result<usize>>()?;
    Ok((
        Run {
            wall,
            overlap,
            chart,
        },
        correct,
    ))
}

fn print_run(label: &str, run: &Run) {
    report::kv(&format!("{label} wall"), fmt_duration(run.wall));
    report::kv(
        &format!("{label} GIL held"),
        fmt_percent(run.overlap.held_share()),
    );
    report::kv(
        &format!("{label} overlap ratio"),
        fmt_ratio(run.overlap.ratio()),
    );
    print_chart(&run.chart);
}

/// Run part 3 and print it.
pub fn run(cfg: &Config) -> anyhow::Result<Report> {
    report::heading("Part 3 - forgot to release: blocking while holding the GIL");
    let n = cfg.downloads;
    let call_delay = cfg.server_delay / 4;
    let sum_of_waits = call_delay * (n * CALLS_PER_THREAD) as u32;
    report::note(&format!(
        "{n} threads x {CALLS_PER_THREAD} requests; the server answers each after {}.\n\
         First the extension releases the GIL around the request, then it does not.",
        fmt_duration(call_delay)
    ));
    let server = LoopbackServer::start(Behaviour::Delayed(call_delay))?;
    let (released, ok_released) = one_run(cfg, &server, true)?;
    let (held, ok_held) = one_run(cfg, &server, false)?;
    server.shutdown()?;

    report::kv("sum of all waits", fmt_duration(sum_of_waits));
    print_run("with allow_threads", &released);
    print_run("GIL held while blocking", &held);
    report::kv(
        "slowdown from forgetting",
        fmt_ratio(held.wall.as_secs_f64() / released.wall.as_secs_f64().max(1e-9)),
    );
    if cfg.gil.free_threaded {
        report::note(
            "Free-threaded: there is no GIL to hold, so even the careless extension's waits overlap\n\
             ('GIL held' means 'attached' here).",
        );
    } else {
        report::note(
            "Held: every wait happened inside somebody's hold, and holds never overlap, so the wall\n\
             time is at least the sum of all waits. One line of C (or one py.detach in PyO3) fixes it.",
        );
    }
    Ok(Report {
        threads: n,
        call_delay,
        sum_of_waits,
        released,
        held,
        correct_replies: ok_released + ok_held,
    })
}
