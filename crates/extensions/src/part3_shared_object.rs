//! Part 3: one `#[pyclass]` object, several threads, no GIL.
//!
#![doc = include_str!("part3_shared_object.md")]
//!
//! Live, real threads run on the free-threaded model. The simulator here is a deterministic
//! interleaving: each call is split into the steps above (borrow, read, write, release) and a
//! seeded scheduler picks which thread takes the next step.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Barrier, Mutex};

use gil_core::claim::{Claim, Unit};
use gil_core::context::Cx;
use gil_core::measure::{SplitMix64, fmt_count};
use gil_core::part::{Part, Run};
use gil_core::sync::{AlreadyBorrowed, PyClassCell};
use gil_core::{Gil, GilGuard, Mode, report};

use crate::Config;

/// The Python this part models.
pub const PYTHON: &str = "
# python3.13t, no GIL: every thread calls into the same Counter
def work(c):
    for _ in range(N):
        c.count += 1        # #[pyo3(get, set)] count: u64
        # or c.increment()  # fn increment(&mut self)
threads = [Thread(target=work, args=(c,)) for _ in range(2)]";

/// How the object is updated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Way {
    /// `obj.count += 1` through a getter and a setter.
    GetSet,
    /// `obj.increment()`, a `&mut self` method.
    MutSelf,
    /// `#[pyclass(frozen)]` with an `AtomicU64`.
    FrozenAtomic,
    /// `#[pyclass(frozen)]` with a `Mutex<u64>`.
    FrozenMutex,
}

/// Every way, in the order the table lists them.
pub const WAYS: [Way; 4] = [
    Way::GetSet,
    Way::MutSelf,
    Way::FrozenAtomic,
    Way::FrozenMutex,
];

impl Way {
    /// How the table names it.
    pub fn label(self) -> &'static str {
        match self {
            Way::GetSet => "count += 1 (get, set)",
            Way::MutSelf => "increment(&mut self)",
            Way::FrozenAtomic => "frozen + AtomicU64",
            Way::FrozenMutex => "frozen + Mutex<u64>",
        }
    }
}

/// What one way came to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Calls made in all.
    pub calls: u64,
    /// Calls that raised `RuntimeError: Already borrowed`.
    pub refused: u64,
    /// Calls that returned normally but whose update is not in the final count.
    pub lost: u64,
    /// The final count.
    pub count: u64,
}

impl Tally {
    fn new(calls: u64, refused: u64, count: u64) -> Tally {
        Tally {
            calls,
            refused,
            lost: (calls - refused).saturating_sub(count),
            count,
        }
    }

    /// Updates that did not make it, refused or lost.
    pub fn missing(&self) -> u64 {
        self.calls - self.count
    }
}

/// What part 3 measured (or simulated), one tally per way in [`WAYS`] order.
#[derive(Clone, Debug)]
pub struct Figures {
    /// Threads calling in.
    pub threads: usize,
    /// One per way.
    pub tallies: Vec<Tally>,
}

/// The counter classes, each as PyO3 keeps its data ([`PyClassCell`]: borrow-checked at run
/// time).
struct Objects {
    /// `#[pyclass] struct Counter { #[pyo3(get, set)] count: u64 }`, with `increment(&mut self)`.
    plain: PyClassCell<u64>,
    /// `#[pyclass(frozen)] struct Counter { count: AtomicU64 }`.
    atomic: PyClassCell<AtomicU64>,
    /// `#[pyclass(frozen)] struct Counter { count: Mutex<u64> }`.
    locked: PyClassCell<Mutex<u64>>,
}

impl Objects {
    fn new() -> Self {
        Objects {
            plain: PyClassCell::new(0),
            atomic: PyClassCell::new(AtomicU64::new(0)),
            locked: PyClassCell::new(Mutex::new(0)),
        }
    }

