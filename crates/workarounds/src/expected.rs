//! What the simulator expects: each part's comparison replayed on `gil_core::sim`, in virtual
//! time, for `cores` idle cores (the lesson passes `cx.sim_cores()`).
//!
//! The simulator runs *scripts* of steps (Python bytecode, native code that holds or releases
//! the GIL, blocking waits) and implements the same lock as the live model. A process or a
//! subinterpreter is a script in an interpreter of its own, with its own GIL
//! ([`Script::in_interpreter`]). Only ratios are quoted from here, so the nominal costs below
//! (one item of work, one float, starting a thread) set the scale, not the answer. What the
//! simulator leaves out is measured live instead: a process pool's pipes and serialisation
//! (part 1's costs), caches and memory (part 2's time per float), reference counting (part 4).

use std::time::Duration;

use gil_core::Mode;
use gil_core::context::Cx;
use gil_core::measure::speedup;
use gil_core::sim::{Script, SimConfig, SimRun, Step, simulate};

use crate::Config;

/// Simulated CPU time of one item of model work (one `i * i` added, one countdown step).
pub const ITEM: Duration = Duration::from_nanos(1);

/// Simulated time of one float in a native loop (`total += x * x`).
pub const FLOAT: Duration = Duration::from_nanos(1);

/// Simulated cost for the main thread to start one pool thread (Linux: tens of microseconds,
/// which is what makes short calls lose).
pub const THREAD_START: Duration = Duration::from_micros(25);

/// `count` units of simulated work of `unit` each (saturating, never overflowing).
pub fn work(unit: Duration, count: u64) -> Duration {
    unit.saturating_mul(u32::try_from(count).unwrap_or(u32::MAX))
}

/// Threads (and interpreters) parts 4 and 5 run: the cores the figures are for, at least two.
pub fn parallel_threads(cx: &Cx) -> usize {
    if cx.simulated() {
        cx.sim_cores().max(2)
    } else {
        gil_core::measure::cores().max(2)
    }
}

fn run(cfg: &Config, cores: usize, mode: Mode, scripts: Vec<Script>) -> SimRun {
    let sim = SimConfig::new(cfg.lesson.mode(mode), cfg.lesson.interval(), cores);
    simulate(&sim, scripts)
}

fn elapsed(cfg: &Config, cores: usize, mode: Mode, scripts: Vec<Script>) -> Duration {
    run(cfg, cores, mode, scripts).elapsed
}

/// `n` threads in interpreter 0, thread `i` running `steps(i)`.
fn threads(n: usize, steps: impl Fn(usize) -> Vec<Step>) -> Vec<Script> {
    (0..n)
        .map(|i| Script::new(format!("T{}", i + 1), steps(i)))
        .collect()
}

/// `work` of Python bytecode per task, on one thread one task after another.
fn one_thread(tasks: usize, work: Duration) -> Vec<Script> {
    vec![Script::new(
        "main",
        vec![Step::Repeat(
            u32::try_from(tasks).unwrap_or(u32::MAX),
            vec![Step::Bytecode(work)],
        )],
    )]
}

/// Part 1's speed-ups over one thread.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Part1 {
    /// One thread per task in the interpreter the flags choose.
    pub threads: f64,
    /// `Pool(workers).map`: each worker a process, so an interpreter of its own.
    pub pool: f64,
}

/// Part 1 on the simulator: `tasks` tasks of `items` items each.
pub fn part1(cfg: &Config, cores: usize) -> Part1 {
    let task = work(ITEM, cfg.items);
    let tasks = cfg.tasks.max(1);
    let base = elapsed(cfg, cores, Mode::Gil, one_thread(tasks, task));
    let each = |_| vec![Step::Bytecode(task)];
    let workers = cfg.workers.clamp(1, tasks);
    // Pool.map with chunksize 1 hands task k to the next free worker: k % workers here.
    let pool = (0..workers)
        .map(|w| {
            let mine = (w..tasks).step_by(workers).count();
            one_thread(mine, task).remove(0).in_interpreter(w)
        })
        .collect();
    Part1 {
        threads: speedup(base, elapsed(cfg, cores, Mode::Gil, threads(tasks, each))),
        pool: speedup(base, elapsed(cfg, cores, Mode::Gil, pool)),
    }
}

/// Part 2's pools over one thread, for calls of one length.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Part2 {
    /// Calls that release the GIL (`Py_BEGIN_ALLOW_THREADS`).
    pub released: f64,
    /// Calls that keep holding it.
    pub holding: f64,
}

