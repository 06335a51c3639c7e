//! The context a lesson's parts run in: what the run was asked for, where claims go, and which
//! showing of a part is printing (on a busy machine a part shows twice).
//!
//! The runner ([`crate::lesson::run`]) makes one [`Cx`] per lesson run and passes it to every
//! part; nothing about the run lives in a global. A test makes its own:
//! `Cx::new(Session::simulated(2))`.

use crate::claim::{Claim, Compared, Pass, Record, Sink};
use crate::figure::Draw;
use crate::probe::MachineLoad;
use crate::report;
use crate::session::Session;

/// One lesson run's context: the session, the claims made so far, the showing in progress.
#[derive(Debug)]
pub struct Cx {
    session: Session,
    claims: Sink,
    pass: Pass,
    load: Option<MachineLoad>,
    /// A busy machine's live claims, waiting to be printed beside the idle machine's figures.
    compared: Vec<Compared>,
}

impl Cx {
    /// A context for `session` whose claims are only kept in memory.
    pub fn new(session: Session) -> Self {
        Cx::with_sink(session, Sink::default())
    }

    /// A context for `session` whose claims go to `claims` (e.g. a `--claims FILE` sink).
    pub fn with_sink(session: Session, claims: Sink) -> Self {
        Cx {
            session,
            claims,
            pass: Pass::Only,
            load: None,
            compared: Vec::new(),
        }
    }

    /// What the run was asked for.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// `--simulated`: every figure comes from the simulator.
    pub fn simulated(&self) -> bool {
        self.session.simulated
    }

    /// Cores the simulator assumes (`--cores`, default this machine's).
    pub fn sim_cores(&self) -> usize {
        self.session.cores
    }

    /// `--quick`: small sizes, one run per figure.
    pub fn quick(&self) -> bool {
        self.session.quick
    }

    /// `--deep`: also print the CPython-internals detail.
    pub fn deep(&self) -> bool {
        self.session.deep
    }

    /// Whether the figures being shown now are the simulator's: a `--simulated` run, or the
    /// idle-machine figures that lead on a busy machine.
    pub fn showing_simulated(&self) -> bool {
        self.session.simulated || self.pass == Pass::Lead
    }

    /// Print a claim beside its expectation and the sentence if the figure supports it (see
    /// [`crate::claim`]); record it. Returns whether it held.
    pub fn claim(&mut self, claim: Claim<'_>) -> bool {
        if self.pass == Pass::Beside {
            self.compared.push(Compared::of(&claim));
        }
        self.claims.state(&self.session, self.pass, claim)
    }

    /// Claims this run has recorded, oldest first.
    pub fn claims(&self) -> &[Record] {
        self.claims.records()
    }

    /// The latest recorded claim whose sentence contains `needle`.
    pub fn find_claim(&self, needle: &str) -> Option<&Record> {
        self.claims.find(needle)
    }

    /// Hand a figure of the running part to `--svg` and `--trace` (see [`crate::figure`]);
    /// nothing without those flags, nor while a busy machine's simulated figures lead (the
    /// live ones after them are written).
    pub fn figure(&self, figure: &impl Draw) -> anyhow::Result<()> {
        if self.pass == Pass::Lead {
            return Ok(());
        }
        self.session.figures.show(self.session.part, figure)
    }

    /// Print lesson prose written in markdown (see [`report::markdown`]), with `--deep`
    /// sections only when asked for.
    pub fn markdown(&self, text: &str) {
        report::markdown(text, self.deep());
    }

    /// How busy the machine was when the lesson started (live runs only).
    pub fn load(&self) -> Option<MachineLoad> {
        self.load
    }

    /// In a live run, the free cores the probe found if they are fewer than `needed` (and the
    /// machine has that many cores at all); `None` when the part can run as on an idle machine.
    pub fn too_busy_for(&self, needed: usize) -> Option<f64> {
        let load = self.load.filter(|l| l.known && !self.session.simulated)?;
        let short = needed <= load.cores && load.free.round() < needed as f64;
        short.then_some(load.free)
    }

    /// The busy machine's live claims gathered since the last call (see [`Pass::Beside`]).
    pub(crate) fn take_compared(&mut self) -> Vec<Compared> {
        std::mem::take(&mut self.compared)
    }

    /// Set how busy the machine is, as the runner's probe found it (tests pass a made-up one).
    pub fn set_load(&mut self, load: MachineLoad) {
        self.load = Some(load);
    }

    pub(crate) fn enter_part(&mut self, part: u8) {
        self.session.part = part;
    }

    pub(crate) fn set_pass(&mut self, pass: Pass) {
        self.pass = pass;
    }

    pub(crate) fn finish(&mut self) -> anyhow::Result<()> {
        self.claims.finish()
    }
}
