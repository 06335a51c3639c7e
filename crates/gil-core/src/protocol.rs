//! `take_gil` and `drop_gil` (`Python/ceval_gil.c`) as one state machine without a clock.
//!
//! Three drivers run this one machine: the live lock ([`Gil`](crate::Gil)) under its mutex
//! and condition variables, the simulator ([`sim`](crate::sim)) in virtual time, and the model
//! checker ([`model_check::gil`](crate::model_check::gil)), which tries every order of events
//! for a few threads. A driver hands
//! [`Lock::step`] an [`Event`] of one thread and the time it happened (a driver's own clock:
//! real, virtual or always zero); the machine updates the lock word and that thread's
//! [`ThreadState`], and answers with an [`Outcome`]: whom to wake and what the thread does
//! next. Every statistic of a hand-off ([`ThreadStats`], [`GilStats`](crate::GilStats)'
//! counters) is updated here and nowhere else.
//!
//! The eval breaker itself ([`ThreadState::check_point`]) touches only the thread's own state,
//! so a check point that does not switch stays one relaxed load in the live lock.

use std::time::Duration;

use crate::gil::Mode;
use crate::stats::ThreadStats;

/// The shortest wait before a drop request. CPython's `take_gil` (`Python/ceval_gil.c`) waits
/// `max(interval, 1)` microseconds, so any smaller switch interval behaves like 1 µs.
pub const MIN_SWITCH_WAIT: Duration = Duration::from_micros(1);

/// How long a waiter waits for the GIL before it may ask for it: the switch interval, but at
/// least [`MIN_SWITCH_WAIT`].
pub(crate) fn switch_wait(interval: Duration) -> Duration {
    interval.max(MIN_SWITCH_WAIT)
}

/// `take_gil`'s rule for setting the drop request after a wait: only if the wait timed out,
/// the GIL is still held, and it has not changed hands during the wait (someone else may
/// already have asked and been served).
pub(crate) fn should_request_drop(
    timed_out: bool,
    locked: bool,
    switch_number_before: u64,
    switch_number_now: u64,
) -> bool {
    timed_out && locked && switch_number_now == switch_number_before
}

/// `drop_gil`'s rule for forced switching: a holder that lets go because it was asked (a drop
/// request is pending) waits until another thread has taken the GIL — only under the 3.2+ GIL,
/// and not when the release is the old GIL's periodic one or a thread's exit.
pub(crate) fn must_wait_for_switch(mode: Mode, forced_switching: bool, drop_request: bool) -> bool {
    forced_switching && mode == Mode::Gil && drop_request
}

/// Why a holder lets go of the GIL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Release {
    /// `Py_BEGIN_ALLOW_THREADS`: a blocking call or native code follows. Forced switching
    /// applies if a drop request is pending.
    Detach,
    /// A check point found a drop request (3.2+ GIL). Forced switching applies.
    DropRequest,
    /// The old GIL's periodic release at a check point, retaken at once; no forced switching.
    Tick,
    /// The thread ends. CPython drops the GIL with no thread state then, which skips forced
    /// switching.
    Exit,
    /// Free-threaded: stopped at a check point for a stop-the-world pause (CPython's
    /// `_PyThreadState_Suspend`); attaches again when the world restarts.
    Suspend,
}

impl Release {
    fn forced_switching(self) -> bool {
        matches!(self, Release::Detach | Release::DropRequest)
    }
}

/// Something that happened to one thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Event {
    /// `take_gil` from the top: the thread asks for the GIL.
    Take,
    /// Back in `take_gil`'s loop after a wait: signalled, woken spuriously, or timed out.
    Retry {
        /// The wait ran out (only a timed wait can).
        timed_out: bool,
    },
    /// `drop_gil`, for this reason.
    Drop(Release),
    /// Forced out and woken: has another thread taken the GIL yet?
    SwitchRetry,
}

/// What a thread is doing, as far as the GIL is concerned. Times are the driver's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Neither holding nor asking: before the first take, between a drop and the retake, or
    /// detached (`detached_since` is when its `detach` work began).
    Away {
        /// Set while the thread runs with the GIL released on purpose.
        detached_since: Option<Duration>,
    },
    /// In `take_gil`: asked at `since`; `seen` is the switch number when its wait began.
    Asking {
        /// When it asked.
        since: Duration,
        /// `switch_number` when the current wait began.
        seen: u64,
    },
    /// Holding the GIL since `since` (free-threaded: attached and running).
    Holding {
        /// When this hold began.
        since: Duration,
    },
    /// Let go on a drop request and waiting until another thread has taken the GIL.
    ForcedOut {
        /// When it let go.
        since: Duration,
        /// It let go to detach: once switched, its `detach` work begins.
        detach: bool,
    },
}

