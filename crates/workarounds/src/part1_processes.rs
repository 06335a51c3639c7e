//! Part 1 — `multiprocessing`: worker processes, each with its own GIL.
//!
//! Compares one thread, threads under the GIL, free-threaded threads, and a process pool on the
//! same CPU-bound tasks; then measures what processes cost (start-up, a round trip, shipping
//! data) and where they stop paying; then shuts the pool down and checks every worker exited.

use std::time::Duration;

use anyhow::{Context as _, bail, ensure};
use gil_core::measure::{self, Stopwatch, fmt_count, fmt_duration, fmt_ratio, speedup};
use gil_core::report::{Table, kv, note};
use gil_core::{Gil, Mode, session, work};

use crate::expected;
use crate::pool::{Output, ProcessPool, Task};
use crate::{Config, Failure};

/// What part 1 measured.
#[derive(Clone, Debug)]
pub struct Part1 {
    /// Worker processes used.
    pub workers: usize,
    /// The tasks' results computed in this process, one thread.
    pub expected: Vec<u64>,
    /// The same from `Pool.map`.
    pub from_map: Vec<u64>,
    /// The same from `submit` futures.
    pub from_futures: Vec<u64>,
    /// One thread, all tasks.
    pub sequential: Duration,
    /// One thread per task, under the GIL.
    pub gil_threads: Duration,
    /// One thread per task, free-threaded.
    pub free_threads: Duration,
    /// Starting the pool, until every worker was ready.
    pub start_up: Duration,
    /// `Pool.map` on a started pool.
    pub pool_map: Duration,
    /// Median round trip of a task that does (almost) nothing.
    pub round_trip: Duration,
    /// Tiny tasks: in this process, one by one over the pool, and chunked.
    pub tiny: TinyTasks,
    /// Shipping an array to a worker vs summing it here.
    pub shipping: Shipping,
    /// The process ids of the workers (all gone once `run` returns).
    pub pids: Vec<u32>,
}

/// Many tiny tasks: where processes lose.
#[derive(Clone, Debug)]
pub struct TinyTasks {
    /// How many tasks.
    pub count: usize,
    /// Items per task.
    pub items: u64,
    /// All of them in this process.
    pub here: Duration,
    /// Over the pool, one task per message.
    pub chunk_1: Duration,
    /// Over the pool, in chunks of `chunksize`.
    pub chunked: Duration,
    /// The chunk size used (CPython's rule: tasks ÷ (4 × workers), rounded up).
    pub chunksize: usize,
}

/// Sending data to a worker: serialisation and copying cost.
#[derive(Clone, Debug)]
pub struct Shipping {
    /// Numbers sent.
    pub values: usize,
    /// Computing the sum of squares here.
    pub here: Duration,
    /// The whole round trip through a worker.
    pub via_worker: Duration,
    /// The part of it the worker spent computing.
    pub worker_busy: Duration,
}

/// The Python this part models (the tutorial's, with the `__main__` guard that the `spawn` and
/// `forkserver` start methods need).
pub const PYTHON: &str = r#"
from multiprocessing import Pool
from concurrent.futures import ProcessPoolExecutor

def cpu_bound(n):
    return sum(i * i for i in range(n))

if __name__ == "__main__":      # workers import this module
    with Pool(4) as pool:
        results = pool.map(cpu_bound, [10_000_000] * 4)
    with ProcessPoolExecutor() as executor:
        results = list(executor.map(cpu_bound, [10_000_000] * 4))
"#;

/// The claim part 6 quotes for threads under the GIL.
pub const GIL_THREADS: &str = "Under the GIL the threads take turns: no faster than one thread.";
/// The claim part 6 quotes for the process pool.
pub const POOL: &str =
    "Each worker process has its own GIL, so the workers compute at the same time.";
/// The claim made instead where the simulator expects no gain (or no GIL).
pub const POOL_ONE_CORE: &str = "With one core the worker processes take turns on it.";
/// The claim made instead where the simulator expects no gain (or no GIL).
pub const NO_GIL_THREADS: &str = "Without a GIL (--free-threaded) the threads compute at once.";

const RAISE_ITEMS: &str = "raise --items";

/// Run part 1 (in `--simulated` mode, its simulated figures only).
pub fn run(cfg: &Config) -> anyhow::Result<()> {
    if session::simulated() {
        simulated(cfg);
        Ok(())
    } else {
        measure(cfg).map(drop)
    }
}

fn simulated(cfg: &Config) {
    let tasks = cfg.tasks.max(1);
    describe(cfg, tasks, cfg.workers.max(1));
    let expected = expected::part1(cfg, session::sim_cores());
    if crate::long_enough(expected::work(expected::ITEM, cfg.items), RAISE_ITEMS) {
        make_claims(cfg, &expected, &expected);
    }
    simulated_prices(cfg);
    start_method_note();
}

