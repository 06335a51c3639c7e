//! The binary from the outside: flag ranges, memory limits, 80 columns, `--simulated`, and no
//! worker process left behind whatever ends the lesson.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use gil_core::report::{WIDTH, widest_line};
use workarounds::part1_processes::wait_until_exited;

fn exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_workarounds"))
}

fn run(args: &[&str]) -> Output {
    Command::new(exe()).args(args).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn simulated_output_is_identical_run_to_run_and_fits_80_columns() {
    for cores in ["1", "2", "64"] {
        let args = ["--simulated", "--cores", cores];
        let (first, second) = (run(&args), run(&args));
        assert!(first.status.success(), "{}", text(&first.stderr));
        assert_eq!(text(&first.stdout), text(&second.stdout), "--cores {cores}");
        let out = text(&first.stdout);
        assert!(widest_line(&out) <= WIDTH, "--cores {cores}:\n{out}");
        for part in 1..=6 {
            assert!(out.contains(&format!("Part {part}: ")), "{out}");
        }
    }
}

#[test]
fn the_decision_guide_alone_fits_80_columns_on_any_core_count() {
    for cores in ["1", "2", "1024"] {
        let output = run(&["--simulated", "--part", "6", "--cores", cores]);
        let out = text(&output.stdout);
        assert!(output.status.success(), "{}", text(&output.stderr));
        assert!(widest_line(&out) <= WIDTH, "--cores {cores}:\n{out}");
        assert!(out.contains("not measured this run"), "{out}");
    }
}

#[test]
fn quick_output_fits_80_columns() {
    let output = run(&["--quick"]);
    let out = text(&output.stdout);
    assert!(output.status.success(), "{out}\n{}", text(&output.stderr));
    assert!(widest_line(&out) <= WIDTH, "{out}");
    assert!(
        out.contains("cargo xtask check 09_ndarray_threads"),
        "{out}"
    );
}

/// Every numeric flag at hostile values: a one-line refusal (exit 2 from clap), never a panic.
#[test]
fn hostile_flag_values_are_refused_in_one_line() {
    let flags = [
        "--tasks",
        "--items",
        "--array-len",
        "--call-ms",
        "--workers",
    ];
    let values = ["0", "-1", "1e-9", "NaN", "text", "99999999999999999999"];
    for flag in flags {
        for value in values {
            let output = run(&["--simulated", flag, value]);
            let err = text(&output.stderr);
            assert_eq!(output.status.code(), Some(2), "{flag} {value}: {err}");
            assert!(!err.contains("panicked"), "{flag} {value}: {err}");
            assert!(err.lines().count() <= 5, "{flag} {value}: {err}");
        }
    }
}

#[test]
fn the_largest_accepted_values_parse_and_simulate() {
    let output = run(&[
        "--simulated",
        "--tasks",
        "64",
        "--items",
        "200000000",
        "--array-len",
        "20000000",
        "--call-ms",
        "100",
        "--workers",
        "64",
        "--cores",
        "1024",
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
}

/// Issue 13: 64 arrays of 100,000,000 floats asked for 51.2 GB and aborted. Now: one line.
#[test]
fn allocations_beyond_available_memory_are_refused_before_allocating() {
    for args in [
        &[
            "--quick",
            "--part",
            "3",
            "--tasks",
            "64",
            "--array-len",
            "20000000",
        ][..],
        &["--part", "2", "--tasks", "64", "--call-ms", "100"][..],
    ] {
        let output = run(args);
        let err = text(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains("available"), "{args:?}: {err}");
    }
}

#[test]
fn inject_failure_outside_part_1_is_an_error() {
    let output = run(&["--part", "2", "--inject-failure", "kill"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("--inject-failure needs part 1"));
    let output = run(&["--simulated", "--inject-failure", "kill"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("needs a live run"));
}

/// Start part 1 with long tasks, wait for the worker pids, end the lesson with `how`, and
/// check that every worker is gone.
fn workers_die_with_the_lesson(how: &str) {
    // Long tasks keep the lesson busy until the signal; with a closed pipe, short ones make it
    // print (and meet the closed pipe) soon.
    let items = if how == "pipe" {
        "1000000"
    } else {
        "200000000"
    };
    let mut child = Command::new(exe())
        .args(["--part", "1", "--workers", "2", "--items", items])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let pids: Vec<u32> = loop {
        line.clear();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "no worker pids");
        if let Some(rest) = line.strip_prefix("worker pids:") {
            break rest
                .split_whitespace()
                .map(|p| p.parse().unwrap())
                .collect();
        }
    };
    assert_eq!(pids.len(), 2);
    match how {
        "pipe" => drop(stdout), // the next line the lesson prints meets a closed pipe
        signal => {
            let status = Command::new("kill")
                .args([&format!("-{signal}"), &child.id().to_string()])
                .status()
                .unwrap();
            assert!(status.success());
        }
    }
    child.wait().unwrap();
    // Exited, not reaped: the lesson that would reap them is dead, and whoever adopted them
    // (init, or a subreaper) collects them in its own time.
    wait_until_exited(&pids, Duration::from_secs(5)).unwrap();
}

#[test]
fn workers_die_on_sigterm() {
    workers_die_with_the_lesson("TERM");
}

#[test]
fn workers_die_on_sighup() {
    workers_die_with_the_lesson("HUP");
}

#[test]
fn workers_die_on_sigint() {
    workers_die_with_the_lesson("INT");
}

#[test]
fn workers_die_after_sigkill_of_the_lesson() {
    workers_die_with_the_lesson("KILL");
}

#[test]
fn workers_die_when_the_output_pipe_closes() {
    workers_die_with_the_lesson("pipe");
}

#[test]
fn simulated_run_prices_every_workaround_and_never_defers_to_a_live_run() {
    for cores in ["1", "2", "8"] {
        let output = run(&["--simulated", "--cores", cores]);
        let out = text(&output.stdout);
        assert!(output.status.success(), "{}", text(&output.stderr));
        assert!(!out.contains("measured only in a live run"), "{out}");
        for price in [
            "pool start-up:",
            "a task pays only above:",
            "sending 1 MB of floats:",
            "a released call pays above:",
            "one pass of the loop:",
            "model interpreter start:",
            "message round trip:",
        ] {
            assert!(out.contains(price), "--cores {cores}: no {price:?}\n{out}");
        }
    }
    // One core: no pool and no released call ever pays, and the guide says so.
    let out = text(&run(&["--simulated", "--cores", "1", "--part", "6"]).stdout);
    assert!(out.contains("never on one core"), "{out}");
}

#[test]
fn simulated_text_is_short_plain_and_deep_on_demand() {
    let out = text(&run(&["--simulated", "--cores", "2"]).stdout);
    let words = out.split_whitespace().count();
    assert!(words <= 1_250, "{words} words:\n{out}");
    assert!(!out.to_lowercase().contains("tutorial"), "{out}");
    // The header says once where the figures come from; claims do not repeat it.
    let claim_lines = out.lines().filter(|l| l.contains("✓") || l.contains("✗"));
    assert_eq!(claim_lines.filter(|l| l.contains("simulated")).count(), 0);
    let deep = text(&run(&["--simulated", "--cores", "2", "--deep"]).stdout);
    assert!(deep.contains("forkserver") && !out.contains("forkserver"));
    let glossary = run(&["--glossary"]);
    assert!(glossary.status.success());
    assert!(text(&glossary.stdout).contains("subinterpreter"));
}
