//! Part 6 — "When is the GIL released?", measured instead of asserted.
//!
#![doc = include_str!("part6_release_table.md")]
//!
//! The tutorial prints a table: sleep, file I/O, network I/O and NumPy release the GIL; pure
//! Python computation and object manipulation do not. Here each row is an experiment. Two
//! threads do the row's operation at the same time, and the model's accounting says what
//! happened:
//!
//! * **GIL held** — the share of the threads' busy time spent holding the GIL. Operations that
//!   release it spend almost all their time inside `detach`.
//! * **overlap** — busy time (holding the GIL or inside `detach`, but not waiting for
//!   the GIL) over wall time. About 2.0: the two threads ran at once. About 1.0: they took turns.
//!
//! Two limits to keep in mind. Work that needs a CPU even with the GIL released (copying file
//! data, array arithmetic) can only run at the same time if there is a second core. And the
//! ndarray row is released only because our model extension wraps its array loop in
//! `detach`, as NumPy's C code does around its long loops; a library that did not would
//! behave like the pure computation row.

use std::collections::HashMap;
use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use gil_core::claim::{Claim, Unit};
use gil_core::context::Cx;
use gil_core::echo::{Behaviour, LoopbackServer};
use gil_core::measure::{fmt_ratio, time};
use gil_core::part::{Part, Run as PartRun};
use gil_core::sim::{Script, Step, simulate};
use gil_core::work::countdown;
use gil_core::{GilGuard, report};
use ndarray::Array1;

use crate::cleanup::ScratchDir;
use crate::part2_real_io::{file_task, request_task};
use crate::{Config, Overlap};

/// The Python this part models: one row of the table.
pub const PYTHON: &str = "
def row(operation):          # e.g. lambda: np.sum(a ** 2)
    threads = [Thread(target=operation) for _ in range(2)]
    for t in threads: t.start()
    for t in threads: t.join()";

/// Threads per experiment.
pub const THREADS: usize = 2;

/// The operations of the tutorial's table, in its order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// `time.sleep`.
    Sleep,
    /// Writing, fsyncing and reading back a file.
    FileIo,
    /// Requests to the slow loopback server.
    NetworkIo,
    /// `np.sum(arr ** 2)` on an ndarray, inside `detach`.
    Ndarray,
    /// A countdown: pure "Python" arithmetic.
    PureComputation,
    /// Appending to a list and storing into a dict.
    ObjectManipulation,
}

impl Operation {
    /// Every row, in the tutorial's order.
    pub const ALL: [Operation; 6] = [
        Operation::Sleep,
        Operation::FileIo,
        Operation::NetworkIo,
        Operation::Ndarray,
        Operation::PureComputation,
        Operation::ObjectManipulation,
    ];

    /// The row's label.
    pub fn label(self) -> &'static str {
        match self {
            Operation::Sleep => "time.sleep",
            Operation::FileIo => "file write, fsync, read",
            Operation::NetworkIo => "network I/O (socket)",
            Operation::Ndarray => "ndarray sum of squares",
            Operation::PureComputation => "pure computation",
            Operation::ObjectManipulation => "object manipulation",
        }
    }

    /// Whether the operation needs a CPU while it runs (so its overlap is limited by cores).
    pub fn needs_cpu(self) -> bool {
        !matches!(self, Operation::Sleep | Operation::NetworkIo)
    }

    /// Whether the tutorial's table says it releases the GIL.
    pub fn releases_the_gil(self) -> bool {
        !matches!(
            self,
            Operation::PureComputation | Operation::ObjectManipulation
        )
    }

    /// One thread's work in the simulator, with the durations of `cfg`'s sizes.
    fn sim_steps(self, cfg: &Config) -> Vec<Step> {
        let wait = cfg.server_delay / CALLS as u32;
        let py = Duration::from_micros(5);
        let cpu = Duration::from_nanos(cfg.cpu_iters / 2).max(Duration::from_micros(10));
        match self {
            Operation::Sleep | Operation::NetworkIo => vec![Step::Repeat(
                CALLS as u32,
                vec![Step::Blocking(wait), Step::Bytecode(py)],
            )],
            Operation::FileIo | Operation::Ndarray => vec![Step::Repeat(
                CALLS as u32,
                vec![Step::NativeReleased(wait), Step::Bytecode(py)],
            )],
            Operation::PureComputation | Operation::ObjectManipulation => {
                vec![Step::Bytecode(cpu)]
            }
        }
    }
}

