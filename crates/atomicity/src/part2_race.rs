//! Part 2 — the classic race, on real threads: 10 threads × 100,000 `counter += 1`.
//!
#![doc = include_str!("part2_race.md")]
//!
//! Every race runs live on the model GIL, in turns (one run of each, then the next round), and
//! on the deterministic scheduler of part 3 at the same size: the scheduler's figure is what
//! the lesson expects, the live one what this machine did. `--simulated` shows only the first.

use std::sync::Barrier;
use std::time::Duration;

use gil_core::bytecode::INSTRUCTION_TIME;
use gil_core::bytecode::{CheckPolicy, CounterRun, Program, Replay, Scheduler, run_counter};
use gil_core::claim::{Claim, Unit};
use gil_core::context::Cx;
use gil_core::figure::TimelineChart;
use gil_core::measure::{Samples, fmt_count, fmt_duration, time};
use gil_core::part::{Part, Run};
use gil_core::report::{Table, note};
use gil_core::sim::{self, Script, SimConfig, Step};
use gil_core::{Mode, Timeline};

use crate::setup::Config;

/// The Python this part models.
pub const PYTHON: &str = "\
threads = [threading.Thread(target=work, args=(100_000,))
           for _ in range(10)]
for t in threads: t.start()
for t in threads: t.join()
print(counter)              # 1,000,000?

def work_locked(n):         # the fix; lock = threading.Lock()
    global counter
    for _ in range(n):
        with lock: counter += 1";

/// The six races, in the order printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `counter += 1`, GIL, check points after most instructions (CPython ≤ 3.9).
    Old,
    /// `counter += 1`, GIL, check points at back edges and calls (CPython 3.10+).
    Modern,
    /// `c = counter; noop(); counter = c + 1`, GIL, 3.10+ check points.
    Call,
    /// `counter += 1`, free-threaded.
    Free,
    /// `with lock: counter += 1`, GIL, ≤ 3.9 check points.
    LockedGil,
    /// `with lock: counter += 1`, free-threaded.
    LockedFree,
}

impl Kind {
    /// All six, in the order printed.
    pub const ALL: [Kind; 6] = [
        Kind::Old,
        Kind::Modern,
        Kind::Call,
        Kind::Free,
        Kind::LockedGil,
        Kind::LockedFree,
    ];

    fn label(self) -> &'static str {
        match self {
            Kind::Old => "GIL, <=3.9 check points",
            Kind::Modern => "GIL, 3.10+ check points",
            Kind::Call => "GIL, 3.10+, a call inside",
            Kind::Free => "free-threaded",
            Kind::LockedGil => "lock, GIL <=3.9",
            Kind::LockedFree => "lock, free-threaded",
        }
    }

    fn mode(self) -> Mode {
        match self {
            Kind::Free | Kind::LockedFree => Mode::FreeThreaded,
            _ => Mode::Gil,
        }
    }

    fn policy(self) -> CheckPolicy {
        match self {
            Kind::Old | Kind::LockedGil => CheckPolicy::EveryInstruction,
            _ => CheckPolicy::BackEdgesAndCalls,
        }
    }

    fn program(self) -> Program {
        match self {
            Kind::Call => Program::read_call_write(),
            Kind::LockedGil | Kind::LockedFree => Program::increment_locked(),
            _ => Program::increment(),
        }
    }
}

/// One kind of race: its runs and what the scheduler expected.
#[derive(Clone, Debug)]
pub struct Race {
    /// Which race.
    pub kind: Kind,
    /// Its label in the output ("GIL" becomes "no GIL" under `--free-threaded`).
    pub label: String,
    /// The interpreter it ran on.
    pub mode: Mode,
    /// Every live run's outcome (the simulated one alone under `--simulated`).
    pub runs: Vec<CounterRun>,
    /// GIL hand-offs, summed over the runs.
    pub switches: u64,
    /// Median wall time of a live run (`None` under `--simulated`).
    pub wall: Option<Duration>,
    /// What every run should reach: threads × iterations.
    pub target: u64,
}

