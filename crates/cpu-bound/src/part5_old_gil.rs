//! Part 5 — where "two threads are slower than one" came from: the pre-3.2 GIL.
//!
#![doc = include_str!("part5_old_gil.md")]

use std::time::Duration;

use gil_core::claim::{Claim, Unit};
use gil_core::context::Cx;
use gil_core::figure::TimelineChart;
use gil_core::measure::{fmt_count, fmt_duration, speedup};
use gil_core::part::{Part, Run as PartRun};
use gil_core::report::{Table, kv, note};
use gil_core::work::countdown_heavy;
use gil_core::{Gil, GilGuard, Mode, OLD_GIL_CHECK_INTERVAL};

use crate::setup::{Config, Trial, measurable, middle_trial};

/// The pre-3.2 GIL with CPython's default check interval.
const OLD_GIL: Mode = Mode::OldGil {
    check_interval: OLD_GIL_CHECK_INTERVAL,
};

/// The Python this part models.
pub const PYTHON: &str = "
sys.setcheckinterval(100)
run_in_two_threads(countdown, TOTAL)
";

/// How long one thread runs its ticks at scale 1 ([`TARGET_TICK`] each).
pub const ONE_THREAD: Duration = Duration::from_millis(40);

/// The time one tick should take: roughly what CPython 2.7 spent per bytecode of the countdown.
pub const TARGET_TICK: Duration = Duration::from_nanos(10);

/// Ticks timed per calibration measurement.
pub const CALIBRATION_TICKS: u64 = 250_000;

/// Loop steps per tick used to estimate the cost of one step.
pub const PROBE_STEPS: u32 = 64;

/// Ticks ("bytecodes") shared by the threads: [`ONE_THREAD`] of ticks of [`TARGET_TICK`].
fn ticks(cfg: &Config) -> u64 {
    cfg.units_for(ONE_THREAD, tick_picos())
}

/// [`TARGET_TICK`] in picoseconds.
fn tick_picos() -> u64 {
    u64::try_from(TARGET_TICK.as_nanos() * 1000).unwrap_or(u64::MAX)
}

/// How much work one tick does, found by timing it on this machine.
#[derive(Clone, Copy, Debug)]
pub struct Calibration {
    /// Loop steps per tick (the `work_per_tick` of `countdown_heavy`; 0 when simulated).
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

/// Corrections [`calibrate`] makes at most after its first estimate.
const CORRECTIONS: usize = 3;

/// Find how many loop steps make one tick take about [`TARGET_TICK`] on this machine.
///
/// Times ticks with no steps and with [`PROBE_STEPS`] steps, fits a straight line and solves
/// for the target. A busy machine can spoil either timing, so the result is timed and, while
/// it is more than a fifth off, scaled by target / measured and timed again; the closest
/// attempt wins.
pub fn calibrate() -> Calibration {
    let gil = Gil::old_gil(OLD_GIL_CHECK_INTERVAL);
    let target = TARGET_TICK.as_secs_f64();
    let bare = tick_time(&gil, 0).as_secs_f64();
    let probe = tick_time(&gil, PROBE_STEPS).as_secs_f64();
    let per_step = ((probe - bare) / f64::from(PROBE_STEPS)).max(1e-12);
    let steps_for = |steps: f64| steps.round().clamp(1.0, 100_000.0) as u32;
    let attempt = |work_per_tick: u32| Calibration {
        work_per_tick,
        tick: tick_time(&gil, work_per_tick),
    };
    let off = |c: &Calibration| (c.tick.as_secs_f64() / target).ln().abs();
    let mut best = attempt(steps_for((target - bare) / per_step));
    let mut last = best;
    for _ in 0..CORRECTIONS {
        if off(&last) < 1.2_f64.ln() {
            break;
        }
        let scaled = f64::from(last.work_per_tick) * target / last.tick.as_secs_f64().max(1e-12);
        last = attempt(steps_for(scaled));
        if off(&last) < off(&best) {
            best = last;
        }
    }
    best
}

/// One and two threads under the old and the new GIL on this machine, the four kinds in turns
/// for `cfg.repeats` rounds (medians), with ticks of `calibration.work_per_tick` steps.
pub fn measure(cfg: &Config, calibration: Calibration) -> anyhow::Result<Report> {
    let ticks = ticks(cfg);
    let old = cfg.gil(OLD_GIL)?;
    let new = cfg.gil(Mode::Gil)?;
    let work = ticks_of(calibration.work_per_tick);
    let (mut old_one, mut old_two, mut new_one, mut new_two) = (vec![], vec![], vec![], vec![]);
    for _ in 0..cfg.repeats.max(1) {
        old_one.push(Trial::run(&old, 1, ticks, false, work));
        old_two.push(Trial::run(&old, 2, ticks, false, work));
        new_one.push(Trial::run(&new, 1, ticks, false, work));
        new_two.push(Trial::run(&new, 2, ticks, false, work));
    }
    Ok(Report {
        calibration,
        ticks,
        old_one: middle_trial(&old_one).clone(),
        old_two: middle_trial(&old_two).clone(),
        new_one: middle_trial(&new_one).clone(),
        new_two: middle_trial(&new_two).clone(),
    })
}

/// The same runs on the simulator, ticks of [`TARGET_TICK`] with a check point after each,
/// for an idle machine with `cores` cores.
pub fn simulate(cfg: &Config, cores: usize) -> Report {
    let ticks = ticks(cfg);
    let trial = |mode: Mode, threads: usize| {
        let mut sim = cfg.sim(mode, cores);
        sim.bytecode = TARGET_TICK;
        Trial::simulate(&sim, threads, ticks, tick_picos())
    };
    Report {
        calibration: Calibration {
            work_per_tick: 0,
            tick: TARGET_TICK,
        },
        ticks,
        old_one: trial(OLD_GIL, 1),
        old_two: trial(OLD_GIL, 2),
        new_one: trial(Mode::Gil, 1),
        new_two: trial(Mode::Gil, 2),
    }
}

/// The part's prose (also its documentation, and the book's page).
pub const TEXT: &str = include_str!("part5_old_gil.md");

/// Part 5 in the lesson's table.
pub struct OldGil;

impl Part<Config> for OldGil {
    type Figures = Report;

