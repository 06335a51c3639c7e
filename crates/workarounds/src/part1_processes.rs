//! Part 1 — `multiprocessing`: worker processes, each with its own GIL.
//!
#![doc = include_str!("part1_processes.md")]
//!
//! The live run compares one thread, threads under the GIL and a process pool on the same
//! CPU-bound tasks; then measures what processes cost (start-up, a round trip, sending data)
//! and where they stop paying; then shuts the pool down and checks every worker exited.

use std::time::Duration;

use anyhow::{Context as _, bail, ensure};
use gil_core::claim;
use gil_core::context::Cx;
use gil_core::measure::{self, Stopwatch, fmt_count, fmt_duration, fmt_ratio, speedup};
use gil_core::part::{Part, Run};
use gil_core::report::{Table, kv, note};
use gil_core::{Mode, work};

use crate::expected::{self, FLOATS_PER_MB, Prices};
use crate::pool::{Output, ProcessPool, Task};
use crate::{Config, Failure};

/// The part's prose (also its documentation, and the book's page).
pub const TEXT: &str = include_str!("part1_processes.md");

/// What part 1 measured on this machine, beyond the figures the simulator also gives.
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
    /// The process ids of the workers (all gone once `measure` returns).
    pub pids: Vec<u32>,
    /// Workers that exited with status 0 at shutdown.
    pub exited: usize,
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

impl Shipping {
    /// Sending one MB of floats and the answer back, the worker's computing left out.
    pub fn per_mb(&self) -> Duration {
        let mb = self.values as f64 / f64::from(FLOATS_PER_MB);
        self.via_worker
            .saturating_sub(self.worker_busy)
            .div_f64(mb.max(1e-9))
    }
}

/// Part 1's figures, from this machine or from the simulator.
#[derive(Clone, Debug)]
pub struct Figures {
    /// Worker processes.
    pub workers: usize,
    /// Tasks compared.
    pub tasks: usize,
    /// One task's work on one thread (too short to compare below [`crate::MIN_WORK`]).
    pub per_task: Duration,
    /// Threads and the pool over one thread.
    pub speedups: expected::Part1,
    /// What the pool costs.
    pub prices: Prices,
    /// The live run's own figures (none from the simulator).
    pub live: Option<Part1>,
}

/// The Python this part models (with the `__main__` guard that the `spawn` and `forkserver`
/// start methods need).
pub const PYTHON: &str = r#"
from multiprocessing import Pool

def cpu_bound(n):
    return sum(i * i for i in range(n))

if __name__ == "__main__":      # workers import this module
    with Pool(4) as pool:
        results = pool.map(cpu_bound, [10_000_000] * 4)
"#;

/// The claim part 6 quotes for threads under the GIL.
pub const GIL_THREADS: &str = "Under the GIL the threads take turns: no faster than one thread.";
/// The claim part 6 quotes for the process pool.
pub const POOL: &str = "Each worker has its own GIL: the workers computed at the same time.";
/// The claim made instead where the simulator expects no gain (or no GIL).
pub const POOL_ONE_CORE: &str = "With one core the worker processes take turns on it.";
/// The claim made instead where the simulator expects no gain (or no GIL).
pub const NO_GIL_THREADS: &str = "Without a GIL (--free-threaded) the threads compute at once.";

const RAISE_ITEMS: &str = "raise --items";

/// Part 1 in the lesson's table.
pub struct Processes;

impl Part<Config> for Processes {
    type Figures = Figures;

