//! One way of printing results: headings, prose, and `label: value` lines.
//!
//! Humans read the aligned lines; the grader parses them (the label is everything before the
//! first `:`, the value everything after it, both trimmed). Labels therefore never contain `:`.

use std::io::IsTerminal;
use std::sync::OnceLock;

/// Column at which values start, so consecutive lines line up.
const LABEL_WIDTH: usize = 30;

fn colour() -> bool {
    static COLOUR: OnceLock<bool> = OnceLock::new();
    *COLOUR
        .get_or_init(|| std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none())
}

/// Format one `label: value` line (without printing it).
pub fn kv_line(label: &str, value: impl std::fmt::Display) -> String {
    debug_assert!(
        !label.contains(':'),
        "labels must not contain ':' ({label})"
    );
    let label = format!("{label}:");
    format!("{label:<LABEL_WIDTH$} {value}")
}

/// Where a lesson's text goes: the terminal, nowhere, or a buffer (tests).
///
/// A lesson run's [`Cx`](crate::context::Cx) holds one, and everything a part shows is written
/// through it; a busy machine's second showing of a part sets it to [`Out::Discard`]. Colour
/// (bold headings, dimmed prose) is only ever written to a terminal.
#[derive(Debug, Default)]
pub enum Out {
    /// This process's standard output.
    #[default]
    Stdout,
    /// Nowhere: the text is dropped.
    Discard,
    /// Kept in memory, one `\n` after each line.
    Buffer(String),
}

impl Out {
    /// An empty buffer.
    pub fn buffer() -> Self {
        Out::Buffer(String::new())
    }

    fn colour(&self) -> bool {
        matches!(self, Out::Stdout) && colour()
    }

    /// Write one line (a `\n` is added).
    pub fn line(&mut self, line: &str) {
        match self {
            Out::Stdout => println!("{line}"),
            Out::Discard => {}
            Out::Buffer(text) => {
                text.push_str(line);
                text.push('\n');
            }
        }
    }

    /// Write an empty line.
    pub fn blank(&mut self) {
        self.line("");
    }

    /// Write one `label: value` line.
    pub fn kv(&mut self, label: &str, value: impl std::fmt::Display) {
        self.line(&kv_line(label, value));
    }

    /// Write a section heading after an empty line, underlined (bold on a terminal).
    pub fn heading(&mut self, title: &str) {
        self.blank();
        if self.colour() {
            self.line(&format!("\x1b[1m{title}\x1b[0m"));
        } else {
            self.line(title);
        }
        self.line(&"=".repeat(title.chars().count()));
    }

    /// Write prose, indented by two spaces (dimmed on a terminal), re-wrapped to [`WIDTH`].
    ///
    /// Lines that already fit are kept as written (so small tables and charts survive); longer
    /// ones are broken at spaces.
    pub fn note(&mut self, text: &str) {
        for line in text.lines() {
            for piece in wrap_line(line, "  ", "  ") {
                if self.colour() && !line.is_empty() {
                    self.line(&format!("  \x1b[2m{}\x1b[0m", &piece[2..]));
                } else {
                    self.line(&piece);
                }
            }
        }
    }

    /// Write `text` wrapped to [`WIDTH`], the first line after `first`, the others after
    /// `rest`.
    pub fn indented(&mut self, text: &str, first: &str, rest: &str) {
        for line in text.lines() {
            for piece in wrap_line(line, first, rest) {
                self.line(&piece);
            }
        }
    }

    /// Write a table (see [`Table::render`]).
    pub fn table(&mut self, table: &Table) {
        self.line(&table.render());
    }

    /// Write a lesson's title block: `Lesson N: title`, then what it shows.
    pub fn lesson_title(&mut self, number: u8, title: &str, shows: &str) {
        let title = format!("Lesson {number}: {title}");
        if self.colour() {
            self.line(&format!("\x1b[1m{title}\x1b[0m"));
        } else {
            self.line(&title);
        }
        self.line(&"#".repeat(title.chars().count().min(WIDTH)));
        self.indented(shows, "", "");
    }

