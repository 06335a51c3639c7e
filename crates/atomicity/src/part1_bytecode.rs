//! Part 1 — `counter += 1` as bytecode, and where the GIL can change hands inside it.
//!
#![doc = include_str!("part1_bytecode.md")]

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

/// The mark [`Program::listing`] puts after an instruction that is a check point.
const MARK: &str = "<- switch possible";

/// `program`'s listing with one column per policy, `yes` where the GIL may change hands
/// right after that instruction has run (a check point), under the heading `label`.
pub fn listing_by_version(program: &Program, policies: &[(CheckPolicy, &str)]) -> String {
    let listings: Vec<Vec<String>> = policies
        .iter()
        .map(|(policy, _)| {
            program
                .listing(*policy)
                .lines()
                .map(str::to_owned)
                .collect()
        })
        .collect();
    let base = |line: &str| line.trim_end_matches(MARK).trim_end().to_owned();
    let width = listings[0]
        .iter()
        .map(|l| base(l).chars().count())
        .max()
        .unwrap_or(0)
        + 2;
    let mut out = format!(
        "{:width$}{}\n",
        "",
        policies
            .iter()
            .map(|(_, label)| format!("{label:<7}"))
            .collect::<String>()
            .trim_end()
    );
    for (i, line) in listings[0].iter().enumerate() {
        let marks: String = listings
            .iter()
            .map(|l| {
                if l[i].ends_with(MARK) {
                    "yes    "
                } else {
                    "       "
                }
            })
            .collect();
        let text = base(line);
        let pad = width - text.chars().count();
        out.push_str(format!("{text}{:pad$}{marks}", "").trim_end());
        out.push('\n');
    }
    out
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
        "The loop body is a read, an add and a write of the global (bracketed; CPython \
         3.11-3.13's names). The GIL can change hands only at check points: \"yes\" marks \
         an instruction after which the interpreter checks. Up to 3.9 that was most \
         instructions; since 3.10, calls, the loop's back edge, a few other jumps and \
         function entry.",
    );
    println!();
    print_indented(&listing_by_version(
        &increment,
        &[
            (CheckPolicy::EveryInstruction, "<=3.9"),
            (CheckPolicy::BackEdgesAndCalls, "3.10+"),
        ],
    ));
    println!();
    let [old, new, with_call] = report.window_check_points;
    window_claim(
        "check points inside counter += 1, <=3.9",
        old,
        true,
        "Under 3.9 a switch can fall after the read and before the write (after \
         LOAD_GLOBAL or BINARY_OP; STORE_GLOBAL's mark comes after the write); the thread \
         then writes its stale copy + 1 over what others added meanwhile.",
    );
    window_claim(
        "check points inside counter += 1, 3.10+",
        new,
        false,
        "Under 3.10+ no switch can fall inside this loop body, but only by luck of where \
         the interpreter looks.",
    );
    println!();
    note("Put a call between the read and the write and the window opens again:");
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
    print_indented(&listing_by_version(
        &call,
        &[(CheckPolicy::BackEdgesAndCalls, "3.10+")],
    ));
    println!();
    window_claim(
        "check points inside, with a call, 3.10+",
        with_call,
        true,
        "The call is a check point between the read and the write, on every CPython version.",
    );
    println!();
    every_schedule();
    Ok(report)
}

/// "Is `counter += 1` atomic?" over every schedule, version by version: two threads, two
/// increments each, explored exhaustively by `gil_core::bytecode::explore`.
pub fn every_schedule() {
    use gil_core::bytecode::explore::{self, TABLE_INCREMENTS, TABLE_THREADS};
    let rows = explore::counter_table();
    note(&format!(
        "So, is `counter += 1` atomic? Every schedule of {TABLE_THREADS} threads doing it \
         {TABLE_INCREMENTS} times each, with switches only where each version allows them:"
    ));
    println!();
    let mut table = gil_core::report::Table::new(&["interpreter", "lost update", "states"]);
    for row in &rows {
        let lost = match &row.found.shortest_loss {
            Some(path) => format!("possible ({} steps)", path.len()),
            None => "impossible".to_owned(),
        };
        table = table.row([
            row.rules.label().to_owned(),
            lost,
            row.found.explored.to_string(),
        ]);
    }
    table.print();
    if let Some((label, path)) = rows
        .iter()
        .find_map(|r| Some((r.rules.label(), r.found.shortest_loss.as_ref()?)))
    {
        println!();
        note(&format!(
            "The shortest losing schedule, {label} (one line per turn; the last write \
             repeats one already made, so an increment is lost):"
        ));
        for line in explore::describe(path) {
            println!("    {line}");
        }
    }
}

/// What `--deep` adds to part 1: where each version checks, by opcode, and the names the
/// listing leaves out.
pub const DEEP: &str = "\
CPython <= 3.9 checked at the top of its dispatch loop, so after every instruction except \
those that ended with FAST_DISPATCH() in Python/ceval.c: LOAD_FAST, LOAD_CONST, STORE_FAST, \
POP_TOP, ROT_TWO/THREE/FOUR, DUP_TOP, DUP_TOP_TWO, NOP, IS_OP, CONTAINS_OP, JUMP_FORWARD, \
and conditional jumps on a plain True or False. 3.10 (bpo-29988) checks after calls, on \
backward jumps, on taken POP_JUMP_IF_* jumps and on frame entry; 3.11-3.12 at RESUME, \
JUMP_BACKWARD and calls into C; 3.13+ at _CHECK_PERIODIC / RESUME_CHECK (Python/bytecodes.c). \
For this loop all of them mean the back edge only. Names: before 3.11 the add was \
BINARY_ADD / INPLACE_ADD (3.11 made every binary operator one BINARY_OP, 13 is +=); 3.14 \
loads the 1 with LOAD_SMALL_INT and enters `with` blocks with LOAD_SPECIAL instead of \
BEFORE_WITH. Real `dis` output also shows RESUME, the range() call and inline caches.";
/// Print a multi-line block indented by four spaces.
pub fn print_indented(block: &str) {
    for line in block.lines() {
        println!("    {line}");
    }
}
