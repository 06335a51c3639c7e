//! The OS scheduler and the clock: when each thread needs attention next, moving virtual time
//! forward, cores, time slices, wake-ups and preemption.

use super::engine::{Act, Kind, Sim, State};
use super::program::Nanos;
use crate::gil::Mode;

impl Sim {
    /// When thread `i` next needs attention, if it does on its own.
    pub(super) fn event_time(&self, i: usize) -> Option<Nanos> {
        let t = &self.threads[i];
        match t.state {
            State::Waking { at, .. } => Some(at),
            State::WaitGil {
                deadline: Some(deadline),
            } => Some(deadline.saturating_add(self.timer_slack)),
            State::Computing(_) if t.on_core && t.release_due && t.debt == 0 => Some(self.now),
            State::Computing(kind) if t.on_core => {
                let done = self
                    .now
                    .saturating_add(t.debt)
                    .saturating_add(self.compute_target(i, kind) - t.progress);
                let slice_over = if self.ready.is_empty() {
                    Nanos::MAX
                } else {
                    t.slice_end.max(self.now)
                };
                Some(done.min(slice_over))
            }
            _ => None,
        }
    }

    /// How far thread `i` may compute before something must happen.
    pub(super) fn compute_target(&self, i: usize, kind: Kind) -> Nanos {
        let t = &self.threads[i];
        if kind != Kind::Bytecode || !t.gil.is_holding() {
            return t.len;
        }
        let g = &self.gils[t.interp].lock;
        let stop = match g.mode() {
            // The next check point; the one it stands on counts unless it just acted there.
            Mode::Gil if g.drop_request() => {
                if t.progress % self.bytecode == 0 && t.progress > t.resumed_at {
                    t.progress
                } else {
                    (t.progress / self.bytecode + 1).saturating_mul(self.bytecode)
                }
            }
            Mode::FreeThreaded if self.world_stopping(i) => {
                // Same rule as a drop request: stop at the next check point.
                if t.progress % self.bytecode == 0 && t.progress > t.resumed_at {
                    t.progress
                } else {
                    (t.progress / self.bytecode + 1).saturating_mul(self.bytecode)
                }
            }
            Mode::OldGil { .. } if g.waiters() > 0 => {
                (t.checkpoints + t.gil.ticks_left()).saturating_mul(self.bytecode)
            }
            _ => return t.len,
        };
        stop.min(t.len)
    }

    /// Move virtual time to `at`: computing threads on cores pay their debts and progress.
    pub(super) fn advance_to(&mut self, at: Nanos) {
        let elapsed = at - self.now;
        self.now = at;
        for slot in 0..self.running.len() {
            let i = self.running[slot];
            let t = &mut self.threads[i];
            if let State::Computing(kind) = t.state {
                let paid = elapsed.min(t.debt);
                t.debt -= paid;
                t.progress += elapsed - paid;
                if kind == Kind::Bytecode {
                    self.count_check_points(i);
                }
            }
        }
    }

    /// Count the check points thread `i` has passed into its protocol state; under the old GIL
    /// a release with someone waiting becomes an event.
    pub(super) fn count_check_points(&mut self, i: usize) {
        let bytecode = self.bytecode;
        let t = &mut self.threads[i];
        let passed = if t.progress >= t.len {
            t.len.div_ceil(bytecode)
        } else {
            t.progress / bytecode
        };
        let new = passed - t.checkpoints;
        t.checkpoints = passed;
        if new == 0 || !t.gil.is_holding() {
            return;
        }
        let anyone_waiting = self.gils[t.interp].lock.waiters() > 0;
        if t.gil.pass_check_points(new, anyone_waiting) {
            t.release_due = true;
        }
    }

    /// Thread `i`'s event time has come.
    pub(super) fn handle(&mut self, i: usize) {
        let now = self.now;
        match self.threads[i].state {
            State::Waking { at, act } if at <= now => self.wake(i, act),
            State::WaitGil {
                deadline: Some(deadline),
            } if deadline.saturating_add(self.timer_slack) <= now => {
                // Only a timed GIL wait keeps a deadlocked simulation ticking: stop it here.
                if self.all_blocked() {
                    self.deadlocked = true;
                    return;
                }
                let interp = self.threads[i].interp;
                self.gils[interp].queue.retain(|&j| j != i);
                self.threads[i].state = State::Waking {
                    at: self.woken_at(),
                    act: Act::RetryTake { timed_out: true },
                };
            }
            State::Computing(kind) if self.threads[i].on_core => {
                let t = &self.threads[i];
                if t.debt == 0 && (t.release_due || t.progress == self.compute_target(i, kind)) {
                    self.compute_point(i, kind);
                } else if !self.ready.is_empty() && t.slice_end <= now {
                    self.preempt(i);
                }
            }
            _ => {}
        }
        self.settle(i);
    }

    /// A woken thread runs: on a free core, or on one it takes from a computing thread.
    pub(super) fn wake(&mut self, i: usize, act: Act) {
        if self.running.len() >= self.cores {
            let victim = self
                .running
                .iter()
                .copied()
                .min_by_key(|&j| (self.threads[j].run_start, j));
            if let Some(victim) = victim {
                self.running.retain(|&j| j != victim);
                let v = &mut self.threads[victim];
                v.on_core = false;
                v.preempted = true;
                self.ready.push_front(victim);
            }
        }
        self.place(i);
        self.exec(i, act);
    }

    /// Thread `i`'s slice is over and another thread wants its core.
    pub(super) fn preempt(&mut self, i: usize) {
        self.running.retain(|&j| j != i);
        let t = &mut self.threads[i];
        t.on_core = false;
        t.preempted = true;
        self.ready.push_back(i);
        self.dispatch();
    }

    pub(super) fn place(&mut self, i: usize) {
        self.running.push(i);
        let t = &mut self.threads[i];
        t.on_core = true;
        t.run_start = self.now;
        t.slice_end = self.now.saturating_add(self.time_slice);
        if t.preempted {
            t.preempted = false;
            t.debt = t.debt.saturating_add(self.switch_cost);
        }
    }

    /// Give free cores to ready threads.
    pub(super) fn dispatch(&mut self) {
        while self.running.len() < self.cores {
            let Some(i) = self.ready.pop_front() else {
                return;
            };
            self.place(i);
            if let State::Ready(act) = self.threads[i].state {
                self.exec(i, act);
                self.settle(i);
            }
        }
    }

    /// A thread on a core that stopped computing gives the core up.
    pub(super) fn settle(&mut self, i: usize) {
        let t = &mut self.threads[i];
        if t.on_core && !matches!(t.state, State::Computing(_)) {
            t.on_core = false;
            self.running.retain(|&j| j != i);
            self.dispatch();
        }
    }
}
