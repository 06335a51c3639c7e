//! # Exercise 15 · A `#[pyclass]` counter without a GIL
//!
//! On a free-threaded CPython, several threads call `counter.increment()` on one object at
//! the same moment. PyO3 borrow-checks a `#[pyclass]`'s data at run time: a `&mut self`
//! method borrows it exclusively, and a call that meets another thread's borrow raises
//! `RuntimeError: Already borrowed` instead of waiting. As shipped:
//!
//! ```text
//! struct Counter { count: u64 }
//! fn increment(counter: &PyClassCell<Counter>) -> Result<(), AlreadyBorrowed> {
//!     counter.borrow_mut()?.count += 1;   // fn increment(&mut self)
//!     Ok(())
//! }
//! ```
//!
//! Run it:   `cargo run --release -p exercises --bin 15_shared_counter`
//! Check it: `cargo xtask check 15_shared_counter`

use gil_core::sync::{AlreadyBorrowed, PyClassCell};

// TODO: make the class frozen: `increment` and `value` take only a shared borrow
// (`counter.borrow()`, PyO3's `&self`), which never conflicts, and the count lives in something
// that can be changed through `&self` by many threads at once without losing updates (an
// `AtomicU64` with `fetch_add`, or a `Mutex<u64>`). Change `Counter`'s field to match.

/// The `#[pyclass]`'s Rust data.
#[allow(dead_code)] // increment and value use it once you write them
#[derive(Default)]
struct Counter {
    count: u64,
}

/// `counter.increment()`, as PyO3 calls it for Python.
#[allow(unused_variables)] // delete this line once you use the parameters
fn increment(counter: &PyClassCell<Counter>) -> Result<(), AlreadyBorrowed> {
    todo!("add one without a mutable borrow")
}

/// `counter.value()`.
#[allow(unused_variables)] // delete this line once you use the parameters
fn value(counter: &PyClassCell<Counter>) -> Result<u64, AlreadyBorrowed> {
    todo!("read the count without a mutable borrow")
}

// ─────────────── You do not need to change anything below this line. ───────────────

use std::process::ExitCode;
use std::sync::Barrier;

use clap::Parser;
use gil_core::Gil;
use gil_core::report::{heading, kv, note};

/// Exercise 15: one counter object, many threads, no GIL.
#[derive(Parser)]
struct Args {
    /// Threads calling increment
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=16))]
    threads: u64,
    /// Calls per thread
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    calls: u64,
}

fn real_main(args: Args) -> anyhow::Result<()> {
    let n = usize::try_from(args.threads).unwrap_or(1);
    let gil = Gil::free_threaded();
    let counter = PyClassCell::new(Counter::default());
    let start = Barrier::new(n);
    heading("Exercise 15 · a #[pyclass] counter without a GIL");
    kv("calls in all", args.threads * args.calls);
    let per_thread = gil.run_threads(n, |_, py| {
        start.wait();
        let (mut raised, mut read_raised) = (0u64, 0u64);
        for i in 0..args.calls {
            if increment(&counter).is_err() {
                raised += 1;
            }
            if i % 64 == 0 && value(&counter).is_err() {
                read_raised += 1;
            }
            py.check_point();
        }
        (raised, read_raised)
    });
    let raised: u64 = per_thread.iter().map(|p| p.0).sum();
    let read_raised: u64 = per_thread.iter().map(|p| p.1).sum();
    let final_count = value(&counter).unwrap_or(0);
    kv("calls that raised Already borrowed", raised + read_raised);
    kv("final count", final_count);
    kv(
        "updates lost silently",
        (args.threads * args.calls)
            .saturating_sub(raised)
            .saturating_sub(final_count),
    );
    // Whether the class is frozen: a shared borrow held elsewhere must not stop increment.
    let held = counter.borrow().map_err(|e| anyhow::anyhow!("{e}"))?;
    let frozen = increment(&counter).is_ok();
    drop(held);
    kv("increment works beside a shared borrow", u8::from(frozen));
    note(
        "A frozen class never hands out &mut: no call can meet another's borrow, and the \
         atomic (or the lock) makes each update whole.",
    );
    Ok(())
}

fn main() -> ExitCode {
    gil_core::cli::run(|| real_main(Args::parse()))
}
