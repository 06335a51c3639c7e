//! CPU-bound: two threads counting down `n` each ÷ one thread counting down `2n`.

use gil_core::sim::Step;
use gil_core::work::countdown;
use serde::{Deserialize, Serialize};

use super::Experiment;
use super::live::{LiveModel, median_by, wall};
use super::script::Header;
use super::simulated::{Simulator, duration};
use super::table::{Figures, RATIO, Row};

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

/// What the simulator found.
#[derive(Clone, Debug, Serialize)]
pub struct Simulated {
    /// One thread counting for as long as CPython's one thread did, in seconds.
    pub one_s: f64,
    /// Two threads, each half of it ÷ one thread.
    pub ratio: f64,
}

impl Experiment for Cpu {
    const NAME: &'static str = "cpu";
    type Cpython = Cpython;
    type Live = Live;
    type Simulated = Simulated;

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
            one_s: median_by(&ones, |v| **v).copied().unwrap_or(f64::NAN),
            ratio: median_by(&ratios, |v| **v).copied().unwrap_or(f64::NAN),
        })
    }

    fn simulate(sim: &Simulator, py: &Cpython) -> Simulated {
        let one = sim.seconds(Simulator::threads(1, &[Step::Bytecode(duration(py.one_s))]));
        let half = Step::Bytecode(duration(py.one_s / 2.0));
        let two = sim.seconds(Simulator::threads(2, &[half]));
        Simulated {
            one_s: one,
            ratio: two / one.max(1e-12),
        }
    }

    fn rows(_: &Header, py: &Cpython, live: &Live, sim: &Simulated) -> Vec<Row> {
        vec![Row::new(
            "CPU-bound: 2 threads ÷ 1 thread, same work (wall)",
            Figures::ratios(py.ratio, live.ratio, sim.ratio),
            RATIO,
            "two-thread ratios swing 0.8-1.5 run to run on a busy host; medians of more repeats settle it",
        )]
    }
}
