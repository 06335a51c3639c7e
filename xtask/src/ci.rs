//! `cargo xtask ci`: the whole test suite, in the order that fails fastest.

use std::path::Path;
use std::process::{Command, ExitCode};

use anyhow::{Context as _, bail};

use crate::grader;

/// Formatting, clippy, tests, the model checker, benchmarks build, the book in Chromium, then
/// the grader's `verify`.
pub fn ci(root: &Path) -> anyhow::Result<ExitCode> {
    cargo(root, &["fmt", "--all", "--check"])?;
    cargo(
        root,
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    )?;
    cargo(root, &["test", "--workspace", "--release"])?;
    eprintln!("$ cargo xtask model-check");
    if crate::model_check::run()? != ExitCode::SUCCESS {
        bail!("cargo xtask model-check found an unexpected verdict");
    }
    cargo(root, &["bench", "--workspace", "--no-run"])?;
    eprintln!("$ cargo xtask book --check");
    if crate::book::run(root, &crate::book::BookArgs { check: true })? != ExitCode::SUCCESS {
        bail!("cargo xtask book --check failed");
    }
    if !root.join(grader::project::MANIFEST).exists() {
        eprintln!(
            "note: no {} yet, so there is nothing to verify",
            grader::project::MANIFEST
        );
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!("$ cargo xtask verify");
    crate::process::kill_children_on_interrupt();
    grader::verify(root, &grader::VerifyArgs::default())
}

fn cargo(root: &Path, args: &[&str]) -> anyhow::Result<()> {
    eprintln!("$ cargo {}", args.join(" "));
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(args)
        .current_dir(root)
        .status()
        .with_context(|| format!("could not start cargo {}", args.join(" ")))?;
    if !status.success() {
        bail!("cargo {} failed ({status})", args.join(" "));
    }
    Ok(())
}
