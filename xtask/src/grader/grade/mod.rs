//! Grading one exercise: build, draw parameters, run the learner's program and the solution
//! with them, and turn what happened into a [`Verdict`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use gil_core::measure::SplitMix64;
use serde::Serialize;

use super::course::Snapshot;
use super::expr::Env;
use super::manifest::{Exercise, Launch, PythonNeed, RelationKind};
use super::project::{Build, Project, Side, on_path};
use super::value;
use crate::process::{self, Ending, Limits, Outcome};
use crate::python;

mod compile;
mod judge;

pub use compile::COMPILE_ERROR_HEAD;
#[cfg(test)]
pub use compile::course_notes;
use compile::*;
pub use judge::judge;
use judge::*;

/// Output kept from one run; more than this is an output flood.
pub const MAX_OUTPUT: usize = 1 << 20;

/// The kinds of verdict, each with its own message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Every check held on every run.
    Pass,
    /// The learner's file does not compile.
    #[serde(rename = "compile error")]
    CompileError,
    /// It panicked (`todo!()` included).
    Panic,
    /// It exited with another code, or a signal killed it.
    #[serde(rename = "non-zero exit")]
    NonZeroExit,
    /// The model's threads waited for each other; the watchdog named the cycle and ended it.
    Deadlock,
    /// It did not finish in time.
    Timeout,
    /// It printed more than [`MAX_OUTPUT`].
    #[serde(rename = "output flood")]
    OutputFlood,
    /// A check failed.
    #[serde(rename = "wrong result")]
    WrongResult,
    /// The learner changed code that ships with the exercise; not graded.
    #[serde(rename = "changed shipped code")]
    ChangedShippedCode,
    /// The program changed the course's own files (or the grader's); not passed.
    #[serde(rename = "changed course files")]
    ChangedCourseFiles,
    /// A required tool is missing; not passed.
    Skipped,
}

impl Kind {
    /// The name people read (and `--json` prints).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Pass => "pass",
            Kind::CompileError => "compile error",
            Kind::Panic => "panic",
            Kind::NonZeroExit => "non-zero exit",
            Kind::Deadlock => "deadlock",
            Kind::Timeout => "timeout",
            Kind::OutputFlood => "output flood",
            Kind::WrongResult => "wrong result",
            Kind::ChangedShippedCode => "changed shipped code",
            Kind::ChangedCourseFiles => "changed course files",
            Kind::Skipped => "skipped",
        }
    }
}

/// One relation of one check, as evaluated.
#[derive(Clone, Debug, Serialize)]
pub struct CheckResult {
    /// The line's label.
    pub label: String,
    /// "must equal", "must be at least", "must be at most".
    pub relation: &'static str,
    /// The manifest's expression.
    pub expression: String,
    /// The expression's value (or the solution's text), as shown.
    pub expected: Option<String>,
    /// The learner's value as printed (`None`: no such line).
    pub actual: Option<String>,
    /// Did it hold?
    pub passed: bool,
    /// Why it did not hold, when that is more than "different value".
    pub problem: Option<String>,
    /// The manifest's explanation.
    pub why: Option<String>,
    /// What the solution printed for this label, when the check compares with it.
    pub solution: Option<String>,
}

impl CheckResult {
    /// What the value had to be, as people read it: the expected value alone when the
    /// expression is a literal (`2`, `yes`), "the solution's …" for the solution's text, else
    /// `expression = value`.
    pub fn target(&self) -> String {
        let expression = plain(&self.expression);
        let Some(expected) = &self.expected else {
            return expression;
        };
        if self.expression.trim().parse::<f64>().is_ok() || self.relation == TRUTH {
            expected.clone()
        } else if self.expression == "solution" {
            format!("the solution's {expected}")
        } else if expression.starts_with("the printed") {
            format!("{expression}, {expected}")
        } else {
            format!("{expression} = {expected}")
        }
    }

    /// One line: "`held` must be at most 0.25 * db_ms / 1000 = 5 ms, got 31.2 ms".
    pub fn describe(&self) -> String {
        let head = format!("`{}` {} {}", self.label, self.relation, self.target());
        match &self.problem {
            Some(problem) => format!("{head} — {problem}"),
            None => format!(
                "{head}, got {}",
                self.actual.as_deref().unwrap_or("nothing")
            ),
        }
    }
}

