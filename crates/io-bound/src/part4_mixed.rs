//! Part 4 — a mixed workload: a CPU phase, then an I/O phase, on three workers.
//!
#![doc = include_str!("part4_mixed.md")]
//!
//! Each worker counts down (pure "Python", GIL held, a check point per iteration) and then
//! waits (a sleep with the GIL released). Started together, the three CPU phases are all *in
//! progress* at once, but the GIL lets only one of them run at any instant. They take turns:
//! a waiting worker waits one switch interval, then sets a drop request, and the holder lets
//! go at its next check point — so each hold ends about one switch interval after another
//! worker started waiting. Together the three phases last about three times as long as one.
//! The I/O phases need no GIL and overlap completely. The wall time is therefore roughly
//! "all CPU work, end to end" plus "one wait", instead of three of each.
//!
//! The numbers come from each worker's own clock (phase start and end) and from the model's hold
//! times; the two charts come from the recorded timeline — the whole run, and a zoom into the
//! CPU phase where the turn-taking is visible. One CPU phase alone and the three workers take
//! turns; figures are medians.

use std::time::{Duration, Instant};

use gil_core::claim::{Claim, Unit};
use gil_core::context::Cx;
use gil_core::figure::TimelineChart;
use gil_core::measure::{fmt_count, fmt_duration, median_by, time};
use gil_core::part::{Part, Run as PartRun};
use gil_core::sim::{Script, Step, simulate};
use gil_core::work::countdown;
use gil_core::{Timeline, report};

use crate::{CHART_CELLS, Config, Overlap, print_chart};

/// The Python this part models.
pub const PYTHON: &str = "
def worker(n, wait):
    while n > 0:          # CPU phase: needs the GIL
        n -= 1
    time.sleep(wait)      # I/O phase: detached
threads = [Thread(target=worker, args=(N, 0.05)) for _ in range(3)]";

/// The tutorial's worker count.
pub const WORKERS: usize = 3;

/// What the simulator assumes one countdown step costs (about what the model's countdown takes
/// on a recent x86 core). The claims compare ratios, which do not depend on it.
const SIM_STEP: Duration = Duration::from_nanos(1);

/// When one worker's phases began and ended, from the start of the run.
#[derive(Clone, Copy, Debug)]
pub struct Phases {
    /// Start of the countdown.
    pub cpu_start: Duration,
    /// End of the countdown = start of the wait.
    pub cpu_end: Duration,
    /// End of the wait.
    pub io_end: Duration,
}

/// One run of the three workers.
#[derive(Clone, Debug)]
pub struct Run {
    /// Each worker's phases.
    pub phases: Vec<Phases>,
    /// Wall-clock time of the three workers.
    pub wall: Duration,
    /// How the workers spent their time.
    pub overlap: Overlap,
    /// Who held the GIL when, the whole run.
    pub timeline: Timeline,
}

impl Run {
    /// From the first CPU phase's start to the last one's end.
    pub fn cpu_span(&self) -> Duration {
        let first = self.phases.iter().map(|p| p.cpu_start).min();
        let last = self.phases.iter().map(|p| p.cpu_end).max();
        last.unwrap_or_default()
            .saturating_sub(first.unwrap_or_default())
    }

    /// From the first I/O phase's start to the last one's end.
    pub fn io_span(&self) -> Duration {
        let first = self.phases.iter().map(|p| p.cpu_end).min();
        let last = self.phases.iter().map(|p| p.io_end).max();
        last.unwrap_or_default()
            .saturating_sub(first.unwrap_or_default())
    }

    /// Time the GIL was held ÷ the CPU phases' span: about 1.0 when they ran one at a time.
    pub fn cpu_overlap(&self) -> f64 {
        self.overlap.held.as_secs_f64() / self.cpu_span().as_secs_f64().max(1e-9)
    }

