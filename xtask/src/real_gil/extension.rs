//! Building the extension crate for a Python, placing the module where it imports, and
//! running the driver.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, bail};
use gil_core::measure;

use crate::grader::grade::COMPILE_ERROR_HEAD;
use crate::python::Python;

/// `target/real-gil` (or `$CARGO_TARGET_DIR/real-gil`) under the workspace `root`: everything
/// this task writes.
pub(super) fn work_dir(root: &Path) -> PathBuf {
    // An absolute CARGO_TARGET_DIR replaces `root` in the join.
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| root.join("target"), |dir| root.join(dir));
    target.join("real-gil")
}

/// The extension crate and its Python driver.
pub(super) fn template_dir(root: &Path) -> PathBuf {
    root.join("crates").join("real-gil")
}

/// `cargo build --release` of the extension crate at `crate_dir`, for `python`; returns the
/// shared library cargo produced and how long the build took.
///
/// All extension builds share one target directory, so PyO3 is compiled once; the crate is
/// outside the course workspace, so this never touches the workspace's own build.
///
/// With `learner_file` (a learner's module), cargo's messages are caught: if the file does not
/// compile, the error is `compile error in FILE:` and the messages in order, with `src/lib.rs`
/// named as the learner's file (the grader reads it); otherwise they are passed on.
pub(super) fn build_extension(
    python: &Python,
    root: &Path,
    crate_dir: &Path,
    learner_file: Option<&str>,
) -> anyhow::Result<(PathBuf, Duration)> {
    let target_dir = work_dir(root).join("cargo");
    let manifest = crate_dir.join("Cargo.toml");
    let lib_name = lib_name(&std::fs::read_to_string(&manifest).context("reading Cargo.toml")?)?;
    let library = target_dir.join("release").join(format!(
        "{}{lib_name}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ));
    // A learner's module built before from this very text for this Python is not built again
    // (verify runs one file many times; even a cargo that finds nothing to do takes a second).
    let stamp_file = crate_dir.join("built-from");
    let stamp = format!(
        "{}\n{}\n{:x}",
        python.exe.display(),
        python.version,
        text_hash(&[&manifest, &crate_dir.join("src").join("lib.rs")])
    );
    if learner_file.is_some()
        && library.is_file()
        && std::fs::read_to_string(&stamp_file).is_ok_and(|s| s == stamp)
    {
        return Ok((library, Duration::ZERO));
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!(
        "real-gil: building {} for Python {} (PyO3 itself is compiled once, in 15-60 s)",
        crate_dir.display(),
        python.version
    );
    let colour = if learner_file.is_some() {
        "never"
    } else {
        "auto"
    };
    let (output, took) = measure::time(|| {
        Command::new(cargo)
            .args(["build", "--release", "--quiet", "--color", colour])
            .arg("--manifest-path")
            .arg(&manifest)
            .arg("--target-dir")
            .arg(&target_dir)
            // Which interpreter PyO3's build script reads its configuration from.
            .env("PYO3_PYTHON", &python.exe)
            // An extension module must not link libpython: the interpreter loading it provides
            // the symbols (maturin sets this too).
            .env("PYO3_BUILD_EXTENSION_MODULE", "1")
            .stdout(Stdio::null())
            .stderr(if learner_file.is_some() {
                Stdio::piped()
            } else {
                Stdio::inherit()
            })
            .output()
    });
    let output = output.context("could not start cargo")?;
    let messages = String::from_utf8_lossy(&output.stderr);
    if let Some(file) = learner_file {
        let own_path = crate_dir.join("src").join("lib.rs");
        let messages = messages
            .replace(&own_path.display().to_string(), file)
            .replace("src/lib.rs", file);
        if !output.status.success() {
            bail!("{COMPILE_ERROR_HEAD}{file}:\n{}", messages.trim_end());
        }
        eprint!("{messages}");
    }
    if !output.status.success() {
        bail!(
            "the extension in {} did not build (cargo's messages are above)",
            crate_dir.display()
        );
    }
    anyhow::ensure!(library.is_file(), "cargo built no {}", library.display());
    if learner_file.is_some() {
        // Only a cache: failing to write it costs a rebuild next time, nothing more.
        let _ = std::fs::write(&stamp_file, &stamp);
    }
    Ok((library, took))
}

/// FNV-1a over the bytes of `files` (a missing file counts as empty).
fn text_hash(files: &[&Path]) -> u64 {
    files
        .iter()
        .flat_map(|f| std::fs::read(f).unwrap_or_default())
        .fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        })
}

/// The `[lib] name` of a crate manifest.
pub(super) fn lib_name(manifest: &str) -> anyhow::Result<String> {
    let table: toml::Table = manifest.parse().context("parsing Cargo.toml")?;
    table
        .get("lib")
        .and_then(|lib| lib.get("name"))
        .and_then(toml::Value::as_str)
        .map(str::to_owned)
        .context("Cargo.toml has no [lib] name")
}

/// Copy `library` into `dir` as `<module><EXT_SUFFIX>`, the name CPython's import looks for
/// (it then calls the library's `PyInit_<module>`). Writes a temporary file and renames it, so
/// a Python process that still has the old module mapped is not disturbed.
pub(super) fn place_module(
    python: &Python,
    library: &Path,
    dir: &Path,
    module: &str,
) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let target = dir.join(format!("{module}{}", python.ext_suffix));
    let partial = dir.join(format!(".{module}.partial"));
    std::fs::copy(library, &partial).with_context(|| format!("copying {}", library.display()))?;
    std::fs::rename(&partial, &target).with_context(|| format!("placing {}", target.display()))?;
    Ok(target)
}

/// Run `driver.py --module-dir MODULE_DIR ARGS` within `timeout`, print what it printed, and
/// return it.
pub(super) fn run_driver(
    python: &Python,
    root: &Path,
    module_dir: &Path,
    args: &[String],
    timeout: Duration,
) -> anyhow::Result<String> {
    let driver = template_dir(root).join("driver.py");
    let mut command = vec![
        "-B".to_owned(), // no __pycache__ next to the driver
        driver.to_string_lossy().into_owned(),
        "--module-dir".to_owned(),
        module_dir.to_string_lossy().into_owned(),
    ];
    command.extend_from_slice(args);
    eprintln!(
        "real-gil: running driver.py {} in Python {} (at most {} s)",
        args.first().map_or("", String::as_str),
        python.version,
        timeout.as_secs()
    );
    let output = python
        .run(&command, root, timeout)
        .context("the Python driver failed")?;
    print!("{output}");
    Ok(output)
}
