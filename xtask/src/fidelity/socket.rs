//! Socket waits: requests to a server that answers after a delay, one after another ÷ in
//! threads.

use std::time::Duration;

use gil_core::echo::{Behaviour, LoopbackServer, fetch};
use serde::{Deserialize, Serialize};

use super::Experiment;
use super::live::LiveModel;
use super::script::Header;
use super::simulated::{Simulator, duration};
use super::table::{Figures, RATIO, Row};

/// This experiment.
pub struct Socket;

/// What `fidelity.py` measured.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Cpython {
    /// Requests, one per thread.
    pub threads: usize,
    /// How long the server waits before it answers, in seconds.
    pub delay_s: f64,
    /// Tries.
    pub repeats: usize,
    /// Median speedup of the tries.
    pub speedup: f64,
}

/// What the live model measured.
#[derive(Clone, Debug, Serialize)]
pub struct Live {
    /// Median speedup, each request inside `detach`.
    pub speedup: f64,
}

/// What the simulator found.
#[derive(Clone, Debug, Serialize)]
pub struct Simulated {
    /// The same waits one after another ÷ in threads.
    pub speedup: f64,
}

impl Experiment for Socket {
    const NAME: &'static str = "socket";
    type Cpython = Cpython;
    type Live = Live;
    type Simulated = Simulated;

    /// Requests to a slow loopback server, one after another ÷ in threads.
    fn live(model: &LiveModel, py: &Cpython) -> anyhow::Result<Live> {
        let delay = Duration::from_secs_f64(py.delay_s);
        let server = LoopbackServer::start(Behaviour::Delayed(delay))?;
        let addr = server.addr();
        let speedup = model.overlap(py.threads, py.repeats, |i| {
            fetch(addr, &format!("GET /{i}")).map(drop)
        })?;
        server.shutdown()?;
        Ok(Live { speedup })
    }

    fn simulate(sim: &Simulator, py: &Cpython) -> Simulated {
        Simulated {
            speedup: sim.overlap(py.threads, duration(py.delay_s)),
        }
    }

    fn rows(_: &Header, py: &Cpython, live: &Live, sim: &Simulated) -> Vec<Row> {
        vec![Row::new(
            format!("I/O: {} threads of socket waits, speedup", py.threads),
            Figures::ratios(py.speedup, live.speedup, sim.speedup),
            RATIO,
            "both overlap the server's delay; connection set-up on a loaded machine shrinks one side's speedup",
        )]
    }
}
