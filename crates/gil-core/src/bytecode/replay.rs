//! What the deterministic [`Scheduler`] records: every instruction, switch, block and return
//! ([`Event`]), and the lost updates found among them.

use std::fmt::{self, Write as _};

use super::frame::Effect;
use super::instr::Instr;
#[cfg(doc)]
use super::scheduler::Scheduler;

/// One line of a [`Replay`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// Thread `thread` (0-based) ran an instruction.
    Ran {
        /// Which thread.
        thread: usize,
        /// Its byte offset.
        offset: usize,
        /// The instruction.
        instr: Instr,
        /// What it did to shared state.
        effect: Effect,
    },
    /// The GIL changed hands at a check point (a drop request was pending).
    Switch {
        /// Who let go.
        from: usize,
        /// Who took it.
        to: usize,
    },
    /// `thread` blocked on the lock and released the GIL.
    Blocked {
        /// Which thread.
        thread: usize,
    },
    /// `thread`'s frame returned.
    Finished {
        /// Which thread.
        thread: usize,
    },
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Event::Ran {
                thread,
                offset,
                instr,
                effect,
            } => {
                let t = format!("T{}", thread + 1);
                let what = match (instr, effect) {
                    (Instr::LoadGlobal { .. }, Effect::Loaded(v)) => {
                        format!("LOAD_GLOBAL counter -> {v}")
                    }
                    (Instr::StoreGlobal(_), Effect::Stored(v)) => {
                        format!("STORE_GLOBAL counter = {v}")
                    }
                    (_, Effect::Acquired) => format!("{instr} (lock acquired)"),
                    (_, Effect::Released) => format!("{instr} (lock released)"),
                    _ => instr.to_string(),
                };
                write!(f, "{t:<4}{offset:>3}  {what}")
            }
            Event::Switch { from, to } => {
                write!(f, "      --- GIL: T{} -> T{} ---", from + 1, to + 1)
            }
            Event::Blocked { thread } => {
                write!(
                    f,
                    "T{:<3}     waits for the lock (GIL released)",
                    thread + 1
                )
            }
            Event::Finished { thread } => write!(f, "T{:<3}     returns", thread + 1),
        }
    }
}

/// One lost update found in a [`Replay`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LostUpdate {
    /// Index in [`Replay::events`] where the story starts: the earliest `LOAD_GLOBAL counter`
    /// among the victim's and those of the stores it overwrote.
    pub first: usize,
    /// Index in [`Replay::events`] of the victim's `LOAD_GLOBAL counter`.
    pub load: usize,
    /// Index of its `STORE_GLOBAL counter`, which overwrote other threads' updates.
    pub store: usize,
    /// Thread (0-based) that stored a stale value.
    pub thread: usize,
    /// How many other threads' stores it overwrote.
    pub overwritten: u64,
}

/// What a [`Scheduler`] run did, instruction by instruction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replay {
    /// Every instruction, switch, block and return, in order.
    pub events: Vec<Event>,
    /// Stores that overwrote other threads' updates, in order.
    pub lost_updates: Vec<LostUpdate>,
    /// `counter` at the start.
    pub start: u64,
    /// `counter` at the end.
    pub total: u64,
    /// What `counter` would be with no update lost.
    pub expected: u64,
    /// How many times the GIL changed hands (0 when free-threaded).
    pub switches: u64,
}

impl Replay {
    /// Updates lost (`expected - total`).
    pub fn lost(&self) -> u64 {
        self.expected.saturating_sub(self.total)
    }

    /// The events of the first lost update, one per line: from the first `LOAD_GLOBAL` of
    /// the threads involved to the stale `STORE_GLOBAL` — the interleaving that loses an
    /// update. Empty if none was lost.
    pub fn first_lost_update_trace(&self) -> String {
        self.lost_updates
            .first()
            .map(|lost| self.render(lost.first, lost.store + 1))
            .unwrap_or_default()
    }

    /// Events `from..to` (clamped), one per line.
    pub fn render(&self, from: usize, to: usize) -> String {
        let to = to.min(self.events.len());
        let mut out = String::new();
        for event in &self.events[from.min(to)..to] {
            let _ = writeln!(out, "{event}");
        }
        out
    }
}

/// Finds lost updates as a run goes: which store each thread's last load saw, and which load
/// every store's value came from.
#[derive(Debug)]
pub(super) struct LostUpdateFinder {
    /// Per thread: (event index, stores so far) of its last `LOAD_GLOBAL counter`.
    last_load: Vec<Option<(usize, usize)>>,
    /// For every store so far, the event index of the load its value came from.
    store_loads: Vec<usize>,
    /// The lost updates found, in order.
    pub(super) found: Vec<LostUpdate>,
}

impl LostUpdateFinder {
    /// A finder for `threads` threads.
    pub(super) fn new(threads: usize) -> Self {
        LostUpdateFinder {
            last_load: vec![None; threads],
            store_loads: Vec::new(),
            found: Vec::new(),
        }
    }

    /// `thread`'s `LOAD_GLOBAL counter` is event `event`.
    pub(super) fn loaded(&mut self, thread: usize, event: usize) {
        self.last_load[thread] = Some((event, self.store_loads.len()));
    }

    /// `thread`'s `STORE_GLOBAL counter` is event `event`: a lost update if other stores came
    /// between it and the load its value came from.
    pub(super) fn stored(&mut self, thread: usize, event: usize) {
        let stores = self.store_loads.len();
        let loaded = self.last_load[thread].take();
        if let Some((load, seen)) = loaded {
            if seen != stores {
                let overwritten = &self.store_loads[seen..];
                self.found.push(LostUpdate {
                    first: overwritten.iter().copied().fold(load, usize::min),
                    load,
                    store: event,
                    thread,
                    overwritten: (stores - seen) as u64,
                });
            }
        }
        self.store_loads
            .push(loaded.map_or(event, |(load, _)| load));
    }
}
