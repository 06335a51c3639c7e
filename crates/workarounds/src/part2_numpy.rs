//! Part 2 — "NumPy releases the GIL": a thread pool over arrays, with and without releasing.
//!
//! Each model thread computes `np.sum(arr ** 2)` on its own array. With the GIL released around
//! the computation (`py.allow_threads`) the threads overlap; a library that forgets to release
//! holds the GIL through the whole call, and the pool runs one call at a time.

use std::time::Duration;

use anyhow::ensure;
use gil_core::measure::{self, fmt_count, fmt_duration, fmt_ratio, speedup};
use gil_core::report::{heading, kv, note};
use gil_core::{Gil, GilStats};
use ndarray::Array1;

use crate::{Config, sum_of_squares};

/// Part 2's figures for one array length.
#[derive(Clone, Debug)]
pub struct SizeRun {
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
    /// Releasing pool, per run: GIL time held by all pool threads together.
    pub released_held: Duration,
    /// Releasing pool, per run: time spent detached (computing without the GIL).
    pub released_detached: Duration,
    /// Holding pool, per run: GIL time held by all pool threads together.
    pub holding_held: Duration,
    /// Holding pool, per run: time pool threads spent waiting for the GIL.
    pub holding_waited: Duration,
}

/// What part 2 measured, one entry per array length.
#[derive(Clone, Debug)]
pub struct Part2 {
    /// Smallest length first.
    pub sizes: Vec<SizeRun>,
}

/// Run part 2 and print what it measures.
pub fn run(cfg: &Config) -> anyhow::Result<Part2> {
    heading("Part 2 - NumPy releases the GIL (a thread pool over ndarrays)");
    let arrays = cfg.tasks.max(1);
    kv("CPUs this process may use", measure::cores());
    kv("pool threads", format!("{arrays}, one per array"));
    note(
        "Each task is np.sum(arr ** 2), one native loop per array (NumPy would also allocate a\n\
         temporary array). The three sizes are a tiny one, the tutorial's exercise, and a large\n\
         one.",
    );
    let mut lens = vec![10_000, cfg.array_len];
    lens.extend(cfg.big_array_len);
    lens.sort_unstable();
    lens.dedup();
    let gil = cfg.build_gil()?;
    let mut sizes = Vec::new();
    for len in lens {
        let run = one_size(cfg, &gil, len, arrays)?;
        print_size(&run);
        sizes.push(run);
    }
    note(
        "Released: the calls overlap, and the pool threads hold the GIL only to start and end\n\
         each call. Not released: the GIL is held for the whole call and the pool runs one\n\
         call at a time, whatever the number of cores.",
    );
    explain_sizes(&sizes);
    note(
        "CPython's own figures (CPython 3.11.7 with NumPy 2.4, measured on a 2-core Debian 12\n\
         machine, not by this run): 4 x 1,000,000 took 2.46 ms sequentially and 2.99 ms with 4\n\
         threads (no speed-up); 4 x 10,000,000 took 184 ms and 90.7 ms (2.03x).",
    );
    Ok(Part2 { sizes })
}