    /// Write a part's heading, `Part N: title`, underlined.
    pub fn part_heading(&mut self, number: usize, title: &str) {
        self.heading(&format!("Part {number}: {title}"));
    }

    /// Write the few lines of Python a part models, framed so they read as code.
    pub fn python(&mut self, code: &str) {
        self.line("  Python:");
        for line in code.trim_matches('\n').lines() {
            let line = format!("  | {line}");
            self.line(line.trim_end());
        }
    }

    /// Write a block that only Rust readers need; Python-only learners can skip it.
    pub fn for_rust_readers(&mut self, text: &str) {
        self.line("  [For Rust readers; skip this if you only know Python]");
        for line in text.lines() {
            for piece in wrap_line(line, "  : ", "  : ") {
                if piece.is_empty() {
                    self.line("  :");
                } else {
                    self.line(&piece);
                }
            }
        }
    }

    /// Write lesson prose written in markdown: what [`markdown_lines`] gives.
    pub fn markdown(&mut self, text: &str, deep: bool) {
        for line in markdown_lines(text, deep) {
            self.line(&line);
        }
    }

    /// Write where the lesson's exercises are and how to check them.
    pub fn now_try(&mut self, exercises: &[&str]) {
        if exercises.is_empty() {
            return;
        }
        self.heading("Now try");
        // The Python track's files (py1_…) are in exercises/python/.
        let (dir, ext) = if exercises.iter().all(|name| name.starts_with("py")) {
            ("exercises/python/", "py")
        } else {
            ("exercises/src/bin/", "rs")
        };
        self.indented(
            &format!(
                "Fill in the TODO of {dir}NAME.{ext}, then check it (hints: `cargo xtask hint \
                 NAME`):"
            ),
            "  ",
            "  ",
        );
        for name in exercises {
            self.line(&format!("    cargo xtask check {name}"));
        }
    }
}

// The printers below write to standard output; parts write through their `Cx` instead
// (these go once every lesson does).

/// Print one `label: value` line.
pub fn kv(label: &str, value: impl std::fmt::Display) {
    Out::Stdout.kv(label, value);
}

/// Print prose (see [`Out::note`]).
pub fn note(text: &str) {
    Out::Stdout.note(text);
}

/// Print wrapped text (see [`Out::indented`]).
pub fn indented(text: &str, first: &str, rest: &str) {
    Out::Stdout.indented(text, first, rest);
}

/// Print a section heading (see [`Out::heading`]).
pub fn heading(title: &str) {
    Out::Stdout.heading(title);
}

/// Print Python (see [`Out::python`]).
pub fn python(code: &str) {
    Out::Stdout.python(code);
}

/// Print a block for Rust readers (see [`Out::for_rust_readers`]).
pub fn for_rust_readers(text: &str) {
    Out::Stdout.for_rust_readers(text);
}

/// Every line a lesson prints fits in this many columns.
pub const WIDTH: usize = 80;

/// One logical line broken into lines of at most [`WIDTH`] columns, with the given prefixes.
/// An empty line stays one empty line; a line's own leading spaces are kept.
fn wrap_line(line: &str, first: &str, rest: &str) -> Vec<String> {
    if line.trim().is_empty() {
        return vec![String::new()];
    }
    let own_indent: String = line.chars().take_while(|c| *c == ' ').collect();
    let first = format!("{first}{own_indent}");
    let rest = format!("{rest}{own_indent}");
    let options = textwrap::Options::new(WIDTH)
        .initial_indent(&first)
        .subsequent_indent(&rest)
        .break_words(true)
        // "2-core" and "free-threaded" stay whole: break only at spaces.
        .word_splitter(textwrap::WordSplitter::NoHyphenation);
    textwrap::wrap(line.trim_start(), options)
        .into_iter()
        .map(|piece| piece.trim_end().to_owned())
        .collect()
}

