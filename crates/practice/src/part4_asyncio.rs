#![doc = include_str!("part4_asyncio.md")]

use std::time::Duration;

use gil_core::claim::{Claim, Unit, claim};
use gil_core::report::{Table, note};
use gil_core::sim::{Script, Step, simulate};
use serde::Deserialize;

use crate::{Config, Model};

/// The Python this part runs (in `py/loop_gap.py`).
pub const PYTHON: &str = "\
async def ticker():                 # notes the gap between its ticks
    while True:
        await asyncio.sleep(0.005)
async def work():
    time.sleep(0.2)                 # stalls every coroutine
    await asyncio.to_thread(time.sleep, 0.2)     # the loop runs on
    await asyncio.to_thread(python_loop)         # it runs, slowly";

/// The ways the script does 0.2 s of work beside the ticker, and how the model runs them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Way {
    /// `time.sleep` inside the coroutine: the loop's own thread blocks.
    InCoroutine,
    /// `to_thread(time.sleep)`: another thread waits with the GIL released.
    ThreadIo,
    /// `to_thread(python_loop)`: another thread runs Python, holding the GIL.
    ThreadPython,
    /// A process pool: another interpreter runs the Python.
    Process,
}

/// The rows of the script, in order.
pub const WAYS: [(&str, Way); 4] = [
    ("time.sleep in the coroutine", Way::InCoroutine),
    ("to_thread(time.sleep)", Way::ThreadIo),
    ("to_thread(Python loop)", Way::ThreadPython),
    ("process pool (Python loop)", Way::Process),
];

/// The ticker's tick, as in the script.
pub const TICK: Duration = Duration::from_millis(5);
/// The work's length, as in the script (half with `--quick`).
pub const WORK: Duration = Duration::from_millis(200);

/// The simulator's median gap between two ticks while `way` runs.
pub fn expected_gap(way: Way, work: Duration, model: Model) -> Duration {
    // Ticks that fit in the work even when each waits an interval for the GIL.
    let ticks = u32::try_from(work.as_micros() / (2 * TICK).as_micros())
        .unwrap_or(1)
        .max(2);
    let ticker = Step::Repeat(
        ticks,
        vec![
            Step::Blocking(TICK),
            Step::Bytecode(Duration::from_micros(20)),
        ],
    );
    let other = match way {
        // The loop's own thread is blocked for the whole work: one gap as long as the work.
        Way::InCoroutine => return work,
        Way::ThreadIo => Script::new("worker", vec![Step::Blocking(work)]),
        Way::ThreadPython => Script::new("worker", vec![Step::Bytecode(work)]),
        Way::Process => Script::new("worker", vec![Step::Bytecode(work)]).in_interpreter(1),
    };
    let cfg = model.sim();
    let run = simulate(&cfg, vec![Script::new("loop", vec![ticker]), other]);
    let waited = run
        .stats()
        .threads
        .iter()
        .find(|t| t.name == "loop")
        .map_or(Duration::ZERO, |t| t.waited);
    TICK + Duration::from_micros(20) + waited / ticks
}

#[derive(Deserialize)]
struct Measured {
    rows: Vec<Row>,
}

#[derive(Deserialize)]
struct Row {
    case: String,
    max_gap: f64,
    median_gap: f64,
}

fn ms(d: f64) -> String {
    Unit::Millis.show(d * 1e3)
}

/// The part's prose: the module docs, and what the lesson prints first.
pub const TEXT: &str = include_str!("part4_asyncio.md");

/// Run part 4.
pub fn run(cfg: &Config) -> anyhow::Result<()> {
    crate::prose(TEXT);
    println!();
    let work = if cfg.quick { "0.1" } else { "0.2" };
    let measured: Option<Measured> = match &cfg.python {
        Some(python) => Some(
            cfg.scripts
                .run(python, "loop_gap.py", &[work], cfg.timeout())?,
        ),
        None => None,
    };
    let length = if cfg.quick { WORK / 2 } else { WORK };
    let mut table = Table::new(&["the work", "longest gap", "median", "model"]);
    let mut gaps = Vec::new();
    for (name, way) in WAYS {
        let expected = expected_gap(way, length, cfg.model).as_secs_f64();
        let row = measured
            .as_ref()
            .and_then(|m| m.rows.iter().find(|r| r.case == name));
        table.push([
            name.to_owned(),
            row.map_or("-".into(), |r| ms(r.max_gap)),
            row.map_or("-".into(), |r| ms(r.median_gap)),
            ms(expected),
        ]);
        gaps.push(row.map_or((expected, expected, expected), |r| {
            (r.max_gap, r.median_gap, expected)
        }));
    }
    table.print();
    note(&format!(
        "The work lasts {} s. The ticker awaits asyncio.sleep({} s); a gap longer than that is time the event \
         loop could not run it. model: the simulator's gap (the blocked loop's, the work's \
         own length). Use to_thread or run_in_executor for blocking calls that release the \
         GIL (file and socket I/O, sleeps, hashing); a ProcessPoolExecutor for Python code.",
        length.as_secs_f64(),
        TICK.as_secs_f64()
    ));
    if cfg.python.is_none() && !cfg.simulated {
        return Ok(());
    }
    println!();
    let work = length.as_secs_f64();
    let (stall, _, stall_expected) = gaps[0];
    claim(Claim {
        figure: "longest gap, time.sleep in the coroutine",
        unit: Unit::Millis,
        measured: stall * 1e3,
        expected: stall_expected * 1e3,
        low: 0.8 * work * 1e3,
        high: 10.0 * work * 1e3,
        text: "A blocking call in a coroutine stalled the whole event loop.",
    });
    let (io_max, io_median, io_expected) = gaps[1];
    claim(Claim {
        figure: "longest gap, to_thread(time.sleep)",
        unit: Unit::Millis,
        measured: io_max * 1e3,
        expected: io_expected * 1e3,
        low: 0.0,
        high: 0.5 * work * 1e3,
        text: "asyncio.to_thread removed the stall for a call that releases the GIL.",
    });
    let (_, py_median, py_expected) = gaps[2];
    let ratio = py_median / io_median.max(1e-9);
    if cfg.model.free_threaded() {
        claim(Claim {
            figure: "median gap, to_thread(Python loop) / to_thread(sleep)",
            unit: Unit::Ratio,
            measured: ratio,
            expected: py_expected / io_expected,
            low: 0.0,
            high: 1.3,
            text: "With no GIL, to_thread kept the loop free for Python code too.",
        });
        return Ok(());
    }
    claim(Claim {
        figure: "median gap, to_thread(Python loop) / to_thread(sleep)",
        unit: Unit::Ratio,
        measured: ratio,
        expected: py_expected / io_expected,
        low: 1.3,
        high: 20.0,
        text: "For Python code it did not: each tick waited for the GIL first.",
    });
    let (_, pool_median, pool_expected) = gaps[3];
    claim(Claim {
        figure: "median gap, process pool / to_thread(Python loop)",
        unit: Unit::Ratio,
        measured: pool_median / py_median.max(1e-9),
        expected: pool_expected / py_expected,
        low: 0.0,
        high: 0.85,
        text: "A process pool ran the Python code without slowing the loop as much.",
    });
    Ok(())
}
