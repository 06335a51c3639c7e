//! Part 5 — why one lock was the right call in 1992, measured against the alternative.
//!
//! The alternative to one global lock is a lock per object (fine-grained locking). The part
//! times an incref+decref with a per-object mutex against the plain one, and counts how many
//! times the GIL itself changed hands while two threads did millions of plain updates.

use gil_core::measure::{fmt_count, fmt_ratio};
use gil_core::object::{Counting, PyObject};
use gil_core::report::{heading, kv, note};
use std::sync::Mutex;

use crate::part2_race::race;
use crate::setup::{Config, fmt_ns, pairs, per_pair, ratio};

/// What part 5 measured.
#[derive(Clone, Debug)]
pub struct Report {
    /// Plain incref+decref, one thread.
    pub plain: f64,
    /// The same with a mutex per object taken around each update (fine-grained locking).
    pub locked: f64,
    /// Reference-count updates done by two threads under the GIL.
    pub updates_under_gil: u64,
    /// Times the GIL changed hands meanwhile.
    pub gil_switches: u64,
}

/// `n` incref+decref pairs, each update inside the object's own lock.
fn locked_pairs(obj: &Mutex<PyObject>, n: u64) {
    let mut n = n;
    while n > 0 {
        n = std::hint::black_box(n) - 1;
        obj.lock().unwrap_or_else(|p| p.into_inner()).incref();
        obj.lock().unwrap_or_else(|p| p.into_inner()).decref();
    }
}

/// Run part 5: per-object locks against one lock, then the history.
pub fn run(cfg: &Config) -> anyhow::Result<Report> {
    heading("Part 5 — historical simplicity: one lock, taken rarely");
    let plain = PyObject::new("list", Counting::Plain);
    let locked = Mutex::new(PyObject::new("list", Counting::Plain));
    let shared = PyObject::with_refs("list", Counting::Plain, (cfg.refs + 1) as isize);
    let gil = cfg.gil()?;
    let report = Report {
        plain: per_pair(cfg.repeats, cfg.pairs, |n| pairs(&plain, n)),
        locked: per_pair(cfg.repeats, cfg.pairs, |n| locked_pairs(&locked, n)),
        updates_under_gil: 2 * cfg.refs,
        gil_switches: race(&shared, &gil, cfg.refs),
    };
    kv("plain incref+decref", fmt_ns(report.plain));
    kv(
        "with a lock per object",
        format!(
            "{} ({} plain)",
            fmt_ns(report.locked),
            fmt_ratio(ratio(report.locked, report.plain))
        ),
    );
    kv(
        "refcount updates under the GIL",
        fmt_count(report.updates_under_gil),
    );
    kv("GIL hand-offs meanwhile", fmt_count(report.gil_switches));
    note(
        "Threads, and the GIL with them, arrived in Python in 1992. Machines then had one\n\
         CPU, so threads never ran Python in parallel anyway; what mattered was that a\n\
         thread blocked on I/O let the others run, and that single-threaded code stayed\n\
         fast. One lock around the whole interpreter gave both: it changes hands once per\n\
         thread switch, not once per update (compare the two counts above), and inside it\n\
         every reference count, dict and list can use plain, lock-free code. A lock per\n\
         object costs several times the plain update on every single incref, even with\n\
         one thread, as measured above. The Python FAQ records that Greg Stein's \"free\n\
         threading\" patches for Python 1.5, which replaced the GIL with fine-grained\n\
         locks, ran ordinary code about twice as slowly.\n\
         \n\
         It also made C extensions easy to write, and that is how Python won its libraries:\n\
         an extension runs with the GIL held, so it may call Py_INCREF, touch any object and\n\
         wrap a C library that is not thread-safe, all without locks of its own. It lets go\n\
         only where it chooses, around long computations or blocking calls\n\
         (Py_BEGIN_ALLOW_THREADS). Thirty years of extensions assume that, which is why\n\
         removing the GIL took PEP 703's new counting schemes, and why the free-threaded\n\
         build re-enables the GIL when it imports an extension that does not declare it can\n\
         run without one (Py_mod_gil).",
    );
    Ok(report)
}
