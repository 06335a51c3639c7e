//! The deterministic scheduler: model threads stepped one instruction at a time on the
//! calling thread, switched by a seeded PRNG, recorded as a [`Replay`].

use std::time::Duration;

use super::frame::{Effect, Frame, INSTRUCTION_TIME, Step};
use super::globals::Globals;
use super::instr::{CheckPolicy, Instr, Site};
use super::program::Program;
use super::replay::{Event, LostUpdateFinder, Replay};
use crate::measure::SplitMix64;

/// A deterministic GIL: steps model threads one instruction at a time on the calling thread.
///
/// Like the real GIL, one thread runs until a *drop request* arrives and it reaches a check
/// point of the [`CheckPolicy`]; then the GIL passes to another runnable thread. Drop requests
/// arrive after a pseudo-random number of instructions (the model's stand-in for the 5 ms
/// timer), drawn from a PRNG seeded by you: the same seed gives the same [`Replay`] on every
/// machine. With [`Scheduler::free_threaded`], there is no GIL: any thread may run next after
/// any instruction.
///
/// ```
/// use gil_core::bytecode::{CheckPolicy, Program, Scheduler};
///
/// let program = Program::increment();
/// let replay = Scheduler::new(7, CheckPolicy::EveryInstruction).run(&program, 2, 50);
/// assert!(replay.lost() > 0);
/// // 3.10+'s check points leave no switch inside `counter += 1`:
/// let replay = Scheduler::new(7, CheckPolicy::BackEdgesAndCalls).run(&program, 2, 50);
/// assert_eq!(replay.total, 100);
/// ```
#[derive(Clone, Debug)]
pub struct Scheduler {
    rng: SplitMix64,
    policy: CheckPolicy,
    free_threaded: bool,
    mean_interval: u64,
    start: u64,
    trace: bool,
    /// Instructions left until the next drop request.
    countdown: u64,
}

/// A model thread the [`Scheduler`] can step besides a bytecode [`Frame`]: anything that runs
/// one instruction per call, so other modelled code (a lesson's `L[i] = L[i] + 1`) is
/// scheduled by exactly the same rules.
pub trait ModelThread {
    /// Run one instruction and say what kind it was; `None` once the thread has finished.
    fn step(&mut self) -> Option<Site>;
}

/// A model thread's scheduling state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RunState {
    /// Wants or holds the GIL.
    Runnable,
    /// Waiting for the lock with the GIL released.
    Blocked,
    /// Returned.
    Finished,
}

/// Every model thread's scheduling state, with the runnable ones also listed in index order:
/// free-threaded, the scheduler picks among them after every instruction.
#[derive(Clone, Debug)]
struct States {
    of: Vec<RunState>,
    runnable: Vec<usize>,
}

impl States {
    /// `threads` threads, all runnable.
    fn new(threads: usize) -> Self {
        States {
            of: vec![RunState::Runnable; threads],
            runnable: (0..threads).collect(),
        }
    }

    /// Whether thread `t` exists and is in `state`.
    fn is(&self, t: usize, state: RunState) -> bool {
        self.of.get(t) == Some(&state)
    }

    /// Put thread `t` in `state`.
    fn set(&mut self, t: usize, state: RunState) {
        let was = std::mem::replace(&mut self.of[t], state);
        if was == state {
            return;
        }
        match self.runnable.binary_search(&t) {
            Ok(at) if state != RunState::Runnable => {
                self.runnable.remove(at);
            }
            Err(at) if state == RunState::Runnable => self.runnable.insert(at, t),
            _ => {}
        }
    }
}

impl Scheduler {
    /// A scheduler with a seed and a check-point policy; drop requests every ~4 instructions.
    pub fn new(seed: u64, policy: CheckPolicy) -> Self {
        Scheduler {
            rng: SplitMix64(seed),
            policy,
            free_threaded: false,
            mean_interval: 4,
            start: 0,
            trace: true,
            countdown: 0,
        }
    }

    /// Model the free-threaded build: no GIL, a switch may follow any instruction.
    pub fn free_threaded(mut self, yes: bool) -> Self {
        self.free_threaded = yes;
        self
    }

    /// Mean number of instructions between drop requests (at least 1).
    pub fn mean_interval(mut self, instructions: u64) -> Self {
        self.mean_interval = instructions.max(1);
        self
    }

