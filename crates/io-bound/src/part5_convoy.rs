//! Part 5 — the convoy effect (David Beazley, PyCon 2010; CPython issue bpo-7946).
//!
#![doc = include_str!("part5_convoy.md")]
//!
//! An I/O thread that makes many *short* blocking calls — here, echo round trips over loopback,
//! a send and a receive each, both inside `detach` as CPython's socket module does —
//! releases the GIL on every call, even when the call returns almost at once. Alone, that costs
//! nothing: nobody else wants the GIL, so it takes it straight back.
//!
//! Next to one CPU-bound thread, every release offers the GIL to the spinner, which is waiting
//! for it. If the spinner takes it before the I/O completes a few microseconds later, the I/O
//! thread must wait like anyone else: a full switch interval passes before it may set a drop
//! request, and then the spinner must reach its next check point. On an idle machine the spinner
//! wins that race almost every time, so almost every round trip costs a switch interval and the
//! I/O thread's throughput falls by two orders of magnitude. On a busy machine the spinner wakes
//! late more often and fewer round trips pay; the part counts how many did. A shorter interval
//! shortens each wait in proportion — at the price of more switches for everybody. The issue was
//! discussed for years and closed in 2021 without a change to the GIL; free-threaded builds do
//! not have it.
//!
//! The three batches (alone, beside the CPU thread, beside it at the shorter interval) take
//! turns; figures are medians. The round trips themselves are [`gil_core::echo::round_trips`],
//! the same code the fidelity check runs against CPython's figures.

use std::time::Duration;

use gil_core::claim::{Claim, Unit};
use gil_core::context::Cx;
use gil_core::echo::{self, Behaviour, Convoy, LoopbackServer, RoundTrips};
use gil_core::figure::{LineChart, Scale, Series, TimelineChart};
use gil_core::measure::{fmt_duration, median_by};
use gil_core::part::{Part, Run as PartRun};
use gil_core::sim::{Script, Step, simulate};
use gil_core::{Timeline, report};

use crate::{CHART_CELLS, Config, print_chart};

/// The Python this part models.
pub const PYTHON: &str = "
def spin():                  # CPU-bound: never waits
    while True: pass
def echo_client(sock, n):
    for _ in range(n):       # short waits, each detached
        sock.sendall(b'ping'); sock.recv(4)
Thread(target=spin, daemon=True).start()
echo_client(sock, 40)        # then again after sys.setswitchinterval(0.001)";

/// Countdown steps the CPU thread runs between two looks at its stop flag.
const SPIN_CHUNK: u64 = 50_000;

/// The longest one batch of round trips may run; it reports the round trips it made by then.
pub const BATCH_TIME_LIMIT: Duration = Duration::from_secs(15);

/// What the simulator assumes the server and loopback take per round trip on an idle machine.
const SIM_ROUND_TRIP: Duration = Duration::from_micros(15);
/// The "Python" between two round trips, as the simulator sees it.
const SIM_PYTHON_PER_TRIP: Duration = Duration::from_micros(1);

/// One batch's figures (for several batches: medians).
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    /// Round trips made.
    pub ops: usize,
    /// Average time of one round trip.
    pub per_op: Duration,
    /// Share of round trips after which the I/O thread had to win the GIL back (0 to 1).
    pub lost_share: f64,
    /// How long the I/O thread waited each time it had to win the GIL back (`None` if it never
    /// had to).
    pub mean_wait: Option<Duration>,
    /// Share of the batch the I/O thread spent waiting for the GIL (0 to 1).
    pub io_wait_share: f64,
}

impl Batch {
    fn from_trips(t: &RoundTrips) -> Batch {
        Batch {
            ops: t.ops,
            per_op: t.per_op(),
            lost_share: (t.io_won_back as f64 / t.ops.max(1) as f64).min(1.0),
            mean_wait: (t.io_won_back > 0).then(|| t.io_waited.div_f64(t.io_won_back as f64)),
            io_wait_share: t.io_wait_share(),
        }
    }

