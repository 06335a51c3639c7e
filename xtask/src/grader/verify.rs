//! `cargo xtask verify`: proof that the grader can both pass and fail each exercise.
//!
//! For every exercise: its solution passes every check several times in a row (a check that
//! fails now and then is a flaky check); the exercise as handed out fails; a program that
//! prints the solution's default output verbatim fails (the manifest's anti-cheat rule); every
//! plausible wrong answer kept in `solutions/wrong/NAME/` (functions that replace the
//! solution's functions of the same name) fails on every seed it tries, at the check its header
//! names, while every right answer written in another style (`solutions/other/NAME/`) passes
//! on every seed; the stubs are clippy-clean; and the files agree with each other
//! (the manifest, the two packages, the `[[bin]]` list, the harness below each fence). A
//! summary table ends it; on a terminal a progress bar says how far along it is.

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
use crate::process::Ending;

/// `cargo xtask verify`
#[derive(clap::Args)]
pub struct VerifyArgs {
    /// Only these exercises (default: all)
    pub names: Vec<String>,
    /// How many times in a row each solution must pass (and each wrong answer fail)
    #[arg(long, default_value_t = 3)]
    pub repeat: u32,
    /// Leave out `cargo clippy -p exercises -- -D warnings`
    #[arg(long)]
    pub no_clippy: bool,
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

/// The line that ends the learner's part of an exercise file; the harness follows it.
pub const FENCE: &str = "You do not need to change anything below this line";

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
    solution: String,
    untouched: String,
    hard_coded: String,
    wrong: String,
    seconds: f64,
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

