//! Part 2's race on a deterministic schedule, for `--simulated`: the same two threads, the same
//! plain `ob_refcnt++`, but who runs next is decided by a seeded pseudo-random generator
//! ([`SplitMix64`]) instead of the machine, so the lost updates are exact and reproducible.
//!
//! Each update is two steps, as in C: read the count into a register, then write the register
//! plus or minus one back. A step of the other thread that lands between the two is
//! overwritten: a lost update.
//!
//! * On two or more cores both threads run at once, so the steps interleave finely: before
//!   every step a coin toss picks the thread that takes it.
//! * On one core the OS runs one thread for a time slice, then the other; a slice can end
//!   between a read and its write, and only then can an update be lost.
//! * Under the GIL, or with atomic counts, an update is one indivisible step: the GIL lets a
//!   thread go only at a check point, between updates, and an atomic read-modify-write cannot
//!   be split. Nothing can be lost, whatever the schedule.
//!
//! The count follows [`PyObject`](gil_core::object::PyObject)'s rules: a decref that writes 0
//! frees the object; an update that finds it freed is a use after free and is not done; an
//! incref that writes 1 raced with the free.

use gil_core::Mode;
use gil_core::measure::SplitMix64;
use gil_core::object::{Audit, Fate};
use gil_core::sim::{self, Script, SimConfig, Step};

use crate::setup::Config;

/// The simulator's interpreter for the "under the GIL" row: the lesson's mode and switch
/// interval on `cores` idle cores.
pub fn sim_config(cfg: &Config, cores: usize) -> SimConfig {
    SimConfig::new(cfg.gil.mode(Mode::Gil), cfg.gil.interval(), cores)
}

/// How plain updates with no GIL interleave on `cores` cores: finely when the two threads run
/// at once, a time slice at a time on one core. One update is one of the simulator's bytecodes.
pub fn plain_schedule(cfg: &Config, cores: usize) -> Schedule {
    if cores >= 2 {
        return Schedule::Parallel;
    }
    let sim = sim_config(cfg, 1);
    let per_slice = sim.machine.time_slice.as_nanos() / sim.bytecode.as_nanos().max(1);
    Schedule::TimeSliced {
        updates_per_slice: u64::try_from(per_slice).unwrap_or(u64::MAX).max(1),
    }
}

/// GIL hand-offs while two threads each do `n` updates (one bytecode each) under the GIL, on
/// the simulator with `cores` idle cores.
pub fn gil_handoffs(cfg: &Config, n: u64, cores: usize) -> u64 {
    gil_race(cfg, n, cores).stats().switches
}

/// The simulator's run of two threads each doing `n` updates (one bytecode each) under the
/// GIL on `cores` idle cores: its hand-offs and its timeline.
pub fn gil_race(cfg: &Config, n: u64, cores: usize) -> sim::SimRun {
    let sim = sim_config(cfg, cores);
    let work = sim.bytecode.mul_f64(n as f64);
    let threads = ["T1", "T2"]
        .map(|name| Script::new(name, vec![Step::Bytecode(work)]))
        .to_vec();
    sim::simulate(&sim, threads)
}

/// How the two racing threads' steps are ordered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Schedule {
    /// Two or more cores: both threads run at once; a coin toss before every step.
    Parallel,
    /// One core: a thread runs about `updates_per_slice` updates, then the OS switches; the
    /// switch lands at a pseudo-random step, which may be between a read and its write.
    TimeSliced {
        /// Updates a thread completes in one time slice, on average.
        updates_per_slice: u64,
    },
    /// Under the GIL or with atomic counts: an update cannot be split.
    Indivisible,
}

/// What became of the shared object in one simulated trial.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SimTrial {
    /// The count when both threads were done.
    pub after_race: isize,
    /// True if the count reached zero during the race.
    pub freed_during_race: bool,
    /// Updates lost because the other thread's write landed between a read and its write.
    pub lost_updates: u64,
    /// What became of the object once every holder let go too.
    pub fate: Fate,
}

/// The model object's count, updated in separate read and write steps.
struct Count {
    value: isize,
    freed: bool,
    deallocs: u64,
    use_after_free: u64,
}

impl Count {
    /// The read half of an update; `None` (a use after free, not carried out) if freed.
    fn read(&mut self) -> Option<isize> {
        if self.freed {
            self.use_after_free += 1;
            return None;
        }
        Some(self.value)
    }

    /// The write half: store `read + delta`.
    fn write(&mut self, read: isize, delta: isize) {
        self.value = read + delta;
        if delta < 0 && self.value == 0 {
            self.freed = true;
            self.deallocs += 1;
        } else if delta > 0 && self.value == 1 {
            // The count had reached zero: this incref raced with the free.
            self.use_after_free += 1;
        }
    }
}

/// One racing thread: how many updates it has left and, between the read and the write of
/// an update, the count it read.
struct Racer {
    delta: isize,
    left: u64,
    reading: bool,
    register: isize,
}

impl Racer {
    fn new(delta: isize, updates: u64) -> Self {
        Racer {
            delta,
            left: updates,
            reading: false,
            register: 0,
        }
    }

    #[inline]
    fn done(&self) -> bool {
        self.left == 0 && !self.reading
    }

    /// Take one step: a read, or the write that completes the update.
    #[inline]
    fn step(&mut self, count: &mut Count) {
        if self.reading {
            count.write(self.register, self.delta);
            self.reading = false;
            self.left -= 1;
        } else {
            match count.read() {
                Some(read) => {
                    self.register = read;
                    self.reading = true;
                }
                None => self.left -= 1, // a use after free: the update is skipped
            }
        }
    }
}

