//! The sources rendered as HTML pages beside them: a sidebar of every page, the page's
//! markdown through pulldown-cmark, and links to the previous and next page.

use std::fmt::Write as _;
use std::path::Path;

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, html};

use crate::sources::{Book, Page, attr};

const CSS: &str = "\
body { margin: 0; font: 16px/1.55 system-ui, sans-serif; color: #222; display: flex; }
.sidebar { width: 280px; min-height: 100vh; background: #f4f4f2; padding: 16px;
  box-sizing: border-box; font-size: 14px; flex-shrink: 0; }
.sidebar a { color: #1f4f88; text-decoration: none; }
.sidebar a.current { font-weight: bold; color: #222; }
.sidebar ol { list-style: none; padding-left: 0; }
.sidebar ol ol { padding-left: 14px; }
.sidebar li { margin: 4px 0; }
.book-title { font-weight: bold; font-size: 15px; }
main { max-width: 860px; padding: 8px 32px 48px; box-sizing: border-box; }
pre { background: #f6f6f6; padding: 10px; overflow-x: auto; font-size: 13px; line-height: 1.35; }
code { font-size: 0.92em; }
figure { margin: 24px 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #e2e2e2; }
details { margin: 16px 0; }
details.deep { border-left: 3px solid #a8d5a2; padding-left: 12px; }
summary { cursor: pointer; color: #1f4f88; }
table { border-collapse: collapse; }
td, th { border: 1px solid #ddd; padding: 3px 8px; }
.pager { display: flex; justify-content: space-between; margin-top: 40px;
  border-top: 1px solid #ddd; padding-top: 12px; }
";

/// Write `out/PAGE.html` for every page, the stylesheet, and copy the figures beside them.
pub fn render(out: &Path, book: &Book) -> anyhow::Result<()> {
    std::fs::write(out.join("book.css"), CSS)?;
    for (i, page) in book.pages.iter().enumerate() {
        let html_path = out.join(html_name(&page.path));
        if let Some(dir) = html_path.parent() {
            std::fs::create_dir_all(dir)?;
            // The figures this page shows sit beside its markdown; put them beside its HTML.
            let src_dir = out.join("src").join(&page.path);
            if let Some(src_dir) = src_dir.parent() {
                for entry in std::fs::read_dir(src_dir)? {
                    let path = entry?.path();
                    if path.extension().is_some_and(|e| e == "svg")
                        && let Some(name) = path.file_name()
                    {
                        std::fs::copy(&path, dir.join(name))?;
                    }
                }
            }
        }
        let prev = i.checked_sub(1).map(|j| &book.pages[j]);
        let next = book.pages.get(i + 1);
        std::fs::write(&html_path, page_html(book, page, prev, next))?;
    }
    Ok(())
}

/// `lesson-2/part-1.md` → `lesson-2/part-1.html`.
pub fn html_name(md_path: &str) -> String {
    match md_path.strip_suffix(".md") {
        Some(stem) => format!("{stem}.html"),
        None => md_path.to_owned(),
    }
}

fn page_html(book: &Book, page: &Page, prev: Option<&Page>, next: Option<&Page>) -> String {
    let root = "../".repeat(page.path.matches('/').count());
    let mut nav = String::new();
    let _ = write!(
        nav,
        "<a class=\"book-title\" href=\"{root}index.html\">{}</a>\n<ol>\n",
        attr(&book.title)
    );
    let mut open = 1;
    for other in &book.pages {
        let level = usize::from(other.level.max(1));
        while open < level {
            nav.push_str("<li><ol>\n");
            open += 1;
        }
        while open > level {
            nav.push_str("</ol></li>\n");
            open -= 1;
        }
        let class = if other.path == page.path {
            " class=\"current\""
        } else {
            ""
        };
        let _ = writeln!(
            nav,
            "<li><a{class} href=\"{root}{}\">{}</a></li>",
            html_name(&other.path),
            attr(&other.title)
        );
    }
    while open > 1 {
        nav.push_str("</ol></li>\n");
        open -= 1;
    }
    nav.push_str("</ol>\n");

    let mut body = String::new();
    let parser = Parser::new_ext(&page.markdown, Options::ENABLE_TABLES).map(|event| match event {
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Link {
            link_type,
            dest_url: local_link(dest_url),
            title,
            id,
        }),
        other => other,
    });
    html::push_html(&mut body, parser);

    let mut pager = String::new();
    for (page, rel, label) in [(prev, "prev", "← "), (next, "next", "")] {
        match page {
            Some(p) => {
                let arrow = if rel == "next" { " →" } else { "" };
                let _ = write!(
                    pager,
                    "<a rel=\"{rel}\" href=\"{root}{}\">{label}{}{arrow}</a>",
                    html_name(&p.path),
                    attr(&p.title)
                );
            }
            None => pager.push_str("<span></span>"),
        }
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{} — {}</title>\n<link rel=\"icon\" href=\"data:,\">\n\
         <link rel=\"stylesheet\" href=\"{root}book.css\">\n</head>\n<body>\n\
         <nav class=\"sidebar\">\n{nav}</nav>\n<main>\n{body}\n<nav class=\"pager\">{pager}</nav>\n\
         </main>\n</body>\n</html>\n",
        attr(&page.title),
        attr(&book.title),
    )
}

/// Links between pages point at the `.md` sources (as mdBook wants); the HTML links to the
/// rendered pages.
fn local_link(dest: CowStr<'_>) -> CowStr<'_> {
    if dest.starts_with("http://") || dest.starts_with("https://") {
        return dest;
    }
    let (path, fragment) = dest.split_once('#').unwrap_or((&dest, ""));
    match path.strip_suffix(".md") {
        Some(stem) if fragment.is_empty() => format!("{stem}.html").into(),
        Some(stem) => format!("{stem}.html#{fragment}").into(),
        None => dest,
    }
}
