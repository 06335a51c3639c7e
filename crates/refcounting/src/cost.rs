//! What each kind of incref+decref costs in the model, counted in plain updates: the
//! simulator's figures for parts 3 to 5 under `--simulated`, and the expectation printed beside
//! every live timing.
//!
//! The model knows how many read-modify-writes each kind does and which of them are atomic;
//! it does not know this machine's caches. So one figure is an assumption rather than a
//! count: [`ATOMIC_UPDATE`], what an atomic read-modify-write costs in plain ones. Everything
//! else follows from counting updates. The live rows measure the real ratios.

/// Cost of one atomic read-modify-write (x86's `lock add`, `lock xadd`, `lock cmpxchg`) on a
/// cache line this core already owns, in plain updates of that line.
///
/// An assumption of the model, not a measurement: a locked instruction waits for the core's
/// store buffer to drain and holds the line for its whole read-modify-write, which takes tens
/// of cycles on current x86-64 cores, while a plain update of a line in the first-level cache
/// takes a few. The model takes a middle figure; the live rows show this machine's.
pub const ATOMIC_UPDATE: f64 = 8.0;

/// The kinds of incref+decref pair that parts 3 to 5 time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pair {
    /// `ob_refcnt++`, `ob_refcnt--`: two plain updates (the GIL build; Rust's `Rc`).
    Plain,
    /// Two atomic updates (every count atomic; Rust's `Arc`).
    Atomic,
    /// Biased counting on the owner thread: a compare with its own id, then a plain update.
    BiasedOwner,
    /// Biased counting on any other thread: the shared count, atomically.
    BiasedOther,
    /// An immortal object: the updates are skipped.
    Immortal,
    /// A lock per object around each plain update: lock (an atomic compare-and-swap), update,
    /// unlock (an atomic swap).
    LockPerObject,
}

impl Pair {
    /// What one pair costs, in plain updates.
    pub fn cost(self) -> f64 {
        let update = match self {
            Pair::Plain | Pair::BiasedOwner => 1.0,
            Pair::Atomic | Pair::BiasedOther => ATOMIC_UPDATE,
            Pair::Immortal => 0.0,
            Pair::LockPerObject => 2.0 * ATOMIC_UPDATE + 1.0,
        };
        2.0 * update
    }

    /// Atomic read-modify-writes one pair does: counted, not assumed (a lock and an unlock
    /// are one each).
    pub fn atomic_updates(self) -> u32 {
        match self {
            Pair::Plain | Pair::BiasedOwner | Pair::Immortal => 0,
            Pair::Atomic | Pair::BiasedOther => 2,
            Pair::LockPerObject => 4,
        }
    }

    /// Whether this pair's model cost rests on [`ATOMIC_UPDATE`], the model's assumption:
    /// such a ratio may be printed in `--simulated`, but never stated as a result (✓).
    pub fn assumed(self) -> bool {
        self.atomic_updates() > 0
    }

    /// What one pair costs, in plain pairs: the ratio a live run is compared with.
    pub fn over_plain(self) -> f64 {
        self.cost() / Pair::Plain.cost()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_follow_from_counting_updates() {
        assert_eq!(Pair::Plain.over_plain(), 1.0);
        assert_eq!(Pair::BiasedOwner.over_plain(), 1.0);
        assert_eq!(Pair::Atomic.over_plain(), ATOMIC_UPDATE);
        assert_eq!(Pair::LockPerObject.over_plain(), 2.0 * ATOMIC_UPDATE + 1.0);
        assert_eq!(Pair::Immortal.over_plain(), 0.0);
    }

    #[test]
    fn only_pairs_without_atomic_updates_have_a_counted_cost() {
        for pair in [Pair::Plain, Pair::BiasedOwner, Pair::Immortal] {
            assert!(!pair.assumed(), "{pair:?}");
        }
        for pair in [Pair::Atomic, Pair::BiasedOther, Pair::LockPerObject] {
            assert!(pair.assumed(), "{pair:?}");
        }
        assert_eq!(Pair::LockPerObject.atomic_updates(), 4);
    }
}