/// Part 2 on the simulator: `tasks` native calls of `call` each; pool thread `k` starts after
/// the main thread has started `k + 1` threads.
pub fn part2(cfg: &Config, cores: usize, call: Duration) -> Part2 {
    let tasks = cfg.tasks.max(1);
    let sequential = vec![Script::new(
        "main",
        vec![Step::Repeat(
            u32::try_from(tasks).unwrap_or(u32::MAX),
            vec![Step::NativeHolding(call)],
        )],
    )];
    let base = elapsed(cfg, cores, Mode::Gil, sequential);
    let pool = |native: fn(Duration) -> Step| {
        threads(tasks, |k| {
            vec![Step::Blocking(THREAD_START * (k as u32 + 1)), native(call)]
        })
    };
    Part2 {
        released: speedup(
            base,
            elapsed(cfg, cores, Mode::Gil, pool(Step::NativeReleased)),
        ),
        holding: speedup(
            base,
            elapsed(cfg, cores, Mode::Gil, pool(Step::NativeHolding)),
        ),
    }
}

/// Part 3: how much another Python thread runs during the loop, and what prange gains.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Part3 {
    /// Percent of the loop's time the other thread ran, loop holding the GIL.
    pub holding_share: f64,
    /// The same with the loop inside `with nogil:`.
    pub nogil_share: f64,
    /// prange (one share per core) over the plain loop, both without the GIL.
    pub prange: f64,
}

/// Part 3 on the simulator: a loop over `floats` floats beside one Python thread.
pub fn part3(cfg: &Config, cores: usize, floats: usize) -> Part3 {
    let work = self::work(FLOAT, floats as u64);
    let share = |native: Step| {
        let scripts = vec![
            Script::new("loop", vec![native]),
            Script::new("other", vec![Step::Bytecode(work)]),
        ];
        let finished = run(cfg, cores, Mode::Gil, scripts).finished;
        let (Some(&loop_end), Some(&other_end)) = (finished.first(), finished.get(1)) else {
            return 0.0;
        };
        // After the loop the other thread runs alone, at full speed: what it did before the
        // loop ended is its whole work minus that tail.
        let during = work.saturating_sub(other_end.saturating_sub(loop_end));
        100.0 * during.as_secs_f64() / loop_end.as_secs_f64().max(1e-12)
    };
    let plain = elapsed(
        cfg,
        cores,
        Mode::Gil,
        vec![Script::new("loop", vec![Step::NativeReleased(work)])],
    );
    let split = elapsed(
        cfg,
        cores,
        Mode::Gil,
        threads(cores, |_| {
            vec![Step::NativeReleased(
                work / u32::try_from(cores).unwrap_or(1),
            )]
        }),
    );
    Part3 {
        holding_share: share(Step::NativeHolding(work)),
        nogil_share: share(Step::NativeReleased(work)),
        prange: speedup(plain, split),
    }
}

/// Part 3's two runs as timelines, for the figures: the loop holding the GIL beside a Python
/// thread, then the same loop detached (the scripts [`part3`] measures the share with).
pub fn part3_timelines(cfg: &Config, cores: usize, floats: usize) -> [gil_core::Timeline; 2] {
    let work = self::work(FLOAT, floats as u64);
    [Step::NativeHolding(work), Step::NativeReleased(work)].map(|native| {
        let scripts = vec![
            Script::new("loop", vec![native]),
            Script::new("other", vec![Step::Bytecode(work)]),
        ];
        run(cfg, cores, Mode::Gil, scripts).timeline
    })
}

/// Part 4: the countdown on `threads` threads over one, with the GIL and free-threaded.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Part4 {
    /// With the GIL (CPython's default build).
    pub gil: f64,
    /// Free-threaded.
    pub free: f64,
}

/// Part 4 on the simulator: a countdown of `total` steps, whole or split over `threads`.
pub fn part4(cfg: &Config, cores: usize, total: u64, threads_n: usize) -> Part4 {
    let whole = work(ITEM, total);
    let share = whole / u32::try_from(threads_n).unwrap_or(1);
    let ratio = |mode: Mode| {
        let sim = |scripts| {
            simulate(&SimConfig::new(mode, cfg.lesson.interval(), cores), scripts).elapsed
        };
        speedup(
            sim(one_thread(1, whole)),
            sim(threads(threads_n, |_| vec![Step::Bytecode(share)])),
        )
    };
    Part4 {
        gil: ratio(Mode::Gil),
        free: ratio(Mode::FreeThreaded),
    }
}

/// Part 5: one thread in each of `n` interpreters over `n` threads in one interpreter.
pub fn part5(cfg: &Config, cores: usize, each: u64, n: usize) -> f64 {
    let work = self::work(ITEM, each);
    let shared = threads(n, |_| vec![Step::Bytecode(work)]);
    let separate = (0..n)
        .map(|i| {
            Script::new(format!("interp{}", i + 1), vec![Step::Bytecode(work)]).in_interpreter(i)
        })
        .collect();
    speedup(
        elapsed(cfg, cores, Mode::Gil, shared),
        elapsed(cfg, cores, Mode::Gil, separate),
    )
}

