//! What every part shares: the run configuration, one "race" of model threads (run live or on
//! the simulator), and the checks that say when a run is too small to mean anything.

use std::ops::RangeInclusive;
use std::time::Duration;

use gil_core::lesson::LessonArgs;
use gil_core::measure::{self, Samples, fmt_duration};
use gil_core::report::note;
use gil_core::sim::{self, Script, SimConfig, Step};
use gil_core::work::countdown_step_picos;
use gil_core::{DEFAULT_SWITCH_INTERVAL, Gil, GilGuard, GilStats, Mode, Timeline};

/// The `--scale` values accepted: from a hundredth of the work (the parts then say they are
/// too short to measure) to four times it (about half a minute on an idle 2-core machine).
pub const SCALE_RANGE: RangeInclusive<f64> = 0.01..=4.0;

/// A one-thread run shorter than this is swamped by starting threads and reading clocks.
pub const MIN_MEASURABLE: Duration = Duration::from_millis(10);

/// Hand-off figures need the threads to overlap for at least this many switch intervals.
pub const MIN_INTERVALS: u32 = 4;

/// What one countdown step costs in the simulator, in picoseconds: 0.4 ns, about what a model
/// step (one `black_box` subtraction and one relaxed load) takes on a current x86-64 core.
pub const SIM_STEP_PICOS: u64 = 400;

/// Parse `--scale`: a number inside [`SCALE_RANGE`] (what clap calls for each value).
pub fn parse_scale(text: &str) -> Result<f64, String> {
    let scale: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))?;
    if SCALE_RANGE.contains(&scale) {
        Ok(scale)
    } else {
        Err(format!(
            "must be from {} to {} (more would run for minutes)",
            SCALE_RANGE.start(),
            SCALE_RANGE.end()
        ))
    }
}

/// How big and how often: what the command line decided.
#[derive(Clone, Debug)]
pub struct Config {
    /// Work multiplier: 1.0 runs the default sizes, 0.5 half of them.
    pub scale: f64,
    /// Runs per measurement in parts 1 and 5, whose ratios matter most; the median is shown.
    /// Parts 2–4 use half as many, rounded up.
    pub repeats: usize,
    /// Run parts 2 and 3 free-threaded instead of under the GIL (`--free-threaded`).
    pub free_threaded: bool,
    /// Switch interval of every 3.2+ GIL built, except in part 3, which sweeps its own values.
    pub switch_interval: Duration,
    /// The sizes `--scale` multiplies: 1.0, or 0.5 with `--quick`.
    pub base_scale: f64,
    /// What one countdown step costs, in picoseconds: [`SIM_STEP_PICOS`], or what
    /// [`Config::calibrated`] timed on this machine. Parts size their work from it, so a run
    /// lasts about as long on a slow machine as on a fast one.
    pub step_picos: u64,
}

impl Default for Config {
    /// The full lesson: default sizes, three repeats, the GIL, CPython's 5 ms interval, the
    /// simulator's step cost.
    fn default() -> Self {
        Config {
            scale: 1.0,
            repeats: 3,
            free_threaded: false,
            switch_interval: DEFAULT_SWITCH_INTERVAL,
            base_scale: 1.0,
            step_picos: SIM_STEP_PICOS,
        }
    }
}

impl Config {
    /// A small run for tests and `--quick`: half the work, one run per measurement.
    ///
    /// Still long enough (tens of milliseconds per run) for a waiting thread to ask for the
    /// GIL a few times at the default switch interval.
    pub fn quick() -> Self {
        Config {
            scale: 0.5,
            repeats: 1,
            base_scale: 0.5,
            ..Config::default()
        }
    }

    /// This configuration with [`Config::step_picos`] timed on this machine
    /// ([`gil_core::work::countdown_step_picos`], a few milliseconds).
    pub fn calibrated(self) -> Self {
        Config {
            step_picos: countdown_step_picos().clamp(50, 100_000),
            ..self
        }
    }

