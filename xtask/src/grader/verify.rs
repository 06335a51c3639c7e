//! `cargo xtask verify`: proof that the grader can both pass and fail each exercise.
//!
//! For every exercise: its solution passes every check several times in a row (a check that
//! fails now and then is a flaky check); the exercise as handed out fails; a program that
//! prints the solution's default output verbatim fails (the manifest's anti-cheat rule); and the
//! stubs are clippy-clean. A summary table ends it.

use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use anyhow::Context as _;

use super::grade::{Grading, Kind, Learner, Rng, show_params};
use super::manifest::Exercise;
use super::project::{Build, Project, Side};
use super::render::Paint;
use crate::process::{self, Ending, Limits};

/// `cargo xtask verify`
#[derive(clap::Args)]
pub struct VerifyArgs {
    /// Only these exercises (default: all)
    pub names: Vec<String>,
    /// How many times in a row each solution must pass
    #[arg(long, default_value_t = 3)]
    pub repeat: u32,
    /// Leave out `cargo clippy -p exercises -- -D warnings`
    #[arg(long)]
    pub no_clippy: bool,
}

/// One row of the summary.
struct Row {
    name: String,
    solution: String,
    untouched: String,
    hard_coded: String,
    seconds: f64,
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
    let mut problems = Vec::new();

    for exercise in &exercises {
        for side in [Side::Exercise, Side::Solution] {
            if let Err(error) = project.source(exercise, side) {
                problems.push(format!("{}: {error:#}", exercise.name));
            }
        }
        if !exercise.varies() {
            problems.push(format!(
                "{}: no check depends on the parameters or on the solution's run, so printing a fixed answer could pass",
                exercise.name
            ));
        }
    }
    if let Some(difference) = packages_differ(&project) {
        problems.push(difference);
    }
    if args.names.is_empty() {
        for side in [Side::Exercise, Side::Solution] {
            for stem in orphans(&project, side) {
                problems.push(format!(
                    "{}/src/bin/{stem}.rs is not in the manifest",
                    side.package()
                ));
            }
        }
    }

    if !args.no_clippy {
        eprintln!("$ cargo clippy -p exercises -- -D warnings");
        if let Some(output) = clippy(&project)? {
            println!("{output}");
            problems.push("the handed-out exercises are not clippy-clean (see above)".into());
        }
    }

    eprintln!(
        "building exercises and solutions in {}…",
        project.shown(&project.target)
    );
    let compiled = |side| -> anyhow::Result<Vec<String>> {
        let built = project.build(side, &exercises_to_build(&exercises, args), false)?;
        if let Build::Built = built {
            return Ok(Vec::new());
        }
        // Find which ones fail, one at a time.
        let mut broken = Vec::new();
        for exercise in exercises.iter().filter(|e| e.run.is_none()) {
            if let Build::Failed(output) = project.build(side, &[exercise], false)? {
                println!("{output}");
                broken.push(exercise.name.clone());
            }
        }
        Ok(broken)
    };
    let broken_exercises = compiled(Side::Exercise)?;
    let broken_solutions = compiled(Side::Solution)?;
    for name in &broken_exercises {
        problems.push(format!("{name}: the handed-out exercise does not compile"));
    }
    for name in &broken_solutions {
        problems.push(format!("{name}: the solution does not compile"));
    }

