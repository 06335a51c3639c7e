//! Part 5 — where "two threads are slower than one" came from: the pre-3.2 GIL.

use std::time::Duration;

use gil_core::measure::{fmt_count, fmt_duration, fmt_ratio, speedup};
use gil_core::report::{heading, kv, note};
use gil_core::work::countdown_heavy;
use gil_core::{Gil, GilGuard, Mode, OLD_GIL_CHECK_INTERVAL};

use crate::setup::{Config, Trial, median};

/// Ticks ("bytecodes") shared by the threads at scale 1.
pub const BASE_TICKS: u64 = 4_000_000;

/// The time one tick should take: roughly what CPython 2.7 spent per bytecode of the countdown.
pub const TARGET_TICK: Duration = Duration::from_nanos(10);

/// Ticks timed per calibration measurement.
pub const CALIBRATION_TICKS: u64 = 1_000_000;

/// Loop steps per tick used to estimate the cost of one step.
pub const PROBE_STEPS: u32 = 64;

/// How much work one tick does, found by timing it on this machine.
#[derive(Clone, Copy, Debug)]
pub struct Calibration {
    /// `black_box` loop steps per tick (the `work_per_tick` of `countdown_heavy`).
    pub work_per_tick: u32,
    /// What one tick then took, single-threaded under the old GIL (best of three).
    pub tick: Duration,
}

/// What part 5 measured (median runs).
#[derive(Clone, Debug)]
pub struct Report {
    /// The work per tick used.
    pub calibration: Calibration,
    /// Ticks shared by the threads in every run.
    pub ticks: u64,
    /// Old GIL, one thread.
    pub old_one: Trial,
    /// Old GIL, two threads.
    pub old_two: Trial,
    /// 3.2+ GIL, one thread.
    pub new_one: Trial,
    /// 3.2+ GIL, two threads.
    pub new_two: Trial,
}

impl Report {
    /// Two old-GIL threads' time over one old-GIL thread's.
    pub fn old_time_ratio(&self) -> f64 {
        speedup(self.old_two.wall, self.old_one.wall)
    }

    /// Two new-GIL threads' time over one new-GIL thread's.
    pub fn new_time_ratio(&self) -> f64 {
        speedup(self.new_two.wall, self.new_one.wall)
    }
}

/// The work of part 5: `share` ticks of `work_per_tick` loop steps each.
///
/// Calibration and the timed runs share this one closure type, so they time the same code.
fn ticks_of(work_per_tick: u32) -> impl Fn(&mut GilGuard<'_>, u64) + Sync + Copy {
    move |py, share| countdown_heavy(py, share, work_per_tick)
}

/// Time one tick of `work_per_tick` steps: a lone thread under the old GIL, best of three.
fn tick_time(gil: &Gil, work_per_tick: u32) -> Duration {
    let best = (0..3)
        .map(|_| Trial::run(gil, 1, CALIBRATION_TICKS, false, ticks_of(work_per_tick)).wall)
        .min()
        .unwrap_or_default();
    best.div_f64(CALIBRATION_TICKS as f64)
}

/// Find how many loop steps make one tick take about [`TARGET_TICK`] on this machine.
///
/// Times ticks with no steps and with [`PROBE_STEPS`] steps, fits a straight line, solves for
/// the target, and times the result.
pub fn calibrate() -> Calibration {
    let gil = Gil::old_gil(OLD_GIL_CHECK_INTERVAL);
    let bare = tick_time(&gil, 0).as_secs_f64();
    let probe = tick_time(&gil, PROBE_STEPS).as_secs_f64();
    let per_step = ((probe - bare) / f64::from(PROBE_STEPS)).max(1e-12);
    let steps = ((TARGET_TICK.as_secs_f64() - bare) / per_step).round();
    let work_per_tick = steps.clamp(1.0, 100_000.0) as u32;
    Calibration {
        work_per_tick,
        tick: tick_time(&gil, work_per_tick),
    }
}