/// One measured row.
#[derive(Clone, Debug)]
pub struct Row {
    /// What the two threads did.
    pub operation: Operation,
    /// How they spent their time.
    pub overlap: Overlap,
}

impl Row {
    /// Released: the threads held the GIL for less than half of their busy time.
    pub fn released(&self) -> bool {
        self.overlap.held_share() < 0.5
    }

    /// "yes" (overlap ≥ 1.5), "no" (< 1.2) or "partly".
    pub fn overlapped(&self) -> &'static str {
        match self.overlap.ratio() {
            r if r >= 1.5 => "yes",
            r if r < 1.2 => "no",
            _ => "partly",
        }
    }
}

/// What part 6 measured.
#[derive(Clone, Debug)]
pub struct Report {
    /// One row per operation, in [`Operation::ALL`] order.
    pub rows: Vec<Row>,
}

/// What every experiment shares: the scratch directory, the server, the array.
struct Fixture {
    scratch: ScratchDir,
    server: LoopbackServer,
    array: Array1<f64>,
    array_reps: usize,
    sleep: Duration,
    file_kib: usize,
    cpu_iters: u64,
}

/// Blocking calls per thread in the sleep and network rows.
const CALLS: usize = 4;

fn do_operation(
    op: Operation,
    fx: &Fixture,
    py: &mut GilGuard<'_>,
    thread: usize,
) -> anyhow::Result<()> {
    match op {
        Operation::Sleep => {
            for _ in 0..CALLS {
                py.detach(|| std::thread::sleep(fx.sleep));
            }
        }
        Operation::FileIo => {
            file_task(py, fx.scratch.path(), thread, fx.file_kib)?;
        }
        Operation::NetworkIo => {
            for call in 0..CALLS {
                anyhow::ensure!(
                    request_task(py, &fx.server, thread * CALLS + call)?,
                    "wrong reply from the server"
                );
            }
        }
        Operation::Ndarray => {
            for _ in 0..fx.array_reps {
                // The model extension: release the GIL around the whole array loop, as NumPy does.
                let sum = py.detach(|| (&fx.array * &fx.array).sum());
                black_box(sum);
                py.check_point();
            }
        }
        Operation::PureComputation => countdown(py, fx.cpu_iters),
        Operation::ObjectManipulation => manipulate_objects(py, fx.cpu_iters / 100),
    }
    Ok(())
}

/// `items.append(i)` and `table[i % 1024] = i`, a check point after each "bytecode".
fn manipulate_objects(py: &mut GilGuard<'_>, n: u64) {
    let mut items = Vec::new();
    let mut table = HashMap::new();
    for i in 0..n {
        items.push(black_box(i));
        py.check_point();
        table.insert(i % 1024, black_box(i));
        py.check_point();
    }
    black_box((items.len(), table.len()));
}

fn measure_row(cfg: &Config, fx: &Fixture, op: Operation) -> anyhow::Result<Row> {
    let gil = cfg.gil();
    let (results, wall) = time(|| gil.run_threads(THREADS, |i, py| do_operation(op, fx, py, i)));
    results.into_iter().collect::<anyhow::Result<Vec<()>>>()?;
    Ok(Row {
        operation: op,
        overlap: Overlap::from_stats(&gil.stats(), wall),
    })
}

/// Measure every row live.
pub fn measure(cfg: &Config) -> anyhow::Result<Report> {
    let (elements, array_reps) = if cfg.quick {
        (100_000, 4)
    } else {
        (1_000_000, 40)
    };
    let fx = Fixture {
        scratch: ScratchDir::new()?,
        server: LoopbackServer::start(Behaviour::Delayed(cfg.server_delay / CALLS as u32))?,
        array: Array1::linspace(0.0, 1.0, elements),
        array_reps,
        sleep: cfg.server_delay / CALLS as u32,
        file_kib: cfg.file_kib / 2,
        cpu_iters: cfg.cpu_iters / 2,
    };
    let rows = Operation::ALL
        .iter()
        .map(|&op| measure_row(cfg, &fx, op))
        .collect::<anyhow::Result<Vec<Row>>>()?;
    fx.server.shutdown()?;
    remove_dir_checked(fx.scratch)?;
    Ok(Report { rows })
}

