//! Part 6 — which Python, and which workaround: the implementations table and a decision guide.
//!
//! Every leaf of the guide names the part of this lesson (or the earlier lesson) that measured
//! the claim, and, when that part ran in this invocation, the figure it measured.

use std::time::Duration;

use gil_core::measure::{fmt_count, fmt_duration, fmt_ratio};
use gil_core::report::{heading, kv, note};

use crate::Summary;

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

/// Python implementations and their locks (per the project's FACTS page; the source tutorial
/// wrongly lists GraalPy as lock-free).
pub const IMPLEMENTATIONS: [Implementation; 6] = [
    Implementation {
        name: "CPython",
        has_gil: "yes",
        notes: "the reference implementation; one GIL per interpreter since 3.12",
    },
    Implementation {
        name: "CPython 3.13t / 3.14t",
        has_gil: "no",
        notes: "the free-threaded build (PEP 703); supported from 3.14 (PEP 779)",
    },
    Implementation {
        name: "PyPy",
        has_gil: "yes",
        notes: "JIT compiler: faster Python code, threads still take turns",
    },
    Implementation {
        name: "GraalPy",
        has_gil: "yes",
        notes: "GraalVM; a GIL per context, parallelism comes from several contexts",
    },
    Implementation {
        name: "Jython",
        has_gil: "no",
        notes: "runs on the JVM, Python 2.7 only",
    },
    Implementation {
        name: "IronPython",
        has_gil: "no",
        notes: "runs on .NET",
    },
];

/// Print the table and the guide, with this run's figures where `summary` has them.
pub fn run(summary: &Summary) {
    heading("Part 6 - implementations, and a decision guide");
    for imp in IMPLEMENTATIONS {
        kv(imp.name, format!("GIL {:<4} {}", imp.has_gil, imp.notes));
    }
    note("Older tutorials list GraalPy as GIL-free; it is not.");

    let ratio = |r: Option<f64>| r.map_or_else(|| "run it to measure".to_owned(), fmt_ratio);
    let duration = |d: Option<Duration>| {
        d.map_or_else(
            || "run it to measure".to_owned(),
            |d| format!("{} a trip", fmt_duration(d)),
        )
    };
    let released = if summary.released_speedups.is_empty() {
        "run it to measure".to_owned()
    } else {
        summary
            .released_speedups
            .iter()
            .map(|(len, r)| format!("{} at {}", fmt_ratio(*r), fmt_count(*len as u64)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let guide = format!(
        "\
First profile: measure where the time goes (cProfile, py-spy) before changing anything.

Is the program waiting (I/O) or computing (CPU)?
|
+- Waiting (files, sockets, sleeps)
|    -> threads: blocking calls release the GIL                  [lesson 3, io-bound]
|       -- but next to a CPU-bound thread each short I/O call can wait a switch
|       interval (the convoy effect, lesson 3 part 5)
|    -> many concurrent waits (thousands of sockets): async/await, one thread
|       and an event loop, no GIL hand-offs between the waits
|
+- Computing
     |
     +- The hot loop is inside a library that releases the GIL (NumPy, SciPy)?
     |    -> threads, if each call is large                         [part 2: {released}]
     |
     +- You write the native code yourself (Cython, C, Rust)?
     |    -> release the GIL and parallelise the loop               [part 3: {prange}]
     |
     +- Pure Python?
          +- Tasks are big compared with their data
          |    -> a process pool                                    [part 1: {processes}]
          +- Tasks are tiny (shorter than a round trip to a worker)
          |    -> batch them (chunksize), or stay in one process    [part 1b: {break_even}]
          +- You can use CPython 3.13t/3.14t and your extensions support it
          |    -> free-threaded threads                             [part 4: {free}]
          +- You want isolation without processes (3.14)
          |    -> subinterpreters, data sent between them           [part 5: {subinterp}]
          +- Plain threads under the GIL do not help                [part 1: {gil_threads}]",
        released = released,
        prange = ratio(summary.prange_speedup),
        processes = ratio(summary.processes_speedup),
        break_even = duration(summary.break_even),
        free = ratio(summary.free_threaded_speedup),
        subinterp = ratio(summary.subinterpreters_speedup),
        gil_threads = ratio(summary.gil_threads_speedup),
    );
    println!();
    for line in guide.lines() {
        println!("  {line}");
    }
    note(
        "\nThe figures are speed-ups measured by this run on this machine; with one CPU there is\n\
         nothing to run in parallel and every branch but I/O collapses to 1x.",
    );

    heading("Key takeaways");
    for (i, takeaway) in TAKEAWAYS.iter().enumerate() {
        note(&format!("{}. {}", i + 1, takeaway.replace('\n', "\n   ")));
    }
}

/// What the course comes down to, printed at the end of the lesson (the crate docs say it at
/// more length).
pub const TAKEAWAYS: [&str; 6] = [
    "In one interpreter, one thread at a time runs bytecode: the one holding the GIL.",
    "CPU-bound threads gain nothing under the GIL; I/O-bound threads overlap their waits,\n\
     unless a CPU-bound thread beside them turns each short I/O call into a wait of about a\n\
     switch interval (the convoy effect).",
    "Workarounds cost something, so each pays only above a size: processes for big tasks\n\
     with little data, GIL-releasing native code for long calls, subinterpreters for\n\
     isolation in one process, async/await for many waits. Profile before you choose.",
    "The GIL is not thread safety: counter += 1 can still lose updates, so guard compound\n\
     operations with a lock.",
    "Free-threaded CPython (3.13t, 3.14t) has no GIL: threads compute in parallel, paying\n\
     in reference counting and single-thread speed.",
    "The GIL is CPython's, not the language's: PyPy has one, Jython and IronPython do not,\n\
     GraalPy has one per context.",
];
