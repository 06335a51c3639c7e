//! What the running lesson was asked for: which lesson and part, simulated or live, and how
//! many cores the simulator assumes.
//!
//! The runner ([`lesson::run`](crate::lesson::run)) makes one per lesson run and hands it to
//! the parts inside their context ([`crate::context::Cx::session`]); nothing keeps a
//! process-wide copy, so two runs in one process (tests) never see each other's settings.

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
    /// Where figures go (`--svg`, `--trace`); parts hand them over with
    /// [`Cx::figure`](crate::context::Cx::figure).
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
