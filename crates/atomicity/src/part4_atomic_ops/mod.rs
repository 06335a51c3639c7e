//! Part 4 — which operations the GIL makes atomic, each checked by a hammer test.
//!
#![doc = include_str!("../part4_atomic_ops.md")]
//!
//! Model containers ([`List`], [`Dict`]) keep their state in atomics that are read and written
//! separately, like the fields of CPython's C structs: a C-level operation (`list.append`) is
//! a few plain loads and stores. Under the GIL such an operation is atomic exactly when no
//! check point falls inside it. The free-threaded build has no GIL, so CPython 3.13t takes a
//! per-object lock (a "critical section") around such operations instead.
//!
//! Each row is written once, as a loop body of [`Op`]s (one per modelled instruction, each
//! saying what kind of instruction it is), and run by two drivers:
//!
//! * the GIL columns on part 3's deterministic scheduler ([`Scheduler::run_threads`]): whether
//!   an operation breaks under the GIL is a question of which orderings the check points
//!   allow, so the answer is exact and the same on every machine;
//! * the free-threaded columns on real threads ([`hammer`]), because without a GIL the threads
//!   really run at the same moment, inside each other's C code. Under `--simulated` the 3.13t
//!   column comes from the scheduler too, and the column without object locks is not shown.

mod containers;
mod rows;

use std::sync::Barrier;
use std::time::Duration;

use gil_core::bytecode::{CheckPolicy, ModelThread, Scheduler, Site};
use gil_core::claim::{Claim, Unit};
use gil_core::context::Cx;
use gil_core::measure::fmt_count;
use gil_core::part::{Part, Run};
use gil_core::report::{Table, note};
use gil_core::{Gil, Mode};

pub use containers::{CLEARED, Dict, Interp, List};
pub use rows::{Op, ROWS, Regs, Row, Shared, Size};

use crate::setup::Config;

/// The scheduler's mean time between drop requests in the GIL columns: short, so the GIL
/// changes hands hundreds of times and every check point inside an operation gets its chance.
pub const HAMMER_INTERVAL: Duration = Duration::from_micros(50);

/// One interpreter a hammer test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Column {
    /// The GIL, CPython ≤ 3.9's check points (deterministic scheduler).
    GilOld,
    /// The GIL, CPython 3.10+'s check points (deterministic scheduler).
    GilNew,
    /// Free-threaded with per-object locks around each C-level operation (CPython 3.13t).
    FreeThreaded,
    /// Free-threaded with no per-object locks: what 3.13t would be without them.
    NoObjectLocks,
}

impl Column {
    /// All four, in the order printed.
    pub const ALL: [Column; 4] = [
        Column::GilOld,
        Column::GilNew,
        Column::FreeThreaded,
        Column::NoObjectLocks,
    ];

    fn policy(self) -> CheckPolicy {
        match self {
            Column::GilOld => CheckPolicy::EveryInstruction,
            _ => CheckPolicy::BackEdgesAndCalls,
        }
    }

    fn free_threaded(self) -> bool {
        matches!(self, Column::FreeThreaded | Column::NoObjectLocks)
    }
}

/// One thread of a row on the deterministic scheduler.
struct Stepped<'a> {
    row: &'a Row,
    shared: &'a Shared,
    regs: Regs,
    pc: usize,
    size: Size,
    iterations: u64,
    ip: Interp<'static, 'static>,
}

impl ModelThread for Stepped<'_> {
    fn step(&mut self) -> Option<Site> {
        while self.regs.iteration < self.iterations {
            let op = self.row.body[self.pc];
            self.pc = (self.pc + 1) % self.row.body.len();
            if let Some(site) = op(&mut self.regs, self.shared, &self.ip, self.size) {
                return Some(site);
            }
        }
        None
    }
}

/// Run `row` in `column` on the deterministic scheduler; returns (violations, GIL switches).
pub fn schedule(row: &Row, column: Column, size: Size, seed: u64) -> (u64, u64) {
    let shared = (row.setup)(size);
    let mut threads: Vec<Stepped<'_>> = (0..size.threads)
        .map(|thread| Stepped {
            row,
            shared: &shared,
            regs: Regs::for_thread(thread),
            pc: 0,
            size,
            iterations: (row.iterations)(size),
            ip: Interp {
                py: None,
                policy: column.policy(),
                object_locks: false,
            },
        })
        .collect();
    let switches = Scheduler::new(seed, column.policy())
        .free_threaded(column.free_threaded())
        .switch_interval(HAMMER_INTERVAL)
        .run_threads(&mut threads);
    ((row.violations)(&shared, size), switches)
}

