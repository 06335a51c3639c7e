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
    // The trace's two lanes: T2's stale store sits in the second column (4 + 36 spaces in).
    let stale = format!("{:40} 10  STORE_GLOBAL counter = 42", "");
    assert!(text.lines().any(|l| l == stale), "{text}");
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

#[test]
fn simulated_output_is_the_same_every_run_and_fits_eighty_columns() {
    let first = atomicity(&["--simulated"]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let second = atomicity(&["--simulated"]);
    assert_eq!(first.stdout, second.stdout);
    let text = String::from_utf8(first.stdout).unwrap();
    assert!(text.contains("Now try"), "{text}");
    assert!(!text.contains('✗'), "a simulated claim missed:\n{text}");
    let widest = gil_core::report::widest_line(&text);
    assert!(
        widest <= gil_core::report::WIDTH,
        "{widest} columns:\n{text}"
    );
    // Another core count changes only what the simulator assumes.
    let many = atomicity(&["--simulated", "--cores", "64", "--part", "2"]);
    let text = String::from_utf8(many.stdout).unwrap();
    assert!(text.contains("64-core"), "{text}");
}

#[test]
fn quick_output_fits_eighty_columns() {
    let out = atomicity(&["--quick"]);
    let text = String::from_utf8(out.stdout).unwrap();
    let widest = gil_core::report::widest_line(&text);
    assert!(
        widest <= gil_core::report::WIDTH,
        "{widest} columns:\n{text}"
    );
}

#[test]
fn hostile_flags_end_in_one_short_error() {
    for args in [
        &["--threads", "0"][..],
        &["--threads", "-1"],
        &["--threads", "65"],
        &["--threads", "NaN"],
        &["--iterations", "0"],
        &["--iterations", "1e-9"],
        &["--iterations", "18446744073709551615"],
        &["--runs", "4"],
        &["--runs", "text"],
        &["--seed", "-1"],
        &["--switch-interval", "0"],
        &["--switch-interval", "NaN"],
        &["--cores", "0"],
        &["--threads", "64", "--iterations", "62501"],
    ] {
        let out = atomicity(args);
        let code = out.status.code();
        assert!(matches!(code, Some(1 | 2)), "{args:?}: {code:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.starts_with("error:"), "{args:?}: {err}");
        assert!(err.lines().count() <= 6, "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn the_largest_accepted_race_is_refused_or_bounded() {
    // threads x iterations at its cap still runs; one over it is refused before any work.
    let out = atomicity(&[
        "--simulated",
        "--part",
        "1",
        "--threads",
        "4",
        "--iterations",
        "1000000",
    ]);
    assert!(out.status.success());
    let out = atomicity(&["--threads", "5", "--iterations", "1000000"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("4000000"));
}

#[test]
fn every_part_records_a_claim_and_simulated_claims_all_hold() {
    let path = std::env::temp_dir().join(format!("atomicity-claims-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let out = atomicity(&["--simulated", "--claims", path.to_str().unwrap()]);
    assert!(out.status.success());
    let text = std::fs::read_to_string(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    let mut parts = std::collections::BTreeSet::new();
    for line in text.lines() {
        assert!(line.contains(r#""lesson":"atomicity""#), "{line}");
        assert!(line.contains(r#""held":true"#), "{line}");
        let part = line
            .split(r#""part":"#)
            .nth(1)
            .and_then(|rest| rest.split(',').next())
            .unwrap();
        parts.insert(part.to_owned());
    }
    assert_eq!(
        parts.into_iter().collect::<Vec<_>>(),
        ["1", "2", "3", "4", "5"]
    );
}

#[test]
fn svg_and_trace_flags_write_the_lessons_figures() {
    let dir = std::env::temp_dir().join(format!("atomicity-svg-{}", std::process::id()));
    let trace = dir.join("trace.json");
    let _ = std::fs::remove_dir_all(&dir);
    let out = atomicity(&[
        "--simulated",
        "--svg",
        dir.to_str().unwrap(),
        "--trace",
        trace.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for name in ["part2-race-gil.svg", "part3-lost-update.svg"] {
        let svg = std::fs::read_to_string(dir.join(name)).unwrap();
        assert!(
            svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"),
            "{name}"
        );
    }
    // The lost update's figure holds the stale store of both threads.
    let lanes = std::fs::read_to_string(dir.join("part3-lost-update.svg")).unwrap();
    assert_eq!(
        lanes.matches("STORE_GLOBAL counter = 42").count(),
        2,
        "{lanes}"
    );
    // The race's timeline names every racing thread in the trace.
    let json = std::fs::read_to_string(&trace).unwrap();
    for t in 1..=10 {
        assert!(json.contains(&format!("\"name\":\"T{t}\"")), "T{t} missing");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 19's budget: the lesson reads in minutes, says "simulated" at most once, and never
/// names a text the learner does not have.
#[test]
fn simulated_text_stays_within_its_word_budget() {
    let out = atomicity(&["--simulated"]);
    assert!(out.status.success());
    let out = String::from_utf8(out.stdout).expect("UTF-8");
    let problems = gil_core::report::reading_problems(&out, 1_200);
    assert!(problems.is_empty(), "{problems:?}:\n{out}");
}
