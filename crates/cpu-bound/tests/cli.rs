//! The binary: flags parse, output is `label: value` lines, and mistakes give one-line errors.

use std::process::{Command, Output};

use gil_core::report::parse_kv;

fn lesson(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cpu-bound"))
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("the lesson binary runs")
}

#[test]
fn one_quick_part_prints_parsable_results() {
    let out = lesson(&["--quick", "--part", "1", "--switch-interval", "2"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let pairs = parse_kv(&stdout);
    let value = |label: &str| {
        pairs
            .iter()
            .find(|(l, _)| l == label)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no `{label}` line in:\n{stdout}"))
    };
    assert_eq!(value("switch interval"), "2.00 ms");
    assert!(value("GIL time two/one").ends_with("x as long as one thread"));
    assert!(value("free-threaded speedup").ends_with('x'));
    assert!(!stdout.contains("Part 2"), "only part 1 ran");
}

#[test]
fn free_threaded_flag_removes_the_switches() {
    let out = lesson(&[
        "--quick",
        "--part",
        "2",
        "--free-threaded",
        "--scale",
        "0.2",
    ]);
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("free-threaded (PEP 703)"));
    for (label, value) in parse_kv(&stdout) {
        if label.ends_with("thread") || label.ends_with("threads") {
            assert!(value.contains("  0 switches"), "{label}: {value}");
        }
    }
}

#[test]
fn bad_flags_give_one_line_errors() {
    for args in [
        &["--switch-interval", "0"][..],
        &["--scale=-1"],
        &["--scale", "NaN"],
    ] {
        let out = lesson(args);
        assert!(!out.status.success(), "{args:?} accepted");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("error: "), "{stderr}");
    }
    let out = lesson(&["--part", "6"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--part"));
}
