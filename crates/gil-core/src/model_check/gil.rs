//! The GIL protocol, model-checked: every interleaving of its events for a few threads.
//!
//! Each model thread loops for ever: it takes the GIL, then at each step either reaches a
//! check point or starts a blocking call (`detach`), which ends whenever it likes. Every change
//! to the lock is a [`Lock::step`] of the real protocol, in one atomic step as under the live
//! lock's mutex. Between steps anything may happen: a sleeping waiter's timed wait runs out
//! (3.2+ GIL), any sleeper wakes spuriously, a signal wakes any one sleeper, and the threads'
//! steps interleave in every order.
//!
//! Four properties ([`Property`]). The first three are checked over *all* those schedules.
//! Bounded waiting is about time, so it is checked over the *timely* ones: time advances only
//! at check points (one bytecode each); a timed wait runs out after [`SWITCH_CHECKS`] of them;
//! whatever has been woken, has timed out, or has let go at a check point and retakes acts
//! before the next check point and before a blocking call returns (a wake-up is quicker than
//! a blocking call), in any order among themselves; a signal wakes the longest sleeper (a fair
//! condition variable; POSIX promises only "at least one", and the checker shows that case
//! too); and nobody wakes spuriously (each spurious wake-up restarts
//! `take_gil`'s timed wait, so an endless run of them could starve anyone).

use std::fmt;
use std::time::Duration;

use super::{Search, bfs};
use crate::gil::Mode;
use crate::protocol::{Event, Lock, Next, Phase, Release, ThreadState};

/// The switch interval, counted in check points: a timed wait runs out after this many.
pub const SWITCH_CHECKS: u8 = 2;

/// The old GIL's check interval in the checker (CPython's was 100; 2 shows the same thing in
/// far fewer states).
pub const OLD_CHECK_INTERVAL: u32 = 2;

/// A waiter that has seen this many of the holders' check points counts as starved (the
/// longest wait that holds is far shorter; [`Model::starvation_loop`] shows a failure is for
/// ever).
const STARVED: u8 = 10;

/// What the checker checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Property {
    /// At most one thread holds the GIL (free-threaded, where there is no lock: no thread
    /// ever waits).
    MutualExclusion,
    /// Some thread can always move without a timeout; no thread sleeps while what it waits
    /// for has happened and nobody will wake it (the GIL is free, or has changed hands).
    NoLostWakeUp,
    /// A holder that let go on a drop request while others waited does not take the GIL back
    /// before one of them has had it.
    ForcedSwitching,
    /// Once a thread asks, it holds the GIL within a bounded number of the holders' check
    /// points: timely schedules of threads that only compute (CPU-bound ones). With blocking
    /// calls, or with signals that may wake any sleeper, the 3.2+ GIL does not promise it for
    /// three threads: the waiter that set the drop request has gone to the back of the queue
    /// and another waiter is served (`cargo xtask model-check` prints both).
    BoundedWaiting,
}

impl Property {
    /// All four, in the order the checker reports them.
    pub const ALL: [Property; 4] = [
        Property::MutualExclusion,
        Property::NoLostWakeUp,
        Property::ForcedSwitching,
        Property::BoundedWaiting,
    ];

    /// A short name; under `mode` (free-threaded has no lock to exclude with).
    pub fn name_in(self, mode: Mode) -> &'static str {
        match (self, mode) {
            (Property::MutualExclusion, Mode::FreeThreaded) => "no lock: nobody ever waits",
            _ => self.name(),
        }
    }

    /// A short name.
    pub fn name(self) -> &'static str {
        match self {
            Property::MutualExclusion => "mutual exclusion",
            Property::NoLostWakeUp => "no deadlock, no lost wake-up",
            Property::ForcedSwitching => "forced switching",
            Property::BoundedWaiting => "bounded waiting",
        }
    }
}

