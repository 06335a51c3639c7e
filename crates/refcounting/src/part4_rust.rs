//! Part 4 — Rust's answer: two reference-counted pointers, and a compiler that picks for you.
//!
//! `Rc<T>` counts with plain instructions, exactly like CPython's default build. It is
//! `!Send`: the compiler refuses to let one cross to another thread, so the race of part 2
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

use gil_core::measure::fmt_ratio;
use gil_core::report::{heading, kv, note};
use std::hint::black_box;
use std::rc::Rc;
use std::sync::Arc;

use crate::setup::{Config, fmt_ns, per_pair, per_pair_two_threads, ratio};

/// What part 4 measured: time per clone+drop pair.
#[derive(Clone, Debug)]
pub struct Report {
    /// `Rc::clone` + drop on one thread.
    pub rc: f64,
    /// `Arc::clone` + drop on one thread.
    pub arc: f64,
    /// `Arc::clone` + drop, two threads on one `Arc` at once (per thread).
    pub arc_contended: f64,
}

/// `n` clone+drop pairs of `p` with `clone`: Rust's incref+decref.
fn clone_drop<P>(p: &P, n: u64, clone: impl Fn(&P) -> P) {
    let mut n = n;
    while n > 0 {
        n = black_box(n) - 1;
        drop(black_box(clone(p)));
    }
}

/// Run part 4: time `Rc` and `Arc` clones and explain `Send`.
pub fn run(cfg: &Config) -> anyhow::Result<Report> {
    heading("Part 4 — Rust's answer: Rc is not Send, Arc is atomic");
    let rc = Rc::new(vec![0u8; 16]);
    let arc = Arc::new(vec![0u8; 16]);
    let report = Report {
        rc: per_pair(cfg.repeats, cfg.pairs, |n| clone_drop(&rc, n, Rc::clone)),
        arc: per_pair(cfg.repeats, cfg.pairs, |n| clone_drop(&arc, n, Arc::clone)),
        arc_contended: {
            let work = |n| clone_drop(&arc, n, Arc::clone);
            per_pair_two_threads(cfg.repeats, cfg.contended_pairs(), work, work)
        },
    };
    kv("Rc clone+drop", fmt_ns(report.rc));
    kv("Arc clone+drop", fmt_ns(report.arc));
    kv("Arc clone+drop, two threads", fmt_ns(report.arc_contended));
    kv("Arc over Rc", fmt_ratio(ratio(report.arc, report.rc)));
    note(
        "Rust has both of CPython's options and lets each value choose. Rc counts with\n\
         plain instructions, like Py_INCREF under the GIL; Arc counts atomically, like the\n\
         free-threaded build's shared count, and costs about what part 3's atomic row did.\n\
         The compiler keeps them apart: Rc is not Send, so moving one into another thread\n\
         is a compile error (\"`Rc<Vec<i32>>` cannot be sent between threads safely\"); this\n\
         crate's documentation has a compile_fail test that proves it on every build.\n\
         \n\
         That check is why Rust needs no GIL. C has no such check: CPython could not tell a\n\
         C extension's object that stays on one thread from one that is shared, so it had to\n\
         make every update safe for the worst case. One global lock did that for all of them\n\
         at once.",
    );
    Ok(report)
}