    let mut grading = Grading {
        project: &project,
        rng: Rng::from_entropy(),
        colour: false,
        chatty: false,
        build: false,
    };
    let widths = exercises
        .iter()
        .map(|e| e.name.len())
        .max()
        .unwrap_or(8)
        .max(8);
    let header = format!(
        "{:widths$}  {:22}  {:38}  {:18}  {:>7}",
        "exercise", "solution", "untouched exercise", "hard-coded output", "time"
    );
    println!("\n{}", paint.bold(&header));
    let mut rows = Vec::new();
    for exercise in exercises {
        let clock = Instant::now();
        let name = &exercise.name;
        let mut row = Row {
            name: name.clone(),
            solution: String::new(),
            untouched: String::new(),
            hard_coded: String::new(),
            seconds: 0.0,
        };

        // 1. The solution passes, every time.
        let mut passes = 0;
        if broken_solutions.contains(name) {
            row.solution = "does not compile".into();
        }
        while row.solution.is_empty() && passes < repeat {
            match grading.grade(exercise, &Learner::Program(Side::Solution)) {
                Ok(v) if v.passed => passes += 1,
                Ok(v) if v.verdict == Kind::Skipped => row.solution = "skipped".into(),
                Ok(v) => {
                    row.solution = format!("FAILS {}/{repeat}", passes + 1);
                    problems.push(format!(
                        "{name}: the solution failed on attempt {} of {repeat} ({}): {}",
                        passes + 1,
                        show_params(&v.params),
                        v.message
                    ));
                }
                Err(error) => {
                    row.solution = "ERROR".into();
                    problems.push(format!("{name}: {error:#}"));
                }
            }
        }
        if row.solution.is_empty() {
            row.solution = format!("passes {passes}/{repeat}");
        }
        let skipped = row.solution == "skipped";

        // 2. The untouched exercise fails.
        row.untouched = if broken_exercises.contains(name) {
            "does not compile".into()
        } else if skipped {
            "skipped".into()
        } else {
            match grading.grade(exercise, &Learner::Program(Side::Exercise)) {
                Ok(v) if v.passed => {
                    problems.push(format!("{name}: the untouched exercise passes its checks"));
                    "PASSES".into()
                }
                Ok(v) if v.todo => "fails: TODO still there".into(),
                Ok(v) => {
                    if v.verdict == Kind::Timeout {
                        problems.push(format!(
                            "{name}: the untouched exercise only fails by timing out ({} s)",
                            exercise.timeout
                        ));
                    }
                    format!("fails: {}", v.verdict.name())
                }
                Err(error) => {
                    problems.push(format!("{name}: {error:#}"));
                    "ERROR".into()
                }
            }
        };

        // 3. Printing the default output verbatim fails.
        row.hard_coded = if skipped || !row.solution.starts_with("passes") {
            "-".into()
        } else {
            match hard_coded(&mut grading, exercise, repeat) {
                Ok(0) => format!("fails {repeat}/{repeat}"),
                Ok(passed) => {
                    problems.push(format!(
                        "{name}: a program printing the solution's default output verbatim passed {passed} of {repeat} checks"
                    ));
                    format!("PASSES {passed}/{repeat}")
                }
                Err(error) => {
                    problems.push(format!("{name}: {error:#}"));
                    "ERROR".into()
                }
            }
        };
        row.seconds = clock.elapsed().as_secs_f64();
        print_row(&row, widths, paint);
        rows.push(row);
    }

    println!();
    let minutes = started.elapsed().as_secs_f64() / 60.0;
    if problems.is_empty() {
        println!(
            "{}",
            paint.green(&format!(
                "verify: all {} exercises hold ({minutes:.1} min)",
                rows.len()
            ))
        );
        Ok(ExitCode::SUCCESS)
    } else {
        println!(
            "{}",
            paint.red(&format!(
                "verify: {} problems ({minutes:.1} min)",
                problems.len()
            ))
        );
        for problem in &problems {
            println!("  - {problem}");
        }
        Ok(ExitCode::FAILURE)
    }
}

fn exercises_to_build<'a>(exercises: &[&'a Exercise], args: &VerifyArgs) -> Vec<&'a Exercise> {
    if args.names.is_empty() {
        Vec::new() // all of them, in one cargo invocation
    } else {
        exercises
            .iter()
            .copied()
            .filter(|e| e.run.is_none())
            .collect()
    }
}