/// Which sleeper a signal wakes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Wake {
    /// Any one of them (what POSIX promises).
    Any,
    /// The one that has slept longest (a fair condition variable).
    Longest,
}

/// What a model thread does once it is away from the GIL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum After {
    /// Its blocking call (or its start): it takes the GIL whenever the call ends.
    Work,
    /// It let go at a check point: it takes the GIL straight back.
    Retake,
}

/// Where the OS has a model thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Os {
    /// Running its own code (holding the GIL or away from it).
    Running,
    /// Asleep on "released"; `timed` under the 3.2+ GIL.
    Asleep { timed: bool },
    /// Woken from "released" (signal, timeout or spurious), about to retry.
    Woken { timed_out: bool },
    /// Asleep on "switched".
    AsleepSwitch,
    /// Woken from "switched", about to look.
    WokenSwitch,
}

#[derive(Clone, Debug)]
struct Thread {
    proto: ThreadState,
    os: Os,
    after: After,
    /// Timely schedules: check points since its timed wait began (up to the interval).
    timer: u8,
    /// Bounded waiting: check points since it asked (`None`: not waiting).
    waited: Option<u8>,
    /// Forced switching: it let go on a drop request with others waiting, and none of them
    /// has had the GIL since.
    owes: bool,
}

#[derive(Clone, Debug)]
struct State {
    lock: Lock,
    threads: Vec<Thread>,
    /// Sleepers on "released", longest first.
    sleepers: Vec<u8>,
    /// A thread took the GIL back while it owed it (forced switching broken).
    retook: bool,
}

/// One step of the model, enough to replay it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Action {
    /// The thread that acts (index from 0).
    pub thread: usize,
    /// What it does.
    pub kind: ActionKind,
    /// The sleeper its signal woke, if it signalled one.
    pub woke: Option<usize>,
}

/// What a model thread does in one step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActionKind {
    /// Takes the GIL (`take_gil` from the top).
    Take,
    /// Reaches a check point while holding the GIL.
    CheckPoint,
    /// Starts a blocking call: lets go to detach.
    Detach,
    /// Its timed wait runs out.
    TimeOut,
    /// Wakes for no reason.
    Spurious,
    /// Woken, it retries in `take_gil`'s loop.
    Retry,
    /// Forced out and woken, it looks whether the GIL has changed hands.
    SwitchRetry,
}

/// The model: how many threads, which interpreter, which schedules.
#[derive(Clone, Copy, Debug)]
pub struct Model {
    /// The interpreter.
    pub mode: Mode,
    /// Model threads (2 or 3 is what the checker runs).
    pub threads: usize,
    /// Timely schedules only (bounded waiting), or every interleaving.
    pub timely: bool,
    /// Which sleeper a signal wakes.
    pub wake: Wake,
    /// Whether threads make blocking calls (else they only compute: CPU-bound threads).
    pub blocking_calls: bool,
}

/// The modes the checker runs, with the old GIL's small check interval.
pub fn modes() -> [Mode; 3] {
    [
        Mode::Gil,
        Mode::OldGil {
            check_interval: OLD_CHECK_INTERVAL,
        },
        Mode::FreeThreaded,
    ]
}

impl Model {
    /// The model that checks `property` for `threads` threads under `mode`.
    pub fn for_property(mode: Mode, threads: usize, property: Property) -> Model {
        let timely = property == Property::BoundedWaiting;
        Model {
            mode,
            threads,
            timely,
            wake: if timely { Wake::Longest } else { Wake::Any },
            // Bounded waiting is the CPU-bound threads' promise (see `Property::BoundedWaiting`).
            blocking_calls: !timely,
        }
    }

    fn initial(&self) -> State {
        State {
            lock: Lock::new(self.mode, Duration::from_millis(5)),
            threads: (0..self.threads)
                .map(|i| Thread {
                    proto: ThreadState::new(i as u64 + 1, &format!("T{}", i + 1), self.mode),
                    os: Os::Running,
                    after: After::Work,
                    timer: 0,
                    waited: None,
                    owes: false,
                })
                .collect(),
            sleepers: Vec::new(),
            retook: false,
        }
    }

