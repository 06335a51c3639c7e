//! `cargo xtask fidelity`: the model checked against this machine's own CPython, in one table.
//!
//! Runs the experiments of `xtask/fidelity/fidelity.py` on Python, one at a time, and right
//! after each one the same experiment on the gil-core model in this process — so both sides of
//! a row see the same machine, which on a busy one matters — and on the simulator
//! (`gil_core::sim`, an idle machine with this machine's cores, in virtual time). Then it prints
//! one table: experiment | CPython | model | fits | simulator | fits | tolerance, where "fits"
//! says whether the figure before it is within the row's tolerance of CPython's. A row whose
//! model figure misses says why that can happen, in one line, under the table.
//!
//! Each experiment is one module here that owns all of it: the figures the script prints for it
//! (a serde struct), the model's run, the simulator's, and its rows. Adding an experiment means
//! one such module (an [`Experiment`]), one line in [`EXPERIMENTS`], and its function in the
//! script. [`script`] runs Python, [`live`] and [`simulated`] hold what the model's and the
//! simulator's runs share, [`table`] the cells, tolerances and table.
//!
//! If CPython's GIL is disabled (a free-threaded build), the model runs free-threaded too. With
//! no `python3` on `PATH` the command says so in one line and succeeds: the course never needs
//! Python. A Python named with `--python` must work.

mod convoy;
mod counter;
mod cpu;
mod hold;
mod live;
mod mixed;
mod script;
mod simulated;
mod sleep;
mod socket;
mod table;
#[cfg(test)]
mod tests;

use std::fmt;
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use gil_core::measure::cores;
use gil_core::report::{heading, kv, note};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, json};

use crate::python::{self, Choice};
use live::LiveModel;
use script::{Header, ScriptRunner};
use simulated::Simulator;
use table::{Agreement, Row};

/// `cargo xtask fidelity [--quick] [--json] [--python PATH] [--timeout SECONDS]`.
#[derive(clap::Args, Debug)]
pub struct FidelityArgs {
    /// Smaller sizes, shorter runs: about 10 s instead of about 30 s, and noisier
    #[arg(long)]
    quick: bool,
    /// Print one JSON object (CPython's figures, the model's, and the rows) instead of the table
    #[arg(long)]
    json: bool,
    /// The Python to measure (any CPython 3.8+; e.g. a 3.9 to see the old check points);
    /// default: python3 on PATH, and without one the command is skipped
    #[arg(long, value_name = "PATH")]
    python: Option<PathBuf>,
    /// The longest one experiment may run on Python before it is stopped
    #[arg(long, value_name = "SECONDS", default_value_t = 150)]
    timeout: u64,
}

/// One experiment: what the script prints for it, what the model and the simulator find, and
/// its rows.
pub trait Experiment {
    /// Its key in the script's JSON, and its name for `--only`.
    const NAME: &'static str;
    /// The figures the script prints for it.
    type Cpython: DeserializeOwned;
    /// What the live model measures.
    type Live: Serialize;
    /// What the simulator finds.
    type Simulated: Serialize;
    /// Run it on the live model, at CPython's sizes.
    fn live(model: &LiveModel, py: &Self::Cpython) -> anyhow::Result<Self::Live>;
    /// Run it on the simulator, at CPython's sizes.
    fn simulate(sim: &Simulator, py: &Self::Cpython) -> Self::Simulated;
    /// Its rows of the table.
    fn rows(
        header: &Header,
        py: &Self::Cpython,
        live: &Self::Live,
        sim: &Self::Simulated,
    ) -> Vec<Row>;
}

/// Runs one experiment on every side and adds what it found to the [`Runner`].
type RunExperiment = fn(&mut Runner<'_>) -> anyhow::Result<()>;

/// The experiments, in the order they run and their rows appear.
const EXPERIMENTS: [RunExperiment; 7] = [
    every_side::<cpu::Cpu>,
    every_side::<sleep::Sleep>,
    every_side::<socket::Socket>,
    every_side::<mixed::Mixed>,
    every_side::<convoy::Convoy>,
    every_side::<hold::Hold>,
    every_side::<counter::Counter>,
];

/// Run `cargo xtask fidelity`.
pub fn run(root: &Path, args: &FidelityArgs) -> anyhow::Result<ExitCode> {
    let Some(fidelity) = measure(root, args)? else {
        return Ok(ExitCode::SUCCESS);
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&fidelity.to_json())?);
    } else {
        fidelity.print();
    }
    Ok(ExitCode::SUCCESS)
}

