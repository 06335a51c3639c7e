//! The book's mdBook sources: `book.toml`, `src/SUMMARY.md`, a page per lesson and per part,
//! and the figures beside the pages that show them.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context as _;

use crate::lessons::{BOOK_CORES, Lesson, Run};

/// The book: its pages in reading order.
pub struct Book {
    pub title: String,
    pub pages: Vec<Page>,
}

/// One page: where it lives under `src/` (`lesson-2/part-1.md`), its title, its markdown.
pub struct Page {
    pub path: String,
    pub title: String,
    /// 0 for the introduction, 1 for a lesson, 2 for a part.
    pub level: u8,
    pub markdown: String,
}

const TITLE: &str = "gil-lessons: CPython's GIL, modelled and measured";

/// Write the sources under `out` (`out/book.toml`, `out/src/…`), replacing earlier ones.
pub fn write(out: &Path, lessons: &[Lesson], runs: &[Run]) -> anyhow::Result<Book> {
    let src = out.join("src");
    std::fs::remove_dir_all(&src).ok();
    std::fs::create_dir_all(&src)?;
    let mut pages = vec![Page {
        path: "index.md".to_owned(),
        title: "Introduction".to_owned(),
        level: 0,
        markdown: introduction(lessons),
    }];
    for (lesson, run) in lessons.iter().zip(runs) {
        let dir = format!("lesson-{}", lesson.number);
        std::fs::create_dir_all(src.join(&dir))?;
        let mut md = format!(
            "# {}\n\n{}\n\n## The parts\n\n",
            lesson.title,
            rustdoc(&lesson.docs)
        );
        for part in &run.parts {
            let _ = writeln!(
                md,
                "{}. [{}](part-{}.md)",
                part.number, part.title, part.number
            );
        }
        pages.push(Page {
            path: format!("{dir}/index.md"),
            title: lesson.title.clone(),
            level: 1,
            markdown: md,
        });
        for part in &run.parts {
            let docs = lesson
                .parts
                .iter()
                .find(|(n, _)| *n == part.number)
                .map(|(_, d)| rustdoc(d))
                .unwrap_or_default();
            let mut md = format!("# Part {}: {}\n\n{docs}\n", part.number, part.title);
            for (_, file) in run.figures.iter().filter(|(n, _)| *n == part.number) {
                let name = file
                    .file_name()
                    .and_then(|n| n.to_str())
                    .context("figure name")?
                    .to_owned();
                let svg = std::fs::read_to_string(file)?;
                std::fs::write(src.join(&dir).join(&name), &svg)?;
                let _ = write!(
                    md,
                    "\n<figure>\n<img src=\"{name}\" alt=\"{}\">\n</figure>\n",
                    attr(&svg_title(&svg))
                );
            }
            if !part.output.is_empty() {
                let _ = write!(
                    md,
                    "\n<details>\n<summary>What the terminal shows (<code>cargo run --release \
                     -p {} -- --simulated --cores {BOOK_CORES} --part {}</code>)</summary>\n\n\
                     ````text\n{}\n````\n\n</details>\n",
                    lesson.name, part.number, part.output
                );
            }
            pages.push(Page {
                path: format!("{dir}/part-{}.md", part.number),
                title: format!("Part {}: {}", part.number, part.title),
                level: 2,
                markdown: md,
            });
        }
    }
    for page in &pages {
        std::fs::write(src.join(&page.path), &page.markdown)?;
    }
    std::fs::write(src.join("SUMMARY.md"), summary(&pages))?;
    std::fs::write(
        out.join("book.toml"),
        format!(
            "[book]\ntitle = \"{TITLE}\"\nlanguage = \"en\"\nsrc = \"src\"\n\n\
             [build]\n# `mdbook build target/book` renders these sources too, into mdbook/.\n\
             build-dir = \"mdbook\"\ncreate-missing = false\n\n[output.html]\n"
        ),
    )?;
    Ok(Book {
        title: TITLE.to_owned(),
        pages,
    })
}

fn introduction(lessons: &[Lesson]) -> String {
    let mut md = format!(
        "# {TITLE}\n\n\
         This book is the course's lessons as text and pictures. Each lesson has a page of its \
         own and a page per part; each part's figures were drawn by the lesson itself, from a \
         run on the course's simulator of an idle {BOOK_CORES}-core machine \
         (`--simulated --cores {BOOK_CORES}`), so they are the same on every machine and in \
         every build of this book.\n\n\
         To see your own machine's figures, run a lesson: \
         `cargo run --release -p cpu-bound`. Add `--svg DIR` to draw that run's figures, and \
         `--trace FILE` to write its GIL timelines as a trace that \
         [Perfetto](https://ui.perfetto.dev) or `chrome://tracing` opens, next to a trace of \
         your own Python program.\n\n## The lessons\n\n"
    );
    for lesson in lessons {
        let _ = writeln!(
            md,
            "- [{}](lesson-{}/index.md)",
            lesson.title, lesson.number
        );
    }
    md
}