    let mut grading = Grading {
        project: &project,
        rng: Rng::from_entropy(),
        colour: false,
        chatty: false,
        build: false,
    };
    let width = exercises
        .iter()
        .map(|e| e.name.len())
        .max()
        .unwrap_or(8)
        .max(8);
    println!("\n{}", paint.bold(&header(width)));
    let bar = progress_bar(exercises.len());
    for exercise in exercises {
        let clock = Instant::now();
        let name = &exercise.name;
        bar.set_message(format!("{name}: solution"));
        let solution = if broken_solutions.contains(name) {
            "no compile".to_owned()
        } else {
            solution_passes(&mut grading, exercise, repeat, &mut findings.problems)
        };
        let passes = solution.starts_with("passes");
        bar.set_message(format!("{name}: the exercise as handed out"));
        let untouched = if broken_exercises.contains(name) {
            "no compile".to_owned()
        } else if solution == "skipped" {
            "skipped".to_owned()
        } else {
            untouched_fails(&mut grading, exercise, &mut findings.problems)
        };
        bar.set_message(format!("{name}: a hard-coded output"));
        let hard_coded = if passes {
            hard_coded_fails(&mut grading, exercise, repeat, &mut findings.problems)
        } else {
            "-".to_owned()
        };
        bar.set_message(format!("{name}: other answers"));
        let mine = wrong.get(name.as_str()).map_or(&[][..], Vec::as_slice);
        let wrong = if passes {
            wrong_answers_fail(&mut grading, exercise, mine, repeat, &mut findings.problems)
        } else {
            "-".to_owned()
        };
        let row = Row {
            name: name.clone(),
            solution,
            untouched,
            hard_coded,
            wrong,
            seconds: clock.elapsed().as_secs_f64(),
        };
        bar.suspend(|| print_row(&row, width, paint));
        findings.rows.push(row);
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(summary(&findings, started, paint))
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

/// Phase 1: the files agree — sources exist, checks vary, the two packages match, the
/// `[[bin]]` list of `solutions/Cargo.toml` matches the manifest, the harness below the fence
/// is the same in exercise and solution, and (for a full run) no file is left unlisted.
fn files_agree(project: &Project, exercises: &[&Exercise], everything: bool) -> Vec<String> {
    let mut problems = Vec::new();
    for exercise in exercises {
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
        if let Some(difference) = harness_differs(project, exercise) {
            problems.push(difference);
        }
    }
    problems.extend(packages_differ(project));
    problems.extend(solution_bins_differ(project));
    if everything {
        for side in [Side::Exercise, Side::Solution] {
            for stem in orphans(project, side) {
                problems.push(format!(
                    "{}/src/bin/{stem}.rs is not in the manifest",
                    side.package()
                ));
            }
        }
    }
    problems
}

/// Phase 2: `cargo clippy -p exercises -- -D warnings` (the stubs as handed out).
fn clippy_is_clean(project: &Project) -> anyhow::Result<Option<String>> {
    eprintln!("$ cargo clippy -p exercises -- -D warnings");
    let output = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["clippy", "--quiet", "--color", "never", "--manifest-path"])
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

/// Phase 4: read the wrong answers of `exercises` and build them, each as the learner's part
/// above the harness of its exercise. Problems with them go to `problems`.
fn wrong_answers<'a>(
    project: &Project,
    exercises: &[&'a Exercise],
    problems: &mut Vec<String>,
) -> anyhow::Result<BTreeMap<&'a str, Vec<WrongAnswer>>> {
    let mut found = BTreeMap::new();
    for exercise in exercises {
        let mut answers = Vec::new();
        for (dir, right) in [(WRONG, false), (OTHER, true)] {
            let dir = project.root.join(dir).join(&exercise.name);
            let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "rs"))
                .collect();
            files.sort();
            for file in files {
                match read_wrong_answer(project, exercise, &file, right) {
                    Ok(answer) => answers.push(answer),
                    Err(error) => problems.push(format!("{error:#}")),
                }
            }
        }
        if !answers.is_empty() {
            found.insert(exercise.name.as_str(), answers);
        }
    }
    let all: Vec<(&str, &WrongAnswer)> = found
        .iter()
        .flat_map(|(name, answers)| answers.iter().map(move |a| (*name, a)))
        .collect();
    if all.is_empty() {
        return Ok(found);
    }
    eprintln!("building {} wrong answers (release)…", all.len());
    let solutions: BTreeMap<&str, String> = exercises
        .iter()
        .filter_map(|e| {
            let file = project.source(e, Side::Solution).ok()?;
            Some((e.name.as_str(), std::fs::read_to_string(file).ok()?))
        })
        .collect();
    let built: BTreeMap<&str, bool> = exercises
        .iter()
        .map(|e| (e.name.as_str(), e.launch().is_built()))
        .collect();
    let mut sources = Vec::new();
    for (name, answer) in &all {
        let Some(solution) = solutions.get(name) else {
            problems.push(format!("{}: its solution cannot be read", answer.shown));
            continue;
        };
        // A course without fences: the whole file is the learner's.
        let (mine, harness) = split_at_fence(solution).unwrap_or((solution, ""));
        let text = match replace_functions(mine, &answer.functions) {
            Ok(learner_part) => format!(
                "//! The solution of {name} with the functions of {} in place of its own.\n{learner_part}{harness}",
                answer.shown
            ),
            Err(error) => {
                problems.push(format!("{}: {error}", answer.shown));
                continue;
            }
        };
        if built.get(name) == Some(&true) {
            sources.push((answer.bin.clone(), text));
            continue;
        }
        // A `run` command takes the learner's file itself: hand it the wrong answer's.
        let file = wrong_file(project, &answer.bin);
        let written = file
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&file, text));
        if let Err(error) = written {
            problems.push(format!(
                "{}: cannot write {}: {error}",
                answer.shown,
                file.display()
            ));
        }
    }
    if let Err(error) = build_scratch_package(project, &sources) {
        problems.push(format!("the wrong answers do not build: {error:#}"));
        return Ok(BTreeMap::new());
    }
    Ok(found)
}

/// `NAME` and the text above and below the fence line (the fence line goes with the harness).
fn split_at_fence(text: &str) -> Option<(&str, &str)> {
    let at = text.find(FENCE)?;
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    Some((&text[..line_start], &text[line_start..]))
}

/// Read `solutions/wrong/NAME/KIND.rs`: a `// Wrong:` line saying what it gets wrong, a
/// `// Fails:` line naming the check (label) or verdict it must get, then the functions that
/// replace the solution's. A `right` answer (`solutions/other/NAME/STYLE.rs`) has a `// Style:`
/// line instead of the two.
fn read_wrong_answer(
    project: &Project,
    exercise: &Exercise,
    file: &Path,
    right: bool,
) -> anyhow::Result<WrongAnswer> {
    let shown = project.shown(file);
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {shown}"))?;
    let field = |key: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(key))
            .map(|v| v.trim().to_owned())
            .with_context(|| format!("{shown} has no `{key}` line"))
    };
    let (what, fails) = if right {
        (field("// Style:")?, None)
    } else {
        let fails = field("// Fails:")?;
        let fails = fails.split('|').map(|f| f.trim().to_owned()).collect();
        (field("// Wrong:")?, Some(fails))
    };
    for fails in fails.iter().flatten() {
        let known = exercise.checks.iter().any(|c| &c.label == fails)
            || [Kind::Timeout, Kind::Panic, Kind::NonZeroExit]
                .iter()
                .any(|k| k.name() == fails);
        anyhow::ensure!(
            known,
            "{shown}: `// Fails: {fails}` names no check of {} and no verdict",
            exercise.name
        );
    }
    anyhow::ensure!(
        !text.contains(FENCE) && !functions(&text).is_empty(),
        "{shown}: a wrong answer is functions that replace the solution's, nothing else"
    );
    let kind = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(WrongAnswer {
        bin: format!(
            "{}--{}{kind}",
            exercise.name,
            if right { "right-" } else { "" }
        ),
        shown,
        what,
        fails,
        functions: text,
    })
}

