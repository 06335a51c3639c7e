//! The simulator's exact figures for each part: deterministic, so asserted exactly (to the
//! printed precision), on 1 and 2 idle cores.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use workarounds::{Cli, Config, expected};

fn config(args: &[&str]) -> Config {
    let cli =
        Cli::try_parse_from(std::iter::once("workarounds").chain(args.iter().copied())).unwrap();
    cli.config(PathBuf::from("unused")).unwrap()
}

/// The default sizes with two workers, whatever this machine has.
fn defaults() -> Config {
    config(&["--workers", "2"])
}

fn show(x: f64) -> String {
    format!("{x:.3}")
}

#[test]
fn part1_threads_take_turns_processes_do_not() {
    let cfg = defaults();
    let two = expected::part1(&cfg, 2);
    let one = expected::part1(&cfg, 1);
    let got = [two.threads, two.pool, one.threads, one.pool].map(show);
    assert_eq!(got, ["0.995", "2.000", "0.994", "0.997"], "{two:?} {one:?}");
}

#[test]
fn part2_released_calls_overlap_held_ones_do_not_and_short_ones_lose() {
    let cfg = defaults();
    let long = expected::part2(&cfg, 2, Duration::from_millis(5));
    let short = expected::part2(&cfg, 2, workarounds::part2_numpy::SHORT_CALL);
    let got = [long.released, long.holding, short.released].map(show);
    assert_eq!(got, ["1.982", "0.994", "0.296"], "{long:?} {short:?}");
}

#[test]
fn part3_holding_loop_stops_the_other_thread() {
    let cfg = defaults();
    let e = expected::part3(&cfg, 2, 4_000_000);
    let got = [e.holding_share, e.nogil_share, e.prange].map(show);
    assert_eq!(got, ["0.000", "99.379", "2.000"], "{e:?}");
}

#[test]
fn part4_and_part5_scale_with_cores_only_without_a_shared_gil() {
    let cfg = defaults();
    let four = expected::part4(&cfg, 2, 40_000_000, 2);
    let five = expected::part5(&cfg, 2, 10_000_000, 2);
    let got = [four.gil, four.free, five].map(show);
    assert_eq!(got, ["0.995", "2.000", "2.008"], "{four:?} {five}");
}
