//! `exercises/exercises.toml`: the course's exercises in order, with their checks
//! (this module is the schema's one definition).
//!
//! Loading checks everything it can before anything runs: unknown keys, ranges, placeholders
//! that name no parameter, expressions that do not parse. Every error is one line that names the
//! exercise (or the TOML line) at fault.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use anyhow::{Context as _, bail};
use serde::Deserialize;

use super::expr::Expr;

/// How wide a line of `learned` is printed (after a two-space indent).
pub const LEARNED_WIDTH: usize = 78;

/// Names an expression may use besides the parameters.
const RESERVED: [&str; 6] = ["solution", "cores", "out", "min", "max", "xtask"];

/// The whole manifest, in course order.
#[derive(Debug)]
pub struct Manifest {
    /// The exercises, in the order learners do them.
    pub exercises: Vec<Exercise>,
}

/// The file as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    exercise: Vec<Exercise>,
}

/// One exercise.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exercise {
    /// File stem in `exercises/` and `solutions/`, and the NAME learners type.
    pub name: String,
    /// Which lesson it belongs to.
    pub section: Section,
    /// One line for `cargo xtask list`.
    pub title: String,
    /// Seconds one run may take before its whole process group is killed.
    #[serde(default = "default_timeout")]
    pub timeout: f64,
    /// How many times one check runs it (races need several).
    #[serde(default = "one")]
    pub runs: u32,
    /// Its runs mostly wait (sleeps, a stuck program's time limit) and its checks time no
    /// computation, so `verify` may run it beside an exercise that needs the cores.
    #[serde(default)]
    pub waits: bool,
    /// Command-line arguments, `{param}` filled in.
    #[serde(default)]
    pub args: String,
    /// Inclusive integer ranges the grader draws each parameter from: `[low, high]`, or
    /// `[low, high, step]` to draw only `low + k * step` (say, only odd numbers).
    #[serde(default)]
    pub params: BTreeMap<String, Range>,
    /// Tools that must be on `PATH`; without them the exercise is skipped.
    #[serde(default)]
    pub requires: Vec<String>,
    /// A command that replaces running the compiled binary (`{file}`, `{xtask}`, `{param}`).
    pub run: Option<String>,
    /// A Python exercise (`exercises/python/NAME.py`, or `.c` for a C extension): the harness
    /// `xtask/python/harness.py` runs it on this Python with `args`.
    pub python: Option<PythonNeed>,
    /// What the exercise showed about the GIL, two or three lines printed after a pass
    /// (required: every exercise ends with its lesson).
    pub learned: String,
    /// Hints, from a nudge to nearly the answer.
    pub hints: Vec<String>,
    /// What the output must satisfy.
    #[serde(rename = "check")]
    pub checks: Vec<Check>,
}

/// How an exercise's program is started, decided once from the manifest.
#[derive(Clone, Copy, Debug)]
pub enum Launch<'a> {
    /// A binary of its package (`src/bin/NAME.rs`), built by cargo and run with these
    /// arguments (`{param}` filled in).
    Binary {
        /// The argument template.
        args: &'a str,
    },
    /// A whole command (`run`): `{xtask}`, `{file}` and `{param}` filled in; nothing is built.
    Template {
        /// The command template.
        run: &'a str,
    },
    /// The learner's Python (or C) file run by the Python harness on a Python it finds;
    /// nothing is built by cargo.
    Python {
        /// The argument template (`{param}` filled in).
        args: &'a str,
        /// Which Python.
        need: PythonNeed,
    },
}

/// Which Python a Python exercise runs on.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum PythonNeed {
    /// `$GIL_LESSONS_PYTHON`, else `python3` on `PATH`.
    Any,
    /// A free-threaded build (`Py_GIL_DISABLED`): `$GIL_LESSONS_PYTHON` or `python3` if free-
    /// threaded, else `python3.14t` or `python3.13t` on `PATH`.
    FreeThreaded,
}

impl Launch<'_> {
    /// Does cargo build this exercise's programs?
    pub fn is_built(self) -> bool {
        matches!(self, Launch::Binary { .. })
    }
}

