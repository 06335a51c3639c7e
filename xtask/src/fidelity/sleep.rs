//! Blocking sleeps: one after another ÷ all at once in threads.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Experiment;
use super::live::LiveModel;
use super::script::Header;
use super::simulated::{Simulator, duration};
use super::table::{Figures, RATIO, Row};

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
    /// Median speedup, each sleep inside `detach`.
    pub speedup: f64,
}

/// What the simulator found.
#[derive(Clone, Debug, Serialize)]
pub struct Simulated {
    /// The same waits one after another ÷ in threads.
    pub speedup: f64,
}

impl Experiment for Sleep {
    const NAME: &'static str = "sleep";
    type Cpython = Cpython;
    type Live = Live;
    type Simulated = Simulated;

    fn live(model: &LiveModel, py: &Cpython) -> anyhow::Result<Live> {
        let nap = Duration::from_secs_f64(py.seconds);
        let speedup = model.overlap(py.threads, py.repeats, |_| {
            std::thread::sleep(nap);
            Ok(())
        })?;
        Ok(Live { speedup })
    }

    fn simulate(sim: &Simulator, py: &Cpython) -> Simulated {
        Simulated {
            speedup: sim.overlap(py.threads, duration(py.seconds)),
        }
    }

    fn rows(_: &Header, py: &Cpython, live: &Live, sim: &Simulated) -> Vec<Row> {
        vec![Row::new(
            format!("I/O: {} threads of blocking sleeps, speedup", py.threads),
            Figures::ratios(py.speedup, live.speedup, sim.speedup),
            RATIO,
            "sleeps overlap on both sides; a miss means threads were scheduled late on a loaded machine",
        )]
    }
}
