//! Part 3 — "forgot to release": a blocking call made while holding the GIL.
//!
#![doc = include_str!("part3_forgot_to_release.md")]
//!
//! Releasing the GIL is not automatic. CPython cannot know that a C function is about to wait;
//! the function's author has to wrap the wait in `Py_BEGIN_ALLOW_THREADS` (in Rust with PyO3:
//! `py.detach(..)`). An extension that forgets keeps the GIL for the whole wait, and every
//! other thread that wants to run Python queues behind it.
//!
//! The experiment: N threads each make a few requests to the slow server, first through a
//! well-behaved extension ([`detach`](gil_core::GilGuard::detach) around the
//! request), then through one that makes the identical call while holding the GIL. The
//! terminal draws the held run (one `█` at a time, the others `▒`, queued for the GIL); the
//! SVG figures draw both. With the GIL held, the waits cannot overlap, so the wall time is at
//! least their sum.
//!
//! The two extensions take turns (released, held, released, held …); figures are medians.

use std::time::Duration;

use gil_core::claim::{Claim, Unit};
use gil_core::context::Cx;
use gil_core::echo::{Behaviour, LoopbackServer, expected_reply, fetch};
use gil_core::figure::TimelineChart;
use gil_core::measure::{fmt_duration, median_by, time};
use gil_core::part::{Part, Run as PartRun};
use gil_core::sim::{Script, Step, simulate};
use gil_core::{GilGuard, Timeline, report};

use crate::{Config, Overlap};

/// The Python this part models.
pub const PYTHON: &str = "
# ext.fetch: C code that may or may not detach around its recv()
def worker(fetch):
    for call in range(4):
        fetch(f'GET /call-{call}')
threads = [Thread(target=worker, args=(ext.fetch,)) for _ in range(4)]";

/// Requests each thread makes.
pub const CALLS_PER_THREAD: usize = 4;

/// The "Python" around each request, as the simulator sees it.
const PYTHON_AROUND_A_CALL: Duration = Duration::from_micros(20);

/// One run of the N threads.
#[derive(Clone, Debug)]
pub struct Run {
    /// Wall-clock time of the run.
    pub wall: Duration,
    /// How the threads spent their time.
    pub overlap: Overlap,
    /// Who held the GIL when.
    pub timeline: Timeline,
}

/// What part 3 measured (or simulated).
#[derive(Clone, Debug)]
pub struct Report {
    /// Threads per run.
    pub threads: usize,
    /// The server's delay per request.
    pub call_delay: Duration,
    /// Sum of every request's server-side wait in one run (threads × calls × delay).
    pub sum_of_waits: Duration,
    /// The extension that calls `detach` (the run with the median wall time).
    pub released: Run,
    /// The extension that forgot to (the run with the median wall time).
    pub held: Run,
    /// Replies that matched their request, over every run (live runs only).
    pub correct_replies: Option<(usize, usize)>,
}

impl Report {
    /// How many times longer the careless extension's run took.
    pub fn slowdown(&self) -> f64 {
        self.held.wall.as_secs_f64() / self.released.wall.as_secs_f64().max(1e-9)
    }

    /// The careless run's wall time over the sum of all waits: at least 1 under a GIL.
    pub fn held_wall_over_waits(&self) -> f64 {
        self.held.wall.as_secs_f64() / self.sum_of_waits.as_secs_f64().max(1e-9)
    }
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
            py.detach(|| fetch(server.addr(), &request))?
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
    let gil = cfg.gil();
    gil.record_timeline();
    let (results, wall) =
        time(|| gil.run_threads(cfg.downloads, |i, py| requests(py, server, i, release)));
    let timeline = gil.take_timeline();
    let overlap = Overlap::from_stats(&gil.stats(), wall);
    let correct = results.into_iter().sum::<anyhow::Result<usize>>()?;
    Ok((
        Run {
            wall,
            overlap,
            timeline,
        },
        correct,
    ))
}

fn call_delay(cfg: &Config) -> Duration {
    cfg.server_delay / 4
}

/// Time both extensions live, taking turns.
pub fn measure(cfg: &Config) -> anyhow::Result<Report> {
    let n = cfg.downloads;
    let call_delay = call_delay(cfg);
    let sum_of_waits = call_delay * (n * CALLS_PER_THREAD) as u32;
    let server = LoopbackServer::start(Behaviour::Delayed(call_delay))?;
    let (mut released, mut held, mut correct) = (Vec::new(), Vec::new(), 0);
    let rounds = cfg.rounds(sum_of_waits * 2);
    for _ in 0..rounds {
        let (run, ok) = one_run(cfg, &server, true)?;
        released.push(run);
        correct += ok;
        let (run, ok) = one_run(cfg, &server, false)?;
        held.push(run);
        correct += ok;
    }
    server.shutdown()?;
    Ok(Report {
        threads: n,
        call_delay,
        sum_of_waits,
        released: median_by(released, |r| r.wall).expect("at least one round"),
        held: median_by(held, |r| r.wall).expect("at least one round"),
        correct_replies: Some((correct, 2 * rounds * n * CALLS_PER_THREAD)),
    })
}