/// The lessons exercises belong to.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Section {
    /// Lesson 1
    Refcounting,
    /// Lesson 2
    CpuBound,
    /// Lesson 3
    IoBound,
    /// Lesson 4
    Atomicity,
    /// Lesson 5
    Workarounds,
    /// The PyO3 lesson against a real interpreter.
    RealGil,
    /// Lesson 6: the learner's own Python.
    Practice,
    /// Lesson 7, for authors of PyO3 extensions.
    Extensions,
}

impl Section {
    /// The name as written in the manifest.
    pub fn name(self) -> &'static str {
        match self {
            Section::Refcounting => "refcounting",
            Section::CpuBound => "cpu-bound",
            Section::IoBound => "io-bound",
            Section::Atomicity => "atomicity",
            Section::Workarounds => "workarounds",
            Section::RealGil => "real-gil",
            Section::Practice => "practice",
            Section::Extensions => "extensions",
        }
    }
}

/// The values a parameter is drawn from: `low`, `low + step`, … up to `high`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    /// The least value.
    pub low: i64,
    /// The greatest value that may be drawn is at most this.
    pub high: i64,
    /// The distance between two values that may be drawn (1: every integer).
    pub step: i64,
}

impl<'de> Deserialize<'de> for Range {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Range, D::Error> {
        let values = Vec::<i64>::deserialize(deserializer)?;
        match values[..] {
            [low, high] => Ok(Range { low, high, step: 1 }),
            [low, high, step] => Ok(Range { low, high, step }),
            _ => Err(serde::de::Error::custom(
                "a parameter is [low, high] or [low, high, step]",
            )),
        }
    }
}

/// One check of one `label: value` line.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    /// The label of the line it reads.
    pub label: String,
    /// The value must equal this.
    pub expect: Option<String>,
    /// The value must be at least this.
    pub at_least: Option<String>,
    /// The value must be at most this.
    pub at_most: Option<String>,
    /// Shown when the check fails.
    pub why: Option<String>,
    /// Shown instead of `why` when the value came out too high (say, work done twice).
    pub why_too_high: Option<String>,
    /// Shown instead of `why` when the value came out too low (say, a step dropped).
    pub why_too_low: Option<String>,
    /// The parsed relations, filled in by [`Manifest::parse`].
    #[serde(skip)]
    pub relations: Vec<Relation>,
}

/// How a value must relate to an expression.
#[derive(Debug)]
pub struct Relation {
    /// equal, at least, at most
    pub kind: RelationKind,
    /// The expression as written.
    pub source: String,
    /// The expression parsed.
    pub expr: Expr,
}

/// The three relations a check can ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RelationKind {
    /// `expect`
    Equal,
    /// `at_least`
    AtLeast,
    /// `at_most`
    AtMost,
}

impl RelationKind {
    /// "must equal", as the failure message puts it.
    pub fn phrase(self) -> &'static str {
        match self {
            RelationKind::Equal => "must equal",
            RelationKind::AtLeast => "must be at least",
            RelationKind::AtMost => "must be at most",
        }
    }

    /// The manifest key.
    pub fn key(self) -> &'static str {
        match self {
            RelationKind::Equal => "expect",
            RelationKind::AtLeast => "at_least",
            RelationKind::AtMost => "at_most",
        }
    }
}

fn default_timeout() -> f64 {
    30.0
}

fn one() -> u32 {
    1
}

