//! Part 4 — free threading (PEP 703): no GIL, and what that costs.
//!
#![doc = include_str!("part4_free_threading.md")]
//!
//! Lesson 2's countdown, one thread against one per core, on the free-threaded model. Under
//! the GIL the same threads gain nothing (part 1 and lesson 2 show it); the price, reference
//! counting without a GIL, is lesson 1 part 3's.

use std::time::Duration;

use gil_core::context::Cx;
use gil_core::measure::{self, fmt_count, fmt_duration};
use gil_core::part::{Part, Run};
use gil_core::report::kv;
use gil_core::{Gil, claim, work};

use crate::{Config, expected};

/// The part's prose (also its documentation, and the book's page).
pub const TEXT: &str = include_str!("part4_free_threading.md");

/// The Python this part models: lesson 2's countdown, on a free-threaded build.
pub const PYTHON: &str = r#"
# python3.14t: sys._is_gil_enabled() is False
threads = [threading.Thread(target=countdown, args=(N // 2,))
           for _ in range(2)]     # lesson 2's countdown, shared by two
"#;

/// The claim part 6 quotes for free-threaded threads.
pub const FREE: &str = "Free-threaded, the threads counted down at the same time.";
/// The claim made instead where the simulator expects no gain.
pub const FREE_ONE_CORE: &str = "With one core even free-threaded threads take turns on it.";

/// Part 4's figures, from this machine or from the simulator.
#[derive(Clone, Debug)]
pub struct Figures {
    /// Total countdown steps, split among the threads.
    pub total: u64,
    /// Threads in the parallel run.
    pub threads: usize,
    /// One thread's share of the work (too short to compare below [`crate::MIN_WORK`]).
    pub share: Duration,
    /// `threads` free threads over one.
    pub speedup: f64,
    /// The live run's times: one thread, then `threads` threads.
    pub live: Option<(Duration, Duration)>,
}

const RAISE: &str = "raise --items";

/// Part 4 in the lesson's table.
pub struct FreeThreading;

impl Part<Config> for FreeThreading {
    type Figures = Figures;

    fn title(&self) -> &'static str {
        "free threading (PEP 703)"
    }

    fn python(&self) -> &'static str {
        PYTHON
    }

    fn text(&self) -> &'static str {
        TEXT
    }

    fn cores_needed(&self, _cfg: &Config) -> usize {
        measure::cores()
    }

    fn live(&self, cx: &Cx, cfg: &Config) -> anyhow::Result<Figures> {
        let threads = expected::parallel_threads(cx);
        let total = cfg.items * 2;
        let (one, many) = countdown(cfg, threads, total);
        Ok(Figures {
            total,
            threads,
            share: one / threads as u32,
            speedup: measure::speedup(one, many),
            live: Some((one, many)),
        })
    }

    fn simulate(&self, cx: &Cx, cfg: &Config) -> anyhow::Result<Figures> {
        let threads = expected::parallel_threads(cx);
        let total = cfg.items * 2;
        Ok(Figures {
            total,
            threads,
            share: expected::work(expected::ITEM, total / threads as u64),
            speedup: expected::part4(cfg, cx.sim_cores(), total, threads).free,
            live: None,
        })
    }

    fn show(&self, cx: &mut Cx, _cfg: &Config, run: Run<'_, Figures>) -> anyhow::Result<()> {
        let f = run.figures;
        kv(
            "work",
            format!(
                "countdown({}): 1 free thread, then {}",
                fmt_count(f.total),
                f.threads
            ),
        );
        if let Some((one, many)) = f.live {
            kv(
                "time",
                format!(
                    "{} on 1, {} on {}",
                    fmt_duration(one),
                    fmt_duration(many),
                    f.threads
                ),
            );
        }
        if crate::long_enough(f.share, RAISE) {
            cx.claim(claim::speedup(
                &format!("{} threads vs one, free-threaded", f.threads),
                f.speedup,
                run.expected.speedup,
                FREE,
                FREE_ONE_CORE,
            ));
        }
        Ok(())
    }
}

/// The free-threaded countdown of `total` steps on one thread, then shared by `threads`, in
/// turns: the fastest of each.
fn countdown(cfg: &Config, threads: usize, total: u64) -> (Duration, Duration) {
    let share = total / threads as u64;
    let free = Gil::free_threaded();
    let run = |n: usize, each: u64| {
        free.run_threads(n, |_, py| work::countdown(py, each));
    };
    let times = gil_core::measure::fastest_in_turns(
        cfg.runs,
        &mut [&mut || run(1, total), &mut || run(threads, share)],
    );
    (times[0], times[1])
}