/// What a pool costs, from the simulator's prices ([`expected::price`]): a live run measures
/// the same figures instead.
fn simulated_prices(cfg: &Config) {
    let prices = expected::prices(cfg, session::sim_cores(), cfg.array_len);
    println!();
    note("What a process pool costs, at the simulator's prices (a live run measures them):");
    kv(
        "pool start-up",
        format!(
            "{}  ({} per worker)",
            fmt_duration(prices.start_up),
            fmt_duration(expected::price::WORKER_START)
        ),
    );
    kv(
        "one empty task, round trip",
        fmt_duration(expected::price::ROUND_TRIP),
    );
    kv(
        "a task pays only above",
        if prices.break_even == Duration::MAX {
            "never, with one core".to_owned()
        } else {
            format!("~{} of work", fmt_duration(prices.break_even))
        },
    );
    kv(
        &format!(
            "{} floats, sent to a worker",
            fmt_count(cfg.array_len as u64)
        ),
        format!("{} and back", fmt_duration(prices.shipping)),
    );
}

/// The work, the workers, and the threads compared.
fn describe(cfg: &Config, tasks: usize, workers: usize) {
    kv("worker processes", workers);
    kv(
        "tasks",
        format!(
            "{tasks} x sum(i * i for i in range({}))",
            fmt_count(cfg.items)
        ),
    );
}

/// The part's claims: `measured` speed-ups over one thread beside the simulator's.
fn make_claims(cfg: &Config, measured: &expected::Part1, expected: &expected::Part1) {
    let tasks = cfg.tasks.max(1);
    crate::speedup_claim(
        &format!(
            "{tasks} threads, {}, vs one thread",
            cfg.lesson.mode(Mode::Gil)
        ),
        measured.threads,
        expected.threads,
        NO_GIL_THREADS,
        GIL_THREADS,
    );
    crate::speedup_claim(
        &format!("Pool({}).map vs one thread", cfg.workers.max(1)),
        measured.pool,
        expected.pool,
        POOL,
        POOL_ONE_CORE,
    );
}

fn start_method_note() {
    note(
        "Every argument and result is serialised and piped (CPython pickles it): send work \
         that is big next to its data, batch small tasks (chunksize), start the pool once. \
         A CPython worker also starts an interpreter and imports modules: since 3.14 \
         Linux forks it from a forkserver (before: fork), macOS and Windows spawn it.",
    );
}