    fn title(&self) -> &'static str {
        "multiprocessing, one GIL per process"
    }

    fn python(&self) -> &'static str {
        PYTHON
    }

    fn text(&self) -> &'static str {
        TEXT
    }

    fn cores_needed(&self, cfg: &Config) -> usize {
        cfg.workers.clamp(1, cfg.tasks.max(1))
    }

    fn live(&self, _cx: &Cx, cfg: &Config) -> anyhow::Result<Figures> {
        if let Some(failure) = cfg.inject_failure {
            return Err(inject_run(cfg, failure));
        }
        let m = measure(cfg)?;
        let tasks = cfg.tasks.max(1);
        let cores = m.workers.min(measure::cores()).min(tasks);
        let prices = Prices {
            start_up: m.start_up,
            round_trip: m.round_trip,
            // W workers finish W tasks of work w in w + a round trip: they beat one thread
            // once w exceeds a round trip / (W - 1).
            break_even: (cores > 1).then(|| m.round_trip / (cores as u32 - 1)),
            per_mb: m.shipping.per_mb(),
        };
        Ok(Figures {
            workers: m.workers,
            tasks,
            per_task: m.sequential / tasks as u32,
            speedups: expected::Part1 {
                threads: speedup(m.sequential, m.gil_threads),
                pool: speedup(m.sequential, m.pool_map),
            },
            prices,
            live: Some(m),
        })
    }

    fn simulate(&self, cx: &Cx, cfg: &Config) -> anyhow::Result<Figures> {
        Ok(Figures {
            workers: cfg.workers.max(1),
            tasks: cfg.tasks.max(1),
            per_task: expected::work(expected::ITEM, cfg.items),
            speedups: expected::part1(cfg, cx.sim_cores()),
            prices: expected::prices(cfg, cx.sim_cores()),
            live: None,
        })
    }

    fn show(&self, cx: &mut Cx, cfg: &Config, run: Run<'_, Figures>) -> anyhow::Result<()> {
        let f = run.figures;
        kv("worker processes", f.workers);
        kv(
            "tasks",
            format!(
                "{} x sum(i * i for i in range({}))",
                f.tasks,
                fmt_count(cfg.items)
            ),
        );
        if let Some(m) = &f.live {
            show_times(cfg, m);
        }
        if crate::long_enough(f.per_task, RAISE_ITEMS) {
            let e = run.expected.speedups;
            cx.claim(claim::speedup(
                &format!(
                    "{} threads, {}, vs one thread",
                    f.tasks,
                    cfg.lesson.mode(Mode::Gil)
                ),
                f.speedups.threads,
                e.threads,
                NO_GIL_THREADS,
                GIL_THREADS,
            ));
            cx.claim(claim::speedup(
                &format!("Pool({}).map vs one thread", f.workers),
                f.speedups.pool,
                e.pool,
                POOL,
                POOL_ONE_CORE,
            ));
        }
        println!();
        show_prices(cx, &f.prices, f.live.as_ref());
        if let Some(m) = &f.live {
            kv(
                "workers exited",
                format!("{} of {}, all with status 0", m.exited, m.workers),
            );
        }
        Ok(())
    }
}

/// The live timings: the pids, the ways compared, whether the results agree.
fn show_times(cfg: &Config, m: &Part1) {
    Table::new(&["way", "time"])
        .row(["one thread".to_owned(), fmt_duration(m.sequential)])
        .row([
            format!(
                "{} threads, {}",
                cfg.tasks.max(1),
                cfg.lesson.mode(Mode::Gil)
            ),
            fmt_duration(m.gil_threads),
        ])
        .row([format!("Pool({}).map", m.workers), fmt_duration(m.pool_map)])
        .row([
            "the same, with start-up".to_owned(),
            fmt_duration(m.pool_map + m.start_up),
        ])
        .print();
    kv("results match one thread", "yes (map and submit)");
}

/// What a pool costs: this run's prices, or the simulator's calibrated ones.
fn show_prices(cx: &Cx, p: &Prices, live: Option<&Part1>) {
    note(if cx.showing_simulated() {
        "What a process pool costs, at the simulator's calibrated prices:"
    } else {
        "What a process pool costs here:"
    });
    let workers = live.map_or(1, |m| m.workers.max(1));
    kv(
        "pool start-up",
        match live {
            Some(_) => format!(
                "{}  ({} per worker)",
                fmt_duration(p.start_up),
                fmt_duration(p.start_up / workers as u32)
            ),
            None => fmt_duration(p.start_up),
        },
    );
    kv("one empty task, round trip", fmt_duration(p.round_trip));
    kv(
        "a task pays only above",
        p.break_even.map_or_else(
            || "never, with one core".to_owned(),
            |d| format!("~{} of work", fmt_duration(d)),
        ),
    );
    kv("sending 1 MB of floats", fmt_duration(p.per_mb));
    if let Some(m) = live {
        show_tiny(&m.tiny);
    }
}