/// Run `row` in a free-threaded `column` on real threads, all starting together; returns the
/// violations.
pub fn hammer(row: &Row, column: Column, size: Size) -> u64 {
    let shared = (row.setup)(size);
    let iterations = (row.iterations)(size);
    let gil = Gil::with_mode(Mode::FreeThreaded);
    let start = Barrier::new(size.threads);
    gil.run_threads(size.threads, |thread, py| {
        // Wait for the others without the GIL, so that every thread is there at the start.
        py.detach(|| start.wait());
        let mut ip = Interp {
            py: Some(py),
            policy: column.policy(),
            object_locks: column == Column::FreeThreaded,
        };
        let mut regs = Regs::for_thread(thread);
        while regs.iteration < iterations {
            for op in row.body {
                if let Some(site) = op(&mut regs, &shared, &ip, size) {
                    ip.after(site);
                }
            }
        }
    });
    (row.violations)(&shared, size)
}

/// What one operation's hammer tests found.
#[derive(Clone, Debug)]
pub struct Operation {
    /// The Python code hammered (also its label).
    pub code: &'static str,
    /// Whether the GIL makes it atomic.
    pub atomic_under_gil: bool,
    /// Whether the verdict is the Python FAQ's (otherwise the course's own reasoning).
    pub in_faq: bool,
    /// Violations counted in each [`Column`], in [`Column::ALL`] order (`None`: not run).
    pub violations: [Option<u64>; 4],
    /// What the deterministic scheduler expects in the 3.13t column.
    pub expected_free: u64,
    /// GIL hand-offs in the two GIL columns.
    pub switches: u64,
}

/// What part 4 measured.
#[derive(Clone, Debug)]
pub struct Report {
    /// One row per operation, in the order printed.
    pub operations: Vec<Operation>,
}

impl Report {
    /// The row for `code`.
    pub fn get(&self, code: &str) -> Option<&Operation> {
        self.operations.iter().find(|op| op.code == code)
    }

    /// The sum of column `column` over the rows that are (or are not) atomic under the GIL.
    fn total(&self, column: usize, atomic: bool) -> u64 {
        self.operations
            .iter()
            .filter(|op| op.atomic_under_gil == atomic)
            .filter_map(|op| op.violations[column])
            .sum()
    }
}

/// A count the model computed, stated as a claim: the figure is its own expectation, and
/// the sentence is chosen by whether it is zero.
fn count_claim(cx: &mut Cx, figure: &str, count: u64, most: u64, some: &str, none: &str) {
    let value = count as f64;
    let (low, high, text) = if count > 0 {
        (1.0, most as f64, some)
    } else {
        (0.0, 0.0, none)
    };
    cx.claim(Claim {
        figure,
        unit: Unit::Count,
        measured: value,
        expected: value,
        low,
        high,
        text,
    });
}

/// What `--deep` adds to part 4: where a single operation can still switch.
pub const DEEP: &str = "\
D[k] = v can still run Python code (a key's __hash__ or __eq__, or the old value's __del__), \
and a switch can happen in there. The Python FAQ's list (\"What kinds of global value \
mutation are thread-safe?\", Doc/faq/library.rst) names L.append, L1.extend, x = L[i], \
x = L.pop(), slice assignment, L.sort(), x = y, x.field = y, D[x] = y, D1.update(D2) and \
D.keys() as atomic, and i = i + 1, L.append(L[-1]), L[i] = L[j] and D[x] = D[x] + 1 as not; \
D.get, k in D and the rows marked \"ours\" follow from the same rule (one opcode, no check \
point inside). The unlocked column needs two threads truly running at once, inside each \
other's C code; on one core or a busy machine it may show nothing.";

/// Part 4 as the lesson runs it: the GIL columns from the deterministic scheduler, the
/// free-threaded ones live on real threads (or scheduled too, with `--simulated`).
pub struct AtomicOps;

impl Part<Config> for AtomicOps {
    type Figures = Report;

    fn title(&self) -> &'static str {
        "what the GIL makes atomic, and what it does not"
    }

    fn text(&self) -> &'static str {
        include_str!("../part4_atomic_ops.md")
    }

    fn cores_needed(&self, cfg: &Config) -> usize {
        size(cfg).threads.min(2)
    }

    fn live(&self, _: &Cx, cfg: &Config) -> anyhow::Result<Report> {
        Ok(measure(cfg))
    }

    fn simulate(&self, _: &Cx, cfg: &Config) -> anyhow::Result<Report> {
        Ok(operations(cfg, false))
    }

    fn show(&self, cx: &mut Cx, cfg: &Config, run: Run<'_, Report>) -> anyhow::Result<()> {
        let size = size(cfg);
        note(&format!(
            "Per row: {} threads x {} operations, a drop request about every {} µs.",
            size.threads,
            fmt_count(size.ops),
            HAMMER_INTERVAL.as_micros()
        ));
        println!();
        print_table(run.figures);
        println!();
        state_results(cx, run.figures, size);
        Ok(())
    }
}

