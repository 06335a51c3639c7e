//! Part 3 — Cython's `with nogil:` and `prange`: a rayon parallel loop inside `allow_threads`.
//!
//! One model thread runs a typed loop over an array, `total += arr[i] * arr[i]`, three ways:
//! a plain loop holding the GIL, a plain loop inside `allow_threads`, and a rayon parallel loop
//! inside `allow_threads` (what `prange` compiles to, with OpenMP instead of rayon). Meanwhile a
//! second model Python thread counts "bytecodes": it makes progress only while the GIL is free.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use anyhow::ensure;
use gil_core::measure::{self, fmt_count, fmt_duration, fmt_ratio, speedup};
use gil_core::report::{heading, kv, note};
use gil_core::{Gil, GilGuard};
use rayon::prelude::*;

use crate::Config;

/// One way of running the loop.
#[derive(Clone, Debug)]
pub struct LoopRun {
    /// Median wall time of the loop.
    pub time: Duration,
    /// The sum it computed.
    pub total: f64,
    /// Bytecodes the other Python thread ran while the loop ran (last run).
    pub other_thread_steps: u64,
}

/// What part 3 measured.
#[derive(Clone, Debug)]
pub struct Part3 {
    /// Array length.
    pub len: usize,
    /// rayon's thread count.
    pub rayon_threads: usize,
    /// Plain loop, GIL held (Cython without `nogil`).
    pub with_gil: LoopRun,
    /// Plain loop inside `with nogil:`.
    pub nogil: LoopRun,
    /// `prange` inside `with nogil:`.
    pub prange: LoopRun,
}

/// `for i in range(n): total += arr[i] * arr[i]` over a typed buffer: no Python objects.
pub fn typed_loop(values: &[f64]) -> f64 {
    let mut total = 0.0;
    for &v in values {
        total += black_box(v) * v;
    }
    total
}

/// The same loop split across threads, each summing a range, then the partial sums added
/// (a `prange` reduction).
pub fn prange_loop(values: &[f64]) -> f64 {
    values.par_chunks(64 * 1024).map(typed_loop).sum()
}

/// Run part 3 and print what it measures.
pub fn run(cfg: &Config) -> anyhow::Result<Part3> {
    heading("Part 3 - Cython nogil + prange (rayon inside allow_threads)");
    let len = cfg.array_len * cfg.tasks.max(1);
    let values = crate::random_array(len, 11).to_vec();
    let rayon_threads = rayon::current_num_threads();
    kv("CPUs this process may use", measure::cores());
    kv("rayon threads", rayon_threads);
    kv("array", format!("{} floats", fmt_count(len as u64)));
    let gil = cfg.build_gil()?;

    let ways = [Way::HoldingGil, Way::NoGil, Way::Prange];
    // Each way is timed in a block of back-to-back runs after one warm-up run. (Not in turns:
    // a parallel loop started right after a stretch of serial work can find the OS scheduler
    // placing both of rayon's threads on one CPU for a few milliseconds, which has nothing to
    // do with the GIL.)
    let times = ways.map(|way| {
        let run = || gil.attach("loop", |py| run_way(py, &values, way, || ()).0);
        run();
        measure::repeat(cfg.runs, || {
            black_box(run());
        })
        .median()
    });
    let [with_gil, nogil, prange] = [0, 1, 2].map(|i| {
        let (total, other_thread_steps) = beside_python_thread(&gil, &values, ways[i]);
        LoopRun {
            time: times[i],
            total,
            other_thread_steps,
        }
    });

    kv(
        "loop holding the GIL",
        format!(
            "{}  (other Python thread ran {} bytecodes meanwhile)",
            fmt_duration(with_gil.time),
            fmt_count(with_gil.other_thread_steps)
        ),
    );
    kv(
        "loop in nogil",
        format!(
            "{}  (other thread ran {})",
            fmt_duration(nogil.time),
            fmt_count(nogil.other_thread_steps)
        ),
    );
    kv(
        "prange in nogil",
        format!(
            "{}  ({} vs the plain loop; other thread ran {})",
            fmt_duration(prange.time),
            fmt_ratio(speedup(with_gil.time, prange.time)),
            fmt_count(prange.other_thread_steps)
        ),
    );
    let diff = (prange.total - with_gil.total).abs() / with_gil.total.abs().max(f64::MIN_POSITIVE);
    kv(
        "parallel vs sequential sum",
        format!("relative difference {diff:.1e}"),
    );
    ensure!(
        crate::close(prange.total, with_gil.total, 1e-9) && nogil.total == with_gil.total,
        "sums disagree: {} / {} / {}",
        with_gil.total,
        nogil.total,
        prange.total
    );
    note(
        "Releasing the GIL lets other Python threads run during the loop; prange also splits\n\
         the loop across cores. Adding in a different order rounds differently, so a parallel\n\
         sum agrees with the sequential one in all but the last few digits, not bit for bit:\n\
         compare floats with a tolerance. Cython refuses\n\
         prange outside nogil; a Rust extension could hold the GIL through a parallel loop and\n\
         would then block every Python thread, as the first line shows for a plain loop.",
    );
    Ok(Part3 {
        len,
        rayon_threads,
        with_gil,
        nogil,
        prange,
    })
}

/// The three ways of running the loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Way {
    HoldingGil,
    NoGil,
    Prange,
}

/// Run the loop `way`; `during` is called right before and right after the loop itself.
fn run_way<T>(
    py: &mut GilGuard<'_>,
    values: &[f64],
    way: Way,
    during: impl Fn() -> T,
) -> (f64, T, T) {
    let work = || {
        let before = during();
        let total = if way == Way::Prange {
            prange_loop(values)
        } else {
            typed_loop(values)
        };
        (total, before, during())
    };
    match way {
        Way::HoldingGil => work(),
        Way::NoGil | Way::Prange => py.allow_threads(work),
    }
}

/// Run the loop on one model thread while another model thread counts bytecodes; return the
/// sum and how many bytecodes the other thread ran while the loop ran.
fn beside_python_thread(gil: &Gil, values: &[f64], way: Way) -> (f64, u64) {
    let steps = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let started = AtomicBool::new(false);
    std::thread::scope(|s| {
        let mut py = gil.acquire("loop");
        s.spawn(|| {
            let mut other = gil.acquire("other");
            started.store(true, Relaxed);
            while !stop.load(Relaxed) {
                steps.fetch_add(1, Relaxed);
                other.check_point();
            }
        });
        // Let the other thread start and take the GIL once, so it is running when we begin.
        py.allow_threads(|| {
            while !started.load(Relaxed) {
                std::hint::spin_loop();
            }
        });
        let (total, before, after) = run_way(&mut py, values, way, || steps.load(Relaxed));
        stop.store(true, Relaxed);
        drop(py);
        (total, after - before)
    })
}