fn show_tiny(tiny: &TinyTasks) {
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
}

/// Start a pool, make a worker die as `--inject-failure` asks, and return the error that ends
/// the lesson (after printing the pids, the pool's report and that no worker is left).
fn inject_run(cfg: &Config, failure: Failure) -> anyhow::Error {
    let pool = match ProcessPool::start(&cfg.worker_exe, cfg.workers.max(1)) {
        Ok(pool) => pool,
        Err(error) => return error,
    };
    let pids = pool.pids().to_vec();
    print_pids(&pids);
    let report = inject(&pool, failure);
    drop(pool); // kills and reaps every worker, joins every feeder thread
    let gone = pids.iter().all(|&pid| !process_exists(pid));
    kv("workers left running", if gone { "none" } else { "SOME" });
    report.context("a worker died, as asked by --inject-failure")
}

fn print_pids(pids: &[u32]) {
    kv(
        "worker pids",
        crate::fit_on_line("worker pids", pids.iter().map(u32::to_string)),
    );
}

/// Run part 1 on this machine (printing only the workers' pids): the ways compared, what the pool costs, and
/// a clean shutdown.
pub fn measure(cfg: &Config) -> anyhow::Result<Part1> {
    let workers = cfg.workers.max(1);
    let tasks = cfg.tasks.max(1);
    let gil = cfg.build_gil();

    // The pool: start it (timed) before anything else, so all the ways run in turns.
    let pool = ProcessPool::start(&cfg.worker_exe, workers)?;
    let start_up = pool.start_up();
    let pids = pool.pids().to_vec();
    // Printed as the pool starts (the one line the live run prints while it measures), so
    // that the workers can be watched, with ps or top, while they run.
    print_pids(&pids);
    let job = vec![Task::SumOfSquares { n: cfg.items }; tasks];
    let sum = |_: usize, py: &mut gil_core::GilGuard<'_>| work::sum_of_squares(py, cfg.items);
    let (mut expected, mut from_map) = (Vec::new(), Ok(Vec::new()));
    let times = gil_core::measure::fastest_in_turns(
        cfg.runs.min(3),
        &mut [
            &mut || expected = gil.attach("main", |py| (0..tasks).map(|i| sum(i, py)).collect()),
            &mut || drop(gil.run_threads(tasks, sum)),
            &mut || from_map = pool.map(job.clone(), 1),
        ],
    );
    let [sequential, gil_threads, pool_map] = times[..] else {
        bail!("expected three timings");
    };
    let from_map = ints(from_map?)?;
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

    let round_trip = measure::repeat(if cfg.quick() { 50 } else { 200 }, || {
        let _ = pool.submit(Task::SumOfSquares { n: 1 }).result();
    })
    .middle();
    let tiny = tiny_tasks(cfg, &pool, workers)?;
    let shipping = shipping(cfg, &pool)?;

    let shutdown = pool.shutdown()?;
    ensure!(
        shutdown.exits.iter().all(|(_, status)| status.success()),
        "a worker exited with an error: {:?}",
        shutdown.exits
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
        start_up,
        pool_map,
        round_trip,
        tiny,
        shipping,
        pids,
        exited: shutdown.exits.len(),
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
    let count = if cfg.quick() { 500 } else { 2_000 };
    let items = 1_000;
    let gil = cfg.build_gil();
    let job = vec![Task::SumOfSquares { n: items }; count];
    let chunksize = count.div_ceil(4 * workers);
    let (mut here, mut one, mut chunked) = (Vec::new(), Ok(Vec::new()), Ok(Vec::new()));
    let times = gil_core::measure::fastest_in_turns(
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
    // A quarter of the array (2 MB by default) prices a MB as well as the whole of it.
    let values = crate::random_array((cfg.array_len / 4).max(1_000), 7).to_vec();
    let (mut local, mut reply) = (0.0, Err(anyhow::anyhow!("not sent yet")));
    let times = gil_core::measure::fastest_in_turns(
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
    // Wrapped like prose: the report names the worker, its pid and how it died.
    gil_core::report::indented(&format!("The pool reports: {error:#}"), "  ", "  ");
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
