//! The convoy effect: echo round trips alone, and beside one CPU-bound thread at CPython's
//! switch interval and at 1 ms.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use gil_core::Gil;
use gil_core::measure::fmt_duration;
use gil_core::work::countdown;
use io_bound::server::{Behaviour, LoopbackServer};
use serde::{Deserialize, Serialize};

use super::Experiment;
use super::live::{LiveModel, median};
use super::script::Header;
use super::table::{Row, Tolerance, Value};

/// This experiment.
pub struct Convoy;

/// What `fidelity.py` measured.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Cpython {
    /// Round trips per batch.
    pub round_trips: usize,
    /// Each figure is the median of this many batches.
    pub batches: usize,
    /// Milliseconds per round trip with nothing else running.
    pub alone_ms: f64,
    /// Beside a spinning thread, at CPython's switch interval.
    pub beside_ms: f64,
    /// Beside a spinning thread, at a 1 ms switch interval.
    pub beside_1ms_ms: f64,
}

/// What the live model measured, each a median of as many batches as CPython ran.
#[derive(Clone, Debug, Serialize)]
pub struct Live {
    /// Milliseconds per round trip alone.
    pub alone_ms: f64,
    /// Beside a spinner, at CPython's switch interval.
    pub beside_ms: f64,
    /// Beside a spinner, at 1 ms.
    pub beside_1ms_ms: f64,
}

/// Within a factor of 3: whether a round trip waits a whole interval is decided by a wake-up
/// race (the spinner's timed wait against the I/O's return), which load tilts.
const CONVOY: Tolerance = Tolerance::Factor(3.0);

/// A lone round trip measures loopback and thread wake-ups, not the GIL: on a busy 2-core host
/// it swung between 17 and 165 µs from run to run, on both sides alike.
const LONE_ROUND_TRIP: Tolerance = Tolerance::Factor(5.0);

impl Experiment for Convoy {
    const NAME: &'static str = "convoy";
    type Cpython = Cpython;
    type Live = Live;

    fn live(model: &LiveModel, py: &Cpython) -> anyhow::Result<Live> {
        let server = LoopbackServer::start(Behaviour::Echo)?;
        let per_op = |interval: Duration, spin: Option<u64>| -> anyhow::Result<f64> {
            let ms = (0..py.batches.max(1))
                .map(|_| {
                    let gil = model.gil()?;
                    gil.set_switch_interval(interval)?;
                    round_trips(&gil, &server, py.round_trips, spin)
                })
                .collect::<anyhow::Result<Vec<f64>>>()?;
            Ok(median(&ms))
        };
        let live = Live {
            alone_ms: per_op(model.interval, None)?,
            beside_ms: per_op(model.interval, Some(model.chunk()))?,
            beside_1ms_ms: per_op(Duration::from_millis(1), Some(model.chunk()))?,
        };
        server.shutdown()?;
        Ok(live)
    }

    fn rows(header: &Header, py: &Cpython, live: &Live) -> Vec<Row> {
        let interval = fmt_duration(Duration::from_secs_f64(header.switch_interval_ms / 1e3));
        let wake_race = "a round trip pays an interval only if the spinner wakes before the I/O returns: a race that load tilts";
        let row = |experiment: String, cpython, model, tolerance, if_missed| {
            Row::new(
                experiment,
                Value::Millis(cpython),
                Value::Millis(model),
                tolerance,
                if_missed,
            )
        };
        vec![
            row(
                "convoy: ms per echo round trip, alone".into(),
                py.alone_ms,
                live.alone_ms,
                LONE_ROUND_TRIP,
                "a lone loopback round trip is tens of µs of thread wake-ups, which a busy machine delays unevenly",
            ),
            row(
                format!("convoy: beside 1 CPU thread, {interval} interval"),
                py.beside_ms,
                live.beside_ms,
                CONVOY,
                wake_race,
            ),
            row(
                "convoy: beside 1 CPU thread, 1 ms interval".into(),
                py.beside_1ms_ms,
                live.beside_1ms_ms,
                CONVOY,
                wake_race,
            ),
        ]
    }
}

/// Milliseconds per echo round trip, each send and receive inside `allow_threads` as CPython's
/// socket calls do; with `spin_chunk`, beside one thread counting down in chunks of that many
/// steps until the round trips are done.
fn round_trips(
    gil: &Gil,
    server: &LoopbackServer,
    ops: usize,
    spin_chunk: Option<u64>,
) -> anyhow::Result<f64> {
    let mut conn = TcpStream::connect(server.addr()).context("connecting to the echo server")?;
    conn.set_nodelay(true)?;
    let (stop, spinning) = (
        AtomicBool::new(false),
        AtomicBool::new(spin_chunk.is_none()),
    );
    std::thread::scope(|s| {
        if let Some(chunk) = spin_chunk {
            let (stop, spinning) = (&stop, &spinning);
            s.spawn(move || {
                let mut g = gil.acquire("cpu");
                spinning.store(true, Relaxed);
                while !stop.load(Relaxed) {
                    countdown(&mut g, chunk);
                }
            });
        }
        // Like Python's Thread.start(): the spinner is running before the round trips begin.
        while !spinning.load(Relaxed) {
            std::thread::yield_now();
        }
        let io = s.spawn(|| {
            let mut g = gil.acquire("io");
            let mut back = [0u8; 1];
            let clock = Instant::now();
            for _ in 0..ops {
                g.allow_threads(|| conn.write_all(b"x"))?;
                g.allow_threads(|| conn.read_exact(&mut back))?;
                g.check_point();
            }
            Ok(clock.elapsed().as_secs_f64() * 1e3 / ops.max(1) as f64)
        });
        let result = io.join();
        // Whatever happened to the round trips, the spinner must stop or the scope never ends.
        stop.store(true, Relaxed);
        result.unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}
