//! What the instrumentation counts: per-thread hold and wait times, switches, forced drops.

use std::time::Duration;

use crate::gil::Mode;

/// Figures for one model thread (one [`GilGuard`](crate::GilGuard)).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ThreadStats {
    /// Thread-state id, unique within one [`Gil`](crate::Gil).
    pub id: u64,
    /// The name given to [`Gil::acquire`](crate::Gil::acquire).
    pub name: String,
    /// Time spent holding the GIL (free-threaded: time attached and running).
    pub held: Duration,
    /// Time spent waiting to take the GIL, or forced out and waiting for the switch.
    pub waited: Duration,
    /// Time spent inside `detach`, with the GIL released.
    pub detached: Duration,
    /// Times this thread took the GIL.
    pub acquisitions: u64,
    /// Takes that moved the GIL from another thread to this one.
    pub switches_in: u64,
    /// Times this thread dropped the GIL because someone asked (a drop request).
    pub forced_drops: u64,
    /// Drop requests this thread set while waiting.
    pub drop_requests: u64,
    /// Check points this thread reached ([`GilGuard::check_point`](crate::GilGuard::check_point)
    /// calls): the model's count of "bytecodes" it executed.
    pub check_points: u64,
    /// The switch interval in force when this thread first took the GIL (`None` until then).
    pub first_interval: Option<Duration>,
}

impl ThreadStats {
    pub(crate) fn new(id: u64, name: &str) -> Self {
        ThreadStats {
            id,
            name: name.to_owned(),
            ..Self::default()
        }
    }

    /// Add another thread's figures to these (used when many short-lived guards share a name).
    pub(crate) fn absorb(&mut self, other: &ThreadStats) {
        self.held += other.held;
        self.waited += other.waited;
        self.detached += other.detached;
        self.acquisitions += other.acquisitions;
        self.switches_in += other.switches_in;
        self.forced_drops += other.forced_drops;
        self.drop_requests += other.drop_requests;
        self.check_points += other.check_points;
        self.first_interval = self.first_interval.or(other.first_interval);
    }
}

/// Counters for one [`Gil`](crate::Gil) since its last reset.
#[derive(Clone, Debug)]
pub struct GilStats {
    /// The model's mode.
    pub mode: Mode,
    /// The switch interval in force when the figures were read.
    pub switch_interval: Duration,
    /// Times the GIL changed hands (CPython's `switch_number`).
    pub switches: u64,
    /// Drops made because a waiter asked (forced switching happened).
    pub forced_switches: u64,
    /// Drop requests set by waiters whose switch interval ran out.
    pub drop_requests: u64,
    /// One entry per finished thread, in the order they finished.
    pub threads: Vec<ThreadStats>,
}

impl GilStats {
    /// Sum of all finished threads' hold times.
    pub fn total_held(&self) -> Duration {
        self.threads.iter().map(|t| t.held).sum()
    }

    /// Sum of all finished threads' wait times.
    pub fn total_waited(&self) -> Duration {
        self.threads.iter().map(|t| t.waited).sum()
    }

    /// Switches per second of `wall` time.
    pub fn switches_per_second(&self, wall: Duration) -> f64 {
        self.switches as f64 / wall.as_secs_f64().max(1e-9)
    }
}
