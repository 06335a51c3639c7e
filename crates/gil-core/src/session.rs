//! What the running lesson was asked for: which lesson and part, simulated or live, and how
//! many cores the simulator assumes.
//!
//! A part reads it from its context ([`crate::context::Cx::session`]). Parts not yet written as
//! [`crate::part::Part`]s still read the process-wide copy ([`current`]) that
//! [`lesson::run_lesson`](crate::lesson::run_lesson) sets once per part; when no lesson runs the
//! defaults apply: live, this machine's cores, part 0.

use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::figure::Figures;
use crate::measure;

/// The running lesson's settings, as far as parts and claims need them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// The lesson's binary name, e.g. `cpu-bound` ("" when no lesson runs).
    pub lesson: &'static str,
    /// The part now running (0 outside a part).
    pub part: u8,
    /// `--simulated`: every part runs on the simulator only.
    pub simulated: bool,
    /// Cores the simulator assumes (`--cores`, default this machine's).
    pub cores: usize,
    /// `--quick`: small sizes, one run per figure.
    pub quick: bool,
    /// The lesson's flag for steadier figures, suggested when a claim misses ("" if none).
    pub steadier: &'static str,
    /// `--deep`: also print the CPython-internals detail.
    pub deep: bool,
    /// Where figures go (`--svg`, `--trace`); see [`figure::show`](crate::figure::show).
    pub figures: Figures,
}

impl Default for Session {
    fn default() -> Self {
        Session {
            lesson: "",
            part: 0,
            simulated: false,
            cores: measure::cores(),
            quick: false,
            steadier: "",
            deep: false,
            figures: Figures::default(),
        }
    }
}

impl Session {
    /// A simulated run on `cores` idle cores, outside any lesson (what tests of one part use).
    pub fn simulated(cores: usize) -> Self {
        Session {
            simulated: true,
            cores,
            ..Session::default()
        }
    }
}

/// The settings of the lesson now running, for parts not yet written as
/// [`crate::part::Part`]s (which get a [`crate::context::Cx`] instead); goes once all have moved.
static CURRENT: Mutex<Option<Session>> = Mutex::new(None);

fn slot() -> MutexGuard<'static, Option<Session>> {
    CURRENT.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The settings in force (the defaults when no lesson has started).
pub fn current() -> Session {
    slot().clone().unwrap_or_default()
}

/// Whether parts should run on the simulator only.
pub fn simulated() -> bool {
    current().simulated
}

/// Cores the simulator assumes.
pub fn sim_cores() -> usize {
    current().cores
}

/// Install the settings of a lesson that is starting.
pub(crate) fn begin(session: Session) {
    *slot() = Some(session);
}

/// Mark part `part` as running.
pub(crate) fn enter_part(part: u8) {
    let mut slot = slot();
    slot.get_or_insert_with(Session::default).part = part;
}
