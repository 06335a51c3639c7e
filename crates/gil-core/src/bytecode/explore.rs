//! `counter += 1` over *every* schedule: is an update ever lost, version by version?
//!
//! Sampled runs ([`Scheduler`](super::Scheduler), real threads) show what usually happens;
//! this module answers for all schedules at once. It steps model threads instruction by
//! instruction, breadth first ([`crate::model_check::bfs`]): a thread holding the GIL runs on
//! until it reaches a switch point (then any thread may run next), blocks, or finishes. The first
//! store that overwrites another thread's increment ends the search, so the path to it is a
//! shortest losing schedule. Where none is found, none exists.
//!
//! Where a switch may happen is a rule ([`Rules`], or any predicate given to [`explore`]), so
//! a new one — say, a check point when a lock's `release()` returns — is one closure.

use std::collections::HashMap;
use std::fmt;

use super::frame::{Effect, Frame, Step};
use super::globals::Globals;
use super::instr::{CheckPolicy, Instr};
use super::program::Program;
use crate::model_check::bfs;

/// Where each interpreter lets another thread in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rules {
    /// CPython ≤ 3.9: a check point after every opcode except the `FAST_DISPATCH()` ones
    /// ([`CheckPolicy::EveryInstruction`]).
    UpTo39,
    /// CPython 3.10–3.12: after calls and on backward jumps (3.10, bpo-29988); 3.11–3.12 at
    /// `RESUME`, `JUMP_BACKWARD` and calls ([`CheckPolicy::BackEdgesAndCalls`]).
    From310To312,
    /// CPython 3.13+ with the GIL: `_CHECK_PERIODIC` at `JUMP_BACKWARD` and after calls
    /// (`RESUME_CHECK` at function entry) — the same places for a loop without function entry
    /// ([`CheckPolicy::BackEdgesAndCalls`]).
    From313,
    /// The free-threaded build: no GIL, threads run at once, so another thread's instruction
    /// may fall between any two of this one's.
    FreeThreaded,
}

impl Rules {
    /// Every rule, oldest first.
    pub const ALL: [Rules; 4] = [
        Rules::UpTo39,
        Rules::From310To312,
        Rules::From313,
        Rules::FreeThreaded,
    ];

    /// Which interpreters follow the rule.
    pub fn label(self) -> &'static str {
        match self {
            Rules::UpTo39 => "CPython <= 3.9",
            Rules::From310To312 => "CPython 3.10-3.12",
            Rules::From313 => "CPython 3.13+",
            Rules::FreeThreaded => "free-threaded",
        }
    }

    /// Whether another thread may run between `instr` and the next instruction.
    pub fn switch_after(self, instr: Instr) -> bool {
        match self {
            Rules::UpTo39 => CheckPolicy::EveryInstruction.is_check_point(instr),
            Rules::From310To312 | Rules::From313 => {
                CheckPolicy::BackEdgesAndCalls.is_check_point(instr)
            }
            Rules::FreeThreaded => true,
        }
    }
}

/// One instruction of one thread in a schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Move {
    /// The thread (index from 0).
    pub thread: usize,
    /// The instruction it ran.
    pub instr: Instr,
    /// What it did to `counter`.
    pub effect: Effect,
}

impl fmt::Display for Move {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.effect {
            Effect::Loaded(v) => write!(f, "{} reads {v}", self.instr.opname()),
            Effect::Stored(v) => write!(f, "{} writes {v}", self.instr.opname()),
            _ => f.write_str(self.instr.opname()),
        }
    }
}

/// What [`explore`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exploration {
    /// Distinct states (all threads' frames, `counter`, the lock, who may run) visited.
    pub explored: usize,
    /// A shortest schedule that ends in a lost update, if any schedule loses one.
    pub shortest_loss: Option<Vec<Move>>,
}

impl Exploration {
    /// Whether some schedule loses an update.
    pub fn loses(&self) -> bool {
        self.shortest_loss.is_some()
    }
}

/// One explored state: every frame, the globals, who must run next.
#[derive(Clone, PartialEq, Eq, Hash)]
struct State<'p> {
    frames: Vec<Frame<'p>>,
    counter: u64,
    locked: bool,
    /// The thread that holds the GIL and must run next; `None` after a switch point, when
    /// any runnable thread may.
    runs: Option<usize>,
    lost: bool,
}

