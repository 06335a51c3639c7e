//! `cargo xtask verify`: proof that the grader can both pass and fail each exercise.
//!
//! For every exercise: its solution passes a check (the grader's own rule: `runs` draws;
//! `--repeat N` asks for N checks in a row, to hunt for a check that fails now and then); the
//! exercise as handed out fails; a program that prints the solution's default output verbatim
//! fails (the manifest's anti-cheat rule); every plausible wrong answer kept in
//! `solutions/wrong/NAME/` (functions that replace the solution's functions of the same name)
//! fails a check, at the check its header names, while every right answer written in another
//! style (`solutions/other/NAME/`) passes one; the stubs are clippy-clean; and the files agree
//! with each other (the manifest, the two packages, the `[[bin]]` list, the harness below each
//! fence). A summary table ends it; on a terminal a progress bar says how far along it is.

use std::collections::BTreeMap;
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use anyhow::Context as _;

use super::grade::{Grading, Kind, Learner, Rng, show_params};
use super::manifest::Exercise;
use super::project::{Build, Project, Side};
use super::render::Paint;
use super::source::{functions, split_at_fence};
use crate::process::Ending;

mod consistency;
mod wrong;

use consistency::*;
use wrong::*;

/// `cargo xtask verify`
#[derive(clap::Args)]
pub struct VerifyArgs {
    /// Only these exercises (default: all)
    pub names: Vec<String>,
    /// How many checks in a row each solution must pass and each wrong answer fail (1: the
    /// grader's own rule, a check of `runs` draws; more to hunt for a flaky check)
    #[arg(long, default_value_t = 1)]
    pub repeat: u32,
    /// Leave out `cargo clippy --release -p exercises -- -D warnings`
    #[arg(long)]
    pub no_clippy: bool,
}

impl Default for VerifyArgs {
    fn default() -> VerifyArgs {
        VerifyArgs {
            names: Vec::new(),
            repeat: 1,
            no_clippy: false,
        }
    }
}

pub use super::source::FENCE;

/// Where the wrong answers live: `solutions/wrong/NAME/KIND.rs`.
const WRONG: &str = "solutions/wrong";

/// Where right answers written in other styles live: `solutions/other/NAME/STYLE.rs`. They must
/// pass on every draw, so the checks of the mechanism cannot insist on the solution's style.
const OTHER: &str = "solutions/other";

/// What a verification run found: problems, and the table's rows.
struct Findings {
    problems: Vec<String>,
    rows: Vec<Row>,
}

/// One row of the summary.
struct Row {
    name: String,
    solution: Cell,
    untouched: Cell,
    hard_coded: Cell,
    wrong: Cell,
    seconds: f64,
}

/// One cell of the summary table.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Cell {
    /// As it must be: "passes 3/3", "fails: TODO", "fails 1/1", "2✗ 1✓ 3/3", "none".
    Holds(String),
    /// A problem, also listed under the table: "FAILS 2/3", "PASSES", "ERROR", "no compile".
    Problem(String),
    /// Not checked: a tool the exercise needs is missing.
    Skipped,
    /// Not run, because the solution does not pass.
    NotRun,
}

impl Cell {
    fn text(&self) -> &str {
        match self {
            Cell::Holds(text) | Cell::Problem(text) => text,
            Cell::Skipped => "skipped",
            Cell::NotRun => "-",
        }
    }
}

/// A plausible wrong answer: the learner's part of the file, written the wrong way.
struct WrongAnswer {
    /// `NAME--KIND`, its binary's name.
    bin: String,
    /// Its file, for messages.
    shown: String,
    /// What its header says it gets wrong (or, for a right answer, how it is written).
    what: String,
    /// The checks (labels) one of which must catch it, or the verdict it must get (`timeout`,
    /// …); `None` for a right answer in another style, which must pass. A race may show in one
    /// of two runs first, so a header may name several, separated by `|`.
    fails: Option<Vec<String>>,
    /// The functions that replace the solution's.
    functions: String,
}

