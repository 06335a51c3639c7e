//! The learner's progress: the last verdict of each exercise and how many hints were shown,
//! kept in `target/grader/progress.json` (never in `exercises/`). Losing it loses nothing that
//! a re-check cannot recompute, so a missing or damaged file reads as "nothing checked yet".

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::grade::{Kind, Verdict};

/// Where an exercise stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(from = "String", into = "&'static str")]
pub enum Status {
    /// Never checked (or reset); also any status the file should not hold.
    #[default]
    NotChecked,
    /// The last check passed.
    Pass,
    /// The last check failed.
    Fail,
    /// The last check was skipped (a tool is missing): not passed, not failed.
    Skipped,
}

impl Status {
    /// The word the progress file and `list --json` use.
    pub fn name(self) -> &'static str {
        match self {
            Status::NotChecked => "not checked",
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Skipped => "skipped",
        }
    }

    /// Where a verdict of `kind` leaves the exercise.
    pub fn of(kind: Kind) -> Status {
        match kind {
            Kind::Pass => Status::Pass,
            Kind::Skipped => Status::Skipped,
            _ => Status::Fail,
        }
    }
}

impl From<String> for Status {
    fn from(text: String) -> Status {
        [Status::Pass, Status::Fail, Status::Skipped]
            .into_iter()
            .find(|s| s.name() == text)
            .unwrap_or_default()
    }
}

impl From<Status> for &'static str {
    fn from(status: Status) -> &'static str {
        status.name()
    }
}

/// The last verdict of one exercise.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct Entry {
    /// Where it stands.
    #[serde(default)]
    pub status: Status,
    /// The verdict's kind ("wrong result", …).
    #[serde(default)]
    pub verdict: String,
    /// A hash of the file as it was checked, to notice later edits.
    #[serde(default)]
    pub file_hash: u64,
    /// How many hint tiers the learner has seen.
    #[serde(default)]
    pub hints_seen: usize,
}

/// Every exercise's entry, by name.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct Progress {
    /// Entries by exercise name.
    #[serde(default)]
    pub exercises: BTreeMap<String, Entry>,
    #[serde(skip)]
    path: PathBuf,
}

impl Progress {
    /// Read the progress kept in `target` (the grader's target dir).
    pub fn load(target: &Path) -> Progress {
        let path = target.join("progress.json");
        let mut progress: Progress = std::fs::read(&path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        progress.path = path;
        progress
    }

    /// Write it back (atomically, so two graders never leave half a file).
    pub fn save(&self) -> anyhow::Result<()> {
        use anyhow::Context as _;
        let dir = self
            .path
            .parent()
            .context("progress file has no directory")?;
        std::fs::create_dir_all(dir)?;
        let partial = self
            .path
            .with_extension(format!("{}.partial", std::process::id()));
        let written = std::fs::write(&partial, serde_json::to_vec_pretty(self)?)
            .with_context(|| format!("cannot write {}", partial.display()))
            .and_then(|()| {
                std::fs::rename(&partial, &self.path)
                    .with_context(|| format!("cannot write {}", self.path.display()))
            });
        if written.is_err() {
            // Leave no half-made file behind.
            let _ = std::fs::remove_file(&partial);
        }
        written
    }

    /// The entry of `name` (empty when never checked).
    pub fn entry(&self, name: &str) -> Entry {
        self.exercises.get(name).cloned().unwrap_or_default()
    }

    /// Remember `verdict` for a file whose content hashes to `file_hash`.
    pub fn record(&mut self, verdict: &Verdict, file_hash: u64) {
        let entry = self.exercises.entry(verdict.exercise.clone()).or_default();
        entry.status = Status::of(verdict.verdict);
        entry.verdict = verdict.verdict.name().to_owned();
        entry.file_hash = file_hash;
    }

    /// Forget the verdict of `name` (after a reset), keeping the hints seen.
    pub fn forget(&mut self, name: &str) {
        if let Some(entry) = self.exercises.get_mut(name) {
            entry.status = Status::NotChecked;
            entry.verdict.clear();
            entry.file_hash = 0;
        }
    }
}

/// FNV-1a of a file's bytes (0 when unreadable): stable across runs and toolchains.
pub fn file_hash(path: &Path) -> u64 {
    std::fs::read(path).map_or(0, |bytes| {
        bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        })
    })
}
