//! `cargo xtask real-gil`: the model checked against CPython's real GIL.
//!
//! Builds the PyO3 extension in `crates/real-gil` with cargo (no maturin, no virtualenv), copies
//! the shared library to `target/real-gil/py/real_gil<EXT_SUFFIX>` where `python3` can import it,
//! runs `crates/real-gil/driver.py`, and prints its measurements beside what the gil-core model
//! predicts for the same shape of work.
//!
//! `cargo xtask real-gil exercise --source FILE` does the same for one learner's module: the
//! file becomes `src/lib.rs` of a copy of the crate (under `target/real-gil/exercise/<hash>/`),
//! and the driver reports whether the function let go of the GIL.
//!
//! Python is found the one way xtask finds it ([`crate::python`]): `$PYO3_PYTHON` if set (then it
//! must work), else `python3` on `PATH`; without that, both say so in one line and succeed (the
//! rest of the course never needs Python). Every Python run has a time limit (`--timeout`).

mod deadlocks;
mod demo;
mod exercise;
mod extension;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::python::{self, Choice, Python};

/// `cargo xtask real-gil [exercise …]`.
#[derive(clap::Args, Debug)]
pub struct RealGilArgs {
    /// Kernel iterations per call (one call of 200,000,000 takes about 0.1 s)
    #[arg(long, default_value_t = 200_000_000)]
    iterations: u64,
    /// Calls per measurement, split over 1, 2 and 4 threads
    #[arg(long, default_value_t = 4)]
    calls: u32,
    /// MiB of bytes each buffer_squares call reduces
    #[arg(long, default_value_t = 64)]
    buffer_mb: u32,
    /// Times each measurement is repeated (the best is kept)
    #[arg(long, default_value_t = 3)]
    repeats: u32,
    /// Small sizes, one repeat: a quick look rather than a measurement
    #[arg(long)]
    quick: bool,
    /// The longest the Python driver may run before it is stopped
    #[arg(long, value_name = "SECONDS", default_value_t = 300, global = true)]
    timeout: u64,
    #[command(subcommand)]
    command: Option<RealGilCommand>,
}

#[derive(clap::Subcommand, Debug)]
enum RealGilCommand {
    /// Build one learner's extension module from FILE and measure whether it releases the GIL
    Exercise(ExerciseArgs),
    /// Build exercise 16's module from FILE and run its two deadlock scenarios in python3
    Deadlocks(deadlocks::DeadlocksArgs),
}

/// `cargo xtask real-gil exercise --source FILE --threads N --iterations M`.
#[derive(clap::Args, Debug)]
struct ExerciseArgs {
    /// The module's Rust source (it becomes src/lib.rs of a copy of crates/real-gil)
    #[arg(long)]
    source: PathBuf,
    /// Python threads that call the function at once
    #[arg(long, default_value_t = 2)]
    threads: u32,
    /// Kernel iterations per call
    #[arg(long, default_value_t = 200_000_000)]
    iterations: u64,
    /// Times each measurement is repeated (the best is kept)
    #[arg(long, default_value_t = 3)]
    repeats: u32,
    /// The Python module the source defines
    #[arg(long, default_value = "release_the_gil")]
    module: String,
    /// The function of that module to call with the iteration count
    #[arg(long, default_value = "crunch")]
    function: String,
}

/// Run `cargo xtask real-gil …`.
pub fn run(root: &Path, args: &RealGilArgs) -> anyhow::Result<()> {
    let Some(python) = find_python()? else {
        println!(
            "real-gil: skipped, no `{}` found on PATH (the rest of the course does not need Python)",
            python::DEFAULT
        );
        return Ok(());
    };
    let timeout = Duration::from_secs(args.timeout.max(1));
    match args.command {
        Some(RealGilCommand::Exercise(ref exercise)) => {
            exercise::run_exercise(&python, root, exercise, timeout).map(drop)
        }
        Some(RealGilCommand::Deadlocks(ref deadlocks)) => {
            deadlocks::run_deadlocks(&python, root, deadlocks)
        }
        None => demo::run_demo(&python, root, args, timeout),
    }
}

/// The oldest free-threaded CPython the PyO3 of `crates/real-gil` builds for.
const PYO3_FREE_THREADED: (u32, u32) = (3, 14);

/// `$PYO3_PYTHON` or `python3` on `PATH` (`None`: not there), if it can build extensions.
fn find_python() -> anyhow::Result<Option<Python>> {
    let Some(python) = python::find(&Choice::pyo3_python())? else {
        return Ok(None);
    };
    anyhow::ensure!(
        !python.ext_suffix.is_empty(),
        "{} (Python {}) has no build configuration (sysconfig EXT_SUFFIX), so no extension \
         can be built for it",
        python.shown,
        python.version
    );
    // PyO3's build script refuses a free-threaded interpreter older than 3.14 with a page of
    // output; say why in one line before anything is built.
    anyhow::ensure!(
        !python.free_threaded
            || python
                .major_minor()
                .is_some_and(|v| v >= PYO3_FREE_THREADED),
        "{} is a free-threaded Python {}: PyO3 builds free-threaded extensions only from {}.{} \
         (use a 3.14t, or a Python with the GIL)",
        python.shown,
        python.version,
        PYO3_FREE_THREADED.0,
        PYO3_FREE_THREADED.1
    );
    Ok(Some(python))
}
