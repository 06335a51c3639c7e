//! Part 3 — one lost update, replayed instruction by instruction by a seeded scheduler.
//!
#![doc = include_str!("part3_replay.md")]

use gil_core::bytecode::{CheckPolicy, Effect, Event, Program, Replay, Scheduler};
use gil_core::claim::{Claim, Unit};
use gil_core::context::Cx;
use gil_core::figure::StepLanes;
use gil_core::measure::fmt_count;
use gil_core::part::{Part, Run};
use gil_core::report::{Table, kv};

use crate::part1_bytecode::print_indented;
use crate::setup::Config;

/// The Python this part models.
pub const PYTHON: &str = "\
counter = 41
# two threads, each running:
for _ in range(20):
    counter += 1          # 81 at the end?";

/// Threads in the replay.
pub const THREADS: usize = 2;
/// Loop iterations per thread in the replay.
pub const ITERATIONS: u64 = 20;
/// The counter's value when the replay starts.
pub const START: u64 = 41;

/// What part 3 replayed.
#[derive(Clone, Debug)]
pub struct Report {
    /// The seed every schedule below used.
    pub seed: u64,
    /// `counter += 1` with ≤ 3.9's check points.
    pub every_instruction: Replay,
    /// The same seed with 3.10+'s check points.
    pub back_edges: Replay,
    /// `c = counter; noop(); counter = c + 1` with 3.10+'s check points.
    pub read_call_write: Replay,
}

/// The scheduler part 3 uses for `policy`: `seed`, counter starting at [`START`].
pub fn scheduler(seed: u64, policy: CheckPolicy) -> Scheduler {
    Scheduler::new(seed, policy).start_at(START)
}

/// State what a replay lost as a claim (the schedule is its own expectation: deterministic).
fn lost_claim(cx: &mut Cx, figure: &str, replay: &Replay, lost_text: &str, exact_text: &str) {
    let lost = replay.lost() as f64;
    let (low, high, text) = if replay.lost() > 0 {
        (1.0, replay.expected as f64, lost_text)
    } else {
        (0.0, 0.0, exact_text)
    };
    cx.claim(Claim {
        figure,
        unit: Unit::Count,
        measured: lost,
        expected: lost,
        low,
        high,
        text,
    });
}

/// The three schedules side by side.
fn summary(report: &Report) {
    // (Stale stores, `replay.lost_updates`, differ from "lost" only in detail: not shown.)
    let mut table = Table::new(&["schedule", "counter", "expected", "lost"]);
    for (label, replay) in [
        ("<=3.9 check points", &report.every_instruction),
        ("3.10+ check points", &report.back_edges),
        ("3.10+, read-call-write", &report.read_call_write),
    ] {
        table.push([
            label.to_owned(),
            fmt_count(replay.total),
            fmt_count(replay.expected),
            fmt_count(replay.lost()),
        ]);
    }
    table.print();
}

fn show_first_loss(replay: &Replay) {
    let lanes = first_loss_lanes(replay);
    if lanes.is_empty() {
        println!("    (this seed lost no update; try another --seed)");
    } else {
        print_indented(&lanes);
    }
}

/// The first lost update as a figure: a lane per thread, the counter's read and write
/// highlighted, a line where the GIL changed hands. `None` if no update was lost.
pub fn lost_update_figure(replay: &Replay) -> Option<StepLanes> {
    let lost = replay.lost_updates.first()?;
    let end = (lost.store + 1).min(replay.events.len());
    let mut lanes = StepLanes::new(
        "lost-update",
        "One lost update, <=3.9 check points",
        &["T1", "T2"],
    )
    .caption("Both threads read the counter before either writes it back: one +1 is lost.");
    for event in &replay.events[lost.first.min(end)..end] {
        let thread = match event {
            Event::Ran { thread, .. } | Event::Blocked { thread } | Event::Finished { thread } => {
                *thread
            }
            Event::Switch { .. } => continue,
        };
        let counter = matches!(
            event,
            Event::Ran {
                effect: Effect::Loaded(_) | Effect::Stored(_),
                ..
            }
        );
        let text = event.to_string();
        lanes = lanes.step(thread, text.get(4..).unwrap_or("").trim(), counter);
    }
    Some(lanes)
}

