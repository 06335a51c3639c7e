//! `course-book`: the course as a static HTML book in `target/book/`, run by `cargo xtask book`.
//!
//! Each lesson is one chapter: its crate documentation (`src/lib.rs`), then one page per part
//! with the part's module documentation — the same markdown the terminal prints and
//! `cargo doc` renders, read from the source files, never copied — and the figures its
//! `--simulated --svg` run drew. The run's terminal output follows each part, folded away.
//! Everything comes from `--simulated` runs with fixed flags, so two builds are byte-identical.
//!
//! The sources are mdBook's (`book.toml`, `src/SUMMARY.md`, one `.md` per page, the SVG files
//! beside them), so `mdbook build target/book` renders them too. This program renders them
//! itself with pulldown-cmark (the CommonMark parser mdBook uses): mdBook as a library would
//! add about 200 crates to the workspace build and CI on 2 cores for a sidebar and a theme.
//!
//! `--check` then opens every page and every figure in headless Chromium ([`browser`]) and
//! fails on console errors, broken links or images, and figures that draw nothing; it saves a
//! screenshot of each page in `target/book/shots/`.

mod browser;
mod html;
mod lessons;
mod sources;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context as _, bail};

/// What the command line asked for.
struct Args {
    root: PathBuf,
    check: bool,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut root = None;
    let mut check = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--check" => check = true,
            "--root" => root = Some(PathBuf::from(args.next().context("--root needs a path")?)),
            "-h" | "--help" => {
                println!(
                    "course-book [--root WORKSPACE] [--check]: build target/book (and check it \
                     in headless Chromium)"
                );
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} (try --help)"),
        }
    }
    let root = match root {
        Some(root) => root,
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .canonicalize()?,
    };
    Ok(Args { root, check })
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<ExitCode> {
    let args = parse_args()?;
    let started = Instant::now();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| args.root.join("target"));
    let out = target.join("book");
    // A build starts from nothing, so nothing of an earlier one (pages, screenshots) lingers.
    std::fs::remove_dir_all(&out).ok();
    let lessons = lessons::find(&args.root)?;
    let runs = lessons::run_all(&lessons, &target.join("release"), &out.join("figures-tmp"))?;
    let book = sources::write(&out, &lessons, &runs)?;
    std::fs::remove_dir_all(out.join("figures-tmp")).ok();
    html::render(&out, &book)?;
    let figures: usize = runs.iter().map(|r| r.figures.len()).sum();
    println!(
        "book: {} lessons, {} pages, {figures} figures in {} ({:.1} s)",
        lessons.len(),
        book.pages.len(),
        out.join("index.html").display(),
        started.elapsed().as_secs_f64()
    );
    if !args.check {
        return Ok(ExitCode::SUCCESS);
    }
    match browser::check(&out, &book)? {
        browser::Verdict::Skipped(why) => {
            println!("book check skipped: {why}");
            Ok(ExitCode::SUCCESS)
        }
        browser::Verdict::Checked {
            pages,
            figures,
            problems,
        } => {
            for problem in &problems {
                println!("  ✗ {problem}");
            }
            println!(
                "book check: {pages} pages and {figures} figures in Chromium, {} problems; \
                 screenshots in {}",
                problems.len(),
                out.join("shots").display()
            );
            Ok(if problems.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}
