//! The context a lesson's parts run in: what the run was asked for, where claims go, and which
//! showing of a part is printing (on a busy machine a part shows twice).
//!
//! The runner ([`crate::lesson::run`]) makes one [`Cx`] per lesson run and passes it to every
//! part; nothing about the run lives in a global. A test makes its own:
//! `Cx::new(Session::simulated(2))`.

use crate::claim::{Claim, Compared, Pass, Record, Sink};
use crate::figure::Draw;
use crate::probe::MachineLoad;
use crate::report::{Out, Table};
use crate::session::Session;
use std::sync::{Mutex, MutexGuard};

/// One lesson run's context: the session, the claims made so far, the showing in progress.
#[derive(Debug)]
pub struct Cx {
    session: Session,
    claims: Sink,
    pass: Pass,
    load: Option<MachineLoad>,
    /// A busy machine's live claims, waiting to be printed beside the idle machine's figures.
    compared: Vec<Compared>,
    /// Where everything the lesson shows is written.
    out: Mutex<Out>,
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
            out: Mutex::new(Out::Stdout),
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
        let out = self.out.get_mut().unwrap_or_else(|e| e.into_inner());
        self.claims.state(out, &self.session, self.pass, claim)
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

    /// Write lesson prose written in markdown (see [`crate::report::markdown_lines`]), with `--deep`
    /// sections only when asked for.
    pub fn markdown(&self, text: &str) {
        self.out().markdown(text, self.deep());
    }

    /// Where the lesson's text goes, to write more than one line of it (see [`Out`]):
    /// `cx.out().kv(..)`. The shorthands below cover the usual cases.
    pub fn out(&self) -> MutexGuard<'_, Out> {
        self.out.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Send the lesson's text to `out` from now on (e.g. [`Out::buffer`] in a test); returns
    /// where it went before.
    pub fn set_out(&mut self, out: Out) -> Out {
        let now = self.out.get_mut().unwrap_or_else(|e| e.into_inner());
        std::mem::replace(now, out)
    }

    /// Write one line of text.
    pub fn line(&self, line: impl AsRef<str>) {
        self.out().line(line.as_ref());
    }

    /// Write an empty line.
    pub fn blank(&self) {
        self.out().blank();
    }

    /// Write one `label: value` line (see [`crate::report::kv_line`]).
    pub fn kv(&self, label: &str, value: impl std::fmt::Display) {
        self.out().kv(label, value);
    }

    /// Write prose, indented and wrapped (see [`Out::note`]).
    pub fn note(&self, text: &str) {
        self.out().note(text);
    }

    /// Write `text` wrapped, after `first` and then `rest` (see [`Out::indented`]).
    pub fn indented(&self, text: &str, first: &str, rest: &str) {
        self.out().indented(text, first, rest);
    }

    /// Write a table.
    pub fn table(&self, table: &Table) {
        self.out().table(table);
    }

    /// Write a few lines of Python, framed (see [`Out::python`]).
    pub fn python(&self, code: &str) {
        self.out().python(code);
    }

    /// Write a block for Rust readers (see [`Out::for_rust_readers`]).
    pub fn for_rust_readers(&self, text: &str) {
        self.out().for_rust_readers(text);
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