    /// What tells two states apart: everything that can change the future, and not the
    /// statistics (which only grow) nor the switch number's value (only whether each waiter
    /// has seen the current one).
    fn key(&self, s: &State) -> Vec<u8> {
        self.key_with(s, true)
    }

    /// [`Model::key`], with or without the bounded-waiting counters.
    fn key_with(&self, s: &State, waited: bool) -> Vec<u8> {
        let l = &s.lock;
        let mut key = vec![
            u8::from(l.is_locked()),
            l.last_holder() as u8,
            u8::from(l.drop_request()),
            l.waiters() as u8,
            u8::from(s.retook),
        ];
        for t in &s.threads {
            let (phase, extra) = match t.proto.phase() {
                Phase::Away { detached_since } => (0, u8::from(detached_since.is_some())),
                Phase::Asking { seen, .. } => (1, u8::from(seen == l.switch_number())),
                Phase::Holding { .. } => (2, 0),
                Phase::ForcedOut { detach, .. } => (3, u8::from(detach)),
            };
            let os = match t.os {
                Os::Running => 0,
                Os::Asleep { timed } => 1 + u8::from(timed),
                Os::Woken { timed_out } => 3 + u8::from(timed_out),
                Os::AsleepSwitch => 5,
                Os::WokenSwitch => 6,
            };
            key.extend([
                phase,
                extra,
                os,
                t.after as u8,
                t.timer,
                t.waited.map_or(u8::MAX, |w| if waited { w } else { 0 }),
                u8::from(t.owes),
                t.proto.ticks_left() as u8,
            ]);
        }
        key.push(0xFF);
        key.extend(&s.sleepers);
        key
    }

    /// Something must happen before the next check point (timely schedules).
    fn urgent(&self, s: &State) -> bool {
        s.threads.iter().any(|t| match t.os {
            Os::Woken { .. } | Os::WokenSwitch => true,
            Os::Asleep { timed: true } => t.timer >= SWITCH_CHECKS,
            Os::Running => {
                t.after == After::Retake && matches!(t.proto.phase(), Phase::Away { .. })
            }
            _ => false,
        })
    }

    fn successors(&self, s: &State, out: &mut Vec<(Action, State)>) {
        let urgent = self.timely && self.urgent(s);
        for i in 0..s.threads.len() {
            let t = &s.threads[i];
            let act = |kind| (i, kind);
            let mut moves: Vec<(usize, ActionKind)> = Vec::new();
            match (t.proto.phase(), t.os) {
                (Phase::Holding { .. }, Os::Running) => {
                    if !urgent {
                        moves.push(act(ActionKind::CheckPoint));
                    }
                    if self.blocking_calls {
                        moves.push(act(ActionKind::Detach));
                    }
                }
                // A blocking call lasts longer than a wake-up; a retake is immediate.
                (Phase::Away { .. }, Os::Running) if !urgent || t.after == After::Retake => {
                    moves.push(act(ActionKind::Take));
                }
                (Phase::Asking { .. }, Os::Asleep { timed }) => {
                    if timed && (!self.timely || t.timer >= SWITCH_CHECKS) {
                        moves.push(act(ActionKind::TimeOut));
                    }
                    if !self.timely {
                        moves.push(act(ActionKind::Spurious));
                    }
                }
                (Phase::Asking { .. }, Os::Woken { .. }) => moves.push(act(ActionKind::Retry)),
                (Phase::ForcedOut { .. }, Os::AsleepSwitch) if !self.timely => {
                    moves.push(act(ActionKind::Spurious));
                }
                (Phase::ForcedOut { .. }, Os::WokenSwitch) => {
                    moves.push(act(ActionKind::SwitchRetry));
                }
                _ => {}
            }
            for (thread, kind) in moves {
                self.apply(s, thread, kind, out);
            }
        }
    }

