//! The CPython side: `xtask/fidelity/fidelity.py`, run one experiment at a time.
//!
//! Each run of the script prints one JSON object: a header (version, GIL, switch interval) and
//! the figures of the experiments it was asked for (`--only NAME`), with the sizes it used and
//! the timings the model calibrates against.

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use gil_core::Mode;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::python::{self, Python};

/// The script, relative to the workspace root.
pub const SCRIPT: &str = "xtask/fidelity/fidelity.py";

/// What every run of the script prints besides its experiments.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Header {
    /// `3.11.7`.
    pub version: String,
    /// `cpython`, `pypy`, ….
    pub implementation: String,
    /// `sys._is_gil_enabled()` where it exists, else true.
    pub gil_enabled: bool,
    /// `sys.getswitchinterval()` in milliseconds.
    pub switch_interval_ms: f64,
    /// Whether `--quick` sizes were used.
    pub quick: bool,
}

impl Header {
    /// The model's mode for this Python: the GIL, or free-threaded when its GIL is disabled.
    pub fn mode(&self) -> Mode {
        if self.gil_enabled {
            Mode::Gil
        } else {
            Mode::FreeThreaded
        }
    }

    /// CPython's switch interval.
    pub fn interval(&self) -> anyhow::Result<Duration> {
        let interval = Duration::try_from_secs_f64(self.switch_interval_ms / 1e3)
            .context("CPython reports an impossible switch interval")?;
        anyhow::ensure!(
            !interval.is_zero(),
            "CPython reports a zero switch interval"
        );
        Ok(interval)
    }

    /// Whether this Python consults the eval breaker only at back edges and calls (3.10+).
    pub fn has_modern_check_points(&self) -> bool {
        python::major_minor(&self.version).is_none_or(|v| v >= (3, 10))
    }
}

/// Runs the script one experiment at a time and gathers what it printed into one JSON object
/// (the header, then one key per experiment).
pub struct ScriptRunner<'a> {
    root: &'a Path,
    python: &'a Python,
    quick: bool,
    timeout: Duration,
    merged: Map<String, Value>,
}

impl<'a> ScriptRunner<'a> {
    /// Ask the script for its header only.
    pub fn start(
        root: &'a Path,
        python: &'a Python,
        quick: bool,
        timeout: Duration,
    ) -> anyhow::Result<Self> {
        let mut runner = ScriptRunner {
            root,
            python,
            quick,
            timeout,
            merged: Map::new(),
        };
        runner.merged = runner.call("none")?;
        Ok(runner)
    }

    /// The header every run printed.
    pub fn header(&self) -> anyhow::Result<Header> {
        serde_json::from_value(Value::Object(self.merged.clone()))
            .context("the script's header (version, GIL) does not have the expected shape")
    }

    /// Run experiment `name` on CPython and return its figures as printed.
    pub fn part(&mut self, name: &str) -> anyhow::Result<Value> {
        let mut printed = self.call(name)?;
        let figures = printed
            .remove(name)
            .with_context(|| format!("{SCRIPT} printed no {name:?} figures"))?;
        self.merged.insert(name.to_owned(), figures.clone());
        Ok(figures)
    }

    /// Everything gathered: the header and every experiment's figures.
    pub fn into_report(self) -> Map<String, Value> {
        self.merged
    }

    /// `python fidelity.py [--quick] --only ONLY`, parsed.
    fn call(&self, only: &str) -> anyhow::Result<Map<String, Value>> {
        let script = self.root.join(SCRIPT);
        let mut args = vec![
            script.to_string_lossy().into_owned(),
            "--only".into(),
            only.into(),
        ];
        if self.quick {
            args.push("--quick".into());
        }
        let what = || format!("{SCRIPT} --only {only}");
        let stdout = self
            .python
            .run(&args, self.root, self.timeout)
            .with_context(|| format!("running {}", what()))?;
        python::last_json_line(&stdout).with_context(|| format!("reading what {} printed", what()))
    }
}

/// Figures of one experiment in their typed shape.
pub fn figures<T: serde::de::DeserializeOwned>(name: &str, value: Value) -> anyhow::Result<T> {
    serde_json::from_value(value)
        .with_context(|| format!("the script's {name:?} figures do not have the expected shape"))
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn header(version: &str) -> Header {
        Header {
            version: version.into(),
            implementation: "cpython".into(),
            gil_enabled: true,
            switch_interval_ms: 5.0,
            quick: true,
        }
    }

    #[test]
    fn versions_decide_which_check_points_cpython_has() {
        for (version, modern) in [
            ("3.9.18", false),
            ("3.10.0", true),
            ("3.13.0t", true),
            ("2.7.18", false),
        ] {
            assert_eq!(
                header(version).has_modern_check_points(),
                modern,
                "{version}"
            );
        }
    }

    #[test]
    fn a_bad_switch_interval_is_an_error() {
        let mut bad = header("3.11.7");
        for ms in [0.0, -1.0, f64::NAN] {
            bad.switch_interval_ms = ms;
            assert!(bad.interval().is_err(), "{ms}");
        }
    }
}
