//! `cargo xtask book`: build the lessons and the book builder (`xtask/book`, its own package,
//! so xtask never compiles the markdown renderer), then run it: the course as HTML in
//! `target/book/`, and with `--check` every page loaded in headless Chromium.

use std::path::Path;
use std::process::{Command, ExitCode};

use anyhow::{Context as _, bail};

/// Flags of `cargo xtask book`.
#[derive(clap::Args)]
pub struct BookArgs {
    /// Also load every page in headless Chromium: console errors, broken links and empty
    /// figures fail; screenshots go to target/book/shots/
    #[arg(long)]
    pub check: bool,
}

/// Build what the book needs, then build the book.
pub fn run(root: &Path, args: &BookArgs) -> anyhow::Result<ExitCode> {
    build_tools(root)?;
    render(root, args)
}

/// `cargo build` of the book builder and the lessons it runs.
pub fn build_tools(root: &Path) -> anyhow::Result<()> {
    let mut build = vec!["build", "--release", "--quiet", "-p", "course-book"];
    let lessons = lesson_packages(root)?;
    for lesson in &lessons {
        build.extend(["-p", lesson.as_str()]);
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(&cargo)
        .args(&build)
        .current_dir(root)
        .status()
        .context("could not start cargo build")?;
    if !status.success() {
        bail!("cargo {} failed ({status})", build.join(" "));
    }
    Ok(())
}

/// Run the book builder [`build_tools`] built: the book, and with `--check` Chromium on it.
pub fn render(root: &Path, args: &BookArgs) -> anyhow::Result<ExitCode> {
    let target = crate::grader::project::cargo_target_dir(root);
    let mut book = Command::new(target.join("release").join("course-book"));
    book.arg("--root").arg(root);
    if args.check {
        book.arg("--check");
    }
    let status = book.status().context("could not start course-book")?;
    Ok(if status.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Every lesson package: a directory under `crates/` with a `src/main.rs`.
fn lesson_packages(root: &Path) -> anyhow::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(root.join("crates"))? {
        let dir = entry?.path();
        if dir.join("src/main.rs").is_file()
            && let Some(name) = dir.file_name().and_then(|n| n.to_str())
        {
            names.push(name.to_owned());
        }
    }
    names.sort();
    Ok(names)
}