impl Manifest {
    /// Read and check the manifest at `path` (`shown` is the path to put in messages).
    pub fn load(path: &Path, shown: &str) -> anyhow::Result<Manifest> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {shown}"))?;
        Manifest::parse(&text).map_err(|e| anyhow::anyhow!("{shown}: {e}"))
    }

    /// Parse and check manifest text.
    pub fn parse(text: &str) -> Result<Manifest, String> {
        let file: File = toml::from_str(text).map_err(|e| toml_error(text, &e))?;
        let mut seen = HashSet::new();
        let mut exercises = file.exercise;
        if exercises.is_empty() {
            return Err("no [[exercise]] tables".into());
        }
        for exercise in &mut exercises {
            exercise
                .validate()
                .map_err(|e| format!("exercise `{}`: {e}", exercise.name))?;
            if !seen.insert(exercise.name.clone()) {
                return Err(format!("exercise `{}` is listed twice", exercise.name));
            }
        }
        Ok(Manifest { exercises })
    }

    /// The exercise called `name`; the error lists what there is.
    pub fn find(&self, name: &str) -> anyhow::Result<&Exercise> {
        if let Some(exercise) = self.exercises.iter().find(|e| e.name == name) {
            return Ok(exercise);
        }
        let close: Vec<&str> = self
            .exercises
            .iter()
            .map(|e| e.name.as_str())
            .filter(|n| !name.is_empty() && n.contains(name))
            .collect();
        if close.is_empty() {
            bail!("no exercise called `{name}` (`cargo xtask list` shows them all)");
        }
        bail!(
            "no exercise called `{name}`; did you mean {}?",
            close.join(" or ")
        );
    }
}

/// A TOML error as one line: `line N: message`.
fn toml_error(text: &str, error: &toml::de::Error) -> String {
    let message = error.message().trim().replace('\n', " ");
    match error.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("line {line}: {message}")
        }
        None => message,
    }
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The `{name}` placeholders in a template.
pub fn placeholders(template: &str) -> Result<Vec<&str>, String> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find(['{', '}']) {
        if rest[open..].starts_with('}') {
            return Err(format!("unmatched `}}` in `{template}`"));
        }
        let close = rest[open..]
            .find('}')
            .ok_or_else(|| format!("unclosed `{{` in `{template}`"))?;
        names.push(&rest[open + 1..open + close]);
        rest = &rest[open + close + 1..];
    }
    Ok(names)
}

impl Exercise {
    fn validate(&mut self) -> Result<(), String> {
        let name_ok = !self.name.is_empty()
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !name_ok {
            return Err("a name is a file stem: letters, digits, `_` and `-`".into());
        }
        if self.title.trim().is_empty() || self.title.contains('\n') {
            return Err("the title must be one non-empty line".into());
        }
        if !(self.timeout.is_finite() && self.timeout > 0.0 && self.timeout <= 3600.0) {
            return Err(format!(
                "timeout must be 0 to 3600 seconds, got {}",
                self.timeout
            ));
        }
        if self.runs == 0 || self.runs > 100 {
            return Err(format!("runs must be 1 to 100, got {}", self.runs));
        }
        for (param, range) in &self.params {
            if !is_identifier(param) || RESERVED.contains(&param.as_str()) || param == "file" {
                return Err(format!("`{param}` cannot be a parameter name"));
            }
            let Range { low, high, step } = *range;
            if low > high {
                return Err(format!(
                    "parameter `{param}`: range [{low}, {high}] is empty"
                ));
            }
            if step < 1 {
                return Err(format!(
                    "parameter `{param}`: step {step} must be 1 or more"
                ));
            }
        }
        for name in placeholders(&self.args)? {
            if !self.params.contains_key(name) {
                return Err(format!("args use `{{{name}}}`, which is not a parameter"));
            }
        }
        if let Some(run) = &self.run {
            for name in placeholders(run)? {
                if !self.params.contains_key(name) && name != "file" && name != "xtask" {
                    return Err(format!("run uses `{{{name}}}`, which is not a parameter"));
                }
            }
            if !self.args.is_empty() {
                return Err("give either run (a whole command) or args, not both".into());
            }
            if self.python.is_some() {
                return Err("a Python exercise runs through its harness: args, not run".into());
            }
        }
        for tool in &self.requires {
            if tool.is_empty() || tool.contains(['/', ' ']) {
                return Err(format!("requires names tools on PATH, not `{tool}`"));
            }
        }
        let learned_lines = super::wrap(self.learned.trim(), LEARNED_WIDTH).len();
        if self.learned.trim().is_empty() || learned_lines > 3 {
            return Err(format!(
                "learned must be one to three lines of {LEARNED_WIDTH} columns, not {learned_lines}"
            ));
        }
        if self.hints.is_empty() || self.hints.iter().any(|h| h.trim().is_empty()) {
            return Err("needs at least one hint, and no empty ones".into());
        }
        if self.checks.is_empty() {
            return Err("needs at least one [[exercise.check]]".into());
        }
        let params = &self.params;
        for check in &mut self.checks {
            check
                .prepare(params)
                .map_err(|e| format!("check `{}`: {e}", check.label))?;
        }
        Ok(())
    }

