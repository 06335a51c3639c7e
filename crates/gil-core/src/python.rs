//! The one way the course finds and runs Python: `cargo xtask fidelity`, `real-gil`, the
//! grader's Python exercises and lesson 6 (`practice`).
//!
//! A Python the user named (`--python PATH`, `$PYO3_PYTHON`) must work: if it does not exist or
//! does not run, that is an error, said in one line. Only the default, `python3` looked up on
//! `PATH`, may be missing: the course never needs Python, so the task then says it was skipped
//! and succeeds. Every run has a timeout and an output cap (a hanging or flooding Python cannot
//! hang xtask), and a failed run is described as what happened: not found, exited with status N
//! and its last message, killed by a signal, out of time, or too much output.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde::Deserialize;

use crate::process::{self, Ending, Limits};

/// Which Python to use.
#[derive(Clone, Debug)]
pub enum Choice {
    /// One the user named, and how they named it (`--python`, `PYO3_PYTHON`): it must work.
    Named {
        /// The flag or variable it came from, for messages.
        how: &'static str,
        /// The program, a path or a name looked up on `PATH`.
        program: OsString,
    },
    /// The default, looked up on `PATH`: if it is not there, the task is skipped.
    OnPath(&'static str),
}

impl Choice {
    /// `--python` if given, else `python3` on `PATH`.
    pub fn flag(python: Option<&Path>) -> Choice {
        match python {
            Some(program) => Choice::Named {
                how: "--python",
                program: program.as_os_str().to_owned(),
            },
            None => Choice::OnPath(DEFAULT),
        }
    }

    /// `$GIL_LESSONS_PYTHON` if set (the grader's Python exercises), else `python3` on `PATH`.
    pub fn learners() -> Choice {
        match std::env::var_os(LEARNERS) {
            Some(program) => Choice::Named {
                how: LEARNERS,
                program,
            },
            None => Choice::OnPath(DEFAULT),
        }
    }

    /// `$PYO3_PYTHON` if set (PyO3's own variable), else `python3` on `PATH`.
    pub fn pyo3_python() -> Choice {
        match std::env::var_os("PYO3_PYTHON") {
            Some(program) => Choice::Named {
                how: "PYO3_PYTHON",
                program,
            },
            None => Choice::OnPath(DEFAULT),
        }
    }

    fn program(&self) -> PathBuf {
        match self {
            Choice::Named { program, .. } => PathBuf::from(program),
            Choice::OnPath(name) => PathBuf::from(name),
        }
    }

