//! A thread's way through its script: what each step does, and what happens when a
//! computation ends or reaches a check point that matters.

use super::engine::{Act, Cont, Kind, Sim, State, dur};
use super::program::{Leaf, Nanos};
use crate::protocol::Release;

impl Sim {
    pub(super) fn exec(&mut self, i: usize, act: Act) {
        match act {
            Act::Take(then) => self.begin_take(i, then),
            Act::RetryTake { timed_out } => self.retry_take(i, timed_out),
            Act::SwitchCheck => self.switch_check(i),
            Act::LockTry(lock) => self.lock_try(i, lock),
            Act::Go(then) => self.proceed(i, then),
        }
    }

    /// Go on with `then`; thread `i` holds what it needed.
    pub(super) fn proceed(&mut self, i: usize, then: Cont) {
        match then {
            Cont::Run => self.run_step(i),
            Cont::Next => {
                self.threads[i].cursor.advance();
                self.run_step(i);
            }
            Cont::Resume => {
                let t = &mut self.threads[i];
                if t.progress >= t.len {
                    t.cursor.advance();
                    self.run_step(i);
                } else {
                    t.resumed_at = t.progress;
                    t.state = State::Computing(Kind::Bytecode);
                }
            }
            Cont::Body => self.body(i),
            Cont::Collect => self.compute_collect(i),
            Cont::Retake => self.begin_take(i, Cont::Resume),
            Cont::RoundTripDone => {
                let started = self.threads[i].trip_started;
                self.round_trips.push(dur(self.now - started));
                self.threads[i].cursor.advance();
                self.run_step(i);
            }
        }
    }

    pub(super) fn current(&mut self, i: usize) -> Option<Leaf> {
        let t = &mut self.threads[i];
        t.cursor.current(&t.ops)
    }

    /// Run steps from the current one until one takes time.
    pub(super) fn run_step(&mut self, i: usize) {
        loop {
            let Some(leaf) = self.current(i) else {
                self.finish(i);
                return;
            };
            match leaf {
                Leaf::Bytecode(len) => return self.compute(i, Kind::Bytecode, len),
                Leaf::NativeHolding(len) => return self.compute(i, Kind::NativeHolding, len),
                Leaf::BlockingHolding(len) => {
                    self.threads[i].state = State::Waking {
                        at: self
                            .now
                            .saturating_add(len)
                            .saturating_add(self.wake_latency),
                        act: Act::Go(Cont::Next),
                    };
                    return;
                }
                Leaf::Release(lock) => {
                    self.unlock(i, lock);
                    self.threads[i].cursor.advance();
                }
                Leaf::Acquire(lock) | Leaf::AcquireHolding(lock) if self.lock_is_free(lock) => {
                    self.lock_take(i, lock);
                    self.threads[i].cursor.advance();
                }
                // Native code waiting for a Rust lock: the GIL stays held.
                Leaf::AcquireHolding(lock) => return self.lock_wait(i, lock),
                Leaf::StopTheWorld(len) => return self.stop_the_world(i, len),
                Leaf::NativeReleased(_)
                | Leaf::Blocking(_)
                | Leaf::RoundTrip(_)
                | Leaf::Acquire(_) => {
                    if matches!(leaf, Leaf::RoundTrip(_)) {
                        self.threads[i].trip_started = self.now;
                    }
                    if self.release(i, Release::Detach) {
                        self.threads[i].after = Cont::Body;
                    } else {
                        self.body(i);
                    }
                    return;
                }
            }
        }
    }

    /// The work of a step that runs with the GIL released.
    pub(super) fn body(&mut self, i: usize) {
        match self.current(i) {
            Some(Leaf::NativeReleased(len)) => self.compute(i, Kind::NativeReleased, len),
            Some(Leaf::RoundTrip(len)) => self.compute(i, Kind::Server, len),
            Some(Leaf::Blocking(len)) => {
                self.threads[i].state = State::Waking {
                    at: self
                        .now
                        .saturating_add(len)
                        .saturating_add(self.wake_latency),
                    act: Act::Take(Cont::Next),
                };
            }
            Some(Leaf::Acquire(lock)) => self.lock_wait(i, lock),
            _ => self.begin_take(i, Cont::Next),
        }
    }

    pub(super) fn compute(&mut self, i: usize, kind: Kind, len: Nanos) {
        let t = &mut self.threads[i];
        t.len = len;
        t.progress = 0;
        t.checkpoints = 0;
        t.resumed_at = 0;
        t.release_due = false;
        t.state = State::Computing(kind);
    }

    /// Thread `i` reached the end of its computation or a check point that matters.
    pub(super) fn compute_point(&mut self, i: usize, kind: Kind) {
        match kind {
            Kind::Bytecode => {
                let t = &mut self.threads[i];
                if t.release_due {
                    t.release_due = false;
                    self.release(i, Release::Tick);
                    self.begin_take(i, Cont::Resume);
                } else if self.drop_requested(i) {
                    self.honour_drop_request(i);
                } else if self.stop_requested(i) {
                    self.park(i, Cont::Resume);
                } else {
                    self.proceed(i, Cont::Resume);
                }
            }
            Kind::NativeHolding if self.stop_requested(i) => self.park(i, Cont::Next),
            Kind::NativeHolding => self.proceed(i, Cont::Next),
            Kind::Collect => self.restart_world(i),
            Kind::NativeReleased => self.begin_take(i, Cont::Next),
            Kind::Server => {
                self.threads[i].state = State::Waking {
                    at: self.woken_at(),
                    act: Act::Take(Cont::RoundTripDone),
                };
            }
        }
    }

    /// The script is over: release the GIL (thread exit: no forced switching) and record.
    pub(super) fn finish(&mut self, i: usize) {
        if self.threads[i].gil.is_holding() {
            self.release(i, Release::Exit);
        }
        let t = &mut self.threads[i];
        t.state = State::Done;
        // A pause may have been waiting for this thread to stop.
        self.start_when_stopped(i);
        let t = &mut self.threads[i];
        t.finished = Some(self.now);
        self.gils[t.interp].finished.push(t.gil.stats().clone());
    }
}