/// An expression as people read it: `out("label")` (the manifest's way to name another printed
/// line) becomes `the printed "label"`.
pub fn plain(expression: &str) -> String {
    let mut text = String::new();
    let mut rest = expression;
    let mut count = 0;
    while let Some(at) = rest.find("out(\"") {
        let after = &rest[at + 5..];
        let Some(end) = after.find("\")") else {
            break;
        };
        text.push_str(&rest[..at]);
        text.push_str(&format!("\"{}\"", &after[..end]));
        rest = &after[end + 2..];
        count += 1;
    }
    text.push_str(rest);
    match count {
        0 => text,
        1 if text.starts_with('"') && text.ends_with('"') => format!("the printed {text}"),
        _ => format!("{text}, the values printed under those labels"),
    }
}

/// The relation of a yes/no check, as people read it.
const TRUTH: &str = "must be";

/// Everything a check found out; `--json` prints exactly this.
#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    /// The exercise's name.
    pub exercise: String,
    /// What happened.
    pub verdict: Kind,
    /// `verdict == pass`.
    pub passed: bool,
    /// One sentence for people.
    pub message: String,
    /// The `todo!()` is still there.
    pub todo: bool,
    /// Which run this verdict is about (1-based) and how many were planned.
    pub run: u32,
    /// How many runs a check makes.
    pub runs: u32,
    /// The parameters of that run.
    pub params: BTreeMap<String, i64>,
    /// How to run the same thing by hand.
    pub command: Option<String>,
    /// The checks of that run.
    pub checks: Vec<CheckResult>,
    /// The compiler's output, for a compile error.
    pub compiler_output: Option<String>,
    /// The program's standard output.
    pub stdout: String,
    /// The program's standard error.
    pub stderr: String,
    /// Where to get help (absent on a pass).
    pub hint: Option<String>,
    /// On a pass: what the exercise showed about the GIL (the manifest's `learned`).
    pub learned: Option<String>,
    /// On a pass: the command that checks the next exercise not passing yet.
    pub next: Option<String>,
    /// On a pass: every exercise passes now.
    pub all_done: bool,
    /// How long grading took.
    pub seconds: f64,
}

impl Verdict {
    /// A verdict not reached yet.
    fn new(exercise: &Exercise) -> Verdict {
        Verdict {
            exercise: exercise.name.clone(),
            verdict: Kind::Pass,
            passed: false,
            message: String::new(),
            todo: false,
            run: 0,
            runs: exercise.runs,
            params: BTreeMap::new(),
            command: None,
            checks: Vec::new(),
            compiler_output: None,
            stdout: String::new(),
            stderr: String::new(),
            hint: Some(format!("cargo xtask hint {}", exercise.name)),
            learned: None,
            next: None,
            all_done: false,
            seconds: 0.0,
        }
    }

    /// Settle on `kind`: a pass brings the lesson learned, a skip needs no hint.
    fn end(&mut self, exercise: &Exercise, kind: Kind, message: String, started: Instant) {
        self.verdict = kind;
        self.passed = kind == Kind::Pass;
        self.message = message;
        if matches!(kind, Kind::Pass | Kind::Skipped) {
            self.hint = None;
        }
        if self.passed {
            self.learned = Some(exercise.learned.trim().to_owned());
        }
        self.seconds = started.elapsed().as_secs_f64();
    }
}

/// What a stage of grading decided: `Some` ends grading with this verdict, `None` goes on.
type Stage = anyhow::Result<Option<(Kind, String)>>;

/// "pass: every check holds on all 3 runs".
fn pass_message(runs: u32) -> String {
    match runs {
        1 => "pass: every check holds".to_owned(),
        n => format!("pass: every check holds on all {n} runs"),
    }
}

/// Whose output is graded.
pub enum Learner {
    /// A program from one of the two packages.
    Program(Side),
    /// A program built elsewhere, run as the learner's would be (`verify`'s wrong answers); for
    /// an exercise with a `run` command, the source file the command is given.
    Built(PathBuf),
    /// A fixed text, as if a program printed it (how `verify` plays a learner who hard-codes).
    Printed(String),
}

/// Draws parameters: gil-core's seedable SplitMix64, so a seed redraws the same ones.
pub struct Rng(SplitMix64);

impl Rng {
    /// From a seed; the same seed draws the same parameters.
    pub fn new(seed: u64) -> Rng {
        Rng(SplitMix64(seed))
    }

    /// Seeded from the clock and the process id.
    pub fn from_entropy() -> Rng {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Rng::new(nanos ^ (u64::from(std::process::id()) << 32))
    }

    /// A value in `low..=high`.
    pub fn between(&mut self, low: i64, high: i64) -> i64 {
        let span = high.abs_diff(low).saturating_add(1);
        low.wrapping_add((self.0.next_u64() % span) as i64)
    }
}

