//! Part 1 — `counter += 1` as bytecode, and where the GIL can change hands inside it.

use gil_core::bytecode::{CheckPolicy, Program};
use gil_core::claim::{Claim, Unit, claim};
use gil_core::report::note;

use crate::setup::Config;

/// The Python this part models.
pub const PYTHON: &str = "\
counter = 0

def work(n):
    global counter
    for _ in range(n):
        counter += 1";

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

/// State one check-point count as a claim: the model computes it, so it is its own
/// expectation; `opens` says whether the sentence needs at least one check point or none.
fn window_claim(figure: &str, count: usize, opens: bool, text: &str) {
    let count = count as f64;
    let (low, high) = if opens { (1.0, 16.0) } else { (0.0, 0.0) };
    claim(Claim {
        figure,
        unit: Unit::Count,
        measured: count,
        expected: count,
        low,
        high,
        text,
    });
}

/// Run part 1: print the listings and count the check points inside the update.
pub fn run(_cfg: &Config) -> anyhow::Result<Report> {
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
    note(
        "The loop body compiles (CPython 3.11+ names) to a read, an add and a write of the \
         global. The bracket marks that read-modify-write; `<- switch possible` marks where \
         the interpreter consults its eval breaker, the only places where the GIL can pass \
         to another thread (a check point).",
    );
    println!();
    note(
        "CPython <= 3.9 checked after most instructions. Only those that ended with \
         FAST_DISPATCH() in its Python/ceval.c skipped the check: LOAD_FAST, LOAD_CONST, \
         STORE_FAST, POP_TOP, ROT_TWO/THREE/FOUR, DUP_TOP, DUP_TOP_TWO, NOP, IS_OP, \
         CONTAINS_OP, JUMP_FORWARD, and conditional jumps on a plain True or False:",
    );
    print_indented(&report.listing_old);
    println!();
    note(
        "CPython 3.10+ checks far less often. 3.10 (bpo-29988): after calls and on backward \
         jumps; 3.11-3.12: at RESUME, JUMP_BACKWARD and calls into C; 3.13+: at \
         _CHECK_PERIODIC / RESUME_CHECK. For this loop all three mean the back edge only:",
    );
    print_indented(&report.listing_new);
    println!();
    let [old, new, with_call] = report.window_check_points;
    window_claim(
        "check points inside counter += 1, <=3.9",
        old,
        true,
        "Under 3.9 a thread can be stopped after LOAD_GLOBAL has read the counter and before \
         STORE_GLOBAL writes it back. Whoever runs meanwhile increments a value that the \
         first thread then overwrites with its stale copy + 1.",
    );
    window_claim(
        "check points inside counter += 1, 3.10+",
        new,
        false,
        "Under 3.10+ no switch can fall inside this particular loop body, but only because \
         of where the interpreter happens to look.",
    );
    println!();
    note("Put a call between the read and the write and the window is open again:");
    println!();
    println!(
        "    {}",
        call.source
            .lines()
            .skip(1)
            .map(str::trim)
            .collect::<Vec<_>>()
            .join("; ")
    );
    print_indented(&report.listing_call);
    println!();
    window_claim(
        "check points inside, with a call, 3.10+",
        with_call,
        true,
        "The call is a check point between the read and the write, on every CPython version.",
    );
    println!();
    note(
        "The tutorial lists BINARY_ADD; since 3.11 all binary and in-place operators are one \
         BINARY_OP with an argument (13 is +=). Real `dis` output also shows the function's \
         RESUME, the range() call before the loop and inline caches; the model keeps the loop.",
    );
    Ok(report)
}

/// Print a multi-line block indented by four spaces.
pub fn print_indented(block: &str) {
    for line in block.lines() {
        println!("    {line}");
    }
}
