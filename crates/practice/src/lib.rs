//! # Lesson 6 — the GIL in your own Python program
//!
//! Run it with `cargo run --release -p practice` (`-- --help` lists the flags; `--python PATH`
//! picks the interpreter, `--part N` runs one part).
//!
//! Lessons 1 to 5 taught the mechanism on a model. This one runs small Python programs the
//! lesson ships on *your* interpreter — the same `python3` that `cargo xtask fidelity` finds,
//! found by the same code ([`gil_core::python`]) — and sets each real figure beside what the
//! model or its simulator predicts for the same shape of work. Each part ends with something to
//! take to your own code.
//!
//! ## The parts (one module each)
//!
//! 1. [`part1_cpu_or_wait`] — `time.process_time()` against `time.perf_counter()`: the CPU
//!    share of a call says whether it computes or waits, and so what threads or processes can do.
//! 2. [`part2_release`] — a heartbeat thread ticks while a call runs: the share of the call's
//!    time it could run says whether the call released the GIL. Ends with the probe as a recipe.
//! 3. [`part3_cost`] — the heartbeat's lateness as a GIL wait meter, at two switch intervals;
//!    the real profilers (`py-spy --gil`, `profiling.sampling --mode gil`) where installed.
//! 4. [`part4_asyncio`] — a blocking call stalls an event loop; `asyncio.to_thread` removes the
//!    stall for blocking I/O but not for Python code; a process pool for CPU work.
//! 5. [`part5_free_threaded`] — which build runs and whether its GIL is on; on a free-threaded
//!    interpreter, a C extension compiled against its headers with and without the
//!    `Py_mod_gil` slot, and what "ready" means for the module's own state.
//!
//! Without Python the lesson says so in one line and prints the model's side of every part.

use std::time::Duration;

use gil_core::Mode;
use gil_core::context::Cx;
use gil_core::lesson::{Lesson, LessonArgs};
use gil_core::python::{self, Choice, Python};
use gil_core::sim::SimConfig;

pub mod part1_cpu_or_wait;
pub mod part2_release;
pub mod part3_cost;
pub mod part4_asyncio;
pub mod part5_free_threaded;
pub mod scripts;

/// Lesson 6: the GIL in your own Python program, measured on your interpreter.
#[derive(clap::Parser, Debug)]
#[command(name = "practice", version, about)]
pub struct Cli {
    /// The lesson's shared flags.
    #[command(flatten)]
    pub lesson: LessonArgs,

    /// The Python to measure [default: python3 on PATH]
    #[arg(long, value_name = "PATH")]
    pub python: Option<std::path::PathBuf>,
}

/// What every part needs: the interpreter (if any) and the scripts' directory. The run's
/// own settings (`--quick`, `--simulated`) come from the parts' [`Cx`].
pub struct Config {
    /// The learner's Python; `None` without one, or with `--simulated`.
    pub python: Option<Python>,
    /// The scripts, written out.
    pub scripts: scripts::Scripts,
    /// What the simulator predicts for: the interpreter measured, the machine, the interval.
    pub model: Model,
}

/// What the simulator is asked about: the interpreter's kind, the cores, the switch interval.
#[derive(Clone, Copy, Debug)]
pub struct Model {
    /// With a GIL, or free-threaded (the learner's Python is a free-threaded build, or
    /// `--free-threaded` with `--simulated`).
    pub mode: Mode,
    /// Cores the simulator assumes.
    pub cores: usize,
    /// The switch interval (`--switch-interval`).
    pub interval: Duration,
}

impl Model {
    /// The simulator's configuration for this model.
    pub fn sim(self) -> SimConfig {
        SimConfig::new(self.mode, self.interval, self.cores)
    }

    /// Is there no GIL?
    pub fn free_threaded(self) -> bool {
        self.mode == Mode::FreeThreaded
    }
}

