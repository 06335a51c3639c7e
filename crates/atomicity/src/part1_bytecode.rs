//! Part 1 — `counter += 1` as bytecode, and where the GIL can change hands inside it.
//!
#![doc = include_str!("part1_bytecode.md")]

use gil_core::bytecode::{CheckPolicy, Program};
use gil_core::claim::{Claim, Unit};
use gil_core::context::Cx;
use gil_core::part::{Part, Run};
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
    /// `counter += 1`'s listing with a check-point column per version, as printed.
    pub listing_both: String,
    /// The read-call-write listing with its 3.10+ column, as printed.
    pub listing_call_by_version: String,
    /// The read-call-write loop body on one line.
    pub call_source: String,
    /// Check points strictly between `LOAD_GLOBAL counter` and `STORE_GLOBAL counter`:
    /// `counter += 1` under ≤ 3.9, under 3.10+, and the read-call-write variant under 3.10+.
    pub window_check_points: [usize; 3],
}

/// State one check-point count as a claim: the model computes it, so it is its own
/// expectation; `opens` says whether the sentence needs at least one check point or none.
fn window_claim(cx: &mut Cx, figure: &str, count: usize, opens: bool, text: &str) {
    let count = count as f64;
    let (low, high) = if opens { (1.0, 16.0) } else { (0.0, 0.0) };
    cx.claim(Claim {
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

/// Part 1 as the lesson runs it: listings and counts are computed from the model bytecode,
/// the same in a live run and a simulated one.
pub struct Bytecode;

impl Part<Config> for Bytecode {
    type Figures = Report;

    fn title(&self) -> &'static str {
        "counter += 1 is four bytecodes"
    }

    fn python(&self) -> &'static str {
        PYTHON
    }

    fn text(&self) -> &'static str {
        include_str!("part1_bytecode.md")
    }

    /// Deterministic: the same figures on any machine, so a busy one changes nothing.
    fn cores_needed(&self, _: &Config) -> usize {
        0
    }

    fn live(&self, _: &Cx, _: &Config) -> anyhow::Result<Report> {
        Ok(listings())
    }

    fn simulate(&self, _: &Cx, _: &Config) -> anyhow::Result<Report> {
        Ok(listings())
    }

    fn show(&self, cx: &mut Cx, _: &Config, run: Run<'_, Report>) -> anyhow::Result<()> {
        let report = run.figures;
        print_indented(&report.listing_both);
        println!();
        let [old, new, with_call] = report.window_check_points;
        window_claim(
            cx,
            "check points inside counter += 1, <=3.9",
            old,
            true,
            "Under 3.9 a switch can fall between the read and the write (after LOAD_GLOBAL \
             or BINARY_OP; STORE_GLOBAL's mark is after the write): the thread then writes \
             its stale copy + 1 over what others added meanwhile.",
        );
        window_claim(
            cx,
            "check points inside counter += 1, 3.10+",
            new,
            false,
            "Under 3.10+ no switch can fall inside this loop body (by luck of where the \
             interpreter looks: part 2).",
        );
        println!();
        note(&format!(
            "Put a call between the read and the write (`{}`) and the window opens again:",
            report.call_source
        ));
        if cx.deep() {
            println!();
            print_indented(&report.listing_call_by_version);
            println!();
        }
        window_claim(
            cx,
            "check points inside, with a call, 3.10+",
            with_call,
            true,
            "The call is a check point between read and write on every CPython version.",
        );
        println!();
        every_schedule(cx.deep());
        Ok(())
    }
}

/// The listings and the check points inside each read-modify-write.
pub fn listings() -> Report {
    let increment = Program::increment();
    let call = Program::read_call_write();
    Report {
        listing_old: increment.listing(CheckPolicy::EveryInstruction),
        listing_new: increment.listing(CheckPolicy::BackEdgesAndCalls),
        listing_call: call.listing(CheckPolicy::BackEdgesAndCalls),
        listing_both: listing_by_version(
            &increment,
            &[
                (CheckPolicy::EveryInstruction, "<=3.9"),
                (CheckPolicy::BackEdgesAndCalls, "3.10+"),
            ],
        ),
        listing_call_by_version: listing_by_version(
            &call,
            &[(CheckPolicy::BackEdgesAndCalls, "3.10+")],
        ),
        call_source: call
            .source
            .lines()
            .skip(1)
            .map(str::trim)
            .collect::<Vec<_>>()
            .join("; "),
        window_check_points: [
            increment.check_points_in_window(CheckPolicy::EveryInstruction),
            increment.check_points_in_window(CheckPolicy::BackEdgesAndCalls),
            call.check_points_in_window(CheckPolicy::BackEdgesAndCalls),
        ],
    }
}

/// "Is `counter += 1` atomic?" over every schedule, version by version: two threads, two
/// increments each, explored exhaustively by `gil_core::bytecode::explore`. `deep` adds the
/// states explored and the shortest losing schedule (part 3 replays a lost update for all).
pub fn every_schedule(deep: bool) {
    use gil_core::bytecode::explore::{self, TABLE_INCREMENTS, TABLE_THREADS};
    let rows = explore::counter_table();
    note(&format!(
        "Is `counter += 1` atomic? Over every schedule of {TABLE_THREADS} threads doing it \
         {TABLE_INCREMENTS} times each, switching only where each version allows:"
    ));
    println!();
    let header: &[&str] = if deep {
        &["interpreter", "lost update", "states"]
    } else {
        &["interpreter", "lost update"]
    };
    let mut table = gil_core::report::Table::new(header);
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
    if !deep {
        return;
    }
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

/// Print a multi-line block indented by four spaces.
pub fn print_indented(block: &str) {
    for line in block.lines() {
        println!("    {line}");
    }
}