    /// How to name it in a message: `--python /opt/py` or `python3`.
    fn shown(&self) -> String {
        match self {
            Choice::Named {
                how: "--python",
                program,
            } => {
                format!("--python {}", program.to_string_lossy())
            }
            Choice::Named { how, program } => format!("{how}={}", program.to_string_lossy()),
            Choice::OnPath(name) => (*name).to_owned(),
        }
    }
}

/// The Python looked up when none is named.
pub const DEFAULT: &str = "python3";

/// The variable that names the Python the grader runs Python exercises on.
pub const LEARNERS: &str = "GIL_LESSONS_PYTHON";

/// Free-threaded interpreters looked up on `PATH`, newest first.
pub const FREE_THREADED: [&str; 2] = ["python3.14t", "python3.13t"];

/// A free-threaded Python: `first` if it is one, else the first of [`FREE_THREADED`] on `PATH`
/// that is (`None`: none found).
pub fn find_free_threaded(first: Option<&Python>) -> anyhow::Result<Option<Python>> {
    if let Some(python) = first.filter(|p| p.free_threaded) {
        return Ok(Some(python.clone()));
    }
    for name in FREE_THREADED {
        if let Some(python) = find(&Choice::OnPath(name))?.filter(|p| p.free_threaded) {
            return Ok(Some(python));
        }
    }
    Ok(None)
}

/// The oldest Python the scripts are written for.
const OLDEST: (u32, u32) = (3, 8);

/// How long asking a Python about itself may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(30);

/// Output kept from one run; more than this is a flood and stops the run.
const MAX_OUTPUT: usize = 1 << 20;

/// Asks the interpreter about itself; one JSON line. Runs on any Python 3.
const PROBE: &str = "import json, sys, sysconfig\n\
    print(json.dumps({'executable': sys.executable, 'version': sys.version.split()[0],\n\
    'ext_suffix': sysconfig.get_config_var('EXT_SUFFIX') or '',\n\
    'free_threaded': sysconfig.get_config_var('Py_GIL_DISABLED') == 1,\n\
    'include': sysconfig.get_paths().get('include') or ''}))";

/// A Python that answered the probe.
#[derive(Clone, Debug, Deserialize)]
pub struct Python {
    /// `sys.executable`: the real binary, not a pyenv shim, so every later run (and a build
    /// for it) uses the same interpreter.
    #[serde(rename = "executable")]
    pub exe: PathBuf,
    /// `3.11.7`.
    pub version: String,
    /// `sysconfig.get_config_var("EXT_SUFFIX")`, e.g. `.cpython-311-x86_64-linux-gnu.so`: the
    /// ending an extension module's file name must have for this interpreter to import it
    /// (empty if it has no build configuration).
    pub ext_suffix: String,
    /// A free-threaded build (`sysconfig.get_config_var("Py_GIL_DISABLED")`, PEP 703), whether
    /// or not its GIL is switched back on at run time.
    #[serde(default)]
    pub free_threaded: bool,
    /// `sysconfig.get_paths()["include"]`: where `Python.h` is, for a C extension built for it
    /// (empty if unknown).
    #[serde(default)]
    pub include: String,
    /// How the user chose it, for messages.
    #[serde(skip)]
    pub shown: String,
}

/// Find the Python `choice` names and ask it about itself. `Ok(None)` only when the default
/// `python3` is not on `PATH` (the caller says "skipped"); a named Python that does not exist
/// or does not run, or a default one that is there but broken, is an error.
pub fn find(choice: &Choice) -> anyhow::Result<Option<Python>> {
    let program = choice.program();
    let shown = choice.shown();
    let args = ["-c".to_owned(), PROBE.to_owned()];
    let limits = Limits {
        timeout: PROBE_TIMEOUT,
        max_output: MAX_OUTPUT,
    };
    let outcome = match process::run(&program, &args, Path::new("."), limits) {
        Ok(outcome) => outcome,
        Err(error) if is_not_found(&error) => match choice {
            Choice::OnPath(_) => return Ok(None),
            Choice::Named { .. } => bail!("{shown}: no such program"),
        },
        Err(error) => bail!("{shown} could not be started: {}", root_cause(&error)),
    };
    let stdout = finished(&outcome, PROBE_TIMEOUT)
        .with_context(|| format!("{shown} does not work as Python (asked for its version)"))?;
    let mut python: Python = last_json_line(&stdout)
        .and_then(|object| Ok(serde_json::from_value(object.into())?))
        .with_context(|| format!("{shown} does not answer like Python 3"))?;
    python.shown = shown;
    if python.major_minor().is_some_and(|v| v < OLDEST) {
        bail!(
            "{} is Python {}; the scripts need {}.{} or later",
            python.shown,
            python.version,
            OLDEST.0,
            OLDEST.1
        );
    }
    Ok(Some(python))
}

impl Python {
    /// `(major, minor)` of the version, e.g. `(3, 11)`.
    pub fn major_minor(&self) -> Option<(u32, u32)> {
        major_minor(&self.version)
    }

    /// Run `python ARGS` in `dir` within `timeout`; its stdout, or an error saying what went
    /// wrong (the caller adds what it was running).
    pub fn run(&self, args: &[String], dir: &Path, timeout: Duration) -> anyhow::Result<String> {
        let limits = Limits {
            timeout,
            max_output: MAX_OUTPUT,
        };
        let outcome = process::run(&self.exe, args, dir, limits)
            .with_context(|| format!("Python {} ({})", self.version, self.exe.display()))?;
        finished(&outcome, timeout).with_context(|| format!("Python {}", self.version))
    }
}

/// `(major, minor)` of a version such as `3.13.0t`.
pub fn major_minor(version: &str) -> Option<(u32, u32)> {
    let mut parts = version.split('.').map(|part| {
        part.chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .ok()
    });
    Some((parts.next()??, parts.next()??))
}

/// The stdout of a run that exited with status 0; otherwise what happened, as an error such
/// as "exited with status 1: ModuleNotFoundError: …".
fn finished(outcome: &process::Outcome, timeout: Duration) -> anyhow::Result<String> {
    let said = outcome
        .stderr
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .map(|line| format!(": {}", line.trim()))
        .unwrap_or_default();
    match outcome.ending {
        Ending::Exited(0) => Ok(outcome.stdout.clone()),
        Ending::Exited(code) => bail!("exited with status {code}{said}"),
        Ending::Signalled(signal) => bail!("was killed by signal {signal}{said}"),
        Ending::TimedOut => bail!("did not finish within {} s", timeout.as_secs()),
        Ending::Flooded => bail!(
            "printed more than {} MiB of output, so it was stopped",
            MAX_OUTPUT >> 20
        ),
    }
}

/// The last non-empty line of `stdout`, which must be a JSON object.
pub fn last_json_line(stdout: &str) -> anyhow::Result<serde_json::Map<String, serde_json::Value>> {
    let line = stdout
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .context("it printed nothing")?;
    serde_json::from_str(line).context("its last line is not a JSON object")
}

fn is_not_found(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::NotFound)
    })
}

