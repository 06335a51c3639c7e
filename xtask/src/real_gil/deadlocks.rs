//! `cargo xtask real-gil deadlocks --source FILE`: exercise 16, a learner's PyO3 module with
//! two functions that can deadlock with the GIL, run in the machine's python3.
//!
//! Each scenario runs in a Python process of its own under a time limit, so one that hangs is
//! stopped without losing the other. A hung scenario is explained from the `progress:` lines
//! the driver and the module printed before they stopped: who holds the GIL, who holds the
//! Rust lock or waits in `join`, who waits for the GIL.

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use gil_core::process::{self, Ending, Limits};
use gil_core::report::{indented, kv};

use super::exercise::build_learner_module;
use super::extension::template_dir;
use crate::python::Python;

/// The module the learner's file defines.
const MODULE: &str = "pyo3_deadlocks";

/// `cargo xtask real-gil deadlocks …`.
#[derive(clap::Args, Debug)]
pub(super) struct DeadlocksArgs {
    /// The module's Rust source (it becomes src/lib.rs of a copy of crates/real-gil)
    #[arg(long)]
    source: std::path::PathBuf,
    /// Entries in lookup's table
    #[arg(long, default_value_t = 100)]
    entries: u64,
    /// How long building the table sleeps in Python, in ms
    #[arg(long, default_value_t = 100)]
    delay_ms: u64,
    /// Items given to square_many (one worker each)
    #[arg(long, default_value_t = 4)]
    items: u64,
    /// square_many's first item
    #[arg(long, default_value_t = 3)]
    first: u64,
    /// How long one scenario may run before it is called stuck, in seconds
    #[arg(long, default_value_t = 5)]
    patience: u64,
}

/// Build the learner's module, then run both scenarios and print what they showed.
pub(super) fn run_deadlocks(
    python: &Python,
    root: &Path,
    args: &DeadlocksArgs,
) -> anyhow::Result<()> {
    let module_dir = build_learner_module(python, root, &args.source, MODULE)?;
    kv("python", &python.version);
    // The two scenarios are separate Python processes that mostly wait (a sleep, or a deadlock
    // until the time limit): run them at once, report them in order.
    let scenarios = ["lookup", "square_many"];
    let outcomes = std::thread::scope(|scope| {
        let running: Vec<_> = scenarios
            .iter()
            .map(|scenario| {
                let module_dir = &module_dir;
                scope.spawn(move || run_scenario(python, root, module_dir, args, scenario))
            })
            .collect();
        running
            .into_iter()
            .map(|run| {
                run.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a scenario's thread panicked")))
            })
            .collect::<Vec<_>>()
    });
    for (scenario, outcome) in scenarios.iter().zip(outcomes) {
        report_scenario(&outcome?, args, scenario)?;
    }
    Ok(())
}

/// Run one scenario's Python process under the time limit `--patience`.
fn run_scenario(
    python: &Python,
    root: &Path,
    module_dir: &Path,
    args: &DeadlocksArgs,
    scenario: &str,
) -> anyhow::Result<process::Outcome> {
    let driver = template_dir(root).join("deadlocks.py");
    let words = vec![
        "-B".to_owned(),
        driver.to_string_lossy().into_owned(),
        "--module-dir".to_owned(),
        module_dir.to_string_lossy().into_owned(),
        format!("--scenario={scenario}"),
        format!("--entries={}", args.entries),
        format!("--delay-ms={}", args.delay_ms),
        format!("--items={}", args.items),
        format!("--first={}", args.first),
    ];
    let limits = Limits {
        timeout: Duration::from_secs(args.patience.max(1)),
        max_output: 1 << 20,
    };
    process::run(&python.exe, &words, root, limits)
        .with_context(|| format!("running deadlocks.py in Python {}", python.version))
}

/// Print what one scenario showed: its lines, or for one that hung, who waits for what.
fn report_scenario(
    outcome: &process::Outcome,
    args: &DeadlocksArgs,
    scenario: &str,
) -> anyhow::Result<()> {
    for line in outcome
        .stdout
        .lines()
        .filter(|l| !l.starts_with("progress:"))
    {
        println!("{line}");
    }
    match outcome.ending {
        Ending::Exited(0) => Ok(()),
        Ending::TimedOut => {
            let said = format!("{}\n{}", outcome.stdout, outcome.stderr);
            kv(&format!("{scenario} finished"), 0);
            kv(
                &format!("{scenario} stopped after"),
                format!("{} s", args.patience),
            );
            let why = explain(scenario, &said, args);
            kv(&format!("who waits for what ({scenario})"), "");
            indented(&why, "  ", "  ");
            Ok(())
        }
        _ => {
            let last = outcome.stderr.lines().rev().find(|l| !l.trim().is_empty());
            anyhow::bail!(
                "the {scenario} scenario failed{}",
                last.map(|l| format!(": {}", l.trim())).unwrap_or_default()
            )
        }
    }
}

/// Who holds what, from the `progress:` lines of a run that hung.
fn explain(scenario: &str, said: &str, args: &DeadlocksArgs) -> String {
    let has = |text: &str| said.contains(text);
    match scenario {
        "lookup" if has("building the table") && has("T2 calls lookup") => format!(
            "Deadlock. T1 holds TABLE's Mutex: it is building the table, and time.sleep, back \
             after {} ms, waits to take the GIL again. T2 holds the GIL: it is inside lookup, \
             native code, waiting for TABLE's Mutex with TABLE.lock(). Neither can go on. \
             Wait for the Mutex detached: TABLE.lock_py_attached(py) (pyo3::sync::MutexExt), \
             or keep the table in a PyOnceLock.",
            args.delay_ms
        ),
        "square_many" if has("main calls square_many") => {
            let waiting = said.matches("a worker attaches").count();
            format!(
                "Deadlock. The main thread holds the GIL: it is inside square_many, native \
                 code, waiting in join for its {} workers. {waiting} of them have done their \
                 Rust work and wait in Python::attach for the GIL. Spawn and join inside \
                 py.detach(|| ...).",
                args.items
            )
        }
        _ => format!(
            "The {scenario} scenario did not finish within {} s.",
            args.patience
        ),
    }
}