/// What the driver does after a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Next {
    /// The thread holds the GIL: it runs on.
    Run,
    /// Sleep on the "released" condition variable, at most this long (`None`: no timeout),
    /// then deliver [`Event::Retry`].
    Wait(Option<Duration>),
    /// Sleep on the "switched" condition variable, then deliver [`Event::SwitchRetry`].
    WaitSwitch,
    /// The thread has let go and goes on without the GIL.
    Away,
}

/// The answer to one [`Lock::step`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Outcome {
    /// What the thread does next.
    pub next: Next,
    /// Signal the "released" condition variable once (a waiter may take the GIL now).
    pub wake_waiter: bool,
    /// Broadcast the "switched" condition variable (forced-out holders may go on).
    pub wake_switch_waiters: bool,
}

impl Outcome {
    fn just(next: Next) -> Outcome {
        Outcome {
            next,
            wake_waiter: false,
            wake_switch_waiters: false,
        }
    }
}

/// Hand-off counters of one lock ([`GilStats`](crate::GilStats)' own fields).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Counters {
    /// Times the GIL changed hands.
    pub switches: u64,
    /// Drops made because a waiter asked.
    pub forced_switches: u64,
    /// Drop requests set.
    pub drop_requests: u64,
}

/// The lock word: CPython's `struct _gil_runtime_state`, plus its counters.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Lock {
    mode: Mode,
    /// `sys.setswitchinterval`, as set.
    interval: Duration,
    /// `gil->locked`.
    locked: bool,
    /// `gil->last_holder`: id of the thread that held it most recently (0: nobody yet).
    last_holder: u64,
    /// `gil->switch_number`: bumped every time the GIL changes hands.
    switch_number: u64,
    /// The eval breaker's drop-request bit.
    drop_request: bool,
    /// Threads inside `take_gil` (asleep or about to retry).
    waiters: u32,
    /// Forced-out holders waiting for the switch.
    switch_waiters: u32,
    counters: Counters,
}

impl Lock {
    /// A free lock of `mode` with switch interval `interval`.
    pub fn new(mode: Mode, interval: Duration) -> Lock {
        Lock {
            mode,
            interval,
            locked: false,
            last_holder: 0,
            switch_number: 0,
            drop_request: false,
            waiters: 0,
            switch_waiters: 0,
            counters: Counters::default(),
        }
    }

    /// The interpreter this lock belongs to.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The switch interval as set.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// `sys.setswitchinterval`.
    pub fn set_interval(&mut self, interval: Duration) {
        self.interval = interval;
    }

    /// Whether some thread holds the GIL.
    pub fn is_locked(&self) -> bool {
        self.locked
    }

    /// Whether a drop request is pending (what a check point reads).
    pub fn drop_request(&self) -> bool {
        self.drop_request
    }

    /// Threads inside `take_gil`.
    pub fn waiters(&self) -> u32 {
        self.waiters
    }

    /// Id of the thread that held the GIL most recently (0: nobody yet).
    pub fn last_holder(&self) -> u64 {
        self.last_holder
    }

    /// `gil->switch_number`.
    pub fn switch_number(&self) -> u64 {
        self.switch_number
    }

    /// The hand-off counters since the last [`Lock::reset_counters`].
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// Forget the counters.
    pub fn reset_counters(&mut self) {
        self.counters = Counters::default();
    }

    /// A timed wait under the 3.2+ GIL; the old GIL waits until signalled.
    fn wait(&self) -> Next {
        Next::Wait((self.mode == Mode::Gil).then(|| switch_wait(self.interval)))
    }

