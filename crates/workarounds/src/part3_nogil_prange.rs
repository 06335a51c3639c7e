//! Part 3 — Cython's `with nogil:` and `prange`: a rayon parallel loop inside `detach`.
//!
#![doc = include_str!("part3_nogil_prange.md")]
//!
//! One model thread runs a typed loop over an array, `total += arr[i] * arr[i]`, three ways:
//! a plain loop holding the GIL, a plain loop inside `detach`, and a rayon parallel loop
//! inside `detach` (what `prange` compiles to, with OpenMP instead of rayon). Meanwhile a
//! second model Python thread counts "bytecodes": it makes progress only while the GIL is free.
//!
//! Each way is timed as several passes back to back in one timed call ([`passes_for`]);
//! prange's passes are one parallel loop inside its pool, woken right before the clock
//! starts: a sleeping rayon worker can take milliseconds to wake on a virtual machine, which
//! would otherwise be timed as loop work.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use anyhow::ensure;
use gil_core::claim::{self, Claim, Unit};
use gil_core::context::Cx;
use gil_core::figure::TimelineChart;
use gil_core::measure::{self, Samples, Stopwatch, fmt_count, fmt_duration};
use gil_core::part::{Part, Run};
use gil_core::report::{Table, kv, note};
use gil_core::{Gil, GilGuard};
use rayon::prelude::*;

use crate::{Config, expected};

/// The part's prose (also its documentation, and the book's page).
pub const TEXT: &str = include_str!("part3_nogil_prange.md");

/// The Python (Cython) this part models: `parallel_sum`, summing squares.
pub const PYTHON: &str = r#"
from cython.parallel import prange     # Cython, compiled with OpenMP

def parallel_sum(double[:] arr):
    cdef double total = 0
    with nogil:                            # release the GIL
        for i in prange(arr.shape[0]):     # split across threads
            total += arr[i] * arr[i]
    return total
"#;

/// The claim for a loop that holds the GIL.
pub const HOLDING: &str = "Holding the GIL, the loop stopped the other Python thread throughout.";
/// The claim for a loop inside `with nogil:`.
pub const NOGIL: &str = "With the GIL released, the other Python thread kept running.";
/// The claim part 6 quotes for prange.
pub const PRANGE: &str = "prange split the loop across the cores.";
/// The claim made instead where the simulator expects no gain (or no GIL).
pub const PRANGE_ONE_CORE: &str = "With one core prange has no second core to use.";

/// How long one timed call of a loop lasts at least (several passes back to back).
const TIMED_CALL: Duration = Duration::from_millis(10);

/// Timed calls of each way, in turns, outside `--quick`; the fastest counts. Disturbance only
/// adds time: measured idle, one virtual core of this 2-core VM at times ran the same plain
/// loop at 6.2 ms instead of 3.9 ms for several calls in a row (its host was busy), which moved
/// the median of seven but not the fastest.
const RUNS: usize = 7;

/// One way of running the loop.
#[derive(Clone, Debug)]
pub struct LoopRun {
    /// Wall time of one pass of the loop, from the fastest timed call.
    pub time: Duration,
    /// The sum it computed.
    pub total: f64,
    /// Bytecodes the other Python thread ran while the loop ran (one run).
    pub other_thread_steps: u64,
    /// Percent of the loop's time the other thread ran, from its rate when alone.
    pub other_thread_share: f64,
}

/// What part 3 measured on this machine.
#[derive(Clone, Debug)]
pub struct Part3 {
    /// Array length.
    pub len: usize,
    /// rayon's thread count.
    pub rayon_threads: usize,
    /// Passes of the loop in each timed call.
    pub passes: usize,
    /// Plain loop, GIL held (Cython without `nogil`).
    pub with_gil: LoopRun,
    /// Plain loop inside `with nogil:`.
    pub nogil: LoopRun,
    /// `prange` inside `with nogil:`.
    pub prange: LoopRun,
}

/// Part 3's figures, from this machine or from the simulator.
#[derive(Clone, Debug)]
pub struct Figures {
    /// Array length.
    pub len: usize,
    /// The other thread's shares and prange's speed-up.
    pub shares: expected::Part3,
    /// One pass of the plain loop in nogil.
    pub plain: Duration,
    /// One pass with prange.
    pub prange: Duration,
    /// The live run's own figures.
    pub live: Option<Part3>,
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
    values.par_chunks(CHUNK).map(typed_loop).sum()
}

/// Floats per share of a prange loop.
const CHUNK: usize = 64 * 1024;

/// `passes` passes of [`prange_loop`] as one parallel loop over every pass's shares, so the
/// pool's threads go from one pass to the next without falling idle (a rayon worker that
/// finds no work soon sleeps, and waking it can take as long as a pass); the sum of all
/// passes.
pub fn prange_passes(values: &[f64], passes: usize) -> f64 {
    let shares: Vec<&[f64]> = values.chunks(CHUNK).collect();
    (0..passes * shares.len())
        .into_par_iter()
        .map(|k| typed_loop(shares[k % shares.len()]))
        .sum()
}

