#![doc = include_str!("part3_cost.md")]

use std::time::Duration;

use gil_core::claim::{Claim, Unit};
use gil_core::context::Cx;
use gil_core::part::{Part, Run as PartRun};
use gil_core::report::{Table, note};
use gil_core::sim::{Script, Step, simulate};
use serde::Deserialize;

use crate::{Config, Model, first_showing_of_its_kind, states_claims};

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
    rows: Vec<Measurement>,
    py_spy: Option<String>,
    sampling: bool,
    runs: std::collections::BTreeMap<String, ProfilerRun>,
}

#[derive(Deserialize)]
struct Measurement {
    case: String,
    interval: f64,
    median: f64,
}

/// One run of a real profiler by the script.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct ProfilerRun {
    /// Its exit status.
    pub status: i32,
    /// Samples it took.
    pub samples: u64,
    /// The end of what it printed.
    pub said: String,
}

/// What the real profilers did, as far as the script found them.
#[derive(Clone, Debug, PartialEq)]
pub struct Profilers {
    /// `py-spy record --gil`'s run, if it is installed and ran.
    pub py_spy: Option<ProfilerRun>,
    /// `python -m profiling.sampling --mode gil`'s run, if this Python has it and it ran.
    pub sampling: Option<ProfilerRun>,
}

/// The heartbeat's cases, in the table's order: (name, switch interval, beside a thread
/// running Python).
pub const CASES: [(&str, Duration, bool); 3] = [
    ("alone", DEFAULT_INTERVAL, false),
    ("beside a Python thread", DEFAULT_INTERVAL, true),
    ("beside it, interval 1 ms", Duration::from_millis(1), true),
];

/// CPython's default switch interval, the first two cases'.
const DEFAULT_INTERVAL: Duration = Duration::from_millis(5);

/// One case's row of the table.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The case, as [`CASES`] names it.
    pub case: &'static str,
    /// The heartbeat's median lateness, when Python measured it, in seconds.
    pub late: Option<f64>,
    /// The part of each wake-up spent waiting for the GIL, in seconds: the lateness beyond
    /// the heartbeat's alone, or the simulator's mean wait.
    pub gil_wait: f64,
}

/// What part 3 shows.
#[derive(Clone, Debug, PartialEq)]
pub struct Figures {
    /// Whether the learner's Python measured the lateness (false: the simulator's waits).
    pub measured: bool,
    /// One row per case of [`CASES`], in order.
    pub rows: Vec<Row>,
    /// The real profilers (`None` when no Python ran).
    pub profilers: Option<Profilers>,
}

fn ms(seconds: f64) -> String {
    Unit::Millis.show(seconds * 1e3)
}

/// The part's prose: the module docs, and what the lesson prints first.
pub const TEXT: &str = include_str!("part3_cost.md");

/// The simulator's waits, one row per case.
fn simulated_rows(cfg: &Config) -> Vec<Row> {
    CASES
        .iter()
        .map(|&(case, interval, busy)| Row {
            case,
            late: None,
            gil_wait: expected_wait(
                Model {
                    interval,
                    ..cfg.model
                },
                busy,
            )
            .as_secs_f64(),
        })
        .collect()
}

/// Part 3 in the lesson's table.
pub struct Cost;

impl Part<Config> for Cost {
    type Figures = Figures;