    /// Each figure's median over `batches` (the fewest operations).
    fn middle_of(batches: &[Batch]) -> Batch {
        let m = |f: fn(&Batch) -> f64| median_by(batches.iter().map(f), |v| *v).unwrap_or(f64::NAN);
        let waits: Vec<f64> = batches
            .iter()
            .filter_map(|b| b.mean_wait.map(|w| w.as_secs_f64()))
            .collect();
        Batch {
            ops: batches.iter().map(|b| b.ops).min().unwrap_or(0),
            per_op: Duration::from_secs_f64(m(|b| b.per_op.as_secs_f64()).max(0.0)),
            lost_share: m(|b| b.lost_share),
            mean_wait: median_by(waits, |v| *v).map(Duration::from_secs_f64),
            io_wait_share: m(|b| b.io_wait_share),
        }
    }
}

/// What part 5 measured (or simulated).
#[derive(Clone, Debug)]
pub struct Report {
    /// The configured switch interval.
    pub interval: Duration,
    /// The shorter interval of the third batch.
    pub short_interval: Duration,
    /// The I/O thread alone.
    pub alone: Batch,
    /// Beside one CPU-bound thread, at the configured switch interval.
    pub beside: Batch,
    /// Beside one CPU-bound thread, at the shorter switch interval.
    pub beside_short: Batch,
    /// Times the GIL changed hands in each live batch beside the CPU thread, and the I/O
    /// thread's wins in it (for the tests' bounds); empty when simulated.
    pub switches_and_wins: Vec<(u64, u64)>,
    /// Who held the GIL when in a `beside` batch (live: the first; empty when not recorded).
    pub timeline: Timeline,
}

impl Report {
    /// How many times slower a round trip is beside the CPU thread.
    pub fn slowdown(&self) -> f64 {
        self.beside.per_op.as_secs_f64() / self.alone.per_op.as_secs_f64().max(1e-12)
    }

    /// How many times faster round trips beside the CPU thread got at the shorter interval.
    pub fn gain_from_shorter_interval(&self) -> f64 {
        self.beside.per_op.as_secs_f64() / self.beside_short.per_op.as_secs_f64().max(1e-12)
    }
}

/// The shorter interval: 1 ms, or a fifth of an interval already that short — never zero (the
/// model waits at least 1 µs, as CPython's `take_gil` does).
pub fn short_interval(base: Duration) -> Duration {
    if base > Duration::from_millis(1) {
        Duration::from_millis(1)
    } else {
        (base / 5).max(Duration::from_micros(1))
    }
}

/// The window of one round trip that lost the GIL: from the I/O thread letting go to it
/// holding the GIL again, a little either side. Where none lost it (alone, free-threaded),
/// the first eight switch intervals.
fn zoom(timeline: &Timeline, interval: Duration) -> (Duration, Duration) {
    match lost_round_trip(timeline, interval) {
        Some((from, to)) => {
            let pad = (to - from) / 16;
            (from.saturating_sub(pad), to + pad)
        }
        None => {
            let (start, _) = timeline.extent();
            (start, start + interval * 8)
        }
    }
}

/// The first gap between two holds of the `io` thread that lasted half an interval or more:
/// from the end of one hold to the end of the next (so the regained hold shows).
fn lost_round_trip(timeline: &Timeline, interval: Duration) -> Option<(Duration, Duration)> {
    let io = timeline.threads().iter().find(|t| t.name == "io")?.thread;
    let holds: Vec<_> = timeline.spans().iter().filter(|s| s.thread == io).collect();
    holds
        .windows(2)
        .find(|pair| pair[1].start.saturating_sub(pair[0].end) >= interval / 2)
        .map(|pair| (pair[0].end, pair[1].end))
}

