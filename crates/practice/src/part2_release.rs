#![doc = include_str!("part2_release.md")]

use std::time::Duration;

use gil_core::claim::{Claim, Unit};
use gil_core::context::Cx;
use gil_core::part::{Part, Run as PartRun};
use gil_core::report::{Table, note, python};
use gil_core::sim::{Script, Step, simulate};
use serde::Deserialize;

use crate::{Config, Model, first_showing_of_its_kind, percent, scripts, states_claims};

/// The Python this part runs (in `py/release.py`).
pub const PYTHON: &str = "\
def beat():                     # the heartbeat thread
    while not stop.is_set():
        time.sleep(0.0005)      # needs no GIL
        ticks.append(time.perf_counter())   # needs the GIL
threading.Thread(target=beat).start()
call()                          # ticks during the call, against alone";

/// What CPython's source says a call does with the GIL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gil {
    /// It releases the GIL for its whole length (`Py_BEGIN_ALLOW_THREADS`).
    Releases,
    /// It is Python code: it lets go at check points when asked.
    Python,
    /// It is C code that keeps the GIL and runs no bytecode.
    Holds,
}

impl Gil {
    /// The verdict a heartbeat share gives.
    pub fn from_share(share: f64) -> Gil {
        if share >= RELEASES {
            Gil::Releases
        } else if share >= PYTHON_CODE {
            Gil::Python
        } else {
            Gil::Holds
        }
    }

    /// How the table says it.
    pub fn verdict(self) -> &'static str {
        match self {
            Gil::Releases => "releases",
            Gil::Python => "hands over",
            Gil::Holds => "holds",
        }
    }

    /// The sentence a held claim prints.
    fn sentence(self, name: &str) -> String {
        match self {
            Gil::Releases => format!("{name} released the GIL."),
            Gil::Python => format!("{name} let the heartbeat in at check points only."),
            Gil::Holds => format!("{name} kept the GIL: the heartbeat could not run."),
        }
    }

    /// The share bounds of this verdict.
    fn bounds(self) -> (f64, f64) {
        match self {
            Gil::Releases => (RELEASES, 1.0),
            Gil::Python => (PYTHON_CODE, RELEASES),
            Gil::Holds => (0.0, PYTHON_CODE),
        }
    }

    fn step(self, length: Duration) -> Step {
        match self {
            Gil::Releases => Step::NativeReleased(length),
            Gil::Python => Step::Bytecode(length),
            Gil::Holds => Step::NativeHolding(length),
        }
    }
}

/// A heartbeat share at least this: the call released the GIL.
pub const RELEASES: f64 = 0.25;
/// At least this (and below [`RELEASES`]): Python code, letting go once per switch interval.
pub const PYTHON_CODE: f64 = 0.008;

/// The calls the script probes, and what CPython's (or NumPy's) source says of each.
pub const CALLS: [(&str, Gil); 8] = [
    ("time.sleep", Gil::Releases),
    ("hashlib.sha256", Gil::Releases),
    ("zlib.compress", Gil::Releases),
    ("pure-Python loop", Gil::Python),
    ("sorted, floats", Gil::Holds),
    ("json.dumps, dicts", Gil::Holds),
    ("numpy matrix product", Gil::Releases),
    ("numpy.sort", Gil::Releases),
];

/// The heartbeat share the simulator expects for a call of kind `gil`: a heartbeat of 0.5 ms
/// sleeps beside a 100 ms call; the ticks it could not make during the call it makes after,
/// so the share is 1 − (its delay ÷ the call's length).
pub fn expected_share(gil: Gil, model: Model) -> f64 {
    let call = Duration::from_millis(100);
    let tick = Duration::from_micros(500);
    let ticks = u32::try_from(call.as_micros() / tick.as_micros()).unwrap_or(200);
    let heartbeat = Step::Repeat(
        ticks,
        vec![
            Step::Blocking(tick),
            Step::Bytecode(Duration::from_micros(2)),
        ],
    );
    let cfg = model.sim();
    let alone = simulate(
        &cfg,
        vec![Script::new("heartbeat", vec![heartbeat.clone()])],
    )
    .elapsed;
    let run = simulate(
        &cfg,
        vec![
            Script::new("call", vec![gil.step(call)]),
            Script::new("heartbeat", vec![heartbeat]),
        ],
    );
    let delay = run.finished[1].saturating_sub(alone);
    (1.0 - delay.as_secs_f64() / call.as_secs_f64()).clamp(0.0, 1.0)
}

#[derive(Deserialize)]
struct Measured {
    numpy: Option<String>,
    rows: Vec<Measurement>,
}

#[derive(Deserialize)]
struct Measurement {
    call: String,
    seconds: f64,
    share: f64,
}