fn root_cause(error: &anyhow::Error) -> String {
    error.root_cause().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(program: &str) -> Choice {
        Choice::Named {
            how: "--python",
            program: program.into(),
        }
    }

    fn error(choice: &Choice) -> String {
        format!("{:#}", find(choice).expect_err("must fail"))
    }

    #[test]
    fn a_missing_default_is_skipped() {
        assert!(
            find(&Choice::OnPath("no-such-python-for-gil-lessons"))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn a_named_python_that_does_not_exist_is_an_error() {
        let message = error(&named("/nonexistent/python3"));
        assert_eq!(message, "--python /nonexistent/python3: no such program");
        let message = error(&Choice::Named {
            how: "PYO3_PYTHON",
            program: "no-such-python-for-gil-lessons".into(),
        });
        assert!(message.starts_with("PYO3_PYTHON=no-such"), "{message}");
    }

    #[test]
    fn a_named_program_that_is_not_python_says_what_it_did() {
        let message = error(&named("/bin/false"));
        assert_eq!(
            message,
            "--python /bin/false does not work as Python (asked for its version): \
             exited with status 1"
        );
        let message = error(&named("/bin/true"));
        assert!(message.contains("it printed nothing"), "{message}");
    }

    #[test]
    fn versions_split_into_major_and_minor() {
        assert_eq!(major_minor("3.11.7"), Some((3, 11)));
        assert_eq!(major_minor("3.13.0t"), Some((3, 13)));
        assert_eq!(major_minor("2.7.18"), Some((2, 7)));
        assert_eq!(major_minor("x"), None);
    }

    #[test]
    fn failures_are_described_as_what_happened() {
        let outcome = |ending, stderr: &str| process::Outcome {
            ending,
            stdout: "{}".into(),
            stderr: stderr.into(),
        };
        let said = |ending, stderr| {
            let error = finished(&outcome(ending, stderr), Duration::from_secs(9)).unwrap_err();
            format!("{error:#}")
        };
        assert_eq!(
            said(Ending::Exited(2), "Traceback\nSyntaxError: bad\n\n"),
            "exited with status 2: SyntaxError: bad"
        );
        assert_eq!(said(Ending::Signalled(9), ""), "was killed by signal 9");
        assert_eq!(said(Ending::TimedOut, ""), "did not finish within 9 s");
        assert!(said(Ending::Flooded, "").starts_with("printed more than 1 MiB"));
        assert!(finished(&outcome(Ending::Exited(0), ""), Duration::ZERO).is_ok());
    }

    #[test]
    fn a_hanging_run_is_stopped_at_its_timeout() {
        let hanging = Python {
            exe: "sleep".into(),
            version: "3.11.0".into(),
            ext_suffix: String::new(),
            free_threaded: false,
            include: String::new(),
            shown: "sleep".into(),
        };
        let clock = std::time::Instant::now();
        let error = hanging
            .run(&["30".into()], Path::new("."), Duration::from_secs(1))
            .unwrap_err();
        assert_eq!(
            format!("{error:#}"),
            "Python 3.11.0: did not finish within 1 s"
        );
        assert!(clock.elapsed() < Duration::from_secs(10));
    }

    /// The machine's python3, when it has one, answers the probe.
    #[test]
    fn the_default_python_answers_the_probe() {
        match find(&Choice::OnPath(DEFAULT)) {
            Ok(Some(python)) => {
                assert!(python.exe.is_absolute(), "{python:?}");
                assert!(python.major_minor().is_some_and(|v| v >= OLDEST));
            }
            Ok(None) => println!("skipped: no python3 on PATH"),
            Err(error) => panic!("{error:#}"),
        }
    }
}
