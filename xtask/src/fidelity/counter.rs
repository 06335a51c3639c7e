//! Lost updates: `counter += 1` from many threads, under 3.10+ check points and ≤ 3.9 ones.

use gil_core::bytecode::explore::{self, Rules, TABLE_INCREMENTS, TABLE_THREADS};
use gil_core::bytecode::{CheckPolicy, Program, Scheduler, run_counter};
use gil_core::measure::fmt_count;
use gil_core::{Gil, Mode};
use serde::{Deserialize, Serialize};

use super::Experiment;
use super::live::LiveModel;
use super::script::Header;
use super::simulated::Simulator;
use super::table::{Figures, Lost, Row, Tolerance, Value};

/// This experiment.
pub struct Counter;

/// What `fidelity.py` measured.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Cpython {
    /// Threads incrementing at once.
    pub threads: usize,
    /// Increments per thread.
    pub increments: u64,
    /// Runs.
    pub runs: u32,
    /// The most updates one run lost.
    pub worst_lost: u64,
    /// Runs that lost at least one.
    pub runs_lost: u32,
    /// Median wall time of a run, in seconds.
    pub wall_s: f64,
}

impl Cpython {
    fn lost(&self) -> Lost {
        Lost {
            worst: self.worst_lost,
            runs_lost: self.runs_lost,
            runs: self.runs,
        }
    }
}

/// What the live model measured, at CPython's sizes.
#[derive(Clone, Debug, Serialize)]
pub struct Live {
    /// Under the model's own mode (GIL: 3.10+ check points).
    pub counter: Lost,
    /// Under the GIL with ≤ 3.9 check points.
    pub counter_old: Lost,
}

/// What CPython does under the check points this run's Python does not have. The eval loop
/// consults the eval breaker only at calls and backward jumps since 3.10 (bpo-29988,
/// `Python/ceval.c`), so no switch falls between `counter`'s load and its store.
const NOT_RUN_OLD: &str = "not run: <=3.9 loses (bpo-29988)";
const NOT_RUN_NEW: &str = "not run: 3.10+ loses none (bpo-29988)";

const IF_MISSED: &str = "losing needs a switch (without a GIL, true overlap) between the read and the write: a few runs can miss it by chance";

/// What the simulator found: the same figures as the live model's, from gil-core's
/// deterministic bytecode scheduler (the simulator of ordering; `gil_core::sim` has time but
/// no data). Run `r` uses seed `r`, so every run of this command gives the same figures.
pub type Simulated = Live;

impl Experiment for Counter {
    const NAME: &'static str = "counter";
    type Cpython = Cpython;
    type Live = Live;
    type Simulated = Simulated;

    /// The counter race at CPython's sizes: under the model's own mode with 3.10+ check
    /// points, and under the GIL with ≤ 3.9 check points.
    fn live(model: &LiveModel, py: &Cpython) -> anyhow::Result<Live> {
        Ok(Live {
            counter: lost_updates(&model.gil()?, CheckPolicy::BackEdgesAndCalls, py),
            counter_old: lost_updates(&model.gil_in(Mode::Gil)?, CheckPolicy::EveryInstruction, py),
        })
    }

    /// Drop requests arrive, on average, once per switch interval's worth of instructions at
    /// CPython's speed (its run's wall time over the instructions it ran).
    fn simulate(sim: &Simulator, py: &Cpython) -> Simulated {
        let program = Program::increment();
        let instructions = py.threads as f64 * py.increments as f64 * program.code.len() as f64;
        let per_instruction = py.wall_s / instructions.max(1.0);
        let interval = sim.cfg.switch_interval.as_secs_f64();
        let mean_interval = (interval / per_instruction.max(1e-12)).clamp(1.0, 1e12) as u64;
        let free_threaded = sim.cfg.mode == Mode::FreeThreaded;
        let runs = |policy: CheckPolicy, free_threaded: bool| {
            let mut lost = Lost {
                worst: 0,
                runs_lost: 0,
                runs: py.runs.max(1),
            };
            for seed in 1..=u64::from(lost.runs) {
                let replay = Scheduler::new(seed, policy)
                    .free_threaded(free_threaded)
                    .mean_interval(mean_interval)
                    .trace(false)
                    .run(&program, py.threads, py.increments);
                lost.worst = lost.worst.max(replay.lost());
                lost.runs_lost += u32::from(replay.lost() > 0);
            }
            lost
        };
        Live {
            counter: runs(CheckPolicy::BackEdgesAndCalls, free_threaded),
            counter_old: runs(CheckPolicy::EveryInstruction, false),
        }
    }

    fn rows(header: &Header, py: &Cpython, live: &Live, sim: &Simulated) -> Vec<Row> {
        let no_gil = !header.gil_enabled;
        let counter = format!(
            "counter += 1, {} threads × {}",
            py.threads,
            fmt_count(py.increments)
        );
        let measured = Value::Lost(py.lost());
        let (modern_cpython, old_cpython) = if no_gil || header.has_modern_check_points() {
            (measured, Value::Quoted(NOT_RUN_OLD.into()))
        } else {
            (Value::Quoted(NOT_RUN_NEW.into()), measured)
        };
        let modern_model = if no_gil {
            "model: free-threaded"
        } else {
            "model: 3.10+ check points"
        };
        // This Python's switch rule, over every schedule (`cargo xtask model-check`'s table).
        let rules = match crate::python::major_minor(&header.version) {
            _ if no_gil => Rules::FreeThreaded,
            Some(v) if v < (3, 10) => Rules::UpTo39,
            Some(v) if v < (3, 13) => Rules::From310To312,
            _ => Rules::From313,
        };
        let every = Value::Possible(
            explore::explore(
                &Program::increment(),
                TABLE_THREADS,
                TABLE_INCREMENTS,
                |i| rules.switch_after(i),
            )
            .loses(),
        );
        vec![
            Row::new(
                format!("{counter}, lost ({modern_model})"),
                Figures {
                    cpython: modern_cpython,
                    model: Value::Lost(live.counter),
                    simulator: Value::Lost(sim.counter),
                },
                Tolerance::BothOrNeither,
                IF_MISSED,
            ),
            Row::new(
                format!("{counter}, lost (model: <=3.9 check points)"),
                Figures {
                    cpython: old_cpython,
                    model: Value::Lost(live.counter_old),
                    simulator: Value::Lost(sim.counter_old),
                },
                Tolerance::BothOrNeither,
                IF_MISSED,
            ),
            Row::new(
                format!(
                    "{counter}, lost (every schedule of {TABLE_THREADS} x {TABLE_INCREMENTS}, {})",
                    rules.label()
                ),
                Figures {
                    cpython: Value::Lost(py.lost()),
                    model: every.clone(),
                    simulator: every,
                },
                Tolerance::BothOrNeither,
                IF_MISSED,
            ),
        ]
    }
}

/// The counter race as CPython ran it: same threads, increments and runs.
fn lost_updates(gil: &Gil, policy: CheckPolicy, sizes: &Cpython) -> Lost {
    let program = Program::increment();
    let mut lost = Lost {
        worst: 0,
        runs_lost: 0,
        runs: sizes.runs.max(1),
    };
    for _ in 0..lost.runs {
        let run = run_counter(gil, &program, policy, sizes.threads, sizes.increments);
        lost.worst = lost.worst.max(run.lost());
        lost.runs_lost += u32::from(run.lost() > 0);
    }
    lost
}
