//! The convoy effect: echo round trips alone, and beside one CPU-bound thread at CPython's
//! switch interval and at 1 ms. The model side is `gil_core::echo`, the same measurement the
//! I/O lesson makes.

use std::time::Duration;

use gil_core::echo::{self, Behaviour, LoopbackServer};
use gil_core::measure::fmt_duration;
use gil_core::sim::{Script, Step};
use serde::{Deserialize, Serialize};

use super::Experiment;
use super::live::{LiveModel, median_by};
use super::script::Header;
use super::simulated::{Simulator, duration};
use super::table::{Figures, Row, Tolerance};

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

/// The longest one batch of round trips may run (CPython's take milliseconds).
const BATCH_LIMIT: Duration = Duration::from_secs(60);

/// What the simulator found: the same figures as the live model's, each the mean of one
/// batch (the simulator gives the same figure every time).
pub type Simulated = Live;

impl Experiment for Convoy {
    const NAME: &'static str = "convoy";
    type Cpython = Cpython;
    type Live = Live;
    type Simulated = Simulated;

    fn live(model: &LiveModel, py: &Cpython) -> anyhow::Result<Live> {
        let server = LoopbackServer::start(Behaviour::Echo)?;
        let per_op = |interval: Duration, spin: Option<u64>| -> anyhow::Result<f64> {
            let ms = (0..py.batches.max(1))
                .map(|_| {
                    let gil = model.gil()?;
                    gil.set_switch_interval(interval)?;
                    let batch = echo::Convoy {
                        ops: py.round_trips,
                        time_limit: BATCH_LIMIT,
                        spinner: spin,
                    };
                    let done = echo::round_trips(&gil, server.addr(), batch)?;
                    Ok(done.per_op().as_secs_f64() * 1e3)
                })
                .collect::<anyhow::Result<Vec<f64>>>()?;
            Ok(median_by(&ms, |v| **v).copied().unwrap_or(f64::NAN))
        };
        let live = Live {
            alone_ms: per_op(model.interval, None)?,
            beside_ms: per_op(model.interval, Some(model.chunk()))?,
            beside_1ms_ms: per_op(Duration::from_millis(1), Some(model.chunk()))?,
        };
        server.shutdown()?;
        Ok(live)
    }

    /// The echo server takes as long to answer as a lone round trip took on CPython; beside
    /// it, a thread computes for longer than the round trips can last.
    fn simulate(sim: &Simulator, py: &Cpython) -> Simulated {
        let answer = duration(py.alone_ms / 1e3);
        let trips = u32::try_from(py.round_trips).unwrap_or(u32::MAX).max(1);
        let per_op = |interval: Duration, spinner: bool| {
            let io = Script::new(
                "io",
                vec![Step::Repeat(trips, vec![Step::RoundTrip(answer)])],
            );
            // Each round trip waits at most about one interval for the GIL: twice that per
            // trip keeps the spinner going until the last one is back.
            let spin = (interval * 2 + answer) * trips + Duration::from_millis(10);
            let scripts = if spinner {
                vec![Script::new("cpu", vec![Step::Bytecode(spin)]), io]
            } else {
                vec![io]
            };
            let run = sim.with_interval(interval).run(scripts);
            let total: Duration = run.round_trips.iter().sum();
            total.as_secs_f64() * 1e3 / run.round_trips.len().max(1) as f64
        };
        let interval = sim.cfg.switch_interval;
        Live {
            alone_ms: per_op(interval, false),
            beside_ms: per_op(interval, true),
            beside_1ms_ms: per_op(Duration::from_millis(1), true),
        }
    }

    fn rows(header: &Header, py: &Cpython, live: &Live, sim: &Simulated) -> Vec<Row> {
        let interval = fmt_duration(Duration::from_secs_f64(header.switch_interval_ms / 1e3));
        let wake_race = "a round trip pays an interval only if the spinner wakes before the I/O returns: a race that load tilts";
        vec![
            Row::new(
                "convoy: one echo round trip, alone",
                Figures::millis(py.alone_ms, live.alone_ms, sim.alone_ms),
                LONE_ROUND_TRIP,
                "a lone loopback round trip is tens of µs of thread wake-ups, which a busy machine delays unevenly",
            ),
            Row::new(
                format!("convoy: beside 1 CPU thread, {interval} interval"),
                Figures::millis(py.beside_ms, live.beside_ms, sim.beside_ms),
                CONVOY,
                wake_race,
            ),
            Row::new(
                "convoy: beside 1 CPU thread, 1 ms interval",
                Figures::millis(py.beside_1ms_ms, live.beside_1ms_ms, sim.beside_1ms_ms),
                CONVOY,
                wake_race,
            ),
        ]
    }
}
