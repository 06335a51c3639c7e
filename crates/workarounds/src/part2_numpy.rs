//! Part 2 — "NumPy releases the GIL": a thread pool over arrays, with and without releasing.
//!
#![doc = include_str!("part2_numpy.md")]
//!
//! Each model thread computes `np.sum(arr ** 2)` on its own array. With the GIL released around
//! the computation (`py.detach`) the threads overlap; a library that forgets to release
//! holds the GIL through the whole call, and the pool runs one call at a time. The arrays are
//! sized by duration: the loop is timed on this machine first, then each array gets as many
//! floats as one call of the target length needs.

use std::time::Duration;

use anyhow::ensure;
use gil_core::GilStats;
use gil_core::claim::{self, Claim, Unit};
use gil_core::context::Cx;
use gil_core::measure::{self, fmt_count, fmt_duration, speedup};
use gil_core::part::{Part, Run};
use gil_core::report::{Table, kv, note};
use ndarray::Array1;

use crate::{Config, expected, sum_of_squares};

/// The part's prose (also its documentation, and the book's page).
pub const TEXT: &str = include_str!("part2_numpy.md");

/// The Python this part models.
pub const PYTHON: &str = r#"
from concurrent.futures import ThreadPoolExecutor

arrays = [np.random.rand(1_000_000) for _ in range(4)]
with ThreadPoolExecutor(max_workers=4) as executor:    # np.sum runs with
    results = list(executor.map(lambda a: np.sum(a ** 2), arrays))  # no GIL
"#;

/// The claim part 6 quotes for long calls that release the GIL.
pub const RELEASED: &str =
    "With the GIL released the long calls ran at the same time, one per core.";
/// The claim made instead where the simulator expects no gain (or no GIL).
pub const RELEASED_ONE_CORE: &str = "With one core even released calls take turns on it.";
/// The claim for long calls that keep the GIL.
pub const HOLDING: &str =
    "Holding the GIL, the pool runs one call at a time: no faster than one thread.";
/// The claim for short calls.
pub const SHORT: &str =
    "Calls this short lose: starting the pool's threads costs more than the work.";

/// How long a short call takes: well below the cost of starting a few threads.
pub const SHORT_CALL: Duration = Duration::from_micros(10);

/// Floats in the array that calibrates the loop: 128 kB, inside the CPU's caches.
const IN_CACHE_FLOATS: usize = 16_384;

/// Part 2's live figures for one call length.
#[derive(Clone, Debug)]
pub struct SizeRun {
    /// "short" or "long".
    pub name: &'static str,
    /// CPU nanoseconds per float, one thread, on the array that sized this one, and that
    /// array's length (at least `len`).
    pub timed: (f64, usize),
    /// The duration the arrays were sized for.
    pub target: Duration,
    /// Elements per array.
    pub len: usize,
    /// Arrays (and pool threads).
    pub arrays: usize,
    /// Median time, one thread, one array after another.
    pub sequential: Duration,
    /// Median time, pool with the GIL released around each call.
    pub released: Duration,
    /// Median time, pool whose calls keep holding the GIL.
    pub holding: Duration,
    /// Sums computed one after another (the reference).
    pub sums: Vec<f64>,
    /// Sums from the releasing pool.
    pub released_sums: Vec<f64>,
    /// Sums from the holding pool.
    pub holding_sums: Vec<f64>,
    /// Releasing pool, one run: GIL time held by all pool threads together.
    pub released_held: Duration,
    /// Releasing pool, one run: time spent detached (computing without the GIL).
    pub released_detached: Duration,
    /// Holding pool, one run: GIL time held by all pool threads together.
    pub holding_held: Duration,
    /// Holding pool, one run: time pool threads spent waiting for the GIL.
    pub holding_waited: Duration,
    /// Holding pool, one run: time spent detached (none: the calls never release).
    pub holding_detached: Duration,
}

/// What part 2 measured on this machine.
#[derive(Clone, Debug)]
pub struct Part2 {
    /// Nanoseconds per float for an array that fits in the caches, one thread.
    pub ns_per_float_in_cache: f64,
    /// Short calls first, then long ones.
    pub sizes: Vec<SizeRun>,
    /// `threading.active_count()` inside the pool, and the pool threads' names.
    pub seen: (usize, Vec<String>),
}

/// One call length's figures.
#[derive(Clone, Debug)]
pub struct Call {
    /// "short" or "long".
    pub name: &'static str,
    /// How long one call was meant to take.
    pub target: Duration,
    /// Floats per array for calls that long.
    pub len: usize,
    /// The pools over one thread.
    pub speedups: expected::Part2,
}