/// What the simulator assumes for the costs it does not simulate — a worker process's start,
/// a message to it, the bytes of a message, an interpreter's start — so that a `--simulated`
/// run prices every workaround and the decision guide is complete. Calibrated from live runs
/// of parts 1 and 5 on the course's 2-core reference machine (they print the same prices,
/// measured: e.g. 18.7 ms to send 1 MB of floats against 18.75 ms here, and 45 µs to start
/// an interpreter against 40 µs); a live run measures each one on yours instead, and the
/// lesson labels these as the simulator's calibrated prices.
pub mod price {
    use std::time::Duration;

    /// Starting one worker process (fork and exec of this binary, until it says it is ready).
    pub const WORKER_START: Duration = Duration::from_micros(1_600);
    /// One empty task to a worker and its result back: two pipe messages.
    pub const ROUND_TRIP: Duration = Duration::from_micros(25);
    /// Serialising one float, piping it to a worker and parsing it there (JSON text, our
    /// stand-in for pickle: about 20 bytes a float).
    pub const SEND_PER_FLOAT: Duration = Duration::from_nanos(150);
    /// One message between two interpreters of one process and its answer back.
    pub const INTERPRETER_ROUND_TRIP: Duration = Duration::from_micros(10);
    /// Starting one model interpreter: its lock, and a thread attached to it.
    pub const INTERPRETER_START: Duration = Duration::from_micros(40);
}

/// What a process pool costs: the prices part 1 prints and the decision guide quotes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Prices {
    /// `workers` workers started, in sequence.
    pub start_up: Duration,
    /// One empty task to a worker and its result back.
    pub round_trip: Duration,
    /// The least work a task must carry before `Pool.map` of such tasks beats one thread:
    /// below it, the round trips cost more than the cores gain. `None`: never (one core).
    pub break_even: Option<Duration>,
    /// Sending one MB (10^6 bytes) of floats to a worker, serialised, and the answer back.
    pub per_mb: Duration,
}

/// Floats in one MB (10^6 bytes).
pub const FLOATS_PER_MB: u32 = 125_000;

/// Part 1's prices: `tasks` tasks over `workers` workers on `cores` simulated cores.
pub fn prices(cfg: &Config, cores: usize) -> Prices {
    let tasks = cfg.tasks.max(1);
    let workers = cfg.workers.clamp(1, tasks);
    let pool_beats_one_thread = |task: Duration| {
        let base = elapsed(cfg, cores, Mode::Gil, one_thread(tasks, task));
        let pool = (0..workers)
            .map(|w| {
                let mine = u32::try_from((w..tasks).step_by(workers).count()).unwrap_or(1);
                Script::new(
                    format!("worker{}", w + 1),
                    vec![Step::Repeat(
                        mine,
                        vec![Step::Blocking(price::ROUND_TRIP), Step::Bytecode(task)],
                    )],
                )
                .in_interpreter(w)
            })
            .collect();
        elapsed(cfg, cores, Mode::Gil, pool) < base
    };
    // Bisect on whole microseconds of work per task: the simulator is deterministic, so the
    // answer is the same on every run. A machine too small to gain never breaks even.
    let (mut low, mut high) = (0_u64, 1_000_000_u64);
    let break_even = pool_beats_one_thread(Duration::from_micros(high)).then(|| {
        while high - low > 1 {
            let mid = (low + high) / 2;
            if pool_beats_one_thread(Duration::from_micros(mid)) {
                high = mid;
            } else {
                low = mid;
            }
        }
        Duration::from_micros(high)
    });
    Prices {
        start_up: price::WORKER_START * u32::try_from(workers).unwrap_or(u32::MAX),
        round_trip: price::ROUND_TRIP,
        break_even,
        per_mb: price::SEND_PER_FLOAT * FLOATS_PER_MB,
    }
}

/// The shortest native call (whole microseconds) for which part 2's pool of threads, each
/// call releasing the GIL, beats one thread: below it, starting the threads costs more than
/// the cores gain. `None` when no call length gains (one core).
pub fn release_break_even(cfg: &Config, cores: usize) -> Option<Duration> {
    let gains = |micros: u64| part2(cfg, cores, Duration::from_micros(micros)).released > 1.0;
    let (mut low, mut high) = (0_u64, 100_000_u64);
    if !gains(high) {
        return None;
    }
    while high - low > 1 {
        let mid = (low + high) / 2;
        if gains(mid) {
            high = mid;
        } else {
            low = mid;
        }
    }
    Some(Duration::from_micros(high))
}
