//! Judging one run: what kind of failure an outcome is (panic, signal, timeout, …) and whether
//! the printed values meet the exercise's checks.

use super::*;

/// A run that did not exit cleanly: its kind, message, and whether a `todo!()` is to blame.
pub(super) fn classify(outcome: &Outcome, exercise: &Exercise) -> Option<(Kind, String, bool)> {
    let panic = panic_message(&outcome.stderr);
    if outcome.ending != Ending::Exited(0)
        && let Some((cycle, _)) = gil_core::waits::read_report(&outcome.stderr)
    {
        return Some((Kind::Deadlock, format!("deadlock: {cycle}"), false));
    }
    Some(match outcome.ending {
        Ending::Exited(0) => return None,
        Ending::TimedOut => (
            Kind::Timeout,
            format!(
                "did not finish in {} s (every thread and child process was stopped)",
                value::show(exercise.timeout, None)
            ),
            false,
        ),
        Ending::Flooded => (
            Kind::OutputFlood,
            format!(
                "output flood: printed more than {} MiB, so it was stopped — a print in an endless loop?",
                MAX_OUTPUT >> 20
            ),
            false,
        ),
        Ending::Exited(code) if code == 101 || panic.is_some() => match panic {
            Some((message, place)) if message.starts_with("not yet implemented") => {
                let what = message
                    .strip_prefix("not yet implemented: ")
                    .map(|what| format!(" ({what})"))
                    .unwrap_or_default();
                (
                    Kind::Panic,
                    format!("not done yet: the TODO is still there{place}{what}"),
                    true,
                )
            }
            Some((message, place)) => (Kind::Panic, format!("panicked{place}: {message}"), false),
            None => (Kind::Panic, "panicked (exit code 101)".into(), false),
        },
        Ending::Exited(_) if python_todo(&outcome.stderr).is_some() => (
            Kind::Panic,
            format!(
                "not done yet: the TODO is still there ({})",
                python_todo(&outcome.stderr).unwrap_or_default()
            ),
            true,
        ),
        Ending::Exited(code) => (
            Kind::NonZeroExit,
            format!("exited with code {code}{}", last_line(&outcome.stderr)),
            false,
        ),
        Ending::Signalled(signal) => (
            Kind::NonZeroExit,
            format!(
                "was killed by signal {signal}{}{}",
                signal_name(signal),
                last_line(&outcome.stderr)
            ),
            false,
        ),
    })
}

/// A Python exercise's TODO: the `NotImplementedError("TODO: …")` its file raises until done.
pub(super) fn python_todo(stderr: &str) -> Option<String> {
    stderr
        .lines()
        .rev()
        .find_map(|line| line.trim().strip_prefix("NotImplementedError: TODO"))
        .map(|what| what.trim_start_matches([':', ' ']).to_owned())
}

/// The first panic in stderr: its message and ` at FILE:LINE:COL` (or "").
pub(super) fn panic_message(stderr: &str) -> Option<(String, String)> {
    let mut lines = stderr.lines();
    while let Some(line) = lines.next() {
        let Some((_, rest)) = line.split_once("panicked at ") else {
            continue;
        };
        let place = rest.trim_end_matches(':');
        let message = lines.next().unwrap_or("").trim().to_owned();
        return Some((message, format!(" at {place}")));
    }
    None
}

/// `: <the last non-empty line of stderr>` or "".
pub(super) fn last_line(stderr: &str) -> String {
    stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| format!(": {}", l.trim()))
        .unwrap_or_default()
}

pub(super) fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGSEGV => " (SIGSEGV: a bad memory access)",
        libc::SIGABRT => " (SIGABRT: aborted — a stack overflow or a double panic?)",
        libc::SIGKILL => " (SIGKILL)",
        libc::SIGBUS => " (SIGBUS)",
        libc::SIGILL => " (SIGILL)",
        libc::SIGFPE => " (SIGFPE)",
        _ => "",
    }
}

/// The values printed under `label` (a label should appear exactly once).
pub(super) fn lines<'a>(parsed: &'a [(String, String)], label: &str) -> Vec<&'a str> {
    parsed
        .iter()
        .filter(|(l, _)| l == label)
        .map(|(_, v)| v.as_str())
        .collect()
}

/// What an expression can see while a check is evaluated.
pub(super) struct CheckEnv<'a> {
    params: &'a BTreeMap<String, i64>,
    mine: &'a [(String, String)],
    solution: Option<f64>,
}

