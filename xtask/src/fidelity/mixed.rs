//! The tutorial's mixed workload: each worker counts down, then sleeps; all workers together
//! ÷ one worker alone.

use std::time::Duration;

use gil_core::GilGuard;
use gil_core::sim::Step;
use gil_core::work::countdown;
use serde::{Deserialize, Serialize};

use super::Experiment;
use super::live::{LiveModel, median_by, wall};
use super::script::Header;
use super::simulated::{Simulator, duration};
use super::table::{Figures, RATIO, Row};

/// This experiment.
pub struct Mixed;

/// What `fidelity.py` measured.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Cpython {
    /// Workers started together.
    pub workers: usize,
    /// Countdown steps of each worker.
    pub n: u64,
    /// Median time of `countdown(n)` alone, in seconds.
    pub cpu_s: f64,
    /// Each worker's sleep, in seconds.
    pub io_s: f64,
    /// Tries.
    pub repeats: usize,
    /// Median of (all workers ÷ one worker alone).
    pub ratio: f64,
}

/// What the live model measured.
#[derive(Clone, Debug, Serialize)]
pub struct Live {
    /// Countdown steps of each worker (as long as CPython's `countdown(n)`).
    pub steps: u64,
    /// How long the model's countdown took alone, in seconds.
    pub cpu_s: f64,
    /// Median of (all workers ÷ one worker alone).
    pub ratio: f64,
}

/// What the simulator found.
#[derive(Clone, Debug, Serialize)]
pub struct Simulated {
    /// All workers ÷ one worker alone.
    pub ratio: f64,
}

impl Experiment for Mixed {
    const NAME: &'static str = "mixed";
    type Cpython = Cpython;
    type Live = Live;
    type Simulated = Simulated;

    fn live(model: &LiveModel, py: &Cpython) -> anyhow::Result<Live> {
        let steps = model.steps_for(py.cpu_s);
        let io = Duration::from_secs_f64(py.io_s);
        let worker = |g: &mut GilGuard<'_>| {
            countdown(g, steps);
            g.detach(|| std::thread::sleep(io));
        };
        let gil = model.gil()?;
        let cpu_s = wall(|| gil.attach("alone", |g| countdown(g, steps)));
        let ratios: Vec<f64> = (0..py.repeats.max(1))
            .map(|_| {
                let alone = wall(|| gil.run_threads(1, |_, g| worker(g)));
                let together = wall(|| gil.run_threads(py.workers, |_, g| worker(g)));
                together / alone
            })
            .collect();
        Ok(Live {
            steps,
            cpu_s,
            ratio: median_by(&ratios, |v| **v).copied().unwrap_or(f64::NAN),
        })
    }

    fn simulate(sim: &Simulator, py: &Cpython) -> Simulated {
        let worker = [
            Step::Bytecode(duration(py.cpu_s)),
            Step::Blocking(duration(py.io_s)),
        ];
        let alone = sim.seconds(Simulator::threads(1, &worker));
        let together = sim.seconds(Simulator::threads(py.workers, &worker));
        Simulated {
            ratio: together / alone.max(1e-12),
        }
    }

    fn rows(_: &Header, py: &Cpython, live: &Live, sim: &Simulated) -> Vec<Row> {
        vec![Row::new(
            format!(
                "mixed: {} workers (CPU, then sleep) ÷ 1 worker (wall)",
                py.workers
            ),
            Figures::ratios(py.ratio, live.ratio, sim.ratio),
            RATIO,
            "the ratio follows the CPU phase's length; the calibration or CPython's phase was disturbed by load",
        )]
    }
}
