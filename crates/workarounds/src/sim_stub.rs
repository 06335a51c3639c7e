//! TEMPORARY stand-in for gil_core::sim until it lands (not to be committed to main).
#![allow(missing_docs, dead_code)]
use gil_core::Mode;
use std::time::Duration;
#[derive(Clone, Debug)]
pub struct SimConfig {
    pub mode: Mode,
    pub cores: usize,
}
impl SimConfig {
    pub fn new(mode: Mode, _i: Duration, cores: usize) -> SimConfig {
        SimConfig { mode, cores }
    }
}
#[derive(Clone, Debug)]
pub enum Step {
    Bytecode(Duration),
    NativeHolding(Duration),
    NativeReleased(Duration),
    Blocking(Duration),
    Repeat(u32, Vec<Step>),
}
#[derive(Clone, Debug)]
pub struct Script {
    pub name: String,
    pub interpreter: usize,
    pub steps: Vec<Step>,
}
impl Script {
    pub fn new(name: impl Into<String>, steps: Vec<Step>) -> Script {
        Script {
            name: name.into(),
            interpreter: 0,
            steps,
        }
    }
    pub fn in_interpreter(mut self, i: usize) -> Script {
        self.interpreter = i;
        self
    }
}
pub struct SimRun {
    pub elapsed: Duration,
    pub finished: Vec<Duration>,
}
fn total(steps: &[Step]) -> Duration {
    steps
        .iter()
        .map(|s| match s {
            Step::Bytecode(d)
            | Step::NativeHolding(d)
            | Step::NativeReleased(d)
            | Step::Blocking(d) => *d,
            Step::Repeat(n, v) => total(v) * *n,
        })
        .sum()
}
pub fn simulate(cfg: &SimConfig, scripts: Vec<Script>) -> SimRun {
    let finished: Vec<Duration> = scripts.iter().map(|s| total(&s.steps)).collect();
    let sum: Duration = finished.iter().sum();
    let max = finished.iter().copied().max().unwrap_or_default();
    let par = if cfg.mode == Mode::FreeThreaded {
        cfg.cores.min(scripts.len()).max(1)
    } else {
        1
    };
    SimRun {
        elapsed: max.max(sum / par as u32),
        finished,
    }
}