const RAISE_LEN: &str = "raise --array-len";

/// Part 3 in the lesson's table.
pub struct NogilPrange;

impl Part<Config> for NogilPrange {
    type Figures = Figures;

    fn title(&self) -> &'static str {
        "Cython nogil and prange"
    }

    fn python(&self) -> &'static str {
        PYTHON
    }

    fn text(&self) -> &'static str {
        TEXT
    }

    fn cores_needed(&self, _cfg: &Config) -> usize {
        measure::cores().min(2)
    }

    fn live(&self, _cx: &Cx, cfg: &Config) -> anyhow::Result<Figures> {
        let len = array_len(cfg);
        crate::ensure_floats_fit(
            len.saturating_mul(2),
            &format!("an array of {} floats", fmt_count(len as u64)),
            "lower --array-len or --tasks",
        )?;
        let m = measure(cfg, len)?;
        Ok(Figures {
            len,
            shares: expected::Part3 {
                holding_share: m.with_gil.other_thread_share,
                nogil_share: m.nogil.other_thread_share,
                prange: measure::speedup(m.nogil.time, m.prange.time),
            },
            plain: m.nogil.time,
            prange: m.prange.time,
            live: Some(m),
        })
    }

    fn simulate(&self, cx: &Cx, cfg: &Config) -> anyhow::Result<Figures> {
        let len = array_len(cfg);
        let shares = expected::part3(cfg, cx.sim_cores(), len);
        let plain = expected::work(expected::FLOAT, len as u64);
        Ok(Figures {
            len,
            shares,
            plain,
            prange: plain.div_f64(shares.prange.max(1e-9)),
            live: None,
        })
    }

    fn show(&self, cx: &mut Cx, cfg: &Config, run: Run<'_, Figures>) -> anyhow::Result<()> {
        let f = run.figures;
        kv("array", format!("{} floats", fmt_count(f.len as u64)));
        show_timelines(cx, cfg, f.len)?;
        if let Some(m) = &f.live {
            show_live(m);
        }
        kv(
            "one pass of the loop",
            format!(
                "{} in nogil, {} with prange",
                fmt_duration(f.plain),
                fmt_duration(f.prange)
            ),
        );
        if crate::long_enough(f.plain, RAISE_LEN) {
            make_claims(cx, cfg, f.shares, run.expected.shares);
        }
        if let Some(m) = &f.live {
            let diff = (m.prange.total - m.with_gil.total).abs()
                / m.with_gil.total.abs().max(f64::MIN_POSITIVE);
            kv(
                "parallel vs sequential sum",
                format!("relative difference {diff:.1e}"),
            );
        }
        Ok(())
    }
}

/// The array part 3 loops over: `--array-len` floats per task, all tasks in one.
fn array_len(cfg: &Config) -> usize {
    cfg.array_len.saturating_mul(cfg.tasks.max(1))
}

/// The loop beside a Python thread, holding the GIL and then detached, as the simulator runs
/// them (for `--svg` and `--trace`; nothing is simulated without those flags).
fn show_timelines(cx: &Cx, cfg: &Config, len: usize) -> anyhow::Result<()> {
    if !cx.session().figures.is_on() {
        return Ok(());
    }
    let [holding, detached] = expected::part3_timelines(cfg, cx.sim_cores(), len);
    cx.figure(
        &TimelineChart::new("loop-holding", "A native loop that keeps the GIL", &holding)
            .caption("Simulated: the other Python thread waits until the loop is done."),
    )?;
    cx.figure(
        &TimelineChart::new(
            "loop-detached",
            "The same loop with nogil (detached)",
            &detached,
        )
        .caption("Simulated: the other Python thread runs while the loop computes."),
    )
}

