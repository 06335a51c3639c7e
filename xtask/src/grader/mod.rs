//! The exercise grader: `check`, `list`, `hint`, `watch`, `reset` and `verify`.
//!
//! A check builds the learner's binary (release, the workspace's shared build), draws parameters
//! from the manifest's ranges, runs the learner's program and the solution with the same ones,
//! each in a scratch directory and its own process group under a time limit, and evaluates the
//! manifest's checks on the `label: value` lines they print. Code map:
//!
//! * [`manifest`] — `exercises/exercises.toml`, loaded and checked; [`expr`] and [`value`] —
//!   the checks' expressions and the printed values they compare.
//! * [`project`] — where files are, and building; [`crate::process`] — running a program safely.
//! * [`grade`] — one exercise to one [`grade::Verdict`]; [`render`] — verdicts for people;
//!   [`course`] — did the program change the course's files or the progress file?
//! * [`progress`] — the last verdicts (`target/grader/progress.json`); [`verify`](mod@verify) — proof that
//!   every solution passes and every untouched exercise fails.
//!
//! Architecture invariant: nothing here writes below `exercises/` except `reset`.

use std::io::{BufRead as _, Write as _};
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::{Context as _, bail};

pub mod course;
pub mod expr;
pub mod grade;
pub mod manifest;
pub mod progress;
pub mod project;
pub mod render;
pub mod source;
pub mod value;
pub mod verify;

use grade::{Grading, Learner, Rng, Verdict};
use manifest::Exercise;
use progress::{Progress, Status, file_hash};
use project::{Project, Side, on_path};
use render::Paint;

/// `cargo xtask check`
#[derive(clap::Args)]
pub struct CheckArgs {
    /// The exercise (its file stem); without it, the first one not passing yet
    pub name: Option<String>,
    /// Print the verdict as JSON instead
    #[arg(long)]
    pub json: bool,
    /// Draw the same parameters again (a seed from an earlier `--json` verdict)
    #[arg(long)]
    pub seed: Option<u64>,
}

/// `cargo xtask list`
#[derive(clap::Args)]
pub struct ListArgs {
    /// Print the list as JSON instead
    #[arg(long)]
    pub json: bool,
}

/// `cargo xtask hint`
#[derive(clap::Args)]
pub struct HintArgs {
    /// The exercise
    pub name: String,
    /// Show hints up to this tier (1: a nudge … last: nearly the answer); default: the next one
    #[arg(long)]
    pub level: Option<usize>,
}

/// `cargo xtask watch`
#[derive(clap::Args)]
pub struct WatchArgs {
    /// Watch this exercise only; without it, the first one not passing, then the next…
    pub name: Option<String>,
}

/// `cargo xtask reset`
#[derive(clap::Args)]
pub struct ResetArgs {
    /// The exercise to restore as it was handed out
    pub name: String,
    /// Do not ask first
    #[arg(long)]
    pub yes: bool,
}

/// The first exercise not passing yet (leaving out those whose tools are missing).
fn next<'a>(project: &'a Project, progress: &Progress) -> Option<&'a Exercise> {
    project.manifest.exercises.iter().find(|e| {
        // A skipped one (no free-threaded Python, say) is not "next" again until the learner
        // asks for it by name.
        !matches!(
            progress.entry(&e.name).status,
            Status::Pass | Status::Skipped
        ) && e.requires.iter().all(|tool| on_path(tool))
    })
}

/// The exercise called `name`, or without a name the next one (`None`: all pass).
fn pick<'a>(
    project: &'a Project,
    progress: &Progress,
    name: Option<&str>,
) -> anyhow::Result<Option<&'a Exercise>> {
    match name {
        Some(name) => project.manifest.find(name).map(Some),
        None => Ok(next(project, progress)),
    }
}