    /// Thread `i` does `kind` in state `s`: push every resulting state (one per sleeper a
    /// signal may wake).
    fn apply(&self, s: &State, i: usize, kind: ActionKind, out: &mut Vec<(Action, State)>) {
        let mut s = s.clone();
        let event = match kind {
            ActionKind::Take => Event::Take,
            ActionKind::Detach => {
                s.threads[i].after = After::Work;
                Event::Drop(Release::Detach)
            }
            ActionKind::CheckPoint => {
                self.tick(&mut s);
                let lock = &s.lock;
                let t = &mut s.threads[i];
                match t.proto.check_point(|| lock.drop_request()) {
                    Some(why) => {
                        t.after = After::Retake;
                        Event::Drop(why)
                    }
                    None => {
                        out.push((
                            Action {
                                thread: i,
                                kind,
                                woke: None,
                            },
                            s,
                        ));
                        return;
                    }
                }
            }
            ActionKind::TimeOut | ActionKind::Spurious => {
                let t = &mut s.threads[i];
                t.os = match t.os {
                    Os::AsleepSwitch => Os::WokenSwitch,
                    _ => Os::Woken {
                        timed_out: kind == ActionKind::TimeOut,
                    },
                };
                s.sleepers.retain(|&j| j as usize != i);
                out.push((
                    Action {
                        thread: i,
                        kind,
                        woke: None,
                    },
                    s,
                ));
                return;
            }
            ActionKind::Retry => match s.threads[i].os {
                Os::Woken { timed_out } => Event::Retry { timed_out },
                _ => unreachable!("only a woken thread retries"),
            },
            ActionKind::SwitchRetry => Event::SwitchRetry,
        };
        let others_waiting = s.lock.waiters() > 0;
        let was_asking = matches!(s.threads[i].proto.phase(), Phase::Asking { .. });
        let outcome = s.lock.step(&mut s.threads[i].proto, event, Duration::ZERO);
        if event == Event::Drop(Release::DropRequest) && others_waiting {
            s.threads[i].owes = true;
        }
        if outcome.wake_switch_waiters {
            for t in &mut s.threads {
                if t.os == Os::AsleepSwitch {
                    t.os = Os::WokenSwitch;
                }
            }
        }
        {
            let t = &mut s.threads[i];
            match outcome.next {
                Next::Run => {
                    t.os = Os::Running;
                    t.waited = None;
                    if t.owes {
                        s.retook = true;
                    }
                }
                Next::Away => t.os = Os::Running,
                Next::Wait(timeout) => {
                    t.os = Os::Asleep {
                        timed: timeout.is_some(),
                    };
                    t.timer = 0;
                    if !was_asking && self.timely {
                        t.waited = Some(0);
                    }
                }
                Next::WaitSwitch => t.os = Os::AsleepSwitch,
            }
        }
        if outcome.next == Next::Run {
            for (j, t) in s.threads.iter_mut().enumerate() {
                if j != i {
                    t.owes = false;
                }
            }
        }
        let sleeping_now = matches!(outcome.next, Next::Wait(_));
        // The signal goes out before this thread sleeps (the live lock notifies, then waits).
        let choices: Vec<Option<usize>> = if outcome.wake_waiter && !s.sleepers.is_empty() {
            match self.wake {
                Wake::Longest => vec![Some(s.sleepers[0] as usize)],
                Wake::Any => s.sleepers.iter().map(|&j| Some(j as usize)).collect(),
            }
        } else {
            vec![None]
        };
        for woke in choices {
            let mut s = s.clone();
            if let Some(j) = woke {
                s.sleepers.retain(|&k| k as usize != j);
                s.threads[j].os = Os::Woken { timed_out: false };
            }
            if sleeping_now {
                s.sleepers.push(i as u8);
            }
            out.push((
                Action {
                    thread: i,
                    kind,
                    woke,
                },
                s,
            ));
        }
    }