/// Run `f` with this process's standard output going nowhere (a busy machine's live pass of a
/// part: its claims are recorded and shown beside the idle machine's figures instead). Where
/// the platform cannot redirect it (not Unix), `f` prints as usual.
pub fn muted<T>(f: impl FnOnce() -> T) -> T {
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    let _restore = Mute::start();
    f()
}

/// Standard output sent to `/dev/null` until dropped; then flushed and put back.
struct Mute {
    #[cfg(unix)]
    saved: Option<std::os::fd::OwnedFd>,
}

impl Mute {
    #[cfg(unix)]
    fn start() -> Self {
        use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd};
        let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") else {
            return Mute { saved: None };
        };
        // SAFETY: dup and dup2 only copy file descriptors; `saved` is a fresh descriptor we
        // own, and fd 1 is put back from it when the guard drops.
        let saved = unsafe { libc::dup(1) };
        if saved < 0 {
            return Mute { saved: None };
        }
        // SAFETY: `saved` was just returned by dup, so it is open and nobody else owns it.
        let saved = unsafe { OwnedFd::from_raw_fd(saved) };
        // SAFETY: both descriptors are open; dup2 replaces fd 1 atomically.
        if unsafe { libc::dup2(null.as_raw_fd(), 1) } < 0 {
            return Mute { saved: None };
        }
        Mute { saved: Some(saved) }
    }

    #[cfg(not(unix))]
    fn start() -> Self {
        Mute {}
    }
}

impl Drop for Mute {
    fn drop(&mut self) {
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
        #[cfg(unix)]
        if let Some(saved) = &self.saved {
            use std::os::fd::AsRawFd as _;
            // SAFETY: `saved` is open (we own it); dup2 puts the original stdout back on fd 1.
            unsafe { libc::dup2(saved.as_raw_fd(), 1) };
        }
    }
}

/// Start and end of a `--deep` section in lesson markdown.
pub const DEEP_START: &str = "<!-- deep -->";
/// End of a `--deep` section.
pub const DEEP_END: &str = "<!-- /deep -->";

/// Lesson markdown as terminal lines of at most [`WIDTH`] columns, blocks separated by one
/// empty line.
///
/// The same `.md` file is a part's crate docs (`#![doc = include_str!(..)]`), the book's page
/// and what the terminal prints, so it stays plain: paragraphs (wrapped, indented two spaces),
/// `-`/`*`/`1.` lists, `#` headings, fenced code (```` ```python ```` framed like
/// [`python`], any other fence indented four spaces and kept as written). Inline marks are
/// dropped (`**bold**`, `*em*`, links keep their text), code spans keep their backticks.
/// `<!-- deep -->` … `<!-- /deep -->` is kept only with `deep`; other HTML comments (such as
/// the figures marker) print nothing.
pub fn markdown_lines(text: &str, deep: bool) -> Vec<String> {
    let mut blocks: Vec<Vec<String>> = Vec::new();
    let mut paragraph: Vec<&str> = Vec::new();
    let mut lines = text.lines().peekable();
    let mut in_deep = false;
    let flush = |paragraph: &mut Vec<&str>, blocks: &mut Vec<Vec<String>>| {
        if !paragraph.is_empty() {
            blocks.push(prose_block(paragraph));
            paragraph.clear();
        }
    };
    while let Some(line) = lines.next() {
        let trimmed = line.trim();
        if trimmed == DEEP_START {
            flush(&mut paragraph, &mut blocks);
            in_deep = true;
            continue;
        }
        if trimmed == DEEP_END {
            flush(&mut paragraph, &mut blocks);
            in_deep = false;
            continue;
        }
        if in_deep && !deep {
            continue;
        }
        if trimmed.starts_with("<!--") && trimmed.ends_with("-->") {
            flush(&mut paragraph, &mut blocks);
            continue;
        }
        if let Some(lang) = trimmed.strip_prefix("```") {
            flush(&mut paragraph, &mut blocks);
            let mut code = Vec::new();
            for line in lines.by_ref() {
                if line.trim_start().starts_with("```") {
                    break;
                }
                code.push(line);
            }
            blocks.push(code_block(lang.trim(), &code));
            continue;
        }
        if trimmed.is_empty() {
            flush(&mut paragraph, &mut blocks);
            continue;
        }
        if let Some(title) = trimmed.strip_prefix('#') {
            flush(&mut paragraph, &mut blocks);
            let title = inline(title.trim_start_matches('#').trim());
            let rule = "=".repeat(title.chars().count().min(WIDTH));
            blocks.push(vec![title, rule]);
            continue;
        }
        let in_list = paragraph
            .first()
            .is_some_and(|l| list_marker(l.trim()).is_some());
        if list_marker(trimmed).is_some() && !paragraph.is_empty() && !in_list {
            flush(&mut paragraph, &mut blocks);
        }
        paragraph.push(line);
    }
    flush(&mut paragraph, &mut blocks);
    let mut out = Vec::new();
    for (i, block) in blocks.into_iter().enumerate() {
        if i > 0 {
            out.push(String::new());
        }
        out.extend(block);
    }
    out
}

