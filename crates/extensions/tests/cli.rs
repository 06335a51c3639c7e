//! The binary's command line: the whole lesson, `--simulated`, and one-line errors.

use std::process::Command;

fn extensions(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_extensions"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("the lesson binary runs")
}

#[test]
fn simulated_output_is_the_same_every_run_and_fits_eighty_columns() {
    let first = extensions(&["--simulated", "--cores", "2"]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let second = extensions(&["--simulated", "--cores", "2"]);
    assert_eq!(first.stdout, second.stdout);
    let text = String::from_utf8(first.stdout).unwrap();
    for part in 1..=4 {
        assert!(
            text.contains(&format!("Part {part}:")),
            "part {part} missing"
        );
    }
    assert!(text.contains("T2 holds the GIL, waits for the table's Mutex (T1 has it)"));
    assert!(
        text.contains("All 9 results this run stated held."),
        "{text}"
    );
    assert!(gil_core::report::widest_line(&text) <= 80, "{text}");
}

#[test]
fn quick_lesson_runs_and_fits_eighty_columns() {
    let out = extensions(&["--quick"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(gil_core::report::widest_line(&text) <= 80, "{text}");
}

#[test]
fn bad_flags_fail_with_one_line() {
    let out = extensions(&["--patience", "1"]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.starts_with("error:"), "{err}");
    assert!(err.lines().count() <= 3, "{err}");
    assert!(!extensions(&["--part", "5"]).status.success());
}
