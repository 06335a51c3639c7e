//! Part 6 — which Python, and which workaround: the implementations table and a decision guide.
//!
//! Every leaf of the guide names the part of this lesson (or the earlier lesson) that measured
//! it. A leaf quotes this run's figure only where that part's claim held; otherwise, or when
//! the part did not run, it quotes the simulator's expectation, labelled as such.

use gil_core::claim::Unit;
use gil_core::context::Cx;
use gil_core::measure::fmt_duration;
use gil_core::part::{Part, Run};
use gil_core::report::{Table, heading, note};

use crate::{
    Config, expected, part1_processes, part2_numpy, part3_nogil_prange, part4_free_threading,
    part5_subinterpreters,
};

/// One row of the implementations table.
#[derive(Clone, Copy, Debug)]
pub struct Implementation {
    /// Name.
    pub name: &'static str,
    /// Whether it has a global interpreter lock.
    pub has_gil: &'static str,
    /// What to know about it.
    pub notes: &'static str,
}

/// Python implementations and their locks. GraalPy's documentation describes a GIL per
/// context (older tutorials list GraalPy as lock-free, which is wrong).
pub const IMPLEMENTATIONS: [Implementation; 6] = [
    Implementation {
        name: "CPython",
        has_gil: "yes",
        notes: "one GIL per interpreter (part 5)",
    },
    Implementation {
        name: "CPython 3.13t / 3.14t",
        has_gil: "no",
        notes: "free-threaded build (part 4)",
    },
    Implementation {
        name: "PyPy",
        has_gil: "yes",
        notes: "a JIT compiler; threads take turns",
    },
    Implementation {
        name: "GraalPy",
        has_gil: "yes",
        notes: "a GIL per context; contexts run in parallel",
    },
    Implementation {
        name: "Jython",
        has_gil: "no",
        notes: "on the JVM, Python 2.7 only",
    },
    Implementation {
        name: "IronPython",
        has_gil: "no",
        notes: "on .NET",
    },
];

/// Part 6 in the lesson's table: it measures nothing, and quotes the parts before it.
pub struct DecisionGuide;

impl Part<Config> for DecisionGuide {
    type Figures = ();

    fn title(&self) -> &'static str {
        "which Python, and which workaround"
    }

    fn live(&self, _cx: &Cx, _cfg: &Config) -> anyhow::Result<()> {
        Ok(())
    }

    fn simulate(&self, _cx: &Cx, _cfg: &Config) -> anyhow::Result<()> {
        Ok(())
    }

    fn show(&self, cx: &mut Cx, cfg: &Config, _run: Run<'_, ()>) -> anyhow::Result<()> {
        let mut table = Table::new(&["implementation", "GIL", "notes"]);
        for imp in IMPLEMENTATIONS {
            table.push([imp.name, imp.has_gil, imp.notes]);
        }
        table.print();
        note("Older articles list GraalPy as GIL-free; it is not.");
        println!();
        for line in guide(cx, cfg).lines() {
            println!("  {line}");
        }
        println!();
        note("To place your own program in this guide, measure it (lesson 6).");
        heading("Key takeaways");
        for (i, takeaway) in TAKEAWAYS.iter().enumerate() {
            gil_core::report::indented(&format!("{}. {takeaway}", i + 1), "  ", "     ");
        }
        Ok(())
    }
}