/// Width of one thread's lane in the terminal trace.
const LANE: usize = 36;

/// The first lost update as two swim lanes, one column per thread: each instruction in its
/// thread's column (offset, instruction, what it read or wrote), and a rule across both
/// wherever the GIL changed hands. Empty if no update was lost.
pub fn first_loss_lanes(replay: &Replay) -> String {
    let Some(lost) = replay.lost_updates.first() else {
        return String::new();
    };
    let threads = replay
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Ran { thread, .. } => Some(*thread + 1),
            _ => None,
        })
        .max()
        .unwrap_or(1);
    let mut out: String = (0..threads)
        .map(|t| format!("{:<LANE$}", format!("T{}", t + 1)))
        .collect::<String>()
        .trim_end()
        .to_owned();
    out.push('\n');
    let end = (lost.store + 1).min(replay.events.len());
    for event in &replay.events[lost.first.min(end)..end] {
        let line = match event {
            Event::Ran { thread, .. } | Event::Blocked { thread } | Event::Finished { thread } => {
                // The event's own text without its "T1" column: the lane says whose it is.
                let text = event.to_string();
                let text = text.get(4..).unwrap_or("");
                format!("{:indent$}{text}", "", indent = thread * LANE)
            }
            Event::Switch { from, to } => {
                let label = format!(" GIL: T{} -> T{} ", from + 1, to + 1);
                format!("{label:-^width$}", width = threads * LANE - 2)
            }
        };
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Part 3 as the lesson runs it: the scheduler is deterministic, so a live run and a
/// simulated one replay the same schedules.
pub struct Replayed;

impl Part<Config> for Replayed {
    type Figures = Report;

    fn title(&self) -> &'static str {
        "one lost update, replayed"
    }

    fn python(&self) -> &'static str {
        PYTHON
    }

    fn text(&self) -> &'static str {
        include_str!("part3_replay.md")
    }

    /// Deterministic: the same figures on any machine, so a busy one changes nothing.
    fn cores_needed(&self, _: &Config) -> usize {
        0
    }

    fn live(&self, _: &Cx, cfg: &Config) -> anyhow::Result<Report> {
        Ok(replays(cfg))
    }

    fn simulate(&self, _: &Cx, cfg: &Config) -> anyhow::Result<Report> {
        Ok(replays(cfg))
    }

    fn show(&self, cx: &mut Cx, _: &Config, run: Run<'_, Report>) -> anyhow::Result<()> {
        let report = run.figures;
        kv("seed", report.seed);
        println!();
        summary(report);
        println!();
        println!("  The first lost update, <=3.9 check points (offset, instruction):");
        show_first_loss(&report.every_instruction);
        if let Some(lanes) = lost_update_figure(&report.every_instruction) {
            cx.figure(&lanes)?;
        }
        println!();
        lost_claim(
            cx,
            "<=3.9 check points, updates lost",
            &report.every_instruction,
            "Both threads read the same value and stored it + 1: two increments, and the \
             counter moved by one.",
            "This seed's schedule happened to lose nothing; try another --seed.",
        );
        // The 3.10+ rows only confirm part 1's listing and part 2's races: their figures
        // stand in the table without a sentence of their own.
        Ok(())
    }
}

/// Three schedules from `cfg.seed`: `counter += 1` under <=3.9 and 3.10+, and the
/// read-call-write loop under 3.10+.
pub fn replays(cfg: &Config) -> Report {
    let increment = Program::increment();
    Report {
        seed: cfg.seed,
        every_instruction: scheduler(cfg.seed, CheckPolicy::EveryInstruction)
            .run(&increment, THREADS, ITERATIONS),
        back_edges: scheduler(cfg.seed, CheckPolicy::BackEdgesAndCalls)
            .run(&increment, THREADS, ITERATIONS),
        read_call_write: scheduler(cfg.seed, CheckPolicy::BackEdgesAndCalls).run(
            &Program::read_call_write(),
            THREADS,
            ITERATIONS,
        ),
    }
}
