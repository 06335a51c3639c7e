//! The simulator's driver of the GIL protocol ([`crate::protocol`]), and the model locks.
//!
//! The protocol decides; this file does what it says in virtual time: a timed wait becomes a
//! deadline, a signal wakes the first sleeper one wake-up later, a broadcast wakes every
//! forced-out holder.

use super::LockHold;
use super::engine::{Act, Cont, LockState, Sim, State, dur};
use super::program::{Nanos, nanos};
use crate::gil::Mode;
use crate::protocol::{Event, Next, Outcome, Release};
use crate::timeline::{Span, StepWatch};

impl Sim {
    /// Deliver `event` of thread `i` to its GIL's protocol now, and do what it says. Returns
    /// what the thread does next.
    fn gil_step(&mut self, i: usize, event: Event) -> Next {
        let now = self.now;
        let woken_at = self.woken_at();
        let t = &mut self.threads[i];
        let g = &mut self.gils[t.interp];
        let watch = StepWatch::before(&t.gil);
        let Outcome {
            next,
            wake_waiter,
            wake_switch_waiters,
        } = g.lock.step(&mut t.gil, event, dur(now));
        watch.after(&t.gil, dur(now), &mut g.detached, &mut g.marks);
        if wake_waiter {
            t.debt = t.debt.saturating_add(self.signal_cost);
            if let Some(j) = g.queue.pop_front() {
                self.threads[j].state = State::Waking {
                    at: woken_at,
                    act: Act::RetryTake { timed_out: false },
                };
            }
        }
        if wake_switch_waiters {
            for j in std::mem::take(&mut g.switch_waiters) {
                self.threads[j].state = State::Waking {
                    at: woken_at,
                    act: Act::SwitchCheck,
                };
            }
        }
        let t = &mut self.threads[i];
        let g = &mut self.gils[t.interp];
        match next {
            Next::Wait(timeout) => {
                g.queue.push_back(i);
                t.state = State::WaitGil {
                    deadline: timeout.map(|wait| now.saturating_add(nanos(wait))),
                };
            }
            Next::WaitSwitch => {
                g.switch_waiters.push(i);
                t.state = State::WaitSwitch;
            }
            Next::Run | Next::Away => {}
        }
        next
    }

    /// `take_gil` from the top: take the GIL if it is free, else start waiting; `then` runs
    /// once thread `i` holds it.
    pub(super) fn begin_take(&mut self, i: usize, then: Cont) {
        if self.world_stopping(i) {
            // Attaching during a stop-the-world pause waits for the restart.
            self.threads[i].state = State::Parked(Act::Take(then));
            return;
        }
        self.threads[i].after = then;
        if self.gil_step(i, Event::Take) == Next::Run {
            self.proceed(i, then);
        }
    }

    /// Woken in `take_gil`'s loop: the protocol asks for the GIL if the wait timed out with no
    /// switch, then takes it if it is free or waits again.
    pub(super) fn retry_take(&mut self, i: usize, timed_out: bool) {
        match self.gil_step(i, Event::Retry { timed_out }) {
            Next::Run => {
                let then = self.threads[i].after;
                self.proceed(i, then);
            }
            _ if !timed_out => self.futile_wakeups += 1,
            _ => {}
        }
    }

    /// `drop_gil` for reason `why`: returns true if thread `i` now waits for the switch
    /// (forced switching).
    pub(super) fn release(&mut self, i: usize, why: Release) -> bool {
        let now = self.now;
        let t = &mut self.threads[i];
        if let Some(since) = t.gil.held_since() {
            let g = &mut self.gils[t.interp];
            record_span(&mut g.spans, t.gil.id(), nanos(since), now);
        }
        self.gil_step(i, Event::Drop(why)) == Next::WaitSwitch
    }

    /// Forced out and woken: go on once another thread holds the GIL, else sleep again.
    pub(super) fn switch_check(&mut self, i: usize) {
        if self.gil_step(i, Event::SwitchRetry) == Next::Away {
            let then = self.threads[i].after;
            self.proceed(i, then);
        }
    }

    /// Whether thread `i` holds a 3.2+ GIL that somebody asked for.
    pub(super) fn drop_requested(&self, i: usize) -> bool {
        let t = &self.threads[i];
        let g = &self.gils[t.interp].lock;
        t.gil.is_holding() && g.mode() == Mode::Gil && g.drop_request()
    }

    /// At a check point with a drop request: release, wait for the switch, take it back.
    pub(super) fn honour_drop_request(&mut self, i: usize) {
        if self.release(i, Release::DropRequest) {
            self.threads[i].after = Cont::Retake;
        } else {
            self.begin_take(i, Cont::Resume);
        }
    }

    pub(super) fn lock_is_free(&self, lock: usize) -> bool {
        self.locks.get(&lock).is_none_or(|l| l.owner.is_none())
    }

    pub(super) fn lock_take(&mut self, i: usize, lock: usize) {
        let l = self.locks.entry(lock).or_default();
        l.owner = Some(i);
        l.since = self.now;
    }

    /// `lock.release()`: free the lock and wake its first waiter.
    pub(super) fn unlock(&mut self, i: usize, lock: usize) {
        let Some(l) = self.locks.get_mut(&lock) else {
            return;
        };
        if l.owner != Some(i) {
            return;
        }
        l.owner = None;
        self.lock_holds.push(LockHold {
            lock,
            script: i,
            start: dur(l.since),
            end: dur(self.now),
        });
        if let Some(j) = l.queue.pop_front() {
            self.threads[i].debt = self.threads[i].debt.saturating_add(self.signal_cost);
            self.threads[j].state = State::Waking {
                at: self.woken_at(),
                act: Act::LockTry(lock),
            };
        }
    }

    /// Block on a taken lock (the GIL is already released).
    pub(super) fn lock_wait(&mut self, i: usize, lock: usize) {
        let l: &mut LockState = self.locks.entry(lock).or_default();
        l.queue.push_back(i);
        self.threads[i].state = State::WaitLock(lock);
    }

    /// Woken by a release: take the lock and then the GIL, or wait again at the front.
    pub(super) fn lock_try(&mut self, i: usize, lock: usize) {
        if self.lock_is_free(lock) {
            self.lock_take(i, lock);
            if self.threads[i].gil.is_holding() {
                // It waited for a Rust lock with the GIL held.
                self.proceed(i, Cont::Next);
            } else {
                self.begin_take(i, Cont::Next);
            }
        } else {
            self.locks.entry(lock).or_default().queue.push_front(i);
            self.threads[i].state = State::WaitLock(lock);
        }
    }
}

/// Add a hold to the timeline, joining it to the thread's previous hold if that ended just now
/// (the old GIL's release-and-retake).
pub(super) fn record_span(spans: &mut Vec<Span>, thread: u64, start: Nanos, end: Nanos) {
    let (start, end) = (dur(start), dur(end));
    if let Some(last) = spans.last_mut()
        && last.thread == thread
        && last.end == start
    {
        last.end = end;
        return;
    }
    spans.push(Span { thread, start, end });
}
