//! Keeping the course honest while a program is graded: what the grader saw of the course's own
//! files and of the learner's progress before a program ran, and whether the program changed
//! them; and, before the grader blames the course for a failing solution, whether the course's
//! files still are as checked out.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::progress::file_hash;
use super::project::Project;

/// The directories whose files a program being graded must leave alone.
const WATCHED: [&str; 2] = ["exercises", "solutions"];

/// The course's files (path → hash) and the progress file's bytes, as the grader saw them.
pub struct Snapshot {
    files: BTreeMap<PathBuf, u64>,
    progress: Option<Vec<u8>>,
}

impl Snapshot {
    /// Look now.
    pub fn take(project: &Project) -> Snapshot {
        let mut files = BTreeMap::new();
        for dir in WATCHED {
            hash_tree(&project.root.join(dir), &mut files);
        }
        Snapshot {
            files,
            progress: std::fs::read(progress_file(project)).ok(),
        }
    }

    /// The files that differ now (made, changed or deleted), relative to the root, sorted.
    pub fn changes(&self, project: &Project) -> Vec<String> {
        let now = Snapshot::take(project);
        let mut changed: Vec<String> = self
            .files
            .keys()
            .chain(now.files.keys())
            .filter(|path| self.files.get(*path) != now.files.get(*path))
            .map(|path| project.shown(path))
            .collect();
        if self.progress != now.progress {
            changed.push(project.shown(&progress_file(project)));
        }
        changed.sort();
        changed.dedup();
        changed
    }

    /// Put the progress file back as it was (the grader's record, not the program's).
    pub fn restore_progress(&self, project: &Project) {
        let path = progress_file(project);
        let _ = match &self.progress {
            Some(bytes) => std::fs::write(&path, bytes),
            None => std::fs::remove_file(&path),
        };
    }
}

fn progress_file(project: &Project) -> PathBuf {
    project.target.join("progress.json")
}

/// Hash every file below `dir` into `files` (a missing directory adds nothing).
fn hash_tree(dir: &Path, files: &mut BTreeMap<PathBuf, u64>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(kind) if kind.is_dir() => hash_tree(&path, files),
            Ok(_) => {
                files.insert(path.clone(), file_hash(&path));
            }
            Err(_) => {}
        }
    }
}

/// How to put `changed` files back: `git checkout` for the course's, a re-check for progress.
pub fn how_to_restore(changed: &[String]) -> String {
    let mut dirs: Vec<&str> = changed
        .iter()
        .filter_map(|path| {
            WATCHED
                .into_iter()
                .find(|dir| path.starts_with(&format!("{dir}/")))
        })
        .collect();
    dirs.dedup();
    if dirs.is_empty() {
        return "your progress file was put back as it was".into();
    }
    let dirs: Vec<String> = dirs.iter().map(|dir| format!("{dir}/")).collect();
    format!(
        "restore the course's files with `git checkout {}` (your progress file was put back)",
        dirs.join(" ")
    )
}

impl Project {
    /// An error that blames the course for `problem`, unless the course's own files changed
    /// since checkout, which is then named as the likely cause with the command that undoes it.
    pub fn blame(&self, problem: &str) -> anyhow::Error {
        let changed = self.changed_since_checkout();
        if changed.is_empty() {
            return anyhow::anyhow!("{problem} — a bug in the course");
        }
        anyhow::anyhow!(
            "{problem} — but {} changed since checkout: `git checkout {}` restores {}",
            changed.join(", "),
            changed.join(" "),
            if changed.len() == 1 { "it" } else { "them" }
        )
    }

    /// Files of `solutions/` and the manifest that differ from git's HEAD (none when git or
    /// the repository is missing).
    fn changed_since_checkout(&self) -> Vec<String> {
        let output = Command::new("git")
            .arg("-C")
            .arg(&self.root)
            .args([
                "status",
                "--porcelain",
                "--",
                "solutions",
                "exercises/exercises.toml",
            ])
            .output();
        let Some(output) = output.ok().filter(|o| o.status.success()) else {
            return Vec::new();
        };
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| line.get(3..))
            .map(str::to_owned)
            .collect()
    }
}