/// Grade `exercise` as the learner wrote it, and remember the verdict.
fn check_one(
    project: &Project,
    progress: &mut Progress,
    exercise: &Exercise,
    chatty: bool,
    seed: u64,
) -> anyhow::Result<Verdict> {
    let mut grading = Grading {
        project,
        rng: Rng::new(seed),
        colour: chatty && Paint::for_stdout().on,
        chatty,
        build: true,
        pythons: Default::default(),
        solution_runs: None,
    };
    let hash = project
        .source(exercise, Side::Exercise)
        .map_or(0, |p| file_hash(&p));
    let mut verdict = grading.grade(exercise, &Learner::Program(Side::Exercise))?;
    // Progress is a convenience: failing to save it must not hide the verdict.
    *progress = Progress::load(&project.target);
    progress.record(&verdict, hash);
    if let Err(error) = progress.save() {
        eprintln!("warning: could not save progress: {error:#}");
    }
    if verdict.passed {
        verdict.next = next(project, progress).map(|e| format!("cargo xtask check {}", e.name));
        verdict.all_done = verdict.next.is_none();
    }
    Ok(verdict)
}

fn fresh_seed() -> u64 {
    let mut rng = Rng::from_entropy();
    rng.between(0, i64::MAX) as u64
}

/// `cargo xtask check [NAME] [--json]`
pub fn check(root: &Path, args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let project = Project::open(root)?;
    let mut progress = Progress::load(&project.target);
    let Some(exercise) = pick(&project, &progress, args.name.as_deref())? else {
        println!("Every exercise passes. Well done!");
        return Ok(ExitCode::SUCCESS);
    };
    let seed = args.seed.unwrap_or_else(fresh_seed);
    let verdict = check_one(&project, &mut progress, exercise, !args.json, seed)?;
    if args.json {
        /// The verdict plus the seed that drew its parameters.
        #[derive(serde::Serialize)]
        struct Json<'a> {
            #[serde(flatten)]
            verdict: &'a Verdict,
            seed: u64,
        }
        let json = Json {
            verdict: &verdict,
            seed,
        };
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        let paint = Paint::for_stdout();
        print!("{}", render::verdict(&verdict, paint));
        if verdict.passed {
            println!("{}", what_next(&project, &progress));
        }
    }
    Ok(if verdict.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// "Next: …" after a pass, or "All done" and where to go from there.
fn what_next(project: &Project, progress: &Progress) -> String {
    match next(project, progress) {
        Some(next) => {
            let file = project
                .source(next, Side::Exercise)
                .map(|p| project.shown(&p))
                .unwrap_or_default();
            format!(
                "\nNext: {}, in {file}\n  {}\n  cargo xtask check {}",
                next.name, next.title, next.name
            )
        }
        None => "\nAll done: every exercise passes. To see how the model compares with the \
                 CPython on\nthis machine, run `cargo xtask fidelity`."
            .into(),
    }
}

/// One row of `cargo xtask list` (and of `--json`).
#[derive(serde::Serialize)]
struct ListRow<'a> {
    name: &'a str,
    section: &'static str,
    title: &'a str,
    status: Status,
    /// The last verdict's kind, as the progress file has it.
    verdict: String,
    /// The file changed since its last check.
    edited_since: bool,
    /// The first exercise not passing yet.
    next: bool,
}

