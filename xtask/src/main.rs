//! `cargo xtask`: project tasks, so developing the course needs no shell scripts.
//!
//! This file only dispatches: each task lives in its own module (`ci`, `grader`, …). To add a
//! task, add a variant to [`Task`] and a module, and one line to the `match` in `main`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod book;
mod ci;
mod fidelity;
mod grader;
mod model_check;
mod process;
mod python;
mod real_gil;
#[cfg(test)]
mod tidy;

/// Project tasks for gil-lessons: the exercise grader and CI.
#[derive(Parser)]
#[command(name = "cargo xtask")]
struct Cli {
    /// The workspace to work on (default: the one this xtask belongs to)
    #[arg(long, global = true, hide = true)]
    root: Option<PathBuf>,

    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Run what CI runs: formatting, clippy, tests, benchmarks build, then `verify`
    Ci,
    /// Grade an exercise (without NAME: the first one not passing yet)
    Check(grader::CheckArgs),
    /// Show every exercise and your progress
    List(grader::ListArgs),
    /// Show the hints of an exercise, one tier at a time
    Hint(grader::HintArgs),
    /// Check the current exercise again each time you save it
    Watch(grader::WatchArgs),
    /// Restore an exercise as it was handed out (asks first)
    Reset(grader::ResetArgs),
    /// Prove the grader: every solution passes, every untouched exercise fails
    Verify(grader::VerifyArgs),
    /// Build the PyO3 extension, run it in python3 from 1, 2 and 4 threads, compare with the model
    RealGil(real_gil::RealGilArgs),
    /// Run the same experiments on python3 and on the model, one table: CPython vs model vs verdict
    Fidelity(fidelity::FidelityArgs),
    /// Check the GIL protocol over every interleaving, and `counter += 1` over every schedule
    ModelCheck,
    /// Build the course as an HTML book in target/book/ (text and figures; --check in Chromium)
    Book(book::BookArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new("."))
        .to_owned();
    let root = cli.root.clone().unwrap_or(default_root);
    // Absolute, so paths handed to cargo and to the programs mean the same from any directory.
    let root = std::path::absolute(&root).unwrap_or(root);
    // Tasks that run learner programs (or Python) adopt their orphans and stop them on SIGINT,
    // SIGTERM or SIGHUP. `ci` does so only for its last step, verify: while it runs the test
    // suite, orphans of the tests' own processes must go to init, which reaps them, not to an
    // xtask that never waits for them (they would linger as zombies the tests see as alive).
    if !matches!(cli.task, Task::Ci) {
        process::kill_children_on_interrupt();
    }
    // gil-core's main wrapper: one `error: …` line, never a backtrace; default SIGPIPE, so
    // `cargo xtask list | head` ends quietly.
    let mut code = ExitCode::SUCCESS;
    let ended = gil_core::cli::run(|| {
        code = run(&cli.task, &root)?;
        Ok(())
    });
    if ended == ExitCode::SUCCESS {
        code
    } else {
        ended
    }
}

/// Run one task; its exit code (a failed check is not an error).
fn run(task: &Task, root: &Path) -> anyhow::Result<ExitCode> {
    match task {
        Task::Ci => ci::ci(root),
        Task::Check(args) => grader::check(root, args),
        Task::List(args) => grader::list(root, args),
        Task::Hint(args) => grader::hint(root, args),
        Task::Watch(args) => grader::watch(root, args),
        Task::Reset(args) => grader::reset(root, args),
        Task::Verify(args) => grader::verify(root, args),
        Task::RealGil(args) => real_gil::run(root, args).map(|()| ExitCode::SUCCESS),
        Task::Fidelity(args) => fidelity::run(root, args),
        Task::Book(args) => book::run(root, args),
        Task::ModelCheck => model_check::run(),
    }
}
