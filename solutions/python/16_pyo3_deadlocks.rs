//! # Exercise 16: two PyO3 deadlocks, in your own python3
//!
//! This file is a whole Python extension module, written in Rust with PyO3. The grader builds
//! it, imports it into the machine's `python3` as `pyo3_deadlocks`, and calls it from Python
//! threads (it needs `python3`, with the GIL; without one the exercise is skipped):
//!
//! ```text
//! cargo xtask check 16_pyo3_deadlocks
//! cargo xtask real-gil deadlocks --source exercises/python/16_pyo3_deadlocks.rs
//! ```
//!
//! As shipped, both functions hang, as lesson 7's parts 1 and 2 show on the model:
//!
//! * `lookup`: the first caller builds `TABLE` while holding its `Mutex`, and building it calls
//!   into Python (`time.sleep`), which lets go of the GIL. A second Python thread calls `lookup`
//!   meanwhile and waits for the `Mutex` still attached, holding the GIL; the first can never
//!   take the GIL back to finish.
//! * `square_many`: called from Python, so attached, it joins worker threads that each need to
//!   attach (`Python::attach`) to build their result, while it holds the GIL.
//!
//! The grader stops a run that hangs and says who holds what. `cargo xtask hint
//! 16_pyo3_deadlocks` if you are stuck.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::sync::MutexExt;

/// The table, built by the first call to `lookup`.
static TABLE: Mutex<Option<Vec<u64>>> = Mutex::new(None);

/// `pyo3_deadlocks.lookup(key, entries, delay_ms)`: the table's value for `key`.
#[pyfunction]
fn lookup(py: Python<'_>, key: u64, entries: u64, delay_ms: u64) -> PyResult<u64> {
    // Waits for the Mutex detached, so its holder can take the GIL back and finish.
    let mut table = TABLE.lock_py_attached(py).unwrap_or_else(|p| p.into_inner());
    if table.is_none() {
        *table = Some(build_table(py, entries, delay_ms)?);
    }
    Ok(value(table.as_deref(), key))
}

/// `pyo3_deadlocks.square_many(items)`: every item squared by a worker thread, in order.
#[pyfunction]
fn square_many(py: Python<'_>, items: Vec<u64>) -> Vec<u64> {
    // Spawn and join detached: the workers can attach while we wait for them.
    py.detach(|| {
        std::thread::scope(|s| {
            let handles: Vec<_> = items.iter().map(|&x| s.spawn(move || work(x))).collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        })
    })
}

// ─────────────── You do not need to change anything below this line. ───────────────

/// Times the table was built.
static BUILDS: AtomicU64 = AtomicU64::new(0);

/// Workers that attached to build their result.
static ATTACHED: AtomicU64 = AtomicU64::new(0);

/// Build the table. It calls into Python (`time.sleep`), which releases the GIL while it
/// sleeps and must take it back before it returns, as an import reading files does.
fn build_table(py: Python<'_>, entries: u64, delay_ms: u64) -> PyResult<Vec<u64>> {
    BUILDS.fetch_add(1, Ordering::SeqCst);
    eprintln!("progress: building the table (TABLE held), calling time.sleep");
    let seconds = delay_ms as f64 / 1000.0;
    py.import("time")?.call_method1("sleep", (seconds,))?;
    Ok((0..entries.max(1)).map(|i| (i * i + 7) % 1000).collect())
}

/// The value for `key` in `table` (0 without a table).
fn value(table: Option<&[u64]>, key: u64) -> u64 {
    table.map_or(0, |t| t[(key % t.len() as u64) as usize])
}

/// One worker: square `x` in plain Rust, then attach to build the Python int.
fn work(x: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(10));
    let square = x * x;
    eprintln!("progress: a worker attaches");
    Python::attach(|py| {
        ATTACHED.fetch_add(1, Ordering::SeqCst);
        let Ok(int) = square.into_pyobject(py);
        int.extract::<u64>().unwrap_or(0)
    })
}

/// `pyo3_deadlocks.builds()`: times the table was built.
#[pyfunction]
fn builds() -> u64 {
    BUILDS.load(Ordering::SeqCst)
}

/// `pyo3_deadlocks.attached()`: workers that attached.
#[pyfunction]
fn attached() -> u64 {
    ATTACHED.load(Ordering::SeqCst)
}

/// The Python module `pyo3_deadlocks` (keep this name: the grader imports it).
#[pymodule]
mod pyo3_deadlocks {
    #[pymodule_export]
    use super::{attached, builds, lookup, square_many};
}
