//! `cargo xtask ci`: the whole test suite, in the order that fails fastest.

use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::Instant;

use anyhow::{Context as _, bail};

use crate::grader;

/// Formatting, clippy, tests, the model checker, benchmarks build, the book in Chromium, then
/// the grader's `verify`; each step's time, and a table of them at the end.
///
/// Every cargo step uses the release profile, as the lessons, `cargo xtask` and the grader do:
/// clippy's check of the dependencies then shares build scripts and proc-macros with the
/// release build instead of compiling them a second time for the dev profile.
pub fn ci(root: &Path) -> anyhow::Result<ExitCode> {
    let mut steps = Steps::default();
    steps.cargo(root, &["fmt", "--all", "--check"])?;
    steps.cargo(
        root,
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--release",
            "--",
            "-D",
            "warnings",
        ],
    )?;
    steps.cargo(root, &["test", "--workspace", "--release"])?;
    steps.step("cargo xtask model-check", || {
        if crate::model_check::run()? != ExitCode::SUCCESS {
            bail!("cargo xtask model-check found an unexpected verdict");
        }
        Ok(())
    })?;
    steps.cargo(root, &["bench", "--workspace", "--no-run"])?;
    steps.step("cargo xtask book --check", || {
        wait_for_browser_install(root);
        if crate::book::run(root, &crate::book::BookArgs { check: true })? != ExitCode::SUCCESS {
            bail!("cargo xtask book --check failed");
        }
        Ok(())
    })?;
    if !root.join(grader::project::MANIFEST).exists() {
        eprintln!(
            "note: no {} yet, so there is nothing to verify",
            grader::project::MANIFEST
        );
        steps.print();
        return Ok(ExitCode::SUCCESS);
    }
    let mut code = ExitCode::SUCCESS;
    steps.step("cargo xtask verify", || {
        crate::process::kill_children_on_interrupt();
        code = grader::verify(root, &grader::VerifyArgs::default())?;
        Ok(())
    })?;
    steps.print();
    Ok(code)
}

/// The steps run so far and how long each took.
#[derive(Default)]
struct Steps(Vec<(String, f64)>);

impl Steps {
    /// Run `body` as the step `name`: say so first, time it.
    fn step(
        &mut self,
        name: &str,
        body: impl FnOnce() -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        eprintln!("$ {name}");
        let started = Instant::now();
        let done = body();
        let seconds = started.elapsed().as_secs_f64();
        eprintln!("({name}: {seconds:.0} s)");
        self.0.push((name.to_owned(), seconds));
        done
    }

    fn cargo(&mut self, root: &Path, args: &[&str]) -> anyhow::Result<()> {
        self.step(&format!("cargo {}", args.join(" ")), || cargo(root, args))
    }

    /// The table of step times, on stderr.
    fn print(&self) {
        let width = self.0.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
        eprintln!("\nci steps:");
        for (name, seconds) in &self.0 {
            eprintln!("  {name:width$}  {seconds:>5.0} s");
        }
        let total: f64 = self.0.iter().map(|(_, s)| s).sum();
        eprintln!("  {:width$}  {total:>5.0} s", "total");
    }
}

/// `.ci/run` installs Chromium in the background while the build runs, holding an exclusive
/// lock on `target/ci-browser.lock` until it is done: wait for that before the book's check
/// looks for the browser. Without the file (no install under way) this returns at once.
fn wait_for_browser_install(root: &Path) {
    use std::os::fd::AsRawFd as _;
    let path = grader::project::cargo_target_dir(root).join("ci-browser.lock");
    let Ok(file) = std::fs::File::open(&path) else {
        return;
    };
    let fd = file.as_raw_fd();
    // SAFETY: flock on a descriptor this function owns; released when `file` closes.
    if unsafe { libc::flock(fd, libc::LOCK_SH | libc::LOCK_NB) } != 0 {
        eprintln!("waiting for the browser install that .ci/run started…");
        // SAFETY: as above.
        unsafe { libc::flock(fd, libc::LOCK_SH) };
    }
}

fn cargo(root: &Path, args: &[&str]) -> anyhow::Result<()> {
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