fn one_size(cfg: &Config, gil: &Gil, len: usize, arrays: usize) -> anyhow::Result<SizeRun> {
    let data: Vec<Array1<f64>> = (0..arrays)
        .map(|i| crate::random_array(len, i as u64 + 1))
        .collect();
    let runs = if len >= 2_000_000 { 3 } else { cfg.runs };

    // Each variant runs once untimed first (warm caches, threads' stacks), then `runs` times.
    let timed = |f: &mut dyn FnMut()| -> (Duration, GilStats) {
        f();
        gil.reset_stats();
        let median = measure::repeat(runs, &mut *f).median();
        (median, gil.stats())
    };
    let mut sums = Vec::new();
    let (sequential, _) = timed(&mut || {
        sums = gil.attach("main", |_py| data.iter().map(sum_of_squares).collect());
    });
    let mut released_sums = Vec::new();
    let (released, released_stats) = timed(&mut || {
        released_sums = gil.run_threads(arrays, |i, py| {
            py.allow_threads(|| sum_of_squares(&data[i]))
        });
    });
    let mut holding_sums = Vec::new();
    let (holding, holding_stats) = timed(&mut || {
        // A native call that never releases: no allow_threads, and no check point inside.
        holding_sums = gil.run_threads(arrays, |i, _py| sum_of_squares(&data[i]));
    });

    for got in [&released_sums, &holding_sums] {
        ensure!(
            got.iter()
                .zip(&sums)
                .all(|(a, b)| crate::close(*a, *b, 1e-12)),
            "pool sums {got:?} differ from sequential {sums:?}"
        );
    }
    let per_run = |d: Duration| d / runs as u32;
    let (released_held, released_detached) = held_and_detached(&released_stats);
    Ok(SizeRun {
        len,
        arrays,
        sequential,
        released,
        holding,
        sums,
        released_sums,
        holding_sums,
        released_held: per_run(released_held),
        released_detached: per_run(released_detached),
        holding_held: per_run(holding_stats.total_held()),
        holding_waited: per_run(holding_stats.total_waited()),
    })
}

fn held_and_detached(stats: &GilStats) -> (Duration, Duration) {
    (
        stats.total_held(),
        stats.threads.iter().map(|t| t.detached).sum(),
    )
}

/// Say, from this run's figures, where the pool paid and where it did not, and why.
fn explain_sizes(sizes: &[SizeRun]) {
    let gain = |run: &SizeRun| speedup(run.sequential, run.released);
    if let Some(tiny) = sizes.first().filter(|run| gain(run) < 1.0) {
        note(&format!(
            "At {} floats per array the pool is slower ({}): starting and joining threads costs\n\
             more than the work. Releasing the GIL only pays when each call is large.",
            fmt_count(tiny.len as u64),
            fmt_ratio(gain(tiny))
        ));
    }
    for run in sizes.iter().skip(1) {
        let (g, len) = (gain(run), fmt_count(run.len as u64));
        if measure::cores() < 2 {
            note("With one CPU the released calls can only take turns: nothing runs in parallel.");
            break;
        } else if g >= 1.3 {
            note(&format!(
                "At {len} floats per array the released pool is {}: enough work per call.",
                fmt_ratio(g)
            ));
        } else {
            note(&format!(
                "At {len} floats per array the released pool is only {} ({:.1} GB/s read in one\n\
                 thread, {:.1} GB/s in the pool). A loop this simple waits on memory, not on the\n\
                 CPU, and all cores share one memory bus; once the arrays outgrow the caches, more\n\
                 threads read no faster. Releasing the GIL removes the lock, not the other shared\n\
                 resources. (Other programs using the CPUs meanwhile also cut the gain; rerun.)",
                fmt_ratio(g),
                gb_per_s(run, run.sequential),
                gb_per_s(run, run.released)
            ));
        }
    }
}

/// How fast the arrays were read: bytes of all arrays over `time`, in GB/s.
fn gb_per_s(run: &SizeRun, time: Duration) -> f64 {
    (run.arrays * run.len * std::mem::size_of::<f64>()) as f64 / time.as_secs_f64().max(1e-12) / 1e9
}

fn print_size(run: &SizeRun) {
    let title = format!("{} x {}", run.arrays, fmt_count(run.len as u64));
    kv(
        &format!("{title}, sequential"),
        fmt_duration(run.sequential),
    );
    kv(
        &format!("{title}, pool, GIL released"),
        format!(
            "{}  ({}; GIL held {}, computing without it {})",
            fmt_duration(run.released),
            fmt_ratio(speedup(run.sequential, run.released)),
            fmt_duration(run.released_held),
            fmt_duration(run.released_detached)
        ),
    );
    kv(
        &format!("{title}, pool, GIL kept"),
        format!(
            "{}  ({}; GIL held {}, waited for {})",
            fmt_duration(run.holding),
            fmt_ratio(speedup(run.sequential, run.holding)),
            fmt_duration(run.holding_held),
            fmt_duration(run.holding_waited)
        ),
    );
}