    /// One call from Python, the way `way` does it.
    fn call(&self, py: &mut GilGuard<'_>, way: Way) -> Result<(), AlreadyBorrowed> {
        match way {
            Way::GetSet => {
                // The getter: a shared borrow, a copy out.
                let value = *self.plain.borrow()?;
                // Between the getter and the setter: the `+ 1`, in Python.
                python_bytecodes();
                py.check_point();
                // The setter: an exclusive borrow, a store.
                *self.plain.borrow_mut()? = black_box(value) + 1;
            }
            Way::MutSelf => {
                let mut count = self.plain.borrow_mut()?;
                *count = black_box(*count) + 1;
            }
            Way::FrozenAtomic => {
                self.atomic.borrow()?.fetch_add(1, Ordering::Relaxed);
            }
            Way::FrozenMutex => {
                *self
                    .locked
                    .borrow()?
                    .lock()
                    .unwrap_or_else(|p| p.into_inner()) += 1;
            }
        }
        Ok(())
    }

    fn final_count(self, way: Way) -> u64 {
        match way {
            Way::GetSet | Way::MutSelf => self.plain.into_inner(),
            Way::FrozenAtomic => self.atomic.into_inner().into_inner(),
            Way::FrozenMutex => self
                .locked
                .into_inner()
                .into_inner()
                .unwrap_or_else(|p| p.into_inner()),
        }
    }
}

/// A few bytecodes' worth of Python around a call (tens of nanoseconds).
fn python_bytecodes() {
    let mut x = 0u64;
    for i in 0..32 {
        x = black_box(x + i);
    }
    black_box(x);
}

fn live_way(cfg: &Config, way: Way) -> Tally {
    let gil = Gil::with_mode(Mode::FreeThreaded);
    let object = Objects::new();
    let start = Barrier::new(cfg.threads);
    let refused: u64 = gil
        .run_threads(cfg.threads, |_, py| {
            start.wait();
            let mut refused = 0;
            for _ in 0..cfg.calls {
                refused += u64::from(object.call(py, way).is_err());
                python_bytecodes();
                py.check_point();
            }
            refused
        })
        .into_iter()
        .sum();
    Tally::new(
        cfg.calls * cfg.threads as u64,
        refused,
        object.final_count(way),
    )
}

/// Every way on the live free-threaded model.
pub fn live(cfg: &Config) -> Figures {
    Figures {
        threads: cfg.threads,
        tallies: WAYS.iter().map(|&way| live_way(cfg, way)).collect(),
    }
}

/// One step of a call, as the interleaving runs it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Borrow,
    Release,
    BorrowMut,
    ReleaseMut,
    Load,
    StorePlusOne,
    FetchAdd,
    Lock,
    Unlock,
}

fn ops(way: Way) -> &'static [Op] {
    use Op::*;
    match way {
        Way::GetSet => &[Borrow, Load, Release, BorrowMut, StorePlusOne, ReleaseMut],
        Way::MutSelf => &[BorrowMut, Load, StorePlusOne, ReleaseMut],
        Way::FrozenAtomic => &[FetchAdd],
        Way::FrozenMutex => &[Lock, Load, StorePlusOne, Unlock],
    }
}

/// One simulated thread: which call, which step, the value it read.
#[derive(Clone, Copy, Default)]
struct Cursor {
    calls_done: u64,
    step: usize,
    read: u64,
}

/// `way` with `threads` threads of `calls` calls, interleaved step by step by a seeded
/// scheduler: deterministic, the same figures on every machine.
pub fn interleave(way: Way, threads: usize, calls: u64, seed: u64) -> Tally {
    let program = ops(way);
    let mut rng = SplitMix64(seed);
    let mut cursors = vec![Cursor::default(); threads];
    let (mut count, mut borrow, mut lock_owner) = (0u64, 0isize, None::<usize>);
    let mut refused = 0;
    let mut live: Vec<usize> = (0..threads).collect();
    while !live.is_empty() {
        // A thread waiting for the Mutex cannot step; pick among the others.
        let runnable: Vec<usize> = live
            .iter()
            .copied()
            .filter(|&t| program[cursors[t].step] != Op::Lock || lock_owner.is_none_or(|o| o == t))
            .collect();
        let t = runnable[rng.below(runnable.len() as u64) as usize];
        let c = &mut cursors[t];
        let mut refuse = false;
        match program[c.step] {
            Op::Borrow if borrow < 0 => refuse = true,
            Op::Borrow => borrow += 1,
            Op::Release => borrow -= 1,
            Op::BorrowMut if borrow != 0 => refuse = true,
            Op::BorrowMut => borrow = -1,
            Op::ReleaseMut => borrow = 0,
            Op::Load => c.read = count,
            Op::StorePlusOne => count = c.read + 1,
            Op::FetchAdd => count += 1,
            Op::Lock => lock_owner = Some(t),
            Op::Unlock => lock_owner = None,
        }
        if refuse {
            refused += 1;
            c.step = program.len();
        } else {
            c.step += 1;
        }
        if c.step == program.len() {
            c.step = 0;
            c.calls_done += 1;
            if c.calls_done == calls {
                live.retain(|&x| x != t);
            }
        }
    }
    Tally::new(calls * threads as u64, refused, count)
}

