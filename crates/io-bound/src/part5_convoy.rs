//! Part 5 — the convoy effect (David Beazley, PyCon 2010; CPython issue bpo-7946).
//!
//! An I/O thread that makes many *short* blocking calls — here, echo round trips over loopback,
//! a send and a receive each, both inside `allow_threads` as CPython's socket module does —
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

use std::time::Duration;

use gil_core::echo::{self, Behaviour, Convoy, LoopbackServer, RoundTrips};
use gil_core::measure::{fmt_count, fmt_duration, fmt_ratio};
use gil_core::{Gil, report};

use crate::{CHART_CELLS, Config, fmt_percent, print_chart};

/// Countdown steps the CPU thread runs between two looks at its stop flag.
const SPIN_CHUNK: u64 = 50_000;

/// The longest one batch of round trips may run; it reports the round trips it made by then.
pub const BATCH_TIME_LIMIT: Duration = Duration::from_secs(20);

/// One timed batch of round trips.
#[derive(Clone, Debug)]
pub struct Measurement {
    /// What the I/O thread saw.
    pub trips: RoundTrips,
    /// Switch interval in force.
    pub switch_interval: Duration,
    /// Times the GIL changed hands during the batch.
    pub switches: u64,
}

/// What part 5 measured.
#[derive(Clone, Debug)]
pub struct Report {
    /// The I/O thread alone.
    pub alone: Measurement,
    /// Beside one CPU-bound thread, at the configured switch interval.
    pub beside: Measurement,
    /// Beside one CPU-bound thread, at a shorter switch interval.
    pub beside_short: Measurement,
    /// A zoom into the timeline of the `beside` run.
    pub chart: String,
}

impl Report {
    /// How many times slower a round trip is beside the CPU thread.
    pub fn slowdown(&self) -> f64 {
        self.beside.trips.per_op().as_secs_f64() / self.alone.trips.per_op().as_secs_f64()
    }
}

/// Time `cfg.ops` round trips, optionally beside a spinning CPU thread; optionally chart the
/// start.
fn measure(
    cfg: &Config,
    server: &LoopbackServer,
    interval: Duration,
    with_cpu: bool,
    chart: bool,
) -> anyhow::Result<(Measurement, String)> {
    let gil: Gil = cfg.gil()?;
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
    let chart = if chart {
        let timeline = gil.take_timeline();
        let (start, _) = timeline.extent();
        timeline.render_window(start, start + interval * 8, CHART_CELLS)
    } else {
        String::new()
    };
    Ok((
        Measurement {
            trips,
            switch_interval: interval,
            switches: gil.stats().switches,
        },
        chart,
    ))
}

fn print_measurement(label: &str, m: &Measurement, free_threaded: bool) {
    let m = &m.trips;
    report::kv(&format!("{label} per op"), fmt_duration(m.per_op()));
    report::kv(
        &format!("{label} ops per second"),
        fmt_count(m.ops_per_sec().round() as u64),
    );
    if free_threaded {
        return;
    }
    report::kv(
        &format!("{label} io waiting for GIL"),
        fmt_percent(m.io_wait_share()),
    );
    report::kv(
        &format!("{label} GIL lost"),
        format!("{} times in {} round trips", m.io_won_back, m.ops),
    );
    if m.io_won_back > 0 {
        report::kv(
            &format!("{label} wait to win it back (mean)"),
            fmt_duration(m.io_waited / m.io_won_back as u32),
        );
    }
}

/// Run part 5 and print it.
pub fn run(cfg: &Config) -> anyhow::Result<Report> {
    report::heading("Part 5 - the convoy effect: short I/O next to a CPU-bound thread");
    let base = cfg.gil.interval();
    let short = if base > Duration::from_millis(1) {
        Duration::from_millis(1)
    } else {
        // Never divide the interval down to nothing: the model waits at least 1 µs.
        (base / 5).max(Duration::from_micros(1))
    };
    report::note(&format!(
        "{} echo round trips over loopback, send and receive each inside allow_threads.",
        cfg.ops
    ));
    let server = LoopbackServer::start(Behaviour::Echo)?;
    let (alone, _) = measure(cfg, &server, base, false, false)?;
    let (beside, chart) = measure(cfg, &server, base, true, true)?;
    let (beside_short, _) = measure(cfg, &server, short, true, false)?;
    server.shutdown()?;
    let r = Report {
        alone,
        beside,
        beside_short,
        chart,
    };

    let free = cfg.gil.free_threaded;
    print_measurement("alone", &r.alone, free);
    let beside_label = format!("beside CPU thread, {} interval", fmt_duration(base));
    print_measurement(&beside_label, &r.beside, free);
    let short_label = format!("beside CPU thread, {} interval", fmt_duration(short));
    print_measurement(&short_label, &r.beside_short, free);
    report::kv("slowdown beside CPU thread", fmt_ratio(r.slowdown()));
    report::kv(
        "gain from the shorter interval",
        fmt_ratio(
            r.beside.trips.per_op().as_secs_f64() / r.beside_short.trips.per_op().as_secs_f64(),
        ),
    );
    if free {
        report::note(
            "Free-threaded: no GIL to win back. Any slowdown left is the two threads (and the\n\
             server) competing for CPU cores.",
        );
    } else {
        report::note(
            "Each time the I/O thread lost the GIL it waited about one switch interval to win it\n\
             back (CPython's rule: wait an interval, then ask). Whether a round trip loses it is a\n\
             race: when the I/O thread lets go, the woken spinner must take the GIL before the I/O\n\
             returns. On an idle machine it nearly always does, so nearly every round trip pays an\n\
             interval: the convoy. On a busy machine the spinner often wakes too late and fewer\n\
             round trips pay - 'GIL lost' above says how often it happened here.",
        );
        report::note("The first few switch intervals beside the CPU thread:");
        print_chart(&r.chart);
    }
    report::note(
        "CPython's own figures (CPython 3.11.7, measured on a 2-core Debian 12 machine, not by\n\
         this run): 200 echo round trips took 0.014-0.039 ms each alone, 5.1-5.5 ms each\n\
         beside one spinning thread, and 0.95 ms each after sys.setswitchinterval(0.001). The\n\
         cost per op tracks the interval.",
    );
    Ok(r)
}
