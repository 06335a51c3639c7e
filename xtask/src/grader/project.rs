//! Where things are: the workspace root, the manifest, the learner's and the solution's files,
//! the grader's own directory, plus building the two packages.
//!
//! The grader builds with the release profile in the workspace's target directory, the same
//! build of the dependency tree that the lessons (`cargo run --release -p …`) and `cargo xtask`
//! itself use, so nothing is compiled twice. Cargo keeps one build lock per profile directory:
//! an editor's checks (rust-analyzer runs `cargo check`, the dev profile, in `target/debug`) and
//! the grader's release builds never wait for each other, and neither can spoil the other's
//! artifacts. Two graders at once (say `watch` and `check`) do share the release lock, which
//! cargo honours; the grader then copies each program it built to `target/grader/programs`.
//!
//! Architecture invariant: the grader never writes below `exercises/` (only `cargo xtask reset`
//! does).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};

use super::manifest::{Exercise, Manifest};

/// The manifest's place, relative to the root.
pub const MANIFEST: &str = "exercises/exercises.toml";

/// Whose file: the learner's or the reference solution's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// `exercises/`: what the learner edits.
    Exercise,
    /// `solutions/`: the reference.
    Solution,
}

impl Side {
    /// The package (and directory) name.
    pub fn package(self) -> &'static str {
        match self {
            Side::Exercise => "exercises",
            Side::Solution => "solutions",
        }
    }

    /// The binary that holds exercise `name` on this side. Solutions carry a `-solution`
    /// suffix so that a whole-workspace build never writes two programs to one path.
    pub fn bin(self, name: &str) -> String {
        match self {
            Side::Exercise => name.to_owned(),
            Side::Solution => format!("{name}-solution"),
        }
    }
}

/// A loaded course.
pub struct Project {
    /// The workspace root.
    pub root: PathBuf,
    /// The exercises.
    pub manifest: Manifest,
    /// The workspace's cargo target directory, shared with the lessons and `cargo xtask`.
    pub cargo_target: PathBuf,
    /// `target/grader`: the grader's copies of the programs and the learner's progress.
    pub target: PathBuf,
}

/// The result of building some binaries.
pub enum Build {
    /// Built and copied to [`Project::program`].
    Built,
    /// The compiler said no; its output.
    Failed(String),
}

impl Project {
    /// Load the course at `root`.
    pub fn open(root: &Path) -> anyhow::Result<Project> {
        let path = root.join(MANIFEST);
        if !path.exists() {
            bail!("no exercises yet: {MANIFEST} does not exist");
        }
        let manifest = Manifest::load(&path, MANIFEST)?;
        let cargo_target = cargo_target_dir(root);
        Ok(Project {
            root: root.to_owned(),
            manifest,
            target: cargo_target.join("grader"),
            cargo_target,
        })
    }

    /// `path` relative to the root, for messages.
    pub fn shown(&self, path: &Path) -> String {
        path.strip_prefix(&self.root)
            .unwrap_or(path)
            .display()
            .to_string()
    }

    /// `path` as the course handed it out: its text in git's `HEAD` (`None` without git, or
    /// for a file git does not have).
    pub fn handed_out(&self, path: &Path) -> Option<Vec<u8>> {
        let output = std::process::Command::new("git")
            .arg("-C")
            .arg(&self.root)
            .arg("show")
            .arg(format!("HEAD:./{}", self.shown(path)))
            .stderr(std::process::Stdio::null())
            .output()
            .ok()?;
        output.status.success().then_some(output.stdout)
    }

    /// The source file of `exercise` on `side`: `src/bin/NAME.rs`, `src/bin/NAME/main.rs`, or
    /// for an exercise with its own `run` command, any file called NAME.* in the package; for a
    /// Python exercise, `python/NAME.*` (`.py`, or `.c` for an extension module).
    pub fn source(&self, exercise: &Exercise, side: Side) -> anyhow::Result<PathBuf> {
        let package = self.root.join(side.package());
        let bin = package.join("src/bin");
        let candidates = [
            bin.join(format!("{}.rs", exercise.name)),
            bin.join(&exercise.name).join("main.rs"),
        ];
        if let Some(found) = candidates.iter().find(|p| p.is_file()) {
            return Ok(found.clone());
        }
        if exercise.python.is_some()
            && let Some(found) = find_stem(&package.join("python"), &exercise.name)
        {
            return Ok(found);
        }
        if exercise.run.is_some()
            && let Some(found) = find_stem(&package, &exercise.name)
        {
            return Ok(found);
        }
        bail!(
            "{} is missing (the manifest lists `{}`)",
            self.shown(&candidates[0]),
            exercise.name
        )
    }

