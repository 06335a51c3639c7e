//! # Lesson 5 — getting around the GIL
//!
//! Lessons 2 and 3 showed the rule: under the GIL, one thread at a time runs Python bytecode, so
//! threads help a program that *waits* and do nothing for a program that *computes*. This
//! lesson is about the escape routes people actually use, and it measures each of them on your
//! machine, because each one has a price and a size below which it does not pay.
//!
//! Run it with `cargo run --release -p workarounds` (`--part N` for one part, `--quick` for
//! small sizes, `--help` for the rest). The lesson sizes its pools from the number of CPUs this
//! process may use and prints that number first: on one core, nothing in here can run in
//! parallel, and the figures say so.
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
//! sending it to another process is faster than doing it here. Tiny tasks lose; batching them
//! (`chunksize`) wins some of it back. When a worker dies mid-task — try
//! `--inject-failure kill` — the pool reports which one, and how, and the lesson exits with an
//! error; no worker is left running.
//!
//! ## Part 2 — "NumPy releases the GIL" ([`part2_numpy`])
//!
//! A native library can drop the GIL around a long loop that touches no Python objects
//! (`Py_BEGIN_ALLOW_THREADS` in C, [`GilGuard::allow_threads`](gil_core::GilGuard::allow_threads)
//! in the model). Four threads, each squaring and summing its own array with the GIL released,
//! then really do run at once. The same pool calling a library that forgets to release runs one
//! call at a time, and the GIL statistics show who held the lock for how long. The part runs
//! three sizes, because the tutorial's exercise (4 × 1,000,000) is the interesting case: for
//! NumPy on CPython it is too small for threads to pay (see the figures the part quotes), and
//! releasing only helps when each call does enough work to hide the cost of the threads.
//! There is a second limit the GIL has nothing to do with: a loop this simple mostly waits for
//! memory, and the cores share one memory bus, so on arrays much bigger than the CPU caches
//! extra threads may read no faster. The part prints the read rate so you can tell.
//!
//! ## Part 3 — Cython's `nogil` and `prange` ([`part3_nogil_prange`])
//!
//! Cython lets you write the loop yourself, release the GIL with `with nogil:` and split the
//! loop across OpenMP threads with `prange`. The Rust equivalent is a rayon parallel iterator
//! inside `allow_threads`. Two things are measured: the speed-up of the loop, and whether
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
//! In the model each interpreter is its own [`Gil`](gil_core::Gil), and data moves between them
//! over channels as owned values.
//!
//! ## Part 6 — which Python, and which workaround ([`part6_decision_guide`])
//!
//! A table of implementations (note: GraalPy *has* a GIL, whatever older tutorials say) and a
//! decision guide whose every leaf points at the part of this lesson that measured it, with the
//! figure from this run.
//!
//! ## Where the model simplifies CPython
//!
//! * A worker here starts in a millisecond or so; a CPython worker has to start an interpreter
//!   and import modules (or `fork` one), which is slower. Serialising with `serde_json` stands in
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

pub mod part1_processes;
pub mod part2_numpy;
pub mod part3_nogil_prange;
pub mod part4_free_threading;
pub mod part5_subinterpreters;
pub mod part6_decision_guide;
pub mod pool;

use std::path::PathBuf;
use std::time::Duration;

use gil_core::cli::GilArgs;

/// A failure the learner can ask part 1 to inject, to see how a pool reports a dead worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Failure {
    /// A worker panics in the middle of a task (an uncaught exception that kills the process).
    Panic,
    /// A worker is killed with SIGKILL in the middle of a task.
    Kill,
}

/// Everything the parts need to know: sizes, the interpreter flags, where the worker binary is.
#[derive(Clone, Debug)]
pub struct Config {
    /// Small sizes, for tests and a first look.
    pub quick: bool,
    /// How many tasks (arrays, jobs) each comparison runs; the tutorial uses 4.
    pub tasks: usize,
    /// Items per CPU-bound model task (`sum(i * i for i in range(items))`).
    pub items: u64,
    /// Length of each array in parts 2 and 3; the tutorial's exercise uses 1,000,000.
    pub array_len: usize,
    /// Also run arrays of this length in part 2 (the "large enough" case), if any.
    pub big_array_len: Option<usize>,
    /// Worker processes / interpreters; defaults to the number of CPUs.
    pub workers: usize,
    /// Repeats per timing; the median is printed.
    pub runs: usize,
    /// `--free-threaded` and `--switch-interval`, for the GILs the parts build.
    pub gil: GilArgs,
    /// The binary to start as a worker (normally this very program).
    pub worker_exe: PathBuf,
    /// Make a worker fail in part 1.
    pub inject_failure: Option<Failure>,
}

impl Config {
    /// The default sizes (`quick = false`) or the small ones, with `workers` = CPUs.
    pub fn new(quick: bool, worker_exe: PathBuf) -> Self {
        Config {
            quick,
            tasks: 4,
            items: if quick { 2_000_000 } else { 20_000_000 },
            array_len: if quick { 200_000 } else { 1_000_000 },
            big_array_len: (!quick).then_some(4_000_000),
            workers: gil_core::measure::cores(),
            runs: if quick { 3 } else { 5 },
            gil: GilArgs {
                free_threaded: false,
                switch_interval: 5.0,
            },
            worker_exe,
            inject_failure: None,
        }
    }

    /// Build the GIL the flags describe (a CPython 3.2+ GIL unless `--free-threaded`).
    pub fn build_gil(&self) -> anyhow::Result<gil_core::Gil> {
        Ok(self.gil.build())
    }
}

/// Headline figures the parts hand to the decision guide (part 6); `None` if a part did not run.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    /// Part 1: speed-up of the process pool (start-up included) over one thread.
    pub processes_speedup: Option<f64>,
    /// Part 1: speed-up of threads under the GIL over one thread.
    pub gil_threads_speedup: Option<f64>,
    /// Part 1: the smallest task worth sending to a process.
    pub break_even: Option<Duration>,
    /// Part 2: speed-up of the GIL-releasing thread pool, per array length.
    pub released_speedups: Vec<(usize, f64)>,
    /// Part 3: speed-up of the parallel loop inside `allow_threads`.
    pub prange_speedup: Option<f64>,
    /// Part 4: two free-threaded threads vs one.
    pub free_threaded_speedup: Option<f64>,
    /// Part 5: N interpreters vs N threads in one interpreter.
    pub subinterpreters_speedup: Option<f64>,
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
/// 80 MB buffer.
pub fn sum_of_squares(arr: &ndarray::Array1<f64>) -> f64 {
    arr.fold(0.0, |total, &x| total + x * x)
}

/// Whether two float sums agree to a relative tolerance.
pub fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()).max(f64::MIN_POSITIVE)
}

/// Time several alternatives in turns (A, B, C, A, B, C, …) and return each one's median.
///
/// On a shared machine the load drifts; taking turns spreads the drift over all alternatives
/// instead of penalising whichever happened to run during a busy spell.
pub fn medians_in_turns(runs: usize, alternatives: &mut [&mut dyn FnMut()]) -> Vec<Duration> {
    let mut samples = vec![Vec::new(); alternatives.len()];
    for _ in 0..runs.max(1) {
        for (alternative, times) in alternatives.iter_mut().zip(&mut samples) {
            times.push(gil_core::measure::time(&mut **alternative).1);
        }
    }
    samples
        .into_iter()
        .map(|times| gil_core::measure::Samples(times).median())
        .collect()
}