/// Run part 1 live and print what it measures.
pub fn measure(cfg: &Config) -> anyhow::Result<Part1> {
    let workers = cfg.workers.max(1);
    let tasks = cfg.tasks.max(1);
    describe(cfg, tasks, workers);

    let gil = cfg.build_gil();
    let free = Gil::free_threaded();

    // The pool: start it (timed) before anything else, so all four ways run in turns.
    let pool = ProcessPool::start(&cfg.worker_exe, workers)?;
    let start_up = pool.start_up();
    let pids = pool.pids().to_vec();
    kv(
        "worker pids",
        crate::fit_on_line("worker pids", pids.iter().map(u32::to_string)),
    );
    let job = vec![Task::SumOfSquares { n: cfg.items }; tasks];
    let sum = |_: usize, py: &mut gil_core::GilGuard<'_>| work::sum_of_squares(py, cfg.items);
    let (mut expected, mut from_map) = (Vec::new(), Ok(Vec::new()));
    let times = crate::medians_in_turns(
        cfg.runs.min(3),
        &mut [
            &mut || expected = gil.attach("main", |py| (0..tasks).map(|i| sum(i, py)).collect()),
            &mut || drop(gil.run_threads(tasks, sum)),
            &mut || drop(free.run_threads(tasks, sum)),
            &mut || from_map = pool.map(job.clone(), 1),
        ],
    );
    let [sequential, gil_threads, free_threads, pool_map] = times[..] else {
        bail!("expected four timings");
    };
    let from_map = ints(from_map?)?;
    let mut table = Table::new(&["way", "time"]);
    table.push(["one thread".to_owned(), fmt_duration(sequential)]);
    table.push([
        format!("{tasks} threads, {}", gil.mode()),
        fmt_duration(gil_threads),
    ]);
    if !gil.is_free_threaded() {
        table.push([
            format!("{tasks} threads, free-threaded"),
            fmt_duration(free_threads),
        ]);
    }
    table.push([format!("Pool({workers}).map"), fmt_duration(pool_map)]);
    table.push([
        "the same, with start-up".to_owned(),
        fmt_duration(pool_map + start_up),
    ]);
    table.print();
    let measured = expected::Part1 {
        threads: speedup(sequential, gil_threads),
        free_threads: speedup(sequential, free_threads),
        pool: speedup(sequential, pool_map),
    };
    if crate::long_enough(sequential / tasks as u32, RAISE_ITEMS) {
        make_claims(cfg, &measured, &expected::part1(cfg, session::sim_cores()));
    }

    let futures: Vec<_> = job.into_iter().map(|t| pool.submit(t)).collect();
    let from_futures = ints(
        futures
            .into_iter()
            .map(|f| f.result())
            .collect::<anyhow::Result<Vec<_>>>()?,
    )?;
    ensure!(
        from_map == expected && from_futures == expected,
        "the pool returned wrong results: {from_map:?} / {from_futures:?}, expected {expected:?}"
    );
    kv("results match one thread", "yes (map and submit)");

    // What processes cost.
    println!();
    note("What a process pool costs:");
    kv(
        "pool start-up",
        format!(
            "{}  ({} per worker)",
            fmt_duration(start_up),
            fmt_duration(start_up / workers as u32)
        ),
    );
    let round_trip = measure::repeat(if cfg.quick() { 50 } else { 300 }, || {
        let _ = pool.submit(Task::SumOfSquares { n: 1 }).result();
    })
    .middle();
    kv("one empty task, round trip", fmt_duration(round_trip));
    let per_item = sequential.as_secs_f64() / (tasks as f64 * cfg.items.max(1) as f64);
    kv(
        "a task pays only above",
        format!(
            "~{}  (~{} items at {:.2} ns each)",
            fmt_duration(round_trip),
            fmt_count((round_trip.as_secs_f64() / per_item.max(1e-12)) as u64),
            per_item * 1e9
        ),
    );

    let tiny = tiny_tasks(cfg, &pool, workers)?;
    Table::new(&[
        &format!(
            "{} tasks of {} items",
            fmt_count(tiny.count as u64),
            fmt_count(tiny.items)
        ),
        "time",
        "vs here",
    ])
    .row([
        "in this process".to_owned(),
        fmt_duration(tiny.here),
        fmt_ratio(1.0),
    ])
    .row([
        "Pool.map, chunksize 1".to_owned(),
        fmt_duration(tiny.chunk_1),
        fmt_ratio(speedup(tiny.here, tiny.chunk_1)),
    ])
    .row([
        format!("Pool.map, chunksize {}", tiny.chunksize),
        fmt_duration(tiny.chunked),
        fmt_ratio(speedup(tiny.here, tiny.chunked)),
    ])
    .print();

    let shipping = shipping(cfg, &pool)?;
    kv(
        &format!("{} floats, summed here", fmt_count(shipping.values as u64)),
        fmt_duration(shipping.here),
    );
    kv(
        "sent to a worker and back",
        format!(
            "{}  (of which computing {})",
            fmt_duration(shipping.via_worker),
            fmt_duration(shipping.worker_busy)
        ),
    );
    start_method_note();

    if let Some(failure) = cfg.inject_failure {
        let report = inject(&pool, failure);
        drop(pool); // kills and reaps every worker, joins every feeder thread
        let gone = pids.iter().all(|&pid| !process_exists(pid));
        kv("workers left running", if gone { "none" } else { "SOME" });
        return Err(report.context("a worker died, as asked by --inject-failure"));
    }

    let shutdown = pool.shutdown()?;
    kv(
        "workers exited",
        format!("{} of {}, all with status 0", shutdown.exits.len(), workers),
    );
    ensure!(
        pids.iter().all(|&pid| !process_exists(pid)),
        "a worker process is still running after shutdown"
    );

    Ok(Part1 {
        workers,
        expected,
        from_map,
        from_futures,
        sequential,
        gil_threads,
        free_threads,
        start_up,
        pool_map,
        round_trip,
        tiny,
        shipping,
        pids,
    })
}

fn ints(outputs: Vec<Output>) -> anyhow::Result<Vec<u64>> {
    outputs
        .into_iter()
        .map(|o| o.as_int().context("expected an integer result"))
        .collect()
}