/// Both extensions on the simulator.
pub fn simulated(cfg: &Config, cores: usize) -> Report {
    let n = cfg.downloads;
    let call_delay = call_delay(cfg);
    let run = |wait: Step| {
        let steps = vec![Step::Repeat(
            CALLS_PER_THREAD as u32,
            vec![wait, Step::Bytecode(PYTHON_AROUND_A_CALL)],
        )];
        let sim = simulate(
            &cfg.sim(cores),
            (1..=n)
                .map(|i| Script::new(format!("T{i}"), steps.clone()))
                .collect(),
        );
        Run {
            wall: sim.elapsed,
            overlap: Overlap::from_stats(sim.stats(), sim.elapsed),
            timeline: sim.timeline.clone(),
        }
    };
    Report {
        threads: n,
        call_delay,
        sum_of_waits: call_delay * (n * CALLS_PER_THREAD) as u32,
        released: run(Step::Blocking(call_delay)),
        held: run(Step::BlockingHolding(call_delay)),
        correct_replies: None,
    }
}

/// Part 3 in the lesson's table.
pub struct ForgotToDetach;

impl Part<Config> for ForgotToDetach {
    type Figures = Report;

    fn title(&self) -> &'static str {
        "an extension that forgot to detach"
    }

    fn python(&self) -> &'static str {
        PYTHON
    }

    fn text(&self) -> &'static str {
        TEXT
    }

    fn cores_needed(&self, _cfg: &Config) -> usize {
        1
    }

    fn live(&self, _cx: &Cx, cfg: &Config) -> anyhow::Result<Report> {
        measure(cfg)
    }

    fn simulate(&self, cx: &Cx, cfg: &Config) -> anyhow::Result<Report> {
        Ok(simulated(cfg, cx.sim_cores()))
    }

    fn show(&self, cx: &mut Cx, cfg: &Config, run: PartRun<'_, Report>) -> anyhow::Result<()> {
        show(cx, cfg, run.figures, run.expected)
    }
}

/// The part's prose (also its documentation, and the book's page).
pub const TEXT: &str = include_str!("part3_forgot_to_release.md");

/// Print the figures of `r` and the claims they support, beside the simulator's `expected`.
pub fn show(cx: &mut Cx, cfg: &Config, r: &Report, expected: &Report) -> anyhow::Result<()> {
    let n = r.threads;
    report::kv(
        &format!(
            "{} requests of {}, added up",
            n * CALLS_PER_THREAD,
            fmt_duration(r.call_delay)
        ),
        fmt_duration(r.sum_of_waits),
    );
    report::kv(
        "detached for each, time taken",
        fmt_duration(r.released.wall),
    );
    report::kv(
        "GIL held through each, time taken",
        fmt_duration(r.held.wall),
    );
    // The picture is for --svg: the two times above already say "one at a time".
    if let Some((ok, sent)) = r.correct_replies {
        report::kv("replies that matched", format!("{ok} of {sent}"));
    }
    cx.figure(
        &TimelineChart::new(
            "forgot-to-detach",
            "Requests made with the GIL held, and detached",
            &r.held.timeline,
        )
        .caption("Held: one thread waits for the server at a time, the rest wait for the GIL."),
    )?;
    cx.figure(
        &TimelineChart::new(
            "detached",
            "The same requests, detached",
            &r.released.timeline,
        )
        .caption("Detached: the threads wait for the server all at once."),
    )?;
    let slowdown = expected.slowdown();
    let text = if cfg.free_threaded() {
        "Without a GIL, forgetting to release it did not stop the waits overlapping."
    } else {
        "Forgetting made the run slower: the threads waited for the server one at a time."
    };
    cx.claim(Claim {
        figure: "time with the GIL held / detached",
        unit: Unit::Ratio,
        measured: r.slowdown(),
        expected: slowdown,
        low: slowdown * 0.7,
        high: slowdown * 1.3 + 0.1,
        text,
    });
    if !cfg.free_threaded() {
        let ratio = expected.held_wall_over_waits();
        cx.claim(Claim {
            figure: "time with the GIL held / the waits added up",
            unit: Unit::Ratio,
            measured: r.held_wall_over_waits(),
            expected: ratio,
            // "At least the sum": any figure from 1 up says so (a busy machine only adds).
            low: 0.98,
            high: 100.0,
            text: "Holds of the GIL never overlap, so the run took at least the sum of all \
                   waits. One line of C fixes it.",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulated_forgetting_serialises_the_waits() {
        let cfg = Config::quick(crate::default_gil_args());
        let r = simulated(&cfg, 2);
        assert!(r.held.wall >= r.sum_of_waits, "{r:?}");
        assert!(r.released.wall < r.sum_of_waits / 2, "{r:?}");
        assert!(r.slowdown() > 2.5, "{}", r.slowdown());
        assert!(r.held.overlap.held_share() > 0.99);
        assert_eq!(r.released.wall, Duration::from_micros(30_270));
        assert_eq!(r.held.wall, Duration::from_micros(90_882));
    }
}