/// Part 2's figures, from this machine or from the simulator.
#[derive(Clone, Debug)]
pub struct Figures {
    /// Arrays (and pool threads).
    pub arrays: usize,
    /// Short calls, then long ones.
    pub calls: Vec<Call>,
    /// Nanoseconds per float, array in cache.
    pub ns_per_float: f64,
    /// The shortest call that gains from releasing (the simulator's, in every run).
    pub break_even: Option<Duration>,
    /// The live run's own figures.
    pub live: Option<Part2>,
}

/// The two call lengths: short (loses) and long (`--call-ms`).
fn calls(cfg: &Config) -> [(&'static str, Duration); 2] {
    [("short", SHORT_CALL), ("long", cfg.long_call)]
}

/// Part 2 in the lesson's table.
pub struct ReleasingPool;

impl Part<Config> for ReleasingPool {
    type Figures = Figures;

    fn title(&self) -> &'static str {
        "NumPy releases the GIL"
    }

    fn python(&self) -> &'static str {
        PYTHON
    }

    fn text(&self) -> &'static str {
        TEXT
    }

    fn cores_needed(&self, cfg: &Config) -> usize {
        cfg.tasks.clamp(1, measure::cores())
    }

    fn live(&self, cx: &Cx, cfg: &Config) -> anyhow::Result<Figures> {
        let m = measure(cfg)?;
        Ok(Figures {
            arrays: cfg.tasks.max(1),
            calls: m
                .sizes
                .iter()
                .map(|run| Call {
                    name: run.name,
                    target: run.target,
                    len: run.len,
                    speedups: expected::Part2 {
                        released: speedup(run.sequential, run.released),
                        holding: speedup(run.sequential, run.holding),
                    },
                })
                .collect(),
            ns_per_float: m.ns_per_float_in_cache,
            break_even: expected::release_break_even(cfg, cx.sim_cores()),
            live: Some(m),
        })
    }

    fn simulate(&self, cx: &Cx, cfg: &Config) -> anyhow::Result<Figures> {
        let per_float = expected::FLOAT.as_nanos().max(1);
        Ok(Figures {
            arrays: cfg.tasks.max(1),
            calls: calls(cfg)
                .into_iter()
                .map(|(name, target)| Call {
                    name,
                    target,
                    len: usize::try_from(target.as_nanos() / per_float).unwrap_or(usize::MAX),
                    speedups: expected::part2(cfg, cx.sim_cores(), target),
                })
                .collect(),
            ns_per_float: expected::FLOAT.as_secs_f64() * 1e9,
            break_even: expected::release_break_even(cfg, cx.sim_cores()),
            live: None,
        })
    }

    fn show(&self, cx: &mut Cx, cfg: &Config, run: Run<'_, Figures>) -> anyhow::Result<()> {
        let f = run.figures;
        kv(
            "one float",
            format!(
                "{:.2} ns{}",
                f.ns_per_float,
                if cx.showing_simulated() {
                    " (the simulator's price)"
                } else {
                    " of CPU time, array in cache (timed first)"
                }
            ),
        );
        for call in &f.calls {
            kv(
                &format!("{} calls", call.name),
                format!(
                    "{} x {} floats, {} each",
                    f.arrays,
                    fmt_count(call.len as u64),
                    fmt_duration(call.target)
                ),
            );
        }
        if let Some(m) = &f.live {
            show_live(m);
        }
        for (call, want) in f.calls.iter().zip(&run.expected.calls) {
            make_claims(cx, cfg, call, want.speedups);
        }
        let whose = if cx.showing_simulated() {
            ""
        } else {
            " (the simulator's)"
        };
        kv(
            "a released call pays above",
            f.break_even.map_or_else(
                || "never, with one core".to_owned(),
                |d| format!("~{}{whose}", fmt_duration(d)),
            ),
        );
        if let Some(long) = f.live.as_ref().and_then(|m| m.sizes.last()) {
            print_gil_times(long);
            explain_memory(f.ns_per_float, long);
        }
        Ok(())
    }
}