    /// The configuration the flags ask for: `--quick` or the defaults, times `--scale`; a live
    /// run times a countdown step first ([`Config::calibrated`]), a simulated one does not.
    pub fn from_args(args: &LessonArgs, scale: f64) -> Self {
        let base = if args.quick {
            Config::quick()
        } else {
            Config::default()
        };
        let cfg = Config {
            scale: base.scale * scale,
            free_threaded: args.free_threaded(),
            switch_interval: args.interval(),
            ..base
        };
        if args.simulated {
            cfg
        } else {
            cfg.calibrated()
        }
    }

    /// Countdown steps that keep one thread busy for `one_thread` at scale 1, scaled (at least
    /// one): the work is sized by time, not by a fixed count.
    pub fn steps_for(&self, one_thread: Duration) -> u64 {
        self.units_for(one_thread, self.step_picos)
    }

    /// Units of work costing `unit_picos` each that last `one_thread` at scale 1, scaled.
    pub fn units_for(&self, one_thread: Duration, unit_picos: u64) -> u64 {
        let picos = one_thread.as_nanos() as f64 * 1000.0 * self.scale;
        ((picos / unit_picos.max(1) as f64).round() as u64).max(1)
    }

    /// Repeats for the parts that show trends rather than one key ratio.
    pub fn few_repeats(&self) -> usize {
        self.repeats.div_ceil(2).max(1)
    }

    /// The interpreter parts 2 and 3 run: the GIL, or none with `--free-threaded`.
    pub fn chosen_mode(&self) -> Mode {
        if self.free_threaded {
            Mode::FreeThreaded
        } else {
            Mode::Gil
        }
    }

    /// A fresh interpreter in `mode` with this run's switch interval.
    pub fn gil(&self, mode: Mode) -> anyhow::Result<Gil> {
        let gil = Gil::with_mode(mode);
        gil.set_switch_interval(self.switch_interval)?;
        Ok(gil)
    }

    /// The simulator's setting for `mode` on an idle machine of `cores` cores.
    pub fn sim(&self, mode: Mode, cores: usize) -> SimConfig {
        SimConfig::new(mode, self.switch_interval, cores)
    }
}

/// Split `total` units of work into `threads` shares that differ by at most one and add up to
/// `total` exactly (the first `total % threads` threads take one more).
pub fn split(total: u64, threads: usize) -> Vec<u64> {
    let threads = threads.max(1) as u64;
    (0..threads)
        .map(|i| total / threads + u64::from(i < total % threads))
        .collect()
}

/// One timed run, live or simulated: some model threads shared a fixed amount of work.
#[derive(Clone, Debug)]
pub struct Trial {
    /// Threads that shared the work.
    pub threads: usize,
    /// Units of work the threads reported doing, summed (equals what was asked for).
    pub work_done: u64,
    /// Time from starting the first thread to joining the last (virtual time if simulated).
    pub wall: Duration,
    /// The interpreter's counters for this run alone.
    pub stats: GilStats,
    /// Who held the GIL when, if the run was recorded.
    pub timeline: Option<Timeline>,
}