/// How grading talks to the person waiting (progress lines on stderr, or nothing).
pub struct Grading<'a> {
    /// The course.
    pub project: &'a Project,
    /// Draws the parameters.
    pub rng: Rng,
    /// Colour the compiler's output.
    pub colour: bool,
    /// Say what is happening on stderr.
    pub chatty: bool,
    /// Build before running (off when `verify` has built everything already).
    pub build: bool,
    /// The Pythons found so far (asking one about itself takes a process start).
    pub pythons: Pythons,
    /// The solution's output for each exercise and parameters it ran with, kept by `verify`,
    /// which draws the same parameters for every answer to an exercise, so the solution runs
    /// once per draw; `None` (a learner's check) runs it for every run.
    pub solution_runs: Option<SolutionRuns>,
}

/// The solution's standard output by exercise name and parameters.
pub type SolutionRuns = std::cell::RefCell<BTreeMap<(String, BTreeMap<String, i64>), String>>;

/// The Python for each [`PythonNeed`], looked up once per [`Grading`]: every run of a Python
/// exercise needs it, and each lookup starts the interpreter (through pyenv's shim, a shell
/// script, where there is one).
#[derive(Default)]
pub struct Pythons {
    any: std::cell::OnceCell<Option<python::Python>>,
    free_threaded: std::cell::OnceCell<Option<python::Python>>,
}

impl Pythons {
    /// The Python `need` asks for (`None`: there is none).
    fn get(&self, need: PythonNeed) -> anyhow::Result<Option<python::Python>> {
        let cell = match need {
            PythonNeed::Any => &self.any,
            PythonNeed::FreeThreaded => &self.free_threaded,
        };
        if let Some(found) = cell.get() {
            return Ok(found.clone());
        }
        let found = python_for(need)?;
        Ok(cell.get_or_init(|| found).clone())
    }
}

