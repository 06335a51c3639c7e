//! Lesson 6's deterministic facts: the simulator's expectations for each kind of call, the
//! `--simulated` output (the same every run, within 80 columns), and a run with no Python.

use std::process::Command;
use std::time::Duration;

use gil_core::Mode;
use practice::Model;
use practice::part2_release::{self, Gil};
use practice::{part1_cpu_or_wait, part3_cost, part4_asyncio, part5_free_threaded, scripts};

const INTERVAL: Duration = Duration::from_millis(5);

fn model(mode: Mode, interval: Duration) -> Model {
    Model {
        mode,
        cores: 2,
        interval,
    }
}

fn with_gil() -> Model {
    model(Mode::Gil, INTERVAL)
}

fn lesson(args: &[&str], path: Option<&str>) -> (bool, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_practice"));
    command.args(args);
    if let Some(path) = path {
        command.env("PATH", path);
    }
    let output = command.output().expect("the lesson runs");
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

#[test]
fn the_model_gives_each_kind_of_call_its_own_verdict() {
    for gil in [Gil::Releases, Gil::Python, Gil::Holds] {
        let share = part2_release::expected_share(gil, with_gil());
        assert_eq!(Gil::from_share(share), gil, "{gil:?}: {share}");
    }
}

#[test]
fn the_model_expects_threads_to_help_only_waiting_or_released_work() {
    use part1_cpu_or_wait::{Cpu, expected_speedups};
    let (threads, processes) = expected_speedups(1.0, Cpu::Python, with_gil());
    assert!(threads < 1.1 && processes > 1.9, "{threads} {processes}");
    let (threads, _) = expected_speedups(1.0, Cpu::ReleasedC, with_gil());
    assert!(threads > 1.9, "{threads}");
    let (threads, _) = expected_speedups(0.0, Cpu::Python, with_gil());
    assert!(threads > 1.9, "{threads}");
}

#[test]
fn the_wait_meter_and_the_ticker_follow_the_switch_interval() {
    let busy = part3_cost::expected_wait(with_gil(), true);
    let short = part3_cost::expected_wait(model(Mode::Gil, Duration::from_millis(1)), true);
    let alone = part3_cost::expected_wait(with_gil(), false);
    assert!(busy >= INTERVAL && busy < 2 * INTERVAL, "{busy:?}");
    assert!(
        short < busy / 3 && alone == Duration::ZERO,
        "{short:?} {alone:?}"
    );
    use part4_asyncio::{TICK, WORK, Way, expected_gap};
    let io = expected_gap(Way::ThreadIo, WORK, with_gil());
    let python = expected_gap(Way::ThreadPython, WORK, with_gil());
    assert!(io < TICK + Duration::from_millis(1), "{io:?}");
    assert!(python >= TICK + INTERVAL, "{python:?}");
    assert_eq!(expected_gap(Way::InCoroutine, WORK, with_gil()), WORK);
}

#[test]
fn without_a_gil_nothing_waits_for_one() {
    let free = model(Mode::FreeThreaded, INTERVAL);
    assert_eq!(part2_release::expected_share(Gil::Holds, free), 1.0);
    assert_eq!(part3_cost::expected_wait(free, true), Duration::ZERO);
    let python =
        part4_asyncio::expected_gap(part4_asyncio::Way::ThreadPython, part4_asyncio::WORK, free);
    assert!(
        python < part4_asyncio::TICK + Duration::from_millis(1),
        "{python:?}"
    );
}

#[test]
fn free_threading_doubles_two_counting_threads_in_the_model() {
    let gil = part5_free_threaded::expected_speedup(gil_core::Mode::Gil, 2, INTERVAL);
    let free = part5_free_threaded::expected_speedup(gil_core::Mode::FreeThreaded, 2, INTERVAL);
    assert!(gil < 1.05 && free > 1.95, "{gil} {free}");
}

#[test]
fn the_recipe_is_the_whole_probe_function() {
    let probe = scripts::release_probe();
    assert!(probe.starts_with("def heartbeat_share(call"), "{probe}");
    assert!(probe.trim_end().ends_with("/ (end - start))"), "{probe}");
    assert!(probe.lines().all(|l| l.len() <= 76), "{probe}");
}

#[test]
fn simulated_output_is_the_same_every_run_and_fits_80_columns() {
    let args = ["--simulated", "--cores", "2"];
    let (ok, first) = lesson(&args, None);
    assert!(ok, "{first}");
    let (_, second) = lesson(&args, None);
    assert_eq!(first, second);
    assert!(first.contains("heartbeat during sorted, floats"), "{first}");
    let widest = gil_core::report::widest_line(&first);
    assert!(widest <= 80, "a line of {widest} columns:\n{first}");
}

#[test]
fn without_python_it_says_so_in_one_line_and_succeeds() {
    let empty = tempfile::tempdir().unwrap();
    let (ok, text) = lesson(&["--cores", "2"], Some(&empty.path().to_string_lossy()));
    assert!(ok, "{text}");
    let said: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("No `python3`"))
        .collect();
    assert_eq!(said.len(), 1, "{text}");
    assert!(text.contains("Part 5"), "{text}");
}

#[test]
fn a_named_python_that_does_not_exist_is_a_one_line_error() {
    let (ok, text) = lesson(&["--python", "/nonexistent/python3"], None);
    assert!(!ok);
    assert_eq!(
        text.trim(),
        "error: --python /nonexistent/python3: no such program"
    );
}

#[derive(clap::Parser)]
struct Cli {
    #[command(flatten)]
    lesson: gil_core::lesson::LessonArgs,
}

#[test]
fn simulated_every_part_returns_its_figures_and_every_claim_holds() {
    use clap::Parser as _;
    let args = Cli::try_parse_from(["practice", "--simulated", "--cores", "2"])
        .unwrap()
        .lesson;
    let cfg = practice::Config {
        python: None,
        scripts: scripts::Scripts::write().unwrap(),
        model: with_gil(),
    };
    let cx = gil_core::lesson::run(&practice::LESSON, &args, &cfg).unwrap();
    let made = cx.claims();
    // Five calls in part 1, eight in part 2, two waits, four gaps; part 5 needs a real
    // free-threaded Python.
    let per_part: Vec<usize> = (1..=5)
        .map(|n| made.iter().filter(|c| c.part == n).count())
        .collect();
    assert_eq!(per_part, [5, 8, 2, 4, 0], "{made:?}");
    assert!(made.iter().all(|c| c.held), "{made:?}");
}
