//! Claims: every sentence that states a measured result, checked against its own figure.
//!
//! A lesson never prints "two threads take as long as one" on its own. It makes a [`Claim`]:
//! the live figure, what the simulator expects on an idle machine with this many cores, the
//! bound the sentence needs, and the sentence. [`Cx::claim`](crate::context::Cx::claim)
//! prints the figure beside the expectation, then the sentence only if the figure is inside
//! the bound. Otherwise it says
//! plainly that this run did not show it, why that probably is (a fresh [`probe`]), and what to
//! do. Every claim is also recorded in the run's [`Sink`]: for the lesson itself
//! ([`Cx::claims`](crate::context::Cx::claims); the decision guide quotes only claims that
//! held) and, with `--claims FILE`, one JSON object per line.

use anyhow::Context as _;
use std::fs::File;
use std::io::Write as _;
use std::path::Path;

use crate::measure::fmt_count;
use crate::report::Out;
use crate::session::Session;
use crate::{probe, report};

/// How a claim's figures are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// A ratio, `1.02x`.
    Ratio,
    /// A percentage; the value is 0–100.
    Percent,
    /// A whole count, `1,000,000`.
    Count,
    /// A rate per second, `201/s`.
    PerSecond,
    /// Nanoseconds.
    Nanos,
    /// Microseconds.
    Micros,
    /// Milliseconds.
    Millis,
}

impl Unit {
    /// `value` written in this unit.
    pub fn show(self, value: f64) -> String {
        if !value.is_finite() {
            return "n/a".to_owned();
        }
        match self {
            Unit::Ratio => format!("{value:.2}x"),
            Unit::Percent => format!("{value:.1} %"),
            Unit::Count => fmt_count(value.round().max(0.0) as u64),
            Unit::PerSecond => format!("{value:.0}/s"),
            Unit::Nanos => format!("{value:.2} ns"),
            Unit::Micros => format!("{value:.1} µs"),
            Unit::Millis => format!("{value:.2} ms"),
        }
    }
}

/// One sentence that states a measured result, with the figures that must support it.
#[derive(Clone, Copy, Debug)]
pub struct Claim<'a> {
    /// What was measured, e.g. "GIL time, two threads / one".
    pub figure: &'a str,
    /// How the figures are written.
    pub unit: Unit,
    /// The live figure (in `--simulated` mode, the simulator's).
    pub measured: f64,
    /// The simulator's figure for the run's cores ([`Session::cores`]) on an idle machine.
    pub expected: f64,
    /// Lowest figure that still supports the sentence.
    pub low: f64,
    /// Highest figure that still supports the sentence.
    pub high: f64,
    /// The sentence, printed only when the claim holds.
    pub text: &'a str,
}

/// A claim as recorded: what `--claims FILE` writes, one JSON object per line.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Record {
    /// The lesson's binary name.
    pub lesson: String,
    /// The part that made the claim.
    pub part: u8,
    /// The sentence.
    pub claim: String,
    /// The live figure.
    pub measured: f64,
    /// The simulator's expectation.
    pub expected: f64,
    /// Lower bound.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
    /// `low <= measured <= high`.
    pub held: bool,
    /// Why it probably missed (always set when `held` is false).
    pub cause: Option<String>,
}

/// Where claims go: the records so far and, with `--claims FILE`, that file.
///
/// A [`Cx`](crate::context::Cx) owns one for the lesson it runs; parts state claims through
/// [`Cx::claim`](crate::context::Cx::claim).
#[derive(Debug, Default)]
pub struct Sink {
    records: Vec<Record>,
    file: Option<File>,
    write_error: Option<String>,
}

/// How a claim is printed: the pass of a part that states it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Pass {
    /// The part's one showing: simulated or live figures, beside the expectation.
    #[default]
    Only,
    /// A busy machine: the simulator's idle-machine figures lead. Claims print as in a
    /// simulated run and are not recorded (the live pass after it records them).
    Lead,
    /// A busy machine: the live figures, not printed as the part shows them; each claim
    /// becomes one row of [`side_by_side`], this run's figure beside the idle machine's.
    Beside,
}