impl Race {
    /// The lowest final counter over the runs.
    pub fn lowest(&self) -> u64 {
        self.runs.iter().map(|r| r.total).min().unwrap_or_default()
    }

    /// What every run should have reached.
    pub fn expected(&self) -> u64 {
        self.target
    }

    /// The most updates one run lost.
    pub fn most_lost(&self) -> u64 {
        self.runs
            .iter()
            .map(CounterRun::lost)
            .max()
            .unwrap_or_default()
    }

    /// How many runs lost at least one update.
    pub fn runs_that_lost(&self) -> usize {
        self.runs.iter().filter(|r| r.lost() > 0).count()
    }

    /// Whether every run ended exactly at threads × iterations.
    pub fn always_exact(&self) -> bool {
        self.runs_that_lost() == 0
    }

    /// The sentence this race supports when its figure holds, given whether the simulator
    /// expects it to lose updates.
    fn point(&self, threads: usize, loses: bool) -> String {
        match (loses, self.kind) {
            (_, _) if threads == 1 => "One thread has nobody to race: nothing was lost.".into(),
            (false, Kind::LockedGil | Kind::LockedFree) => {
                "With a lock every run was exact, with a GIL or without.".into()
            }
            (false, _) => "No update was lost, as part 1's listing predicts.".into(),
            (true, _) if self.mode == Mode::FreeThreaded => {
                "Without a GIL the threads ran at once and lost updates.".into()
            }
            (true, Kind::Call) => "Lost on 3.10+ too: the call is a check point.".into(),
            (true, _) => "Updates were lost, as part 1 predicts.".into(),
        }
    }
}

/// What part 2 measured.
#[derive(Clone, Debug)]
pub struct Report {
    /// The six races, in [`Kind::ALL`] order.
    pub races: Vec<Race>,
    /// What `threading.active_count()` and the threads' names were in a live run.
    pub introspection: Option<(Vec<usize>, Vec<String>)>,
    /// Who held the GIL when during the ≤ 3.9 race: recorded live (its last run), or the
    /// simulator's with `--simulated`.
    pub timeline: Timeline,
}

impl Report {
    /// The race of `kind`.
    pub fn race(&self, kind: Kind) -> &Race {
        let index = Kind::ALL.iter().position(|k| *k == kind).unwrap_or(0);
        &self.races[index]
    }
}

/// The deterministic scheduler's run of `kind` at this size: drop requests about one switch
/// interval of model time apart, honoured at the policy's check points.
pub fn simulate(cfg: &Config, kind: Kind) -> Replay {
    Scheduler::new(cfg.seed, kind.policy())
        .free_threaded(cfg.gil.mode(kind.mode()) == Mode::FreeThreaded)
        .switch_interval(cfg.gil.interval())
        .trace(false)
        .run(&kind.program(), cfg.threads, cfg.iterations)
}

/// The simulator's timeline of the race's threads under the GIL on `cores` idle cores: each
/// runs its loop's instructions, one check point per instruction.
pub fn simulated_timeline(cfg: &Config, cores: usize) -> Timeline {
    let mut sim = SimConfig::new(cfg.gil.mode(Mode::Gil), cfg.gil.interval(), cores);
    sim.bytecode = INSTRUCTION_TIME;
    let per_thread = INSTRUCTION_TIME
        .saturating_mul(u32::try_from(Program::increment().code.len()).unwrap_or(u32::MAX))
        .mul_f64(cfg.iterations as f64);
    let scripts = (1..=cfg.threads)
        .map(|t| Script::new(format!("T{t}"), vec![Step::Bytecode(per_thread)]))
        .collect();
    sim::simulate(&sim, scripts).timeline
}