/// `- `, `* ` or `12. ` at the start of a list item: the marker as printed.
fn list_marker(line: &str) -> Option<&str> {
    if line.starts_with("- ") || line.starts_with("* ") {
        return Some(&line[..2]);
    }
    let digits = line.chars().take_while(char::is_ascii_digit).count();
    (digits > 0 && line[digits..].starts_with(". ")).then(|| &line[..digits + 2])
}

/// A paragraph or a list, wrapped: list items hang under their marker.
fn prose_block(lines: &[&str]) -> Vec<String> {
    let mut items: Vec<(Option<&str>, String)> = Vec::new();
    for line in lines {
        let trimmed = line.trim();
        match list_marker(trimmed) {
            Some(marker) => items.push((Some(marker), trimmed[marker.len()..].to_owned())),
            None => match items.last_mut() {
                Some((_, text)) => {
                    text.push(' ');
                    text.push_str(trimmed);
                }
                None => items.push((None, trimmed.to_owned())),
            },
        }
    }
    let mut out = Vec::new();
    for (marker, text) in items {
        let text = inline(&text);
        match marker {
            Some(marker) => {
                let first = format!("  {}", marker.replace('*', "-"));
                let rest = " ".repeat(first.chars().count());
                out.extend(wrap_line(&text, &first, &rest));
            }
            None => out.extend(wrap_line(&text, "  ", "  ")),
        }
    }
    out
}

/// A fenced code block: Python framed as [`python`] frames it, anything else indented.
fn code_block(lang: &str, code: &[&str]) -> Vec<String> {
    if lang == "python" {
        std::iter::once("  Python:".to_owned())
            .chain(
                code.iter()
                    .map(|l| format!("  | {l}").trim_end().to_owned()),
            )
            .collect()
    } else {
        code.iter()
            .map(|l| format!("    {l}").trim_end().to_owned())
            .collect()
    }
}

/// Inline markdown as plain text: emphasis marks and link targets dropped, code spans kept.
fn inline(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut in_code = false;
    while let Some(c) = chars.next() {
        match c {
            '`' => {
                in_code = !in_code;
                out.push(c);
            }
            _ if in_code => out.push(c),
            '\\' => out.extend(chars.next()),
            '*' if out.ends_with(' ') && chars.peek() == Some(&' ') => out.push(c),
            '*' | '_' if c == '*' || chars.peek() == Some(&'_') => {
                // `**`, `*`, `__`: emphasis. A lone `_` inside a word stays.
                if chars.peek() == Some(&c) {
                    chars.next();
                }
            }
            ']' => {
                // `[text](target)` or `[text][ref]`: keep the text, drop the target.
                if let Some(&close) = chars.peek().filter(|&&n| n == '(' || n == '[') {
                    let end = if close == '(' { ')' } else { ']' };
                    for n in chars.by_ref() {
                        if n == end {
                            break;
                        }
                    }
                }
            }
            '[' => {}
            _ => out.push(c),
        }
    }
    out
}

