//! The GIL's protocol and the model locks, step for step as `gil.rs` does them.

use super::LockHold;
use super::engine::{Act, Cont, LockState, Sim, State, dur};
use crate::gil::{self, Mode};
use crate::timeline::Span;

impl Sim {
    /// `take_gil` from the top: take the GIL if it is free, else start waiting; `then` runs
    /// once thread `i` holds it.
    pub(super) fn begin_take(&mut self, i: usize, then: Cont) {
        let now = self.now;
        let t = &mut self.threads[i];
        if let Some(since) = t.detached_since.take() {
            t.stats.detached += dur(now - since);
        }
        t.asked_at = now;
        t.after = then;
        let g = &mut self.gils[t.interp];
        if g.mode == Mode::FreeThreaded || !g.locked {
            self.finish_take(i);
        } else {
            g.waiters += 1;
            t.counted_as_waiter = true;
            self.wait_for_gil(i);
        }
    }

    /// Sleep on the "released" condition variable, for one switch interval under the 3.2+ GIL.
    fn wait_for_gil(&mut self, i: usize) {
        let t = &mut self.threads[i];
        let g = &mut self.gils[t.interp];
        t.switch_number_seen = g.switch_number;
        let deadline = match g.mode {
            Mode::Gil => Some(self.now.saturating_add(g.wait)),
            _ => None,
        };
        g.queue.push_back(i);
        t.state = State::WaitGil { deadline };
    }

    /// Woken in `take_gil`'s loop: ask for the GIL if the wait timed out with no switch, then
    /// take it if it is free or wait again.
    pub(super) fn retry_take(&mut self, i: usize, timed_out: bool) {
        let t = &mut self.threads[i];
        let g = &mut self.gils[t.interp];
        if g.mode == Mode::Gil
            && gil::should_request_drop(timed_out, g.locked, t.switch_number_seen, g.switch_number)
        {
            g.drop_request = true;
            g.drop_requests += 1;
            t.stats.drop_requests += 1;
        }
        if g.locked {
            if !timed_out {
                self.futile_wakeups += 1;
            }
            self.wait_for_gil(i);
        } else {
            g.waiters -= 1;
            t.counted_as_waiter = false;
            self.finish_take(i);
        }
    }

    /// The GIL is free: thread `i` takes it, wakes forced-out threads, and goes on.
    fn finish_take(&mut self, i: usize) {
        let now = self.now;
        let woken_at = self.woken_at();
        let t = &mut self.threads[i];
        let g = &mut self.gils[t.interp];
        if g.mode != Mode::FreeThreaded {
            g.locked = true;
            if g.last_holder != t.stats.id {
                g.last_holder = t.stats.id;
                g.switch_number += 1;
                g.switches += 1;
                t.stats.switches_in += 1;
            }
            for j in std::mem::take(&mut g.switch_waiters) {
                self.threads[j].state = State::Waking {
                    at: woken_at,
                    act: Act::SwitchCheck,
                };
            }
            // Whatever was asked has now been granted.
            g.drop_request = false;
        }
        let t = &mut self.threads[i];
        t.stats.waited += dur(now - t.asked_at);
        t.stats.acquisitions += 1;
        t.held_since = now;
        t.holding = true;
        let then = t.after;
        self.proceed(i, then);
    }

    /// `drop_gil`: let go and signal a waiter. With `forced_switching` and a drop request
    /// pending, thread `i` then waits for the switch; returns true if it does.
    pub(super) fn release(&mut self, i: usize, forced_switching: bool) -> bool {
        let now = self.now;
        let woken_at = self.woken_at();
        let t = &mut self.threads[i];
        t.holding = false;
        t.stats.held += dur(now - t.held_since);
        let g = &mut self.gils[t.interp];
        record_span(&mut g.spans, t.stats.id, t.held_since, now);
        if g.mode == Mode::FreeThreaded {
            return false;
        }
        g.last_holder = t.stats.id;
        g.locked = false;
        if g.waiters > 0 {
            t.debt = t.debt.saturating_add(self.signal_cost);
            if let Some(j) = g.queue.pop_front() {
                self.threads[j].state = State::Waking {
                    at: woken_at,
                    act: Act::RetryTake { timed_out: false },
                };
            }
        }
        let t = &mut self.threads[i];
        if gil::must_wait_for_switch(g.mode, forced_switching, g.drop_request) {
            g.drop_request = false;
            g.forced_switches += 1;
            t.stats.forced_drops += 1;
            g.switch_waiters.push(i);
            t.forced_since = now;
            t.state = State::WaitSwitch;
            return true;
        }
        false
    }

    /// Forced out and woken: go on once another thread holds the GIL, else sleep again.
    pub(super) fn switch_check(&mut self, i: usize) {
        let t = &mut self.threads[i];
        let g = &mut self.gils[t.interp];
        if g.last_holder == t.stats.id {
            g.switch_waiters.push(i);
            t.state = State::WaitSwitch;
        } else {
            t.stats.waited += dur(self.now - t.forced_since);
            let then = t.after;
            self.proceed(i, then);
        }
    }

    /// Whether thread `i` holds a 3.2+ GIL that somebody asked for.
    pub(super) fn drop_requested(&self, i: usize) -> bool {
        let t = &self.threads[i];
        let g = &self.gils[t.interp];
        t.holding && g.mode == Mode::Gil && g.drop_request
    }

    /// At a check point with a drop request: release, wait for the switch, take it back.
    pub(super) fn honour_drop_request(&mut self, i: usize) {
        if self.release(i, true) {
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
            if self.threads[i].holding {
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
fn record_span(spans: &mut Vec<Span>, thread: u64, start: u64, end: u64) {
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
