//! The exercise: build one learner's module and measure whether it lets go of the GIL.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash as _, Hasher as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use gil_core::measure::fmt_duration;
use gil_core::report::kv;

use super::ExerciseArgs;
use super::extension::{build_extension, place_module, run_driver, template_dir, work_dir};
use crate::python::Python;

/// Build `args.source` as an extension module, run the driver's exercise mode on it, and return
/// what the driver printed.
pub(super) fn run_exercise(
    python: &Python,
    root: &Path,
    args: &ExerciseArgs,
    timeout: Duration,
) -> anyhow::Result<String> {
    anyhow::ensure!(
        args.threads > 0 && args.iterations > 0 && args.repeats > 0,
        "--threads, --iterations and --repeats must be at least 1"
    );
    let module_dir = build_learner_module(python, root, &args.source, &args.module)?;
    run_driver(
        python,
        root,
        &module_dir,
        &[
            "exercise".into(),
            format!("--module={}", args.module),
            format!("--function={}", args.function),
            format!("--threads={}", args.threads),
            format!("--iterations={}", args.iterations),
            format!("--repeats={}", args.repeats),
        ],
        timeout,
    )
}

/// Build the learner's `source` as the extension module `module` and put it where Python will
/// import it; returns that directory. Says which file it built and how long the build took.
pub(super) fn build_learner_module(
    python: &Python,
    root: &Path,
    source: &Path,
    module: &str,
) -> anyhow::Result<PathBuf> {
    // A relative path is taken from the current directory, else from the workspace root.
    let path = if source.is_relative() && !source.exists() {
        root.join(source)
    } else {
        source.to_path_buf()
    };
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let crate_dir = exercise_crate(root, &path, &text)?;
    let shown = path
        .strip_prefix(root)
        .unwrap_or(&path)
        .display()
        .to_string();
    let (library, took) = build_extension(python, root, &crate_dir, Some(&shown))?;
    let module_dir = crate_dir.join("py");
    place_module(python, &library, &module_dir, module)?;
    kv("source", source.display());
    kv("build", fmt_duration(took));
    Ok(module_dir)
}

/// A copy of the extension crate whose `src/lib.rs` is the text `source` read from `path`,
/// under `target/real-gil/exercise/<hash of path>/`.
///
/// Each source file gets its own package and library name, so a learner's build and the
/// solution's never overwrite each other's library, while sharing the compiled PyO3; edits to
/// one file rebuild the same package incrementally. Files are rewritten only when they change,
/// so an unchanged source rebuilds in no time.
pub(super) fn exercise_crate(root: &Path, path: &Path, source: &str) -> anyhow::Result<PathBuf> {
    let mut hasher = DefaultHasher::new();
    std::fs::canonicalize(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .hash(&mut hasher);
    let tag = format!("{:016x}", hasher.finish());
    let template = template_dir(root);
    let manifest = std::fs::read_to_string(template.join("Cargo.toml"))
        .context("reading crates/real-gil/Cargo.toml")?;
    let dir = work_dir(root).join("exercise").join(&tag);
    write_if_changed(
        &dir.join("Cargo.toml"),
        &exercise_manifest(&manifest, &tag)?,
    )?;
    if let Ok(lock) = std::fs::read_to_string(template.join("Cargo.lock")) {
        // Same dependency versions as the tested crate (cargo renames the root entry itself).
        if !dir.join("Cargo.lock").exists() {
            write_if_changed(&dir.join("Cargo.lock"), &lock)?;
        }
    }
    write_if_changed(&dir.join("src").join("lib.rs"), source)?;
    Ok(dir)
}

/// The template manifest with the package and library renamed after `tag`.
pub(super) fn exercise_manifest(template: &str, tag: &str) -> anyhow::Result<String> {
    let mut table: toml::Table = template.parse().context("parsing Cargo.toml")?;
    let set = |table: &mut toml::Table, section: &str, value: String| -> anyhow::Result<()> {
        let section = table
            .get_mut(section)
            .and_then(toml::Value::as_table_mut)
            .with_context(|| format!("Cargo.toml has no [{section}]"))?;
        section.insert("name".into(), toml::Value::String(value));
        Ok(())
    };
    set(&mut table, "package", format!("real-gil-exercise-{tag}"))?;
    set(&mut table, "lib", format!("real_gil_exercise_{tag}"))?;
    Ok(toml::to_string(&table)?)
}

pub(super) fn write_if_changed(path: &Path, contents: &str) -> anyhow::Result<()> {
    if std::fs::read_to_string(path).is_ok_and(|old| old == contents) {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(path, contents).with_context(|| format!("writing {}", path.display()))
}