    /// A check point is one bytecode of time: timers run, waiters count it.
    fn tick(&self, s: &mut State) {
        for t in &mut s.threads {
            if self.timely && matches!(t.os, Os::Asleep { timed: true }) {
                t.timer = (t.timer + 1).min(SWITCH_CHECKS);
            }
            if let Some(w) = &mut t.waited
                && self.timely
            {
                *w = (*w + 1).min(STARVED);
            }
        }
    }

    fn violates(&self, s: &State, property: Property) -> bool {
        match property {
            Property::MutualExclusion => {
                if self.mode == Mode::FreeThreaded {
                    s.threads.iter().any(|t| {
                        matches!(
                            t.proto.phase(),
                            Phase::Asking { .. } | Phase::ForcedOut { .. }
                        )
                    })
                } else {
                    s.threads.iter().filter(|t| t.proto.is_holding()).count() > 1
                }
            }
            Property::NoLostWakeUp => {
                let stuck = s
                    .threads
                    .iter()
                    .all(|t| matches!(t.os, Os::Asleep { .. } | Os::AsleepSwitch));
                let woken = s.threads.iter().any(|t| matches!(t.os, Os::Woken { .. }));
                let released_unheard = !s.lock.is_locked() && !s.sleepers.is_empty() && !woken;
                let switched_unheard = s
                    .threads
                    .iter()
                    .any(|t| t.os == Os::AsleepSwitch && s.lock.last_holder() != t.proto.id());
                stuck || released_unheard || switched_unheard
            }
            Property::ForcedSwitching => s.retook,
            Property::BoundedWaiting => s.threads.iter().any(|t| t.waited == Some(STARVED)),
        }
    }

    /// Check `property` on every reachable state.
    pub fn check(&self, property: Property) -> Verdict {
        let started = std::time::Instant::now();
        let mut longest = 0;
        let search = bfs(
            vec![self.initial()],
            |s| self.key(s),
            |s, out| self.successors(s, out),
            |s| {
                if property == Property::BoundedWaiting {
                    longest = s
                        .threads
                        .iter()
                        .filter_map(|t| t.waited)
                        .fold(longest, u8::max);
                }
                self.violates(s, property)
            },
        );
        Verdict {
            model: *self,
            property,
            longest_wait: longest,
            elapsed: started.elapsed(),
            search,
        }
    }

    /// Check several properties in one walk of the state space (each verdict reports that
    /// walk). If one fails, each is checked on its own, so every counterexample is its own
    /// property's shortest.
    pub fn check_all(&self, properties: &[Property]) -> Vec<Verdict> {
        let started = std::time::Instant::now();
        let search = bfs(
            vec![self.initial()],
            |s| self.key(s),
            |s, out| self.successors(s, out),
            |s| properties.iter().any(|&p| self.violates(s, p)),
        );
        if search.counterexample.is_some() {
            return properties.iter().map(|&p| self.check(p)).collect();
        }
        let elapsed = started.elapsed();
        properties
            .iter()
            .map(|&property| Verdict {
                model: *self,
                property,
                longest_wait: 0,
                elapsed,
                search: search.clone(),
            })
            .collect()
    }

    fn replay(&self, path: &[Action]) -> Vec<State> {
        let mut states = vec![self.initial()];
        for action in path {
            let mut next = Vec::new();
            let s = states.last().expect("starts with the initial state");
            self.apply(s, action.thread, action.kind, &mut next);
            match next.into_iter().find(|(a, _)| a == action) {
                Some((_, after)) => states.push(after),
                None => break,
            }
        }
        states
    }

