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

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Duration;

use anyhow::Context as _;
use gil_core::measure::{Stopwatch, fmt_count, fmt_duration, fmt_ratio};
use gil_core::work::countdown;
use gil_core::{Gil, GilGuard, report};

use crate::server::{Behaviour, LoopbackServer};
use crate::{CHART_CELLS, Config, fmt_percent, print_chart};

/// Countdown steps the CPU thread runs between two looks at its stop flag.
const SPIN_CHUNK: u64 = 50_000;

/// Bytes in one echo message.
const MESSAGE: &[u8; 16] = b"ping-0123456789\n";

/// One timed batch of round trips.
#[derive(Clone, Debug)]
pub struct Measurement {
    /// Round trips made.
    pub ops: usize,
    /// Time for all of them.
    pub elapsed: Duration,
    /// Switch interval in force.
    pub switch_interval: Duration,
    /// Time the I/O thread spent waiting to get the GIL back during the batch.
    pub io_waited: Duration,
    /// Times during the batch the GIL came back to the I/O thread from another thread.
    pub io_won_back: u64,
    /// Times the GIL changed hands during the batch.
    pub switches: u64,
}

impl Measurement {
    /// Average time of one round trip.
    pub fn per_op(&self) -> Duration {
        self.elapsed / self.ops.max(1) as u32
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
        self.beside.per_op().as_secs_f64() / self.alone.per_op().as_secs_f64().max(1e-12)
    }
}

/// What the I/O thread saw during its round trips.
struct IoRun {
    elapsed: Duration,
    waited: Duration,
    won_back: u64,
}

/// `ops` echo round trips; every blocking call with the GIL released.
fn round_trips(py: &mut GilGuard<'_>, conn: &mut TcpStream, ops: usize) -> anyhow::Result<IoRun> {
    let mut back = [0u8; MESSAGE.len()];
    let before = py.stats();
    let clock = Stopwatch::start();
    for op in 0..ops {
        py.allow_threads(|| conn.write_all(MESSAGE))?;
        py.allow_threads(|| conn.read_exact(&mut back))?;
        anyhow::ensure!(&back == MESSAGE, "echo {op} came back wrong");
        py.check_point();
    }
    let elapsed = clock.elapsed();
    let after = py.stats();
    Ok(IoRun {
        elapsed,
        waited: after.waited - before.waited,
        won_back: after.switches_in - before.switches_in,
    })
}

/// Time `ops` round trips, optionally beside a spinning CPU thread; optionally chart the start.
fn measure(
    cfg: &Config,
    server: &LoopbackServer,
    interval: Duration,
    with_cpu: bool,
    chart: bool,
) -> anyhow::Result<(Measurement, String)> {
    let gil: Gil = cfg.gil()?;
    gil.set_switch_interval(interval)?;
    let mut conn = TcpStream::connect(server.addr()).context("connecting to the echo server")?;
    conn.set_nodelay(true)?;
    let (stop, cpu_running) = (AtomicBool::new(false), AtomicBool::new(!with_cpu));
    if chart {
        gil.record_timeline();
    }
    let result = std::thread::scope(|s| {
        if with_cpu {
            s.spawn(|| {
                let mut py = gil.acquire("cpu");
                cpu_running.store(true, Relaxed);
                while !stop.load(Relaxed) {
                    countdown(&mut py, SPIN_CHUNK);
                }
            });
        }
        while !cpu_running.load(Relaxed) {
            std::thread::yield_now();
        }
        let io = s.spawn(|| {
            let mut py = gil.acquire("io");
            round_trips(&mut py, &mut conn, cfg.ops)
        });
        let joined = io.join();
        // Whatever happened to the I/O thread, the spinner must stop or the scope never ends.
        stop.store(true, Relaxed);
        joined.unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    });
    let io = result?;
    let stats = gil.stats();
    let chart = if chart {
        let timeline = gil.take_timeline();
        let (start, _) = timeline.extent();
        timeline.render_window(start, start + interval * 8, CHART_CELLS)
    } else {
        String::new()
    };
    Ok((
        Measurement {
            ops: cfg.ops,
            elapsed: io.elapsed,
            switch_interval: interval,
            io_waited: io.waited,
            io_won_back: io.won_back,
            switches: stats.switches,
        },
        chart,
    ))
}

fn print_measurement(label: &str, m: &Measurement, free_threaded: bool) {
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
        base / 5
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
            r.beside.per_op().as_secs_f64() / r.beside_short.per_op().as_secs_f64().max(1e-12),
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