/// The top-level functions in `text`: (name, the item's byte range from its `fn` line to its
/// closing brace). Braces inside string literals and `//` comments are skipped.
fn functions(text: &str) -> Vec<(String, std::ops::Range<usize>)> {
    let mut found = Vec::new();
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        let start = at;
        at += line.len();
        let Some(rest) = line.strip_prefix("fn ") else {
            continue;
        };
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if let Some(end) = item_end(text, start) {
            found.push((name, start..end));
        }
    }
    found
}

/// Where the item starting at `start` ends: just after the brace that closes its body.
fn item_end(text: &str, start: usize) -> Option<usize> {
    let (mut depth, mut in_string, mut in_comment, mut escaped) = (0usize, false, false, false);
    let bytes = text.as_bytes();
    for i in start..bytes.len() {
        let byte = bytes[i];
        if in_comment {
            in_comment = byte != b'\n';
        } else if in_string {
            in_string = escaped || byte != b'"';
            escaped = !escaped && byte == b'\\';
        } else {
            match byte {
                b'/' if bytes.get(i + 1) == Some(&b'/') => in_comment = true,
                b'"' => in_string = true,
                b'{' => depth += 1,
                b'}' => {
                    depth = depth.checked_sub(1)?;
                    if depth == 0 {
                        return Some(i + 1);
                    }
                }
                _ => {}
            }
        }
    }
    None
}

/// `learner_part` with each function of `replacements` in place of its namesake.
fn replace_functions(learner_part: &str, replacements: &str) -> Result<String, String> {
    let mut text = learner_part.to_owned();
    for (name, range) in functions(replacements) {
        let Some((_, old)) = functions(&text).into_iter().find(|(n, _)| *n == name) else {
            return Err(format!(
                "the solution has no top-level `fn {name}` to replace"
            ));
        };
        text.replace_range(old, &replacements[range]);
    }
    Ok(text)
}

/// Build `sources` (binary name, text) as binaries of a scratch package that has the
/// solutions' dependencies, the workspace's profiles and its lock file, in the shared target
/// directory (so nothing is compiled twice), and keep a copy of each program.
fn build_scratch_package(project: &Project, sources: &[(String, String)]) -> anyhow::Result<()> {
    let dir = project.target.join("wrong-answers");
    let src = dir.join("src");
    let _ = std::fs::remove_dir_all(&src);
    std::fs::create_dir_all(&src).with_context(|| format!("cannot create {}", src.display()))?;
    let read = |path: PathBuf| -> anyhow::Result<toml::Table> {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        text.parse()
            .with_context(|| format!("cannot parse {}", path.display()))
    };
    let workspace = read(project.root.join("Cargo.toml"))?;
    let solutions = read(project.root.join("solutions/Cargo.toml"))?;
    let shared = workspace
        .get("workspace")
        .and_then(|w| w.get("dependencies"))
        .and_then(toml::Value::as_table);
    let mut dependencies = toml::Table::new();
    for (name, spec) in solutions
        .get("dependencies")
        .and_then(toml::Value::as_table)
        .into_iter()
        .flatten()
    {
        let inherits = spec.get("workspace").and_then(toml::Value::as_bool) == Some(true);
        let (mut spec, base) = match shared.and_then(|s| s.get(name)).filter(|_| inherits) {
            Some(shared) => (shared.clone(), project.root.clone()),
            None => (spec.clone(), project.root.join("solutions")),
        };
        if let Some(table) = spec.as_table_mut()
            && let Some(path) = table.get("path").and_then(toml::Value::as_str)
        {
            let absolute = base.join(path).display().to_string();
            table.insert("path".into(), absolute.into());
        }
        dependencies.insert(name.clone(), spec);
    }
    let edition = workspace
        .get("workspace")
        .and_then(|w| w.get("package"))
        .and_then(|p| p.get("edition"))
        .or_else(|| solutions.get("package").and_then(|p| p.get("edition")))
        .cloned()
        .unwrap_or_else(|| "2024".into());
    let mut manifest = toml::Table::new();
    manifest.insert(
        "package".into(),
        toml::toml! { name = "wrong-answers" version = "0.0.0" publish = false autobins = false }
            .into(),
    );
    if let Some(package) = manifest
        .get_mut("package")
        .and_then(toml::Value::as_table_mut)
    {
        package.insert("edition".into(), edition);
    }
    manifest.insert("workspace".into(), toml::Table::new().into());
    manifest.insert("dependencies".into(), dependencies.into());
    if let Some(profile) = workspace.get("profile") {
        manifest.insert("profile".into(), profile.clone());
    }
    let bins: Vec<toml::Value> = sources
        .iter()
        .map(|(bin, _)| {
            let mut table = toml::Table::new();
            table.insert("name".into(), bin.clone().into());
            table.insert("path".into(), format!("src/{bin}.rs").into());
            table.into()
        })
        .collect();
    manifest.insert("bin".into(), bins.into());
    std::fs::write(dir.join("Cargo.toml"), toml::to_string(&manifest)?)
        .context("cannot write the wrong answers' Cargo.toml")?;
    // The workspace's lock file: the same versions, so the same compiled dependencies.
    if let Ok(lock) = std::fs::read(project.root.join("Cargo.lock")) {
        std::fs::write(dir.join("Cargo.lock"), lock).context("cannot copy Cargo.lock")?;
    }
    for (bin, text) in sources {
        std::fs::write(src.join(format!("{bin}.rs")), text)
            .with_context(|| format!("cannot write {bin}.rs"))?;
    }
    let _lock = project.lock()?;
    let output = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["build", "--release", "--quiet", "--color", "never"])
        .arg("--manifest-path")
        .arg(dir.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &project.cargo_target)
        .current_dir(&project.root)
        .output()
        .context("cannot run cargo")?;
    anyhow::ensure!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr).trim_end()
    );
    for (bin, _) in sources {
        project.keep(&project.built(bin), &wrong_program(project, bin))?;
    }
    Ok(())
}