/// Explore every schedule of `threads` threads each running `program` `iterations` times,
/// where another thread may run after an instruction exactly when `switch_after` says so (or
/// when the running thread blocks or finishes).
pub fn explore(
    program: &Program,
    threads: usize,
    iterations: u64,
    switch_after: impl Fn(Instr) -> bool,
) -> Exploration {
    let start = State {
        frames: (0..threads)
            .map(|_| Frame::new(program, iterations))
            .collect(),
        counter: 0,
        locked: false,
        runs: None,
        lost: false,
    };
    let runnable = |s: &State<'_>, t: usize| {
        let frame = &s.frames[t];
        let blocked = s.locked && frame.next_instr() == Some(Instr::BeforeWith);
        !frame.is_finished() && !blocked
    };
    let search = bfs(
        vec![start],
        |s: &State<'_>| s.clone(),
        |s, out| {
            let who: Vec<usize> = match s.runs {
                Some(t) if runnable(s, t) => vec![t],
                _ => (0..threads).filter(|&t| runnable(s, t)).collect(),
            };
            for t in who {
                let mut next = s.clone();
                let globals = Globals::new(s.counter);
                if s.locked {
                    globals.lock.try_acquire();
                }
                let (instr, effect) = match next.frames[t].execute(&globals) {
                    Step::Ran { instr, effect, .. } => (instr, effect),
                    Step::Blocked | Step::Finished => continue,
                };
                next.counter = globals.counter.load();
                next.locked = globals.lock.is_locked();
                if let Effect::Stored(v) = effect {
                    next.lost |= v != s.counter + 1;
                }
                let keeps_running = runnable(&next, t) && !switch_after(instr);
                next.runs = keeps_running.then_some(t);
                out.push((
                    Move {
                        thread: t,
                        instr,
                        effect,
                    },
                    next,
                ));
            }
        },
        |s| s.lost,
    );
    Exploration {
        explored: search.explored,
        shortest_loss: search.counterexample,
    }
}

/// One row of the table: a rule and what every schedule under it can do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CounterRow {
    /// The interpreters.
    pub rules: Rules,
    /// What the exploration found.
    pub found: Exploration,
}

/// Threads and increments per thread of the table.
pub const TABLE_THREADS: usize = 2;
/// Increments per thread of the table.
pub const TABLE_INCREMENTS: u64 = 2;

/// `for _ in range(2): counter += 1` in two threads, under each rule.
pub fn counter_table() -> Vec<CounterRow> {
    let program = Program::increment();
    let mut cache: HashMap<Vec<bool>, Exploration> = HashMap::new();
    Rules::ALL
        .iter()
        .map(|&rules| {
            // Rules that put switch points in the same places explore the same schedules.
            let points: Vec<bool> = program
                .code
                .iter()
                .map(|&i| rules.switch_after(i))
                .collect();
            let found = cache
                .entry(points)
                .or_insert_with(|| {
                    explore(&program, TABLE_THREADS, TABLE_INCREMENTS, |i| {
                        rules.switch_after(i)
                    })
                })
                .clone();
            CounterRow { rules, found }
        })
        .collect()
}

impl fmt::Display for CounterRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = match &self.found.shortest_loss {
            Some(path) => format!("loses updates (in {} steps)", path.len()),
            None => "never loses an update".to_owned(),
        };
        write!(
            f,
            "{:<18} {verdict:<30} {:>6} states",
            self.rules.label(),
            self.found.explored
        )
    }
}

/// A schedule in words, one line per stretch one thread runs: "T1: FOR_ITER, STORE_FAST,
/// LOAD_GLOBAL reads 0".
pub fn describe(schedule: &[Move]) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut last = None;
    for m in schedule {
        if last == Some(m.thread) {
            if let Some(line) = lines.last_mut() {
                line.push_str(&format!(", {m}"));
            }
        } else {
            lines.push(format!("T{}: {m}", m.thread + 1));
        }
        last = Some(m.thread);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_matches_the_versions() {
        let table = counter_table();
        let loses: Vec<bool> = table.iter().map(|r| r.found.loses()).collect();
        // <= 3.9 and free-threaded lose; 3.10+ with the GIL never does in this loop.
        assert_eq!(loses, [true, false, false, true]);
        for row in &table {
            assert!(row.found.explored > 10, "{row}");
        }
    }

    #[test]
    fn the_shortest_loss_is_a_read_a_switch_and_two_writes() {
        let table = counter_table();
        let path = table[0].found.shortest_loss.as_ref().expect("3.9 loses");
        let stores: Vec<&Move> = path
            .iter()
            .filter(|m| matches!(m.effect, Effect::Stored(_)))
            .collect();
        // The last store writes what an earlier one already wrote: one increment is lost.
        assert!(stores.len() >= 2, "{path:?}");
        assert_eq!(
            stores[stores.len() - 1].effect,
            stores[stores.len() - 2].effect
        );
        assert!(describe(path).len() >= 3, "{:?}", describe(path));
        // Free-threaded needs no check point, so it loses at least as fast.
        let free = table[3]
            .found
            .shortest_loss
            .as_ref()
            .expect("free-threaded loses");
        assert!(free.len() <= path.len());
    }

    #[test]
    fn a_lock_or_a_switch_inside_the_update_decides() {
        let locked = Program::increment_locked();
        for rules in Rules::ALL {
            let found = explore(&locked, 2, 2, |i| rules.switch_after(i));
            assert!(!found.loses(), "{rules:?}: {:?}", found.shortest_loss);
        }
        // A call between the read and the write is a check point in every version.
        let rcw = Program::read_call_write();
        let found = explore(&rcw, 2, 2, |i| Rules::From313.switch_after(i));
        assert!(found.loses());
    }
}
