//! # Lesson 5 — getting around the GIL
//!
//! Lessons 2 and 3 showed the rule: under the GIL, one thread at a time runs Python bytecode, so
//! threads help a program that *waits* and do nothing for a program that *computes*. This
//! lesson measures the escape routes people actually use, each with its price and the size
//! below which it does not pay.
//!
//! Run it with `cargo run --release -p workarounds` (`--part N` for one part, `--quick` for
//! small sizes, `--simulated` for the simulator's figures only, `--help` for the rest). The
//! lesson sizes its pools from the number of CPUs this process may use. Every figure that
//! states a result is printed beside what the deterministic simulator (`gil_core::sim`) expects
//! on an idle machine with that many cores, and the sentence is printed only when the figure
//! supports it. In `--simulated` runs the prices (a worker's start-up, sending a MB, a
//! round trip, break-even sizes) are the simulator's calibrated ones ([`expected::price`]).
//!
//! ## The parts
//!
//! Each part's text is a markdown file beside it, printed by the lesson and included in its
//! module's documentation:
//!
//! 1. [`part1_processes`]: a process pool ([`pool`]: copies of this binary in a hidden worker
//!    mode, one JSON line per message as our stand-in for pickling), what it costs and where
//!    it pays; `--inject-failure kill` shows how a dead worker is reported.
//! 2. [`part2_numpy`]: a thread pool over arrays whose native calls release the GIL, or not.
//! 3. [`part3_nogil_prange`]: Cython's `nogil` and `prange`, as rayon inside `detach`.
//! 4. [`part4_free_threading`]: the free-threaded build (PEP 703).
//! 5. [`part5_subinterpreters`]: one GIL per interpreter (PEP 684, PEP 734).
//! 6. [`part6_decision_guide`]: which Python, and which workaround.
//!
//! ## Where the model simplifies CPython
//!
//! * A worker here is a copy of a small Rust binary; a CPython worker also has to start an
//!   interpreter or be forked, and import modules, which is slower. Serialising with
//!   `serde_json` stands in for `pickle`; both copy every byte through a pipe.
//! * The arrays of parts 2 and 3 are Rust `ndarray`s; "releasing the GIL" around them is exactly
//!   what NumPy's C loops do, but NumPy's own speed is not modelled.
//! * The model's free-threaded mode removes the lock but does not reference-count; lesson 1
//!   measures the reference-counting price.

pub mod expected;
pub mod part1_processes;
pub mod part2_numpy;
pub mod part3_nogil_prange;
pub mod part4_free_threading;
pub mod part5_subinterpreters;
pub mod part6_decision_guide;
pub mod pool;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use gil_core::lesson::{Lesson, LessonArgs};
use gil_core::{Gil, Mode};

/// Lesson 5: processes, GIL-releasing native code, nogil loops, free threading, subinterpreters.
#[derive(clap::Parser, Clone, Debug)]
#[command(name = "workarounds", version, about)]
pub struct Cli {
    /// The flags every lesson shares.
    #[command(flatten)]
    pub lesson: LessonArgs,

    /// Tasks (and arrays) per comparison, 1 to 64 [default: 4]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub tasks: Option<u16>,

    /// Items per CPU-bound task, sum(i * i for i in range(ITEMS)), 1,000 to 200,000,000
    /// [default: 30,000,000; --quick 2,000,000]
    #[arg(long, value_name = "ITEMS",
          value_parser = clap::value_parser!(u64).range(1_000..=200_000_000))]
    pub items: Option<u64>,

    /// Floats per array in parts 1, 3 and 5, 1,000 to 20,000,000
    /// [default: 1,000,000; --quick 200,000]
    #[arg(long, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1_000..=20_000_000))]
    pub array_len: Option<u64>,

    /// How long one long call takes in part 2, 1 to 100 ms; the arrays are sized to it
    /// [default: 5; --quick 1]
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u16).range(1..=100))]
    pub call_ms: Option<u16>,

    /// Worker processes in part 1, 1 to 64 [default: the number of CPUs]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub workers: Option<u16>,

    /// Make a worker die mid-task in part 1, to see how the pool reports it
    #[arg(long, value_enum, value_name = "HOW")]
    pub inject_failure: Option<Failure>,

    /// Internal: run as a worker process for part 1's pool (the parent's pid follows)
    #[arg(long = "worker", hide = true, value_name = "PARENT_PID")]
    pub worker: Option<u32>,
}