/// One live batch on a fresh interpreter at `interval`.
fn live_batch(
    cfg: &Config,
    server: &LoopbackServer,
    interval: Duration,
    with_cpu: bool,
    chart: bool,
) -> anyhow::Result<(RoundTrips, u64, Option<Timeline>)> {
    let gil = cfg.gil();
    gil.set_switch_interval(interval)?;
    if chart {
        gil.record_timeline();
    }
    let batch = Convoy {
        ops: cfg.ops,
        time_limit: BATCH_TIME_LIMIT,
        spinner: with_cpu.then_some(SPIN_CHUNK),
    };
    let trips = echo::round_trips(&gil, server.addr(), batch)?;
    let timeline = chart.then(|| gil.take_timeline());
    Ok((trips, gil.stats().switches, timeline))
}

/// Time the three batches live, taking turns.
pub fn measure(cfg: &Config) -> anyhow::Result<Report> {
    let interval = cfg.gil.interval();
    let short = short_interval(interval);
    let server = LoopbackServer::start(Behaviour::Echo)?;
    let (mut alone, mut beside, mut beside_short) = (Vec::new(), Vec::new(), Vec::new());
    let (mut switches_and_wins, mut timeline) = (Vec::new(), None);
    let one_round = (interval + short) * cfg.ops as u32;
    for round in 0..cfg.rounds(one_round) {
        let (t, _, _) = live_batch(cfg, &server, interval, false, false)?;
        alone.push(Batch::from_trips(&t));
        let (t, switches, zoomed) = live_batch(cfg, &server, interval, true, round == 0)?;
        beside.push(Batch::from_trips(&t));
        switches_and_wins.push((switches, t.io_won_back));
        if round == 0 {
            timeline = zoomed;
        }
        let (t, switches, _) = live_batch(cfg, &server, short, true, false)?;
        beside_short.push(Batch::from_trips(&t));
        switches_and_wins.push((switches, t.io_won_back));
    }
    server.shutdown()?;
    Ok(Report {
        interval,
        short_interval: short,
        alone: Batch::middle_of(&alone),
        beside: Batch::middle_of(&beside),
        beside_short: Batch::middle_of(&beside_short),
        switches_and_wins,
        timeline: timeline
            .ok_or_else(|| anyhow::anyhow!("the first batch records its timeline"))?,
    })
}

/// One simulated batch: the I/O thread's round trips, beside a spinner or not.
fn sim_batch(cfg: &Config, cores: usize, interval: Duration, with_cpu: bool) -> (Batch, Timeline) {
    let mut sim = cfg.sim(cores);
    sim.switch_interval = interval;
    let ops = cfg.ops as u32;
    let mut scripts = Vec::new();
    if with_cpu {
        // Long enough to outlast the round trips even if every one waits an interval.
        let spin = (interval + SIM_ROUND_TRIP * 4) * ops + interval * 4;
        scripts.push(Script::new("cpu", vec![Step::Bytecode(spin)]));
    }
    scripts.push(Script::new(
        "io",
        vec![Step::Repeat(
            ops,
            vec![
                Step::RoundTrip(SIM_ROUND_TRIP),
                Step::Bytecode(SIM_PYTHON_PER_TRIP),
            ],
        )],
    ));
    let run = simulate(&sim, scripts);
    let io = run.stats().threads.iter().find(|t| t.name == "io");
    let trips = run.round_trips.len().max(1);
    let total: Duration = run.round_trips.iter().sum::<Duration>() + SIM_PYTHON_PER_TRIP * ops;
    let (won_back, waited) = io.map_or((0, Duration::ZERO), |t| {
        // The first take of the GIL is not a round trip's.
        (t.switches_in.saturating_sub(1), t.waited)
    });
    let batch = Batch {
        ops: trips,
        per_op: total / trips as u32,
        lost_share: (won_back as f64 / trips as f64).min(1.0),
        mean_wait: (won_back > 0).then(|| waited.div_f64(won_back as f64)),
        io_wait_share: (waited.as_secs_f64() / total.as_secs_f64().max(1e-12)).min(1.0),
    };
    (batch, run.timeline)
}