    /// How its program is started.
    pub fn launch(&self) -> Launch<'_> {
        match (&self.run, self.python) {
            (Some(run), _) => Launch::Template { run },
            (None, Some(need)) => Launch::Python {
                args: &self.args,
                need,
            },
            (None, None) => Launch::Binary { args: &self.args },
        }
    }

    /// Draw one value of every parameter.
    pub fn draw(&self, mut between: impl FnMut(i64, i64) -> i64) -> BTreeMap<String, i64> {
        self.params
            .iter()
            .map(|(name, range)| {
                let steps = (range.high - range.low) / range.step;
                (name.clone(), range.low + range.step * between(0, steps))
            })
            .collect()
    }

    /// Does any check compare with the solution's run?
    pub fn needs_solution(&self) -> bool {
        self.checks
            .iter()
            .flat_map(|c| &c.relations)
            .any(|r| r.expr.uses_solution())
    }

    /// Does any check's expected value depend on the drawn parameters or the solution's run?
    /// (The manifest's anti-cheat rule: without one, printing a fixed answer could pass.)
    pub fn varies(&self) -> bool {
        self.checks
            .iter()
            .flat_map(|c| &c.relations)
            .any(|r| r.expr.uses_solution() || !r.expr.params().is_empty())
    }
}

impl Check {
    fn prepare(&mut self, params: &BTreeMap<String, Range>) -> Result<(), String> {
        if self.label.trim().is_empty()
            || self.label.contains(':')
            || self.label != self.label.trim()
        {
            return Err("a label is non-empty, has no `:` and no surrounding spaces".into());
        }
        if self.expect.is_some() && (self.at_least.is_some() || self.at_most.is_some()) {
            return Err("use expect alone, or at_least and/or at_most".into());
        }
        let relations = [
            (RelationKind::Equal, &self.expect),
            (RelationKind::AtLeast, &self.at_least),
            (RelationKind::AtMost, &self.at_most),
        ];
        for (kind, source) in relations {
            let Some(source) = source else { continue };
            let expr = Expr::parse(source).map_err(|e| format!("{}: {e}", kind.key()))?;
            if let Some(unknown) = expr.params().into_iter().find(|p| !params.contains_key(p)) {
                return Err(format!(
                    "{} uses `{unknown}`, which is not a parameter (nor solution or cores)",
                    kind.key()
                ));
            }
            self.relations.push(Relation {
                kind,
                source: source.trim().to_owned(),
                expr,
            });
        }
        if self.relations.is_empty() {
            return Err("needs expect, at_least or at_most".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[[exercise]]
name = "07_counter_lock"
section = "atomicity"
title = "Ten threads, one counter"
timeout = 30
runs = 3
args = "--threads {threads} --iterations {iterations}"
params = { threads = [4, 10], iterations = [20000, 100000] }
learned = "What it showed."
hints = ["one", "two", "three"]

[[exercise.check]]
label = "locked total"
expect = "threads * iterations"

[[exercise.check]]
label = "speedup"
at_least = "0.6 * solution"
why = "because"

[[exercise]]
name = "real"
section = "real-gil"
title = "A real interpreter"
timeout = 2.5
requires = ["python3"]
run = "{xtask} real-gil exercise --source {file} --n {n}"
params = { n = [1, 1] }
learned = "What it showed."
hints = ["h"]
[[exercise.check]]
label = "n"
expect = "n"
"#;

    #[test]
    fn the_agreed_schema_loads() {
        let manifest = Manifest::parse(GOOD).unwrap();
        let counter = &manifest.exercises[0];
        assert_eq!(counter.section, Section::Atomicity);
        assert_eq!(counter.runs, 3);
        assert_eq!(
            counter.params["threads"],
            Range {
                low: 4,
                high: 10,
                step: 1
            }
        );
        assert_eq!(counter.checks[0].relations[0].kind, RelationKind::Equal);
        assert!(counter.needs_solution());
        assert!(counter.varies());
        let real = &manifest.exercises[1];
        assert_eq!(real.timeout, 2.5);
        assert_eq!(real.runs, 1, "runs defaults to one");
        assert!(!real.needs_solution());
        assert!(manifest.find("07_counter_lock").is_ok());
        let missing = manifest.find("counter").unwrap_err().to_string();
        assert!(missing.contains("07_counter_lock"), "{missing}");
    }

    fn error(text: &str) -> String {
        let err = Manifest::parse(text).unwrap_err();
        assert!(!err.contains('\n'), "not one line: {err}");
        err
    }

    #[test]
    fn unknown_keys_are_one_line_errors() {
        let err = error(&GOOD.replace("runs = 3", "runs = 3\nretries = 2"));
        assert!(err.contains("line 8") && err.contains("retries"), "{err}");
        let err = error(&GOOD.replace("why = \"because\"", "because = \"why\""));
        assert!(err.contains("because"), "{err}");
    }

    #[test]
    fn bad_values_name_the_exercise() {
        let cases = [
            ("section = \"atomicity\"", "section = \"maths\"", "maths"),
            ("threads = [4, 10]", "threads = [10, 4]", "empty"),
            ("{threads} --iter", "{thread} --iter", "thread"),
            ("threads * iterations", "threads * iterationz", "iterationz"),
            ("threads * iterations", "threads *", "ends too early"),
            (
                "at_least = \"0.6",
                "at_most = \"1\"\nexpect = \"0.6",
                "alone",
            ),
            (
                "hints = [\"one\", \"two\", \"three\"]",
                "hints = []",
                "hint",
            ),
            ("name = \"real\"", "name = \"07_counter_lock\"", "twice"),
            ("learned = \"What it showed.\"\n", "", "learned"),
            (
                "learned = \"What it showed.\"",
                "learned = \"  \"",
                "one to three lines",
            ),
            ("label = \"speedup\"", "label = \"speed: up\"", "label"),
        ];
        for (from, to, needle) in cases {
            let err = error(&GOOD.replacen(from, to, 1));
            assert!(err.contains(needle), "{to}: {err}");
        }
        assert!(error("").contains("exercise"));
        assert!(error("[[exercise]]\nname = 3").contains("line 2"));
    }

    #[test]
    fn python_exercises_launch_through_the_harness() {
        let text = r#"
[[exercise]]
name = "py"
section = "practice"
title = "A Python exercise"
python = "free-threaded"
args = "--n {n}"
params = { n = [1, 9] }
learned = "l"
hints = ["h"]
[[exercise.check]]
label = "n"
expect = "n"
"#;
        let manifest = Manifest::parse(text).unwrap();
        let launch = manifest.exercises[0].launch();
        assert!(matches!(
            launch,
            Launch::Python {
                args: "--n {n}",
                need: PythonNeed::FreeThreaded
            }
        ));
        assert!(!launch.is_built());
        let both = text.replace("args = \"--n {n}\"", "run = \"{xtask} x {n}\"");
        assert!(error(&both).contains("args, not run"), "{both}");
        assert!(error(&text.replace("free-threaded", "any-old")).contains("any-old"));
    }

    #[test]
    fn placeholders_are_found_and_checked() {
        assert_eq!(placeholders("--a {a} --b={b}").unwrap(), vec!["a", "b"]);
        assert!(placeholders("{a").is_err());
        assert!(placeholders("a}").is_err());
    }
}
