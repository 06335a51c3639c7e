#![doc = include_str!("part3_cost.md")]

use std::time::Duration;

use gil_core::claim::{Claim, Unit, claim};
use gil_core::report::{Table, note};
use gil_core::sim::{Script, Step, simulate};
use serde::Deserialize;

use crate::{Config, Model};

/// The Python this part runs (in `py/cost.py`).
pub const PYTHON: &str = "\
threading.Thread(target=spin).start()     # one thread running Python
before = time.perf_counter()
time.sleep(0.001)
late = time.perf_counter() - before - 0.001  # timer slack + GIL wait";

/// The simulator's mean GIL wait per wake-up of a 1 ms heartbeat beside a thread running
/// Python, at `interval` (`busy = false`: alone).
pub fn expected_wait(model: Model, busy: bool) -> Duration {
    let ticks = 100;
    let heartbeat = Script::new(
        "heartbeat",
        vec![Step::Repeat(
            ticks,
            vec![
                Step::Blocking(Duration::from_millis(1)),
                Step::Bytecode(Duration::from_micros(2)),
            ],
        )],
    );
    let mut scripts = vec![heartbeat];
    if busy {
        scripts.push(Script::new(
            "spin",
            vec![Step::Bytecode(Duration::from_secs(2))],
        ));
    }
    let cfg = model.sim();
    let run = simulate(&cfg, scripts);
    let stats = &run.stats().threads;
    let beat = stats.iter().find(|t| t.name == "heartbeat");
    beat.map_or(Duration::ZERO, |t| t.waited / ticks)
}

#[derive(Deserialize)]
struct Measured {
    rows: Vec<Row>,
    py_spy: Option<String>,
    sampling: bool,
    runs: std::collections::BTreeMap<String, ProfilerRun>,
}

#[derive(Deserialize)]
struct Row {
    case: String,
    interval: f64,
    median: f64,
}

#[derive(Deserialize)]
struct ProfilerRun {
    status: i32,
    samples: u64,
    said: String,
}

fn ms(seconds: f64) -> String {
    Unit::Millis.show(seconds * 1e3)
}

/// The part's prose: the module docs, and what the lesson prints first.
pub const TEXT: &str = include_str!("part3_cost.md");

/// Run part 3.
pub fn run(cfg: &Config) -> anyhow::Result<()> {
    crate::prose(TEXT);
    println!();
    let seconds = if cfg.quick { "0.2" } else { "0.4" };
    let measured: Option<Measured> = match &cfg.python {
        Some(python) => Some(
            cfg.scripts
                .run(python, "cost.py", &[seconds], cfg.timeout())?,
        ),
        None => None,
    };
    let default = Duration::from_millis(5);
    let short = Duration::from_millis(1);
    let cases = [
        ("alone", default, false),
        ("beside a Python thread", default, true),
        ("beside it, interval 1 ms", short, true),
    ];
    let mut table = Table::new(&["heartbeat", "late (median)", "of it GIL wait", "model"]);
    let mut lateness = Vec::new();
    let alone = measured
        .as_ref()
        .and_then(|m| m.rows.iter().find(|r| r.case == "alone"))
        .map_or(0.0, |r| r.median);
    for (name, interval, busy) in cases {
        let model = Model {
            interval,
            ..cfg.model
        };
        let expected = expected_wait(model, busy).as_secs_f64();
        let row = measured.as_ref().and_then(|m| {
            m.rows.iter().find(|r| {
                (r.case == "busy") == busy && (r.interval - interval.as_secs_f64()).abs() < 1e-9
            })
        });
        let late = row.map(|r| r.median);
        table.push([
            name.to_owned(),
            late.map_or("-".into(), ms),
            late.map_or("-".into(), |l| ms((l - alone).max(0.0))),
            ms(expected),
        ]);
        lateness.push((late.map_or(expected, |l| (l - alone).max(0.0)), expected));
    }
    table.print();
    note(
        "model: the simulator's mean GIL wait per wake-up of the same heartbeat. Your \
         program's threads pay this each time they come back from I/O while another thread \
         runs Python; sys.setswitchinterval() trades it against more hand-offs.",
    );
    if cfg.python.is_some() || cfg.simulated {
        println!();
        let (busy, busy_expected) = lateness[1];
        let interval_ms = default.as_secs_f64() * 1e3;
        if cfg.model.free_threaded() {
            claim(Claim {
                figure: "wait per wake-up beside a Python thread, no GIL",
                unit: Unit::Millis,
                measured: busy * 1e3,
                expected: busy_expected * 1e3,
                low: 0.0,
                high: 0.4 * interval_ms,
                text: "With no GIL, a wake-up did not wait for one.",
            });
        } else {
            claim(Claim {
                figure: "GIL wait per wake-up beside a Python thread",
                unit: Unit::Millis,
                measured: busy * 1e3,
                expected: busy_expected * 1e3,
                low: 0.4 * interval_ms,
                high: 4.0 * interval_ms,
                text: "Each wake-up waited about a switch interval for the GIL.",
            });
            let (short_wait, short_expected) = lateness[2];
            let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::INFINITY };
            claim(Claim {
                figure: "that wait at 5 ms / at 1 ms",
                unit: Unit::Ratio,
                measured: ratio(busy, short_wait),
                expected: ratio(busy_expected, short_expected),
                low: 1.5,
                high: 20.0,
                text: "A shorter switch interval shortened the wait.",
            });
        }
    }
    println!();
    profilers(measured.as_ref());
    Ok(())
}

/// What the real profilers said, or how to get them.
fn profilers(measured: Option<&Measured>) {
    let py_spy = match measured.map(|m| (&m.py_spy, m.runs.get("py_spy"))) {
        Some((Some(_), Some(run))) if run.status == 0 => format!(
            "py-spy record --gil sampled a two-thread countdown: {} samples, each taken \
             only while a thread held the GIL.",
            run.samples
        ),
        Some((Some(_), Some(run))) => format!(
            "py-spy is installed but could not sample here (status {}: {}); it needs \
             permission to read another process (root, or ptrace allowed).",
            run.status, run.said
        ),
        _ => "py-spy is not installed: `python3 -m pip install py-spy`, then \
              `py-spy record --gil -o gil.svg -- python3 your_program.py` draws a \
              flame graph of only the samples where a thread held the GIL."
            .to_owned(),
    };
    let sampling = match measured.map(|m| (m.sampling, m.runs.get("sampling"))) {
        Some((true, Some(run))) => format!(
            "python -m profiling.sampling run --mode gil ran (status {}): {}",
            run.status, run.said
        ),
        _ => "This Python has no profiling.sampling (new in 3.15): there, `python -m \
              profiling.sampling run --mode gil your_program.py` samples the same way."
            .to_owned(),
    };
    note(&format!("{py_spy} {sampling}"));
}