impl Grading<'_> {
    fn say(&self, what: &str) {
        if self.chatty {
            eprintln!("  {what}");
        }
    }

    /// Grade `exercise` as written by `learner`. An `Err` is the course's fault (the solution
    /// fails, a file is missing), never the learner's.
    ///
    /// Stages, each of which may end grading with its verdict: the tools are there, the
    /// shipped code is as handed out, everything builds, then each run with fresh parameters.
    pub fn grade(&mut self, exercise: &Exercise, learner: &Learner) -> anyhow::Result<Verdict> {
        let started = Instant::now();
        let mut verdict = Verdict::new(exercise);
        let (kind, message) = match self.stages(exercise, learner, &mut verdict)? {
            Some(end) => end,
            None => (Kind::Pass, pass_message(exercise.runs)),
        };
        verdict.end(exercise, kind, message, started);
        Ok(verdict)
    }

    /// The stages in order; `Some` is the verdict of the first that ended grading.
    fn stages(&mut self, exercise: &Exercise, learner: &Learner, verdict: &mut Verdict) -> Stage {
        if let Some(end) = self.tools_missing(exercise)? {
            return Ok(Some(end));
        }
        if let Some(end) = self.shipped_code_changed(exercise, learner) {
            return Ok(Some(end));
        }
        if let Some(end) = self.build_all(exercise, learner, verdict)? {
            return Ok(Some(end));
        }
        for run in 1..=exercise.runs {
            if let Some(end) = self.run_once(exercise, learner, run, verdict)? {
                return Ok(Some(end));
            }
        }
        Ok(None)
    }

    /// Skipped (not passed) when a tool the exercise needs is missing.
    fn tools_missing(&self, exercise: &Exercise) -> Stage {
        let missing: Vec<&str> = exercise
            .requires
            .iter()
            .map(String::as_str)
            .filter(|tool| !on_path(tool))
            .collect();
        if !missing.is_empty() {
            let message = format!("skipped (not passed): needs {} on PATH", missing.join(", "));
            return Ok(Some((Kind::Skipped, message)));
        }
        if let Launch::Python { need, .. } = exercise.launch()
            && self.pythons.get(need)?.is_none()
        {
            return Ok(Some((Kind::Skipped, skipped_without(need))));
        }
        Ok(None)
    }

    /// The learner's file keeps the code that ships with the exercise (a "shipped" reference
    /// it is compared with, the harness) as it was handed out; a change is named, not graded.
    fn shipped_code_changed(
        &self,
        exercise: &Exercise,
        learner: &Learner,
    ) -> Option<(Kind, String)> {
        if !matches!(learner, Learner::Program(Side::Exercise))
            || matches!(exercise.launch(), Launch::Python { .. })
        {
            return None;
        }
        let file = self.project.source(exercise, Side::Exercise).ok()?;
        let mine = std::fs::read_to_string(&file).ok()?;
        let handed_out = String::from_utf8(self.project.handed_out(&file)?).ok()?;
        let changed = super::source::changed_shipped_code(&handed_out, &mine);
        if changed.is_empty() {
            return None;
        }
        let shown = self.project.shown(&file);
        Some((
            Kind::ChangedShippedCode,
            format!(
                "not graded: you changed code that ships with the exercise ({}), which the \
                 checks compare yours with. Undo that change (`git diff {shown}` shows it) and \
                 write your fix where the TODO is.",
                changed.join(", ")
            ),
        ))
    }

    /// Build the learner's program and the solution it is compared with; a learner's compile
    /// error ends grading, the solution's is the course's fault.
    fn build_all(
        &mut self,
        exercise: &Exercise,
        learner: &Learner,
        verdict: &mut Verdict,
    ) -> Stage {
        if !self.build || !exercise.launch().is_built() {
            return Ok(None);
        }
        if let Learner::Program(side) = learner {
            self.say(&format!(
                "compiling {} ({})…",
                exercise.name,
                side.package()
            ));
            if let Build::Failed(output) = self.project.build(*side, &[exercise], self.colour)? {
                if *side == Side::Solution {
                    return Err(self.solution_does_not_compile(exercise, &output));
                }
                let file = self.project.source(exercise, *side)?;
                let message = compile_error_message(&self.project.shown(&file), &output);
                verdict.compiler_output = Some(with_notes(&output));
                return Ok(Some((Kind::CompileError, message)));
            }
        }
        let learner_is_solution = matches!(learner, Learner::Program(Side::Solution));
        if exercise.needs_solution() && !learner_is_solution {
            self.say(&format!("compiling {} (solutions)…", exercise.name));
            if let Build::Failed(output) =
                self.project
                    .build(Side::Solution, &[exercise], self.colour)?
            {
                return Err(self.solution_does_not_compile(exercise, &output));
            }
        }
        Ok(None)
    }

    fn solution_does_not_compile(&self, exercise: &Exercise, output: &str) -> anyhow::Error {
        self.project.blame(
            &format!(
                "the solution of {} does not compile:\n{output}",
                exercise.name
            ),
            &exercise.requires,
        )
    }

    /// One run: draw parameters, run the learner's program (and the solution), apply the checks.
    fn run_once(
        &mut self,
        exercise: &Exercise,
        learner: &Learner,
        run: u32,
        verdict: &mut Verdict,
    ) -> Stage {
        verdict.run = run;
        verdict.params = exercise.draw(|low, high| self.rng.between(low, high));
        let mine = match learner {
            Learner::Program(side) => self.run_learner(exercise, *side, None, verdict)?,
            Learner::Built(path) => {
                self.run_learner(exercise, Side::Exercise, Some(path), verdict)?
            }
            Learner::Printed(text) => Ok(Outcome::printed(text)),
        };
        let mine = match mine {
            Ok(outcome) => outcome,
            Err(end) => return Ok(Some(end)),
        };
        verdict.stdout = mine.stdout.clone();
        verdict.stderr = mine.stderr.clone();
        if mine.ending != Ending::Exited(0)
            && let Some((file, messages)) = reported_compile_error(&mine.stderr)
        {
            let message = compile_error_message(&file, &messages);
            verdict.compiler_output = Some(with_notes(&messages));
            return Ok(Some((Kind::CompileError, message)));
        }
        if let Some((kind, message, todo)) = classify(&mine, exercise) {
            verdict.todo = todo;
            return Ok(Some((kind, message)));
        }
        let reference = if exercise.needs_solution() {
            Some(self.run_reference(exercise, &verdict.params)?)
        } else {
            None
        };
        verdict.checks = judge(
            exercise,
            &verdict.params,
            &mine.stdout,
            reference.as_deref(),
        )?;
        Ok(verdict.checks.iter().find(|c| !c.passed).map(|failed| {
            (
                Kind::WrongResult,
                format!("wrong result: {}", failed.describe()),
            )
        }))
    }

    /// Run the learner's program once; `Err` when it changed files it must not touch.
    fn run_learner(
        &self,
        exercise: &Exercise,
        side: Side,
        built: Option<&Path>,
        verdict: &mut Verdict,
    ) -> anyhow::Result<Result<Outcome, (Kind, String)>> {
        let launch = exercise.launch();
        let (program, args) = self.command(launch, exercise, side, built, &verdict.params)?;
        verdict.command = Some(self.shown_command(launch, exercise, side, &verdict.params)?);
        self.say(&format!(
            "running {}{} ({})…",
            exercise.name,
            if exercise.runs > 1 {
                format!(", run {} of {}", verdict.run, exercise.runs)
            } else {
                String::new()
            },
            show_params(&verdict.params)
        ));
        // What the grader saw before the program ran, to tell afterwards whether it touched
        // the course's files or the learner's progress.
        let before = Snapshot::take(self.project);
        let outcome = self.execute(exercise, &program, &args)?;
        let changed = before.changes(self.project);
        if changed.is_empty() {
            return Ok(Ok(outcome));
        }
        before.restore_progress(self.project);
        verdict.stdout = outcome.stdout;
        verdict.stderr = outcome.stderr;
        let message = format!(
            "your program changed files it must not touch: {} — the grade stands as it was; {}",
            changed.join(", "),
            super::course::how_to_restore(&changed)
        );
        Ok(Err((Kind::ChangedCourseFiles, message)))
    }

    /// The solution's output with `params`, which checks that use `solution` compare with.
    pub fn run_reference(
        &self,
        exercise: &Exercise,
        params: &BTreeMap<String, i64>,
    ) -> anyhow::Result<String> {
        let key = (exercise.name.clone(), params.clone());
        if let Some(kept) = self.solution_runs.as_ref()
            && let Some(stdout) = kept.borrow().get(&key)
        {
            return Ok(stdout.clone());
        }
        let (program, args) =
            self.command(exercise.launch(), exercise, Side::Solution, None, params)?;
        let outcome = self.execute(exercise, &program, &args)?;
        if let Some((kind, message, _)) = classify(&outcome, exercise) {
            return Err(self.project.blame(
                &format!(
                    "the solution of {} failed with {} ({}: {message})",
                    exercise.name,
                    show_params(params),
                    kind.name()
                ),
                &exercise.requires,
            ));
        }
        if let Some(kept) = &self.solution_runs {
            kept.borrow_mut().insert(key, outcome.stdout.clone());
        }
        Ok(outcome.stdout)
    }

    /// Run a program in a scratch directory of its own, outside the repository: whatever it
    /// writes to relative paths lands there and is deleted with it.
    pub fn execute(
        &self,
        exercise: &Exercise,
        program: &Path,
        args: &[String],
    ) -> anyhow::Result<Outcome> {
        let limits = Limits {
            timeout: Duration::from_secs_f64(exercise.timeout),
            max_output: MAX_OUTPUT,
        };
        let scratch = tempfile::Builder::new()
            .prefix("gil-lessons-run-")
            .tempdir()
            .context("cannot make a scratch directory to run the program in")?;
        process::run(program, args, scratch.path(), limits)
    }

    /// The program and arguments that run `exercise` on `side` with `params`; `built`
    /// replaces the side's binary, or for a `run` command its file (a wrong answer of `verify`).
    fn command(
        &self,
        launch: Launch<'_>,
        exercise: &Exercise,
        side: Side,
        built: Option<&Path>,
        params: &BTreeMap<String, i64>,
    ) -> anyhow::Result<(PathBuf, Vec<String>)> {
        match launch {
            Launch::Template { run } => {
                let xtask = own_program()?;
                let file = match built {
                    Some(file) => file.to_owned(),
                    None => self.project.source(exercise, side)?,
                };
                let mut words = fill(run, params, &xtask, &file);
                if words.is_empty() {
                    bail!("exercise {}: run is empty", exercise.name);
                }
                let program = PathBuf::from(words.remove(0));
                Ok((program, words))
            }
            Launch::Binary { args } => {
                let program =
                    built.map_or_else(|| self.project.program(exercise, side), Path::to_owned);
                let args = fill(args, params, &program, &program);
                Ok((program, args))
            }
            Launch::Python { args, need } => {
                let python = self
                    .pythons
                    .get(need)?
                    .with_context(|| format!("{}: no Python to run it on", exercise.name))?;
                let file = match built {
                    Some(file) => file.to_owned(),
                    None => self.project.source(exercise, side)?,
                };
                let mut words = vec![
                    harness(&self.project.root).to_string_lossy().into_owned(),
                    exercise.name.clone(),
                    file.to_string_lossy().into_owned(),
                ];
                words.extend(fill(args, params, &file, &file));
                Ok((python.exe, words))
            }
        }
    }

    /// The same command as a learner would type it.
    fn shown_command(
        &self,
        launch: Launch<'_>,
        exercise: &Exercise,
        side: Side,
        params: &BTreeMap<String, i64>,
    ) -> anyhow::Result<String> {
        Ok(match launch {
            Launch::Template { run } => {
                let file = self.project.source(exercise, side)?;
                let file = PathBuf::from(self.project.shown(&file));
                fill(run, params, &PathBuf::from("cargo xtask"), &file).join(" ")
            }
            Launch::Python { args, need } => {
                let file = self.project.source(exercise, side)?;
                let python = match need {
                    PythonNeed::Any => python::DEFAULT,
                    PythonNeed::FreeThreaded => python::FREE_THREADED[1],
                };
                let mut words = vec![
                    python.to_owned(),
                    self.project.shown(&harness(&self.project.root)),
                    exercise.name.clone(),
                    self.project.shown(&file),
                ];
                words.extend(fill(args, params, &file, &file));
                words.join(" ")
            }
            Launch::Binary { args } => {
                let args = fill(args, params, &PathBuf::new(), &PathBuf::new());
                let mut line = format!(
                    "cargo run --release -p {} --bin {}",
                    side.package(),
                    side.bin(&exercise.name)
                );
                if !args.is_empty() {
                    line = format!("{line} -- {}", args.join(" "));
                }
                line
            }
        })
    }
}

