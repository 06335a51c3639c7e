//! Blocking sleeps: one after another ÷ all at once in threads.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Experiment;
use super::live::LiveModel;
use super::script::Header;
use super::table::{RATIO, Row, Value};

/// This experiment.
pub struct Sleep;

/// What `fidelity.py` measured.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Cpython {
    /// Sleeping threads.
    pub threads: usize,
    /// Each sleep, in seconds.
    pub seconds: f64,
    /// Tries.
    pub repeats: usize,
    /// Median speedup of the tries.
    pub speedup: f64,
}

/// What the live model measured.
#[derive(Clone, Debug, Serialize)]
pub struct Live {
    /// Median speedup, each sleep inside `allow_threads`.
    pub speedup: f64,
}

impl Experiment for Sleep {
    const NAME: &'static str = "sleep";
    type Cpython = Cpython;
    type Live = Live;

    fn live(model: &LiveModel, py: &Cpython) -> anyhow::Result<Live> {
        let nap = Duration::from_secs_f64(py.seconds);
        let speedup = model.overlap(py.threads, py.repeats, |_| {
            std::thread::sleep(nap);
            Ok(())
        })?;
        Ok(Live { speedup })
    }

    fn rows(_: &Header, py: &Cpython, live: &Live) -> Vec<Row> {
        vec![Row::new(
            format!("I/O: {} threads of blocking sleeps, speedup", py.threads),
            Value::Ratio(py.speedup),
            Value::Ratio(live.speedup),
            RATIO,
            "sleeps overlap on both sides; a miss means threads were scheduled late on a loaded machine",
        )]
    }
}
