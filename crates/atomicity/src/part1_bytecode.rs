//! Part 1 — `counter += 1` as bytecode, and where the GIL can change hands inside it.

use gil_core::bytecode::{CheckPolicy, Program};
use gil_core::report::{heading, kv, note};

/// What part 1 showed.
#[derive(Clone, Debug)]
pub struct Report {
    /// The listing of `counter += 1` with CPython ≤ 3.9's check points marked.
    pub listing_old: String,
    /// The same listing with CPython 3.10+'s check points marked.
    pub listing_new: String,
    /// The read-call-write variant's listing with 3.10+'s check points.
    pub listing_call: String,
    /// Check points strictly between `LOAD_GLOBAL counter` and `STORE_GLOBAL counter`:
    /// `counter += 1` under ≤ 3.9, under 3.10+, and the read-call-write variant under 3.10+.
    pub window_check_points: [usize; 3],
}

/// Run part 1: print the listings and count the check points inside the update.
pub fn run() -> anyhow::Result<Report> {
    heading("Part 1: counter += 1 is four bytecodes");
    let increment = Program::increment();
    let call = Program::read_call_write();
    let report = Report {
        listing_old: increment.listing(CheckPolicy::EveryInstruction),
        listing_new: increment.listing(CheckPolicy::BackEdgesAndCalls),
        listing_call: call.listing(CheckPolicy::BackEdgesAndCalls),
        window_check_points: [
            increment.check_points_in_window(CheckPolicy::EveryInstruction),
            increment.check_points_in_window(CheckPolicy::BackEdgesAndCalls),
            call.check_points_in_window(CheckPolicy::BackEdgesAndCalls),
        ],
    };
    note(&format!(
        "`{}` compiles (CPython 3.11+ names) to\n\
         a read, an add and a write of the global. The bracket marks that read-modify-write;\n\
         `<- switch possible` marks where the eval breaker is consulted, the only places\n\
         where the GIL can pass to another thread.",
        increment.source.replace('\n', " ").replace("    ", "")
    ));
    println!();
    println!("  With CPython <= 3.9's check points (after nearly every instruction):");
    print_indented(&report.listing_old);
    println!();
    println!(
        "  With CPython 3.10+'s check points (3.10: after calls and on backward jumps; 3.11-3.12:\n  \
         RESUME, JUMP_BACKWARD, calls into C; 3.13+: _CHECK_PERIODIC / RESUME_CHECK; for this\n  \
         loop all three mean the back edge and calls only):"
    );
    print_indented(&report.listing_new);
    println!();
    let [old, new, with_call] = report.window_check_points;
    kv("switch points inside, <=3.9", old);
    kv("switch points inside, 3.10+", new);
    note(
        "Under 3.9 a thread can be stopped after LOAD_GLOBAL has read the counter and before\n\
         STORE_GLOBAL writes it back. Whoever runs meanwhile increments a value that the first\n\
         thread then overwrites with its stale copy + 1. Under 3.10+ no switch can fall inside\n\
         this particular loop body, but only because of where the interpreter happens to look.\n\
         Put a call between the read and the write and the window is open again:",
    );
    println!();
    println!(
        "  `{}` with 3.10+'s check points:",
        Program::read_call_write()
            .source
            .lines()
            .skip(1)
            .map(str::trim)
            .collect::<Vec<_>>()
            .join("; ")
    );
    print_indented(&report.listing_call);
    println!();
    kv("switch points inside, call", with_call);
    note(
        "The tutorial lists BINARY_ADD; since 3.11 all binary and in-place operators are one\n\
         BINARY_OP with an argument (13 is +=). Real `dis` output also shows the function's\n\
         RESUME, the `range()` call before the loop and inline caches; the model keeps the loop.",
    );
    Ok(report)
}

/// Print a multi-line block indented like [`note`], without dimming it.
pub fn print_indented(block: &str) {
    for line in block.lines() {
        println!("    {line}");
    }
}