/// Claims for one call length: the measured pool speed-ups beside the simulator's.
fn make_claims(cx: &mut Cx, cfg: &Config, call: &Call, e: expected::Part2) {
    let measured = call.speedups;
    if call.name == "short" {
        // Short calls: the point is only that they lose, when the simulator agrees.
        if e.released < 1.0 {
            cx.claim(Claim {
                figure: "short calls, released pool vs one thread",
                unit: Unit::Ratio,
                measured: measured.released,
                expected: e.released,
                low: 0.0,
                high: 1.0,
                text: SHORT,
            });
        }
        return;
    }
    cx.claim(claim::speedup(
        &format!("{} calls, released pool vs one thread", call.name),
        measured.released,
        e.released,
        RELEASED,
        RELEASED_ONE_CORE,
    ));
    if !cfg.lesson.free_threaded() {
        cx.claim(claim::no_faster(
            &format!("{} calls, pool keeping the GIL vs one thread", call.name),
            measured.holding,
            e.holding,
            HOLDING,
        ));
    }
}

/// The live run's table and what the pool's threads saw of themselves.
fn show_live(m: &Part2) {
    let mut table = Table::new(&["calls", "one thread", "GIL released", "GIL kept"]);
    for run in &m.sizes {
        table.push([
            run.name.to_owned(),
            fmt_duration(run.sequential),
            fmt_duration(run.released),
            fmt_duration(run.holding),
        ]);
    }
    table.print();
    let (most, names) = &m.seen;
    kv(
        "threading.active_count()",
        format!("{most} in the pool (CPython would add the main thread)"),
    );
    kv(
        "current_thread().name",
        crate::fit_on_line("current_thread().name", names.iter().cloned()),
    );
}

/// Run part 2 on this machine (printing nothing).
pub fn measure(cfg: &Config) -> anyhow::Result<Part2> {
    let arrays = cfg.tasks.max(1);
    let ns_per_float_in_cache = ns_per_float(IN_CACHE_FLOATS);
    let mut sizes = Vec::new();
    for (name, target) in calls(cfg) {
        let (len, timed) = length_for(target, ns_per_float_in_cache, name)?;
        crate::ensure_floats_fit(
            arrays.saturating_mul(len),
            &format!(
                "{arrays} arrays of {} floats ({name} calls)",
                fmt_count(len as u64)
            ),
            "lower --call-ms or --tasks",
        )?;
        sizes.push(one_size(cfg, (name, target, timed), len, arrays)?);
    }
    Ok(Part2 {
        ns_per_float_in_cache,
        sizes,
        seen: introspect(cfg, arrays),
    })
}

/// How many floats make one call last `target`: a first guess from the speed in cache, then
/// one call on an array that long, timed, to correct for the caches it does not fit in.
///
/// Returns the length, and the nanoseconds per float measured on the array of the first guess
/// with that array's length.
fn length_for(
    target: Duration,
    ns_in_cache: f64,
    name: &str,
) -> anyhow::Result<(usize, (f64, usize))> {
    let floats = |ns_per_float: f64| {
        ((target.as_secs_f64() * 1e9 / ns_per_float.max(1e-3)) as usize).max(1_000)
    };
    let guess = floats(ns_in_cache);
    crate::ensure_floats_fit(
        guess,
        &format!(
            "an array of {} floats ({name} calls)",
            fmt_count(guess as u64)
        ),
        "lower --call-ms",
    )?;
    let ns = ns_per_float(guess);
    Ok((floats(ns).min(guess), (ns, guess)))
}

/// `threading.active_count()` and `threading.current_thread().name` inside the pool: every
/// thread waits (GIL released) until all have started, then looks.
fn introspect(cfg: &Config, arrays: usize) -> (usize, Vec<String>) {
    let gil = cfg.build_gil();
    let all_started = std::sync::Barrier::new(arrays);
    let seen = gil.run_threads(arrays, |_, py| {
        py.detach(|| all_started.wait());
        (py.name().to_owned(), gil.active_count())
    });
    let most = seen.iter().map(|(_, count)| *count).max().unwrap_or(0);
    (most, seen.into_iter().map(|(name, _)| name).collect())
}

/// Median nanoseconds per float of `sum_of_squares` over an array of `len` floats, in CPU
/// time where the platform reports it: the OS pausing this thread for other programs would
/// otherwise count as a slow loop.
fn ns_per_float(len: usize) -> f64 {
    let data = crate::random_array(len, 99);
    let repeats = (1_000_000 / len).max(1);
    let runs = if len > 1_000_000 { 3 } else { 7 };
    let times: Vec<Duration> = (0..runs)
        .map(|_| {
            let (cpu, clock) = (crate::thread_cpu_time(), measure::Stopwatch::start());
            for _ in 0..repeats {
                std::hint::black_box(sum_of_squares(std::hint::black_box(&data)));
            }
            match (cpu, crate::thread_cpu_time()) {
                (Some(before), Some(after)) => after.saturating_sub(before),
                _ => clock.elapsed(),
            }
        })
        .collect();
    measure::Samples(times).middle().as_secs_f64() * 1e9 / (repeats * len) as f64
}