impl Env for CheckEnv<'_> {
    fn param(&self, name: &str) -> Option<f64> {
        self.params.get(name).map(|&v| v as f64)
    }

    fn solution(&self) -> Result<f64, String> {
        self.solution
            .ok_or_else(|| "the solution printed no number for this label".to_owned())
    }

    fn out(&self, label: &str) -> Result<f64, String> {
        match lines(self.mine, label)[..] {
            [] => Err(format!("your program printed no `{label}:` line")),
            [one] => value::number(one)
                .map(|n| n.value)
                .ok_or_else(|| format!("`{label}: {one}` holds no number")),
            _ => Err(format!("your program printed `{label}:` more than once")),
        }
    }

    fn cores(&self) -> f64 {
        gil_core::measure::cores() as f64
    }
}

/// Evaluate every check of `exercise` on the learner's output `mine` (and the solution's output
/// `reference` for checks that use `solution`). `Err`: the solution lacks a line it must print.
pub fn judge(
    exercise: &Exercise,
    params: &BTreeMap<String, i64>,
    mine: &str,
    reference: Option<&str>,
) -> anyhow::Result<Vec<CheckResult>> {
    let mine = gil_core::report::parse_kv(mine);
    let theirs = reference
        .map(gil_core::report::parse_kv)
        .unwrap_or_default();
    let mut results = Vec::new();
    for check in &exercise.checks {
        let printed = lines(&mine, &check.label);
        for relation in &check.relations {
            let mut result = CheckResult {
                label: check.label.clone(),
                relation: relation.kind.phrase(),
                expression: relation.source.clone(),
                expected: None,
                actual: printed.first().map(|s| (*s).to_owned()),
                passed: false,
                problem: None,
                why: check.why.clone(),
                solution: None,
            };
            let solution_text = if relation.expr.uses_solution() {
                match lines(&theirs, &check.label)[..] {
                    [one] => Some(one),
                    _ => bail!(
                        "the solution of {} must print `{}:` exactly once",
                        exercise.name,
                        check.label
                    ),
                }
            } else {
                None
            };
            result.solution = solution_text.map(str::to_owned);
            let actual = match printed[..] {
                [one] => one,
                [] => {
                    result.problem =
                        Some(format!("your program printed no `{}:` line", check.label));
                    results.push(result);
                    continue;
                }
                _ => {
                    result.problem = Some(format!(
                        "your program printed `{}:` {} times; print it once",
                        check.label,
                        printed.len()
                    ));
                    results.push(result);
                    continue;
                }
            };
            // `expect = "solution"` on text: the same text.
            if let Some(text) = solution_text
                && relation.kind == RelationKind::Equal
                && relation.expr.is_solution()
                && !(value::is_numeric(text) && value::is_numeric(actual))
            {
                result.expected = Some(text.to_owned());
                result.passed = text.trim() == actual.trim();
                results.push(result);
                continue;
            }
            let env = CheckEnv {
                params,
                mine: &mine,
                solution: solution_text.and_then(value::number).map(|n| n.value),
            };
            let expected = match relation.expr.eval(&env) {
                Ok(expected) => expected,
                Err(problem) => {
                    result.problem = Some(problem);
                    results.push(result);
                    continue;
                }
            };
            let Some(number) = value::number(actual) else {
                result.expected = Some(value::show(expected, None));
                result.problem = Some(format!("expected a number, found `{actual}`"));
                results.push(result);
                continue;
            };
            // Both sides of the comparison in the same form: yes/no, or the learner's unit and
            // digit grouping.
            match value::truth(actual) {
                Some(truth) if relation.kind == RelationKind::Equal => {
                    result.relation = TRUTH;
                    result.actual = Some(value::yes_no(truth).to_owned());
                    result.expected = Some(if expected == 1.0 || expected == 0.0 {
                        value::yes_no(expected == 1.0).to_owned()
                    } else {
                        value::show(expected, None)
                    });
                }
                _ => result.expected = Some(value::show_like(expected, actual)),
            }
            let slack = 1e-9 * expected.abs().max(number.value.abs()) + 1e-12;
            result.passed = match relation.kind {
                RelationKind::Equal => (number.value - expected).abs() <= slack,
                RelationKind::AtLeast => number.value >= expected - slack,
                RelationKind::AtMost => number.value <= expected + slack,
            };
            // The reason that fits the way it missed, when the manifest gives one.
            let direction = if number.value > expected {
                &check.why_too_high
            } else {
                &check.why_too_low
            };
            if !result.passed && direction.is_some() {
                result.why.clone_from(direction);
            }
            results.push(result);
        }
    }
    Ok(results)
}
