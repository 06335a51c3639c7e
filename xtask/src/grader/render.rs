//! Verdicts for people: a headline, what went wrong as a coloured diff, and where to get help.
//! Colour only when stdout is a terminal (and `NO_COLOR` is unset).

use std::io::IsTerminal as _;

use similar::{ChangeTag, TextDiff};

use super::grade::{CheckResult, Kind, Verdict, show_params};

/// ANSI colours, or none.
#[derive(Clone, Copy)]
pub struct Paint {
    /// Whether to colour at all.
    pub on: bool,
}

impl Paint {
    /// Colour when stdout is a terminal and `NO_COLOR` is unset.
    pub fn for_stdout() -> Paint {
        Paint {
            on: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        }
    }

    fn wrap(self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    /// Red.
    pub fn red(self, text: &str) -> String {
        self.wrap("31", text)
    }

    /// Green.
    pub fn green(self, text: &str) -> String {
        self.wrap("32", text)
    }

    /// Yellow.
    pub fn yellow(self, text: &str) -> String {
        self.wrap("33", text)
    }

    /// Bold.
    pub fn bold(self, text: &str) -> String {
        self.wrap("1", text)
    }

    /// Dim.
    pub fn dim(self, text: &str) -> String {
        self.wrap("2", text)
    }
}

/// The whole verdict as text (ends with a newline).
pub fn verdict(v: &Verdict, paint: Paint) -> String {
    let mut out = String::new();
    let mut line = |text: String| {
        out.push_str(&text);
        out.push('\n');
    };
    let head = format!("{} — {}", v.exercise, v.message);
    line(match v.verdict {
        Kind::Pass => paint.green(&format!("✓ {head}")),
        Kind::Skipped => paint.yellow(&format!("○ {head}")),
        _ => paint.red(&format!("✗ {head}")),
    });
    let shows_run = !matches!(v.verdict, Kind::CompileError | Kind::Skipped);
    if shows_run && v.run > 0 {
        let which = if v.runs > 1 && v.passed {
            format!("all {} runs passed; the last ", v.runs)
        } else if v.runs > 1 {
            format!("run {} of {} ", v.run, v.runs)
        } else {
            String::new()
        };
        line(paint.dim(&format!("  {which}with {}", show_params(&v.params))));
    }
    match v.verdict {
        Kind::Pass => {
            for check in &v.checks {
                line(format!(
                    "  {} {}: {}  {}",
                    paint.green("✓"),
                    check.label,
                    check.actual.as_deref().unwrap_or(""),
                    paint.dim(&format!("({} {})", check.relation, check.target()))
                ));
            }
            if let Some(learned) = &v.learned {
                line(String::new());
                line(paint.bold("What this showed:"));
                for text in super::wrap(learned, super::manifest::LEARNED_WIDTH) {
                    line(format!("  {text}"));
                }
            }
        }
        Kind::CompileError => {
            line(String::new());
            line(v.compiler_output.clone().unwrap_or_default());
        }
        Kind::WrongResult => {
            for check in v.checks.iter().filter(|c| !c.passed) {
                line(String::new());
                let solution = match &check.solution {
                    Some(text) if check.expression != "solution" => {
                        format!(" (the solution printed {text})")
                    }
                    _ => String::new(),
                };
                line(format!(
                    "  {} `{}` {} {}{solution}",
                    paint.red("✗"),
                    check.label,
                    check.relation,
                    check.target()
                ));
                out_diff(&mut line, check, paint);
                if let Some(why) = &check.why {
                    line(format!("    why: {why}"));
                }
            }
            line(String::new());
            line("  your program printed:".into());
            excerpt(&mut line, &v.stdout, 40, true);
        }
        Kind::Panic if v.todo => {}
        Kind::Panic | Kind::NonZeroExit => {
            line("  its error output:".into());
            excerpt(&mut line, &v.stderr, 15, false);
        }
        Kind::Deadlock => {
            if let Some((_, way_out)) = gil_core::waits::read_report(&v.stderr) {
                line(String::new());
                for (i, text) in super::wrap(&way_out, 69).iter().enumerate() {
                    let lead = if i == 0 { "  way out: " } else { "    " };
                    line(format!("{lead}{text}"));
                }
            }
        }
        Kind::Timeout => {
            line("  the last it printed:".into());
            excerpt(&mut line, &v.stdout, 10, false);
        }
        Kind::OutputFlood => {
            line("  how its output began:".into());
            excerpt(&mut line, &v.stdout, 5, true);
        }
        Kind::Skipped | Kind::ChangedCourseFiles | Kind::ChangedShippedCode => {}
    }
    if !v.passed && v.verdict != Kind::Skipped {
        line(String::new());
        if let Some(command) = v.command.as_ref().filter(|_| shows_run) {
            line(format!("  run it yourself: {}", paint.bold(command)));
        }
        if let Some(hint) = &v.hint {
            line(format!("  stuck? {}", paint.bold(hint)));
        }
    }
    out
}

/// The expected and the actual line of a failed check as a diff.
fn out_diff(line: &mut impl FnMut(String), check: &CheckResult, paint: Paint) {
    let relation = match check.relation {
        "must be at least" => "≥ ",
        "must be at most" => "≤ ",
        _ => "",
    };
    let expected = match &check.expected {
        Some(value) => format!("{}: {relation}{value}\n", check.label),
        None => format!("{}: {relation}{}\n", check.label, check.expression),
    };
    let actual = match &check.actual {
        Some(value) => format!("{}: {value}\n", check.label),
        None => format!("(no `{}:` line)\n", check.label),
    };
    for text in diff(&expected, &actual, paint).lines() {
        line(format!("    {text}"));
    }
    if let Some(problem) = &check.problem {
        line(format!("    {}", paint.yellow(problem)));
    }
}

/// A line diff of `expected` against `actual`: `- expected`, `+ actual`, changed parts
/// underlined on a terminal.
pub fn diff(expected: &str, actual: &str, paint: Paint) -> String {
    let diff = TextDiff::from_lines(expected, actual);
    let mut out = String::new();
    for op in diff.ops() {
        for change in diff.iter_inline_changes(op) {
            let (sign, colour): (&str, fn(Paint, &str) -> String) = match change.tag() {
                ChangeTag::Delete => ("- ", Paint::red),
                ChangeTag::Insert => ("+ ", Paint::green),
                ChangeTag::Equal => ("  ", |_, text| text.to_owned()),
            };
            let mut text = String::new();
            for (emphasised, part) in change.iter_strings_lossy() {
                let part = part.trim_end_matches('\n');
                if emphasised && paint.on {
                    text.push_str(&format!("\x1b[4m{part}\x1b[24m"));
                } else {
                    text.push_str(part);
                }
            }
            out.push_str(&colour(paint, &format!("{sign}{text}")));
            out.push('\n');
        }
    }
    out
}

/// At most `max` lines of `text`, indented: the first ones or the last ones.
fn excerpt(line: &mut impl FnMut(String), text: &str, max: usize, head: bool) {
    let lines: Vec<&str> = text.trim_matches('\n').lines().collect();
    if lines.is_empty() {
        line("    (nothing)".into());
        return;
    }
    let skipped = lines.len().saturating_sub(max);
    if skipped > 0 && !head {
        line(format!("    … {skipped} earlier lines"));
    }
    let shown = if head {
        &lines[..lines.len() - skipped]
    } else {
        &lines[skipped..]
    };
    for text in shown {
        let text: String = text.chars().take(200).collect();
        line(format!("    │ {text}"));
    }
    if skipped > 0 && head {
        line(format!("    … {skipped} more lines"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_diff_marks_expected_and_actual() {
        let plain = diff("total: 100\n", "total: 99\n", Paint { on: false });
        assert_eq!(plain, "- total: 100\n+ total: 99\n");
        let coloured = diff("total: 100\n", "total: 99\n", Paint { on: true });
        assert!(coloured.contains("\x1b[31m- total: "), "{coloured:?}");
        assert!(
            coloured.contains("\x1b[4m"),
            "changed part emphasised: {coloured:?}"
        );
    }
}