impl Trial {
    /// Run `threads` model threads (`T1`…) on `gil`, splitting `total` units with [`split`];
    /// each thread calls `work(guard, share)`. Statistics are reset first, so they cover this
    /// run only; with `record` the timeline is kept too.
    pub fn run<W>(gil: &Gil, threads: usize, total: u64, record: bool, work: W) -> Trial
    where
        W: Fn(&mut GilGuard<'_>, u64) + Sync,
    {
        let shares = split(total, threads);
        gil.reset_stats();
        if record {
            gil.record_timeline();
        }
        let (done, wall) = measure::time(|| {
            gil.run_threads(threads, |i, py| {
                work(py, shares[i]);
                shares[i]
            })
        });
        Trial {
            threads,
            work_done: done.iter().sum(),
            wall,
            stats: gil.stats(),
            timeline: record.then(|| gil.take_timeline()),
        }
    }

    /// The same race on the simulator: `threads` scripts `T1`… sharing `total` units of pure
    /// Python work, each unit costing `unit_picos` picoseconds of CPU. Deterministic; always
    /// recorded.
    pub fn simulate(sim: &SimConfig, threads: usize, total: u64, unit_picos: u64) -> Trial {
        let scripts = split(total, threads)
            .iter()
            .enumerate()
            .map(|(i, share)| {
                let nanos = u128::from(*share) * u128::from(unit_picos) / 1000;
                let cpu = Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX));
                Script::new(format!("T{}", i + 1), vec![Step::Bytecode(cpu)])
            })
            .collect();
        let run = sim::simulate(sim, scripts);
        Trial {
            threads,
            work_done: total,
            wall: run.elapsed,
            stats: run.stats().clone(),
            timeline: Some(run.timeline),
        }
    }

    /// Time spent holding the GIL, summed over the threads (free-threaded: time running).
    pub fn total_held(&self) -> Duration {
        self.stats.total_held()
    }

    /// Hand-offs per second of wall time.
    pub fn switches_per_second(&self) -> f64 {
        self.stats.switches_per_second(self.wall)
    }

    /// Median length of a hold that ended in a hand-off (zero if none, or not recorded).
    pub fn middle_contended_hold(&self) -> Duration {
        let holds = self.timeline.as_ref().map(Timeline::contended_holds);
        Samples(holds.unwrap_or_default()).middle()
    }
}

/// The run with the median wall time (the lower middle for an even count).
///
/// # Panics
/// If `trials` is empty; every part runs at least one trial of each kind.
pub fn middle_trial(trials: &[Trial]) -> &Trial {
    gil_core::measure::median_by(trials, |t| t.wall).expect("median of a non-empty set of trials")
}

/// "1 thread", "2 threads": a thread count as a label.
pub fn threads_label(threads: usize) -> String {
    format!("{threads} thread{}", if threads == 1 { "" } else { "s" })
}

/// Whether a one-thread run of `wall` is long enough to measure; if not, say so and how to
/// fix it. Returns false for a run too short for its figures to mean anything.
pub fn measurable(cfg: &Config, wall: Duration) -> bool {
    if wall >= MIN_MEASURABLE {
        return true;
    }
    note(&format!(
        "This part's work took only {} in one thread, under {}: starting threads and reading \
         the clock would swamp anything the GIL does, so its figures are not shown. {}",
        fmt_duration(wall),
        fmt_duration(MIN_MEASURABLE),
        match scale_for(cfg, wall, MIN_MEASURABLE) {
            Some(scale) => format!("Run it with --scale {scale} or more."),
            None => "Run it without --quick and with a larger --scale.".to_owned(),
        }
    ));
    false
}

/// Whether a two-thread run of `wall` lasted enough switch intervals of `interval` to show
/// hand-offs; if not, say so and how to fix it.
pub fn enough_intervals(cfg: &Config, wall: Duration, interval: Duration) -> bool {
    let needed = interval.saturating_mul(MIN_INTERVALS);
    if wall >= needed {
        return true;
    }
    note(&format!(
        "The threads ran for {}, less than {MIN_INTERVALS} switch intervals of {}: too short \
         to count hand-offs, so those figures are not shown. {}",
        fmt_duration(wall),
        fmt_duration(interval),
        match scale_for(cfg, wall, needed) {
            Some(scale) => format!("Run with --scale {scale} or more, or a shorter interval."),
            None => "Run with a shorter --switch-interval.".to_owned(),
        }
    ));
    false
}

/// The `--scale` that would make a run of `wall` last `target`, with a fifth to spare and
/// rounded up to a tenth; `None` if that is beyond [`SCALE_RANGE`].
fn scale_for(cfg: &Config, wall: Duration, target: Duration) -> Option<f64> {
    let flag = cfg.scale / cfg.base_scale;
    let needed = flag * 1.2 * target.as_secs_f64() / wall.as_secs_f64().max(1e-9);
    let needed = ((needed * 10.0).ceil() / 10.0).max(*SCALE_RANGE.start());
    (needed <= *SCALE_RANGE.end()).then_some(needed)
}
