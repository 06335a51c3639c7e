//! Part 3 — Cython's `with nogil:` and `prange`: a rayon parallel loop inside `detach`.
//!
//! One model thread runs a typed loop over an array, `total += arr[i] * arr[i]`, three ways:
//! a plain loop holding the GIL, a plain loop inside `detach`, and a rayon parallel loop
//! inside `detach` (what `prange` compiles to, with OpenMP instead of rayon). Meanwhile a
//! second model Python thread counts "bytecodes": it makes progress only while the GIL is free.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use anyhow::ensure;
use gil_core::claim::{Claim, Unit, claim};
use gil_core::figure::{self, TimelineChart};
use gil_core::measure::{self, Stopwatch, fmt_count, fmt_duration};
use gil_core::report::{Table, kv, note};
use gil_core::{Gil, GilGuard, session};
use rayon::prelude::*;

use crate::{Config, expected};

/// The Python (Cython) this part models: the tutorial's `parallel_sum`, summing squares.
pub const PYTHON: &str = r#"
# mymodule.pyx, compiled by Cython with OpenMP
from cython.parallel import prange

def parallel_sum(double[:] arr):
    cdef double total = 0
    cdef Py_ssize_t i
    with nogil:                            # release the GIL
        for i in prange(arr.shape[0]):     # split across threads
            total += arr[i] * arr[i]       # a reduction: one share each
    return total
"#;

/// The claim for a loop that holds the GIL.
pub const HOLDING: &str =
    "Holding the GIL, the loop stopped every other Python thread for its whole length.";
/// The claim for a loop inside `with nogil:`.
pub const NOGIL: &str = "With the GIL released, the other Python thread kept running.";
/// The claim part 6 quotes for prange.
pub const PRANGE: &str = "prange split the loop across the cores.";
/// The claim made instead where the simulator expects no gain (or no GIL).
pub const PRANGE_ONE_CORE: &str = "With one core prange has no second core to use.";