    /// Sum of the I/O phases ÷ their span: about 3.0 when they all waited at once.
    pub fn io_overlap(&self) -> f64 {
        let sum: Duration = self.phases.iter().map(|p| p.io_end - p.cpu_end).sum();
        sum.as_secs_f64() / self.io_span().as_secs_f64().max(1e-9)
    }
}

/// What part 4 measured (or simulated).
#[derive(Clone, Debug)]
pub struct Report {
    /// One CPU phase on its own, single thread, no competition (median).
    pub cpu_alone: Duration,
    /// One I/O phase (the sleep).
    pub io_delay: Duration,
    /// The three workers: the run whose wall time is the median.
    pub run: Run,
    /// Median CPU overlap over the runs.
    pub cpu_overlap: f64,
    /// Median I/O overlap over the runs.
    pub io_overlap: f64,
}

fn workers(cfg: &Config) -> Run {
    let (iters, delay) = (cfg.cpu_iters, cfg.delay);
    let gil = cfg.gil();
    gil.record_timeline();
    let t0 = Instant::now();
    let (phases, wall) = time(|| {
        gil.run_threads(WORKERS, |_, py| {
            let cpu_start = t0.elapsed();
            countdown(py, iters);
            let cpu_end = t0.elapsed();
            py.detach(|| std::thread::sleep(delay));
            Phases {
                cpu_start,
                cpu_end,
                io_end: t0.elapsed(),
            }
        })
    });
    Run {
        phases,
        wall,
        overlap: Overlap::from_stats(&gil.stats(), wall),
        timeline: gil.take_timeline(),
    }
}

/// Time one CPU phase alone and the three workers live, taking turns.
pub fn measure(cfg: &Config) -> anyhow::Result<Report> {
    let (mut alone, mut runs) = (Vec::new(), Vec::new());
    let estimate = SIM_STEP * u32::try_from(cfg.cpu_iters / 1000).unwrap_or(u32::MAX) * 1000;
    for _ in 0..cfg.rounds(estimate * 4 + cfg.delay) {
        let gil = cfg.gil();
        let ((), took) = time(|| gil.attach("alone", |py| countdown(py, cfg.cpu_iters)));
        alone.push(took);
        runs.push(workers(cfg));
    }
    let cpu_overlap = median_by(runs.iter().map(Run::cpu_overlap), |v| *v).unwrap_or(f64::NAN);
    let io_overlap = median_by(runs.iter().map(Run::io_overlap), |v| *v).unwrap_or(f64::NAN);
    runs.sort_by_key(|r| r.wall);
    Ok(Report {
        cpu_alone: median_by(alone, |d| *d).unwrap_or_default(),
        io_delay: cfg.delay,
        run: runs.swap_remove(runs.len() / 2),
        cpu_overlap,
        io_overlap,
    })
}

/// The same workers on the simulator.
pub fn simulated(cfg: &Config, cores: usize) -> Report {
    let cpu = SIM_STEP.saturating_mul(u32::try_from(cfg.cpu_iters).unwrap_or(u32::MAX));
    let sim = cfg.sim(cores);
    let alone = simulate(&sim, vec![Script::new("alone", vec![Step::Bytecode(cpu)])]);
    // The CPU phases alone: they finish exactly as in the full run (sleeping threads do not
    // touch the GIL), which gives each worker's CPU end.
    let names = |i: usize| format!("T{i}");
    let cpu_only = simulate(
        &sim,
        (1..=WORKERS)
            .map(|i| Script::new(names(i), vec![Step::Bytecode(cpu)]))
            .collect(),
    );
    let full = simulate(
        &sim,
        (1..=WORKERS)
            .map(|i| {
                Script::new(
                    names(i),
                    vec![Step::Bytecode(cpu), Step::Blocking(cfg.delay)],
                )
            })
            .collect(),
    );
    let phases = cpu_only
        .finished
        .iter()
        .zip(&full.finished)
        .map(|(&cpu_end, &io_end)| Phases {
            cpu_start: Duration::ZERO,
            cpu_end,
            io_end,
        })
        .collect();
    let run = Run {
        phases,
        wall: full.elapsed,
        overlap: Overlap::from_stats(full.stats(), full.elapsed),
        timeline: full.timeline.clone(),
    };
    Report {
        cpu_alone: alone.elapsed,
        io_delay: cfg.delay,
        cpu_overlap: run.cpu_overlap(),
        io_overlap: run.io_overlap(),
        run,
    }
}