    fn title(&self) -> &'static str {
        "how much does the GIL cost my program?"
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
        let Some(python) = &cfg.python else {
            return self.simulate(cx, cfg);
        };
        let seconds = if cx.quick() { "0.2" } else { "0.4" };
        let m: Measured = cfg
            .scripts
            .run(python, "cost.py", &[seconds], cfg.timeout())?;
        let alone = m
            .rows
            .iter()
            .find(|r| r.case == "alone")
            .map_or(0.0, |r| r.median);
        // A case the script did not report keeps the simulator's wait and no lateness.
        let rows = simulated_rows(cfg)
            .into_iter()
            .zip(CASES)
            .map(|(row, (_, interval, busy))| {
                let late = m.rows.iter().find(|r| {
                    (r.case == "busy") == busy && (r.interval - interval.as_secs_f64()).abs() < 1e-9
                });
                match late {
                    Some(r) => Row {
                        late: Some(r.median),
                        gil_wait: (r.median - alone).max(0.0),
                        ..row
                    },
                    None => row,
                }
            })
            .collect();
        let profiler = |name: &str| m.runs.get(name).cloned();
        let profilers = Profilers {
            py_spy: m.py_spy.as_ref().and_then(|_| profiler("py_spy")),
            sampling: m.sampling.then(|| profiler("sampling")).flatten(),
        };
        Ok(Figures {
            measured: true,
            rows,
            profilers: Some(profilers),
        })
    }

    fn simulate(&self, _cx: &Cx, cfg: &Config) -> anyhow::Result<Figures> {
        Ok(Figures {
            measured: false,
            rows: simulated_rows(cfg),
            profilers: None,
        })
    }

    fn show(&self, cx: &mut Cx, cfg: &Config, run: PartRun<'_, Figures>) -> anyhow::Result<()> {
        let f = run.figures;
        let mut table = Table::new(&["heartbeat", "late (median)", "of it GIL wait", "model"]);
        for (row, expected) in f.rows.iter().zip(&run.expected.rows) {
            table.push([
                row.case.to_owned(),
                row.late.map_or("-".into(), ms),
                row.late.map_or("-".into(), |_| ms(row.gil_wait)),
                ms(expected.gil_wait),
            ]);
        }
        table.print();
        note(
            "model: the simulator's mean GIL wait per wake-up of the same heartbeat. Your \
             program's threads pay this each time they come back from I/O while another \
             thread runs Python; sys.setswitchinterval() trades it against more hand-offs.",
        );
        if states_claims(cx, f.measured) {
            println!();
            claim_waits(cx, cfg, f, run.expected);
        }
        if first_showing_of_its_kind(cx) {
            println!();
            profilers(f.profilers.as_ref());
        }
        Ok(())
    }
}

fn claim_waits(cx: &mut Cx, cfg: &Config, f: &Figures, expected: &Figures) {
    let wait = |x: &Figures, i: usize| x.rows[i].gil_wait;
    let (busy, busy_expected) = (wait(f, 1), wait(expected, 1));
    let interval_ms = DEFAULT_INTERVAL.as_secs_f64() * 1e3;
    if cfg.model.free_threaded() {
        cx.claim(Claim {
            figure: "wait per wake-up beside a Python thread, no GIL",
            unit: Unit::Millis,
            measured: busy * 1e3,
            expected: busy_expected * 1e3,
            low: 0.0,
            high: 0.4 * interval_ms,
            text: "With no GIL, a wake-up did not wait for one.",
        });
        return;
    }
    cx.claim(Claim {
        figure: "GIL wait per wake-up beside a Python thread",
        unit: Unit::Millis,
        measured: busy * 1e3,
        expected: busy_expected * 1e3,
        low: 0.4 * interval_ms,
        high: 4.0 * interval_ms,
        text: "Each wake-up waited about a switch interval for the GIL.",
    });
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::INFINITY };
    cx.claim(Claim {
        figure: "that wait at 5 ms / at 1 ms",
        unit: Unit::Ratio,
        measured: ratio(busy, wait(f, 2)),
        expected: ratio(busy_expected, wait(expected, 2)),
        low: 1.5,
        high: 20.0,
        text: "A shorter switch interval shortened the wait.",
    });
}

/// What the real profilers said, or how to get them.
fn profilers(found: Option<&Profilers>) {
    let py_spy = match found.map(|p| p.py_spy.as_ref()) {
        Some(Some(run)) if run.status == 0 => format!(
            "py-spy record --gil sampled a two-thread countdown: {} samples, each taken \
             only while a thread held the GIL.",
            run.samples
        ),
        Some(Some(run)) => format!(
            "py-spy is installed but could not sample here (status {}: {}); it needs \
             permission to read another process (root, or ptrace allowed).",
            run.status, run.said
        ),
        _ => "py-spy is not installed: `python3 -m pip install py-spy`, then \
              `py-spy record --gil -o gil.svg -- python3 your_program.py` draws a \
              flame graph of only the samples where a thread held the GIL."
            .to_owned(),
    };
    let sampling = match found.map(|p| p.sampling.as_ref()) {
        Some(Some(run)) => format!(
            "python -m profiling.sampling run --mode gil ran (status {}): {}",
            run.status, run.said
        ),
        _ => "This Python has no profiling.sampling (new in 3.15): there, `python -m \
              profiling.sampling run --mode gil your_program.py` samples the same way."
            .to_owned(),
    };
    note(&format!("{py_spy} {sampling}"));
}
