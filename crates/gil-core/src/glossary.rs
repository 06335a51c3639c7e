//! The course's glossary: one source (`glossary.md`), printed by every lesson's `--glossary`
//! and pasted as the README's "Glossary" section (a test keeps the two equal).

/// The glossary, in markdown: one `- **term**: definition` item per term.
pub const GLOSSARY: &str = include_str!("glossary.md");

/// The terms the glossary defines, in its order.
pub fn terms() -> Vec<&'static str> {
    GLOSSARY
        .lines()
        .filter_map(|line| line.strip_prefix("- **"))
        .filter_map(|rest| rest.split_once("**").map(|(term, _)| term))
        .collect()
}
