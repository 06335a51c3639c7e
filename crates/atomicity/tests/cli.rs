//! The binary's command line: parts, flags, and one-line errors.

use std::process::Command;

fn atomicity(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_atomicity"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("the lesson binary runs")
}

#[test]
fn quick_part_three_prints_its_seed_and_trace() {
    let out = atomicity(&["--quick", "--part", "3", "--seed", "41"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let kv = gil_core::report::parse_kv(&text);
    assert!(kv.contains(&("seed".into(), "41".into())), "{kv:?}");
    assert!(
        text.contains("T2   10  STORE_GLOBAL counter = 42"),
        "{text}"
    );
    assert!(!text.contains("Part 2"));
}

#[test]
fn quick_whole_lesson_runs() {
    let out = atomicity(&["--quick"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    for part in 1..=5 {
        assert!(
            text.contains(&format!("Part {part}:")),
            "part {part} missing"
        );
    }
}

#[test]
fn bad_flags_fail_with_one_line() {
    let out = atomicity(&["--switch-interval", "0"]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    // clap's usage errors: the error line, a blank line, and where to find `--help`.
    assert!(err.lines().count() <= 3, "{err}");
    assert!(err.starts_with("error:"), "{err}");
    let out = atomicity(&["--part", "9"]);
    assert!(!out.status.success());
}