/// One way of running the loop.
#[derive(Clone, Debug)]
pub struct LoopRun {
    /// Median wall time of the loop.
    pub time: Duration,
    /// The sum it computed.
    pub total: f64,
    /// Bytecodes the other Python thread ran while the loop ran (one run).
    pub other_thread_steps: u64,
    /// Percent of the loop's time the other thread ran, from its rate when alone.
    pub other_thread_share: f64,
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

const RAISE_LEN: &str = "raise --array-len";

/// Run part 3 (in `--simulated` mode, its simulated figures only).
pub fn run(cfg: &Config) -> anyhow::Result<()> {
    let len = cfg.array_len.saturating_mul(cfg.tasks.max(1));
    kv("array", format!("{} floats", fmt_count(len as u64)));
    show_figures(cfg, len)?;
    if session::simulated() {
        let e = expected::part3(cfg, session::sim_cores(), len);
        if crate::long_enough(expected::work(expected::FLOAT, len as u64), RAISE_LEN) {
            make_claims(cfg, e, e);
        }
        let plain = expected::work(expected::FLOAT, len as u64);
        kv(
            "loop, at the simulator's price",
            format!(
                "{} in nogil, {} with prange",
                fmt_duration(plain),
                fmt_duration(plain.div_f64(e.prange.max(1e-9)))
            ),
        );
        return Ok(());
    }
    crate::ensure_floats_fit(
        len.saturating_mul(2),
        &format!("an array of {} floats", fmt_count(len as u64)),
        "lower --array-len or --tasks",
    )?;
    measure(cfg, len).map(drop)
}

/// The loop beside a Python thread, holding the GIL and then detached, as the simulator runs
/// them (for `--svg` and `--trace`; nothing is simulated without those flags).
fn show_figures(cfg: &Config, len: usize) -> anyhow::Result<()> {
    if !figure::wanted() {
        return Ok(());
    }
    let [holding, detached] = expected::part3_timelines(cfg, session::sim_cores(), len);
    figure::show(
        &TimelineChart::new("loop-holding", "A native loop that keeps the GIL", &holding)
            .caption("Simulated: the other Python thread waits until the loop is done."),
    )?;
    figure::show(
        &TimelineChart::new(
            "loop-detached",
            "The same loop with nogil (detached)",
            &detached,
        )
        .caption("Simulated: the other Python thread runs while the loop computes."),
    )
}

fn make_claims(cfg: &Config, measured: expected::Part3, e: expected::Part3) {
    // With --free-threaded there is no GIL to hold, so nothing stops the other thread.
    if !cfg.lesson.free_threaded() {
        claim(Claim {
            figure: "other thread's share of the loop, GIL held",
            unit: Unit::Percent,
            measured: measured.holding_share,
            expected: e.holding_share,
            low: 0.0,
            high: (e.holding_share * 1.5).max(1.0),
            text: HOLDING,
        });
    }
    claim(Claim {
        figure: "other thread's share of the loop, nogil",
        unit: Unit::Percent,
        measured: measured.nogil_share,
        expected: e.nogil_share,
        // "Kept running" needs a clear share, not full speed: holding the GIL leaves it ~0 %.
        low: e.nogil_share * 0.1,
        high: (e.nogil_share * 2.0).max(150.0),
        text: NOGIL,
    });
    crate::speedup_claim(
        "prange vs the plain loop, both nogil",
        measured.prange,
        e.prange,
        PRANGE,
        PRANGE_ONE_CORE,
    );
}

/// Run part 3 live on an array of `len` floats and print what it measures.
pub fn measure(cfg: &Config, len: usize) -> anyhow::Result<Part3> {
    let values = crate::random_array(len, 11).into_raw_vec_and_offset().0;
    let rayon_threads = rayon::current_num_threads();
    kv("threads prange uses", rayon_threads);
    note(
        "The model's prange is rayon, a Rust library that splits a loop across a pool of \
         threads, one per core, as OpenMP does for Cython.",
    );
    let gil = cfg.build_gil();

    let ways = [Way::HoldingGil, Way::NoGil, Way::Prange];
    let (gil, values) = (&gil, &values);
    let mut timed = ways.map(|way| {
        move || {
            black_box(gil.attach("loop", |py| run_way(py, values, way, || ()).0));
        }
    });
    let [a, b, c] = &mut timed;
    let times = crate::medians_in_turns(cfg.runs, &mut [a, b, c]);
    let [with_gil, nogil, prange] = [0, 1, 2].map(|i| {
        let beside = beside_python_thread(gil, values, ways[i]);
        LoopRun {
            time: times[i],
            total: beside.total,
            other_thread_steps: beside.steps,
            other_thread_share: beside.share,
        }
    });

    let mut table = Table::new(&["loop", "time", "other thread ran"]);
    for (name, run) in [
        ("holding the GIL", &with_gil),
        ("in nogil", &nogil),
        ("prange in nogil", &prange),
    ] {
        table.push([
            name.to_owned(),
            fmt_duration(run.time),
            format!(
                "{} bytecodes, {:.0} %",
                fmt_count(run.other_thread_steps),
                run.other_thread_share
            ),
        ]);
    }
    table.print();
    note(
        "The last column: how many model bytecodes another Python thread ran while the loop \
         ran, and for what share of the loop's time, judged by its speed when alone.",
    );
    if !crate::long_enough(nogil.time, RAISE_LEN) {
        return Ok(Part3 {
            len,
            rayon_threads,
            with_gil,
            nogil,
            prange,
        });
    }
    make_claims(
        cfg,
        expected::Part3 {
            holding_share: with_gil.other_thread_share,
            nogil_share: nogil.other_thread_share,
            prange: measure::speedup(nogil.time, prange.time),
        },
        expected::part3(cfg, session::sim_cores(), len),
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
        "Adding in a different order rounds differently, so a parallel sum agrees with the \
         sequential one in all but the last few digits, not bit for bit: compare floats with \
         a tolerance. Cython refuses prange outside nogil; a Rust extension could hold the \
         GIL through a parallel loop, and would then stop every Python thread as the first \
         row does.",
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
        Way::NoGil | Way::Prange => py.detach(work),
    }
}

/// What the other Python thread did while the loop ran.
struct Beside {
    /// The loop's sum.
    total: f64,
    /// Bytecodes the other thread ran during the loop.
    steps: u64,
    /// Percent of the loop's time it ran, judged by its rate when alone.
    share: f64,
}

/// How long the other thread runs alone first, to learn its speed.
const ALONE: Duration = Duration::from_millis(2);

/// Run the loop on one model thread while another model thread counts bytecodes.
fn beside_python_thread(gil: &Gil, values: &[f64], way: Way) -> Beside {
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
        // Let the other thread start and run alone for a moment: its speed with a free GIL.
        let rate = py.detach(|| {
            while !started.load(Relaxed) {
                std::hint::spin_loop();
            }
            let (before, clock) = (steps.load(Relaxed), Stopwatch::start());
            std::thread::sleep(ALONE);
            (steps.load(Relaxed) - before) as f64 / clock.elapsed().as_secs_f64().max(1e-9)
        });
        let clock = Stopwatch::start();
        let (total, before, after) = run_way(&mut py, values, way, || steps.load(Relaxed));
        let took = clock.elapsed().as_secs_f64();
        stop.store(true, Relaxed);
        drop(py);
        let ran = after - before;
        Beside {
            total,
            steps: ran,
            // A busy machine can slow the other thread while it ran alone, so its
            // rate is too low: the share still cannot exceed the whole loop.
            share: (100.0 * ran as f64 / (rate * took).max(1.0)).min(100.0),
        }
    })
}