/// Many tasks of a few thousand items each: the messaging dominates.
fn tiny_tasks(cfg: &Config, pool: &ProcessPool, workers: usize) -> anyhow::Result<TinyTasks> {
    let count = if cfg.quick() { 500 } else { 4_000 };
    let items = 1_000;
    let gil = cfg.build_gil();
    let job = vec![Task::SumOfSquares { n: items }; count];
    let chunksize = count.div_ceil(4 * workers);
    let (mut here, mut one, mut chunked) = (Vec::new(), Ok(Vec::new()), Ok(Vec::new()));
    let times = crate::medians_in_turns(
        cfg.runs.min(3),
        &mut [
            &mut || {
                here = gil.attach("main", |py| {
                    (0..count)
                        .map(|_| work::sum_of_squares(py, items))
                        .collect::<Vec<_>>()
                });
            },
            &mut || one = pool.map(job.clone(), 1),
            &mut || chunked = pool.map(job.clone(), chunksize),
        ],
    );
    ensure!(
        ints(one?)? == here && ints(chunked?)? == here,
        "tiny tasks gave wrong results"
    );
    Ok(TinyTasks {
        count,
        items,
        here: times[0],
        chunk_1: times[1],
        chunked: times[2],
        chunksize,
    })
}

/// Send an array to a worker and get its sum of squares back.
fn shipping(cfg: &Config, pool: &ProcessPool) -> anyhow::Result<Shipping> {
    // The array, its JSON text (about 20 bytes a float) on both sides, and the worker's copy.
    crate::ensure_floats_fit(
        cfg.array_len.saturating_mul(8),
        &format!(
            "sending {} floats to a worker",
            fmt_count(cfg.array_len as u64)
        ),
        "lower --array-len",
    )?;
    let values = crate::random_array(cfg.array_len, 7).to_vec();
    let (mut local, mut reply) = (0.0, Err(anyhow::anyhow!("not sent yet")));
    let times = crate::medians_in_turns(
        if cfg.quick() { 1 } else { 3 },
        &mut [
            &mut || local = values.iter().map(|v| v * v).sum::<f64>(),
            // The copy is part of the price: pickling reads the whole array too.
            &mut || {
                reply = pool
                    .submit(Task::SumOfSquaresOf {
                        values: values.clone(),
                    })
                    .reply()
            },
        ],
    );
    let reply = reply?;
    let remote = reply.results.first().and_then(|o| o.as_float());
    ensure!(
        remote.is_some_and(|r| crate::close(r, local, 1e-12)),
        "the worker's sum {remote:?} differs from ours {local}"
    );
    Ok(Shipping {
        values: values.len(),
        here: times[0],
        via_worker: times[1],
        worker_busy: reply.busy,
    })
}

/// Make a worker die mid-task and return the pool's report of it (an error, always).
fn inject(pool: &ProcessPool, failure: Failure) -> anyhow::Error {
    println!();
    note("A worker dies:");
    let outcome = match failure {
        Failure::Panic => pool.submit(Task::Panic).result(),
        Failure::Kill => {
            let future = pool.submit(Task::Sleep { ms: 30_000 });
            let clock = Stopwatch::start();
            let worker = loop {
                if let Some(worker) = future.running_on() {
                    break worker;
                }
                if clock.elapsed() > Duration::from_secs(5) {
                    return anyhow::anyhow!("no worker picked the task up");
                }
                std::thread::sleep(Duration::from_millis(1));
            };
            // Let the task start, then kill the worker running it.
            std::thread::sleep(Duration::from_millis(20));
            if let Err(error) = pool.kill_worker(worker) {
                return error;
            }
            future.result()
        }
    };
    let error = match outcome {
        Ok(output) => anyhow::anyhow!("the task unexpectedly returned {output:?}"),
        Err(error) => error,
    };
    kv("the pool reports", format!("{error:#}"));
    note(
        "Like CPython's BrokenProcessPool: once a worker dies abruptly, the pool refuses more \
         work. The lesson kills the remaining workers, reaps them all, and exits non-zero.",
    );
    error
}

/// Whether a process with this id still exists (a zombie counts: it was never reaped).
pub fn process_exists(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        std::path::Path::new(&format!("/proc/{pid}")).exists()
    } else {
        false
    }
}

/// Fail unless every pid is gone within `timeout`.
pub fn wait_until_gone(pids: &[u32], timeout: Duration) -> anyhow::Result<()> {
    let clock = Stopwatch::start();
    while pids.iter().any(|&pid| process_exists(pid)) {
        if clock.elapsed() > timeout {
            bail!("processes still alive: {pids:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

/// Whether a process with this id is still running: a zombie is not (it has exited and only
/// waits for its parent, which may be anyone once our pool's parent died, to collect it).
pub fn process_running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X")
    })
}

/// Fail unless every pid has exited within `timeout` (zombies count as exited): for workers
/// whose parent died, so that someone else reaps them.
pub fn wait_until_exited(pids: &[u32], timeout: Duration) -> anyhow::Result<()> {
    let clock = Stopwatch::start();
    while pids.iter().any(|&pid| process_running(pid)) {
        if clock.elapsed() > timeout {
            bail!("processes still running: {pids:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}
