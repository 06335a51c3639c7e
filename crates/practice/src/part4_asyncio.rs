#![doc = include_str!("part4_asyncio.md")]

use std::time::Duration;

use gil_core::claim::{Claim, Unit};
use gil_core::context::Cx;
use gil_core::part::{Part, Run as PartRun};
use gil_core::report::{Table, note};
use gil_core::sim::{Script, Step, simulate};
use serde::Deserialize;

use crate::{Config, Model, states_claims};

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
    rows: Vec<Measurement>,
}

#[derive(Deserialize)]
struct Measurement {
    case: String,
    max_gap: f64,
    median_gap: f64,
}

/// The ticker's gaps while one way of doing the work runs, in seconds.
#[derive(Clone, Debug, PartialEq)]
pub struct Gaps {
    /// The way, as [`WAYS`] names it.
    pub case: &'static str,
    /// The longest gap between two ticks.
    pub longest: f64,
    /// The median gap (the simulator's: the mean, the same for a steady ticker).
    pub median: f64,
}

/// What part 4 shows.
#[derive(Clone, Debug, PartialEq)]
pub struct Figures {
    /// Whether the learner's Python measured the gaps (false: the simulator's).
    pub measured: bool,
    /// How long the work lasts.
    pub work: Duration,
    /// One per way of [`WAYS`], in order.
    pub rows: Vec<Gaps>,
}

fn ms(d: f64) -> String {
    Unit::Millis.show(d * 1e3)
}

/// The part's prose: the module docs, and what the lesson prints first.
pub const TEXT: &str = include_str!("part4_asyncio.md");

/// The work's length in this run.
fn work(cx: &Cx) -> Duration {
    if cx.quick() { WORK / 2 } else { WORK }
}

/// Part 4 in the lesson's table.
pub struct Asyncio;

impl Part<Config> for Asyncio {
    type Figures = Figures;

    fn title(&self) -> &'static str {
        "threads and asyncio"
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
        let work = work(cx);
        let seconds = work.as_secs_f64().to_string();
        let m: Measured = cfg
            .scripts
            .run(python, "loop_gap.py", &[&seconds], cfg.timeout())?;
        // A way the script did not report keeps the simulator's gap.
        let mut figures = self.simulate(cx, cfg)?;
        for row in &mut figures.rows {
            if let Some(r) = m.rows.iter().find(|r| r.case == row.case) {
                (row.longest, row.median) = (r.max_gap, r.median_gap);
            }
        }
        figures.measured = true;
        Ok(figures)
    }

    fn simulate(&self, cx: &Cx, cfg: &Config) -> anyhow::Result<Figures> {
        let work = work(cx);
        let rows = WAYS
            .iter()
            .map(|&(case, way)| {
                let gap = expected_gap(way, work, cfg.model).as_secs_f64();
                Gaps {
                    case,
                    longest: gap,
                    median: gap,
                }
            })
            .collect();
        Ok(Figures {
            measured: false,
            work,
            rows,
        })
    }

    fn show(&self, cx: &mut Cx, cfg: &Config, run: PartRun<'_, Figures>) -> anyhow::Result<()> {
        let f = run.figures;
        let measured = |v: f64| if f.measured { ms(v) } else { "-".into() };
        let mut table = Table::new(&["the work", "longest gap", "median", "model"]);
        for (row, expected) in f.rows.iter().zip(&run.expected.rows) {
            table.push([
                row.case.to_owned(),
                measured(row.longest),
                measured(row.median),
                ms(expected.median),
            ]);
        }
        table.print();
        note(&format!(
            "The work lasts {} s. The ticker awaits asyncio.sleep({} s); a gap longer than \
             that is time the event loop could not run it. model: the simulator's gap (the \
             blocked loop's, the work's own length). Use to_thread or run_in_executor for \
             blocking calls that release the GIL (file and socket I/O, sleeps, hashing); a \
             ProcessPoolExecutor for Python code.",
            f.work.as_secs_f64(),
            TICK.as_secs_f64()
        ));
        if states_claims(cx, f.measured) {
            println!();
            claim_gaps(cx, cfg, f, run.expected);
        }
        Ok(())
    }
}

fn claim_gaps(cx: &mut Cx, cfg: &Config, f: &Figures, expected: &Figures) {
    let work = f.work.as_secs_f64();
    let [stall, io, py, pool] = [0, 1, 2, 3].map(|i| (&f.rows[i], &expected.rows[i]));
    cx.claim(Claim {
        figure: "longest gap, time.sleep in the coroutine",
        unit: Unit::Millis,
        measured: stall.0.longest * 1e3,
        expected: stall.1.longest * 1e3,
        low: 0.8 * work * 1e3,
        high: 10.0 * work * 1e3,
        text: "A blocking call in a coroutine stalled the whole event loop.",
    });
    cx.claim(Claim {
        figure: "longest gap, to_thread(time.sleep)",
        unit: Unit::Millis,
        measured: io.0.longest * 1e3,
        expected: io.1.longest * 1e3,
        low: 0.0,
        high: 0.5 * work * 1e3,
        text: "asyncio.to_thread removed the stall for a call that releases the GIL.",
    });
    let ratio = py.0.median / io.0.median.max(1e-9);
    let ratio_expected = py.1.median / io.1.median;
    if cfg.model.free_threaded() {
        cx.claim(Claim {
            figure: "median gap, to_thread(Python loop) / to_thread(sleep)",
            unit: Unit::Ratio,
            measured: ratio,
            expected: ratio_expected,
            low: 0.0,
            high: 1.3,
            text: "With no GIL, to_thread kept the loop free for Python code too.",
        });
        return;
    }
    cx.claim(Claim {
        figure: "median gap, to_thread(Python loop) / to_thread(sleep)",
        unit: Unit::Ratio,
        measured: ratio,
        expected: ratio_expected,
        low: 1.3,
        high: 20.0,
        text: "For Python code it did not: each tick waited for the GIL first.",
    });
    cx.claim(Claim {
        figure: "median gap, process pool / to_thread(Python loop)",
        unit: Unit::Ratio,
        measured: pool.0.median / py.0.median.max(1e-9),
        expected: pool.1.median / py.1.median,
        low: 0.0,
        high: 0.85,
        text: "A process pool ran the Python code without slowing the loop as much.",
    });
}
