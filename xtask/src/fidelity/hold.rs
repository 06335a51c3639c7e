//! Holds: how long one CPU-bound thread runs before a waiting one gets the GIL.

use std::time::{Duration, Instant};

use gil_core::work::countdown;
use serde::{Deserialize, Serialize};

use super::Experiment;
use super::live::{LiveModel, median};
use super::script::Header;
use super::table::{RATIO, Row, Value};

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

impl Experiment for Hold {
    const NAME: &'static str = "hold";
    type Cpython = Cpython;
    type Live = Live;

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
        let holds: Vec<f64> = gil
            .take_timeline()
            .contended_holds()
            .iter()
            .map(|d| d.as_secs_f64() * 1e3)
            .collect();
        Ok(Live {
            median_ms: (!holds.is_empty()).then(|| median(&holds)),
            count: holds.len(),
        })
    }

    fn rows(header: &Header, py: &Cpython, live: &Live) -> Vec<Row> {
        let hold = |ms: Option<f64>| match ms {
            _ if !header.gil_enabled => Value::Missing("no GIL".into()),
            Some(ms) => Value::Millis(ms),
            None => Value::Missing("no hand-off seen".into()),
        };
        vec![Row::new(
            "GIL hold before a waiting thread gets it (median)",
            hold(py.median_ms),
            hold(live.median_ms),
            RATIO,
            "other processes delay the waiter's wake-up or the holder's check point: holds stretch past the interval",
        )]
    }
}