/// The harness that runs a Python exercise: it loads the learner's file, records what the
/// learner's code really did (locks taken, threads started, calls made) and prints it.
fn harness(root: &Path) -> PathBuf {
    root.join("xtask/python/harness.py")
}

/// The Python a Python exercise runs on (`None`: there is none).
fn python_for(need: PythonNeed) -> anyhow::Result<Option<python::Python>> {
    let learners = python::find(&python::Choice::learners())?;
    match need {
        PythonNeed::Any => Ok(learners),
        PythonNeed::FreeThreaded => python::find_free_threaded(learners.as_ref()),
    }
}

/// Why a Python exercise was skipped.
fn skipped_without(need: PythonNeed) -> String {
    match need {
        PythonNeed::Any => format!(
            "skipped (not passed): needs {} on PATH (or ${})",
            python::DEFAULT,
            python::LEARNERS
        ),
        PythonNeed::FreeThreaded => format!(
            "skipped (not passed): needs a free-threaded Python ({} on PATH, or ${} naming one)",
            python::FREE_THREADED.join(" or "),
            python::LEARNERS
        ),
    }
}

/// A path that starts this very program again. On Linux `/proc/self/exe`, which stays valid
/// when cargo replaces the file meanwhile (`cargo xtask ci` rebuilds xtask in its test step,
/// then runs `verify`, whose `run` commands start xtask).
fn own_program() -> anyhow::Result<PathBuf> {
    let proc_self = Path::new("/proc/self/exe");
    if proc_self.exists() {
        return Ok(proc_self.to_owned());
    }
    std::env::current_exe().context("cannot find the grader's own path")
}