    /// Where the grader keeps its copy of the built binary.
    ///
    /// Each program is copied away right after its build, so a later build of the same
    /// package (say, by `watch`) never replaces a binary that a check is running.
    pub fn program(&self, exercise: &Exercise, side: Side) -> PathBuf {
        self.target
            .join("programs")
            .join(side.package())
            .join(&exercise.name)
    }

    /// Build `exercises` (all of them when empty) of `side`, release profile, shared target dir.
    pub fn build(
        &self,
        side: Side,
        exercises: &[&Exercise],
        colour: bool,
    ) -> anyhow::Result<Build> {
        // Two graders at once (`watch` and `check`) must not interleave a build of one package
        // with the copy of the other's `release/NAME`: hold a lock from build to copy.
        let _lock = self.lock()?;
        let mut cargo = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        cargo
            .args(["build", "--release", "--quiet", "--manifest-path"])
            .arg(self.root.join("Cargo.toml"))
            .args(["--package", side.package()])
            .args(["--color", if colour { "always" } else { "never" }])
            .env("CARGO_TARGET_DIR", &self.cargo_target)
            .current_dir(&self.root);
        if exercises.is_empty() {
            cargo.arg("--bins");
        }
        for exercise in exercises {
            cargo.args(["--bin", &side.bin(&exercise.name)]);
        }
        let output = cargo.output().context("cannot run cargo")?;
        if !output.status.success() {
            let text = String::from_utf8_lossy(&output.stderr);
            return Ok(Build::Failed(text.trim_end().to_owned()));
        }
        let built: Vec<&Exercise> = if exercises.is_empty() {
            self.manifest
                .exercises
                .iter()
                .filter(|e| e.launch().is_built())
                .collect()
        } else {
            exercises.to_vec()
        };
        for exercise in built {
            let from = self.built(&side.bin(&exercise.name));
            self.keep(&from, &self.program(exercise, side))?;
        }
        Ok(Build::Built)
    }

    /// Where cargo leaves the release binary `bin`.
    pub fn built(&self, bin: &str) -> PathBuf {
        self.cargo_target.join("release").join(bin)
    }

    /// Copy the program cargo built at `from` to `to`, the grader's own copy.
    pub fn keep(&self, from: &Path, to: &Path) -> anyhow::Result<()> {
        {
            let parent = to.parent().context("program path has no parent")?;
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
            // Copy beside, then rename: a copy that is running elsewhere is never half written.
            let partial = to.with_extension("partial");
            std::fs::copy(from, &partial)
                .with_context(|| format!("cannot copy {}", from.display()))?;
            std::fs::rename(&partial, to)
                .with_context(|| format!("cannot rename {}", partial.display()))?;
        }
        Ok(())
    }
}

impl Project {
    /// An exclusive lock on `target/grader/build.lock`, released when the file is dropped.
    pub fn lock(&self) -> anyhow::Result<std::fs::File> {
        use std::os::fd::AsRawFd as _;
        std::fs::create_dir_all(&self.target)
            .with_context(|| format!("cannot create {}", self.target.display()))?;
        let path = self.target.join("build.lock");
        let file = std::fs::File::create(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        // SAFETY: flock on a descriptor this function owns; it is released when `file` closes.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
            bail!("cannot lock {}", path.display());
        }
        Ok(file)
    }
}

/// The workspace's target directory: `$CARGO_TARGET_DIR`, or `ROOT/target`.
pub fn cargo_target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}

/// The first file below `dir` (skipping `target`) whose stem is `stem`.
fn find_stem(dir: &Path, stem: &str) -> Option<PathBuf> {
    let mut entries: Vec<_> = std::fs::read_dir(dir).ok()?.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in &entries {
        let path = entry.path();
        if path.is_file() && path.file_stem().is_some_and(|s| s == stem) {
            return Some(path);
        }
    }
    entries
        .iter()
        .filter(|e| e.path().is_dir() && e.file_name() != "target")
        .find_map(|e| find_stem(&e.path(), stem))
}

/// Is `tool` an executable on `PATH`?
pub fn on_path(tool: &str) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            std::fs::metadata(dir.join(tool))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}
