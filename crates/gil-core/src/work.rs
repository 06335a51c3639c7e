//! Model "Python code": workloads that run bytecode-style, calling the eval breaker as they go.

use std::hint::black_box;

use crate::GilGuard;

/// `while n > 0: n -= 1` — one "bytecode" per iteration, a check point after each.
///
/// `black_box` wraps the loop variable itself, not just the input: otherwise LLVM computes the
/// result without looping and there is nothing to time.
pub fn countdown(py: &mut GilGuard<'_>, n: u64) {
    let mut n = n;
    while n > 0 {
        n = black_box(n) - 1;
        py.check_point();
    }
}

/// A countdown of `ticks` check points where each tick does `work_per_tick` loop steps first.
///
/// Lets a lesson state how much work one "bytecode" does, which decides how costly the old
/// GIL's release-every-N-ticks is.
pub fn countdown_heavy(py: &mut GilGuard<'_>, ticks: u64, work_per_tick: u32) {
    for _ in 0..ticks {
        let mut k = work_per_tick;
        while k > 0 {
            k = black_box(k) - 1;
        }
        py.check_point();
    }
}

/// `sum(i * i for i in range(n))`, a check point per item (wrapping, like Python's big ints
/// never would — the sum is only there so the work is not optimised away).
pub fn sum_of_squares(py: &mut GilGuard<'_>, n: u64) -> u64 {
    let mut total = 0u64;
    for i in 0..n {
        total = total.wrapping_add(black_box(i).wrapping_mul(i));
        py.check_point();
    }
    total
}