/// `a=1, b=2`
pub fn show_params(params: &BTreeMap<String, i64>) -> String {
    if params.is_empty() {
        return "no parameters".into();
    }
    params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Split a template into words, then fill `{param}`, `{file}` and `{xtask}` in each word (so a
/// path with spaces stays one argument).
fn fill(
    template: &str,
    params: &BTreeMap<String, i64>,
    xtask: &std::path::Path,
    file: &std::path::Path,
) -> Vec<String> {
    template
        .split_whitespace()
        .map(|word| {
            let mut word = word
                .replace("{xtask}", &xtask.to_string_lossy())
                .replace("{file}", &file.to_string_lossy());
            for (name, value) in params {
                word = word.replace(&format!("{{{name}}}"), &value.to_string());
            }
            word
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::manifest::Manifest;
    use super::*;

    fn exercise() -> Exercise {
        let text = r#"
[[exercise]]
name = "counter"
section = "atomicity"
title = "t"
params = { threads = [1, 10], iterations = [1, 100] }
learned = "l"
hints = ["h"]
[[exercise.check]]
label = "locked total"
expect = "threads * iterations"
[[exercise.check]]
label = "speedup"
at_least = "0.5 * solution"
at_most = "out(\"cap\")"
[[exercise.check]]
label = "order"
expect = "solution"
"#;
        Manifest::parse(text).unwrap().exercises.remove(0)
    }

    fn params() -> BTreeMap<String, i64> {
        BTreeMap::from([("threads".into(), 4), ("iterations".into(), 25)])
    }

    const SOLUTION: &str = "locked total: 100\nspeedup: 2.00x\norder: T1 T2\n";

    fn failures(mine: &str) -> Vec<String> {
        judge(&exercise(), &params(), mine, Some(SOLUTION))
            .unwrap()
            .into_iter()
            .filter(|c| !c.passed)
            .map(|c| {
                format!(
                    "{} {}: {}",
                    c.label,
                    c.relation,
                    c.problem.unwrap_or_default()
                )
            })
            .collect()
    }

    #[test]
    fn a_right_output_passes_every_check() {
        let mine = "locked total:  100\nspeedup:   1.5x\ncap: 3\norder: T1 T2\n  note: ignored\n";
        assert_eq!(failures(mine), Vec::<String>::new());
    }

    #[test]
    fn wrong_values_fail_the_right_check() {
        let mine = "locked total: 1,000\nspeedup: 0.9x\ncap: 3\norder: T2 T1\n";
        assert_eq!(
            failures(mine),
            vec![
                "locked total must equal: ",
                "speedup must be at least: ",
                "order must equal: "
            ]
        );
        let mine = "locked total: 100\nspeedup: 2.5x\ncap: 2\norder: T1 T2\n";
        assert_eq!(failures(mine), vec!["speedup must be at most: "]);
    }

    #[test]
    fn missing_duplicated_and_non_numeric_lines_say_so() {
        let mine = "locked total: 100\nlocked total: 100\nspeedup: fast\norder: T1 T2\n";
        let got = failures(mine);
        assert!(got[0].contains("2 times"), "{got:?}");
        assert!(got[1].contains("expected a number"), "{got:?}");
        assert!(got[2].contains("no `cap:` line"), "{got:?}");
        let got = failures("");
        assert_eq!(got.len(), 4);
        assert!(got.iter().all(|g| g.contains("printed no")), "{got:?}");
    }

    #[test]
    fn a_solution_without_the_line_is_the_courses_fault() {
        let err = judge(&exercise(), &params(), SOLUTION, Some("locked total: 100"));
        assert!(err.unwrap_err().to_string().contains("solution"));
    }

    #[test]
    fn expected_values_take_the_learners_unit() {
        let text = r#"
[[exercise]]
name = "t"
section = "io-bound"
title = "t"
learned = "l"
hints = ["h"]
[[exercise.check]]
label = "held"
at_most = "0.01"
"#;
        let exercise = Manifest::parse(text).unwrap().exercises.remove(0);
        let checks = judge(&exercise, &BTreeMap::new(), "held: 12.5 ms", None).unwrap();
        assert_eq!(checks[0].expected.as_deref(), Some("10 ms"));
        assert!(!checks[0].passed);
    }

    #[test]
    fn messages_show_both_sides_alike_and_echo_no_literal() {
        let text = r#"
[[exercise]]
name = "t"
section = "atomicity"
title = "t"
params = { threads = [1, 10], iterations = [1, 1000000] }
learned = "l"
hints = ["h"]
[[exercise.check]]
label = "count"
expect = "3"
[[exercise.check]]
label = "freed"
expect = "1"
[[exercise.check]]
label = "total"
expect = "threads * iterations"
[[exercise.check]]
label = "held"
at_most = "0.4131"
"#;
        let exercise = Manifest::parse(text).unwrap().exercises.remove(0);
        let params = BTreeMap::from([("threads".into(), 4), ("iterations".into(), 1_000_000)]);
        let mine = "count: 2\nfreed: false\ntotal: 3,999,998\nheld: 500 ms\n";
        let lines: Vec<String> = judge(&exercise, &params, mine, None)
            .unwrap()
            .iter()
            .map(CheckResult::describe)
            .collect();
        assert_eq!(
            lines,
            [
                "`count` must equal 3, got 2",
                "`freed` must be yes, got no",
                "`total` must equal threads * iterations = 4,000,000, got 3,999,998",
                "`held` must be at most 413.1 ms, got 500 ms",
            ]
        );
    }

    #[test]
    fn panics_and_todos_are_told_apart() {
        let todo = "thread 'main' panicked at exercises/src/bin/a.rs:3:5:\nnot yet implemented: count\nnote: run with `RUST_BACKTRACE=1`\n";
        let (message, place) = panic_message(todo).unwrap();
        assert_eq!(message, "not yet implemented: count");
        assert_eq!(place, " at exercises/src/bin/a.rs:3:5");
        let outcome = Outcome {
            ending: Ending::Exited(101),
            stdout: String::new(),
            stderr: todo.into(),
        };
        let (kind, message, is_todo) = classify(&outcome, &exercise()).unwrap();
        assert_eq!(kind, Kind::Panic);
        assert!(is_todo);
        assert!(message.starts_with("not done yet: the TODO is still there"));
    }

    #[test]
    fn messages_show_no_manifest_expressions_and_a_why_that_fits() {
        assert_eq!(plain("threads * words"), "threads * words");
        assert_eq!(
            plain("out(\"times `the` occurs\")"),
            "the printed \"times `the` occurs\""
        );
        let text = r#"
[[exercise]]
name = "t"
section = "cpu-bound"
title = "t"
params = { n = [1, 10] }
learned = "l"
hints = ["h"]
[[exercise.check]]
label = "counted"
expect = "n"
why = "exactly n"
why_too_low = "n is odd: one thread takes the extra step"
why_too_high = "each thread counted all of n"
[[exercise.check]]
label = "same as printed"
expect = "out(\"total\")"
"#;
        let exercise = Manifest::parse(text).unwrap().exercises.remove(0);
        let params = BTreeMap::from([("n".into(), 5)]);
        let why = |mine: &str| {
            judge(&exercise, &params, mine, None).unwrap()[0]
                .why
                .clone()
        };
        assert_eq!(
            why("counted: 4\n").unwrap(),
            "n is odd: one thread takes the extra step"
        );
        assert_eq!(
            why("counted: 10\n").unwrap(),
            "each thread counted all of n"
        );
        let checks = judge(
            &exercise,
            &params,
            "counted: 5\ntotal: 7\nsame as printed: 6\n",
            None,
        );
        let line = checks.unwrap()[1].describe();
        assert_eq!(
            line,
            "`same as printed` must equal the printed \"total\", 7, got 6"
        );
        assert!(!line.contains("out("));
    }

    #[test]
    fn a_deadlock_report_is_a_deadlock_that_names_both_waits() {
        use gil_core::waits::{Deadlock, Link, Resource};
        let lock = Resource::Lock(2, "lock");
        let gil = Resource::Gil(1);
        let found = Deadlock {
            links: vec![
                Link {
                    thread: "T1".into(),
                    holds: lock,
                    waits_for: gil,
                },
                Link {
                    thread: "T2".into(),
                    holds: gil,
                    waits_for: lock,
                },
            ],
        };
        let outcome = Outcome {
            ending: Ending::Exited(gil_core::waits::DEADLOCK_EXIT_CODE),
            stdout: "words counted: 10\n".into(),
            stderr: found.report(),
        };
        let (kind, message, todo) = classify(&outcome, &exercise()).unwrap();
        assert_eq!((kind, todo), (Kind::Deadlock, false));
        assert_eq!(
            message,
            "deadlock: T1 holds `lock` and waits for the GIL; T2 holds the GIL and waits for `lock`"
        );
        // A run the time limit stopped, after the report, is the same deadlock.
        let stopped = Outcome {
            ending: Ending::TimedOut,
            ..outcome
        };
        assert_eq!(classify(&stopped, &exercise()).unwrap().0, Kind::Deadlock);
    }

    #[test]
    fn a_python_todo_is_told_apart_from_other_errors() {
        let stderr = "Traceback (most recent call last):\n  File \"x.py\", line 3\n\
                      NotImplementedError: TODO: hold the lock\n";
        assert_eq!(python_todo(stderr).as_deref(), Some("hold the lock"));
        let outcome = Outcome {
            ending: Ending::Exited(1),
            stdout: String::new(),
            stderr: stderr.into(),
        };
        let (kind, message, todo) = classify(&outcome, &exercise()).unwrap();
        assert!(todo && kind == Kind::Panic, "{message}");
        assert_eq!(python_todo("ValueError: TODO later\n"), None);
    }

    #[test]
    fn parameters_stay_in_range_and_repeat_with_the_seed() {
        let mut rng = Rng::new(7);
        let draws: Vec<i64> = (0..1000).map(|_| rng.between(4, 10)).collect();
        assert!(draws.iter().all(|d| (4..=10).contains(d)));
        assert!((4..=10).all(|v| draws.contains(&v)), "every value comes up");
        let mut again = Rng::new(7);
        assert_eq!(again.between(4, 10), draws[0]);
        assert_eq!(Rng::new(1).between(5, 5), 5);
    }
}
