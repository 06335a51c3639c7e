//! # Lesson 5 — getting around the GIL
//!
//! Lessons 2 and 3 showed the rule: under the GIL, one thread at a time runs Python bytecode, so
//! threads help a program that *waits* and do nothing for a program that *computes*. This
//! lesson is about the escape routes people actually use, and it measures each of them on your
//! machine, because each one has a price and a size below which it does not pay.
//!
//! Run it with `cargo run --release -p workarounds` (`--part N` for one part, `--quick` for
//! small sizes, `--simulated` for the simulator's figures only, `--help` for the rest). The
//! lesson sizes its pools from the number of CPUs this process may use. Every figure that
//! states a result is printed beside what the deterministic simulator (`gil_core::sim`) expects
//! on an idle machine with that many cores, and the sentence is printed only when the figure
//! supports it: on one core, nothing in here can run in parallel, and the lesson says so.
//!
//! ## Part 1 — more interpreters: processes ([`part1_processes`])
//!
//! A process is a whole interpreter with a GIL of its own, so N worker processes can compute on
//! N cores. That is what `multiprocessing.Pool` and `concurrent.futures.ProcessPoolExecutor`
//! give you. The lesson builds a small pool of its own ([`pool`]): it starts copies of its own
//! binary in a hidden worker mode and talks to them over pipes, one JSON line per message —
//! our stand-in for pickling. You get two shapes of the same pool: `map` (run this function on
//! every item, results in order) and `submit` (queue one call, get a *future*, ask it for the
//! result later).
//!
//! Processes are not free. Starting one costs an `exec`, every argument and every result is
//! serialised, copied through the kernel and parsed again, and nothing is shared. The part
//! measures all three and prints the break-even point: how much work a task must carry before
//! sending it to another process is faster than doing it here. How CPython starts a worker is
//! its *start method*: since Python 3.14 the default on Linux is `forkserver` (before: `fork`),
//! so each new worker is forked from a small server process and then imports the main module
//! (Python docs, `multiprocessing`, "Contexts and start methods"; "What's New In Python 3.14").
//! macOS and Windows use `spawn`, a fresh interpreter per worker. Tiny tasks lose; batching them
//! (`chunksize`) wins some of it back. When a worker dies mid-task — try
//! `--inject-failure kill` — the pool reports which one, and how, and the lesson exits with an
//! error; no worker is left running.
//!
//! ## Part 2 — "NumPy releases the GIL" ([`part2_numpy`])
//!
//! A native library can drop the GIL around a long loop that touches no Python objects
//! (`Py_BEGIN_ALLOW_THREADS` in C, [`GilGuard::detach`](gil_core::GilGuard::detach)
//! in the model). Four threads, each squaring and summing its own array with the GIL released,
//! then really do run at once. The same pool calling a library that forgets to release runs one
//! call at a time, and the GIL statistics show who held the lock for how long. The part runs
//! two call lengths, chosen by *duration* rather than by array length: the lesson first times
//! the loop on this machine and then sizes the arrays so that one call takes about 10 µs (short)
//! or about `--call-ms` (long). Short calls lose: starting and joining the pool's threads costs
//! more than the work. Releasing the GIL pays only when each call is long compared with that.
//!
//! What limits the model's loop is not the GIL and, mostly, not memory either. It keeps one
//! running total, so every add must wait for the previous add's result: a serial chain whose
//! speed is set by the *latency* of a floating-point add (a few CPU cycles). (NumPy's own
//! `np.sum` adds in blocks with several partial sums, "pairwise summation" in the `numpy.sum`
//! documentation, so it runs several chains at once and is faster per float.) The part prints
//! the time per float for an array that fits in the CPU caches and for its long arrays, so you
//! can see whether memory added anything on your machine. A second core runs a second chain,
//! which is why released calls on different arrays scale with the cores.
//!
//! ## Part 3 — Cython's `nogil` and `prange` ([`part3_nogil_prange`])
//!
//! Cython lets you write the loop yourself, release the GIL with `with nogil:` and split the
//! loop across OpenMP threads with `prange`. The Rust equivalent is a rayon parallel iterator
//! inside `detach`. Two things are measured: the speed-up of the loop, and whether
//! another *Python* thread can run while the loop runs — it can only when the GIL was released.
//! A parallel sum adds the numbers in a different order, so it differs from the sequential one
//! in the last bits; the part prints by how much.
//!
//! ## Part 4 — free threading, PEP 703 ([`part4_free_threading`])
//!
//! PEP 703 (accepted in 2023) gave CPython 3.13 a second build with no GIL at all. It is a
//! build-time choice: the sources configured with `./configure --disable-gil` produce a
//! separate interpreter, installed as `python3.13t` beside the ordinary `python3.13`. In 3.13
//! it was experimental; PEP 779 made it a supported build in 3.14 (`python3.14t`), still
//! optional — the default CPython keeps its GIL. The countdown of lesson 2 then scales with the cores. The price is paid on
//! every reference count: with threads truly running at once, `Py_INCREF` can no longer be a
//! plain increment (lesson 1 showed what races do to counts). An atomic increment is correct
//! but slow, so the free-threaded build uses *biased* reference counting: the thread that owns
//! an object uses a plain counter, every other thread an atomic one. The part measures those
//! costs in Rust and quotes CPython's own figures, marked as such.
//!
//! ## Part 5 — subinterpreters, PEP 684 and PEP 734 ([`part5_subinterpreters`])
//!
//! Since 3.12 each interpreter in a process can have its own GIL (PEP 684, C API), and 3.14 adds
//! `concurrent.interpreters` and `InterpreterPoolExecutor` (PEP 734). Threads in different
//! interpreters run in parallel; objects are never shared between interpreters — they are sent.
//! In the model each interpreter is its own [`Gil`], and data moves between them
//! over channels as owned values.
//!
//! ## Part 6 — which Python, and which workaround ([`part6_decision_guide`])
//!
//! A table of implementations (note: GraalPy *has* a GIL, whatever older tutorials say) and a
//! decision guide whose every leaf points at the part of this lesson that measured it. A leaf
//! quotes this run's figure only where that part's claim held; otherwise it quotes the
//! simulator's expectation, labelled as such.
//!
//! ## Where the model simplifies CPython
//!
//! * A worker here is a copy of a small Rust binary; a CPython worker also has to start an
//!   interpreter or be forked, and import modules, which is slower. Serialising with `serde_json` stands in
//!   for `pickle`; both copy every byte through a pipe.
//! * The arrays of parts 2 and 3 are Rust `ndarray`s; "releasing the GIL" around them is exactly
//!   what NumPy's C loops do, but NumPy's own speed is not modelled.
//! * The model's free-threaded mode removes the lock but does not reference-count; part 4
//!   measures the reference-counting price separately.
//!
//! ## Key takeaways (lessons 1 to 5)
//!
//! 1. **One runner per interpreter.** Only the thread holding the GIL executes bytecode, however
//!    many cores there are. A waiting thread asks for the lock after one switch interval; the
//!    holder lets go at its next check point.
//! 2. **Threads pay for waiting, not for computing.** CPU-bound threads under the GIL finish no
//!    sooner than one thread (lesson 2); I/O-bound threads overlap their waits, because
//!    blocking calls release the lock (lesson 3). The catch: beside a CPU-bound thread, every
//!    short I/O call may wait about a switch interval to get the lock back — the convoy effect.
//! 3. **Every workaround has a price and a break-even size.** Processes pay for start-up and
//!    for serialising every argument: worth it for big tasks with little data. Native code that
//!    releases the GIL (NumPy, Cython `nogil`/`prange`, Rust) pays only when each call does
//!    enough work. Subinterpreters (3.14) give isolation without processes; data is sent, not
//!    shared. For thousands of concurrent waits, `async`/`await` on one thread is the lighter
//!    tool. Profile first: measure where the time goes before choosing.
//! 4. **The GIL is not thread safety for your code.** It protects the interpreter's own
//!    structures, and single operations such as `list.append` happen whole, but a
//!    read-modify-write like `counter += 1` can still lose updates (lesson 4): guard compound
//!    operations with a `threading.Lock`.
//! 5. **The lock can go.** The free-threaded builds 3.13t and 3.14t run Python threads in
//!    parallel, paying in reference-counting cost, some single-thread speed and extensions that
//!    must declare support (part 4).
//! 6. **The GIL belongs to CPython, not to Python.** PyPy has one too; Jython and IronPython
//!    have none; GraalPy has one per context and gets parallelism from several contexts.

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
use gil_core::claim::{Claim, Unit, claim};
use gil_core::lesson::{Lesson, LessonArgs, Part};
use gil_core::{Gil, Mode};

