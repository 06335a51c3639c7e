//! The lessons as the book sees them: their documentation, read from the sources, and one
//! `--simulated --svg` run of each.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail, ensure};

/// Cores the book's simulated runs assume: fixed, so the book is the same on every machine.
pub const BOOK_CORES: &str = "4";

/// One lesson crate: `crates/NAME` with a `src/main.rs` and a `# Lesson N…` heading in its docs.
pub struct Lesson {
    pub number: u32,
    /// Package and binary name, e.g. `cpu-bound`.
    pub name: String,
    /// The heading of its crate docs, e.g. `Lesson 2: CPU-bound threads under the GIL`.
    pub title: String,
    /// Its crate docs below the heading (markdown).
    pub docs: String,
    /// Each part's module docs, by part number.
    pub parts: Vec<(u32, String)>,
}

/// What one lesson's simulated run printed and drew.
pub struct Run {
    /// Each part's heading and its terminal output, by part number.
    pub parts: Vec<PartRun>,
    /// `(part, file)` of every figure, sorted by file name.
    pub figures: Vec<(u32, PathBuf)>,
}

pub struct PartRun {
    pub number: u32,
    pub title: String,
    pub output: String,
}

/// Every lesson under `root/crates`, in lesson order.
pub fn find(root: &Path) -> anyhow::Result<Vec<Lesson>> {
    let mut lessons = Vec::new();
    for entry in std::fs::read_dir(root.join("crates"))? {
        let dir = entry?.path();
        let src = dir.join("src");
        if !src.join("main.rs").is_file() || !src.join("lib.rs").is_file() {
            continue;
        }
        let lib = read(&src.join("lib.rs"))?;
        let docs = module_docs(&src.join("lib.rs"), &lib)?;
        let Some((number, title, body)) = lesson_heading(&docs) else {
            continue;
        };
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .context("a crate directory name is not UTF-8")?
            .to_owned();
        let parts = part_docs(&src)?;
        lessons.push(Lesson {
            number,
            name,
            title,
            docs: body,
            parts,
        });
    }
    lessons.sort_by_key(|l| l.number);
    ensure!(
        !lessons.is_empty(),
        "no lesson crates under {}",
        root.join("crates").display()
    );
    Ok(lessons)
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// `# Lesson N: title` (or `—`) as the first heading: the number, the title and the rest.
fn lesson_heading(docs: &str) -> Option<(u32, String, String)> {
    let mut lines = docs.lines();
    let first = lines.by_ref().find(|l| !l.trim().is_empty())?;
    let title = first.strip_prefix("# ")?.trim();
    let rest = title.strip_prefix("Lesson ")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let number = digits.parse().ok()?;
    let body: Vec<&str> = lines.collect();
    Some((number, title.to_owned(), body.join("\n")))
}

/// The module docs of a source file: its leading `//!` lines, with each
/// `#![doc = include_str!("X.md")]` replaced by that file, as rustdoc reads them.
fn module_docs(path: &Path, source: &str) -> anyhow::Result<String> {
    let mut out = String::new();
    for line in source.lines() {
        let line = line.trim_start();
        if let Some(doc) = line.strip_prefix("//!") {
            out.push_str(doc.strip_prefix(' ').unwrap_or(doc));
            out.push('\n');
        } else if let Some(rest) = line.strip_prefix("#![doc = include_str!(\"") {
            let file = rest.split('"').next().unwrap_or_default();
            let included = path.parent().unwrap_or(Path::new(".")).join(file);
            out.push('\n');
            out.push_str(&read(&included)?);
            out.push('\n');
        } else if line.is_empty() || line.starts_with("#![") {
            continue;
        } else {
            break;
        }
    }
    Ok(out)
}

/// `src/partN_*.rs` and `src/partN_*/mod.rs`: each part's module docs.
fn part_docs(src: &Path) -> anyhow::Result<Vec<(u32, String)>> {
    let mut parts = Vec::new();
    for entry in std::fs::read_dir(src)? {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(number) = name
            .strip_prefix("part")
            .map(|r| {
                r.chars()
                    .take_while(char::is_ascii_digit)
                    .collect::<String>()
            })
            .and_then(|d| d.parse::<u32>().ok())
        else {
            continue;
        };
        let file = if path.is_dir() {
            path.join("mod.rs")
        } else if name.ends_with(".rs") {
            path.clone()
        } else {
            continue;
        };
        if file.is_file() {
            parts.push((number, module_docs(&file, &read(&file)?)?));
        }
    }
    parts.sort_by_key(|p| p.0);
    Ok(parts)
}

/// Run every lesson once, `--simulated --svg`, side by side; figures go to `figures/NAME/`.
pub fn run_all(lessons: &[Lesson], bin_dir: &Path, figures: &Path) -> anyhow::Result<Vec<Run>> {
    std::fs::remove_dir_all(figures).ok();
    std::thread::scope(|scope| {
        let handles: Vec<_> = lessons
            .iter()
            .map(|lesson| {
                let dir = figures.join(&lesson.name);
                scope.spawn(move || run_one(lesson, bin_dir, &dir))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

fn run_one(lesson: &Lesson, bin_dir: &Path, figures: &Path) -> anyhow::Result<Run> {
    let bin = bin_dir.join(&lesson.name);
    ensure!(
        bin.is_file(),
        "{} is not built (cargo xtask book builds it; or cargo build --release -p {})",
        bin.display(),
        lesson.name
    );
    let out = Command::new(&bin)
        .args(["--simulated", "--cores", BOOK_CORES, "--svg"])
        .arg(figures)
        .env("NO_COLOR", "1")
        .output()
        .with_context(|| format!("cannot run {}", bin.display()))?;
    if !out.status.success() {
        bail!(
            "{} --simulated failed ({}): {}",
            lesson.name,
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let stdout = String::from_utf8(out.stdout).context("lesson output is not UTF-8")?;
    let mut files: Vec<(u32, PathBuf)> = Vec::new();
    if figures.is_dir() {
        for entry in std::fs::read_dir(figures)? {
            let path = entry?.path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            let part = name
                .strip_prefix("part")
                .and_then(|r| r.split('-').next())
                .and_then(|d| d.parse().ok());
            if let Some(part) = part
                && name.ends_with(".svg")
            {
                files.push((part, path));
            }
        }
    }
    files.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(Run {
        parts: split_parts(&stdout),
        figures: files,
    })
}

/// Cut a lesson's terminal output at its headings (a line underlined with `=`) and keep the
/// sections of the parts (`Part N: title`), without the runner's closing lines.
fn split_parts(output: &str) -> Vec<PartRun> {
    let lines: Vec<&str> = output.lines().collect();
    let is_heading = |i: usize| {
        lines.get(i + 1).is_some_and(|u| {
            !u.is_empty()
                && u.chars().all(|c| c == '=')
                && u.chars().count() == lines[i].chars().count()
        })
    };
    let headings: Vec<usize> = (0..lines.len()).filter(|&i| is_heading(i)).collect();
    let mut parts = Vec::new();
    for (k, &at) in headings.iter().enumerate() {
        let Some(rest) = lines[at].strip_prefix("Part ") else {
            continue;
        };
        let Some((number, title)) = rest.split_once(": ") else {
            continue;
        };
        let Ok(number) = number.parse() else {
            continue;
        };
        let end = headings.get(k + 1).copied().unwrap_or(lines.len());
        let mut body: Vec<&str> = lines[at + 2..end].to_vec();
        // The runner's own closing lines ("All 13 results … held.") are not indented.
        while body
            .last()
            .is_some_and(|l| l.trim().is_empty() || !l.starts_with(' '))
        {
            body.pop();
        }
        while body.first().is_some_and(|l| l.trim().is_empty()) {
            body.remove(0);
        }
        parts.push(PartRun {
            number,
            title: title.to_owned(),
            output: body.join("\n"),
        });
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_cut_at_their_headings() {
        let out = "Lesson 9: x\n##########\n\nPart 1: one\n===========\n  a\n\nPart 2: two\n\
                   ===========\n  b\n\nAll 2 results held.\n\nNow try\n=======\n  c\n";
        let parts = split_parts(out);
        assert_eq!(parts.len(), 2);
        assert_eq!((parts[0].number, parts[0].title.as_str()), (1, "one"));
        assert_eq!(parts[0].output, "  a");
        assert_eq!(parts[1].output, "  b");
    }

    #[test]
    fn module_docs_follow_include_str() {
        let dir = std::env::temp_dir().join(format!("course-book-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("p.md"), "Included.").unwrap();
        let src = "//! Part 1 — x.\n//!\n#![doc = include_str!(\"p.md\")]\n\nuse y;\n//! no\n";
        let docs = module_docs(&dir.join("p.rs"), src).unwrap();
        std::fs::remove_dir_all(&dir).ok();
        assert_eq!(docs, "Part 1 — x.\n\n\nIncluded.\n");
    }

    #[test]
    fn lesson_headings_give_number_and_title() {
        let (n, title, rest) = lesson_heading("# Lesson 3 — I/O\n\nText.").unwrap();
        assert_eq!(
            (n, title.as_str(), rest.trim()),
            (3, "Lesson 3 — I/O", "Text.")
        );
        assert!(lesson_heading("# Not a lesson").is_none());
    }
}