fn summary(pages: &[Page]) -> String {
    let mut md = String::from("# Summary\n\n");
    for page in pages {
        match page.level {
            0 => {
                let _ = writeln!(md, "[{}]({})\n", page.title, page.path);
            }
            level => {
                let indent = "    ".repeat(usize::from(level) - 1);
                let _ = writeln!(md, "{indent}- [{}]({})", page.title, page.path);
            }
        }
    }
    md
}

/// Rustdoc markdown as plain CommonMark: intra-doc links (`` [`Gil`] ``,
/// `[text](crate::path)`) and links to repository files become their text; `<!-- deep -->`
/// blocks fold into a "deeper" section.
pub fn rustdoc(md: &str) -> String {
    let md = md
        .replace(
            "<!-- deep -->",
            "<details class=\"deep\">\n<summary>Deeper: how CPython does it</summary>\n",
        )
        .replace("<!-- /deep -->", "\n</details>");
    strip_local_links(&md)
}

/// Replace `[text](dest)` whose `dest` is not a web address by `text`, and `[text]` with no
/// destination (an intra-doc link) by `text`. Code spans and fenced blocks are left alone.
fn strip_local_links(md: &str) -> String {
    let mut out = String::with_capacity(md.len());
    let mut in_fence = false;
    for line in md.split_inclusive('\n') {
        if line.trim_start().starts_with("```") || line.trim_start().starts_with("~~~") {
            in_fence = !in_fence;
        }
        if in_fence {
            out.push_str(line);
            continue;
        }
        out.push_str(&strip_line(line));
    }
    out
}

fn strip_line(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '`' {
            // Copy a code span whole.
            let end = chars[i + 1..]
                .iter()
                .position(|&c| c == '`')
                .map_or(chars.len(), |p| i + 1 + p + 1);
            out.extend(&chars[i..end]);
            i = end;
            continue;
        }
        if chars[i] == '[' {
            if let Some((text, after)) = bracketed(&chars, i) {
                match chars.get(after) {
                    Some('(') => {
                        if let Some(close) = chars[after..].iter().position(|&c| c == ')') {
                            let dest: String = chars[after + 1..after + close].iter().collect();
                            if dest.starts_with("http://")
                                || dest.starts_with("https://")
                                || dest.starts_with('#')
                            {
                                out.extend(&chars[i..after + close + 1]);
                            } else {
                                out.push_str(&text);
                            }
                            i = after + close + 1;
                            continue;
                        }
                    }
                    Some('[') | Some(':') => {}
                    _ if !text.is_empty() && !text.starts_with(' ') => {
                        out.push_str(&text);
                        i = after;
                        continue;
                    }
                    _ => {}
                }
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// The text inside `[…]` starting at `open`, and the index after `]` (nested brackets count).
fn bracketed(chars: &[char], open: usize) -> Option<(String, usize)> {
    let mut depth = 0;
    for (k, &c) in chars.iter().enumerate().skip(open) {
        match c {
            '[' => depth += 1,
            ']' => {
                depth -= 1;
                if depth == 0 {
                    return Some((chars[open + 1..k].iter().collect(), k + 1));
                }
            }
            _ => {}
        }
    }
    None
}

/// The `<title>` of an SVG document.
fn svg_title(svg: &str) -> String {
    svg.split_once("<title>")
        .and_then(|(_, rest)| rest.split_once("</title>"))
        .map(|(t, _)| {
            t.replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&amp;", "&")
        })
        .unwrap_or_else(|| "figure".to_owned())
}

/// Text safe in an HTML attribute.
pub fn attr(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intra_doc_and_local_links_become_text() {
        assert_eq!(
            strip_local_links("See [`Gil`] and [the sim](crate::sim), [web](https://x.org).\n"),
            "See `Gil` and the sim, [web](https://x.org).\n"
        );
        assert_eq!(strip_local_links("`[x]` stays\n"), "`[x]` stays\n");
        assert_eq!(
            strip_local_links("```\n[a](b)\n```\n"),
            "```\n[a](b)\n```\n"
        );
    }

    #[test]
    fn deep_blocks_fold() {
        let md = rustdoc("a\n<!-- deep -->\nb\n<!-- /deep -->\n");
        assert!(md.contains("<details class=\"deep\">"));
        assert!(md.contains("</details>"));
    }
}