/// Run every verification; the exit code says whether all held.
pub fn verify(root: &Path, args: &VerifyArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let project = Project::open(root)?;
    let paint = Paint::for_stdout();
    let exercises: Vec<&Exercise> = if args.names.is_empty() {
        project.manifest.exercises.iter().collect()
    } else {
        args.names
            .iter()
            .map(|name| project.manifest.find(name))
            .collect::<anyhow::Result<_>>()?
    };
    let repeat = args.repeat.max(1);
    let mut findings = Findings {
        problems: files_agree(&project, &exercises, args.names.is_empty()),
        rows: Vec::new(),
    };
    if !args.no_clippy {
        findings.problems.extend(clippy_is_clean(&project)?);
    }
    let (broken_exercises, broken_solutions) = build_all(&project, &exercises, args)?;
    for name in &broken_exercises {
        findings
            .problems
            .push(format!("{name}: the handed-out exercise does not compile"));
    }
    for name in &broken_solutions {
        findings
            .problems
            .push(format!("{name}: the solution does not compile"));
    }
    let wrong = wrong_answers(&project, &exercises, &mut findings.problems)?;

    let width = exercises
        .iter()
        .map(|e| e.name.len())
        .max()
        .unwrap_or(8)
        .max(8);
    println!("\n{}", paint.bold(&header(width)));
    let bar = progress_bar(exercises.len());
    let queues = Queues::new(&exercises);
    let done = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for lane in queues.lanes() {
            let (queues, done, bar) = (&queues, &done, &bar);
            let (wrong, broken_exercises, broken_solutions) =
                (&wrong, &broken_exercises, &broken_solutions);
            let project = &project;
            scope.spawn(move || {
                let mut grading = Grading {
                    project,
                    rng: Rng::from_entropy(),
                    colour: false,
                    chatty: false,
                    build: false,
                    pythons: Default::default(),
                    solution_runs: Some(Default::default()),
                };
                while let Some((at, exercise)) = queues.next(lane) {
                    bar.set_message(exercise.name.clone());
                    let mine = wrong
                        .get(exercise.name.as_str())
                        .map_or(&[][..], Vec::as_slice);
                    let broken = (
                        broken_exercises.contains(&exercise.name),
                        broken_solutions.contains(&exercise.name),
                    );
                    let (row, problems) = verify_one(&mut grading, exercise, mine, repeat, broken);
                    bar.suspend(|| print_row(&row, width, paint));
                    bar.inc(1);
                    done.lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push((at, row, problems));
                }
            });
        }
    });
    bar.finish_and_clear();
    let mut done = done.into_inner().unwrap_or_else(|p| p.into_inner());
    done.sort_by_key(|(at, _, _)| *at);
    for (_, row, problems) in done {
        findings.problems.extend(problems);
        findings.rows.push(row);
    }
    Ok(summary(&findings, started, paint))
}

/// Which exercises a lane of phase 5 takes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lane {
    /// Those that need the cores (their checks time threads against each other), then, once
    /// none is left, those that wait.
    Cores,
    /// Only those that wait (`waits = true`): sleeps and time limits, beside a `Cores` lane.
    Waits,
}