/// The decision guide, each measured leaf followed by its figure.
pub fn guide(cx: &Cx, cfg: &Config) -> String {
    let threads = expected::parallel_threads(cx);
    let cores = cx.sim_cores();
    let e1 = expected::part1(cfg, cores);
    let quote = |part: u8, sentences: &[&str], expected: f64| quote(cx, part, sentences, expected);
    let released = quote(
        2,
        &[part2_numpy::RELEASED, part2_numpy::RELEASED_ONE_CORE],
        expected::part2(cfg, cores, cfg.long_call).released,
    );
    let prange = quote(
        3,
        &[
            part3_nogil_prange::PRANGE,
            part3_nogil_prange::PRANGE_ONE_CORE,
        ],
        expected::part3(cfg, cores, cfg.array_len.saturating_mul(cfg.tasks.max(1))).prange,
    );
    let pool = quote(
        1,
        &[part1_processes::POOL, part1_processes::POOL_ONE_CORE],
        e1.pool,
    );
    let free = quote(
        4,
        &[
            part4_free_threading::FREE,
            part4_free_threading::FREE_ONE_CORE,
        ],
        expected::part4(cfg, cores, cfg.items * 2, threads).free,
    );
    let interpreters = quote(
        5,
        &[
            part5_subinterpreters::SEPARATE,
            part5_subinterpreters::SEPARATE_ONE_CORE,
        ],
        expected::part5(cfg, cores, cfg.items / threads as u64, threads),
    );
    let gil_threads = quote(
        1,
        &[
            part1_processes::GIL_THREADS,
            part1_processes::NO_GIL_THREADS,
        ],
        e1.threads,
    );
    // Break-even sizes are the simulator's in every run (a live run's parts 1 and 2 print
    // their own beside them); a simulated run's header already says so.
    let whose = if cx.simulated() { "" } else { ", simulated" };
    let release_pays = expected::release_break_even(cfg, cores).map_or_else(
        || "never on one core".to_owned(),
        |d| format!("above ~{}{whose}", fmt_duration(d)),
    );
    let pool_pays = expected::prices(cfg, cores).break_even.map_or_else(
        || "a pool never pays on one core".to_owned(),
        |d| format!("a task pays above ~{} of work{whose}", fmt_duration(d)),
    );
    format!(
        "\
Profile first (cProfile, py-spy): is the program waiting or computing?
|
+- Waiting (I/O): threads, or async/await for thousands of waits (lesson 3)
|
+- Computing
     +- In a library that releases the GIL, like NumPy?
     |    -> threads, if each call is long ({release_pays})
{released}
     +- Native code you write (Cython, C, Rust)?
     |    -> release the GIL and parallelise the loop
{prange}
     +- Pure Python, tasks big next to their data?
     |    -> a process pool
{pool}
     +- Pure Python, tiny tasks?
     |    -> batch them (chunksize), or stay in one process
     |       ({pool_pays})
     +- Free-threaded CPython, and your extensions support it?
     |    -> threads
{free}
     +- Isolation without processes (3.14)?
     |    -> subinterpreters
{interpreters}
     +- Plain threads under the GIL do not help
{gil_threads}"
    )
}

/// The figure behind one leaf: this run's where its claim held, else the simulator's.
///
/// `sentences` are the claims the part may have made for it (one for a machine where the
/// simulator expects a gain, one for a machine where it does not).
fn quote(cx: &Cx, part: u8, sentences: &[&str], expected: f64) -> String {
    let show = |x: f64| Unit::Ratio.show(x);
    let machine = format!("an idle {}-core machine", cx.sim_cores());
    let record = sentences
        .iter()
        .find_map(|sentence| cx.find_claim(sentence));
    let lines = match record {
        Some(r) if r.held && cx.simulated() => {
            // The lesson's header already says every figure is the simulator's.
            vec![format!("part {part}: {}", show(r.measured))]
        }
        Some(r) if r.held => vec![format!("part {part} measured {}", show(r.measured))],
        Some(r) => vec![
            format!(
                "part {part} did not show it this run ({});",
                show(r.measured)
            ),
            format!("simulated on {machine}: {}", show(r.expected)),
        ],
        None => vec![
            format!("part {part}: not measured this run;"),
            format!("simulated on {machine}: {}", show(expected)),
        ],
    };
    lines
        .iter()
        .map(|line| format!("     |       {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// What the course comes down to, printed at the end of the lesson.
pub const TAKEAWAYS: [&str; 2] = [
    "Under the GIL, threads help a program that waits, not one that computes.",
    "Every way around the GIL pays only above a size: measure first.",
];
