//! Part 2: worker threads that attach while their caller still holds the GIL.
//!
#![doc = include_str!("part2_workers.md")]
//!
//! Live, the caller waits at most the lesson's patience, then detaches so the workers can
//! finish. The simulator's caller joins each worker through a lock the worker holds until it
//! is done ([`Step::AcquireHolding`] attached, [`Step::Acquire`] detached).

use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use gil_core::Timeline;
use gil_core::claim::{Claim, Unit};
use gil_core::context::Cx;
use gil_core::measure::fmt_duration;
use gil_core::part::{Part, Run};
use gil_core::report;
use gil_core::sim::{Script, SimRun, Step, simulate};

use crate::{Config, show_timeline};

/// The Python this part models.
pub const PYTHON: &str = "
# ext.square_many(items) is Rust: it gives the items to worker threads,
# each of which attaches to build its Python result, and joins them.
results = ext.square_many(range(4))";

/// Python each worker runs once attached, building its result (simulator).
const CONVERT: Duration = Duration::from_micros(50);

/// Python the caller runs before it spawns the workers (simulator).
const CALLER_PYTHON: Duration = Duration::from_micros(100);

/// How one way of joining came out.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Workers that had not finished when the caller's patience ran out (0 when none).
    pub stuck_workers: usize,
    /// Whether the caller was stuck too.
    pub caller_stuck: bool,
    /// From the spawn until every result was back (`None`: not without being let go).
    pub done: Option<Duration>,
    /// Who held the GIL when.
    pub timeline: Timeline,
}

/// What part 2 measured (or simulated).
#[derive(Clone, Debug)]
pub struct Figures {
    /// Workers joined.
    pub workers: usize,
    /// The caller joins attached.
    pub attached: Outcome,
    /// The caller detaches around the join.
    pub detached: Outcome,
}

/// How many workers have finished, and a way to wait for the rest.
struct Finished {
    count: Mutex<usize>,
    changed: Condvar,
}

impl Finished {
    fn one_more(&self) {
        *self.count.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        self.changed.notify_all();
    }

    /// Wait until `all` have finished or `patience` is over; how many had.
    fn wait(&self, all: usize, patience: Option<Duration>) -> usize {
        let deadline = patience.map(|p| Instant::now() + p);
        let mut count = self.count.lock().unwrap_or_else(|p| p.into_inner());
        while *count < all {
            let left = match deadline {
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) => left,
                    None => break,
                },
                None => Duration::from_secs(3600),
            };
            count = self
                .changed
                .wait_timeout(count, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        *count
    }
}

fn live_run(cfg: &Config, detach_around_join: bool) -> Outcome {
    let gil = cfg.gil();
    let finished = Finished {
        count: Mutex::new(0),
        changed: Condvar::new(),
    };
    let n = cfg.workers;
    gil.record_timeline();
    let mut outcome = None;
    std::thread::scope(|s| {
        gil.attach("caller", |py| {
            let start = Instant::now();
            for w in 0..n {
                let (gil, finished) = (&gil, &finished);
                s.spawn(move || {
                    // Plain Rust work, no Python object: a sleep stands for it.
                    std::thread::sleep(cfg.work);
                    gil.attach(&format!("W{}", w + 1), |py| py.check_point());
                    finished.one_more();
                });
            }
            let (done_in_time, caller_stuck) = if detach_around_join {
                (py.detach(|| finished.wait(n, None)), false)
            } else {
                let done = finished.wait(n, Some(cfg.patience));
                // Let go, as the lesson's rescue: detach until the rest are done.
                py.detach(|| finished.wait(n, None));
                (done, done < n)
            };
            outcome = Some((n - done_in_time, caller_stuck, start.elapsed()));
        });
    });
    let timeline = gil.take_timeline();
    let (stuck_workers, caller_stuck, elapsed) = outcome.expect("the caller ran");
    Outcome {
        stuck_workers,
        caller_stuck,
        done: (stuck_workers == 0).then_some(elapsed),
        timeline,
    }
}

/// Both ways of joining, on the live model.
pub fn live(cfg: &Config) -> Figures {
    Figures {
        workers: cfg.workers,
        attached: live_run(cfg, false),
        detached: live_run(cfg, true),
    }
}