/// Characters in the longest line of `output`, not counting terminal colour codes.
pub fn widest_line(output: &str) -> usize {
    output
        .lines()
        .map(|line| {
            let mut width = 0;
            let mut in_escape = false;
            for c in line.chars() {
                match (in_escape, c) {
                    (false, '\x1b') => in_escape = true,
                    (true, 'm') => in_escape = false,
                    (true, _) => {}
                    (false, _) => width += 1,
                }
            }
            width
        })
        .max()
        .unwrap_or(0)
}

/// A small aligned table: a header row, a rule, and rows; numbers are right-aligned.
///
/// ```
/// gil_core::report::Table::new(&["trial", "count", "result"])
///     .row(["1", "4,000,000", "exact"])
///     .row(["2", "3,845,763", "leaked"])
///     .print();
/// ```
#[derive(Clone, Debug, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column titles.
    pub fn new(header: &[&str]) -> Self {
        Table {
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    /// Add a row (as many cells as columns; extra cells are dropped, missing ones left blank).
    pub fn row<S: ToString>(mut self, cells: impl IntoIterator<Item = S>) -> Self {
        self.push(cells);
        self
    }

    /// Add a row in place.
    pub fn push<S: ToString>(&mut self, cells: impl IntoIterator<Item = S>) {
        let mut row: Vec<String> = cells.into_iter().map(|c| c.to_string()).collect();
        row.resize(self.header.len(), String::new());
        self.rows.push(row);
    }

    /// The table as text, each line indented by two spaces.
    pub fn render(&self) -> String {
        let columns = self.header.len();
        let width = |i: usize| {
            std::iter::once(&self.header[i])
                .chain(self.rows.iter().map(|r| &r[i]))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        };
        let widths: Vec<usize> = (0..columns).map(width).collect();
        let numeric = |i: usize| {
            self.rows.iter().all(|r| {
                let c = r[i].trim_start_matches(['+', '-', '~']);
                c.is_empty() || c.starts_with(|ch: char| ch.is_ascii_digit())
            })
        };
        let line = |cells: &[String]| {
            let text: Vec<String> = cells
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let w = widths[i];
                    if numeric(i) {
                        format!("{c:>w$}")
                    } else {
                        format!("{c:<w$}")
                    }
                })
                .collect();
            format!("  {}", text.join("  ")).trim_end().to_owned()
        };
        let mut out = line(&self.header);
        out.push('\n');
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        out.push_str(&format!("  {}", rule.join("  ")));
        for row in &self.rows {
            out.push('\n');
            out.push_str(&line(row));
        }
        out
    }

    /// Print the table.
    pub fn print(&self) {
        Out::Stdout.table(self);
    }
}

/// What keeps a lesson's `--simulated` text from reading as issue 19 asks, one sentence per
/// problem (none when it reads well): more than `budget` words (`wc -w`), "simulated" more
/// than once (the header says where figures come from), a line wider than [`WIDTH`], or
/// naming a text the learner does not have ("tutorial") or a figure left out ("measured only
/// in a live run").
pub fn reading_problems(output: &str, budget: usize) -> Vec<String> {
    let mut problems = Vec::new();
    let words = output.split_whitespace().count();
    if words > budget {
        problems.push(format!("{words} words, over the budget of {budget}"));
    }
    let simulated = output.matches("simulated").count();
    if simulated > 1 {
        problems.push(format!("\"simulated\" {simulated} times"));
    }
    if widest_line(output) > WIDTH {
        problems.push(format!("a line {} columns wide", widest_line(output)));
    }
    for banned in ["tutorial", "measured only in a live run"] {
        if output.contains(banned) {
            problems.push(format!("{banned:?} in the text"));
        }
    }
    problems
}

