#![doc = include_str!("part1_cpu_or_wait.md")]

use std::time::Duration;

use gil_core::claim::{Claim, Unit};
use gil_core::context::Cx;
use gil_core::part::{Part, Run as PartRun};
use gil_core::report::{Table, note};
use gil_core::sim::{Script, Step, simulate};
use serde::Deserialize;

use crate::{Config, Model, percent, states_claims};

/// The Python this part runs (in `py/cpu_or_wait.py`).
pub const PYTHON: &str = "\
wall, cpu = time.perf_counter(), time.process_time()
call()
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
print(f\"CPU share: {cpu / wall:.0%}\")   # ~100%: computes; ~0%: waits";

/// How the model runs a call's CPU time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cpu {
    /// Python bytecode: holds the GIL, with check points.
    Python,
    /// C code inside `Py_BEGIN_ALLOW_THREADS`: the GIL is free meanwhile.
    ReleasedC,
}

/// The calls, as the script names them, with what CPython's source says their CPU time is and
/// the CPU share the model expects (1: all computing, 0: all waiting).
pub const CALLS: [(&str, Cpu, f64); 5] = [
    ("pure-Python loop", Cpu::Python, 1.0),
    ("time.sleep", Cpu::Python, 0.0),
    ("socket round trips", Cpu::Python, 0.0),
    ("file read (cached)", Cpu::ReleasedC, 1.0),
    ("hashlib.sha256", Cpu::ReleasedC, 1.0),
];

#[derive(Deserialize)]
struct Measured {
    rows: Vec<Measurement>,
}

#[derive(Deserialize)]
struct Measurement {
    call: String,
    wall: f64,
    cpu: f64,
}

/// One call's row of the table.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The call, as the script names it.
    pub call: &'static str,
    /// How the model runs its CPU time.
    pub cpu: Cpu,
    /// Its wall time, when Python ran it.
    pub wall: Option<Duration>,
    /// Its CPU share, 0 to 1 (the model's when nothing measured it).
    pub share: f64,
    /// The simulator's speedup of two threads doing it, for that share.
    pub threads: f64,
    /// The simulator's speedup of two processes doing it.
    pub processes: f64,
}

/// What part 1 shows: one row per call of [`CALLS`], in order.
#[derive(Clone, Debug, PartialEq)]
pub struct Figures {
    /// Whether the learner's Python measured the shares (false: the model's own).
    pub measured: bool,
    /// The rows.
    pub rows: Vec<Row>,
}

impl Figures {
    /// The rows for the measured `shares` (`None`: the model's share), and the simulator's
    /// speedups for each.
    fn new(model: Model, measured: Option<&Measured>) -> Figures {
        let rows = CALLS
            .iter()
            .map(|&(call, cpu, model_share)| {
                let m = measured.and_then(|m| m.rows.iter().find(|r| r.call == call));
                let share = m.map_or(model_share, |r| (r.cpu / r.wall.max(1e-9)).min(1.0));
                let (threads, processes) = expected_speedups(share, cpu, model);
                Row {
                    call,
                    cpu,
                    wall: m.map(|r| Duration::from_secs_f64(r.wall.max(0.0))),
                    share,
                    threads,
                    processes,
                }
            })
            .collect();
        Figures {
            measured: measured.is_some(),
            rows,
        }
    }
}

/// What the simulator expects from one call done twice, by two threads and by two processes,
/// against doing it twice in one thread: (speedup of threads, speedup of processes).
pub fn expected_speedups(share: f64, cpu: Cpu, model: Model) -> (f64, f64) {
    let call = Duration::from_millis(100);
    let busy = call.mul_f64(share.clamp(0.0, 1.0));
    let steps = || {
        let computing = match cpu {
            Cpu::Python => Step::Bytecode(busy),
            Cpu::ReleasedC => Step::NativeReleased(busy),
        };
        vec![computing, Step::Blocking(call - busy)]
    };
    let cfg = model.sim();
    let one = simulate(&cfg, vec![Script::new("T1", [steps(), steps()].concat())]).elapsed;
    let threads = simulate(
        &cfg,
        vec![Script::new("T1", steps()), Script::new("T2", steps())],
    )
    .elapsed;
    let processes = simulate(
        &cfg,
        vec![
            Script::new("P1", steps()),
            Script::new("P2", steps()).in_interpreter(1),
        ],
    )
    .elapsed;
    (
        one.as_secs_f64() / threads.as_secs_f64(),
        one.as_secs_f64() / processes.as_secs_f64(),
    )
}

/// The part's prose: the module docs, and what the lesson prints first.
pub const TEXT: &str = include_str!("part1_cpu_or_wait.md");

/// Part 1 in the lesson's table.
pub struct CpuOrWait;

impl Part<Config> for CpuOrWait {
    type Figures = Figures;

    fn title(&self) -> &'static str {
        "CPU-bound or waiting?"
    }

    fn python(&self) -> &'static str {
        PYTHON
    }

    fn text(&self) -> &'static str {
        TEXT
    }

    fn cores_needed(&self, cfg: &Config) -> usize {
        cfg.cores_needed()
    }

    fn live(&self, cx: &Cx, cfg: &Config) -> anyhow::Result<Figures> {
        let measured: Option<Measured> = match &cfg.python {
            Some(python) => {
                Some(
                    cfg.scripts
                        .run(python, "cpu_or_wait.py", &[cfg.scale(cx)], cfg.timeout())?,
                )
            }
            None => None,
        };
        Ok(Figures::new(cfg.model, measured.as_ref()))
    }

    fn simulate(&self, _cx: &Cx, cfg: &Config) -> anyhow::Result<Figures> {
        Ok(Figures::new(cfg.model, None))
    }

    fn show(&self, cx: &mut Cx, cfg: &Config, run: PartRun<'_, Figures>) -> anyhow::Result<()> {
        let mut table = Table::new(&["call", "wall", "CPU share", "2 threads", "2 processes"]);
        for row in &run.figures.rows {
            table.push([
                row.call.to_owned(),
                row.wall
                    .map_or("-".into(), |w| format!("{:.0} ms", w.as_secs_f64() * 1e3)),
                percent(row.share),
                format!("{:.2}x", row.threads),
                format!("{:.2}x", row.processes),
            ]);
        }
        table.print();
        let why = if cfg.model.free_threaded() {
            "With no GIL, threads run Python code at once too."
        } else {
            "The loop's CPU time is Python and holds the GIL: threads gain nothing, processes \
             do. Hashing's is C code that releases the GIL: threads gain too (part 2)."
        };
        note(&format!(
            "The last two columns are the simulator's speedups for this call done twice, by two \
             threads and by two processes, on {} idle cores, from the CPU share in this table. \
             {why}",
            cfg.model.cores
        ));
        if !states_claims(cx, run.figures.measured) {
            return Ok(());
        }
        println!();
        for (row, expected) in run.figures.rows.iter().zip(&run.expected.rows) {
            let name = row.call;
            let (low, high, text) = if expected.share > 0.5 {
                (
                    70.0,
                    100.0,
                    format!("{name} computed: its CPU time was most of its wall time."),
                )
            } else {
                (
                    0.0,
                    25.0,
                    format!("{name} waited: it used the CPU for a small part of its time."),
                )
            };
            cx.claim(Claim {
                figure: &format!("CPU share of {name}"),
                unit: Unit::Percent,
                measured: row.share * 100.0,
                expected: expected.share * 100.0,
                low,
                high,
                text: &text,
            });
        }
        Ok(())
    }
}
