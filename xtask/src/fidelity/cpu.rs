//! CPU-bound: two threads counting down `n` each ÷ one thread counting down `2n`.

use gil_core::work::countdown;
use serde::{Deserialize, Serialize};

use super::Experiment;
use super::live::{LiveModel, median, wall};
use super::script::Header;
use super::table::{RATIO, Row, Value};

/// This experiment.
pub struct Cpu;

/// What `fidelity.py` measured.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Cpython {
    /// Countdown steps per thread (one thread counts twice as many).
    pub n: u64,
    /// Repeats, each one thread then two.
    pub repeats: usize,
    /// Median time of one thread counting down `2n`, in seconds.
    pub one_s: f64,
    /// Median of (two threads ÷ one thread).
    pub ratio: f64,
}

/// What the live model measured.
#[derive(Clone, Debug, Serialize)]
pub struct Live {
    /// Countdown steps per thread (one thread runs twice as many).
    pub steps: u64,
    /// Median time of one thread, in seconds.
    pub one_s: f64,
    /// Median of (two threads ÷ one thread).
    pub ratio: f64,
}

impl Experiment for Cpu {
    const NAME: &'static str = "cpu";
    type Cpython = Cpython;
    type Live = Live;

    /// Two threads ÷ one thread, the countdown as long as CPython's.
    fn live(model: &LiveModel, py: &Cpython) -> anyhow::Result<Live> {
        let steps = model.steps_for(py.one_s) / 2;
        let (ones, ratios): (Vec<f64>, Vec<f64>) = (0..py.repeats.max(1))
            .map(|_| {
                let gil = model.gil()?;
                let one = wall(|| gil.run_threads(1, |_, g| countdown(g, 2 * steps)));
                let two = wall(|| gil.run_threads(2, |_, g| countdown(g, steps)));
                Ok((one, two / one))
            })
            .collect::<anyhow::Result<Vec<_>>>()?
            .into_iter()
            .unzip();
        Ok(Live {
            steps,
            one_s: median(&ones),
            ratio: median(&ratios),
        })
    }

    fn rows(_: &Header, py: &Cpython, live: &Live) -> Vec<Row> {
        vec![Row::new(
            "CPU-bound: 2 threads ÷ 1 thread, same work (wall)",
            Value::Ratio(py.ratio),
            Value::Ratio(live.ratio),
            RATIO,
            "two-thread ratios swing 0.8-1.5 run to run on a busy host; medians of more repeats settle it",
        )]
    }
}
