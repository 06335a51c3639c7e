//! The deterministic scheduler: model threads stepped one instruction at a time on the
//! calling thread, switched by a seeded PRNG, recorded as a [`Replay`].

use super::frame::{Effect, Frame, Step};
use super::globals::Globals;
use super::instr::{CheckPolicy, Instr};
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

impl Scheduler {
    /// A scheduler with a seed and a check-point policy; drop requests every ~4 instructions.
    pub fn new(seed: u64, policy: CheckPolicy) -> Self {
        Scheduler {
            rng: SplitMix64(seed),
            policy,
            free_threaded: false,
            mean_interval: 4,
            start: 0,
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

    /// The value `counter` starts at.
    pub fn start_at(mut self, value: u64) -> Self {
        self.start = value;
        self
    }

    fn next_drop_request(&mut self) -> u64 {
        1 + self.rng.below(2 * self.mean_interval)
    }

    /// Pick a runnable thread other than `not` (or `not` itself if it is the only one).
    fn pick(&mut self, states: &[RunState], not: usize) -> Option<usize> {
        let others: Vec<usize> = (0..states.len())
            .filter(|&t| t != not && states[t] == RunState::Runnable)
            .collect();
        if others.is_empty() {
            (states.get(not) == Some(&RunState::Runnable)).then_some(not)
        } else {
            Some(others[self.rng.below(others.len() as u64) as usize])
        }
    }

    /// Run `threads` model threads, `iterations` loop iterations each, to completion.
    /// Run `threads` model threads, `iterations` loop iterations each, to completion.
    pub fn run(self, program: &Program, threads: usize, iterations: u64) -> Replay {
        let mut run = Run::new(self, program, threads, iterations);
        while run.holder_can_run() {
            if let Some(instr) = run.step() {
                run.choose_next(instr);
            }
        }
        run.into_replay()
    }
}

/// One [`Scheduler::run`] in progress.
struct Run<'p> {
    scheduler: Scheduler,
    globals: Globals,
    frames: Vec<Frame<'p>>,
    states: Vec<RunState>,
    events: Vec<Event>,
    lost: LostUpdateFinder,
    /// The thread holding the GIL (free-threaded: the one taking the next step).
    current: usize,
    /// Instructions left until the next drop request.
    countdown: u64,
    /// What `counter` would be with no update lost.
    expected: u64,
}

impl<'p> Run<'p> {
    fn new(mut scheduler: Scheduler, program: &'p Program, threads: usize, iters: u64) -> Self {
        let countdown = scheduler.next_drop_request();
        Run {
            globals: Globals::new(scheduler.start),
            frames: (0..threads).map(|_| Frame::new(program, iters)).collect(),
            states: vec![RunState::Runnable; threads],
            events: Vec::new(),
            lost: LostUpdateFinder::new(threads),
            current: 0,
            countdown,
            expected: scheduler.start + threads as u64 * iters,
            scheduler,
        }
    }

