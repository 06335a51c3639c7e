//! # Exercise 01 · Watching reference counts
//!
//! Every CPython object carries a count of the references to it; the object is freed the moment
//! the count reaches zero. Rust's `Rc` works the same way, so the two can be watched side by
//! side. Replay this Python script on a model object (`gil_core::object::PyObject`) and on an
//! `Rc`, taking and dropping a reference wherever the script does:
//!
//! ```python
//! a = []             # one reference: the name a (the harness has made it already)
//! b = a              # step 1
//! items = [a] * k    # step 2: a list holding k more references
//! del b              # step 3
//! items.pop()        # step 4: the popped reference is dropped at once
//! del items          # step 5: the list goes, and with it its references
//! ```
//!
//! After each step, note `a.getrefcount()` (like `sys.getrefcount(a)`) and `Rc::strong_count`.
//! Why does `getrefcount` always say one more?
//!
//! Run it:   `cargo run --release -p exercises --bin 01_refcounts`
//! Check it: `cargo xtask check 01_refcounts`

use std::rc::Rc;

use gil_core::object::PyObject;

// TODO: write `replay`. The model object has no handles: a reference is taken with `a.incref()`
// and dropped with `a.decref()`. On the Rust side, a reference is an `Rc` value: `Rc::clone(&rc)`
// takes one, dropping the value (`drop(b)`, a `Vec` of them going away…) drops it. After each of
// the five steps call `note()`: the harness writes down `a.getrefcount()` and
// `Rc::strong_count(&rc)` as they are at that moment, so keep the step's references alive until
// then.

/// Replay the script on `a` and on `rc`, with `k` references in the list, calling `note` after
/// each of the five steps.
#[allow(unused_variables)] // delete this line once you use the parameters
fn replay(a: &PyObject, rc: &Rc<Vec<u8>>, k: usize, note: &mut dyn FnMut()) {
    todo!("replay the five steps on a and rc, pushing both counts after each")
}

// ─────────────── You do not need to change anything below this line. ───────────────

use std::process::ExitCode;

use clap::Parser;
use gil_core::object::{Counting, Fate};
use gil_core::report::{heading, kv, note};

/// Exercise 01: reference counts of a model object and of an `Rc`, step by step.
#[derive(Parser)]
struct Args {
    /// How many references the list `items` holds
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    k: u64,
}

const STEPS: [&str; 5] = [
    "b = a",
    "items = [a] * k",
    "del b",
    "items.pop()",
    "del items",
];

fn real_main(args: Args) -> anyhow::Result<()> {
    let k = usize::try_from(args.k)?;
    // Traced: the object also tallies the references taken and dropped on it, so the grader can
    // tell counts that came from replaying the script from counts worked out on paper.
    let a = PyObject::traced("list", Counting::Plain);
    let rc = Rc::new(Vec::new());

    heading("Exercise 01 · watching reference counts");
    kv("k", k);
    kv("getrefcount at the start", a.getrefcount());
    kv("strong_count at the start", Rc::strong_count(&rc));
    // The counts are read here, at each `note()`, from the object and the `Rc` themselves: a
    // count worked out from the other one, with no `Rc` cloned, shows as what it is.
    let mut seen = Vec::new();
    replay(&a, &rc, k, &mut || {
        seen.push((a.getrefcount(), Rc::strong_count(&rc)));
    });
    anyhow::ensure!(
        seen.len() == STEPS.len(),
        "replay called note() {} times; once after each step means {}",
        seen.len(),
        STEPS.len()
    );
    for (step, (refcount, strong)) in STEPS.iter().zip(&seen) {
        heading(&format!("after {step}"));
        kv(&format!("getrefcount after {step}"), refcount);
        kv(&format!("strong_count after {step}"), strong);
    }

    heading("what the object saw");
    kv("increfs a received", a.increfs_received());
    kv("decrefs a received", a.decrefs_received());

    heading("del a");
    a.decref();
    drop(rc);
    let audit = a.audit();
    kv("freed after del a", yes_no(audit.fate() == Fate::Freed));
    kv("verdict", audit.fate());
    note(
        "sys.getrefcount(a) binds a to the function's parameter while it runs: one more \
         reference than you can see. Rc::strong_count borrows, so it adds none.",
    );
    Ok(())
}

fn yes_no(truth: bool) -> &'static str {
    if truth { "yes" } else { "no" }
}

fn main() -> ExitCode {
    gil_core::cli::run(|| real_main(Args::parse()))
}
