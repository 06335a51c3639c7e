//! Part 6 — which Python, and which workaround: the implementations table and a decision guide.
//!
//! Every leaf of the guide names the part of this lesson (or the earlier lesson) that measured
//! it. A leaf quotes this run's figure only where that part's claim held; otherwise, or when
//! the part did not run, it quotes the simulator's expectation, labelled as such.

use gil_core::claim::{self, Unit};
use gil_core::report::{Table, heading, note};
use gil_core::session;

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
        notes: "the reference; one GIL per interpreter since 3.12",
    },
    Implementation {
        name: "CPython 3.13t / 3.14t",
        has_gil: "no",
        notes: "free-threaded build (PEP 703), supported in 3.14",
    },
    Implementation {
        name: "PyPy",
        has_gil: "yes",
        notes: "JIT compiler: faster Python, threads take turns",
    },
    Implementation {
        name: "GraalPy",
        has_gil: "yes",
        notes: "GraalVM; a GIL per context, parallel contexts",
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

/// Print the table and the guide, quoting this run's claims where they held.
pub fn run(cfg: &Config) -> anyhow::Result<()> {
    let mut table = Table::new(&["implementation", "GIL", "notes"]);
    for imp in IMPLEMENTATIONS {
        table.push([imp.name, imp.has_gil, imp.notes]);
    }
    table.print();
    note("Older tutorials list GraalPy as GIL-free; it is not.");
    println!();
    for line in guide(cfg).lines() {
        println!("  {line}");
    }
    println!();
    note(
        "To place your own program in this guide, measure it: lesson 6 (cargo run --release \
         -p practice) runs recipes on your Python - the CPU share of a call (part 1), whether \
         a call releases the GIL, with a probe to paste (part 2), what the GIL costs your \
         threads (part 3), asyncio's blocking trap (part 4).",
    );

    heading("Key takeaways");
    for (i, takeaway) in TAKEAWAYS.iter().enumerate() {
        gil_core::report::indented(&format!("{}. {takeaway}", i + 1), "  ", "     ");
    }
    Ok(())
}

/// The decision guide, each measured leaf followed by its figure.
pub fn guide(cfg: &Config) -> String {
    let threads = expected::parallel_threads();
    let cores = session::sim_cores();
    let e1 = expected::part1(cfg, cores);
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
    format!(
        "\
First profile: measure where the time goes (cProfile, py-spy) before changing
anything.

Is the program waiting (I/O) or computing (CPU)?
|
+- Waiting (files, sockets, sleeps)
|    -> threads: blocking calls release the GIL (lesson 3)
|       but beside a CPU-bound thread each short I/O call may wait a switch
|       interval (the convoy effect, lesson 3 part 5)
|    -> thousands of concurrent waits: async/await, one thread, an event loop
|
+- Computing
     +- The hot loop is in a library that releases the GIL (NumPy, SciPy)?
     |    -> threads, if each call is long
{released}
     +- You write the native code yourself (Cython, C, Rust)?
     |    -> release the GIL and parallelise the loop
{prange}
     +- Pure Python, tasks big compared with their data?
     |    -> a process pool
{pool}
     +- Pure Python, tasks shorter than a round trip to a worker?
     |    -> batch them (chunksize), or stay in one process (part 1's costs)
     +- CPython 3.13t/3.14t, and your extensions support it?
     |    -> free-threaded threads
{free}
     +- Isolation without processes (3.14)?
     |    -> subinterpreters, data sent between them
{interpreters}
     +- Plain threads under the GIL do not help
{gil_threads}"
    )
}

/// The figure behind one leaf: this run's where its claim held, else the simulator's.
///
/// `sentences` are the claims the part may have made for it (one for a machine where the
/// simulator expects a gain, one for a machine where it does not).
fn quote(part: u8, sentences: &[&str], expected: f64) -> String {
    let show = |x: f64| Unit::Ratio.show(x);
    let machine = format!("an idle {}-core machine", session::sim_cores());
    let record = sentences.iter().find_map(|sentence| claim::find(sentence));
    let lines = match record {
        Some(r) if r.held && session::simulated() => {
            vec![format!(
                "part {part}, simulated on {machine}: {}",
                show(r.measured)
            )]
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

/// What the course comes down to, printed at the end of the lesson (the crate docs say it at
/// more length).
pub const TAKEAWAYS: [&str; 6] = [
    "In one interpreter, one thread at a time runs bytecode: the one holding the GIL.",
    "CPU-bound threads gain nothing under the GIL; I/O-bound threads overlap their waits, \
     unless a CPU-bound thread beside them turns each short I/O call into a wait of about a \
     switch interval (the convoy effect).",
    "Workarounds cost something, so each pays only above a size: processes for big tasks \
     with little data, GIL-releasing native code for long calls, subinterpreters for \
     isolation in one process, async/await for many waits. Profile before you choose.",
    "The GIL is not thread safety: counter += 1 can still lose updates, so guard compound \
     operations with a lock.",
    "Free-threaded CPython (3.13t, 3.14t) has no GIL: threads compute in parallel, paying \
     in reference counting and single-thread speed.",
    "The GIL is CPython's, not the language's: PyPy has one, Jython and IronPython do not, \
     GraalPy has one per context.",
];