    /// If the holder blocked or returned, the GIL goes to someone else. `false` once nobody
    /// is left to run.
    fn holder_can_run(&mut self) -> bool {
        if self.states[self.current] == RunState::Runnable {
            return true;
        }
        let Some(next) = self.scheduler.pick(&self.states, self.current) else {
            return false;
        };
        if !self.scheduler.free_threaded {
            self.events.push(Event::Switch {
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
        let (instr, offset, effect) = match self.frames[now].step(&self.globals) {
            Step::Finished => {
                self.states[now] = RunState::Finished;
                self.events.push(Event::Finished { thread: now });
                return None;
            }
            Step::Blocked => {
                self.states[now] = RunState::Blocked;
                self.events.push(Event::Blocked { thread: now });
                return None;
            }
            Step::Ran {
                instr,
                offset,
                effect,
            } => (instr, offset, effect),
        };
        let event = self.events.len();
        match effect {
            Effect::Loaded(_) => self.lost.loaded(now, event),
            Effect::Stored(_) => self.lost.stored(now, event),
            Effect::Released => self.grant_lock_to_a_waiter(),
            Effect::None | Effect::Acquired => {}
        }
        self.events.push(Event::Ran {
            thread: now,
            offset,
            instr,
            effect,
        });
        Some(instr)
    }

    /// After a release, a blocked acquirer gets the lock while it waits without the GIL.
    fn grant_lock_to_a_waiter(&mut self) {
        let blocked = self.threads_in(RunState::Blocked);
        if !blocked.is_empty() {
            let t = blocked[self.scheduler.rng.below(blocked.len() as u64) as usize];
            assert!(self.globals.lock.try_acquire(), "lock was just released");
            self.frames[t].lock_granted();
            self.states[t] = RunState::Runnable;
        }
    }

    /// Who takes the next step after `instr`.
    fn choose_next(&mut self, instr: Instr) {
        if self.scheduler.free_threaded {
            // No GIL: every runnable thread is running; any of them takes the next step.
            let runnable = self.threads_in(RunState::Runnable);
            if !runnable.is_empty() {
                self.current = runnable[self.scheduler.rng.below(runnable.len() as u64) as usize];
            }
            return;
        }
        self.countdown = self.countdown.saturating_sub(1);
        if self.countdown == 0 && self.scheduler.policy.is_check_point(instr) {
            // The drop request is honoured here; forced switching hands the GIL to another
            // thread that wants it (if nobody does, there was nobody to ask).
            self.countdown = self.scheduler.next_drop_request();
            let now = self.current;
            if let Some(next) = self.scheduler.pick(&self.states, now).filter(|&n| n != now) {
                self.events.push(Event::Switch {
                    from: now,
                    to: next,
                });
                self.current = next;
            }
        }
    }

    /// The threads in `state`, in index order.
    fn threads_in(&self, state: RunState) -> Vec<usize> {
        (0..self.states.len())
            .filter(|&t| self.states[t] == state)
            .collect()
    }

    fn into_replay(self) -> Replay {
        Replay {
            events: self.events,
            lost_updates: self.lost.found,
            start: self.scheduler.start,
            total: self.globals.counter.load(),
            expected: self.expected,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_trace() {
        let program = Program::increment();
        let a = Scheduler::new(42, CheckPolicy::EveryInstruction).run(&program, 3, 20);
        let b = Scheduler::new(42, CheckPolicy::EveryInstruction).run(&program, 3, 20);
        assert_eq!(a, b);
        let c = Scheduler::new(43, CheckPolicy::EveryInstruction).run(&program, 3, 20);
        assert_ne!(a.events, c.events);
    }

    #[test]
    fn lost_updates_are_found_and_add_up() {
        let program = Program::increment();
        let replay = Scheduler::new(1, CheckPolicy::EveryInstruction).run(&program, 2, 100);
        assert!(replay.lost() > 0);
        assert!(
            replay
                .lost_updates
                .iter()
                .all(|l| l.overwritten > 0 && l.first <= l.load && l.load < l.store)
        );
        let trace = replay.first_lost_update_trace();
        assert!(trace.contains("LOAD_GLOBAL counter"), "{trace}");
        assert!(trace.contains("--- GIL"), "{trace}");
    }

    #[test]
    fn modern_policy_hides_the_plain_race_but_not_the_call() {
        for seed in 0..20 {
            let modern = Scheduler::new(seed, CheckPolicy::BackEdgesAndCalls);
            let plain = modern.clone().run(&Program::increment(), 3, 50);
            assert_eq!(plain.total, 150);
            let with_call = modern.run(&Program::read_call_write(), 3, 50);
            assert!(with_call.lost() > 0, "seed {seed}");
        }
    }

    #[test]
    fn lock_makes_every_schedule_exact() {
        for seed in 0..20 {
            for free in [false, true] {
                let replay = Scheduler::new(seed, CheckPolicy::EveryInstruction)
                    .free_threaded(free)
                    .run(&Program::increment_locked(), 4, 30);
                assert_eq!(replay.total, 120, "seed {seed} free {free}");
                assert!(replay.lost_updates.is_empty());
            }
        }
    }

    #[test]
    fn free_threaded_schedules_lose_updates() {
        let replay = Scheduler::new(3, CheckPolicy::BackEdgesAndCalls)
            .free_threaded(true)
            .run(&Program::increment(), 2, 100);
        assert!(replay.lost() > 0);
    }
}
