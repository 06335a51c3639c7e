//! Stop-the-world pauses of the free-threaded build: `stop_the_world` and
//! `park_detached_threads` in CPython's `Python/pystate.c`.
//!
//! The requester sets a stop request that attached threads see at their next check point
//! (the eval breaker's `_PY_EVAL_PLEASE_STOP_BIT`); a detached thread is parked where it is
//! and waits if it tries to attach. The pause's work starts once no other thread is attached,
//! so one long attached call without a check point delays it, and every thread that already
//! stopped waits with it.

use super::Pause;
use super::engine::{Act, Cont, Kind, Sim, State, dur};
use super::program::Nanos;
use crate::gil::Mode;
use crate::protocol::Release;

/// The stop-the-world pause in progress.
pub(super) struct Stop {
    requester: usize,
    interp: usize,
    len: Nanos,
    requested: Nanos,
    stopped: Option<Nanos>,
}

impl Sim {
    /// Thread `i` (attached) runs a [`super::Step::StopTheWorld`] of `len`.
    pub(super) fn stop_the_world(&mut self, i: usize, len: Nanos) {
        let interp = self.threads[i].interp;
        if self.gils[interp].lock.mode() != Mode::FreeThreaded {
            // Under a GIL the collector runs holding it: nobody else runs Python anyway.
            return self.compute(i, Kind::NativeHolding, len);
        }
        self.world = Some(Stop {
            requester: i,
            interp,
            len,
            requested: self.now,
            stopped: None,
        });
        self.threads[i].state = State::WaitWorld;
        self.start_when_stopped(i);
    }

    /// Whether a pause wants thread `i` (not its requester) to stop.
    pub(super) fn world_stopping(&self, i: usize) -> bool {
        self.world.as_ref().is_some_and(|w| {
            w.requester != i && w.interp == self.threads[i].interp && w.stopped.is_none()
        })
    }

    /// Whether thread `i` is attached and asked to stop at this check point.
    pub(super) fn stop_requested(&self, i: usize) -> bool {
        self.threads[i].gil.is_holding() && self.world_stopping(i)
    }

    /// Thread `i` stops at a check point: it detaches and waits for the restart.
    pub(super) fn park(&mut self, i: usize, then: Cont) {
        self.release(i, Release::Suspend);
        self.threads[i].state = State::Parked(Act::Take(then));
        self.start_when_stopped(i);
    }

    /// If no other thread of the interpreter is attached, the pause's work begins: at once
    /// if `by`, the thread that just acted, is the requester, else once it has woken.
    pub(super) fn start_when_stopped(&mut self, by: usize) {
        let Some(w) = &self.world else { return };
        let (requester, interp) = (w.requester, w.interp);
        let attached = self
            .threads
            .iter()
            .enumerate()
            .any(|(j, t)| j != requester && t.interp == interp && t.gil.is_holding());
        if attached {
            return;
        }
        if let Some(w) = &mut self.world {
            w.stopped = Some(self.now);
        }
        if by == requester {
            self.compute_collect(requester);
        } else {
            self.threads[requester].state = State::Waking {
                at: self.woken_at(),
                act: Act::Go(Cont::Collect),
            };
        }
    }

    /// The requester does the pause's work, alone.
    pub(super) fn compute_collect(&mut self, i: usize) {
        let len = self.world.as_ref().map_or(0, |w| w.len);
        self.compute(i, Kind::Collect, len);
    }

    /// The pause's work is done: restart every parked thread, then go on.
    pub(super) fn restart_world(&mut self, i: usize) {
        if let Some(w) = self.world.take() {
            self.pauses.push(Pause {
                script: w.requester,
                requested: dur(w.requested),
                stopped: dur(w.stopped.unwrap_or(w.requested)),
                restarted: dur(self.now),
            });
        }
        let woken_at = self.woken_at();
        for t in &mut self.threads {
            if let State::Parked(act) = t.state {
                t.state = State::Waking { at: woken_at, act };
            }
        }
        self.proceed(i, Cont::Next);
    }
}
