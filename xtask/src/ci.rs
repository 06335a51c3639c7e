//! `cargo xtask ci`: the whole test suite, in the order that fails fastest.

use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::Instant;

use anyhow::{Context as _, bail};

use crate::grader;

/// Formatting, clippy, tests (benchmarks run once each) with the book checked in Chromium beside
/// them, the model checker, then the grader's `verify`; each step's time, and a table of them.
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
    // The benchmarks too: criterion runs each one once as a test (a bench that panics fails
    // here), built beside the tests instead of in a `cargo bench --no-run` step of its own.
    // Naming the targets leaves out the doc tests, so they get a step of their own.
    let tests = ["--lib", "--bins", "--tests", "--benches"];
    let test = [&["test", "--workspace", "--release"][..], &tests, &NO_TESTS].concat();
    steps.cargo(root, &[&test[..], &["--no-run"]].concat())?;
    steps.step(
        "cargo xtask book: build the lessons and the book builder",
        || crate::book::build_tools(root),
    )?;
    // The book's Chromium check runs beside the tests: they are built, and they assert what
    // holds on a busy machine too (CI passes beside a busy loop). Compiling is not shared:
    // beside verify's builds the check only made both slower.
    let (tested, book) = std::thread::scope(|scope| {
        let book = scope.spawn(|| {
            let started = Instant::now();
            (book_check(root), started.elapsed().as_secs_f64())
        });
        let tested = steps.cargo(root, &test);
        let book = book
            .join()
            .unwrap_or_else(|_| (Err(anyhow::anyhow!("the book check panicked")), 0.0));
        (tested, book)
    });
    steps.beside(&format!("{BOOK} (beside the tests)"), book.1);
    tested?;
    book.0?;
    let doc = [
        &["test", "--workspace", "--release", "--doc"][..],
        &NO_TESTS,
    ]
    .concat();
    steps.cargo(root, &doc)?;
    steps.step("cargo xtask model-check", || {
        if crate::model_check::run()? != ExitCode::SUCCESS {
            bail!("cargo xtask model-check found an unexpected verdict");
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

/// The step that renders the book and loads every page in Chromium.
const BOOK: &str = "cargo xtask book --check";

/// The book rendered and checked in Chromium (built by `book::build_tools`), once any browser
/// install `.ci/run` started is done.
fn book_check(root: &Path) -> anyhow::Result<()> {
    wait_for_browser_install(&grader::project::cargo_target_dir(root).join(BROWSER_LOCK));
    let check = crate::book::BookArgs { check: true };
    if crate::book::render(root, &check)? != ExitCode::SUCCESS {
        bail!("{BOOK} failed");
    }
    Ok(())
}

/// The packages that hold no tests (a test here would say so): the exercises and the
/// solutions, one binary each. Left out of `cargo test`, which would build each
/// binary again as an empty test harness; clippy checks them, and `verify` builds and runs them.
const NO_TESTS: [&str; 4] = ["--exclude", "exercises", "--exclude", "solutions"];

/// The steps run so far: name, seconds, and whether it ran beside another step (its time is
/// then not added to the total).
#[derive(Default)]
struct Steps(Vec<(String, f64, bool)>);

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
        self.0.push((name.to_owned(), seconds, false));
        done
    }

    /// A step timed on another thread, beside the steps around it.
    fn beside(&mut self, name: &str, seconds: f64) {
        self.0.push((name.to_owned(), seconds, true));
    }

    fn cargo(&mut self, root: &Path, args: &[&str]) -> anyhow::Result<()> {
        self.step(&format!("cargo {}", args.join(" ")), || cargo(root, args))
    }

    /// The table of step times, on stderr.
    fn print(&self) {
        let width = self
            .0
            .iter()
            .map(|(name, ..)| name.len())
            .max()
            .unwrap_or(0);
        eprintln!("\nci steps:");
        for (name, seconds, _) in &self.0 {
            eprintln!("  {name:width$}  {seconds:>5.0} s");
        }
        let total: f64 = self.0.iter().filter(|s| !s.2).map(|s| s.1).sum();
        eprintln!("  {:width$}  {total:>5.0} s", "total");
    }
}

/// `.ci/run` installs Chromium in the background while the build runs, holding an exclusive
/// lock on this file in the target directory until it is done.
const BROWSER_LOCK: &str = "ci-browser.lock";

/// Wait until nobody holds the lock `path` (the browser install, before the book's check looks
/// for the browser). Without the file (no install under way) this returns at once.
fn wait_for_browser_install(path: &Path) {
    use std::os::fd::AsRawFd as _;
    let Ok(file) = std::fs::File::open(path) else {
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

#[cfg(test)]
mod tests {
    use std::os::fd::AsRawFd as _;
    use std::time::{Duration, Instant};

    #[test]
    fn the_book_check_waits_for_the_browser_install() {
        let dir = tempfile::tempdir().unwrap();
        let lock = dir.path().join(super::BROWSER_LOCK);
        // No install under way: no wait.
        super::wait_for_browser_install(&lock);
        let held = std::fs::File::create(&lock).unwrap();
        // SAFETY: flock on a descriptor the test owns.
        assert_eq!(unsafe { libc::flock(held.as_raw_fd(), libc::LOCK_EX) }, 0);
        let started = Instant::now();
        let installer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            drop(held);
        });
        super::wait_for_browser_install(&lock);
        assert!(started.elapsed() >= Duration::from_millis(250));
        installer.join().unwrap();
        // Done (the file stays): no wait.
        let started = Instant::now();
        super::wait_for_browser_install(&lock);
        assert!(started.elapsed() < Duration::from_millis(250));
    }

    /// `cargo xtask ci` leaves `exercises` and `solutions` out of `cargo test` ([`NO_TESTS`]):
    /// a test or a library (with doc-tests) there would never run.
    #[test]
    fn the_packages_left_out_of_cargo_test_hold_no_tests() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("xtask lives in the workspace root");
        let mut found = Vec::new();
        for package in ["exercises", "solutions"] {
            let src = root.join(package).join("src");
            assert!(
                !src.join("lib.rs").exists(),
                "{package}/src/lib.rs: take {package} out of super::NO_TESTS"
            );
            let mut dirs = vec![src];
            while let Some(dir) = dirs.pop() {
                for entry in std::fs::read_dir(&dir).unwrap().flatten() {
                    let path = entry.path();
                    if path.is_dir() {
                        dirs.push(path);
                    } else if std::fs::read_to_string(&path)
                        .is_ok_and(|text| text.contains("#[test]") || text.contains("#[cfg(test)]"))
                    {
                        found.push(path.display().to_string());
                    }
                }
            }
        }
        assert!(
            found.is_empty(),
            "tests in {found:?}: take their package out of super::NO_TESTS"
        );
    }
}