/// What `threading.active_count()` and `threading.current_thread().name` say in the model
/// once `threads` threads have started: the count each thread saw, and their names.
pub fn introspect(cfg: &Config) -> (Vec<usize>, Vec<String>) {
    let gil = cfg.gil(Mode::Gil);
    let started = Barrier::new(cfg.threads);
    let seen = gil.run_threads(cfg.threads, |_, py| {
        // With the GIL released: wait until every thread has started, count, and wait again
        // so that no thread finishes (and detaches) before all have counted.
        let count = py.detach(|| {
            started.wait();
            let count = gil.active_count();
            started.wait();
            count
        });
        (count, py.name().to_owned())
    });
    seen.into_iter().unzip()
}

/// Part 2 as the lesson runs it: the races live on the model GIL, or on part 3's
/// deterministic scheduler.
pub struct RaceCounter;

impl Part<Config> for RaceCounter {
    type Figures = Report;

    fn title(&self) -> &'static str {
        "the race: many threads, one counter"
    }

    fn python(&self) -> &'static str {
        PYTHON
    }

    fn text(&self) -> &'static str {
        include_str!("part2_race.md")
    }

    fn cores_needed(&self, _: &Config) -> usize {
        2
    }

    fn live(&self, _: &Cx, cfg: &Config) -> anyhow::Result<Report> {
        Ok(measure(cfg))
    }

    fn simulate(&self, cx: &Cx, cfg: &Config) -> anyhow::Result<Report> {
        Ok(simulate_all(cfg, cx.sim_cores()))
    }

    fn show(&self, cx: &mut Cx, cfg: &Config, run: Run<'_, Report>) -> anyhow::Result<()> {
        show(cx, cfg, run.figures, run.expected)
    }
}

/// A race's label: "GIL" becomes "no GIL" when `--free-threaded` takes the GIL away.
fn label(cfg: &Config, kind: Kind) -> (String, Mode) {
    let mode = cfg.gil.mode(kind.mode());
    let label = if mode != kind.mode() {
        kind.label().replace("GIL", "no GIL")
    } else {
        kind.label().to_owned()
    };
    (label, mode)
}

