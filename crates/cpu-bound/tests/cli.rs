//! The binary: flags parse within their ranges, output fits 80 columns, `--simulated` is the
//! same every time, and mistakes give one-line errors, never a panic.

use std::process::{Command, Output};

use cpu_bound::setup::SCALE_RANGE;
use gil_core::report::{WIDTH, widest_line};

fn lesson(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cpu-bound"))
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .env("NO_COLOR", "1")
        .output()
        .expect("the lesson binary runs")
}

fn stdout_of(args: &[&str]) -> String {
    let out = lesson(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("the lesson prints UTF-8")
}

#[test]
fn simulated_output_is_identical_from_run_to_run_and_fits_the_width() {
    let first = stdout_of(&["--simulated"]);
    let second = stdout_of(&["--simulated"]);
    assert_eq!(first, second, "--simulated must not depend on the clock");
    assert!(
        widest_line(&first) <= WIDTH,
        "a line is {} wide:\n{first}",
        widest_line(&first)
    );
    for part in 1..=5 {
        assert!(first.contains(&format!("Part {part}: ")), "{first}");
    }
    assert!(first.contains("cargo xtask check 03_countdown_threads"));
    assert!(
        !first.contains("black_box") && !first.contains("ceval_gil.c"),
        "Rust and CPython internals are for --deep only"
    );
    assert!(first.contains("threading.active_count()"));
}

#[test]
fn simulated_64_cores_scale_free_threads_and_leave_the_gil_flat() {
    let out = stdout_of(&["--simulated", "--cores", "64", "--part", "4"]);
    assert!(out.contains("            64  "), "a 64-thread row:\n{out}");
    assert!(out.contains("2 threads per core over 1 per core"), "{out}");
    let sweep = out
        .lines()
        .find(|line| line.starts_with("  free-threaded  1.00x"))
        .expect("the sweep's free-threaded row");
    assert!(sweep.trim_end().ends_with("64.00x"), "{sweep}");
    assert_eq!(
        out.matches('✓').count(),
        1,
        "the part's claim holds:\n{out}"
    );
}

#[test]
fn quick_output_fits_the_width() {
    let out = stdout_of(&["--quick", "--switch-interval", "2"]);
    assert!(
        widest_line(&out) <= WIDTH,
        "a line is {} wide:\n{out}",
        widest_line(&out)
    );
    assert!(out.contains("GIL time, two threads / one"), "{out}");
    assert!(
        out.contains("switch interval (2.00 ms)") || out.contains('✗'),
        "{out}"
    );
}

#[test]
fn one_part_runs_alone() {
    let out = stdout_of(&["--simulated", "--part", "2"]);
    assert!(out.contains("Part 2: "), "{out}");
    assert!(
        !out.contains("Part 1: ") && !out.contains("Part 3: "),
        "{out}"
    );
}

#[test]
fn free_threaded_flag_removes_the_switches() {
    let out = stdout_of(&["--simulated", "--part", "3", "--free-threaded"]);
    assert!(out.contains("free-threaded (PEP 703)"), "{out}");
    assert!(out.contains("GIL switches at all four intervals"), "{out}");
}

#[test]
fn a_tiny_switch_interval_runs_like_sys_setswitchinterval() {
    // CPython accepts any positive interval; its take_gil waits at least 1 µs.
    let out = stdout_of(&["--simulated", "--part", "1", "--switch-interval", "1e-9"]);
    assert!(out.contains("GIL time, two threads / one"), "{out}");
}

#[test]
fn too_little_work_says_so_instead_of_printing_noise() {
    let smallest = SCALE_RANGE.start().to_string();
    let out = stdout_of(&[
        "--simulated",
        "--quick",
        "--part",
        "2",
        "--scale",
        &smallest,
    ]);
    assert!(
        out.contains("too short") || out.contains("took only"),
        "{out}"
    );
    assert!(
        !out.contains("fastest of 2, 4 and 8"),
        "no claim on noise:\n{out}"
    );
}

#[test]
fn bad_flags_give_one_line_errors() {
    let above = (SCALE_RANGE.end() * 2.0).to_string();
    for args in [
        &["--switch-interval", "0"][..],
        &["--switch-interval=-1"],
        &["--switch-interval", "-1"],
        &["--switch-interval", "NaN"],
        &["--switch-interval", "fast"],
        &["--scale=-1"],
        &["--scale", "0"],
        &["--scale", "1e-9"],
        &["--scale", "NaN"],
        &["--scale", "inf"],
        &["--scale", "lots"],
        &["--scale", &above],
        &["--cores", "0"],
        &["--cores", "100000"],
        &["--part", "6"],
        &["--part", "0"],
    ] {
        let out = lesson(args);
        let code = out.status.code();
        assert!(matches!(code, Some(1 | 2)), "{args:?}: exit {code:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(stderr.lines().count() <= 5, "{args:?}: {stderr}");
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
    }
}

#[test]
fn help_shows_the_ranges() {
    let help = stdout_of(&["--help"]);
    let scale = format!("from {} to {}", SCALE_RANGE.start(), SCALE_RANGE.end());
    assert!(help.contains(&scale), "{help}");
    assert!(help.contains("--cores"), "{help}");
}

#[test]
fn svg_and_trace_flags_write_every_figure_the_same_every_time() {
    let base = std::env::temp_dir().join(format!("cpu-bound-svg-{}", std::process::id()));
    let run = |n: u32| {
        let dir = base.join(n.to_string());
        let trace = base.join(format!("trace-{n}.json"));
        let _ = std::fs::remove_dir_all(&dir);
        let args = ["--simulated", "--svg", dir.to_str().unwrap()];
        let out = lesson(&[&args[..], &["--trace", trace.to_str().unwrap()]].concat());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (dir, trace)
    };
    let (first, trace) = run(1);
    let (second, _) = run(2);
    let names = [
        "part1-countdown",
        "part2-threads",
        "part3-interval-switches",
        "part3-interval-time",
        "part4-cores",
        "part5-old-gil",
    ];
    for name in names {
        let svg = std::fs::read_to_string(first.join(format!("{name}.svg"))).unwrap();
        assert!(
            svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"),
            "{name}"
        );
        let again = std::fs::read_to_string(second.join(format!("{name}.svg"))).unwrap();
        assert_eq!(svg, again, "{name} differs between two simulated runs");
    }
    let countdown = std::fs::read_to_string(first.join("part1-countdown.svg")).unwrap();
    assert!(countdown.contains(">T1<") && countdown.contains(">T2<"));
    let cores = std::fs::read_to_string(first.join("part4-cores.svg")).unwrap();
    assert!(cores.contains("free-threaded") && cores.contains("GIL"));
    let trace = std::fs::read_to_string(trace).unwrap();
    assert!(trace.contains("\"traceEvents\"") && trace.contains("\"T2\""));
    let _ = std::fs::remove_dir_all(&base);
}

/// Issue 19's budget: the lesson reads in minutes, says "simulated" at most once, and never
/// names a text the learner does not have.
#[test]
fn simulated_text_stays_within_its_word_budget() {
    let out = stdout_of(&["--simulated"]);
    let problems = gil_core::report::reading_problems(&out, 1_000);
    assert!(problems.is_empty(), "{problems:?}:\n{out}");
}