fn sim_run(cfg: &Config, cores: usize, detach_around_join: bool) -> SimRun {
    let n = cfg.workers;
    // Worker w holds lock w until it is done: joining it is waiting for that lock.
    let mut scripts: Vec<Script> = (0..n)
        .map(|w| {
            Script::new(
                format!("W{}", w + 1),
                vec![
                    Step::Acquire(w),
                    Step::Blocking(cfg.work),
                    Step::Bytecode(CONVERT),
                    Step::Release(w),
                ],
            )
        })
        .collect();
    let mut caller = vec![Step::Bytecode(CALLER_PYTHON)];
    for w in 0..n {
        caller.push(if detach_around_join {
            Step::Acquire(w)
        } else {
            Step::AcquireHolding(w)
        });
        caller.push(Step::Release(w));
    }
    scripts.push(Script::new("caller", caller));
    simulate(&cfg.sim(cores), scripts)
}

fn sim_outcome(run: SimRun) -> Outcome {
    let caller = run.finished.len() - 1;
    let stuck_workers = run.stuck.iter().filter(|s| s.starts_with('W')).count();
    Outcome {
        stuck_workers,
        caller_stuck: run.stuck.iter().any(|s| s == "caller"),
        done: run.stuck.is_empty().then(|| run.finished[caller]),
        timeline: run.timeline,
    }
}

/// Both ways on the simulator, for an idle machine with `cores` cores.
pub fn simulated(cfg: &Config, cores: usize) -> Figures {
    Figures {
        workers: cfg.workers,
        attached: sim_outcome(sim_run(cfg, cores, false)),
        detached: sim_outcome(sim_run(cfg, cores, true)),
    }
}

/// Part 2 in the lesson's table.
pub struct Workers;

impl Part<Config> for Workers {
    type Figures = Figures;

    fn title(&self) -> &'static str {
        "worker threads that attach while the caller holds the GIL"
    }

    fn python(&self) -> &'static str {
        PYTHON
    }

    fn text(&self) -> &'static str {
        include_str!("part2_workers.md")
    }

    fn live(&self, _cx: &Cx, cfg: &Config) -> anyhow::Result<Figures> {
        Ok(live(cfg))
    }

    fn simulate(&self, cx: &Cx, cfg: &Config) -> anyhow::Result<Figures> {
        Ok(simulated(cfg, cx.sim_cores()))
    }

    fn show(&self, cx: &mut Cx, cfg: &Config, run: Run<'_, Figures>) -> anyhow::Result<()> {
        show(cx, cfg, run.figures, run.expected)
    }
}

fn print_outcome(cx: &Cx, what: &str, o: &Outcome, figure: &str) -> anyhow::Result<()> {
    report::kv(&format!("{what}: workers stuck"), o.stuck_workers);
    report::kv(
        &format!("{what}: caller stuck"),
        if o.caller_stuck { "yes" } else { "no" },
    );
    if let Some(done) = o.done {
        report::kv(
            &format!("{what}: all results back after"),
            fmt_duration(done),
        );
    }
    show_timeline(cx, figure, &format!("Workers {what}"), &o.timeline)
}

/// Print the figures and the claims they support, beside the simulator's `expected`.
fn show(cx: &mut Cx, cfg: &Config, f: &Figures, expected: &Figures) -> anyhow::Result<()> {
    report::note(&format!(
        "The caller, attached, starts {} workers; each works {} detached, then attaches to \
         build its result. A live caller stuck for {} is let go.",
        f.workers,
        fmt_duration(cfg.work),
        fmt_duration(cfg.patience)
    ));
    print_outcome(cx, "joined attached", &f.attached, "joined-attached")?;
    let text = if cfg.free_threaded() {
        "Without a GIL the workers could attach while the caller waited: none was stuck."
    } else {
        "Every worker waited for the GIL, which the caller held while it waited for the \
         workers: all were stuck until the caller let go."
    };
    cx.claim(Claim {
        figure: "workers stuck, joined attached",
        unit: Unit::Count,
        measured: f.attached.stuck_workers as f64,
        expected: expected.attached.stuck_workers as f64,
        low: expected.attached.stuck_workers as f64,
        high: expected.attached.stuck_workers as f64,
        text,
    });
    print_outcome(cx, "joined detached", &f.detached, "joined-detached")?;
    let ratio = |o: &Outcome| {
        o.done
            .map_or(f64::INFINITY, |d| d.as_secs_f64() / cfg.work.as_secs_f64())
    };
    cx.claim(Claim {
        figure: "detached join: all back after / one worker's work",
        unit: Unit::Ratio,
        measured: ratio(&f.detached),
        expected: ratio(&expected.detached),
        low: 0.9,
        high: 3.0,
        text: "Detached around the join, the caller let the workers attach one after another \
               and everything was back about one worker's work later.",
    });
    report::for_rust_readers(
        "With PyO3: py.detach(|| items.par_iter().map(|x| Python::attach(|py| ..)).collect()). \
         The closure given to detach must not hold the caller's Python token or a Bound; \
         pass plain Rust data, or Py<T>, in.",
    );
    Ok(())
}