/// Every race once on the deterministic scheduler (side by side: they are independent), and
/// the simulator's timeline of the <=3.9 race.
pub fn simulate_all(cfg: &Config, cores: usize) -> Report {
    let sims: Vec<Replay> = std::thread::scope(|scope| {
        let handles: Vec<_> = Kind::ALL
            .into_iter()
            .map(|kind| scope.spawn(move || simulate(cfg, kind)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    let races = Kind::ALL
        .into_iter()
        .zip(sims)
        .map(|(kind, sim)| {
            let (label, mode) = label(cfg, kind);
            Race {
                kind,
                label,
                mode,
                runs: vec![CounterRun {
                    total: sim.total,
                    expected: sim.expected,
                }],
                switches: sim.switches,
                wall: None,
                target: cfg.increments(),
            }
        })
        .collect();
    Report {
        races,
        introspection: None,
        timeline: simulated_timeline(cfg, cores),
    }
}

/// Every race live, in turns (one run of each, then the next round), recording the <=3.9
/// race's timeline, and what the threads say about themselves.
pub fn measure(cfg: &Config) -> Report {
    let programs: Vec<Program> = Kind::ALL.iter().map(|k| k.program()).collect();
    let mut live: Vec<(Vec<CounterRun>, Vec<Duration>, u64)> = vec![Default::default(); 6];
    let mut timeline = None;
    for _ in 0..cfg.runs.max(1) {
        for (i, kind) in Kind::ALL.into_iter().enumerate() {
            let gil = cfg.gil(kind.mode());
            if kind == Kind::Old {
                gil.record_timeline();
            }
            let (run, wall) = time(|| {
                run_counter(
                    &gil,
                    &programs[i],
                    kind.policy(),
                    cfg.threads,
                    cfg.iterations,
                )
            });
            live[i].0.push(run);
            live[i].1.push(wall);
            live[i].2 += gil.stats().switches;
            if kind == Kind::Old {
                timeline = Some(gil.take_timeline());
            }
        }
    }
    let races = Kind::ALL
        .into_iter()
        .zip(live)
        .map(|(kind, (runs, walls, switches))| {
            let (label, mode) = label(cfg, kind);
            Race {
                kind,
                label,
                mode,
                runs,
                switches,
                wall: Some(Samples(walls).middle()),
                target: cfg.increments(),
            }
        })
        .collect();
    Report {
        races,
        introspection: Some(introspect(cfg)),
        timeline: timeline.unwrap_or_else(|| simulated_timeline(cfg, 1)),
    }
}

/// Print the races, the figure and one claim per race (one for both locked races).
fn show(cx: &mut Cx, cfg: &Config, report: &Report, expected: &Report) -> anyhow::Result<()> {
    let how = if cx.showing_simulated() {
        "Each race runs once, on part 3's scheduler.".to_owned()
    } else {
        format!(
            "Real threads run part 1's bytecode on the model GIL, each race {} time(s), in \
             turns.",
            cfg.runs
        )
    };
    note(&format!(
        "{} threads each add 1 to one global {} times. {how}{}",
        cfg.threads,
        fmt_count(cfg.iterations),
        if cfg.gil.free_threaded {
            " --free-threaded: every race below runs without a GIL."
        } else {
            ""
        }
    ));
    // threading.active_count() and the names (report.introspection) are lesson 2's aside.
    println!();
    print_table(cx, report, cfg);
    cx.figure(
        &TimelineChart::new(
            "race-gil",
            "Who held the GIL during the <=3.9 race",
            &report.timeline,
        )
        .caption("A thread switched out mid-update writes a stale count when its turn comes."),
    )?;
    println!();
    for (race, sim) in report.races.iter().zip(&expected.races) {
        // The two locked races make one statement: a lock is exact with a GIL or without.
        // 3.10+'s plain loop is part 1's claim and the every-schedule table's answer: its
        // row stands in the table without a sentence of its own.
        let (figure, measured, expected) = match race.kind {
            Kind::LockedGil | Kind::Modern => continue,
            Kind::LockedFree => {
                let with_gil = report.race(Kind::LockedGil);
                (
                    "most lost, with a lock".to_owned(),
                    race.most_lost().max(with_gil.most_lost()),
                    sim.most_lost()
                        .max(expected.race(Kind::LockedGil).most_lost()),
                )
            }
            _ => (
                format!("most lost, {}", race.label),
                race.most_lost(),
                sim.most_lost(),
            ),
        };
        let loses = expected > 0;
        let text = race.point(cfg.threads, loses);
        let (low, high) = if loses {
            (1.0, cfg.increments() as f64)
        } else {
            (0.0, 0.0)
        };
        cx.claim(Claim {
            figure: &figure,
            unit: Unit::Count,
            measured: measured as f64,
            expected: expected as f64,
            low,
            high,
            text: &text,
        });
    }
    if expected.race(Kind::Old).switches == 0 && !cfg.gil.free_threaded {
        note(
            "These races are shorter than one switch interval: the GIL may never change \
             hands, so there is nothing to lose. Raise --iterations to see the race.",
        );
    }
    Ok(())
}

fn print_table(cx: &Cx, report: &Report, cfg: &Config) {
    // A simulated race runs once and takes no wall time: only its loss and hand-offs show.
    let simulated = cx.showing_simulated();
    let mut table = if simulated {
        Table::new(&["race", "lost", "switches"])
    } else {
        Table::new(&["race", "most lost", "runs that lost", "switches", "a run"])
    };
    for race in &report.races {
        if simulated {
            table.push([
                race.label.clone(),
                fmt_count(race.most_lost()),
                fmt_count(race.switches),
            ]);
        } else {
            table.push([
                race.label.clone(),
                fmt_count(race.most_lost()),
                format!("{} of {}", race.runs_that_lost(), race.runs.len()),
                fmt_count(race.switches),
                race.wall.map_or("-".into(), fmt_duration),
            ]);
        }
    }
    table.print();
    note(&format!(
        "Each run should end at {}; switches are GIL hand-offs, all runs.",
        fmt_count(cfg.increments()),
    ));
}