/// Every row on the simulator.
pub fn simulated(cfg: &Config, cores: usize) -> Report {
    let rows = Operation::ALL
        .iter()
        .map(|&op| {
            let run = simulate(
                &cfg.sim(cores),
                (1..=THREADS)
                    .map(|i| Script::new(format!("T{i}"), op.sim_steps(cfg)))
                    .collect(),
            );
            Row {
                operation: op,
                overlap: Overlap::from_stats(run.stats(), run.elapsed),
            }
        })
        .collect();
    Report { rows }
}

/// The part's prose (also its documentation, and the book's page).
pub const TEXT: &str = include_str!("part6_release_table.md");

/// Part 6 in the lesson's table.
pub struct ReleaseTable;

impl Part<Config> for ReleaseTable {
    type Figures = Report;

    fn title(&self) -> &'static str {
        "when is the GIL released?"
    }

    fn python(&self) -> &'static str {
        PYTHON
    }

    fn text(&self) -> &'static str {
        TEXT
    }

    fn cores_needed(&self, _cfg: &Config) -> usize {
        2
    }

    fn live(&self, _cx: &Cx, cfg: &Config) -> anyhow::Result<Report> {
        measure(cfg)
    }

    fn simulate(&self, cx: &Cx, cfg: &Config) -> anyhow::Result<Report> {
        Ok(simulated(cfg, cx.sim_cores()))
    }

    fn show(&self, cx: &mut Cx, cfg: &Config, run: PartRun<'_, Report>) -> anyhow::Result<()> {
        show(cx, cfg, run.figures, run.expected)
    }
}

/// Rows whose "released?" answer is the expected one (waiting and native loops release,
/// Python code does not).
fn rows_as_expected(r: &Report) -> usize {
    r.rows
        .iter()
        .filter(|row| row.released() == row.operation.releases_the_gil())
        .count()
}

/// Print the table of `r` and the claims it supports, beside the simulator's `expected`.
pub fn show(cx: &mut Cx, cfg: &Config, r: &Report, expected: &Report) -> anyhow::Result<()> {
    let free = cfg.free_threaded();
    let mut table = report::Table::new(&[
        "operation",
        "at once",
        "GIL held",
        "releases?",
        "ran together?",
    ]);
    for row in &r.rows {
        table.push([
            row.operation.label().to_owned(),
            fmt_ratio(row.overlap.ratio()),
            Unit::Percent.show(row.overlap.held_share() * 100.0),
            match (free, row.released()) {
                (true, _) => "no GIL",
                (false, true) => "yes",
                (false, false) => "no",
            }
            .to_owned(),
            row.overlapped().to_owned(),
        ]);
    }
    table.print();
    if free {
        let pure = |r: &Report| {
            r.rows
                .iter()
                .find(|row| row.operation == Operation::PureComputation)
                .map_or(f64::NAN, |row| row.overlap.ratio())
        };
        let e = pure(expected);
        cx.claim(Claim {
            figure: "pure computation, threads running at once",
            unit: Unit::Ratio,
            measured: pure(r),
            expected: e,
            low: e * 0.6,
            high: THREADS as f64 + 0.05,
            text: "Without a GIL even pure computation ran on both threads at once, as far as \
                   the cores allowed.",
        });
        return Ok(());
    }
    let e = rows_as_expected(expected) as f64;
    cx.claim(Claim {
        figure: "rows that came out as expected",
        unit: Unit::Count,
        measured: rows_as_expected(r) as f64,
        expected: e,
        low: e,
        high: e,
        text: "Waiting, file I/O and the ndarray loop release the GIL; Python code does \
               not, so two threads running it take turns.",
    });
    Ok(())
}

/// Drop the scratch directory and make sure it is gone.
fn remove_dir_checked(scratch: ScratchDir) -> anyhow::Result<()> {
    let path: &Path = scratch.path();
    let path = path.to_owned();
    drop(scratch);
    anyhow::ensure!(!path.exists(), "{} was not removed", path.display());
    Ok(())
}