impl Sink {
    /// A sink that also appends every claim to `path` (created if missing), one JSON object per
    /// line.
    pub fn to_file(path: &Path) -> anyhow::Result<Self> {
        let file = File::options()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open the claims file {}", path.display()))?;
        Ok(Sink {
            file: Some(file),
            ..Sink::default()
        })
    }

    /// Claims recorded so far, oldest first.
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// The latest recorded claim whose sentence contains `needle`, if any.
    pub fn find(&self, needle: &str) -> Option<&Record> {
        self.records.iter().rev().find(|r| r.claim.contains(needle))
    }

    /// Flush the claims file and report the first error writing it, if any.
    pub fn finish(&mut self) -> anyhow::Result<()> {
        if let Some(file) = self.file.as_mut() {
            file.flush().context("cannot write the claims file")?;
        }
        match self.write_error.take() {
            Some(error) => anyhow::bail!("cannot write the claims file: {error}"),
            None => Ok(()),
        }
    }

    /// Write `c` to `out` for `session` in `pass` (see [`Sink::state`]'s caller, `Cx::claim`) and record
    /// it. Returns whether the figure supports the sentence.
    pub fn state(&mut self, out: &mut Out, session: &Session, pass: Pass, c: Claim<'_>) -> bool {
        debug_assert!(
            c.low <= c.expected && c.expected <= c.high,
            "the expectation of {:?} lies outside its own bound",
            c.figure
        );
        let held = c.low <= c.measured && c.measured <= c.high;
        let shown = c.unit.show(c.measured);
        match pass {
            Pass::Lead => {
                out.indented(&format!("{}: {shown}", c.figure), "  ", "    ");
                out.indented(c.text, "  ✓ ", "    ");
                return held;
            }
            // Printed by the runner, beside the idle machine's figure: see `side_by_side`.
            Pass::Beside => {}
            Pass::Only => {
                let figure_line = if session.simulated {
                    format!("{}: {shown}", c.figure)
                } else {
                    format!(
                        "{}: {shown} (expected {})",
                        c.figure,
                        c.unit.show(c.expected)
                    )
                };
                out.indented(&figure_line, "  ", "    ");
                if held {
                    out.indented(c.text, "  ✓ ", "    ");
                } else {
                    let needs = format!("needs {} to {}", c.unit.show(c.low), c.unit.show(c.high));
                    out.indented(&format!("Not shown by this run ({needs})."), "  ✗ ", "    ");
                }
            }
        }
        let cause = (!held).then(|| probe::sample().likely_cause());
        let record = Record {
            lesson: session.lesson.to_owned(),
            part: session.part,
            claim: c.text.to_owned(),
            measured: c.measured,
            expected: c.expected,
            low: c.low,
            high: c.high,
            held,
            cause,
        };
        self.push(record);
        held
    }

    /// Record a claim already printed: keep it, and append it to the claims file if any.
    pub fn push(&mut self, record: Record) {
        if let Some(file) = self.file.as_mut() {
            let line = serde_json::to_string(&record).map(|json| json + "\n");
            let result = match line {
                Ok(line) => file.write_all(line.as_bytes()).map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            if let Err(error) = result {
                self.write_error.get_or_insert(error);
            }
        }
        self.records.push(record);
    }
}

/// The one claim about a speed-up over one thread: `parallel` (work ran at once on several
/// cores) where the simulator expects a gain of 1.5x or more, else `serial` (no faster than
/// one thread, e.g. on one core).
///
/// A gain may lose up to two thirds of itself to a busy spell and still show parallel work; a
/// figure far above the expectation means the baseline was slowed, so the top bound is 1.3
/// times the expectation. "No faster" is [`no_faster`]'s bound.
pub fn speedup<'a>(
    figure: &'a str,
    measured: f64,
    expected: f64,
    parallel: &'a str,
    serial: &'a str,
) -> Claim<'a> {
    if expected >= 1.5 {
        Claim {
            figure,
            unit: Unit::Ratio,
            measured,
            expected,
            low: 1.0 + (expected - 1.0) * 0.35,
            high: expected * 1.3,
            text: parallel,
        }
    } else {
        no_faster(figure, measured, expected, serial)
    }
}