/// The grader's copy of the wrong answer `bin`.
fn wrong_program(project: &Project, bin: &str) -> PathBuf {
    project.target.join("programs/wrong-answers").join(bin)
}

/// The source file of the wrong answer `bin` to an exercise with a `run` command.
fn wrong_file(project: &Project, bin: &str) -> PathBuf {
    project
        .target
        .join("wrong-answers/files")
        .join(format!("{bin}.rs"))
}

/// Phase 5a: the solution passes `repeat` times in a row.
fn solution_passes(
    grading: &mut Grading<'_>,
    exercise: &Exercise,
    repeat: u32,
    problems: &mut Vec<String>,
) -> String {
    let name = &exercise.name;
    for attempt in 1..=repeat {
        match grading.grade(exercise, &Learner::Program(Side::Solution)) {
            Ok(v) if v.passed => {}
            Ok(v) if v.verdict == Kind::Skipped => return "skipped".into(),
            Ok(v) => {
                problems.push(format!(
                    "{name}: the solution failed on attempt {attempt} of {repeat} ({}): {}",
                    show_params(&v.params),
                    v.message
                ));
                return format!("FAILS {attempt}/{repeat}");
            }
            Err(error) => {
                problems.push(format!("{name}: {error:#}"));
                return "ERROR".into();
            }
        }
    }
    format!("passes {repeat}/{repeat}")
}