/// Every way on the deterministic interleaving.
pub fn simulated(cfg: &Config) -> Figures {
    Figures {
        threads: cfg.threads,
        tallies: WAYS
            .iter()
            .map(|&way| interleave(way, cfg.threads, cfg.calls, cfg.seed))
            .collect(),
    }
}

/// Part 3 in the lesson's table.
pub struct SharedObject;

impl Part<Config> for SharedObject {
    type Figures = Figures;

    fn title(&self) -> &'static str {
        "one #[pyclass] object, several threads, no GIL"
    }

    fn python(&self) -> &'static str {
        PYTHON
    }

    fn text(&self) -> &'static str {
        include_str!("part3_shared_object.md")
    }

    fn cores_needed(&self, cfg: &Config) -> usize {
        // Calls collide only when the threads run at the same moment.
        cfg.threads
    }

    fn live(&self, _cx: &Cx, cfg: &Config) -> anyhow::Result<Figures> {
        Ok(live(cfg))
    }

    fn simulate(&self, _cx: &Cx, cfg: &Config) -> anyhow::Result<Figures> {
        Ok(simulated(cfg))
    }

    fn show(&self, cx: &mut Cx, cfg: &Config, run: Run<'_, Figures>) -> anyhow::Result<()> {
        show(cx, cfg, run.figures, run.expected);
        Ok(())
    }
}

/// Print the figures and the claims they support, beside the simulator's `expected`.
fn show(cx: &mut Cx, cfg: &Config, f: &Figures, expected: &Figures) {
    report::note(&format!(
        "{} threads x {} calls on one object, free-threaded (this part always runs without \
         a GIL). The simulator switches threads after any step of a call, far more often \
         than real threads collide, so its counts are only an upper bound.",
        f.threads,
        fmt_count(cfg.calls)
    ));
    let mut table = report::Table::new(&["way", "final count", "refused", "lost silently"]);
    for (way, t) in WAYS.iter().zip(&f.tallies) {
        table.push([
            way.label().to_owned(),
            fmt_count(t.count),
            fmt_count(t.refused),
            fmt_count(t.lost),
        ]);
    }
    table.print();
    let missing =
        |x: &Figures, ways: &[usize]| ways.iter().map(|&i| x.tallies[i].missing()).sum::<u64>();
    cx.claim(Claim {
        figure: "updates refused or lost, get/set and &mut self",
        unit: Unit::Count,
        measured: missing(f, &[0, 1]) as f64,
        expected: missing(expected, &[0, 1]) as f64,
        low: 1.0,
        // Summed over two ways: at most every call of both.
        high: (2 * cfg.calls * f.threads as u64) as f64,
        text: "Without a GIL two threads were inside the object at once: calls raised \
               RuntimeError: Already borrowed, and count += 1 also lost updates silently.",
    });
    cx.claim(Claim {
        figure: "updates missing, frozen with an atomic or a Mutex",
        unit: Unit::Count,
        measured: missing(f, &[2, 3]) as f64,
        expected: missing(expected, &[2, 3]) as f64,
        low: 0.0,
        high: 0.0,
        text: "A frozen class never borrows mutably: with fetch_add or a Mutex every update \
               counted, on every run.",
    });
    report::for_rust_readers(
        "#[pyclass(frozen)] struct Counter { count: AtomicU64 } with \
         fn increment(&self) { self.count.fetch_add(1, Ordering::Relaxed); }. Never hold a \
         borrow (PyRefMut) across py.detach: another thread can call in meanwhile.",
    );
}