/// What the experiments share while they run, and what they found so far.
struct Runner<'a> {
    script: ScriptRunner<'a>,
    header: Header,
    live: LiveModel,
    simulator: Simulator,
    progress: ProgressBar,
    model: Map<String, serde_json::Value>,
    simulated: Map<String, serde_json::Value>,
    rows: Vec<Row>,
}

/// Experiment `E` on CPython, then on the model, then on the simulator.
fn every_side<E: Experiment>(runner: &mut Runner<'_>) -> anyhow::Result<()> {
    runner.progress.set_message(format!("{}: CPython", E::NAME));
    let py: E::Cpython = script::figures(E::NAME, runner.script.part(E::NAME)?)?;
    runner.progress.set_message(format!("{}: model", E::NAME));
    let live = E::live(&runner.live, &py)?;
    runner
        .progress
        .set_message(format!("{}: simulator", E::NAME));
    let sim = E::simulate(&runner.simulator, &py);
    runner
        .rows
        .extend(E::rows(&runner.header, &py, &live, &sim));
    runner
        .model
        .insert(E::NAME.to_owned(), serde_json::to_value(&live)?);
    runner
        .simulated
        .insert(E::NAME.to_owned(), serde_json::to_value(&sim)?);
    runner.progress.inc(1);
    Ok(())
}

/// Measure both sides, one experiment at a time: CPython's run of an experiment, then the
/// model's, so the two see the same machine (on a busy one the load can change within seconds).
/// `None` (after saying so) when there is no Python to measure.
fn measure(root: &Path, args: &FidelityArgs) -> anyhow::Result<Option<Fidelity>> {
    let machine = Machine::now();
    let Some(python) = python::find(&Choice::flag(args.python.as_deref()))? else {
        println!(
            "fidelity: skipped, no `{}` found on PATH (the rest of the course does not need Python)",
            python::DEFAULT
        );
        return Ok(None);
    };
    let timeout = Duration::from_secs(args.timeout.max(1));
    let script = ScriptRunner::start(root, &python, args.quick, timeout)?;
    let header = script.header()?;
    let progress = progress_bar(EXPERIMENTS.len());
    progress.println(format!(
        "fidelity: {} {} (GIL {}) beside the model and the simulator, {} experiments",
        header.implementation,
        header.version,
        if header.gil_enabled { "on" } else { "off" },
        EXPERIMENTS.len()
    ));
    progress.set_message("timing the model's countdown step");
    let live = LiveModel::new(&header)?;
    let simulator = Simulator::new(&header, cores())?;
    let mut runner = Runner {
        script,
        header,
        live,
        simulator,
        progress,
        model: Map::new(),
        simulated: Map::new(),
        rows: Vec::new(),
    };
    for experiment in EXPERIMENTS {
        experiment(&mut runner)?;
    }
    runner.progress.finish_and_clear();
    let mut model = Map::new();
    model.insert("mode".into(), runner.live.mode.to_string().into());
    model.insert("step_ns".into(), (runner.live.step * 1e9).into());
    model.extend(runner.model);
    let mut simulated = Map::new();
    simulated.insert("cores".into(), runner.simulator.cfg.machine.cores.into());
    simulated.extend(runner.simulated);
    Ok(Some(Fidelity {
        machine,
        python: runner.script.into_report(),
        header: runner.header,
        model,
        model_step_ns: runner.live.step * 1e9,
        simulated,
        sim_cores: runner.simulator.cfg.machine.cores,
        rows: runner.rows,
    }))
}

/// A progress bar on stderr when it is a terminal; a hidden one otherwise, so logs and pipes
/// get only the table. (indicatif: redraws in place, handles terminal width and hides itself
/// cleanly, which hand-drawn `\r` bars get wrong.)
fn progress_bar(experiments: usize) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(experiments as u64);
    let style = ProgressStyle::with_template(
        "fidelity [{bar:20}] {pos}/{len} experiments, {elapsed}: {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(250));
    bar
}

// ---------------------------------------------------------------------------------------------
// The report

/// Where the figures were taken.
#[derive(Clone, Debug, Serialize)]
struct Machine {
    cpu: String,
    cores: usize,
    /// The 1-minute load average when the run began (Linux), a hint of how disturbed it was.
    load: Option<f64>,
    os: String,
}

impl Machine {
    fn now() -> Machine {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|info| {
                info.lines()
                    .find(|line| line.starts_with("model name"))
                    .and_then(|line| line.split_once(':'))
                    .map(|(_, name)| name.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown CPU".into());
        let load = std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|text| text.split_whitespace().next()?.parse().ok());
        Machine {
            cpu,
            cores: cores(),
            load,
            os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
        }
    }
}

impl fmt::Display for Machine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}, {} cores, {}", self.cpu, self.cores, self.os)?;
        if let Some(load) = self.load {
            write!(f, ", load average {load:.1} at start")?;
        }
        Ok(())
    }
}

