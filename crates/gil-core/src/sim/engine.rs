//! The simulation's state and its event loop.
//!
//! Time jumps from one event to the next: a computation reaching its end or a check point that
//! matters (a pending drop request, an old-GIL release while someone waits), a time slice
//! running out while another thread wants the core, a wake-up, a timed wait expiring. Check
//! points that change nothing are counted, not visited.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use super::program::{Cursor, Nanos, Op, compile, nanos};
use super::{Blocked, Held, LockHold, Script, SimConfig, SimRun};
use crate::gil::Mode;
use crate::protocol::{Lock, ThreadState};
use crate::stats::{GilStats, ThreadStats};
use crate::timeline::{Mark, Span, ThreadLife, Timeline};

/// What a thread does when it next runs on a core.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Act {
    /// Begin taking the GIL, then go on with the continuation.
    Take(Cont),
    /// Back in `take_gil`'s loop after a wait that timed out or was signalled.
    RetryTake { timed_out: bool },
    /// Forced out: has another thread taken the GIL yet?
    SwitchCheck,
    /// Woken by a model lock's release: try to take it.
    LockTry(usize),
    /// Go on with the continuation.
    Go(Cont),
}

/// What a thread does once it holds what it was waiting for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Cont {
    /// Run the current step.
    Run,
    /// The current step is done: run the next one.
    Next,
    /// Go on with the current bytecode step (it may just have ended).
    Resume,
    /// The current step has released the GIL: do its work.
    Body,
    /// Forced out at a check point and switched: take the GIL back, then resume.
    Retake,
    /// An echo round trip is back: record it, then run the next step.
    RoundTripDone,
    /// Every other thread has stopped: do the stop-the-world pause's work.
    Collect,
}

/// What a computing thread computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Bytecode,
    NativeHolding,
    NativeReleased,
    /// The echo server answering a round trip.
    Server,
    /// A stop-the-world pause's work, every other thread stopped.
    Collect,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum State {
    /// In the ready queue, to perform the act once it gets a core (the start of a script).
    Ready(Act),
    /// Computing: on a core, or in the ready queue after being preempted.
    Computing(Kind),
    /// Off core until `at` (asleep, or being woken), then performs `act`.
    Waking {
        at: Nanos,
        act: Act,
    },
    /// Blocked in `take_gil`'s wait until signalled or `deadline` (the old GIL has none).
    WaitGil {
        deadline: Option<Nanos>,
    },
    /// Forced out, until another thread has taken the GIL.
    WaitSwitch,
    /// Blocked on a model lock.
    WaitLock(usize),
    /// Stopped by a stop-the-world pause; performs `act` once the world restarts.
    Parked(Act),
    /// Asked for a stop-the-world pause; waits until every attached thread has stopped.
    WaitWorld,
    Done,
}

/// One simulated thread.
pub(super) struct Thread {
    pub(super) interp: usize,
    pub(super) ops: Vec<Op>,
    pub(super) cursor: Cursor,
    pub(super) state: State,
    pub(super) on_core: bool,
    /// When it last got a core, and when its slice on it ends.
    pub(super) run_start: Nanos,
    pub(super) slice_end: Nanos,
    /// CPU time owed before computing makes progress again (context switches, system calls).
    pub(super) debt: Nanos,
    pub(super) preempted: bool,
    /// The current computation: its length, how far it got, check points counted so far.
    pub(super) len: Nanos,
    pub(super) progress: Nanos,
    pub(super) checkpoints: u64,
    /// Where the computation last went on after acting at a check point.
    pub(super) resumed_at: Nanos,
    /// Old GIL: whether a release is due now (someone waits).
    pub(super) release_due: bool,
    /// Its side of the GIL protocol: phase, old-GIL countdown, figures.
    pub(super) gil: ThreadState,
    /// What to do after the GIL (or the switch, or a lock) has been obtained.
    pub(super) after: Cont,
    pub(super) trip_started: Nanos,
    pub(super) finished: Option<Nanos>,
}

/// One interpreter's GIL: the protocol's lock word, the condition variables' sleepers, and
/// what it records.
pub(super) struct GilState {
    pub(super) lock: Lock,
    /// Threads asleep on the "released" condition variable, first to be signalled first.
    pub(super) queue: VecDeque<usize>,
    /// Threads forced out and asleep until the switch.
    pub(super) switch_waiters: Vec<usize>,
    pub(super) finished: Vec<ThreadStats>,
    pub(super) spans: Vec<Span>,
    /// Stretches threads spent with the GIL released by their own step, for the timeline.
    pub(super) detached: Vec<Span>,
    /// Drop requests and forced drops, for the timeline.
    pub(super) marks: Vec<Mark>,
}

