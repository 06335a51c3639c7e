//! # Exercise 02 · Racing reference counts
//!
//! CPython's default build updates reference counts with a plain `ob_refcnt++`: a read, then a
//! write. Two threads doing it at once lose updates, and a count that is too low frees an object
//! that is still in use; one that is too high leaks it. That is the problem the GIL was invented
//! to solve. The model's plain counting (`Counting::Plain`) races the same way, without undefined
//! behaviour, and keeps score.
//!
//! The harness shows the race first: plain OS threads taking and dropping references to one
//! object with no GIL. Then make it correct two ways:
//!
//! 1. **With the GIL** — the same work, but each thread is a model Python thread holding the GIL.
//! 2. **With atomics** — no GIL at all; choose a way of counting that stays correct when threads
//!    update the count at the same time (what every incref would cost if CPython did this; the
//!    free-threaded build uses a cleverer scheme, PEP 703's biased counting).
//!
//! Run it:   `cargo run --release -p exercises --bin 02_refcount_race`
//! Check it: `cargo xtask check 02_refcount_race`

use gil_core::Gil;
use gil_core::object::{Counting, PyObject};

// TODO 1: write `with_gil`: start `threads` model Python threads on `gil` (`gil.run_threads`);
// each applies `op` to `obj` `refs` times (`op` is `PyObject::incref` or `PyObject::decref`),
// reaching a check point (`py.check_point()`) after each one, as the eval loop would.

/// `threads` model Python threads, each applying `op` to `obj` `refs` times while holding the GIL.
#[allow(unused_variables)] // delete this line once you use the parameters
fn with_gil(gil: &Gil, obj: &PyObject, threads: usize, refs: u64, op: fn(&PyObject)) {
    todo!("threads model Python threads, each applying op to obj refs times")
}

// TODO 2: write `counting_without_gil`: which `Counting` keeps the count right when `without_gil`
// (below) updates it from several threads with no lock at all?

/// The kind of reference counting that is correct with no GIL.
fn counting_without_gil() -> Counting {
    todo!("which Counting stays correct with no GIL?")
}

// ─────────────── You do not need to change anything below this line. ───────────────

use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};

use clap::Parser;
use gil_core::measure::{fmt_count, fmt_duration, time};
use gil_core::object::Fate;
use gil_core::report::{heading, kv, note};

/// Exercise 02: taking and dropping references from many threads.
#[derive(Parser)]
struct Args {
    /// Threads taking references
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=64))]
    threads: u64,
    /// References each thread takes, then drops
    #[arg(long, default_value_t = 1_000_000)]
    refs: u64,
}

/// Plain OS threads, no GIL: each applies `op` to `obj` `refs` times, all starting together.
fn without_gil(obj: &PyObject, threads: usize, refs: u64, op: fn(&PyObject)) {
    // A spinning start line: a sleeping barrier wakes threads tens of microseconds apart,
    // long enough for a short run to finish before the next thread starts.
    let waiting = AtomicUsize::new(threads);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                waiting.fetch_sub(1, Ordering::SeqCst);
                while waiting.load(Ordering::SeqCst) > 0 {
                    std::thread::yield_now();
                }
                for _ in 0..refs {
                    op(obj);
                }
            });
        }
    });
}

type Runner<'a> = &'a dyn Fn(&PyObject, fn(&PyObject));

/// Take `threads × refs` references to a new object, then drop them, then drop the creator's
/// own reference (`del a`), and print what the counts and the audit say.
fn trial(name: &str, counting: Counting, run: Runner<'_>) {
    let obj = PyObject::new("list", counting);
    let ((), took) = time(|| {
        run(&obj, PyObject::incref);
    });
    let after_increfs = obj.refcnt();
    run(&obj, PyObject::decref);
    let after_decrefs = obj.refcnt();
    obj.decref();
    let verdict = obj.audit().fate();
    heading(name);
    kv(&format!("counting ({name})"), counting);
    kv(
        &format!("count after increfs ({name})"),
        fmt_count(after_increfs.max(0) as u64),
    );
    kv(&format!("count after decrefs ({name})"), after_decrefs);
    kv(
        &format!("freed once at del ({name})"),
        if verdict == Fate::Freed { "yes" } else { "no" },
    );
    kv(&format!("verdict ({name})"), verdict);
    kv(&format!("increfs took ({name})"), fmt_duration(took));
}

fn real_main(args: Args) -> anyhow::Result<()> {
    let threads = usize::try_from(args.threads)?;
    heading("Exercise 02 · racing reference counts");
    kv("references taken", fmt_count(args.threads * args.refs));
    kv(
        "count expected after increfs",
        fmt_count(1 + args.threads * args.refs),
    );

    trial("plain, no GIL", Counting::Plain, &|obj, op| {
        without_gil(obj, threads, args.refs, op);
    });

    let gil = Gil::new();
    trial("plain, GIL", Counting::Plain, &|obj, op| {
        with_gil(&gil, obj, threads, args.refs, op);
    });
    let stats = gil.stats();
    kv(
        "attached threads, both phases (plain, GIL)",
        stats.threads.len(),
    );
    // Each incref or decref is one bytecode: the eval loop reaches a check point after each.
    kv(
        "check points, both phases (plain, GIL)",
        fmt_count(stats.threads.iter().map(|t| t.check_points).sum()),
    );

    trial("yours, no GIL", counting_without_gil(), &|obj, op| {
        without_gil(obj, threads, args.refs, op);
    });
    note(
        "Without the GIL, plain counts lose updates: the object is freed too early (a use after \
         free the model caught) or never (a leak). Holding the GIL makes each read-then-write \
         one step; atomic read-modify-writes make it one step in hardware, at a price per op.",
    );
    Ok(())
}

fn main() -> ExitCode {
    gil_core::cli::run(|| real_main(Args::parse()))
}