/// Phase 5b: the exercise as handed out fails, and not only by timing out.
fn untouched_fails(
    grading: &mut Grading<'_>,
    exercise: &Exercise,
    problems: &mut Vec<String>,
) -> String {
    let name = &exercise.name;
    match grading.grade(exercise, &Learner::Program(Side::Exercise)) {
        Ok(v) if v.passed => {
            problems.push(format!("{name}: the untouched exercise passes its checks"));
            "PASSES".into()
        }
        Ok(v) if v.todo => "fails: TODO".into(),
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
}

/// Phase 5c: a program printing the solution's default output verbatim fails every time.
fn hard_coded_fails(
    grading: &mut Grading<'_>,
    exercise: &Exercise,
    repeat: u32,
    problems: &mut Vec<String>,
) -> String {
    let name = &exercise.name;
    match hard_coded(grading, exercise, repeat) {
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
}

/// How many of `repeat` checks a program printing the solution's default output passes.
fn hard_coded(grading: &mut Grading<'_>, exercise: &Exercise, repeat: u32) -> anyhow::Result<u32> {
    let outcome = if exercise.launch().is_built() {
        // The defaults: the program run with no arguments at all.
        let program = grading.project.program(exercise, Side::Solution);
        grading.execute(exercise, &program, &[])?
    } else {
        // A whole command always needs its parameters: use one random draw.
        let params = exercise.draw(|low, high| grading.rng.between(low, high));
        grading.run_side(exercise, Side::Solution, &params)?
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

/// Phase 5d: every wrong answer fails on each of `repeat` fresh draws, where its header says,
/// and every right answer in another style passes on each.
fn wrong_answers_fail(
    grading: &mut Grading<'_>,
    exercise: &Exercise,
    answers: &[WrongAnswer],
    repeat: u32,
    problems: &mut Vec<String>,
) -> String {
    if answers.is_empty() {
        return "none".into();
    }
    let (mut wrong, mut right, mut broken) = (0, 0, 0);
    for answer in answers {
        let program = if exercise.launch().is_built() {
            wrong_program(grading.project, &answer.bin)
        } else {
            wrong_file(grading.project, &answer.bin)
        };
        let mut ok = true;
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
        return format!("{broken} WRONG");
    }
    let mut cell = Vec::new();
    if wrong > 0 {
        cell.push(format!("{wrong}✗"));
    }
    if right > 0 {
        cell.push(format!("{right}✓"));
    }
    format!("{} {repeat}/{repeat}", cell.join(" "))
}

fn header(width: usize) -> String {
    format!(
        "{:width$}  {:12}  {:22}  {:10}  {:13}  {:>6}",
        "exercise", "solution", "untouched exercise", "hard-coded", "other answers", "time"
    )
}

fn print_row(row: &Row, width: usize, paint: Paint) {
    let cell = |text: &str, width: usize| {
        let padded = format!("{text:width$}");
        if text.contains("FAILS")
            || text.contains("PASS")
            || text.contains("WRONG")
            || text == "ERROR"
        {
            paint.red(&padded)
        } else if text == "skipped" {
            paint.yellow(&padded)
        } else {
            padded
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

/// The harness (from the fence on) must be the same in the exercise and its solution, or a
/// solution could pass checks the learner's harness does not print. `Some`: how they differ.
fn harness_differs(project: &Project, exercise: &Exercise) -> Option<String> {
    if !exercise.launch().is_built() {
        return None;
    }
    let text = |side| {
        project
            .source(exercise, side)
            .ok()
            .and_then(|p| std::fs::read_to_string(p).ok())
    };
    let (mine, theirs) = (text(Side::Exercise)?, text(Side::Solution)?);
    match (split_at_fence(&mine), split_at_fence(&theirs)) {
        (Some((_, a)), Some((_, b))) if a == b => None,
        (Some(_), Some(_)) => Some(format!(
            "{}: the harness below the fence differs between exercises/ and solutions/",
            exercise.name
        )),
        // A course may have no fences at all; one side with a fence and one without may not.
        (None, None) => None,
        _ => Some(format!(
            "{}: the exercise or its solution has no fence line (\"{FENCE}\")",
            exercise.name
        )),
    }
}

/// `solutions/Cargo.toml` lists each solution as `[[bin]] name = "NAME-solution"`, `path =
/// "src/bin/NAME.rs"` by hand: it must list exactly the built exercises of the manifest.
fn solution_bins_differ(project: &Project) -> Vec<String> {
    let path = project.root.join("solutions/Cargo.toml");
    let Some(table) = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| t.parse::<toml::Table>().ok())
    else {
        return vec!["solutions/Cargo.toml cannot be read".into()];
    };
    let listed: BTreeMap<String, String> = table
        .get("bin")
        .and_then(toml::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|bin| {
            let name = bin.get("name")?.as_str()?.to_owned();
            let path = bin.get("path")?.as_str()?.to_owned();
            Some((name, path))
        })
        .collect();
    let wanted: BTreeMap<String, String> = project
        .manifest
        .exercises
        .iter()
        .filter(|e| e.launch().is_built())
        .map(|e| {
            (
                Side::Solution.bin(&e.name),
                format!("src/bin/{}.rs", e.name),
            )
        })
        .collect();
    let mut problems = Vec::new();
    for (name, path) in &wanted {
        match listed.get(name) {
            None => problems.push(format!(
                "solutions/Cargo.toml lists no [[bin]] `{name}` (path = \"{path}\")"
            )),
            Some(found) if found != path => problems.push(format!(
                "solutions/Cargo.toml: [[bin]] `{name}` has path \"{found}\", not \"{path}\""
            )),
            Some(_) => {}
        }
    }
    for name in listed.keys().filter(|n| !wanted.contains_key(*n)) {
        problems.push(format!(
            "solutions/Cargo.toml lists [[bin]] `{name}`, which is no exercise in the manifest"
        ));
    }
    problems
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