/// Time the three ways for `arrays` arrays of `len` floats; `call` names the call length, its
/// target duration and the timing that sized it.
fn one_size(
    cfg: &Config,
    call: (&'static str, Duration, (f64, usize)),
    len: usize,
    arrays: usize,
) -> anyhow::Result<SizeRun> {
    let (name, target, timed) = call;
    let data: Vec<Array1<f64>> = (0..arrays)
        .map(|i| crate::random_array(len, i as u64 + 1))
        .collect();
    let runs = if target >= Duration::from_millis(20) {
        3
    } else {
        cfg.runs
    };
    // One interpreter per pool, so each pool's GIL statistics are its own.
    let (main, releasing, holding_gil) = (cfg.build_gil(), cfg.build_gil(), cfg.build_gil());
    let released_pool =
        || releasing.run_threads(arrays, |i, py| py.detach(|| sum_of_squares(&data[i])));
    // A native call that never releases: no detach, and no check point inside.
    let holding_pool = || holding_gil.run_threads(arrays, |i, _py| sum_of_squares(&data[i]));
    let (mut sums, mut released_sums, mut holding_sums) = (Vec::new(), Vec::new(), Vec::new());
    let times = gil_core::measure::fastest_in_turns(
        runs,
        &mut [
            &mut || sums = main.attach("main", |_py| data.iter().map(sum_of_squares).collect()),
            &mut || released_sums = released_pool(),
            &mut || holding_sums = holding_pool(),
        ],
    );
    for got in [&released_sums, &holding_sums] {
        ensure!(
            got.iter()
                .zip(&sums)
                .all(|(a, b)| crate::close(*a, *b, 1e-12)),
            "pool sums {got:?} differ from sequential {sums:?}"
        );
    }
    // One more run of each pool, for its GIL statistics.
    releasing.reset_stats();
    holding_gil.reset_stats();
    released_pool();
    holding_pool();
    let (released_stats, holding_stats) = (releasing.stats(), holding_gil.stats());
    Ok(SizeRun {
        name,
        timed,
        target,
        len,
        arrays,
        sequential: times[0],
        released: times[1],
        holding: times[2],
        sums,
        released_sums,
        holding_sums,
        released_held: released_stats.total_held(),
        released_detached: detached(&released_stats),
        holding_held: holding_stats.total_held(),
        holding_waited: holding_stats.total_waited(),
        holding_detached: detached(&holding_stats),
    })
}

fn detached(stats: &GilStats) -> Duration {
    stats.threads.iter().map(|t| t.detached).sum()
}

fn print_gil_times(run: &SizeRun) {
    note(&format!(
        "Where the pool threads' time went in one run of the {} calls, all threads added:",
        run.name
    ));
    Table::new(&["pool", "held the GIL", "waited for it", "ran without it"])
        .row([
            "GIL released".to_owned(),
            fmt_duration(run.released_held),
            "-".to_owned(),
            fmt_duration(run.released_detached),
        ])
        .row([
            "GIL kept".to_owned(),
            fmt_duration(run.holding_held),
            fmt_duration(run.holding_waited),
            fmt_duration(run.holding_detached),
        ])
        .print();
}

/// Whether memory slowed the long arrays: their time per float against the array in cache.
fn explain_memory(in_cache: f64, long: &SizeRun) {
    let (per_float, timed_len) = long.timed;
    kv(
        "one float, a long array",
        format!(
            "{per_float:.2} ns ({} MB, timed to size the long calls)",
            timed_len * std::mem::size_of::<f64>() / 1_000_000
        ),
    );
    if per_float <= in_cache * 1.3 {
        note(
            "A long array took about as long per float as the array in cache: memory did not \
             slow the loop, the chain of adds did (--deep says why).",
        );
    } else {
        note(&format!(
            "A long array took {:.1} times as long per float as the array in cache: it does \
             not fit in the CPU's caches, so waiting for memory added to the chain of adds. \
             Cores share the memory bus, so such arrays may gain less from threads.",
            per_float / in_cache
        ));
    }
}