/// The exercises still to verify, in course order, split by whether they wait.
struct Queues<'a> {
    cores: std::sync::Mutex<std::collections::VecDeque<(usize, &'a Exercise)>>,
    waits: std::sync::Mutex<std::collections::VecDeque<(usize, &'a Exercise)>>,
}

impl<'a> Queues<'a> {
    fn new(exercises: &[&'a Exercise]) -> Queues<'a> {
        let (waits, cores) = exercises
            .iter()
            .copied()
            .enumerate()
            .partition(|(_, e)| e.waits);
        Queues {
            cores: std::sync::Mutex::new(cores),
            waits: std::sync::Mutex::new(waits),
        }
    }

    /// One `Cores` lane per two cores: their checks time threads against each other, and on
    /// two cores one such exercise needs the whole machine. Beside them one `Waits` lane,
    /// where there is a second core and something waits.
    fn lanes(&self) -> Vec<Lane> {
        let cores = gil_core::measure::cores();
        let mut lanes = vec![Lane::Cores; (cores / 2).max(1)];
        let waiting = !self
            .waits
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty();
        if cores >= 2 && waiting {
            lanes.push(Lane::Waits);
        }
        lanes
    }

    /// The next exercise for `lane` (`None`: nothing left for it).
    fn next(&self, lane: Lane) -> Option<(usize, &'a Exercise)> {
        let pop = |queue: &std::sync::Mutex<std::collections::VecDeque<_>>| {
            queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front()
        };
        match lane {
            Lane::Cores => pop(&self.cores).or_else(|| pop(&self.waits)),
            Lane::Waits => pop(&self.waits),
        }
    }
}

/// Phase 5, one exercise: its solution passes, the untouched exercise fails, a hard-coded
/// output fails, each wrong answer fails where its header says. `broken`: whether the
/// exercise and the solution failed to compile.
fn verify_one(
    grading: &mut Grading<'_>,
    exercise: &Exercise,
    wrong: &[WrongAnswer],
    repeat: u32,
    broken: (bool, bool),
) -> (Row, Vec<String>) {
    let clock = Instant::now();
    let mut problems = Vec::new();
    let name = &exercise.name;
    // Every answer to this exercise starts from the same draws, so the solution's output for
    // them is computed once (`Grading::solution_runs`); each verify run draws afresh.
    let seed = grading.rng.between(0, i64::MAX) as u64;
    grading.rng = Rng::new(seed);
    let solution = if broken.1 {
        Cell::Problem("no compile".into())
    } else {
        solution_passes(grading, exercise, repeat, &mut problems)
    };
    grading.rng = Rng::new(seed);
    let passes = matches!(solution, Cell::Holds(_));
    let untouched = if broken.0 {
        Cell::Problem("no compile".into())
    } else if solution == Cell::Skipped {
        Cell::Skipped
    } else {
        untouched_fails(grading, exercise, &mut problems)
    };
    grading.rng = Rng::new(seed);
    let (hard_coded, wrong) = if passes {
        (
            hard_coded_fails(grading, exercise, &mut problems),
            wrong_answers_fail(grading, exercise, wrong, (repeat, seed), &mut problems),
        )
    } else {
        (Cell::NotRun, Cell::NotRun)
    };
    let row = Row {
        name: name.clone(),
        solution,
        untouched,
        hard_coded,
        wrong,
        seconds: clock.elapsed().as_secs_f64(),
    };
    (row, problems)
}

/// A progress bar on stderr over `exercises`, or nothing when stderr is not a terminal.
fn progress_bar(exercises: usize) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(exercises as u64);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{elapsed:>4} [{bar:24}] {pos}/{len} exercises  {wide_msg}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

/// Phase 2: `cargo clippy --release -p exercises -- -D warnings` (the stubs as handed out; in
/// the release profile, like every other build of the grader and of `cargo xtask ci`, so the
/// check shares their build scripts and proc-macros).
fn clippy_is_clean(project: &Project) -> anyhow::Result<Option<String>> {
    eprintln!("$ cargo clippy --release -p exercises -- -D warnings");
    let output = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["clippy", "--release", "--quiet", "--color", "never"])
        .arg("--manifest-path")
        .arg(project.root.join("Cargo.toml"))
        .args(["--package", "exercises", "--", "-D", "warnings"])
        .current_dir(&project.root)
        .output()
        .context("cannot run cargo clippy")?;
    if output.status.success() {
        return Ok(None);
    }
    println!("{}", String::from_utf8_lossy(&output.stderr).trim_end());
    Ok(Some(
        "the handed-out exercises are not clippy-clean (see above)".into(),
    ))
}

/// Phase 3: build both packages; the names of the exercises whose exercise or solution does
/// not compile.
fn build_all(
    project: &Project,
    exercises: &[&Exercise],
    args: &VerifyArgs,
) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    eprintln!("building exercises and solutions (release)…");
    let built: Vec<&Exercise> = exercises
        .iter()
        .copied()
        .filter(|e| e.launch().is_built())
        .collect();
    if !args.names.is_empty() && built.is_empty() {
        // Only Python exercises asked for: cargo has nothing to build.
        return Ok((Vec::new(), Vec::new()));
    }
    // All of them in one cargo invocation when verifying everything.
    let asked: &[&Exercise] = if args.names.is_empty() { &[] } else { &built };
    let compiled = |side| -> anyhow::Result<Vec<String>> {
        if let Build::Built = project.build(side, asked, false)? {
            return Ok(Vec::new());
        }
        // Find which ones fail, one at a time.
        let mut broken = Vec::new();
        for exercise in &built {
            if let Build::Failed(output) = project.build(side, &[exercise], false)? {
                println!("{output}");
                broken.push(exercise.name.clone());
            }
        }
        Ok(broken)
    };
    Ok((compiled(Side::Exercise)?, compiled(Side::Solution)?))
}

/// Phase 5a: the solution passes `repeat` times in a row.
fn solution_passes(
    grading: &mut Grading<'_>,
    exercise: &Exercise,
    repeat: u32,
    problems: &mut Vec<String>,
) -> Cell {
    let name = &exercise.name;
    for attempt in 1..=repeat {
        match grading.grade(exercise, &Learner::Program(Side::Solution)) {
            Ok(v) if v.passed => {}
            Ok(v) if v.verdict == Kind::Skipped => return Cell::Skipped,
            Ok(v) => {
                problems.push(format!(
                    "{name}: the solution failed on attempt {attempt} of {repeat} ({}): {}",
                    show_params(&v.params),
                    v.message
                ));
                return Cell::Problem(format!("FAILS {attempt}/{repeat}"));
            }
            Err(error) => {
                problems.push(format!("{name}: {error:#}"));
                return Cell::Problem("ERROR".into());
            }
        }
    }
    Cell::Holds(format!("passes {repeat}/{repeat}"))
}

/// Phase 5b: the exercise as handed out fails, and not only by timing out.
fn untouched_fails(
    grading: &mut Grading<'_>,
    exercise: &Exercise,
    problems: &mut Vec<String>,
) -> Cell {
    let name = &exercise.name;
    match grading.grade(exercise, &Learner::Program(Side::Exercise)) {
        Ok(v) if v.passed => {
            problems.push(format!("{name}: the untouched exercise passes its checks"));
            Cell::Problem("PASSES".into())
        }
        Ok(v) if v.todo => Cell::Holds("fails: TODO".into()),
        Ok(v) if v.verdict == Kind::Timeout => {
            problems.push(format!(
                "{name}: the untouched exercise only fails by timing out ({} s)",
                exercise.timeout
            ));
            Cell::Problem("fails: timeout".into())
        }
        Ok(v) => Cell::Holds(format!("fails: {}", v.verdict.name())),
        Err(error) => {
            problems.push(format!("{name}: {error:#}"));
            Cell::Problem("ERROR".into())
        }
    }
}

/// Phase 5c: a program printing the solution's default output verbatim fails. One draw is
/// enough: the drawn parameters never include the defaults, and every exercise has a check
/// that depends on them or on the solution's own run.
fn hard_coded_fails(
    grading: &mut Grading<'_>,
    exercise: &Exercise,
    problems: &mut Vec<String>,
) -> Cell {
    let name = &exercise.name;
    match hard_coded(grading, exercise) {
        Ok(passed) if passed < HARD_CODED_DRAWS => Cell::Holds(format!("fails 1/{}", passed + 1)),
        Ok(_) => {
            problems.push(format!(
                "{name}: a program printing the solution's default output verbatim passed \
                 {HARD_CODED_DRAWS} draws in a row"
            ));
            Cell::Problem("PASSES".into())
        }
        Err(error) => {
            problems.push(format!("{name}: {error:#}"));
            Cell::Problem("ERROR".into())
        }
    }
}

/// How many fresh draws a hard-coded output may pass before verify calls the exercise easy to
/// fool. One is not enough: when the draw happens to repeat the parameters the output was
/// made with (py5 draws n from 3 to 6), the output is simply right. Later draws are graded
/// only while the earlier ones passed, so this costs nothing when the first one fails.
const HARD_CODED_DRAWS: u32 = 3;

/// Grade the solution's output for one set of parameters against up to [`HARD_CODED_DRAWS`]
/// fresh draws; how many passed before the first that failed (all of them: the constant).
fn hard_coded(grading: &mut Grading<'_>, exercise: &Exercise) -> anyhow::Result<u32> {
    let outcome = if exercise.launch().is_built() {
        // The defaults: the program run with no arguments at all.
        let program = grading.project.program(exercise, Side::Solution);
        grading.execute(exercise, &program, &[])?
    } else {
        // A whole command always needs its parameters: use one random draw.
        let params = exercise.draw(|low, high| grading.rng.between(low, high));
        crate::process::Outcome::printed(&grading.run_reference(exercise, &params)?)
    };
    anyhow::ensure!(
        outcome.ending == Ending::Exited(0),
        "the solution fails when run with its defaults ({:?})",
        outcome.ending
    );
    for passed in 0..HARD_CODED_DRAWS {
        let verdict = grading.grade(exercise, &Learner::Printed(outcome.stdout.clone()))?;
        if !verdict.passed {
            return Ok(passed);
        }
    }
    Ok(HARD_CODED_DRAWS)
}

/// Phase 5d: every wrong answer fails `repeat` checks in a row where its header says, and
/// every right answer in another style passes as many; each starts from the draws of `seed`.
fn wrong_answers_fail(
    grading: &mut Grading<'_>,
    exercise: &Exercise,
    answers: &[WrongAnswer],
    (repeat, seed): (u32, u64),
    problems: &mut Vec<String>,
) -> Cell {
    if answers.is_empty() {
        return Cell::Holds("none".into());
    }
    let (mut wrong, mut right, mut broken) = (0, 0, 0);
    for answer in answers {
        let program = if exercise.launch().is_built() {
            wrong_program(grading.project, &answer.bin)
        } else if exercise.python.is_some() {
            PathBuf::from(&answer.bin)
        } else {
            wrong_file(grading.project, &answer.bin)
        };
        let mut ok = true;
        grading.rng = Rng::new(seed);
        for attempt in 1..=repeat {
            let verdict = match grading.grade(exercise, &Learner::Built(program.clone())) {
                Ok(verdict) => verdict,
                Err(error) => {
                    problems.push(format!("{}: {error:#}", answer.shown));
                    ok = false;
                    break;
                }
            };
            let failed_where = verdict
                .checks
                .iter()
                .find(|c| !c.passed)
                .map_or(verdict.verdict.name(), |c| c.label.as_str());
            let what_happened = if verdict.passed {
                "passed".to_owned()
            } else {
                format!("failed `{failed_where}`: {}", verdict.message)
            };
            let expected = match &answer.fails {
                Some(fails) if verdict.passed || !fails.iter().any(|f| f == failed_where) => {
                    Some(format!("failing `{}`", fails.join("` or `")))
                }
                None if !verdict.passed => Some("passing".to_owned()),
                _ => None,
            };
            if let Some(expected) = expected {
                problems.push(format!(
                    "{} ({}): on draw {attempt} of {repeat} ({}) it {what_happened} instead of {expected}",
                    answer.shown,
                    answer.what,
                    show_params(&verdict.params),
                ));
                ok = false;
                break;
            }
        }
        match (ok, answer.fails.is_some()) {
            (false, _) => broken += 1,
            (true, true) => wrong += 1,
            (true, false) => right += 1,
        }
    }
    if broken > 0 {
        return Cell::Problem(format!("{broken} WRONG"));
    }
    let mut cell = Vec::new();
    if wrong > 0 {
        cell.push(format!("{wrong}✗"));
    }
    if right > 0 {
        cell.push(format!("{right}✓"));
    }
    Cell::Holds(format!("{} {repeat}/{repeat}", cell.join(" ")))
}

fn header(width: usize) -> String {
    format!(
        "{:width$}  {:12}  {:22}  {:10}  {:13}  {:>6}",
        "exercise", "solution", "untouched exercise", "hard-coded", "other answers", "time"
    )
}

fn print_row(row: &Row, width: usize, paint: Paint) {
    let cell = |cell: &Cell, width: usize| {
        let padded = format!("{:width$}", cell.text());
        match cell {
            Cell::Problem(_) => paint.red(&padded),
            Cell::Skipped => paint.yellow(&padded),
            Cell::Holds(_) | Cell::NotRun => padded,
        }
    };
    println!(
        "{:width$}  {}  {}  {}  {}  {:>5.1}s",
        row.name,
        cell(&row.solution, 12),
        cell(&row.untouched, 22),
        cell(&row.hard_coded, 10),
        cell(&row.wrong, 13),
        row.seconds
    );
}

/// Phase 6: the verdict on the whole run.
fn summary(findings: &Findings, started: Instant, paint: Paint) -> ExitCode {
    println!();
    let minutes = started.elapsed().as_secs_f64() / 60.0;
    if findings.problems.is_empty() {
        println!(
            "{}",
            paint.green(&format!(
                "verify: all {} exercises hold ({minutes:.1} min)",
                findings.rows.len()
            ))
        );
        return ExitCode::SUCCESS;
    }
    println!(
        "{}",
        paint.red(&format!(
            "verify: {} problems ({minutes:.1} min)",
            findings.problems.len()
        ))
    );
    for problem in &findings.problems {
        println!("  - {problem}");
    }
    ExitCode::FAILURE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fence_line_goes_with_the_harness() {
        let text = "fn mine() {}\n// ── You do not need to change anything below this line. ──\nfn main() {}\n";
        let (learner, harness) = split_at_fence(text).unwrap();
        assert_eq!(learner, "fn mine() {}\n");
        assert!(harness.starts_with("// ── You do not"));
        assert!(split_at_fence("fn main() {}").is_none());
    }

    #[test]
    fn wrong_answers_are_built_as_the_solutions_are() {
        let profile: toml::Value = toml::from_str(
            "[release]\nopt-level = 3\n[release.package.solutions]\ncodegen-units = 1\n\
             [release.package.exercises]\ncodegen-units = 1\n[release.package.xtask]\nopt-level = 1\n",
        )
        .unwrap();
        let scratch = wrong_answers_profile(profile);
        let packages = &scratch["release"]["package"];
        assert_eq!(
            packages["wrong-answers"]["codegen-units"].as_integer(),
            Some(1)
        );
        assert!(packages.get("solutions").is_none() && packages.get("exercises").is_none());
        assert_eq!(packages["xtask"]["opt-level"].as_integer(), Some(1));
        assert_eq!(scratch["release"]["opt-level"].as_integer(), Some(3));
    }

    #[test]
    fn wrong_answers_replace_functions_by_name() {
        let solution = "use x;\n\n/// Doc.\nfn a(n: u64) -> u64 {\n    if n > 0 { n } else { 1 }\n}\n\nfn b() {\n    let s = \"}\"; // }\n}\n";
        let wrong = "// Wrong: b\n// Fails: x\nfn b() {\n    println!(\"{{}}\");\n}\n";
        let patched = replace_functions(solution, wrong).unwrap();
        assert_eq!(
            patched,
            "use x;\n\n/// Doc.\nfn a(n: u64) -> u64 {\n    if n > 0 { n } else { 1 }\n}\n\nfn b() {\n    println!(\"{{}}\");\n}\n"
        );
        assert!(replace_functions(solution, "fn c() {}\n").is_err());
    }
}