impl Cli {
    /// The lesson's configuration from the flags; `worker_exe` is the binary workers run.
    pub fn config(self, worker_exe: PathBuf) -> anyhow::Result<Config> {
        let mut cfg = Config::new(self.lesson, worker_exe);
        if cfg.lesson.simulated {
            // No process starts in --simulated mode: size the pool for the simulated cores.
            cfg.workers = cfg.lesson.sim_cores();
        }
        if let Some(tasks) = self.tasks {
            cfg.tasks = usize::from(tasks);
        }
        if let Some(items) = self.items {
            cfg.items = items;
        }
        if let Some(len) = self.array_len {
            cfg.array_len = usize::try_from(len)?;
        }
        if let Some(ms) = self.call_ms {
            cfg.long_call = Duration::from_millis(u64::from(ms));
        }
        if let Some(workers) = self.workers {
            cfg.workers = usize::from(workers);
        }
        cfg.inject_failure = self.inject_failure;
        if cfg.inject_failure.is_some() {
            anyhow::ensure!(
                cfg.lesson.part.is_none_or(|p| p == 1),
                "--inject-failure needs part 1"
            );
            anyhow::ensure!(
                !cfg.lesson.simulated,
                "--inject-failure needs a live run: the simulator starts no worker to kill"
            );
        }
        Ok(cfg)
    }
}

/// A failure the learner can ask part 1 to inject, to see how a pool reports a dead worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Failure {
    /// A worker panics in the middle of a task (an uncaught exception that kills the process).
    Panic,
    /// A worker is killed with SIGKILL in the middle of a task.
    Kill,
}

/// Everything the parts need to know: sizes, the shared lesson flags, the worker binary.
#[derive(Clone, Debug)]
pub struct Config {
    /// The flags every lesson shares (`--quick`, `--simulated`, the interpreter, …).
    pub lesson: LessonArgs,
    /// How many tasks (arrays, jobs) each comparison runs.
    pub tasks: usize,
    /// Items per CPU-bound model task (`sum(i * i for i in range(items))`).
    pub items: u64,
    /// Length of the arrays in parts 1 (shipping), 3 and 5.
    pub array_len: usize,
    /// How long one long call of part 2 should take; its arrays are sized to it.
    pub long_call: Duration,
    /// Worker processes; defaults to the number of CPUs (with `--simulated`, the simulator's).
    pub workers: usize,
    /// Repeats per timing, in turns; the fastest is printed.
    pub runs: usize,
    /// The binary to start as a worker (normally this very program).
    pub worker_exe: PathBuf,
    /// Make a worker fail in part 1.
    pub inject_failure: Option<Failure>,
}

impl Config {
    /// The default sizes for these flags (small ones with `--quick`), `workers` = CPUs.
    pub fn new(lesson: LessonArgs, worker_exe: PathBuf) -> Self {
        let quick = lesson.quick;
        Config {
            lesson,
            tasks: 4,
            items: if quick { 2_000_000 } else { 30_000_000 },
            array_len: if quick { 200_000 } else { 1_000_000 },
            long_call: Duration::from_millis(if quick { 1 } else { 5 }),
            workers: gil_core::measure::cores(),
            runs: if quick { 3 } else { 5 },
            worker_exe,
            inject_failure: None,
        }
    }

    /// Whether `--quick` asked for small sizes.
    pub fn quick(&self) -> bool {
        self.lesson.quick
    }

    /// A fresh interpreter as the flags describe it (CPython 3.2+ unless `--free-threaded`).
    pub fn build_gil(&self) -> Gil {
        self.lesson.build_gil(Mode::Gil)
    }
}

/// Lesson 5's table: what the runner prints and the order it runs the parts in.
pub static LESSON: Lesson<Config> = Lesson {
    name: "workarounds",
    number: 5,
    title: "Getting around the GIL",
    shows: "Ways to compute in parallel despite the GIL, and what each costs.",
    intro: "",
    steadier: "larger sizes (--items 100000000 --call-ms 20 --array-len 5000000)",
    parts: &[
        &part1_processes::Processes,
        &part2_numpy::ReleasingPool,
        &part3_nogil_prange::NogilPrange,
        &part4_free_threading::FreeThreading,
        &part5_subinterpreters::Subinterpreters,
        &part6_decision_guide::DecisionGuide,
    ],
    exercises: &[
        "09_ndarray_threads",
        "10_worker_processes",
        "11_nogil_prange",
    ],
};