    fn title(&self) -> &'static str {
        "the old GIL, where \"threads are slower\" began"
    }

    fn python(&self) -> &'static str {
        PYTHON
    }

    fn text(&self) -> &'static str {
        TEXT
    }

    fn cores_needed(&self, _cfg: &Config) -> usize {
        // The old GIL's lost races need the woken thread on a core of its own.
        2
    }

    fn live(&self, _cx: &Cx, cfg: &Config) -> anyhow::Result<Report> {
        measure(cfg, calibrate())
    }

    fn simulate(&self, cx: &Cx, cfg: &Config) -> anyhow::Result<Report> {
        Ok(simulate(cfg, cx.sim_cores()))
    }

    fn show(&self, cx: &mut Cx, cfg: &Config, run: PartRun<'_, Report>) -> anyhow::Result<()> {
        if cx.deep() {
            show_tick(&run.figures.calibration);
            println!();
        }
        print(cx, cfg, run.figures, run.expected);
        if let Some(timeline) = &run.expected.old_two.timeline {
            cx.figure(
                &TimelineChart::new("old-gil", "The old GIL, two threads (simulated)", timeline)
                    .caption(
                        "T2 waits until T1 is done: each time T1 let go, it took the lock back.",
                    ),
            )?;
        }
        // Over every schedule, not one run: printed once, in whichever showing is last.
        if cx.simulated() || !cx.showing_simulated() {
            println!();
            if cx.deep() {
                why_waiters_starved();
            } else {
                note("(--deep shows why the waiter starved, over every schedule.)");
            }
        }
        Ok(())
    }
}

/// The reason, over every schedule: the model checker's shortest schedule in which the old
/// GIL's waiter never gets the lock, and the 3.2+ GIL's bound (`cargo xtask model-check`).
pub fn why_waiters_starved() {
    use gil_core::model_check::gil::{Model, OLD_CHECK_INTERVAL, Property};
    let property = Property::BoundedWaiting;
    let old = Model::for_property(
        Mode::OldGil {
            check_interval: OLD_CHECK_INTERVAL,
        },
        2,
        property,
    );
    let Some(path) = old.check(property).search.counterexample else {
        return;
    };
    note(&format!(
        "Why the waiter starved, checked over every schedule of the old GIL's protocol \
         (two threads, a release every {OLD_CHECK_INTERVAL} ticks; `cargo xtask model-check`). \
         The shortest schedule in which T2 never gets the GIL:"
    ));
    for line in old.starving_schedule(&path) {
        println!("  {line}");
    }
    let new = Model::for_property(Mode::Gil, 2, property).check(property);
    if new.holds() {
        note(&format!(
            "The 3.2+ GIL passes the same check: a waiter holds the GIL within {} of the \
             holder's check points: a holder that is asked lets go and waits until \
             another thread has taken the GIL.",
            new.longest_wait
        ));
    }
}