/// Which thread takes the next step: `choose` when both still have work.
#[inline]
fn next(racers: &[Racer; 2], choose: impl FnOnce() -> usize) -> Option<usize> {
    match (racers[0].done(), racers[1].done()) {
        (true, true) => None,
        (true, false) => Some(1),
        (false, true) => Some(0),
        (false, false) => Some(choose()),
    }
}

/// `racers[pick]` takes a step; returns 1 if that write dooms an update: the other thread
/// holds a stale read and will overwrite it.
#[inline]
fn advance(racers: &mut [Racer; 2], pick: usize, count: &mut Count) -> u64 {
    let (this, other) = match racers {
        [a, b] if pick == 0 => (a, b),
        [a, b] => (b, a),
    };
    let writes = this.reading;
    this.step(count);
    u64::from(writes && other.reading)
}

/// Race `n` increfs (thread T1) against `n` decrefs (thread T2) on an object that starts with
/// `holders + n` references, on `schedule`, seeded by `seed`; then the holders and the new
/// list let go (`holders + n` decrefs) and the object is judged.
pub fn race(holders: u64, n: u64, schedule: Schedule, seed: u64) -> SimTrial {
    let expected = (holders + n) as isize;
    let mut count = Count {
        value: expected,
        freed: false,
        deallocs: 0,
        use_after_free: 0,
    };
    let mut racers = [Racer::new(1, n), Racer::new(-1, n)];
    let mut rng = SplitMix64(seed);
    let mut lost_updates = 0;
    match schedule {
        // Whole updates commute, so every order ends where it started; and the count never
        // reaches zero on the way, because T2 drops at most the n references of the old list.
        // No need to step through them one by one.
        Schedule::Indivisible => {}
        Schedule::Parallel => {
            let mut bits = Bits::default();
            while let Some(pick) = next(&racers, || bits.next(&mut rng)) {
                lost_updates += advance(&mut racers, pick, &mut count);
            }
        }
        Schedule::TimeSliced { updates_per_slice } => {
            let steps_per_slice = 2 * updates_per_slice.max(1);
            let mut running = 0;
            // A slice of about the usual length, ending at any step.
            let slice = |rng: &mut SplitMix64| steps_per_slice / 2 + rng.below(steps_per_slice) + 1;
            let mut left_in_slice = slice(&mut rng);
            while let Some(pick) = next(&racers, || running) {
                lost_updates += advance(&mut racers, pick, &mut count);
                left_in_slice -= 1;
                if left_in_slice == 0 || pick != running {
                    running = 1 - pick;
                    left_in_slice = slice(&mut rng);
                }
            }
        }
    }
    let after_race = count.value;
    let freed_during_race = count.freed;
    for _ in 0..expected {
        if count.read().is_some() {
            count.write(count.value, -1);
        }
    }
    let fate = Audit {
        refcnt: count.value,
        freed: count.freed,
        deallocs: count.deallocs,
        use_after_free: count.use_after_free,
    }
    .fate();
    SimTrial {
        after_race,
        freed_during_race,
        lost_updates,
        fate,
    }
}

/// Coin tosses, 64 from each pseudo-random number.
#[derive(Default)]
struct Bits {
    word: u64,
    left: u32,
}

impl Bits {
    fn next(&mut self, rng: &mut SplitMix64) -> usize {
        if self.left == 0 {
            self.word = rng.next_u64();
            self.left = 64;
        }
        let bit = (self.word & 1) as usize;
        self.word >>= 1;
        self.left -= 1;
        bit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indivisible_updates_are_exact_whatever_the_seed() {
        for seed in 0..20 {
            let t = race(10, 1_000, Schedule::Indivisible, seed);
            assert_eq!(t.after_race, 1_010);
            assert_eq!(t.lost_updates, 0);
            assert_eq!(t.fate, Fate::Freed);
        }
    }

    #[test]
    fn parallel_plain_updates_lose_some_and_the_same_seed_loses_the_same() {
        let a = race(1_000, 100_000, Schedule::Parallel, 7);
        let b = race(1_000, 100_000, Schedule::Parallel, 7);
        assert_eq!(a, b);
        assert!(a.lost_updates > 1_000, "{a:?}");
        assert_ne!(a.fate, Fate::Freed);
    }

    #[test]
    fn a_lost_decref_leaks_and_a_lost_incref_frees_early() {
        // Whatever the schedule did, the fate matches the drift's sign.
        for seed in 0..10 {
            let t = race(100, 10_000, Schedule::Parallel, seed);
            let drift = t.after_race - 10_100;
            match t.fate {
                Fate::Leaked { refcnt } => assert_eq!(refcnt, drift),
                Fate::PrematureFree { use_after_free, .. } => {
                    assert!(drift < 0 || t.freed_during_race);
                    assert!(use_after_free > 0);
                }
                Fate::Freed => assert_eq!(drift, 0),
            }
        }
    }

    #[test]
    fn on_one_core_a_switch_between_read_and_write_loses_the_other_thread_s_slice() {
        let sliced = |seed| {
            race(
                1_000,
                100_000,
                Schedule::TimeSliced {
                    updates_per_slice: 10_000,
                },
                seed,
            )
        };
        assert_eq!(sliced(3), sliced(3));
        // Some slice ends between a read and its write, and a whole slice of the other
        // thread's updates is overwritten when the write finally lands.
        assert!((0..5).any(|seed| sliced(seed).lost_updates >= 5_000));
    }
}
