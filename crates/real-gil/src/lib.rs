//! # real-gil: a Rust extension that meets CPython's real GIL
//!
//! Every other lesson runs the model in `gil-core`. This crate is the check against reality: a
//! Python extension module, written with [PyO3](https://pyo3.rs), that CPython imports like any
//! C extension. It holds the same CPU-bound kernel twice, so the only difference between the two
//! functions is what they do with the GIL:
//!
//! * [`squares_holding`] keeps the GIL for the whole call. CPython's eval loop is not running
//!   while native code runs, so there is no check point: another Python thread that wants the
//!   GIL sets a drop request after 5 ms and then waits until the call returns.
//! * [`squares_released`] wraps the loop in `py.detach(..)` (PyO3's name for C's
//!   `Py_BEGIN_ALLOW_THREADS` … `Py_END_ALLOW_THREADS`; older PyO3 called it `allow_threads`).
//!   While it runs, other Python threads run bytecode, or run this kernel on another core.
//! * [`buffer_squares`] is the "NumPy releases the GIL" claim done with our own native code:
//!   a reduction over a buffer the caller passes, computed with the GIL released.
//!
//! `cargo xtask real-gil` builds this crate, puts the module where `python3` can import it, runs
//! `driver.py` (calls from 1, 2 and 4 Python threads) and prints the model's prediction beside
//! the measured figures.
//!
//! ## What `detach` asks of you
//!
//! Without the GIL, the closure must not touch Python objects: PyO3 enforces that by requiring
//! the closure to be `Send` (its `Ungil` bound), and a `Python<'py>` token, `Bound<'py, T>` or
//! `&Bound` is not. Copy what you need into plain Rust values before you detach, or borrow data
//! that cannot change: [`buffer_squares`] borrows the bytes of a `bytes` object, which is
//! immutable and kept alive by the caller's reference for the whole call.

use std::hint::black_box;

use pyo3::prelude::*;

/// The kernel: `sum(i * i for i in range(n))`, wrapping at 2⁶⁴.
///
/// `black_box(i)` hides the loop variable from the optimiser, so LLVM cannot replace the loop
/// by the closed form `(n - 1) n (2n - 1) / 6`: the call really does `n` iterations of work.
pub fn squares(n: u64) -> u64 {
    let mut total = 0u64;
    for i in 0..n {
        total = total.wrapping_add(black_box(i).wrapping_mul(i));
    }
    total
}

/// The sum of the squares of the bytes in `data` (each byte an integer 0–255).
pub fn byte_squares(data: &[u8]) -> u64 {
    data.iter()
        .map(|&b| u64::from(black_box(b)))
        .fold(0u64, |total, b| total.wrapping_add(b * b))
}

/// `squares(n)` with the GIL held from start to finish.
///
/// No `Python` token is even needed: PyO3 calls a `#[pyfunction]` with the GIL held, and this
/// one never gives it back until it returns.
#[pyfunction]
pub fn squares_holding(n: u64) -> u64 {
    squares(n)
}

/// `squares(n)` with the GIL released while the loop runs.
///
/// `n` is a plain `u64`, already converted from the Python `int` while the GIL was held, so
/// the closure needs nothing from the interpreter.
#[pyfunction]
pub fn squares_released(py: Python<'_>, n: u64) -> u64 {
    py.detach(|| squares(n))
}

/// The sum of the squares of the bytes of a `bytes` object, computed with the GIL released.
///
/// Only `bytes` is accepted: it is immutable, so no Python thread can change it while we read
/// it without the GIL. A mutable buffer (`bytearray`, a NumPy array) could be written by another
/// thread meanwhile — NumPy accepts that race; in Rust, holding a `&[u8]` to memory that someone
/// else writes is undefined behaviour, so such a buffer would have to be copied first.
#[pyfunction]
pub fn buffer_squares(py: Python<'_>, data: &[u8]) -> u64 {
    py.detach(|| byte_squares(data))
}

/// The Python module `real_gil`.
///
/// `gil_used` is the module's `Py_mod_gil` slot: whether a free-threaded CPython (3.13t) must
/// switch the GIL back on when it imports the module. Its default depends on the PyO3 version:
///
/// * PyO3 0.23 to 0.27: `gil_used = true` unless the module says `#[pymodule(gil_used =
///   false)]`. Importing such a module on 3.13t re-enables the GIL for the whole process and
///   prints a `RuntimeWarning` naming the module.
/// * PyO3 0.28 and later (this crate uses 0.30): `gil_used = false`; a module that is not yet
///   safe without the GIL opts out with `#[pymodule(gil_used = true)]`.
///
/// So here importing does not switch the GIL on, and [`squares_holding`] runs in parallel too,
/// because there is no GIL to hold. A wheel built with `abi3` does not cover free-threaded
/// builds: the limited API has no free-threaded form yet, PyO3 ignores `abi3` when it builds for
/// 3.13t, and each free-threaded version needs a wheel of its own.
#[pymodule]
mod real_gil {
    #[pymodule_export]
    use super::{buffer_squares, squares_holding, squares_released};
}