/// The claim that something ran no faster than one thread (the simulator expects about 1x or
/// less): slower down to half, faster only by what timing noise explains (15 %), so "no
/// faster" never stands beside a figure that says otherwise.
pub fn no_faster<'a>(figure: &'a str, measured: f64, expected: f64, text: &'a str) -> Claim<'a> {
    Claim {
        figure,
        unit: Unit::Ratio,
        measured,
        expected,
        low: (expected * 0.5).min(0.5),
        high: (expected * 1.15).max(1.15),
        text,
    }
}

/// One claim as a busy machine shows it: this run's figure beside the simulator's for an idle
/// machine, and whether the sentence held.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Compared {
    /// What was measured (the claim's `figure`).
    pub figure: String,
    /// The simulator's figure for an idle machine, written in the claim's unit.
    pub idle: String,
    /// This run's figure.
    pub this_run: String,
    /// Whether this run's figure supports the sentence.
    pub held: bool,
    /// The bound the sentence needs, e.g. `1.50x to 2.50x`.
    pub needs: String,
}

impl Compared {
    /// `c` as a row: its figures written in its unit, whether it held, the bound it needs.
    pub fn of(c: &Claim<'_>) -> Self {
        let (low, high) = (c.unit.show(c.low), c.unit.show(c.high));
        // "0.85-1.35x", "4.00-7.00 ms": the unit once, so the row fits on one line.
        let unit = |s: &str| {
            s.trim_start_matches(|ch: char| ch.is_ascii_digit() || ch == '.')
                .to_owned()
        };
        let needs = if c.low == c.high {
            low
        } else if !unit(&low).is_empty() && unit(&low) == unit(&high) {
            format!("{}-{high}", low.trim_end_matches(unit(&low).as_str()))
        } else {
            format!("{low} to {high}")
        };
        Compared {
            figure: c.figure.to_owned(),
            idle: c.unit.show(c.expected),
            this_run: c.unit.show(c.measured),
            held: c.low <= c.measured && c.measured <= c.high,
            needs,
        }
    }
}