    /// Deliver `event` of `thread` at time `at`.
    ///
    /// # Panics
    /// If the event cannot happen in the thread's phase (a driver bug): [`Event::Take`] needs
    /// [`Phase::Away`], [`Event::Retry`] [`Phase::Asking`], [`Event::Drop`] [`Phase::Holding`]
    /// and [`Event::SwitchRetry`] [`Phase::ForcedOut`].
    pub fn step(&mut self, thread: &mut ThreadState, event: Event, at: Duration) -> Outcome {
        let free = self.mode == Mode::FreeThreaded;
        match (event, thread.phase) {
            (Event::Take, Phase::Away { detached_since }) => {
                if let Some(since) = detached_since {
                    thread.stats.detached += at.saturating_sub(since);
                }
                if free || !self.locked {
                    return self.grant(thread, at, at);
                }
                self.waiters += 1;
                thread.phase = Phase::Asking {
                    since: at,
                    seen: self.switch_number,
                };
                Outcome::just(self.wait())
            }
            (Event::Retry { timed_out }, Phase::Asking { since, seen }) => {
                if self.mode == Mode::Gil
                    && should_request_drop(timed_out, self.locked, seen, self.switch_number)
                {
                    self.drop_request = true;
                    self.counters.drop_requests += 1;
                    thread.stats.drop_requests += 1;
                }
                if self.locked {
                    thread.phase = Phase::Asking {
                        since,
                        seen: self.switch_number,
                    };
                    return Outcome::just(self.wait());
                }
                self.waiters -= 1;
                self.grant(thread, since, at)
            }
            (Event::Drop(why), Phase::Holding { since }) => {
                thread.stats.held += at.saturating_sub(since);
                let away = Phase::Away {
                    detached_since: (why == Release::Detach).then_some(at),
                };
                if free {
                    thread.phase = away;
                    return Outcome::just(Next::Away);
                }
                self.last_holder = thread.stats.id;
                self.locked = false;
                let wake_waiter = self.waiters > 0;
                let next =
                    if must_wait_for_switch(self.mode, why.forced_switching(), self.drop_request) {
                        self.drop_request = false;
                        self.counters.forced_switches += 1;
                        thread.stats.forced_drops += 1;
                        self.switch_waiters += 1;
                        thread.phase = Phase::ForcedOut {
                            since: at,
                            detach: why == Release::Detach,
                        };
                        Next::WaitSwitch
                    } else {
                        thread.phase = away;
                        Next::Away
                    };
                Outcome {
                    next,
                    wake_waiter,
                    wake_switch_waiters: false,
                }
            }
            (Event::SwitchRetry, Phase::ForcedOut { since, detach }) => {
                if self.last_holder == thread.stats.id {
                    return Outcome::just(Next::WaitSwitch);
                }
                self.switch_waiters -= 1;
                thread.stats.waited += at.saturating_sub(since);
                thread.phase = Phase::Away {
                    detached_since: detach.then_some(at),
                };
                Outcome::just(Next::Away)
            }
            (event, phase) => panic!("GIL protocol: {event:?} cannot happen while {phase:?}"),
        }
    }

    /// The GIL is free (or there is none): `thread`, which asked at `asked`, takes it at `at`.
    fn grant(&mut self, thread: &mut ThreadState, asked: Duration, at: Duration) -> Outcome {
        let mut wake_switch_waiters = false;
        if self.mode != Mode::FreeThreaded {
            self.locked = true;
            if self.last_holder != thread.stats.id {
                self.last_holder = thread.stats.id;
                self.switch_number += 1;
                self.counters.switches += 1;
                thread.stats.switches_in += 1;
            }
            wake_switch_waiters = self.switch_waiters > 0;
            // Whatever was asked has now been granted.
            self.drop_request = false;
        }
        let stats = &mut thread.stats;
        stats.waited += at.saturating_sub(asked);
        if stats.acquisitions == 0 {
            stats.first_interval = Some(self.interval);
        }
        stats.acquisitions += 1;
        thread.phase = Phase::Holding { since: at };
        Outcome {
            next: Next::Run,
            wake_waiter: false,
            wake_switch_waiters,
        }
    }
}

/// One thread's side of the protocol: its phase, the old GIL's tick countdown, its figures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThreadState {
    phase: Phase,
    /// Old GIL: ticks between releases (0 in the other modes), and ticks until the next.
    old_interval: u64,
    ticks_left: u64,
    stats: ThreadStats,
}

impl ThreadState {
    /// A thread with id `id` (unique per lock, never 0) that has not asked yet.
    pub fn new(id: u64, name: &str, mode: Mode) -> ThreadState {
        let old_interval = match mode {
            // 0 would never reach a release (and underflow the countdown): treat it as 1.
            Mode::OldGil { check_interval } => u64::from(check_interval.max(1)),
            _ => 0,
        };
        ThreadState {
            phase: Phase::Away {
                detached_since: None,
            },
            old_interval,
            ticks_left: old_interval,
            stats: ThreadStats::new(id, name),
        }
    }

    /// The eval breaker, "between two bytecodes": counts the check point and says whether the
    /// holder must let go now, and why. `drop_request` is read only under the 3.2+ GIL's
    /// rule (the old GIL counts ticks instead).
    #[inline]
    pub fn check_point(&mut self, drop_request: impl FnOnce() -> bool) -> Option<Release> {
        self.stats.check_points += 1;
        if self.old_interval != 0 {
            self.ticks_left -= 1;
            if self.ticks_left == 0 {
                self.ticks_left = self.old_interval;
                return Some(Release::Tick);
            }
            None
        } else if drop_request() {
            Some(Release::DropRequest)
        } else {
            None
        }
    }