/// Everything one run found.
struct Fidelity {
    machine: Machine,
    /// What the script printed: the header and each experiment's figures.
    python: Map<String, serde_json::Value>,
    header: Header,
    /// The model's mode, its countdown step and each experiment's figures.
    model: Map<String, serde_json::Value>,
    model_step_ns: f64,
    /// The simulator's core count and each experiment's figures.
    simulated: Map<String, serde_json::Value>,
    sim_cores: usize,
    rows: Vec<Row>,
}

impl Fidelity {
    fn print(&self) {
        let py = &self.header;
        heading("Fidelity: the gil-core model beside this machine's Python");
        kv("machine", &self.machine);
        kv(
            "python",
            format!(
                "{} {}, GIL {} (switch interval {} ms)",
                py.implementation,
                py.version,
                if py.gil_enabled {
                    "enabled"
                } else {
                    "disabled"
                },
                py.switch_interval_ms
            ),
        );
        let cpython_step_ns = self.python.get("cpu").and_then(|cpu| {
            let one_s = cpu.get("one_s")?.as_f64()?;
            let n = cpu.get("n")?.as_u64()?;
            Some(one_s * 1e9 / (2 * n).max(1) as f64)
        });
        kv(
            "model",
            format!(
                "{}, gil-core in this process (countdown step {:.2} ns; CPython's {:.1} ns)",
                self.model
                    .get("mode")
                    .and_then(|m| m.as_str())
                    .unwrap_or("?"),
                self.model_step_ns,
                cpython_step_ns.unwrap_or(f64::NAN)
            ),
        );
        kv(
            "simulator",
            format!(
                "gil_core::sim, an idle {}-core machine in virtual time",
                self.sim_cores
            ),
        );
        kv(
            "sizes",
            if py.quick {
                "--quick (small sizes, fewer runs: noisier)"
            } else {
                "full (medians of 3 runs or batches where a figure is a ratio or a time)"
            },
        );
        println!();
        println!("{}", table::render(&self.rows));
        println!();
        let (within, compared) = table::tally(&self.rows, |r| r.model_agrees);
        kv(
            "model within tolerance",
            format!("{within} of {compared} compared rows"),
        );
        let (within, compared) = table::tally(&self.rows, |r| r.simulator_agrees);
        kv(
            "simulator within tolerance",
            format!("{within} of {compared} compared rows"),
        );
        for row in self
            .rows
            .iter()
            .filter(|r| r.model_agrees == Agreement::Miss)
        {
            note(&format!(
                "model miss, {}: {}",
                row.experiment, row.if_missed
            ));
        }
        let simulator_misses: Vec<&str> = self
            .rows
            .iter()
            .filter(|r| r.simulator_agrees == Agreement::Miss)
            .map(|r| r.experiment.as_str())
            .collect();
        if !simulator_misses.is_empty() {
            note(&format!(
                "simulator misses: {}. The simulated machine is idle and its wake-ups take a \
                 fixed time, so the thread woken by a release always wins the race for the GIL \
                 against one coming back from I/O; a miss says this machine (its load, or who \
                 wins its wake-up races) differs from the simulated one.",
                simulator_misses.join("; ")
            ));
        }
        note(
            "The model is sized by duration: its countdown runs as long as CPython's did, not as many \
             steps. Timings on a busy machine are noisy on both sides; re-run before believing a miss.",
        );
    }

    fn to_json(&self) -> serde_json::Value {
        let (within, compared) = table::tally(&self.rows, |r| r.model_agrees);
        let (simulator_within, simulator_compared) =
            table::tally(&self.rows, |r| r.simulator_agrees);
        let rows: Vec<_> = self
            .rows
            .iter()
            .map(|row| {
                json!({
                    "experiment": row.experiment,
                    "cpython": row.cpython.to_string(),
                    "cpython_value": row.cpython.number(),
                    "model": row.model.to_string(),
                    "model_value": row.model.number(),
                    "tolerance": row.tolerance.to_string(),
                    "verdict": row.model_agrees.as_str(),
                    "simulator": row.simulator.to_string(),
                    "simulator_value": row.simulator.number(),
                    "simulator_verdict": row.simulator_agrees.as_str(),
                    "if_missed": row.if_missed,
                })
            })
            .collect();
        json!({
            "machine": self.machine,
            "python": self.python,
            "model": self.model,
            "simulator": self.simulated,
            "rows": rows,
            "within": within,
            "compared": compared,
            "simulator_within": simulator_within,
            "simulator_compared": simulator_compared,
        })
    }
}