    /// Drop requests about one `interval` of model time apart, counting
    /// [`INSTRUCTION_TIME`] per instruction: the scheduler's stand-in for a switch interval.
    pub fn switch_interval(self, interval: Duration) -> Self {
        let instructions = interval.as_nanos() / INSTRUCTION_TIME.as_nanos();
        self.mean_interval(u64::try_from(instructions).unwrap_or(u64::MAX))
    }

    /// The value `counter` starts at.
    pub fn start_at(mut self, value: u64) -> Self {
        self.start = value;
        self
    }

    /// Whether [`Scheduler::run`] keeps every event in [`Replay::events`] (the default).
    /// Without the trace a long run keeps only its totals, switches and lost updates.
    pub fn trace(mut self, yes: bool) -> Self {
        self.trace = yes;
        self
    }

    fn next_drop_request(&mut self) -> u64 {
        1 + self.rng.below(self.mean_interval.saturating_mul(2))
    }

    /// Pick a runnable thread other than `not` (or `not` itself if it is the only one).
    fn pick(&mut self, states: &States, not: usize) -> Option<usize> {
        let not_runnable = states.is(not, RunState::Runnable);
        match states.runnable.len() - usize::from(not_runnable) {
            0 => not_runnable.then_some(not),
            count => {
                let chosen = self.rng.below(count as u64) as usize;
                states
                    .runnable
                    .iter()
                    .copied()
                    .filter(|&t| t != not)
                    .nth(chosen)
            }
        }
    }

    /// Any runnable thread, each as likely.
    fn pick_runnable(&mut self, states: &States) -> Option<usize> {
        match states.runnable.len() {
            0 => None,
            count => Some(states.runnable[self.rng.below(count as u64) as usize]),
        }
    }

    /// Any blocked thread, each as likely.
    fn pick_blocked(&mut self, states: &States) -> Option<usize> {
        let blocked = |t: &usize| states.is(*t, RunState::Blocked);
        match (0..states.of.len()).filter(blocked).count() {
            0 => None,
            count => {
                let chosen = self.rng.below(count as u64) as usize;
                (0..states.of.len()).filter(blocked).nth(chosen)
            }
        }
    }

    /// After thread `now` ran an instruction of kind `site`: who takes the next step.
    fn next_after(&mut self, states: &States, now: usize, site: Site) -> usize {
        if self.free_threaded {
            // No GIL: every runnable thread is running; any of them takes the next step.
            return self.pick_runnable(states).unwrap_or(now);
        }
        self.countdown = self.countdown.saturating_sub(1);
        if self.countdown == 0 && self.policy.checks(site) {
            // The drop request is honoured here; forced switching hands the GIL to another
            // thread that wants it (if nobody does, there was nobody to ask).
            self.countdown = self.next_drop_request();
            if let Some(next) = self.pick(states, now).filter(|&n| n != now) {
                return next;
            }
        }
        now
    }

    /// The GIL went to `next` because its holder blocked or returned. As in `take_gil`, the
    /// waiters' timed waits start over after a hand-off: the next drop request is a whole
    /// interval away. Returns `next`.
    fn handed_over(&mut self, next: usize) -> usize {
        if !self.free_threaded {
            self.countdown = self.next_drop_request();
        }
        next
    }

    /// Run `threads` model threads, `iterations` loop iterations each, to completion.
    pub fn run(mut self, program: &Program, threads: usize, iterations: u64) -> Replay {
        self.countdown = self.next_drop_request();
        let mut run = Run::new(self, program, threads, iterations);
        while run.holder_can_run() {
            if let Some(instr) = run.step() {
                run.choose_next(instr);
            }
        }
        run.into_replay()
    }

    /// Step `threads` to completion by the same rules as [`Scheduler::run`]; returns the
    /// number of times the GIL changed hands (0 when free-threaded).
    pub fn run_threads<T: ModelThread>(mut self, threads: &mut [T]) -> u64 {
        self.countdown = self.next_drop_request();
        let mut states = States::new(threads.len());
        let mut current = 0;
        let mut switches = 0;
        loop {
            if !states.is(current, RunState::Runnable) {
                let Some(next) = self.pick(&states, current) else {
                    break;
                };
                current = self.handed_over(next);
                switches += u64::from(!self.free_threaded);
            }
            match threads[current].step() {
                None => states.set(current, RunState::Finished),
                Some(site) => {
                    let next = self.next_after(&states, current, site);
                    switches += u64::from(next != current && !self.free_threaded);
                    current = next;
                }
            }
        }
        switches
    }
}