    /// `n` check points at once, for a driver that skips the ones that change nothing (the
    /// simulator). Under the old GIL, releases with nobody waiting are a release and retake
    /// that only count; returns true if the last release is due now because someone waits.
    pub fn pass_check_points(&mut self, n: u64, anyone_waiting: bool) -> bool {
        self.stats.check_points += n;
        if self.old_interval == 0 || n == 0 {
            return false;
        }
        if n < self.ticks_left {
            self.ticks_left -= n;
            return false;
        }
        let releases = 1 + (n - self.ticks_left) / self.old_interval;
        self.ticks_left = self.old_interval - (n - self.ticks_left) % self.old_interval;
        if anyone_waiting {
            self.stats.acquisitions += releases - 1;
            true
        } else {
            self.stats.acquisitions += releases;
            false
        }
    }

    /// What the thread is doing.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Whether it holds the GIL (free-threaded: is attached and running).
    pub fn is_holding(&self) -> bool {
        matches!(self.phase, Phase::Holding { .. })
    }

    /// When the current hold began, if it holds the GIL.
    pub fn held_since(&self) -> Option<Duration> {
        match self.phase {
            Phase::Holding { since } => Some(since),
            _ => None,
        }
    }

    /// Old GIL: check points until the next release (0 in the other modes).
    pub fn ticks_left(&self) -> u64 {
        self.ticks_left
    }

    /// Its id.
    pub fn id(&self) -> u64 {
        self.stats.id
    }

    /// Its figures up to its last event.
    pub fn stats(&self) -> &ThreadStats {
        &self.stats
    }

    /// Its figures at time `now`, the hold in progress included.
    pub fn stats_at(&self, now: Duration) -> ThreadStats {
        let mut stats = self.stats.clone();
        if let Some(since) = self.held_since() {
            stats.held += now.saturating_sub(since);
        }
        stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DEFAULT_SWITCH_INTERVAL;

    #[test]
    fn waits_last_at_least_a_microsecond() {
        assert_eq!(switch_wait(Duration::from_nanos(1)), MIN_SWITCH_WAIT);
        assert_eq!(switch_wait(Duration::ZERO), MIN_SWITCH_WAIT);
        assert_eq!(
            switch_wait(DEFAULT_SWITCH_INTERVAL),
            DEFAULT_SWITCH_INTERVAL
        );
    }

    #[test]
    fn a_drop_request_needs_a_timeout_a_holder_and_no_switch_meanwhile() {
        assert!(should_request_drop(true, true, 7, 7));
        assert!(
            !should_request_drop(false, true, 7, 7),
            "signalled, not timed out"
        );
        assert!(!should_request_drop(true, false, 7, 7), "the GIL is free");
        assert!(
            !should_request_drop(true, true, 7, 8),
            "it changed hands meanwhile"
        );
    }

    #[test]
    fn only_an_asked_for_release_under_the_new_gil_waits_for_the_switch() {
        assert!(must_wait_for_switch(Mode::Gil, true, true));
        assert!(!must_wait_for_switch(Mode::Gil, true, false));
        assert!(!must_wait_for_switch(Mode::Gil, false, true), "thread exit");
        let old = Mode::OldGil {
            check_interval: 100,
        };
        assert!(!must_wait_for_switch(old, true, true));
        assert!(!must_wait_for_switch(Mode::FreeThreaded, true, true));
    }

    /// Two threads, one hand-off on a drop request, stepped by hand: every figure lands.
    #[test]
    fn a_forced_hand_off_step_by_step() {
        let ms = Duration::from_millis;
        let mut lock = Lock::new(Mode::Gil, ms(5));
        let mut a = ThreadState::new(1, "A", Mode::Gil);
        let mut b = ThreadState::new(2, "B", Mode::Gil);
        assert_eq!(lock.step(&mut a, Event::Take, ms(0)).next, Next::Run);
        let asked = lock.step(&mut b, Event::Take, ms(1));
        assert_eq!(asked.next, Next::Wait(Some(ms(5))));
        lock.step(&mut b, Event::Retry { timed_out: true }, ms(6));
        assert!(lock.drop_request());
        assert_eq!(
            a.check_point(|| lock.drop_request()),
            Some(Release::DropRequest)
        );
        let dropped = lock.step(&mut a, Event::Drop(Release::DropRequest), ms(7));
        assert_eq!(dropped.next, Next::WaitSwitch);
        assert!(dropped.wake_waiter);
        let taken = lock.step(&mut b, Event::Retry { timed_out: false }, ms(8));
        assert_eq!(taken.next, Next::Run);
        assert!(taken.wake_switch_waiters);
        assert_eq!(
            lock.step(&mut a, Event::SwitchRetry, ms(9)).next,
            Next::Away
        );
        assert_eq!(
            lock.counters(),
            Counters {
                switches: 2,
                forced_switches: 1,
                drop_requests: 1
            }
        );
        assert_eq!(
            (a.stats().held, a.stats().waited, a.stats().check_points),
            (ms(7), ms(2), 1)
        );
        assert_eq!((b.stats().waited, b.stats().drop_requests), (ms(7), 1));
        assert_eq!(b.stats().first_interval, Some(ms(5)));
    }
}