/// One model `threading.Lock`.
#[derive(Default)]
pub(super) struct LockState {
    pub(super) owner: Option<usize>,
    pub(super) since: Nanos,
    pub(super) queue: VecDeque<usize>,
}

/// The whole simulation.
pub(super) struct Sim {
    pub(super) now: Nanos,
    pub(super) cores: usize,
    pub(super) time_slice: Nanos,
    pub(super) wake_latency: Nanos,
    pub(super) switch_cost: Nanos,
    pub(super) timer_slack: Nanos,
    pub(super) signal_cost: Nanos,
    pub(super) bytecode: Nanos,
    pub(super) switch_interval: Duration,
    pub(super) threads: Vec<Thread>,
    pub(super) gils: Vec<GilState>,
    pub(super) locks: BTreeMap<usize, LockState>,
    pub(super) running: Vec<usize>,
    pub(super) ready: VecDeque<usize>,
    pub(super) round_trips: Vec<Duration>,
    /// Wake-ups to take a GIL that was taken again before the woken thread ran.
    pub(super) futile_wakeups: u64,
    pub(super) lock_holds: Vec<LockHold>,
    /// Every thread left waits for something another one holds: nothing can happen any more.
    pub(super) deadlocked: bool,
    /// The stop-the-world pause in progress, and those that ended.
    pub(super) world: Option<super::world::Stop>,
    pub(super) pauses: Vec<super::Pause>,
    names: Vec<String>,
}

pub(super) fn dur(n: Nanos) -> Duration {
    Duration::from_nanos(n)
}

impl Sim {
    pub(super) fn new(cfg: &SimConfig, scripts: Vec<Script>) -> Sim {
        let interpreters = scripts.iter().map(|s| s.interpreter + 1).max().unwrap_or(1);
        let mut next_id = vec![1u64; interpreters];
        let mut names = Vec::new();
        let threads = scripts
            .into_iter()
            .map(|script| {
                let id = next_id[script.interpreter];
                next_id[script.interpreter] += 1;
                names.push(script.name.clone());
                Thread {
                    interp: script.interpreter,
                    ops: compile(&script.steps),
                    cursor: Cursor::default(),
                    state: State::Ready(Act::Take(Cont::Run)),
                    on_core: false,
                    run_start: 0,
                    slice_end: 0,
                    debt: 0,
                    preempted: false,
                    len: 0,
                    progress: 0,
                    checkpoints: 0,
                    resumed_at: 0,
                    release_due: false,
                    gil: ThreadState::new(id, &script.name, cfg.mode),
                    after: Cont::Run,
                    trip_started: 0,
                    finished: None,
                }
            })
            .collect();
        let gils = (0..interpreters)
            .map(|_| GilState {
                lock: Lock::new(cfg.mode, cfg.switch_interval),
                queue: VecDeque::new(),
                switch_waiters: Vec::new(),
                finished: Vec::new(),
                spans: Vec::new(),
                detached: Vec::new(),
                marks: Vec::new(),
            })
            .collect();
        let machine = &cfg.machine;
        Sim {
            now: 0,
            cores: machine.cores.max(1),
            time_slice: nanos(machine.time_slice).max(1_000),
            wake_latency: nanos(machine.wake_latency),
            switch_cost: nanos(machine.switch_cost),
            timer_slack: nanos(machine.timer_slack),
            signal_cost: nanos(machine.signal_cost),
            bytecode: nanos(cfg.bytecode).max(1),
            switch_interval: cfg.switch_interval,
            threads,
            gils,
            locks: BTreeMap::new(),
            running: Vec::new(),
            ready: VecDeque::new(),
            round_trips: Vec::new(),
            futile_wakeups: 0,
            lock_holds: Vec::new(),
            deadlocked: false,
            world: None,
            pauses: Vec::new(),
            names,
        }
    }

    /// When a thread woken now will run.
    pub(super) fn woken_at(&self) -> Nanos {
        self.now.saturating_add(self.wake_latency)
    }