impl Config {
    /// Workload scale for the scripts: 1, or smaller with `--quick`.
    pub fn scale(&self, cx: &Cx) -> &'static str {
        if cx.quick() { "0.25" } else { "1" }
    }

    /// Timeout for one script run.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(60)
    }

    /// Free cores a part's live run needs: one while a Python measures, none when the live
    /// figures are the model's own (no Python found).
    pub fn cores_needed(&self) -> usize {
        usize::from(self.python.is_some())
    }
}

/// Whether a showing states its claims: on figures the learner's Python measured, and on
/// the simulator's when they are shown as such. A live run without Python shows the model's
/// side only and claims nothing.
pub fn states_claims(cx: &Cx, measured: bool) -> bool {
    measured || cx.showing_simulated()
}

/// Whether this showing is the one that prints what is said once per part (the recipe, the
/// profilers): not the simulator's lead on a busy machine, which the live figures follow.
pub fn first_showing_of_its_kind(cx: &Cx) -> bool {
    cx.simulated() || !cx.showing_simulated()
}

/// The lesson's parts in teaching order.
pub static LESSON: Lesson<Config> = Lesson {
    name: "practice",
    number: 6,
    title: "The GIL in your own Python program",
    shows: "How to tell whether your code computes or waits, whether a call releases the GIL, \
            what the GIL costs your program, asyncio's blocking trap, and free-threaded builds \
            - measured on your own interpreter.",
    intro: "Each part runs a small Python program on your interpreter and sets its figures \
            beside the model's prediction for the same work. Each ends with something to use \
            on your own code.",
    steadier: "",
    parts: &[
        &part1_cpu_or_wait::CpuOrWait,
        &part2_release::ReleaseProbe,
        &part3_cost::Cost,
        &part4_asyncio::Asyncio,
        &part5_free_threaded::FreeThreaded,
    ],
    exercises: &[
        "py1_counter_lock",
        "py2_countdown",
        "py3_hash_pool",
        "py4_release_probe",
        "py5_unblock_loop",
        "py6_free_threaded_ext",
    ],
};

/// Run the lesson as `cli` asks.
pub fn run(cli: &Cli) -> anyhow::Result<()> {
    gil_core::lesson::run_lesson(&LESSON, &cli.lesson, &config(cli)?)
}

impl gil_core::lesson::LessonCli for Cli {
    type Config = Config;

    fn lesson() -> &'static Lesson<Config> {
        &LESSON
    }

    fn lesson_args(&self) -> &LessonArgs {
        &self.lesson
    }

    fn config(&self) -> anyhow::Result<Config> {
        config(self)
    }
}

/// The configuration the flags ask for: finds the learner's Python (and says which) unless
/// the run is simulated.
fn config(cli: &Cli) -> anyhow::Result<Config> {
    let python = if cli.lesson.simulated {
        None
    } else {
        let found = python::find(&Choice::flag(cli.python.as_deref()))?;
        if found.is_none() {
            println!(
                "No `{}` on PATH: the parts below show the model's side only \
                 (--python PATH picks one).",
                python::DEFAULT
            );
        }
        found
    };
    let free_threaded = match &python {
        Some(python) => python.free_threaded,
        None => cli.lesson.free_threaded(),
    };
    let cfg = Config {
        python,
        scripts: scripts::Scripts::write()?,
        model: Model {
            mode: if free_threaded {
                Mode::FreeThreaded
            } else {
                Mode::Gil
            },
            cores: cli.lesson.sim_cores(),
            interval: cli.lesson.interval(),
        },
    };
    if let Some(python) = &cfg.python {
        println!(
            "Python {} ({}){}",
            python.version,
            python.exe.display(),
            if python.free_threaded {
                ", a free-threaded build"
            } else {
                ""
            }
        );
    }
    Ok(cfg)
}

/// `share` (0 to 1) as a percentage with one decimal.
pub fn percent(share: f64) -> String {
    gil_core::claim::Unit::Percent.show(share * 100.0)
}