impl gil_core::lesson::LessonCli for Cli {
    type Config = Config;

    fn lesson() -> &'static Lesson<Config> {
        &LESSON
    }

    fn lesson_args(&self) -> &LessonArgs {
        &self.lesson
    }

    fn config(&self) -> anyhow::Result<Config> {
        let exe = std::env::current_exe().context("cannot find this program to start workers")?;
        self.clone().config(exe)
    }

    fn prepare(&self) -> anyhow::Result<gil_core::lesson::Start> {
        if let Some(parent) = self.worker {
            // The pool's hidden mode: this process is one of part 1's workers.
            pool::worker_main(parent)?;
            return Ok(gil_core::lesson::Start::Done);
        }
        Ok(gil_core::lesson::Start::Lesson)
    }
}

/// Run the lesson as the flags in `cfg` ask (what `main` does; tests call it too), returning
/// its context (the claims made).
pub fn run(cfg: &Config) -> anyhow::Result<gil_core::context::Cx> {
    gil_core::lesson::run(&LESSON, &cfg.lesson, cfg)
}

/// The least work per thread a comparison of threads can measure: starting a thread costs
/// tens of microseconds, so a share of work much shorter is mostly start-up.
pub const MIN_WORK: Duration = Duration::from_micros(200);

/// Whether each thread's share of the work (`work`) is long enough to compare threads; if
/// not, say so (and what to raise, `fix`) instead of printing noise.
pub fn long_enough(work: Duration, fix: &str) -> bool {
    if work >= MIN_WORK {
        return true;
    }
    gil_core::report::note(&format!(
        "Each thread's share of the work is {}: too short to compare threads, since starting \
         one costs tens of microseconds. This comparison is skipped; {fix}.",
        gil_core::measure::fmt_duration(work)
    ));
    false
}

/// Refuse, in one line, arrays that would not fit in memory: `floats` f64 values in all.
pub fn ensure_floats_fit(floats: usize, what: &str, fix: &str) -> anyhow::Result<()> {
    let bytes = (floats as u128).saturating_mul(std::mem::size_of::<f64>() as u128);
    gil_core::probe::ensure_memory(bytes, what, fix)
}

/// `n` pseudo-random numbers in `[0, 1)`, the same for every `seed` (like `np.random.rand`).
pub fn random_array(n: usize, seed: u64) -> ndarray::Array1<f64> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    ndarray::Array1::from_shape_fn(n, |_| {
        // xorshift64*: fast, and good enough to fill an array.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    })
}

/// `np.sum(arr ** 2)`, as one native loop over the array.
///
/// NumPy first squares into a temporary array and then sums it; the model fuses the two and
/// allocates nothing, so what it times is the arithmetic, not the page faults of a fresh
/// buffer. One running total: every add waits for the previous one.
pub fn sum_of_squares(arr: &ndarray::Array1<f64>) -> f64 {
    arr.fold(0.0, |total, &x| total + x * x)
}

/// Whether two float sums agree to a relative tolerance.
pub fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()).max(f64::MIN_POSITIVE)
}

/// CPU time this thread has used so far (`CLOCK_THREAD_CPUTIME_ID`); `None` where the
/// platform does not say. Unlike the wall clock it does not count time the OS gave to other
/// programs, so a loop timed with it reads the same on a busy machine.
pub fn thread_cpu_time() -> Option<Duration> {
    #[cfg(unix)]
    {
        let mut now = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes one timespec through a pointer to a live local.
        let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
        let secs = u64::try_from(now.tv_sec).ok()?;
        let nanos = u32::try_from(now.tv_nsec).ok()?;
        (status == 0).then(|| Duration::new(secs, nanos))
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// `items` joined by spaces, as many as fit after `label` on one line of
/// [`report::WIDTH`](gil_core::report::WIDTH) columns, then "…".
pub fn fit_on_line(label: &str, items: impl IntoIterator<Item = String>) -> String {
    let room = gil_core::report::WIDTH - gil_core::report::kv_line(label, "").chars().count();
    let mut out = String::new();
    for item in items {
        let next = if out.is_empty() {
            item
        } else {
            format!(" {item}")
        };
        if out.chars().count() + next.chars().count() + 2 > room {
            out.push_str(" …");
            break;
        }
        out.push_str(&next);
    }
    out
}
