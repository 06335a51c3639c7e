//! The table's cells, tolerances and rows, and the table itself.

use std::fmt;
use std::time::Duration;

use gil_core::measure::{fmt_count, fmt_duration, fmt_ratio};
use serde::Serialize;

/// One cell of the CPython, model or simulator column.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A ratio, shown as `1.04x`.
    Ratio(f64),
    /// A time in milliseconds.
    Millis(f64),
    /// Lost updates.
    Lost(Lost),
    /// Whether some schedule loses an update, over every schedule (gil-core's explorer).
    Possible(bool),
    /// A figure this run did not measure, quoted from elsewhere: shown, never compared.
    Quoted(String),
    /// No figure, and why.
    Missing(String),
}

impl Value {
    /// The number a tolerance compares, if any.
    pub fn number(&self) -> Option<f64> {
        match self {
            Value::Ratio(x) | Value::Millis(x) => Some(*x).filter(|x| x.is_finite()),
            _ => None,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Ratio(x) => f.write_str(&fmt_ratio(*x)),
            Value::Millis(ms) => {
                f.write_str(&fmt_duration(Duration::from_secs_f64(ms.max(0.0) / 1e3)))
            }
            Value::Lost(lost) => lost.fmt(f),
            Value::Possible(true) => f.write_str("loss possible"),
            Value::Possible(false) => f.write_str("loss impossible"),
            Value::Quoted(text) | Value::Missing(text) => f.write_str(text),
        }
    }
}

/// Lost updates over several runs of the counter race.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Lost {
    /// The most updates one run lost.
    pub worst: u64,
    /// Runs that lost at least one.
    pub runs_lost: u32,
    /// Runs made.
    pub runs: u32,
}

impl fmt::Display for Lost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} lost ({}/{} runs)",
            fmt_count(self.worst),
            self.runs_lost,
            self.runs
        )
    }
}

/// How far the model may be from CPython and still count as faithful.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Tolerance {
    /// Within ± this share of CPython's figure (0.25: ±25 %).
    Relative(f64),
    /// Within this factor of CPython's figure, either way.
    Factor(f64),
    /// Lost updates: both lose in some run, or neither ever does.
    BothOrNeither,
}

/// Ratio rows: the model is expected within ±25 % of CPython's median.
pub const RATIO: Tolerance = Tolerance::Relative(0.25);

impl fmt::Display for Tolerance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tolerance::Relative(share) => write!(f, "±{:.0} %", share * 100.0),
            Tolerance::Factor(factor) => write!(f, "×{factor} either way"),
            Tolerance::BothOrNeither => f.write_str("both lose, or neither"),
        }
    }
}

/// Whether a figure agrees with CPython's within the row's tolerance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Agreement {
    /// Within the tolerance.
    Within,
    /// Outside it.
    Miss,
    /// Nothing measured on one side to compare with.
    NotCompared,
}

impl Agreement {
    /// `ok`, `MISS` or `-`, as the table shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            Agreement::Within => "ok",
            Agreement::Miss => "MISS",
            Agreement::NotCompared => "-",
        }
    }
}

impl Tolerance {
    /// Compare a figure of the model with CPython's.
    pub fn agreement(self, cpython: &Value, model: &Value) -> Agreement {
        let within = match (self, cpython, model) {
            (Tolerance::BothOrNeither, Value::Lost(c), Value::Lost(m)) => {
                (c.runs_lost > 0) == (m.runs_lost > 0)
            }
            (Tolerance::BothOrNeither, Value::Lost(c), Value::Possible(m)) => {
                (c.runs_lost > 0) == *m
            }
            (Tolerance::BothOrNeither, ..) => return Agreement::NotCompared,
            (tolerance, cpython, model) => {
                let (Some(c), Some(m)) = (cpython.number(), model.number()) else {
                    return Agreement::NotCompared;
                };
                match tolerance {
                    Tolerance::Relative(share) => (m - c).abs() <= share * c.abs(),
                    Tolerance::Factor(factor) if c > 0.0 && m > 0.0 => (m / c).max(c / m) <= factor,
                    _ => c == m,
                }
            }
        };
        if within {
            Agreement::Within
        } else {
            Agreement::Miss
        }
    }
}

/// One line of the table.
#[derive(Clone, Debug)]
pub struct Row {
    /// What was measured, with its sizes.
    pub experiment: String,
    /// CPython's figure.
    pub cpython: Value,
    /// The live model's figure.
    pub model: Value,
    /// The simulator's figure.
    pub simulator: Value,
    /// How far from CPython the model and the simulator may be.
    pub tolerance: Tolerance,
    /// Whether the model is within it.
    pub model_agrees: Agreement,
    /// Whether the simulator is within it.
    pub simulator_agrees: Agreement,
    /// Why the model can miss this experiment: printed under the table when it does.
    pub if_missed: &'static str,
}

/// The three figures of a row: CPython's, the live model's, the simulator's.
#[derive(Clone, Debug)]
pub struct Figures {
    /// CPython's.
    pub cpython: Value,
    /// The live model's.
    pub model: Value,
    /// The simulator's.
    pub simulator: Value,
}

impl Figures {
    /// Three ratios.
    pub fn ratios(cpython: f64, model: f64, simulator: f64) -> Figures {
        Figures {
            cpython: Value::Ratio(cpython),
            model: Value::Ratio(model),
            simulator: Value::Ratio(simulator),
        }
    }

