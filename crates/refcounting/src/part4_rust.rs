//! Part 4 — Rust's answer: two reference-counted pointers, and a compiler that picks for you.
//!
#![doc = include_str!("part4_rust.md")]
//!
//! `Rc<T>` counts with plain instructions, exactly like CPython's default build. It is
//! `!Send` (not `Send`: not allowed to move to another thread): the compiler refuses to let one cross to another thread, so the race of part 2
//! cannot be written. This does not compile:
//!
//! ```compile_fail,E0277
//! use std::rc::Rc;
//!
//! let shared = Rc::new(vec![1, 2, 3]);
//! let copy = Rc::clone(&shared);
//! // error[E0277]: `Rc<Vec<i32>>` cannot be sent between threads safely
//! std::thread::spawn(move || drop(copy));
//! ```
//!
//! `Arc<T>` counts atomically and is `Send`, so the same program compiles and is correct:
//!
//! ```
//! use std::sync::Arc;
//!
//! let shared = Arc::new(vec![1, 2, 3]);
//! let copy = Arc::clone(&shared);
//! std::thread::spawn(move || drop(copy)).join().unwrap();
//! assert_eq!(Arc::strong_count(&shared), 1);
//! ```

use gil_core::claim::{Claim, Unit};
use gil_core::context::Cx;
use gil_core::measure::fmt_ratio;
use gil_core::part::{Part, Run};
use gil_core::report::{Table, note};
use std::hint::black_box;
use std::rc::Rc;
use std::sync::Arc;

use crate::cost::Pair;
use crate::setup::{Config, fmt_ns, in_turns, per_pair, per_pair_two_threads, ratio};

/// The Python this part sets beside Rust: any object may reach another thread.
pub const PYTHON: &str = "\
data = [1, 2, 3]    # Python lets any object reach any thread:
threading.Thread(target=print, args=(data,)).start()";

/// What part 4 measured: time per clone+drop pair. With `--simulated`, the model's cost in
/// plain pairs, and NaN for the two-thread figure (the model has no caches).
#[derive(Clone, Debug)]
pub struct Report {
    /// `Rc::clone` + drop on one thread.
    pub rc: f64,
    /// `Arc::clone` + drop on one thread.
    pub arc: f64,
    /// `Arc::clone` + drop, two threads on one `Arc` at once (per thread).
    pub arc_contended: f64,
}

impl Report {
    /// How many times dearer an `Arc` clone+drop is than an `Rc` one.
    pub fn arc_over_rc(&self) -> f64 {
        ratio(self.arc, self.rc)
    }
}

/// `n` clone+drop pairs of `p` with `clone`: Rust's incref+decref.
fn clone_drop<P>(p: &P, n: u64, clone: impl Fn(&P) -> P) {
    let mut n = n;
    while n > 0 {
        n = black_box(n) - 1;
        drop(black_box(clone(p)));
    }
}

/// Time `Rc` and `Arc` clones in turns, then `Arc` with two threads.
pub fn measure(cfg: &Config) -> Report {
    let rc = Rc::new(vec![0u8; 16]);
    let arc = Arc::new(vec![0u8; 16]);
    let one_thread = in_turns(
        cfg.repeats,
        &[
            &|| per_pair(cfg.pairs, |n| clone_drop(&rc, n, Rc::clone)),
            &|| per_pair(cfg.pairs, |n| clone_drop(&arc, n, Arc::clone)),
        ],
    );
    let work = |n| clone_drop(&arc, n, Arc::clone);
    let arc_contended = in_turns(
        cfg.repeats,
        &[&|| per_pair_two_threads(cfg.contended_pairs(), work, work)],
    )[0];
    Report {
        rc: one_thread[0],
        arc: one_thread[1],
        arc_contended,
    }
}

/// The model's figures: each clone+drop's cost in plain pairs, and no two-thread figure (the
/// model has no caches).
pub fn simulate() -> Report {
    Report {
        rc: Pair::Plain.over_plain(),
        arc: Pair::Atomic.over_plain(),
        arc_contended: f64::NAN,
    }
}

/// Part 4 as the lesson runs it: `Rc` and `Arc` timed, or the model's costs.
pub struct RustAnswer;

impl Part<Config> for RustAnswer {
    type Figures = Report;

    fn title(&self) -> &'static str {
        "Rust's answer: Rc and Arc"
    }

    fn python(&self) -> &'static str {
        PYTHON
    }

    fn text(&self) -> &'static str {
        include_str!("part4_rust.md")
    }

    fn cores_needed(&self, _: &Config) -> usize {
        2
    }

    fn live(&self, _: &Cx, cfg: &Config) -> anyhow::Result<Report> {
        Ok(measure(cfg))
    }

    fn simulate(&self, _: &Cx, _: &Config) -> anyhow::Result<Report> {
        Ok(simulate())
    }

    fn show(&self, cx: &mut Cx, _: &Config, run: Run<'_, Report>) -> anyhow::Result<()> {
        let report = run.figures;
        if cx.showing_simulated() {
            // The model's costs are part 3's plain and atomic rows: refer back, not repeat.
            note(&format!(
                "Model cost of a clone+drop: Rc {}, Arc {} (part 3's plain and atomic \
                 pairs; a live run times them).",
                fmt_ratio(report.rc),
                fmt_ratio(report.arc)
            ));
        } else {
            Table::new(&["clone+drop", "time"])
                .row(["Rc, one thread", &fmt_ns(report.rc)])
                .row(["Arc, one thread", &fmt_ns(report.arc)])
                .row(["Arc, two threads at once", &fmt_ns(report.arc_contended)])
                .print();
            println!();
            cx.claim(Claim {
                figure: "Arc clone+drop / Rc clone+drop",
                unit: Unit::Ratio,
                measured: report.arc_over_rc(),
                expected: Pair::Atomic.over_plain(),
                low: 2.0,
                high: 200.0,
                text: "An Arc clone+drop costs at least twice an Rc one: the price of an \
                       atomic count, paid only by values that may be shared between threads.",
            });
        }
        Ok(())
    }
}