/// A part's claims on a busy machine as one table, each in one row: ✓ or ✗, the idle
/// machine's figure (the simulator's) beside this run's, and the bound the sentence needs.
/// Long figure names wrap so every line fits in [`report::WIDTH`] columns.
pub fn side_by_side(rows: &[Compared]) -> String {
    const HEADER: [&str; 4] = ["result", "idle machine", "this run", "needs"];
    let widest = |header: &str, cell: fn(&Compared) -> &str| {
        rows.iter()
            .map(|r| cell(r).chars().count())
            .chain([header.chars().count()])
            .max()
            .unwrap_or(0)
    };
    let idle_w = widest(HEADER[1], |r| &r.idle);
    let run_w = widest(HEADER[2], |r| &r.this_run);
    let needs_w = widest(HEADER[3], |r| &r.needs);
    // "  ✓ " figure "  " idle "  " run "  " needs
    let room = report::WIDTH.saturating_sub(4 + 2 + idle_w + 2 + run_w + 2 + needs_w);
    let figure_w = widest(HEADER[0], |r| &r.figure).min(room.max(12));
    let line = |mark: &str, cells: [&str; 4]| {
        let [figure, idle, run, needs] = cells;
        format!("{mark} {figure:<figure_w$}  {idle:>idle_w$}  {run:>run_w$}  {needs}")
            .trim_end()
            .to_owned()
    };
    let rules = [figure_w, idle_w, run_w, needs_w].map(|w| "-".repeat(w));
    let mut out = vec![
        line(" ", HEADER),
        line(" ", [&rules[0], &rules[1], &rules[2], &rules[3]]),
    ];
    for r in rows {
        let options = textwrap::Options::new(figure_w).break_words(true);
        let names = textwrap::wrap(&r.figure, options);
        let mark = if r.held { "✓" } else { "✗" };
        let first = names.first().map(|n| n.to_string()).unwrap_or_default();
        out.push(line(mark, [&first, &r.idle, &r.this_run, &r.needs]));
        out.extend(names.iter().skip(1).map(|n| format!("  {n}")));
    }
    out.iter()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(measured: f64) -> Claim<'static> {
        Claim {
            figure: "GIL time, two threads / one",
            unit: Unit::Ratio,
            measured,
            expected: 1.0,
            low: 0.8,
            high: 1.35,
            text: "Two threads take as long as one.",
        }
    }

    #[test]
    fn a_claim_holds_exactly_inside_its_bound() {
        let mut sink = Sink::default();
        let mut claim = |c| sink.state(&mut Out::Discard, &Session::simulated(2), Pass::Only, c);
        assert!(claim(sample(1.0)));
        assert!(claim(sample(0.8)));
        assert!(claim(sample(1.35)));
        assert!(!claim(sample(1.36)));
        assert!(!claim(sample(f64::NAN)));
        assert_eq!(sink.records().len(), 5);
        let missed = sink
            .records()
            .iter()
            .filter(|r| !r.held)
            .collect::<Vec<_>>();
        assert_eq!(missed.len(), 2);
        assert!(
            missed
                .iter()
                .all(|r| r.cause.as_deref().is_some_and(|c| !c.is_empty()))
        );
    }

    #[test]
    fn a_speedup_claim_picks_its_sentence_by_the_expectation_and_contains_it() {
        let two = speedup("x", 1.9, 2.0, "parallel", "serial");
        assert_eq!(two.text, "parallel");
        assert!(two.low <= 2.0 && 2.0 <= two.high && two.low > 1.0);
        let one = speedup("x", 1.0, 0.99, "parallel", "serial");
        assert_eq!(one.text, "serial");
        assert!(one.low <= 0.99 && 0.99 <= one.high && one.high < 1.5);
    }

    #[test]
    fn records_are_one_json_line_with_the_documented_keys() {
        let record = Record {
            lesson: "cpu-bound".into(),
            part: 1,
            claim: "x".into(),
            measured: 0.97,
            expected: 1.0,
            low: 0.8,
            high: 1.35,
            held: true,
            cause: None,
        };
        assert_eq!(
            serde_json::to_string(&record).unwrap(),
            r#"{"lesson":"cpu-bound","part":1,"claim":"x","measured":0.97,"expected":1.0,"low":0.8,"high":1.35,"held":true,"cause":null}"#
        );
    }

    #[test]
    fn a_compared_row_writes_its_bound_with_the_unit_once() {
        let needs = |unit, low, high| {
            Compared::of(&Claim {
                figure: "f",
                unit,
                measured: low,
                expected: low,
                low,
                high,
                text: "t",
            })
            .needs
        };
        assert_eq!(needs(Unit::Ratio, 0.85, 1.35), "0.85-1.35x");
        assert_eq!(needs(Unit::Millis, 4.0, 7.0), "4.00-7.00 ms");
        assert_eq!(needs(Unit::Percent, 50.0, 100.0), "50.0-100.0 %");
        assert_eq!(needs(Unit::Count, 1.0, 1_000.0), "1 to 1,000");
        assert_eq!(needs(Unit::Count, 5.0, 5.0), "5");
    }

    #[test]
    fn units_show_their_values() {
        assert_eq!(Unit::Ratio.show(0.974), "0.97x");
        assert_eq!(Unit::Count.show(1_000_000.0), "1,000,000");
        assert_eq!(Unit::Percent.show(83.44), "83.4 %");
        assert_eq!(Unit::Millis.show(f64::NAN), "n/a");
    }
}
