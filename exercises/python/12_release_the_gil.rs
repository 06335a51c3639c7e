//! # Exercise: release the GIL in a Rust extension function
//!
//! This file is a whole Python extension module, written in Rust with PyO3. The grader builds
//! it, imports it into the machine's `python3` as `release_the_gil`, and calls `crunch(n)` from
//! several Python threads at once (it needs `python3`; without one the exercise is skipped):
//!
//! ```text
//! cargo xtask check 12_release_the_gil
//! cargo xtask real-gil exercise --source exercises/python/12_release_the_gil.rs --threads 2
//! ```
//!
//! The first command grades; the second only runs and prints what it measured.
//!
//! Right now `crunch` keeps the GIL for its whole run. Native code has no eval-breaker check
//! points, so the other threads' drop requests go unanswered until it returns: N threads take as
//! long as N calls one after another, and no other Python code runs meanwhile.
//!
//! Goal: let go of the GIL while the loop runs, so Python threads calling `crunch` run on
//! several cores, and other Python threads keep running during a call. The result must not
//! change. `cargo xtask hint 12_release_the_gil` if you are stuck.

use std::hint::black_box;

use pyo3::prelude::*;

/// The work: `sum(i * i for i in range(n))`, wrapping at 2⁶⁴. Pure Rust, no Python objects.
/// Do not change it.
fn squares(n: u64) -> u64 {
    let mut total = 0u64;
    for i in 0..n {
        total = total.wrapping_add(black_box(i).wrapping_mul(i));
    }
    total
}

/// Called from Python as `release_the_gil.crunch(n)`.
#[pyfunction]
fn crunch(n: u64) -> u64 {
    // TODO: this runs the whole loop while holding the GIL. Release it around the loop.
    // PyO3 (0.26 and later) calls that `py.detach(|| …)`; the course's model and older PyO3
    // called it `allow_threads`, which a PyO3 `Python` no longer has.
    squares(n)
}

/// The Python module `release_the_gil` (keep this name: the grader imports it).
#[pymodule]
mod release_the_gil {
    #[pymodule_export]
    use super::crunch;
}