/// Run part 5: calibrate a tick, then one and two threads under the old and the new GIL.
pub fn run(cfg: &Config) -> anyhow::Result<Report> {
    heading("Part 5: where \"threads are slower\" came from, the old GIL");
    let calibration = calibrate();
    let ticks = cfg.size(BASE_TICKS);
    note(&format!(
        "Up to CPython 3.1 the holder let go of the GIL every {OLD_GIL_CHECK_INTERVAL} ticks\n\
         (bytecodes) and at once tried to take it back: no drop request, no waiting for the\n\
         other thread. How much that costs depends on how long a tick is, so the model first\n\
         times a tick here. {} ticks shared by one or two threads, median of {} runs.",
        fmt_count(ticks),
        cfg.few_repeats()
    ));
    println!();
    kv(
        "work per tick",
        format!(
            "{} black_box steps (calibrated live for about {})",
            calibration.work_per_tick,
            fmt_duration(TARGET_TICK)
        ),
    );
    kv("measured tick", fmt_duration(calibration.tick));

    let old = cfg.gil(Mode::OldGil {
        check_interval: OLD_GIL_CHECK_INTERVAL,
    });
    let new = cfg.gil(Mode::Gil);
    let work = ticks_of(calibration.work_per_tick);
    let (mut old_one, mut old_two, mut new_one, mut new_two) = (vec![], vec![], vec![], vec![]);
    for _ in 0..cfg.few_repeats() {
        old_one.push(Trial::run(&old, 1, ticks, false, work));
        old_two.push(Trial::run(&old, 2, ticks, false, work));
        new_one.push(Trial::run(&new, 1, ticks, false, work));
        new_two.push(Trial::run(&new, 2, ticks, false, work));
    }
    let report = Report {
        calibration,
        ticks,
        old_one: median(&old_one).clone(),
        old_two: median(&old_two).clone(),
        new_one: median(&new_one).clone(),
        new_two: median(&new_two).clone(),
    };
    print(&report);
    Ok(report)
}

fn print(r: &Report) {
    kv("old GIL one thread", fmt_duration(r.old_one.wall));
    kv("old GIL two threads", fmt_duration(r.old_two.wall));
    kv("old GIL time two/one", fmt_ratio(r.old_time_ratio()));
    let releases: u64 = r.old_two.stats.threads.iter().map(|t| t.acquisitions).sum();
    kv(
        "old GIL releases and retakes",
        format!(
            "{} takes, {} of them hand-offs",
            fmt_count(releases),
            fmt_count(r.old_two.stats.switches)
        ),
    );
    kv("new GIL one thread", fmt_duration(r.new_one.wall));
    kv("new GIL two threads", fmt_duration(r.new_two.wall));
    kv("new GIL time two/one", fmt_ratio(r.new_time_ratio()));
    if r.old_time_ratio() < 1.25 {
        note(&format!(
            "The old GIL came out cheap this time ({} hand-offs). Its cost shows when the woken\n\
             thread has a core of its own to run on at once; when other programs keep the cores\n\
             busy, it rarely does. Run this part again when the machine is idle.",
            fmt_count(r.old_two.stats.switches)
        ));
    }
    note(
        "Every release with a thread waiting wakes it, but the releaser is still running on\n\
         its own core and usually takes the lock back before the woken thread gets there.\n\
         The waiter goes back to sleep; one wake-up per hundred ticks is wasted on both sides,\n\
         and the hand-offs that do happen come late and at random. The 3.2 GIL wakes a\n\
         waiter only when it has waited a whole interval, and then really hands over.\n\
         CPython's own figures, measured on another 2-core machine (not by this run): 2.7\n\
         took 1.62x the time with two threads, 3.11 1.04x. Shorter ticks make the old GIL\n\
         worse, longer ones hide it: the cost is per release, not per unit of work.",
    );
}