    /// Run to the end and collect the figures.
    pub(super) fn run(mut self) -> SimRun {
        self.ready.extend(0..self.threads.len());
        self.dispatch();
        while let Some(at) = (0..self.threads.len())
            .filter_map(|i| self.event_time(i))
            .min()
            && !self.deadlocked
        {
            self.advance_to(at);
            for i in 0..self.threads.len() {
                if self.event_time(i) == Some(self.now) {
                    self.handle(i);
                }
            }
        }
        self.into_run()
    }

    /// Whether every thread not yet done waits for the GIL, a switch or a lock: a deadlock,
    /// since whoever holds those waits too.
    pub(super) fn all_blocked(&self) -> bool {
        self.threads.iter().all(|t| {
            matches!(
                t.state,
                State::Done
                    | State::WaitGil { .. }
                    | State::WaitSwitch
                    | State::WaitLock(_)
                    | State::Parked(_)
                    | State::WaitWorld
            )
        })
    }

    /// What stuck thread `i` holds and waits for.
    fn blocked(&self, i: usize) -> Option<Blocked> {
        let t = &self.threads[i];
        let name = |j: usize| self.names[j].clone();
        let gil_holder = || {
            (0..self.threads.len())
                .find(|&j| self.threads[j].gil.is_holding() && self.threads[j].interp == t.interp)
                .map(name)
        };
        let (waits_for, held_by) = match t.state {
            State::WaitGil { .. } | State::WaitSwitch => (Held::Gil, gil_holder()),
            State::WaitLock(lock) => (
                Held::Lock(lock),
                self.locks.get(&lock).and_then(|l| l.owner).map(name),
            ),
            _ => return None,
        };
        let mut holds = Vec::new();
        if t.gil.is_holding() && self.gils[t.interp].lock.mode() != Mode::FreeThreaded {
            holds.push(Held::Gil);
        }
        holds.extend(
            self.locks
                .iter()
                .filter(|(_, l)| l.owner == Some(i))
                .map(|(&n, _)| Held::Lock(n)),
        );
        Some(Blocked {
            thread: name(i),
            holds,
            waits_for,
            held_by,
        })
    }

    fn into_run(mut self) -> SimRun {
        let blocked = (0..self.threads.len())
            .filter(|&i| self.threads[i].finished.is_none())
            .filter_map(|i| self.blocked(i))
            .collect();
        let mut stuck = Vec::new();
        for (i, t) in self.threads.iter_mut().enumerate() {
            if t.finished.is_none()
                && let Some(since) = t.gil.held_since()
            {
                // A stuck holder's hold lasts until the end: draw it.
                let spans = &mut self.gils[t.interp].spans;
                super::protocol::record_span(spans, t.gil.id(), nanos(since), self.now);
            }
            if t.finished.is_none() {
                t.finished = Some(self.now);
                self.gils[t.interp].finished.push(t.gil.stats().clone());
                stuck.push(self.names[i].clone());
            }
        }
        let finished: Vec<Duration> = self
            .threads
            .iter()
            .map(|t| dur(t.finished.unwrap_or(self.now)))
            .collect();
        let lives = self
            .threads
            .iter()
            .zip(&self.names)
            .zip(&finished)
            .filter(|((t, _), _)| t.interp == 0)
            .map(|((t, name), died)| ThreadLife {
                thread: t.gil.id(),
                name: name.clone(),
                born: Duration::ZERO,
                died: Some(*died),
            })
            .collect();
        let spans = std::mem::take(&mut self.gils[0].spans);
        let detached = std::mem::take(&mut self.gils[0].detached);
        let marks = std::mem::take(&mut self.gils[0].marks);
        let switch_interval = self.switch_interval;
        SimRun {
            elapsed: finished.iter().copied().max().unwrap_or_default(),
            timeline: Timeline::new(spans, lives, switch_interval).with_detail(detached, marks),
            gils: self
                .gils
                .into_iter()
                .map(|g| {
                    let counters = g.lock.counters();
                    GilStats {
                        mode: g.lock.mode(),
                        switch_interval,
                        switches: counters.switches,
                        forced_switches: counters.forced_switches,
                        drop_requests: counters.drop_requests,
                        threads: g.finished,
                    }
                })
                .collect(),
            finished,
            round_trips: self.round_trips,
            futile_wakeups: self.futile_wakeups,
            lock_holds: self.lock_holds,
            stuck,
            blocked,
            pauses: self.pauses,
        }
    }
}