/// Threads and operations per thread of every row.
fn size(cfg: &Config) -> Size {
    Size {
        threads: cfg.hammer_threads.max(2),
        ops: cfg.hammer_ops.max(1),
    }
}

/// Every row: the GIL columns and 3.13t's expectation from the scheduler, and with `live` the
/// free-threaded columns hammered on real threads.
fn operations(cfg: &Config, live: bool) -> Report {
    let size = size(cfg);
    // The schedules are independent: run them side by side, before any live hammer.
    let columns = [Column::GilOld, Column::GilNew, Column::FreeThreaded];
    let scheduled: Vec<[(u64, u64); 3]> = std::thread::scope(|scope| {
        let handles: Vec<_> = ROWS
            .iter()
            .map(|row| scope.spawn(move || columns.map(|c| schedule(row, c, size, cfg.seed))))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    let mut operations = Vec::new();
    for (row, figures) in ROWS.iter().zip(scheduled) {
        let [(old, old_switches), (new, new_switches), (expected_free, _)] = figures;
        let (free, no_locks) = if live {
            (
                Some(hammer(row, Column::FreeThreaded, size)),
                Some(hammer(row, Column::NoObjectLocks, size)),
            )
        } else {
            (Some(expected_free), None)
        };
        operations.push(Operation {
            code: row.code,
            atomic_under_gil: row.atomic_under_gil,
            in_faq: row.in_faq,
            violations: [Some(old), Some(new), free, no_locks],
            expected_free,
            switches: old_switches + new_switches,
        });
    }
    Report { operations }
}

/// Every row live: the GIL columns scheduled, the free-threaded ones on real threads.
pub fn measure(cfg: &Config) -> Report {
    operations(cfg, true)
}

fn print_table(report: &Report) {
    // The unlocked column needs real threads: under --simulated it is left out, not dashed.
    let shown = if report
        .operations
        .iter()
        .any(|op| op.violations[3].is_some())
    {
        4
    } else {
        3
    };
    let header = [
        "operation",
        "atomic?",
        "<=3.9",
        "3.10+",
        "3.13t",
        "unlocked",
    ];
    let mut table = Table::new(&header[..2 + shown]);
    for op in &report.operations {
        let verdict = match (op.in_faq, op.atomic_under_gil) {
            (true, true) => "FAQ yes",
            (true, false) => "FAQ no",
            (false, true) => "ours yes",
            (false, false) => "ours no",
        };
        let mut cells = vec![op.code.to_owned(), verdict.to_owned()];
        cells.extend(
            op.violations[..shown]
                .iter()
                .map(|v| v.map_or("-".to_owned(), fmt_count)),
        );
        table.push(cells);
    }
    table.print();
    let switches: u64 = report.operations.iter().map(|op| op.switches).sum();
    note(&format!(
        "GIL hand-offs in the GIL columns: {}.",
        fmt_count(switches)
    ));
}

fn state_results(cx: &mut Cx, report: &Report, size: Size) {
    let most = size.total();
    count_claim(
        cx,
        "violations of the five atomic rows, GIL columns",
        report.total(0, true) + report.total(1, true),
        most,
        "Some single operation broke under the GIL.",
        "The first five never broke under the GIL: each is one opcode whose C code reaches \
         no check point.",
    );
    let row = |code: &str| report.get(code);
    if let Some(op) = row("D[k] = D.get(k, 0) + 1") {
        count_claim(
            cx,
            "D[k] = D.get(k, 0) + 1 lost, 3.10+",
            op.violations[1].unwrap_or(0),
            most,
            "It loses updates even on 3.10+: D.get is a call, so a check point between \
             read and write.",
            "This schedule put no switch at the D.get call; try another --seed.",
        );
    }
    if let Some(op) = row("if k not in D: D[k] = make(k)") {
        count_claim(
            cx,
            "keys made twice, 3.10+",
            op.violations[1].unwrap_or(0),
            most,
            "Check-then-act broke on 3.10+ too: use a lock, or one call that does both \
             (D.setdefault(k, v)).",
            "This schedule let no thread in between check and act; try another --seed.",
        );
    }
    let free_atomic = report.total(2, true);
    let expected: u64 = report
        .operations
        .iter()
        .filter(|op| op.atomic_under_gil)
        .map(|op| op.expected_free)
        .sum();
    cx.claim(Claim {
        figure: "violations of the five atomic rows, 3.13t",
        unit: Unit::Count,
        measured: free_atomic as f64,
        expected: expected as f64,
        low: 0.0,
        high: 0.0,
        text: "3.13t's per-object locks kept the single operations whole without a GIL; \
               the free-threading HOWTO calls that the current implementation, not a \
               guarantee.",
    });
}