/// Parse `label: value` lines back into pairs (what the grader and tests read).
pub fn parse_kv(output: &str) -> Vec<(String, String)> {
    output
        .lines()
        .filter_map(|line| line.split_once(':'))
        .filter(|(label, _)| !label.starts_with(' ') && !label.is_empty())
        .map(|(label, value)| (label.trim().to_owned(), value.trim().to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn reading_problems_name_each_way_a_text_goes_wrong() {
        assert!(super::reading_problems("two words", 2).is_empty());
        let problems = super::reading_problems(
            "simulated, simulated: as the tutorial's table (measured only in a live run)",
            3,
        );
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert_eq!(super::reading_problems(&"x".repeat(81), 9).len(), 1);
    }

    use super::*;

    #[test]
    fn long_prose_wraps_to_the_width_and_short_lines_stay() {
        let long = "word ".repeat(60);
        let pieces = wrap_line(&long, "  ", "  ");
        assert!(pieces.len() > 2);
        assert!(pieces.iter().all(|p| p.chars().count() <= WIDTH));
        assert_eq!(wrap_line("  a chart", "  ", "  "), vec!["    a chart"]);
        let hyphens = format!("{} an idle 2-core machine", "x".repeat(64));
        assert!(
            wrap_line(&hyphens, "", "")
                .iter()
                .any(|l| l.contains("2-core"))
        );
    }

    #[test]
    fn markdown_prints_wrapped_paragraphs_framed_python_and_deep_only_on_request() {
        let text = "The **GIL** is one [lock](https://docs.python.org) per\n\
                    interpreter; see [`Gil`].\n\n\
                    ```python\nwhile n > 0:\n    n -= 1\n```\n\n\
                    - one item\n  continued\n- two\n\n\
                    <!-- deep -->\nOpcode `JUMP_BACKWARD`.\n<!-- /deep -->\n\n\
                    <!-- figures -->\nAfter.\n";
        let plain = markdown_lines(text, false);
        assert_eq!(
            plain,
            [
                "  The GIL is one lock per interpreter; see `Gil`.",
                "",
                "  Python:",
                "  | while n > 0:",
                "  |     n -= 1",
                "",
                "  - one item continued",
                "  - two",
                "",
                "  After.",
            ]
        );
        let deep = markdown_lines(text, true);
        assert!(
            deep.contains(&"  Opcode `JUMP_BACKWARD`.".to_owned()),
            "{deep:?}"
        );
        let long = format!("{}\n", "word ".repeat(50));
        assert!(
            markdown_lines(&long, false)
                .iter()
                .all(|l| l.chars().count() <= WIDTH)
        );
        assert_eq!(inline("a_b `x*y` \\*z"), "a_b `x*y` *z");
    }

    #[test]
    fn tables_align_numbers_right() {
        let table = Table::new(&["trial", "count", "result"])
            .row(["1", "4,000,000", "exact"])
            .row(["10", "845,763", "leaked"])
            .render();
        assert_eq!(
            table,
            "  trial      count  result\n  -----  ---------  ------\n      1  4,000,000  exact\n     10    845,763  leaked"
        );
        assert_eq!(widest_line("ab\n\x1b[1mabc\x1b[0m\n"), 3);
    }

    #[test]
    fn kv_lines_round_trip_through_the_parser() {
        let out = format!(
            "{}\n{}\n  prose: ignored\n",
            kv_line("two threads", "1.04x"),
            kv_line("total", 7)
        );
        assert_eq!(
            parse_kv(&out),
            vec![
                ("two threads".into(), "1.04x".into()),
                ("total".into(), "7".into())
            ]
        );
    }
}