/// Lesson 5: processes, GIL-releasing native code, nogil loops, free threading, subinterpreters.
#[derive(clap::Parser, Clone, Debug)]
#[command(name = "workarounds", version, about)]
pub struct Cli {
    /// The flags every lesson shares.
    #[command(flatten)]
    pub lesson: LessonArgs,

    /// Tasks (and arrays) per comparison, 1 to 64; the tutorial uses 4
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub tasks: Option<u16>,

    /// Items per CPU-bound task, sum(i * i for i in range(ITEMS)), 1,000 to 200,000,000
    /// [default: 50,000,000; --quick 2,000,000]
    #[arg(long, value_name = "ITEMS",
          value_parser = clap::value_parser!(u64).range(1_000..=200_000_000))]
    pub items: Option<u64>,

    /// Floats per array in parts 1, 3 and 5, 1,000 to 20,000,000 (the tutorial: 1,000,000)
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
    /// How many tasks (arrays, jobs) each comparison runs; the tutorial uses 4.
    pub tasks: usize,
    /// Items per CPU-bound model task (`sum(i * i for i in range(items))`).
    pub items: u64,
    /// Length of the arrays in parts 1 (shipping), 3 and 5; the tutorial uses 1,000,000.
    pub array_len: usize,
    /// How long one long call of part 2 should take; its arrays are sized to it.
    pub long_call: Duration,
    /// Worker processes; defaults to the number of CPUs (with `--simulated`, the simulator's).
    pub workers: usize,
    /// Repeats per timing; the median is printed.
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
            items: if quick { 2_000_000 } else { 50_000_000 },
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
    shows: "How Python programs compute in parallel despite the GIL - processes, native code \
            that releases it, nogil loops, free threading, subinterpreters - and what each \
            costs.",
    intro: "Lessons 2 and 3 showed the rule: under the GIL one thread at a time runs Python \
            bytecode, so threads help a program that waits and not one that computes. Each \
            part below measures one way around that rule, and its price.",
    steadier: "larger sizes (--items 100000000 --call-ms 20 --array-len 5000000)",
    parts: &[
        &Part {
            title: "multiprocessing, one GIL per process",
            python: part1_processes::PYTHON,
            run: part1_processes::run,
        },
        &Part {
            title: "NumPy releases the GIL (a thread pool over arrays)",
            python: part2_numpy::PYTHON,
            run: part2_numpy::run,
        },
        &Part {
            title: "Cython nogil and prange",
            python: part3_nogil_prange::PYTHON,
            run: part3_nogil_prange::run,
        },
        &Part {
            title: "free threading (PEP 703)",
            python: part4_free_threading::PYTHON,
            run: part4_free_threading::run,
        },
        &Part {
            title: "subinterpreters, one GIL each (PEP 684, PEP 734)",
            python: part5_subinterpreters::PYTHON,
            run: part5_subinterpreters::run,
        },
        &Part {
            title: "which Python, and which workaround",
            python: "",
            run: part6_decision_guide::run,
        },
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

/// Run the lesson as the flags in `cfg` ask (what `main` does; tests call it too).
pub fn run(cfg: &Config) -> anyhow::Result<()> {
    gil_core::lesson::run_lesson(&LESSON, &cfg.lesson, cfg)
}

/// Claim a speed-up: "runs in parallel" when the simulator expects one, else "takes turns".
///
/// `parallel` is the sentence for an expected gain (1.5x or more), `serial` the sentence for a
/// machine where the simulator expects none (one core). The bound is generous below: a busy
/// spell may cost two thirds of the gain. Above, a figure well over the expectation means the
/// baseline was slowed, so that does not support the sentence either.
pub fn speedup_claim(figure: &str, measured: f64, expected: f64, parallel: &str, serial: &str) {
    if expected >= 1.5 {
        claim(Claim {
            figure,
            unit: Unit::Ratio,
            measured,
            expected,
            low: 1.0 + (expected - 1.0) * 0.35,
            high: expected * 1.15 + 0.05,
            text: parallel,
        });
    } else {
        no_faster_claim(figure, measured, expected, serial);
    }
}

/// Claim that something is no faster than one thread (the simulator expects about 1x or less).
///
/// Slower is allowed down to half; faster only by what timing noise explains (10 %), so
/// "no faster" never stands beside a figure that says otherwise.
pub fn no_faster_claim(figure: &str, measured: f64, expected: f64, text: &str) {
    claim(Claim {
        figure,
        unit: Unit::Ratio,
        measured,
        expected,
        low: (expected * 0.5).min(0.5),
        high: (expected * 1.1).max(1.1),
        text,
    });
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

/// Time several alternatives in turns and return each one's median (gil-core's).
pub use gil_core::measure::time_in_turns as medians_in_turns;

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