    /// In a bounded-waiting counterexample, the steps that can repeat for ever: `(i, j)` such
    /// that the state after step `j` is the state after step `i` (counters aside), a check
    /// point happens in between, and the starved thread waits throughout. The earliest such
    /// loop, if the path has one.
    pub fn starvation_loop(&self, path: &[Action]) -> Option<(usize, usize)> {
        let states = self.replay(path);
        let starved = states
            .last()?
            .threads
            .iter()
            .position(|t| t.waited == Some(STARVED))?;
        let keys: Vec<Vec<u8>> = states.iter().map(|s| self.key_with(s, false)).collect();
        for i in 0..keys.len() {
            for j in i + 1..keys.len() {
                let loops = keys[i] == keys[j]
                    && path[i..j].iter().any(|a| a.kind == ActionKind::CheckPoint)
                    && states[i..=j]
                        .iter()
                        .all(|s| s.threads[starved].waited.is_some());
                if loops {
                    return Some((i, j));
                }
            }
        }
        None
    }

    /// A bounded-waiting counterexample as numbered lines, up to the end of its first loop,
    /// with "and then, for ever:" before the steps that repeat.
    pub fn starving_schedule(&self, path: &[Action]) -> Vec<String> {
        let steps = self.describe(path);
        let (from, to) = self
            .starvation_loop(path)
            .unwrap_or((steps.len(), steps.len()));
        let mut lines = Vec::new();
        for (n, step) in steps.iter().enumerate().take(to) {
            if n == from {
                lines.push("and then, for ever:".to_owned());
            }
            lines.push(format!("{:>2}. {step}", n + 1));
        }
        lines
    }

    /// Replay `path` from the start and describe each step in words.
    pub fn describe(&self, path: &[Action]) -> Vec<String> {
        let mut s = self.initial();
        let mut lines = Vec::new();
        for action in path {
            let mut next = Vec::new();
            self.apply(&s, action.thread, action.kind, &mut next);
            let Some((_, after)) = next.into_iter().find(|(a, _)| a == action) else {
                lines.push(format!("(step {action:?} does not replay)"));
                break;
            };
            lines.push(describe_step(&s, &after, action));
            s = after;
        }
        lines
    }
}

/// One step in words: "T1 check point: lets go (old GIL tick), wakes T2".
fn describe_step(before: &State, after: &State, action: &Action) -> String {
    let name = |i: usize| format!("T{}", i + 1);
    let t = &after.threads[action.thread];
    let what = match action.kind {
        ActionKind::Take => "asks for the GIL",
        ActionKind::CheckPoint => "check point",
        ActionKind::Detach => "starts a blocking call",
        ActionKind::TimeOut => "its wait times out",
        ActionKind::Spurious => "wakes spuriously",
        ActionKind::Retry => "retries",
        ActionKind::SwitchRetry => "looks for the switch",
    };
    let result = match (t.proto.phase(), t.os) {
        (Phase::Holding { .. }, _) if action.kind == ActionKind::CheckPoint => String::new(),
        (Phase::Holding { .. }, _) => ": takes the GIL".to_owned(),
        (Phase::Away { .. }, _) if action.kind == ActionKind::CheckPoint => {
            if before.lock.drop_request() {
                ": drop request, lets go".to_owned()
            } else {
                ": lets go (old GIL tick)".to_owned()
            }
        }
        (Phase::Away { .. }, _) => ": lets go".to_owned(),
        (Phase::Asking { .. }, Os::Asleep { .. }) => {
            if after.lock.drop_request() && !before.lock.drop_request() {
                ": sets the drop request, waits".to_owned()
            } else {
                ": GIL taken, waits".to_owned()
            }
        }
        (Phase::ForcedOut { .. }, Os::AsleepSwitch) => ": waits for the switch".to_owned(),
        _ => String::new(),
    };
    let woke = action
        .woke
        .map(|j| format!(", wakes {}", name(j)))
        .unwrap_or_default();
    format!("{} {what}{result}{woke}", name(action.thread))
}