/// The three batches on the simulator.
pub fn simulated(cfg: &Config, cores: usize) -> Report {
    let interval = cfg.gil.interval();
    let short = short_interval(interval);
    let (alone, _) = sim_batch(cfg, cores, interval, false);
    let (beside, timeline) = sim_batch(cfg, cores, interval, true);
    let (beside_short, _) = sim_batch(cfg, cores, short, true);
    Report {
        interval,
        short_interval: short,
        alone,
        beside,
        beside_short,
        switches_and_wins: Vec::new(),
        timeline,
    }
}

/// Part 5 in the lesson's table.
pub struct ConvoyEffect;

impl Part<Config> for ConvoyEffect {
    type Figures = Report;

    fn title(&self) -> &'static str {
        "the convoy effect"
    }

    fn python(&self) -> &'static str {
        PYTHON
    }

    fn text(&self) -> &'static str {
        TEXT
    }

    fn cores_needed(&self, _cfg: &Config) -> usize {
        2
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
pub const TEXT: &str = include_str!("part5_convoy.md");

/// Print the figures of `r` and the claims they support, beside the simulator's `expected`.
pub fn show(cx: &mut Cx, cfg: &Config, r: &Report, expected: &Report) -> anyhow::Result<()> {
    report::note(&format!("{} echo round trips over loopback:", cfg.ops));
    let free = cfg.free_threaded();
    let mut table = report::Table::new(if free {
        &["I/O thread", "per round trip"][..]
    } else {
        &["I/O thread", "per round trip", "lost the GIL", "mean wait"][..]
    });
    for (what, b) in [
        ("alone".to_owned(), &r.alone),
        (
            format!("beside CPU, {}", fmt_duration(r.interval)),
            &r.beside,
        ),
        (
            format!("beside CPU, {}", fmt_duration(r.short_interval)),
            &r.beside_short,
        ),
    ] {
        let mut row = vec![what, fmt_duration(b.per_op)];
        if !free {
            row.push(format!("{:.0} %", b.lost_share * 100.0));
            row.push(b.mean_wait.map_or("-".to_owned(), fmt_duration));
        }
        table.push(row);
    }
    table.print();
    if free {
        let slowdown = expected.slowdown();
        cx.claim(Claim {
            figure: "round trip beside the CPU thread / alone",
            unit: Unit::Ratio,
            measured: r.slowdown(),
            expected: slowdown,
            low: 0.5,
            high: (slowdown * 2.0).max(3.0),
            text: "Without a GIL there is nothing to win back: round trips beside the CPU \
                   thread cost about what they cost alone.",
        });
        return Ok(());
    }
    let lost = expected.beside.lost_share * 100.0;
    let (low, high, text) = if lost >= 50.0 {
        (
            50.0,
            100.0,
            "Most round trips lost the GIL to the spinner before their answer came back: \
             the convoy.",
        )
    } else {
        (
            0.0,
            50.0,
            "Beside the CPU thread, most round trips got the GIL straight back: the answer \
             came back before the spinner took the GIL.",
        )
    };
    cx.claim(Claim {
        figure: "round trips that lost the GIL beside the CPU thread",
        unit: Unit::Percent,
        measured: r.beside.lost_share * 100.0,
        expected: lost,
        low,
        high,
        text,
    });
    let interval_ms = r.interval.as_secs_f64() * 1e3;
    let wait = expected
        .beside
        .mean_wait
        .map_or(f64::NAN, |w| w.as_secs_f64() * 1e3);
    // The waits track the interval only where it is long next to waking a thread.
    if (interval_ms * 0.5..=interval_ms * 3.0).contains(&wait) {
        cx.claim(Claim {
            figure: "wait to win the GIL back",
            unit: Unit::Millis,
            measured: r
                .beside
                .mean_wait
                .map_or(f64::NAN, |w| w.as_secs_f64() * 1e3),
            expected: wait,
            low: interval_ms * 0.5,
            high: interval_ms * 3.0,
            text: "Each time, the I/O thread waited about one switch interval to get the \
                   GIL back.",
        });
    }
    let gain = expected.gain_from_shorter_interval();
    let (low, high, text) = if gain >= 2.0 {
        (
            gain * 0.5,
            gain * 2.0,
            "A shorter interval shortened each wait in proportion, at the price of more \
             switches for everybody.",
        )
    } else {
        (
            0.5,
            2.0,
            "At an interval this short a shorter one gains little: the wait is set by how \
             fast a thread wakes up, not by the interval.",
        )
    };
    cx.claim(Claim {
        figure: "faster at the shorter interval",
        unit: Unit::Ratio,
        measured: r.gain_from_shorter_interval(),
        expected: gain,
        low: low.min(gain),
        high: high.max(gain),
        text,
    });
    report::note("One round trip beside the CPU thread:");
    let (from, to) = zoom(&r.timeline, r.interval);
    print_chart(&r.timeline.render_window(from, to, CHART_CELLS));
    let (start, _) = r.timeline.extent();
    cx.figure(
        &TimelineChart::new(
            "convoy",
            "The convoy: an I/O thread beside a CPU thread",
            &r.timeline,
        )
        .window(start, (start + r.interval * 8).max(to))
        .zoom(from, to)
        .caption("Zoomed: one round trip that lost the GIL, and the interval it waited."),
    )?;
    if cx.session().figures.is_on() {
        cx.figure(&latency_chart(cfg, cx.sim_cores()))?;
    }
    Ok(())
}

/// Round-trip time against the switch interval, alone and beside the CPU thread, from the
/// simulator's batches (drawn only for `--svg`: it runs sixteen more batches).
fn latency_chart(cfg: &Config, cores: usize) -> LineChart {
    const INTERVALS_MS: [f64; 8] = [0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0];
    let micros_per_trip = |ms: f64, with_cpu: bool| {
        let (batch, _) = sim_batch(cfg, cores, Duration::from_secs_f64(ms / 1e3), with_cpu);
        batch.per_op.as_secs_f64() * 1e6
    };
    LineChart::new(
        "convoy-latency",
        "Round-trip time against the switch interval",
        "switch interval (ms)",
        "µs per round trip",
    )
    .caption("Simulated: beside a CPU thread a round trip waits about one interval.")
    .x_scale(Scale::Log10)
    .y_scale(Scale::Log10)
    .series(Series::new(
        "beside a CPU thread",
        INTERVALS_MS.map(|ms| (ms, micros_per_trip(ms, true))),
    ))
    .series(Series::new(
        "alone",
        INTERVALS_MS.map(|ms| (ms, micros_per_trip(ms, false))),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_short_interval_is_never_zero() {
        assert_eq!(
            short_interval(Duration::from_millis(5)),
            Duration::from_millis(1)
        );
        assert_eq!(
            short_interval(Duration::from_micros(500)),
            Duration::from_micros(100)
        );
        assert_eq!(
            short_interval(Duration::from_nanos(1)),
            Duration::from_micros(1)
        );
    }

    #[test]
    fn simulated_convoy_pays_an_interval_per_round_trip() {
        let cfg = Config::quick(crate::default_gil_args());
        let r = simulated(&cfg, 2);
        assert_eq!(r.alone.lost_share, 0.0);
        assert!(r.beside.lost_share > 0.9, "{r:?}");
        let gain = r.gain_from_shorter_interval();
        assert!(gain > 3.0 && gain < 6.0, "{gain}");
    }

    #[test]
    fn simulated_convoy_figures_are_exact() {
        let r = simulated(&Config::quick(crate::default_gil_args()), 2);
        assert_eq!(r.alone.per_op, Duration::from_micros(41));
        assert_eq!(r.beside.per_op, Duration::from_micros(5_141));
        assert_eq!(r.beside_short.per_op, Duration::from_micros(1_141));
        assert_eq!(r.beside.lost_share, 1.0);
        assert_eq!(r.beside.mean_wait, Some(Duration::from_micros(5_355)));
    }
}
