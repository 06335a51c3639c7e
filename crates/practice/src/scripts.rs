//! The Python programs the lesson ships, written to a directory of their own and run on the
//! learner's interpreter through [`gil_core::python`] (a timeout and an output cap on every run).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use gil_core::python::{self, Python};
use serde::de::DeserializeOwned;

/// Every file the lesson writes: (name, text).
const FILES: [(&str, &str); 6] = [
    ("cpu_or_wait.py", include_str!("../py/cpu_or_wait.py")),
    ("release.py", include_str!("../py/release.py")),
    ("cost.py", include_str!("../py/cost.py")),
    ("loop_gap.py", include_str!("../py/loop_gap.py")),
    ("free_threaded.py", include_str!("../py/free_threaded.py")),
    ("gilmod.c", include_str!("../py/gilmod.c")),
];

/// The release probe of part 2, as the learner can paste it: the function of `release.py`.
pub fn release_probe() -> &'static str {
    let text = FILES[1].1;
    let start = text.find("def heartbeat_share").unwrap_or(0);
    let end = text[start..]
        .find("\n\n\n")
        .map_or(text.len(), |end| start + end);
    &text[start..end]
}

/// The scripts, written out once, and the interpreter that runs them.
pub struct Scripts {
    dir: tempfile::TempDir,
}

impl Scripts {
    /// Write every script to a fresh directory.
    pub fn write() -> anyhow::Result<Scripts> {
        let dir = tempfile::Builder::new()
            .prefix("gil-lessons-practice-")
            .tempdir()
            .context("cannot make a directory for the lesson's Python scripts")?;
        for (name, text) in FILES {
            std::fs::write(dir.path().join(name), text)
                .with_context(|| format!("cannot write {name}"))?;
        }
        Ok(Scripts { dir })
    }

    /// Where the scripts are.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A path in the scripts' directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Run `python script args…` and read the JSON line it ends with.
    pub fn run<T: DeserializeOwned>(
        &self,
        python: &Python,
        script: &str,
        args: &[&str],
        timeout: Duration,
    ) -> anyhow::Result<T> {
        let mut words = vec![self.path(script).to_string_lossy().into_owned()];
        words.extend(args.iter().map(|a| (*a).to_owned()));
        let stdout = python
            .run(&words, self.dir(), timeout)
            .with_context(|| format!("running {script}"))?;
        let object =
            python::last_json_line(&stdout).with_context(|| format!("reading {script}"))?;
        serde_json::from_value(object.into()).with_context(|| format!("reading {script}"))
    }
}