/// The result of checking one property on one model.
#[derive(Clone, Debug)]
pub struct Verdict {
    /// The model checked.
    pub model: Model,
    /// The property.
    pub property: Property,
    /// Bounded waiting: the most check points any waiter saw before it held the GIL.
    pub longest_wait: u8,
    /// How long the search took.
    pub elapsed: Duration,
    /// States explored and the shortest counterexample, if any.
    pub search: Search<Action>,
}

impl Verdict {
    /// Whether the property holds on every state explored.
    pub fn holds(&self) -> bool {
        self.search.counterexample.is_none()
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.holds() { "holds" } else { "FAILS" };
        write!(f, "{verdict}")?;
        if !self.holds() {
            return Ok(());
        }
        match self.property {
            Property::BoundedWaiting => write!(f, ", <= {} checks", self.longest_wait),
            Property::ForcedSwitching if self.model.mode != Mode::Gil => {
                f.write_str(" (no requests)")
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The verdicts for two threads (and bounded waiting for three, the cheap one): the old
    /// GIL starves a waiter; everything else holds.
    #[test]
    fn the_verdicts() {
        for mode in modes() {
            let three = Model::for_property(mode, 3, Property::BoundedWaiting);
            let old = matches!(mode, Mode::OldGil { .. });
            assert_eq!(
                three.check(Property::BoundedWaiting).holds(),
                !old,
                "{mode}"
            );
            for property in Property::ALL {
                let verdict = Model::for_property(mode, 2, property).check(property);
                let expected = !(old && property == Property::BoundedWaiting);
                assert_eq!(
                    verdict.holds(),
                    expected,
                    "{mode}, {}: {:?}",
                    property.name(),
                    verdict.search.counterexample
                );
                assert!(verdict.search.explored > 1);
            }
        }
    }

    /// Beyond the promise: three threads with blocking calls, or signals that wake any
    /// sleeper, can starve the waiter that asked even under the 3.2+ GIL.
    #[test]
    fn the_new_gil_does_not_serve_the_asker_first() {
        let mut model = Model::for_property(Mode::Gil, 3, Property::BoundedWaiting);
        model.wake = Wake::Any;
        assert!(!model.check(Property::BoundedWaiting).holds());
        let mut busy = Model::for_property(Mode::Gil, 3, Property::BoundedWaiting);
        busy.blocking_calls = true;
        assert!(!busy.check(Property::BoundedWaiting).holds());
        let mut two = Model::for_property(Mode::Gil, 2, Property::BoundedWaiting);
        two.blocking_calls = true;
        assert!(two.check(Property::BoundedWaiting).holds());
    }

    /// The old GIL's counterexample replays, and shows the holder winning the race back.
    #[test]
    fn the_old_gil_counterexample_is_the_release_and_retake_race() {
        let mode = Mode::OldGil {
            check_interval: OLD_CHECK_INTERVAL,
        };
        let model = Model::for_property(mode, 2, Property::BoundedWaiting);
        let verdict = model.check(Property::BoundedWaiting);
        let path = verdict.search.counterexample.expect("the old GIL starves");
        let lines = model.describe(&path);
        assert_eq!(lines.len(), path.len());
        assert!(
            lines.iter().any(|l| l.contains("old GIL tick")),
            "{lines:#?}"
        );
        assert!(
            lines.iter().any(|l| l.contains("GIL taken, waits")),
            "{lines:#?}"
        );
        // The holder's tick, its retake and the waiter's futile retry repeat for ever.
        let (from, to) = model.starvation_loop(&path).expect("a loop");
        let kinds: Vec<ActionKind> = path[from..to].iter().map(|a| a.kind).collect();
        assert!(kinds.contains(&ActionKind::CheckPoint) && kinds.contains(&ActionKind::Retry));
        let schedule = model.starving_schedule(&path);
        assert_eq!(schedule[from], "and then, for ever:");
        assert_eq!(schedule.len(), to + 1);
    }
}