fn print_row(row: &Row, widths: usize, paint: Paint) {
    let cell = |text: &str, width: usize| {
        let padded = format!("{text:width$}");
        if text.starts_with("FAILS") || text.starts_with("PASSES") || text == "ERROR" {
            paint.red(&padded)
        } else if text == "skipped" {
            paint.yellow(&padded)
        } else {
            padded
        }
    };
    println!(
        "{:widths$}  {}  {}  {}  {:>6.1}s",
        row.name,
        cell(&row.solution, 22),
        cell(&row.untouched, 38),
        cell(&row.hard_coded, 18),
        row.seconds
    );
}

/// How many of `repeat` checks a program printing the solution's default output passes.
fn hard_coded(grading: &mut Grading<'_>, exercise: &Exercise, repeat: u32) -> anyhow::Result<u32> {
    let project = grading.project;
    let limits = Limits {
        timeout: Duration::from_secs_f64(exercise.timeout),
        max_output: super::grade::MAX_OUTPUT,
    };
    let outcome = match &exercise.run {
        // The defaults: the program run with no arguments at all.
        None => process::run(
            &project.program(exercise, Side::Solution),
            &[],
            &project.root,
            limits,
        )?,
        // A custom command always needs its parameters: use one random draw.
        Some(_) => {
            let params = exercise
                .params
                .iter()
                .map(|(name, &[low, high])| (name.clone(), grading.rng.between(low, high)))
                .collect();
            grading.run_side(exercise, Side::Solution, &params)?
        }
    };
    anyhow::ensure!(
        outcome.ending == Ending::Exited(0),
        "the solution fails when run with its defaults ({:?})",
        outcome.ending
    );
    let mut passed = 0;
    for _ in 0..repeat {
        let verdict = grading.grade(exercise, &Learner::Printed(outcome.stdout.clone()))?;
        passed += u32::from(verdict.passed);
    }
    Ok(passed)
}

/// `cargo clippy -p exercises -- -D warnings`: `None` when clean, else its output.
fn clippy(project: &Project) -> anyhow::Result<Option<String>> {
    let output = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["clippy", "--quiet", "--color", "never", "--manifest-path"])
        .arg(project.root.join("Cargo.toml"))
        .args(["--package", "exercises", "--", "-D", "warnings"])
        .current_dir(&project.root)
        .output()
        .context("cannot run cargo clippy")?;
    Ok((!output.status.success()).then(|| {
        String::from_utf8_lossy(&output.stderr)
            .trim_end()
            .to_owned()
    }))
}

/// File stems in `side/src/bin` that the manifest does not list.
fn orphans(project: &Project, side: Side) -> Vec<String> {
    let dir = project.root.join(side.package()).join("src/bin");
    let mut stems: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let path = entry.path();
            let stem = path.file_stem()?.to_string_lossy().into_owned();
            let is_bin =
                path.extension().is_some_and(|e| e == "rs") || path.join("main.rs").is_file();
            is_bin.then_some(stem)
        })
        .filter(|stem| !project.manifest.exercises.iter().any(|e| &e.name == stem))
        .collect();
    stems.sort();
    stems
}

impl Default for VerifyArgs {
    fn default() -> VerifyArgs {
        VerifyArgs {
            names: Vec::new(),
            repeat: 3,
            no_clippy: false,
        }
    }
}

/// A solution copied over its exercise must compile there: the two packages need the same
/// dependencies and the same library (if any). `Some`: how they differ.
fn packages_differ(project: &Project) -> Option<String> {
    let read = |side: Side, file: &str| {
        std::fs::read_to_string(project.root.join(side.package()).join(file)).ok()
    };
    let dependencies = |side: Side| {
        let table: toml::Table = read(side, "Cargo.toml")?.parse().ok()?;
        table.get("dependencies").cloned()
    };
    if dependencies(Side::Exercise) != dependencies(Side::Solution) {
        return Some(
            "exercises/Cargo.toml and solutions/Cargo.toml list different [dependencies], so a copied solution may not compile"
                .into(),
        );
    }
    if read(Side::Exercise, "src/lib.rs") != read(Side::Solution, "src/lib.rs") {
        return Some(
            "exercises/src/lib.rs and solutions/src/lib.rs differ, so a copied solution may not compile"
                .into(),
        );
    }
    None
}
