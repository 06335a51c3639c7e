//! Keeping the course honest while a program is graded: what the grader saw of the course's own
//! files and of the learner's progress before a program ran, and whether the program changed
//! them; and, before the grader blames the course for a failing solution, whether the course's
//! files still are as checked out.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::progress::file_hash;
use super::project::Project;

/// The course's files a program being graded must leave alone (directories are watched whole).
/// The learner's own files in `exercises/src` are not among them: the learner may save one while
/// a check runs (`watch`), and that is no fault of the program.
const WATCHED: [&str; 3] = [
    "solutions",
    "exercises/exercises.toml",
    "exercises/Cargo.toml",
];

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

/// Hash `path`, or every file below it, into `files` (a missing path adds nothing).
fn hash_tree(path: &Path, files: &mut BTreeMap<PathBuf, u64>) {
    if path.is_file() {
        files.insert(path.to_owned(), file_hash(path));
        return;
    }
    let Ok(entries) = std::fs::read_dir(path) else {
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

/// How to put `changed` files back: `git checkout` for the course's (all of `solutions/`, which
/// learners do not edit; single files elsewhere); the progress file was put back already.
pub fn how_to_restore(changed: &[String]) -> String {
    let mut paths: Vec<&str> = changed
        .iter()
        .filter_map(|path| {
            if path.starts_with("solutions/") {
                Some("solutions/")
            } else {
                WATCHED.into_iter().find(|watched| path == watched)
            }
        })
        .collect();
    paths.dedup();
    if paths.is_empty() {
        return "your progress file was put back as it was".into();
    }
    format!(
        "restore the course's files with `git checkout {}` (your progress file was put back)",
        paths.join(" ")
    )
}

impl Project {
    /// An error that blames the course for `problem`, unless the course's own files changed
    /// since checkout, which is then named as the likely cause with the command that undoes it,
    /// or the exercise needs `tools` from this machine, which may be what failed.
    pub fn blame(&self, problem: &str, tools: &[String]) -> anyhow::Error {
        let changed = self.changed_since_checkout();
        if changed.is_empty() && !tools.is_empty() {
            return anyhow::anyhow!(
                "{problem} — the solution needs {} from this machine: if that works, it is a bug in the course",
                tools.join(", ")
            );
        }
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

#[cfg(test)]
mod tests {
    use super::how_to_restore;

    #[test]
    fn the_advice_never_checks_out_the_learners_own_files() {
        let changed = [
            "exercises/exercises.toml".to_owned(),
            "solutions/src/bin/a.rs".to_owned(),
            "solutions/src/bin/b.rs".to_owned(),
            "target/grader/progress.json".to_owned(),
        ];
        assert_eq!(
            how_to_restore(&changed),
            "restore the course's files with `git checkout exercises/exercises.toml solutions/` \
             (your progress file was put back)"
        );
        let progress_only = ["target/grader/progress.json".to_owned()];
        assert_eq!(
            how_to_restore(&progress_only),
            "your progress file was put back as it was"
        );
    }
}