fn show_live(m: &Part3) {
    kv("threads prange uses", m.rayon_threads);
    let mut table = Table::new(&["loop", "one pass", "other thread ran"]);
    for (name, run) in [
        ("holding the GIL", &m.with_gil),
        ("in nogil", &m.nogil),
        ("prange in nogil", &m.prange),
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
    note(&format!(
        "One pass: the fastest of several calls of {} passes back to back (prange's as one \
         parallel loop, its threads kept awake until it starts, so waking them is not timed \
         as loop work). \
         Last column: bytecodes another Python thread ran during a pass, and for what share \
         of it, judged by its speed alone.",
        m.passes
    ));
}

fn make_claims(cx: &mut Cx, cfg: &Config, measured: expected::Part3, e: expected::Part3) {
    // With --free-threaded there is no GIL to hold, so nothing stops the other thread.
    if !cfg.lesson.free_threaded() {
        cx.claim(Claim {
            figure: "other thread's share of the loop, GIL held",
            unit: Unit::Percent,
            measured: measured.holding_share,
            expected: e.holding_share,
            low: 0.0,
            high: (e.holding_share * 1.5).max(1.0),
            text: HOLDING,
        });
    }
    cx.claim(Claim {
        figure: "other thread's share of the loop, nogil",
        unit: Unit::Percent,
        measured: measured.nogil_share,
        expected: e.nogil_share,
        // "Kept running" needs a clear share, not full speed: holding the GIL leaves it ~0 %.
        low: e.nogil_share * 0.1,
        high: (e.nogil_share * 2.0).max(150.0),
        text: NOGIL,
    });
    cx.claim(claim::speedup(
        "prange vs the plain loop, both nogil",
        measured.prange,
        e.prange,
        PRANGE,
        PRANGE_ONE_CORE,
    ));
}

/// Passes of the loop per timed call, so that one call lasts about [`TIMED_CALL`] (at least
/// 2, at most 64): one untimed plain pass sizes it.
///
/// Within a call the passes follow each other with no pause, so prange's threads never fall
/// idle between them.
pub fn passes_for(values: &[f64]) -> usize {
    let clock = Stopwatch::start();
    black_box(typed_loop(black_box(values)));
    let one = clock.elapsed().as_secs_f64().max(1e-7);
    ((TIMED_CALL.as_secs_f64() / one).ceil() as usize).clamp(2, 64)
}

/// Run part 3 on this machine on an array of `len` floats (printing nothing).
pub fn measure(cfg: &Config, len: usize) -> anyhow::Result<Part3> {
    let values = crate::random_array(len, 11).into_raw_vec_and_offset().0;
    let rayon_threads = rayon::current_num_threads();
    let gil = cfg.build_gil();
    let ways = [Way::HoldingGil, Way::NoGil, Way::Prange];
    let passes = passes_for(&values);
    // Once each untimed: page faults, rayon's threads started.
    for way in ways {
        gil.attach("loop", |py| black_box(run_way(py, &values, way, || ())));
    }
    let runs = if cfg.quick() {
        cfg.runs
    } else {
        RUNS.max(cfg.runs)
    };
    let times = measure::in_turns(runs, ways.len(), |i| {
        gil.attach("loop", |py| timed_passes(py, &values, ways[i], passes))
    });
    let [with_gil, nogil, prange] = [0, 1, 2].map(|i| {
        let beside = beside_python_thread(&gil, &values, ways[i]);
        LoopRun {
            time: Samples(times[i].clone()).best(),
            total: beside.total,
            other_thread_steps: beside.steps,
            other_thread_share: beside.share,
        }
    });
    ensure!(
        crate::close(prange.total, with_gil.total, 1e-9) && nogil.total == with_gil.total,
        "sums disagree: {} / {} / {}",
        with_gil.total,
        nogil.total,
        prange.total
    );
    Ok(Part3 {
        len,
        rayon_threads,
        passes,
        with_gil,
        nogil,
        prange,
    })
}

/// One timed call: `passes` passes of the loop `way`, back to back; the time of one pass.
///
/// prange's passes are one parallel loop ([`prange_passes`]) run inside its pool, as
/// OpenMP's calling thread joins its team, with the pool's other threads kept spinning until
/// the clock starts ([`hot_pool`]).
fn timed_passes(py: &mut GilGuard<'_>, values: &[f64], way: Way, passes: usize) -> Duration {
    let plain = || {
        let clock = Stopwatch::start();
        for _ in 0..passes {
            black_box(typed_loop(black_box(values)));
        }
        clock.elapsed() / passes as u32
    };
    match way {
        Way::HoldingGil => plain(),
        Way::NoGil => py.detach(plain),
        Way::Prange => py.detach(|| {
            hot_pool(|| {
                let clock = Stopwatch::start();
                black_box(prange_passes(black_box(values), passes));
                clock.elapsed() / passes as u32
            })
        }),
    }
}

/// Run `timed` on a thread of rayon's pool while every other thread of the pool spins, awake,
/// until `timed` starts: as OpenMP's idle threads spin between parallel regions.
///
/// An idle rayon worker soon sleeps, and on a virtual machine waking a sleeping one can take
/// as long as a pass of the loop; measured quiet, prange then took either half the plain
/// loop's time or all of it. Waking the workers happens here, before `timed` runs.
pub fn hot_pool<T: Send>(timed: impl FnOnce() -> T + Send) -> T {
    let others = rayon::current_num_threads().saturating_sub(1);
    let (spinning, go) = (AtomicU64::new(0), AtomicBool::new(false));
    let (spinning, go) = (&spinning, &go);
    rayon::scope(|s| {
        for _ in 0..others {
            s.spawn(move |_| {
                spinning.fetch_add(1, Relaxed);
                while !go.load(Relaxed) {
                    std::hint::spin_loop();
                }
            });
        }
        // Every other worker has taken a spinner (or, on a machine too busy to run them, a
        // second has passed): they are awake.
        let clock = Stopwatch::start();
        while spinning.load(Relaxed) < others as u64 && clock.elapsed() < Duration::from_secs(1) {
            std::hint::spin_loop();
        }
        go.store(true, Relaxed);
        timed()
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