    /// Three times in milliseconds.
    pub fn millis(cpython: f64, model: f64, simulator: f64) -> Figures {
        Figures {
            cpython: Value::Millis(cpython),
            model: Value::Millis(model),
            simulator: Value::Millis(simulator),
        }
    }
}

impl Row {
    /// A row, its agreements worked out.
    pub fn new(
        experiment: impl Into<String>,
        figures: Figures,
        tolerance: Tolerance,
        if_missed: &'static str,
    ) -> Row {
        let Figures {
            cpython,
            model,
            simulator,
        } = figures;
        Row {
            experiment: experiment.into(),
            model_agrees: tolerance.agreement(&cpython, &model),
            simulator_agrees: tolerance.agreement(&cpython, &simulator),
            cpython,
            model,
            simulator,
            tolerance,
            if_missed,
        }
    }
}

/// (rows within tolerance, rows compared) for the model's or the simulator's column.
pub fn tally(rows: &[Row], agrees: impl Fn(&Row) -> Agreement) -> (usize, usize) {
    let compared = rows.iter().filter(|r| agrees(r) != Agreement::NotCompared);
    let within = compared
        .clone()
        .filter(|r| agrees(r) == Agreement::Within)
        .count();
    (within, compared.count())
}

/// The table, as Markdown with aligned columns: readable in a terminal, pasteable in a README.
/// Each of the model's and the simulator's figures is followed by whether it fits CPython's.
pub fn render(rows: &[Row]) -> String {
    let header = [
        "experiment",
        "CPython",
        "model",
        "fits",
        "simulator",
        "fits",
        "tolerance",
    ];
    let cells: Vec<[String; 7]> = rows
        .iter()
        .map(|r| {
            [
                r.experiment.clone(),
                r.cpython.to_string(),
                r.model.to_string(),
                r.model_agrees.as_str().to_owned(),
                r.simulator.to_string(),
                r.simulator_agrees.as_str().to_owned(),
                r.tolerance.to_string(),
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &cells {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 7]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell}{}", " ".repeat(width - cell.chars().count())))
            .collect();
        format!("| {} |", padded.join(" | ")).trim_end().to_owned()
    };
    let mut out = vec![
        line(header),
        line(widths.map(|w| "-".repeat(w)).each_ref().map(String::as_str)),
    ];
    out.extend(
        cells
            .iter()
            .map(|row| line(row.each_ref().map(String::as_str))),
    );
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn lost(worst: u64, runs_lost: u32) -> Value {
        Value::Lost(Lost {
            worst,
            runs_lost,
            runs: 5,
        })
    }

    #[test]
    fn relative_tolerance_is_a_share_of_cpythons_figure() {
        let t = Tolerance::Relative(0.25);
        let v = |c, m| t.agreement(&Value::Ratio(c), &Value::Ratio(m));
        assert_eq!(v(1.0, 1.24), Agreement::Within);
        assert_eq!(v(1.0, 0.76), Agreement::Within);
        assert_eq!(v(1.0, 1.26), Agreement::Miss);
        assert_eq!(v(4.0, 2.9), Agreement::Miss);
        assert_eq!(v(f64::NAN, 1.0), Agreement::NotCompared);
    }

    #[test]
    fn factor_tolerance_works_both_ways() {
        let t = Tolerance::Factor(3.0);
        let v = |c, m| t.agreement(&Value::Millis(c), &Value::Millis(m));
        assert_eq!(v(5.0, 15.0), Agreement::Within);
        assert_eq!(v(5.0, 1.7), Agreement::Within);
        assert_eq!(v(5.0, 1.6), Agreement::Miss);
        assert_eq!(v(0.03, 5.0), Agreement::Miss);
        assert_eq!(v(0.0, 0.0), Agreement::Within);
        assert_eq!(v(0.0, 1.0), Agreement::Miss);
    }

    #[test]
    fn lost_updates_agree_when_both_or_neither_lose() {
        let t = Tolerance::BothOrNeither;
        assert_eq!(t.agreement(&lost(0, 0), &lost(0, 0)), Agreement::Within);
        assert_eq!(
            t.agreement(&lost(5, 1), &lost(400_000, 5)),
            Agreement::Within
        );
        assert_eq!(t.agreement(&lost(0, 0), &lost(3, 1)), Agreement::Miss);
        assert_eq!(t.agreement(&lost(3, 1), &lost(0, 0)), Agreement::Miss);
    }

    #[test]
    fn quoted_or_missing_figures_are_not_compared() {
        let quoted = Value::Quoted("CPython 3.9 elsewhere".into());
        assert_eq!(
            Tolerance::BothOrNeither.agreement(&quoted, &lost(1, 1)),
            Agreement::NotCompared
        );
        let missing = Value::Missing("no GIL".into());
        assert_eq!(
            RATIO.agreement(&missing, &Value::Millis(5.0)),
            Agreement::NotCompared
        );
    }

    #[test]
    fn values_print_in_human_units() {
        assert_eq!(Value::Ratio(1.041).to_string(), "1.04x");
        assert_eq!(Value::Millis(5.126).to_string(), "5.13 ms");
        assert_eq!(Value::Millis(0.024).to_string(), "24.0 µs");
        assert_eq!(lost(443_964, 5).to_string(), "443,964 lost (5/5 runs)");
    }
}
