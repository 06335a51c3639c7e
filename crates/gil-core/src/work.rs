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

/// Countdown steps [`countdown_step_picos`] times (a few milliseconds on a current core).
pub const CALIBRATION_STEPS: u64 = 4_000_000;

/// What one [`countdown`] step costs on this machine, in picoseconds (a step is well under a
/// nanosecond, finer than `Duration` counts): the best of three lone-thread countdowns of
/// [`CALIBRATION_STEPS`] on a fresh GIL, divided by the steps; at least 1.
///
/// Lessons size their CPU work by time with it ("count for 20 ms"), not by a fixed step count
/// that lasts twice as long on a machine half as fast.
pub fn countdown_step_picos() -> u64 {
    let gil = crate::Gil::new();
    let best = (0..3)
        .map(|_| {
            let start = std::time::Instant::now();
            gil.attach("calibration", |py| countdown(py, CALIBRATION_STEPS));
            start.elapsed()
        })
        .min()
        .unwrap_or_default();
    let picos = best.as_nanos() * 1000 / u128::from(CALIBRATION_STEPS);
    u64::try_from(picos).unwrap_or(u64::MAX).max(1)
}
