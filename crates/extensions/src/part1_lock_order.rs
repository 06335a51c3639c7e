//! Part 1: a Rust lock and the GIL, each waiting for the other.
//!
#![doc = include_str!("part1_lock_order.md")]
//!
//! The live runs use [`gil_core::sync`]'s model locks; the lesson gives the stuck thread a
//! timeout that real code does not have, so that the run ends. The simulator runs the same
//! two threads ([`Step::AcquireHolding`] against [`Step::Acquire`]), finds them stuck, and
//! names who holds what.

use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

use gil_core::Timeline;
use gil_core::claim::{Claim, Unit};
use gil_core::context::Cx;
use gil_core::measure::fmt_duration;
use gil_core::part::{Part, Run};
use gil_core::report;
use gil_core::sim::{Blocked, Held, Script, SimRun, Step, simulate};
use gil_core::sync::{PyOnceLock, RustMutex};

use crate::{Config, show_timeline};

/// The Python this part models.
pub const PYTHON: &str = "
# ext.lookup(key) is Rust: a static Mutex<Option<Table>> whose first
# caller fills the table by importing a Python module (py.import).
t1 = Thread(target=ext.lookup, args=('a',))   # fills the table
t2 = Thread(target=ext.lookup, args=('b',))   # arrives meanwhile
t1.start(); t2.start()";

/// The model lock's number in the simulator.
const TABLE: usize = 0;

/// Python that T2 runs before it calls in (simulator).
const T2_PYTHON: Duration = Duration::from_micros(100);

/// How one way of waiting came out.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Threads that could not go on until the lesson ended the wait (0, 1 or 2).
    pub stuck: usize,
    /// From the start until T2 had the table (`None`: it never did).
    pub t2_done: Option<Duration>,
    /// Who held the GIL when.
    pub timeline: Timeline,
    /// What each stuck thread held and waited for (the simulator's; empty live).
    pub blocked: Vec<Blocked>,
}

/// What part 1 measured (or simulated).
#[derive(Clone, Debug)]
pub struct Figures {
    /// T2 waits for the Rust lock attached.
    pub attached: Outcome,
    /// T2 waits detached (`lock_py_attached`).
    pub detached: Outcome,
    /// Both threads go through a `PyOnceLock` (the simulator's is the detached wait).
    pub once_lock: Outcome,
}

/// When T1 took the GIL back after its import, and when T2 gave up on the lock.
#[derive(Default)]
struct Moments {
    t1_back: Option<Instant>,
    t2_gave_up: Option<Instant>,
    t2_done: Option<Instant>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Way {
    Attached,
    Detached,
    OnceLock,
}

fn live_run(cfg: &Config, way: Way) -> Outcome {
    let gil = cfg.gil();
    let table = RustMutex::new("the table's Mutex", None::<u32>);
    let cell = PyOnceLock::new();
    let importing = Barrier::new(2);
    let moments = Mutex::new(Moments::default());
    let note = |f: &dyn Fn(&mut Moments)| f(&mut moments.lock().unwrap_or_else(|p| p.into_inner()));
    let import = |py: &mut gil_core::GilGuard<'_>| {
        py.detach(|| {
            importing.wait();
            std::thread::sleep(cfg.import);
        });
        note(&|m| m.t1_back = Some(Instant::now()));
        42
    };
    gil.record_timeline();
    let start = Instant::now();
    std::thread::scope(|s| {
        s.spawn(|| {
            gil.attach("T1", |py| {
                if way == Way::OnceLock {
                    cell.get_or_init(py, import);
                } else {
                    let mut entry = table.lock();
                    *entry = Some(import(py));
                }
            })
        });
        importing.wait();
        gil.attach("T2", |py| {
            let got = match way {
                Way::Attached => table.lock_timeout(cfg.patience).is_some(),
                Way::Detached => table.lock_py_attached(py).is_some(),
                Way::OnceLock => *cell.get_or_init(py, |_| 0) == 42,
            };
            if got {
                note(&|m| m.t2_done = Some(Instant::now()));
            } else {
                note(&|m| m.t2_gave_up = Some(Instant::now()));
            }
        });
    });
    let timeline = gil.take_timeline();
    let m = moments.into_inner().unwrap_or_else(|p| p.into_inner());
    // T1 is stuck if it got the GIL back only once T2 had given up: the evidence of the cycle.
    let t1_stuck =
        matches!((m.t1_back, m.t2_gave_up), (Some(back), Some(gave_up)) if back >= gave_up);
    Outcome {
        stuck: usize::from(m.t2_gave_up.is_some()) + usize::from(t1_stuck),
        t2_done: m.t2_done.map(|t| t - start),
        timeline,
        blocked: Vec::new(),
    }
}

/// Measure the three ways on the live model.
pub fn live(cfg: &Config) -> Figures {
    Figures {
        attached: live_run(cfg, Way::Attached),
        detached: live_run(cfg, Way::Detached),
        once_lock: live_run(cfg, Way::OnceLock),
    }
}

fn sim_run(cfg: &Config, cores: usize, t2_waits: Step) -> SimRun {
    simulate(
        &cfg.sim(cores),
        vec![
            Script::new(
                "T1",
                vec![
                    Step::AcquireHolding(TABLE),
                    Step::Blocking(cfg.import),
                    Step::Release(TABLE),
                ],
            ),
            Script::new(
                "T2",
                vec![Step::Bytecode(T2_PYTHON), t2_waits, Step::Release(TABLE)],
            ),
        ],
    )
}

