//! The glossary has one source: every lesson's `--glossary` prints `glossary.md`, and the
//! README's "Glossary" section is that file, word for word.

use gil_core::glossary::{GLOSSARY, terms};

#[test]
fn the_readme_glossary_is_the_lessons_glossary() {
    let readme = include_str!("../../../README.md");
    let section = readme
        .split_once("\n## Glossary\n")
        .map(|(_, rest)| rest.split("\n## ").next().unwrap_or(rest))
        .expect("README.md has a '## Glossary' section");
    assert_eq!(
        section.trim(),
        GLOSSARY.trim(),
        "README.md's Glossary section and crates/gil-core/src/glossary.md must be the same text"
    );
}

#[test]
fn the_glossary_defines_the_terms_the_lessons_use() {
    let terms = terms();
    for needed in [
        "bytecode",
        "check point",
        "eval breaker",
        "switch interval",
        "drop request",
        "forced switching",
        "attach / detach",
        "immortal object",
        "free-threaded build",
        "subinterpreter",
    ] {
        assert!(
            terms.contains(&needed),
            "the glossary lacks {needed:?}: {terms:?}"
        );
    }
}
