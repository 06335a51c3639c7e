#![doc = include_str!("part1_cpu_or_wait.md")]

use std::time::Duration;

use gil_core::claim::{Claim, Unit, claim};
use gil_core::report::{Table, note};
use gil_core::sim::{Script, Step, simulate};
use serde::Deserialize;

use crate::{Config, Model, percent};

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
    rows: Vec<Row>,
}

#[derive(Deserialize)]
struct Row {
    call: String,
    wall: f64,
    cpu: f64,
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

/// Run part 1.
pub fn run(cfg: &Config) -> anyhow::Result<()> {
    crate::prose(TEXT);
    println!();
    let measured: Option<Measured> = match &cfg.python {
        Some(python) => {
            Some(
                cfg.scripts
                    .run(python, "cpu_or_wait.py", &[cfg.scale()], cfg.timeout())?,
            )
        }
        None => None,
    };
    let mut table = Table::new(&["call", "wall", "CPU share", "2 threads", "2 processes"]);
    let mut shares = Vec::new();
    for (name, cpu, model_share) in CALLS {
        let row = measured
            .as_ref()
            .and_then(|m| m.rows.iter().find(|r| r.call == name));
        let share = row.map_or(model_share, |r| (r.cpu / r.wall.max(1e-9)).min(1.0));
        let (threads, processes) = expected_speedups(share, cpu, cfg.model);
        table.push([
            name.to_owned(),
            row.map_or("-".into(), |r| format!("{:.0} ms", r.wall * 1e3)),
            percent(share),
            format!("{threads:.2}x"),
            format!("{processes:.2}x"),
        ]);
        shares.push((name, share, model_share));
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
    if cfg.python.is_none() && !cfg.simulated {
        return Ok(());
    }
    println!();
    for (name, share, model_share) in shares {
        let computes = model_share > 0.5;
        let (low, high, text) = if computes {
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
        claim(Claim {
            figure: &format!("CPU share of {name}"),
            unit: Unit::Percent,
            measured: share * 100.0,
            expected: model_share * 100.0,
            low,
            high,
            text: &text,
        });
    }
    Ok(())
}