fn sim_outcome(run: SimRun) -> Outcome {
    Outcome {
        stuck: run.stuck.len(),
        t2_done: run.stuck.is_empty().then(|| run.finished[1]),
        timeline: run.timeline,
        blocked: run.blocked,
    }
}

/// The same threads on the simulator, for an idle machine with `cores` cores.
pub fn simulated(cfg: &Config, cores: usize) -> Figures {
    let detached = sim_outcome(sim_run(cfg, cores, Step::Acquire(TABLE)));
    Figures {
        attached: sim_outcome(sim_run(cfg, cores, Step::AcquireHolding(TABLE))),
        once_lock: detached.clone(),
        detached,
    }
}

/// Part 1 in the lesson's table.
pub struct LockOrder;

impl Part<Config> for LockOrder {
    type Figures = Figures;

    fn title(&self) -> &'static str {
        "a Rust lock and the GIL, each waiting for the other"
    }

    fn python(&self) -> &'static str {
        PYTHON
    }

    fn text(&self) -> &'static str {
        include_str!("part1_lock_order.md")
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

/// "the GIL" or "the table's Mutex".
fn held(h: Held) -> &'static str {
    match h {
        Held::Gil => "the GIL",
        Held::Lock(_) => "the table's Mutex",
    }
}

/// One line per stuck thread: what it holds, what it waits for, who has that.
pub fn cycle_lines(blocked: &[Blocked]) -> Vec<String> {
    blocked
        .iter()
        .map(|b| {
            let holds: Vec<_> = b.holds.iter().map(|&h| held(h)).collect();
            let holds = if holds.is_empty() {
                "nothing".to_owned()
            } else {
                holds.join(" and ")
            };
            let by = b.held_by.as_deref().unwrap_or("nobody");
            format!(
                "{} holds {holds}, waits for {} ({by} has it)",
                b.thread,
                held(b.waits_for)
            )
        })
        .collect()
}

fn print_outcome(cx: &Cx, what: &str, o: &Outcome, figure: &str) -> anyhow::Result<()> {
    report::kv(&format!("{what}: threads stuck"), o.stuck);
    if let Some(done) = o.t2_done {
        report::kv(
            &format!("{what}: T2 had the table after"),
            fmt_duration(done),
        );
    }
    show_timeline(
        cx,
        figure,
        &format!("T2 waits for the Rust lock: {what}"),
        &o.timeline,
    )
}

/// Print the figures and the claims they support, beside the simulator's `expected`.
fn show(cx: &mut Cx, cfg: &Config, f: &Figures, expected: &Figures) -> anyhow::Result<()> {
    report::note(&format!(
        "T1 takes the Rust lock and imports ({} detached); T2 calls in meanwhile. A live \
         thread stuck for {} is let go, which real code would not do.",
        fmt_duration(cfg.import),
        fmt_duration(cfg.patience)
    ));
    print_outcome(cx, "waiting attached", &f.attached, "attached")?;
    let lines = cycle_lines(&expected.attached.blocked);
    if !lines.is_empty() {
        report::note("The simulator stops with every thread blocked:");
        for line in &lines {
            println!("    {line}");
        }
    }
    let stuck_text = if cfg.free_threaded() {
        "Without a GIL there is nothing to hold while waiting: T2 waited for the import and \
         both went on."
    } else {
        "T2 held the GIL while it waited for the Rust lock, and T1 needed the GIL to finish \
         and release that lock: both were stuck until one of them was let go."
    };
    cx.claim(Claim {
        figure: "threads stuck, T2 waiting attached",
        unit: Unit::Count,
        measured: f.attached.stuck as f64,
        expected: expected.attached.stuck as f64,
        low: expected.attached.stuck as f64,
        high: expected.attached.stuck as f64,
        text: stuck_text,
    });
    print_outcome(cx, "lock_py_attached", &f.detached, "lock-py-attached")?;
    print_outcome(cx, "PyOnceLock", &f.once_lock, "py-once-lock")?;
    let fixed = (f.detached.stuck + f.once_lock.stuck) as f64;
    cx.claim(Claim {
        figure: "threads stuck, waiting detached (both ways)",
        unit: Unit::Count,
        measured: fixed,
        expected: (expected.detached.stuck + expected.once_lock.stuck) as f64,
        low: 0.0,
        high: 0.0,
        text: if cfg.free_threaded() {
            "Waiting detached, nobody was stuck either."
        } else {
            "Waiting detached, T2 let go of the GIL, T1 took it back and finished, and T2 \
             had the table: nobody was stuck."
        },
    });
    let ratio = |o: &Outcome| {
        o.t2_done.map_or(f64::INFINITY, |d| {
            d.as_secs_f64() / cfg.import.as_secs_f64()
        })
    };
    let slowest = |x: &Figures| ratio(&x.detached).max(ratio(&x.once_lock));
    cx.claim(Claim {
        figure: "T2 had the table after / the import's length",
        unit: Unit::Ratio,
        measured: slowest(f),
        expected: slowest(expected),
        low: 0.9,
        high: 4.0,
        text: "T2 waited about as long as the import took, no longer.",
    });
    report::for_rust_readers(
        "With PyO3: mutex.lock_py_attached(py) (trait pyo3::sync::MutexExt) instead of \
         mutex.lock(), and PyOnceLock::get_or_init(py, ..) instead of OnceLock or LazyLock \
         (OnceLockExt::get_or_init_py_attached if you must keep the OnceLock). Both wait \
         detached.",
    );
    Ok(())
}