/// `cargo xtask list [--json]`
pub fn list(root: &Path, args: &ListArgs) -> anyhow::Result<ExitCode> {
    let project = Project::open(root)?;
    let progress = Progress::load(&project.target);
    let next_name = next(&project, &progress).map(|e| e.name.clone());
    let rows: Vec<ListRow<'_>> = project
        .manifest
        .exercises
        .iter()
        .map(|e| {
            let entry = progress.entry(&e.name);
            let edited = entry.status != Status::NotChecked
                && project
                    .source(e, Side::Exercise)
                    .is_ok_and(|p| file_hash(&p) != entry.file_hash);
            ListRow {
                name: &e.name,
                section: e.section.name(),
                title: &e.title,
                status: entry.status,
                verdict: entry.verdict,
                edited_since: edited,
                next: next_name.as_deref() == Some(e.name.as_str()),
            }
        })
        .collect();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    let paint = Paint::for_stdout();
    let total = rows.len();
    let passed = rows.iter().filter(|r| r.status == Status::Pass).count();
    let width = 30;
    let filled = passed * width / total.max(1);
    println!(
        "Progress: {}{} {passed}/{total} passed",
        paint.green(&"█".repeat(filled)),
        "░".repeat(width - filled)
    );
    println!();
    let name_width = rows.iter().map(|r| r.name.len()).max().unwrap_or(4);
    println!(
        "  {:>2}  {:name_width$}  {:11}  {:24}  title",
        "#", "name", "section", "status"
    );
    for (i, row) in rows.iter().enumerate() {
        let mut status = match row.status {
            Status::Fail => format!("✗ {}", printable(&row.verdict)),
            Status::Pass => "✓ pass".into(),
            Status::Skipped => "○ skipped".into(),
            Status::NotChecked => "· not checked".into(),
        };
        if row.edited_since {
            status.push_str(" (edited)");
        }
        let padded = format!("{status:24}");
        let status = match row.status {
            Status::Pass => paint.green(&padded),
            Status::Fail => paint.red(&padded),
            Status::Skipped => paint.yellow(&padded),
            Status::NotChecked => paint.dim(&padded),
        };
        let marker = if row.next { "▶" } else { " " };
        println!(
            "{marker} {:>2}  {:name_width$}  {:11}  {status}  {}",
            i + 1,
            row.name,
            row.section,
            row.title,
        );
    }
    println!();
    match &next_name {
        Some(name) => {
            println!("▶ next: `cargo xtask check` grades {name}; `cargo xtask hint {name}` helps.")
        }
        None => println!("Every exercise passes. Well done!"),
    }
    Ok(ExitCode::SUCCESS)
}

/// `cargo xtask hint NAME [--level N]`
pub fn hint(root: &Path, args: &HintArgs) -> anyhow::Result<ExitCode> {
    let project = Project::open(root)?;
    let exercise = project.manifest.find(&args.name)?;
    let tiers = exercise.hints.len();
    let mut progress = Progress::load(&project.target);
    let seen = progress.entry(&exercise.name).hints_seen;
    let level = match args.level {
        Some(level) if level == 0 || level > tiers => {
            bail!("{} has {tiers} hints: --level 1 to {tiers}", exercise.name)
        }
        Some(level) => level,
        None => seen.saturating_add(1).min(tiers),
    };
    let paint = Paint::for_stdout();
    println!(
        "{}",
        paint.bold(&format!("Hints for {} — {}", exercise.name, exercise.title))
    );
    for (i, text) in exercise.hints.iter().enumerate().take(level) {
        println!();
        // 80 columns with the "  1. " prefix, like every lesson line.
        for (j, line) in wrap(text.trim(), 75).iter().enumerate() {
            if j == 0 {
                println!("  {}. {line}", i + 1);
            } else {
                println!("     {line}");
            }
        }
    }
    println!();
    if level < tiers {
        println!(
            "{}",
            paint.dim(&format!(
                "({level} of {tiers}: run `cargo xtask hint {}` again for the next one)",
                exercise.name
            ))
        );
    } else {
        println!(
            "{}",
            paint.dim(&format!("(that was the last of {tiers} hints)"))
        );
    }
    progress
        .exercises
        .entry(exercise.name.clone())
        .or_default()
        .hints_seen = seen.max(level);
    if let Err(error) = progress.save() {
        eprintln!("warning: could not save progress: {error:#}");
    }
    Ok(ExitCode::SUCCESS)
}

/// `text` from the progress file, safe to print: no control characters (a hand-edited or
/// rewritten file must not send escape sequences to the terminal), at most 24 characters.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .take(24)
        .collect()
}

/// `text` broken into lines of at most `width` characters, at spaces (its own line breaks kept;
/// a word longer than `width` stays whole). The same textwrap the lessons' prose goes through.
pub(crate) fn wrap(text: &str, width: usize) -> Vec<String> {
    let options = textwrap::Options::new(width)
        .break_words(false)
        .word_splitter(textwrap::WordSplitter::NoHyphenation);
    textwrap::wrap(text, options)
        .into_iter()
        .map(|line| line.trim_end().to_owned())
        .collect()
}