/// One call's row of the table.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The call, as the script names it.
    pub call: &'static str,
    /// What it does with the GIL by CPython's source (everything releases without a GIL).
    pub gil: Gil,
    /// How long the call took, when Python ran it.
    pub seconds: Option<f64>,
    /// The share of the call's time the heartbeat could run, 0 to 1 (the simulator's when
    /// nothing measured it).
    pub share: f64,
}

/// What part 2 shows: a row per call of [`CALLS`] that ran (NumPy's only where installed).
#[derive(Clone, Debug, PartialEq)]
pub struct Figures {
    /// Whether the learner's Python measured the shares (false: the simulator's).
    pub measured: bool,
    /// NumPy's version where the learner's Python has it (`None` also when nothing ran).
    pub numpy: Option<String>,
    /// The rows.
    pub rows: Vec<Row>,
}

impl Figures {
    /// The row of `call`, if it ran.
    pub fn row(&self, call: &str) -> Option<&Row> {
        self.rows.iter().find(|r| r.call == call)
    }
}

/// What the call of kind `gil` does under `model`: without a GIL nothing holds it, so every
/// call lets the heartbeat run.
fn kind(gil: Gil, model: Model) -> Gil {
    if model.free_threaded() {
        Gil::Releases
    } else {
        gil
    }
}

/// The part's prose: the module docs, and what the lesson prints first.
pub const TEXT: &str = include_str!("part2_release.md");

/// Part 2 in the lesson's table.
pub struct ReleaseProbe;

impl Part<Config> for ReleaseProbe {
    type Figures = Figures;

    fn title(&self) -> &'static str {
        "does this call release the GIL?"
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
        let m: Measured = cfg
            .scripts
            .run(python, "release.py", &[cfg.scale(cx)], cfg.timeout())?;
        // A call the script did not run needs NumPy, which is not installed.
        let rows = CALLS
            .iter()
            .filter_map(|&(call, gil)| {
                let r = m.rows.iter().find(|r| r.call == call)?;
                Some(Row {
                    call,
                    gil: kind(gil, cfg.model),
                    seconds: Some(r.seconds),
                    share: r.share,
                })
            })
            .collect();
        Ok(Figures {
            measured: true,
            numpy: m.numpy,
            rows,
        })
    }

    fn simulate(&self, _cx: &Cx, cfg: &Config) -> anyhow::Result<Figures> {
        let rows = CALLS
            .iter()
            .map(|&(call, gil)| {
                let gil = kind(gil, cfg.model);
                Row {
                    call,
                    gil,
                    seconds: None,
                    share: expected_share(gil, cfg.model),
                }
            })
            .collect();
        Ok(Figures {
            measured: false,
            numpy: None,
            rows,
        })
    }

    fn show(&self, cx: &mut Cx, cfg: &Config, run: PartRun<'_, Figures>) -> anyhow::Result<()> {
        let f = run.figures;
        let expected = |row: &Row| run.expected.row(row.call).map_or(f64::NAN, |e| e.share);
        let mut table = Table::new(&["call", "time", "heartbeat", "verdict", "model"]);
        for row in &f.rows {
            table.push([
                row.call.to_owned(),
                row.seconds
                    .map_or("-".into(), |s| format!("{:.0} ms", s * 1e3)),
                percent(row.share),
                Gil::from_share(row.share).verdict().to_owned(),
                format!(
                    "{} {}",
                    if cfg.model.free_threaded() {
                        "no GIL"
                    } else {
                        row.gil.verdict()
                    },
                    percent(expected(row))
                ),
            ]);
        }
        table.print();
        let numpy = match (f.measured, &f.numpy) {
            (true, Some(version)) => {
                format!("NumPy {version} is installed: its rows are measured.")
            }
            (true, None) => "NumPy is not installed for this Python, so its rows are left \
                             out (`python3 -m pip install numpy` adds them)."
                .to_owned(),
            (false, _) => String::new(),
        };
        note(&format!(
            "heartbeat: the share of the call's time the heartbeat could run, against its pace \
             alone. hands over: Python code, which lets a waiting thread in once per switch \
             interval. model: what CPython's source says the call does, and the simulator's \
             share for it. {numpy}"
        ));
        if states_claims(cx, f.measured) {
            println!();
            for row in &f.rows {
                let (low, high) = row.gil.bounds();
                cx.claim(Claim {
                    figure: &format!("heartbeat during {}", row.call),
                    unit: Unit::Percent,
                    measured: row.share * 100.0,
                    expected: expected(row) * 100.0,
                    low: low * 100.0,
                    high: high * 100.0,
                    text: &row.gil.sentence(row.call),
                });
            }
        }
        if first_showing_of_its_kind(cx) {
            println!();
            note(
                "The probe as a recipe: paste it into your program and call it on the call \
                 you wonder about, with data of your real size. Near 1: threads will overlap \
                 it. Near 0: it holds the GIL; threads will queue behind it (use processes, \
                 or a library that releases it).",
            );
            python(scripts::release_probe());
        }
        Ok(())
    }
}