/// Part 4 in the lesson's table.
pub struct Mixed;

impl Part<Config> for Mixed {
    type Figures = Report;

    fn title(&self) -> &'static str {
        "a CPU phase, then a wait"
    }

    fn python(&self) -> &'static str {
        PYTHON
    }

    fn text(&self) -> &'static str {
        TEXT
    }

    fn cores_needed(&self, _cfg: &Config) -> usize {
        2
    }

    fn live(&self, _cx: &Cx, cfg: &Config) -> anyhow::Result<Report> {
        measure(cfg)
    }

    fn simulate(&self, cx: &Cx, cfg: &Config) -> anyhow::Result<Report> {
        Ok(simulated(cfg, cx.sim_cores()))
    }

    fn show(&self, cx: &mut Cx, cfg: &Config, run: PartRun<'_, Report>) -> anyhow::Result<()> {
        show(cx, cfg, run.figures, run.expected)
    }
}

/// The part's prose (also its documentation, and the book's page).
pub const TEXT: &str = include_str!("part4_mixed.md");

/// Print the figures of `r` and the claims they support, beside the simulator's `expected`.
pub fn show(cx: &mut Cx, cfg: &Config, r: &Report, expected: &Report) -> anyhow::Result<()> {
    report::kv(
        &format!("one CPU phase (N = {})", fmt_count(cfg.cpu_iters)),
        fmt_duration(r.cpu_alone),
    );
    report::kv("3 CPU phases, start to end", fmt_duration(r.run.cpu_span()));
    report::kv(
        &format!("3 sleeps of {}, start to end", fmt_duration(r.io_delay)),
        fmt_duration(r.run.io_span()),
    );
    print_chart(&r.run.timeline.render(CHART_CELLS));
    cx.figure(
        &TimelineChart::new("mixed", "Three workers: count, then sleep", &r.run.timeline)
            .caption("The counting takes turns on the GIL; the sleeps, detached, overlap."),
    )?;
    let cpu = expected.cpu_overlap;
    let (low, high, text) = if cfg.free_threaded() {
        (
            cpu * 0.6,
            cpu * 1.1 + 0.05,
            "Without a GIL the CPU phases ran at the same time, as far as the cores allowed.",
        )
    } else {
        (
            cpu.min(0.7),
            cpu.max(1.05),
            "The CPU phases took turns: threads helped the waiting, not the counting.",
        )
    };
    cx.claim(Claim {
        figure: "CPU phases running at once (average)",
        unit: Unit::Ratio,
        measured: r.cpu_overlap,
        expected: cpu,
        low,
        high,
        text,
    });
    let io = expected.io_overlap;
    cx.claim(Claim {
        figure: "sleeps running at once (average)",
        unit: Unit::Ratio,
        measured: r.io_overlap,
        expected: io,
        low: io * 0.7,
        high: WORKERS as f64 + 0.05,
        text: "The sleeps overlapped: the workers waited at the same time.",
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulated_cpu_phases_take_turns_and_sleeps_overlap() {
        let cfg = Config::quick(crate::default_gil_args());
        let r = simulated(&cfg, 2);
        assert!(r.cpu_overlap > 0.9 && r.cpu_overlap <= 1.0, "{r:?}");
        assert!(r.io_overlap > 2.0 && r.io_overlap <= 3.0, "{r:?}");
        assert_eq!(r.run.cpu_span(), Duration::from_micros(18_878));
        assert_eq!(r.run.wall, Duration::from_micros(48_903));
    }
}
