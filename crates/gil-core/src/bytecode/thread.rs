//! The thread driver: real OS threads on a [`Gil`], each running a [`Frame`] and calling the
//! eval breaker wherever the policy has a check point.

use super::frame::{Frame, Step};
use super::globals::Globals;
use super::instr::CheckPolicy;
use super::program::Program;
use crate::{Gil, GilGuard};

/// Outcome of [`run_counter`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CounterRun {
    /// `counter` at the end.
    pub total: u64,
    /// threads × iterations: what it would be if no update were lost.
    pub expected: u64,
}

impl CounterRun {
    /// Updates lost to the race (`expected - total`).
    pub fn lost(&self) -> u64 {
        self.expected.saturating_sub(self.total)
    }
}

/// Run `program` on `threads` real threads of `gil`, `iterations` loop iterations each, with
/// `counter` starting at 0, calling the eval breaker wherever `policy` has a check point.
///
/// A thread whose `BEFORE_WITH` finds the lock taken blocks with the GIL released, like
/// CPython's `lock.acquire()`. In free-threaded mode check points never wait and threads truly
/// run at once.
pub fn run_counter(
    gil: &Gil,
    program: &Program,
    policy: CheckPolicy,
    threads: usize,
    iterations: u64,
) -> CounterRun {
    let globals = Globals::new(0);
    gil.run_threads(threads, |_, py| {
        run_frame(py, &globals, program, policy, iterations)
    });
    CounterRun {
        total: globals.counter.load(),
        expected: threads as u64 * iterations,
    }
}

/// Run one frame of `program` to completion on the calling thread, which holds the GIL `py`.
///
/// The building block of [`run_counter`], for exercises that start their own threads.
pub fn run_frame(
    py: &mut GilGuard<'_>,
    globals: &Globals,
    program: &Program,
    policy: CheckPolicy,
    iterations: u64,
) {
    let mut frame = Frame::new(program, iterations);
    loop {
        match frame.step(globals) {
            Step::Ran { instr, .. } => {
                if policy.is_check_point(instr) {
                    py.check_point();
                }
            }
            Step::Blocked => {
                py.detach(|| globals.lock.acquire());
                frame.lock_granted();
            }
            Step::Finished => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_threads_with_a_lock_are_exact() {
        for gil in [Gil::new(), Gil::free_threaded()] {
            let run = run_counter(
                &gil,
                &Program::increment_locked(),
                CheckPolicy::EveryInstruction,
                4,
                5_000,
            );
            assert_eq!(run.total, 20_000);
        }
    }
}