/// One [`Scheduler::run`] in progress.
struct Run<'p> {
    scheduler: Scheduler,
    globals: Globals,
    frames: Vec<Frame<'p>>,
    states: States,
    /// The events so far (only with the trace on).
    events: Vec<Event>,
    /// Events so far, traced or not: the index the next one gets.
    event_count: usize,
    switches: u64,
    lost: LostUpdateFinder,
    /// The thread holding the GIL (free-threaded: the one taking the next step).
    current: usize,
    /// What `counter` would be with no update lost.
    expected: u64,
}

impl<'p> Run<'p> {
    fn new(scheduler: Scheduler, program: &'p Program, threads: usize, iters: u64) -> Self {
        Run {
            globals: Globals::new(scheduler.start),
            frames: (0..threads).map(|_| Frame::new(program, iters)).collect(),
            states: States::new(threads),
            events: Vec::new(),
            event_count: 0,
            switches: 0,
            lost: LostUpdateFinder::new(threads),
            current: 0,
            expected: scheduler.start + threads as u64 * iters,
            scheduler,
        }
    }

    fn record(&mut self, event: Event) {
        if matches!(event, Event::Switch { .. }) {
            self.switches += 1;
        }
        if self.scheduler.trace {
            self.events.push(event);
        }
        self.event_count += 1;
    }

    /// If the holder blocked or returned, the GIL goes to someone else. `false` once nobody
    /// is left to run.
    fn holder_can_run(&mut self) -> bool {
        if self.states.is(self.current, RunState::Runnable) {
            return true;
        }
        let Some(next) = self.scheduler.pick(&self.states, self.current) else {
            return false;
        };
        let next = self.scheduler.handed_over(next);
        if !self.scheduler.free_threaded {
            self.record(Event::Switch {
                from: self.current,
                to: next,
            });
        }
        self.current = next;
        true
    }

    /// Run one instruction of the current thread and record it; `None` if the thread blocked
    /// on the lock or returned instead.
    fn step(&mut self) -> Option<Instr> {
        let now = self.current;
        let (instr, offset, effect) = match self.frames[now].execute(&self.globals) {
            Step::Finished => {
                self.states.set(now, RunState::Finished);
                self.record(Event::Finished { thread: now });
                return None;
            }
            Step::Blocked => {
                self.states.set(now, RunState::Blocked);
                self.record(Event::Blocked { thread: now });
                return None;
            }
            Step::Ran {
                instr,
                offset,
                effect,
            } => (instr, offset, effect),
        };
        let event = self.event_count;
        match effect {
            Effect::Loaded(_) => self.lost.loaded(now, event),
            Effect::Stored(_) => self.lost.stored(now, event),
            Effect::Released => self.grant_lock_to_a_waiter(),
            Effect::None | Effect::Acquired => {}
        }
        self.record(Event::Ran {
            thread: now,
            offset,
            instr,
            effect,
        });
        Some(instr)
    }

    /// After a release, a blocked acquirer gets the lock while it waits without the GIL.
    fn grant_lock_to_a_waiter(&mut self) {
        if let Some(t) = self.scheduler.pick_blocked(&self.states) {
            assert!(self.globals.lock.try_acquire(), "lock was just released");
            self.frames[t].lock_granted();
            self.states.set(t, RunState::Runnable);
        }
    }

    /// Who takes the next step after `instr`.
    fn choose_next(&mut self, instr: Instr) {
        let now = self.current;
        let next = self.scheduler.next_after(&self.states, now, instr.site());
        if next != now && !self.scheduler.free_threaded {
            self.record(Event::Switch {
                from: now,
                to: next,
            });
        }
        self.current = next;
    }

    fn into_replay(self) -> Replay {
        Replay {
            events: self.events,
            lost_updates: self.lost.found,
            start: self.scheduler.start,
            total: self.globals.counter.load(),
            expected: self.expected,
            switches: self.switches,
        }
    }
}

#[cfg(test)]
mod tests;