/// `cargo xtask watch [NAME]`: check on every save (polling the file twice a second).
pub fn watch(root: &Path, args: &WatchArgs) -> anyhow::Result<ExitCode> {
    let mut project = Project::open(root)?;
    let paint = Paint::for_stdout();
    loop {
        let mut progress = Progress::load(&project.target);
        let Some(exercise) = pick(&project, &progress, args.name.as_deref())? else {
            println!("Every exercise passes. Well done!");
            return Ok(ExitCode::SUCCESS);
        };
        let file = project.source(exercise, Side::Exercise)?;
        let shown = project.shown(&file);
        let stamp = modified(&file);
        let passed = match check_one(&project, &mut progress, exercise, true, fresh_seed()) {
            Ok(verdict) => {
                print!("{}", render::verdict(&verdict, paint));
                verdict.passed
            }
            Err(error) => {
                println!("error: {error:#}");
                false
            }
        };
        if passed && args.name.is_none() {
            println!("{}", paint.dim("\nOn to the next exercise…\n"));
            continue;
        }
        println!(
            "{}",
            paint.dim(&format!(
                "\nwatching {shown}: save it to check again (Ctrl-C to stop)"
            ))
        );
        while modified(&file) == stamp {
            std::thread::sleep(Duration::from_millis(500));
        }
        println!("\n{}\n", paint.bold(&format!("── {shown} changed ──")));
        // The manifest may have changed too (course authors use watch as well).
        if let Ok(reloaded) = Project::open(root) {
            project = reloaded;
        }
    }
}

fn modified(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

/// `cargo xtask reset NAME [--yes]`: the one command that writes to `exercises/`.
pub fn reset(root: &Path, args: &ResetArgs) -> anyhow::Result<ExitCode> {
    let project = Project::open(root)?;
    let exercise = project.manifest.find(&args.name)?;
    let file = project.source(exercise, Side::Exercise)?;
    let shown = project.shown(&file);
    let Some(original) = project.handed_out(&file) else {
        bail!("git has no handed-out version of {shown} (git show HEAD:./{shown} failed)");
    };
    if std::fs::read(&file).is_ok_and(|now| now == original) {
        println!("{shown} is already the handed-out version.");
        return Ok(ExitCode::SUCCESS);
    }
    if !args.yes {
        print!("Reset {shown} to the handed-out version? Your changes to it will be lost. [y/N] ");
        std::io::stdout().flush()?;
        // No answer (end of input) means no.
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer).ok();
        if !matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
            println!("Left {shown} as it is.");
            return Ok(ExitCode::SUCCESS);
        }
    }
    std::fs::write(&file, &original).with_context(|| format!("cannot write {shown}"))?;
    let mut progress = Progress::load(&project.target);
    progress.forget(&exercise.name);
    if let Err(error) = progress.save() {
        eprintln!("warning: could not save progress: {error:#}");
    }
    println!("Restored {shown} as it was handed out.");
    Ok(ExitCode::SUCCESS)
}

/// `cargo xtask verify`
pub use verify::{VerifyArgs, verify};

#[cfg(test)]
mod tests {
    #[test]
    fn progress_text_cannot_reach_the_terminal_raw() {
        assert_eq!(super::printable("wrong result"), "wrong result");
        assert_eq!(super::printable("\u{1b}[2Jgone"), "?[2Jgone");
        assert_eq!(super::printable(&"x".repeat(100)).len(), 24);
    }

    #[test]
    fn hints_wrap_at_spaces() {
        assert_eq!(
            super::wrap("one two three four", 9),
            vec!["one two", "three", "four"]
        );
        assert_eq!(super::wrap("a\nb", 80), vec!["a", "b"]);
        assert_eq!(super::wrap("unbreakable_word", 4), vec!["unbreakable_word"]);
    }
}
