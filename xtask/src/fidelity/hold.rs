//! Holds: how long one CPU-bound thread runs before a waiting one gets the GIL.

use std::time::{Duration, Instant};

use gil_core::sim::Step;
use gil_core::work::countdown;
use serde::{Deserialize, Serialize};

use super::Experiment;
use super::live::{LiveModel, median_by};
use super::script::Header;
use super::simulated::{Simulator, duration};
use super::table::{Figures, RATIO, Row, Value};

/// This experiment.
pub struct Hold;

/// What `fidelity.py` measured.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Cpython {
    /// How long the two threads spun, in seconds.
    pub seconds: f64,
    /// Holds seen.
    pub count: usize,
    /// Median hold in ms; None when no hand-off was seen.
    pub median_ms: Option<f64>,
}

/// What the live model measured.
#[derive(Clone, Debug, Serialize)]
pub struct Live {
    /// Median contended hold in ms (None: no hand-off, e.g. free-threaded).
    pub median_ms: Option<f64>,
    /// Contended holds seen.
    pub count: usize,
}

/// What the simulator found: the same figures as the live model's.
pub type Simulated = Live;

impl Live {
    /// The median and count of `holds`.
    fn of(holds: &[Duration]) -> Live {
        let ms: Vec<f64> = holds.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        Live {
            median_ms: median_by(&ms, |v| **v).copied(),
            count: ms.len(),
        }
    }
}

impl Experiment for Hold {
    const NAME: &'static str = "hold";
    type Cpython = Cpython;
    type Live = Live;
    type Simulated = Simulated;

    /// Two spinning threads: the median contended hold, and how many holds there were.
    fn live(model: &LiveModel, py: &Cpython) -> anyhow::Result<Live> {
        let gil = model.gil()?;
        let (length, chunk) = (Duration::from_secs_f64(py.seconds), model.chunk());
        gil.record_timeline();
        let clock = Instant::now();
        gil.run_threads(2, |_, g| {
            while clock.elapsed() < length {
                countdown(g, chunk);
            }
        });
        Ok(Live::of(&gil.take_timeline().contended_holds()))
    }

    /// Two threads computing for as long as CPython's spun, half of it each.
    fn simulate(sim: &Simulator, py: &Cpython) -> Simulated {
        let half = Step::Bytecode(duration(py.seconds / 2.0));
        let run = sim.run(Simulator::threads(2, &[half]));
        Live::of(&run.timeline.contended_holds())
    }

    fn rows(header: &Header, py: &Cpython, live: &Live, sim: &Simulated) -> Vec<Row> {
        let hold = |ms: Option<f64>| match ms {
            _ if !header.gil_enabled => Value::Missing("no GIL".into()),
            Some(ms) => Value::Millis(ms),
            None => Value::Missing("no hand-off seen".into()),
        };
        let figures = Figures {
            cpython: hold(py.median_ms),
            model: hold(live.median_ms),
            simulator: hold(sim.median_ms),
        };
        vec![Row::new(
            "GIL hold before a waiting thread gets it (median)",
            figures,
            RATIO,
            "other processes delay the waiter's wake-up or the holder's check point: holds stretch past the interval",
        )]
    }
}