/// The tick the figures used, for `--deep`: the simulator's, or what the live run timed.
pub fn show_tick(calibration: &Calibration) {
    if calibration.work_per_tick == 0 {
        kv(
            "one tick",
            format!("{} (the simulator's tick)", fmt_duration(TARGET_TICK)),
        );
    } else {
        kv(
            "work per tick",
            format!(
                "{} loop steps, for about {} here",
                calibration.work_per_tick,
                fmt_duration(TARGET_TICK)
            ),
        );
        kv("measured tick", fmt_duration(calibration.tick));
    }
}

fn print(cx: &mut Cx, cfg: &Config, r: &Report, expected: &Report) {
    let one_thread = r.new_one.wall.min(r.old_one.wall);
    if !measurable(cfg, one_thread.min(expected.new_one.wall)) {
        return;
    }
    let releases = |t: &Trial| -> u64 { t.stats.threads.iter().map(|t| t.acquisitions).sum() };
    Table::new(&["GIL", "threads", "time", "takes", "hand-offs"])
        .row([
            "old".to_owned(),
            "1".to_owned(),
            fmt_duration(r.old_one.wall),
            fmt_count(releases(&r.old_one)),
            fmt_count(r.old_one.stats.switches),
        ])
        .row([
            "old".to_owned(),
            "2".to_owned(),
            fmt_duration(r.old_two.wall),
            fmt_count(releases(&r.old_two)),
            fmt_count(r.old_two.stats.switches),
        ])
        .row([
            "3.2+".to_owned(),
            "1".to_owned(),
            fmt_duration(r.new_one.wall),
            fmt_count(releases(&r.new_one)),
            fmt_count(r.new_one.stats.switches),
        ])
        .row([
            "3.2+".to_owned(),
            "2".to_owned(),
            fmt_duration(r.new_two.wall),
            fmt_count(releases(&r.new_two)),
            fmt_count(r.new_two.stats.switches),
        ])
        .print();
    note(&if cx.showing_simulated() {
        "(a take: the GIL acquired; a hand-off: taken by another thread)".to_owned()
    } else {
        format!(
            "Medians of {} runs, the four kinds in turns. A take is one acquisition of the \
             GIL; a hand-off, a take by another thread.",
            cfg.repeats.max(1)
        )
    });
    println!();
    let want_old = expected.old_time_ratio();
    let old_is_slow = want_old >= 1.15;
    let old_held = if old_is_slow {
        cx.claim(Claim {
            figure: "old GIL time, two threads / one",
            unit: Unit::Ratio,
            measured: r.old_time_ratio(),
            expected: want_old,
            low: 1.1,
            high: (want_old * 1.6).max(3.0),
            text: "Under the old GIL two threads were slower than one: each lost race cost \
                   both a wake-up.",
        })
    } else {
        cx.claim(Claim {
            figure: "old GIL time, two threads / one",
            unit: Unit::Ratio,
            measured: r.old_time_ratio(),
            expected: want_old,
            low: 0.85_f64.min(want_old),
            high: 1.3_f64.max(want_old),
            text: "Here the old GIL cost little: the woken thread had no core of its own to \
                   run on, so the releasing thread simply carried on.",
        })
    };
    let want_new = expected.new_time_ratio();
    let new_held = cx.claim(Claim {
        figure: "3.2+ GIL time, two threads / one",
        unit: Unit::Ratio,
        measured: r.new_time_ratio(),
        expected: want_new,
        low: 0.85_f64.min(want_new),
        high: 1.35_f64.max(want_new),
        text: "Under the 3.2+ GIL two threads took about as long as one (part 1).",
    });
    // The comparison only concludes something when both of its halves held.
    if old_is_slow && old_held && new_held {
        let want = want_old / want_new;
        cx.claim(Claim {
            figure: "two/one, old GIL over 3.2+ GIL",
            unit: Unit::Ratio,
            measured: r.old_time_ratio() / r.new_time_ratio(),
            expected: want,
            low: 1.08_f64.min(want),
            high: 5.0_f64.max(2.0 * want),
            text: "\"Threads make Python slower\" describes CPython 3.1 and earlier.",
        });
    }
}
