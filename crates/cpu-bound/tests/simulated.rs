//! The simulator's side of the lesson: its figures are exact (same inputs, same output), and
//! every claim the lesson makes holds on the machine it simulates, whatever the core count,
//! switch interval or interpreter, so a live figure that misses is the machine's doing.

use std::time::Duration;

use clap::Parser;
use cpu_bound::setup::Config;
use cpu_bound::{part1_countdown, part2_switching_overhead, part3_switch_interval};
use cpu_bound::{part4_cores, part5_old_gil};
use gil_core::lesson::LessonArgs;

/// The lesson's flags, as the binary parses them.
#[derive(Parser)]
struct Flags {
    #[command(flatten)]
    lesson: LessonArgs,
}

fn four(x: f64) -> String {
    format!("{x:.4}")
}

#[test]
fn part1_two_gil_threads_take_turns_every_interval_and_free_ones_halve_the_time() {
    let r = part1_countdown::simulate(&Config::default(), 2);
    assert_eq!(r.gil_one.wall, Duration::from_millis(50));
    assert_eq!(r.gil_two.wall, Duration::from_micros(50_233));
    assert_eq!(four(r.gil_time_ratio()), "1.0047");
    assert_eq!(four(r.free_speedup()), "2.0000");
    assert_eq!(
        (r.gil_two.stats.switches, r.gil_two.stats.forced_switches),
        (10, 8)
    );
    assert_eq!(four(r.gil_two.switches_per_second()), "199.0723");
    assert_eq!(r.middle_contended_hold(), Duration::from_micros(5_100));
    assert_eq!(r.free_two.stats.switches, 0);
}

#[test]
fn part2_more_gil_threads_cost_a_fraction_of_a_percent() {
    let r = part2_switching_overhead::simulate(&Config::default(), 2);
    let ratios: Vec<String> = r.time_ratios().into_iter().map(four).collect();
    assert_eq!(ratios, ["1.0000", "1.0049", "1.0048", "1.0048"]);
    let counts: Vec<(u64, u64)> = r
        .rows
        .iter()
        .map(|t| (t.stats.switches, t.stats.forced_switches))
        .collect();
    assert_eq!(counts, [(1, 0), (16, 14), (16, 12), (16, 8)]);
}

#[test]
fn part3_the_interval_sets_the_hand_off_rate() {
    let r = part3_switch_interval::simulate(&Config::default(), 2);
    let rows: Vec<(String, u64, String, Duration)> = r
        .rows
        .iter()
        .enumerate()
        .map(|(i, row)| {
            (
                four(r.time_ratio(i)),
                row.trial.stats.switches,
                format!("{:.1}", row.trial.switches_per_second()),
                row.middle_contended_hold(),
            )
        })
        .collect();
    let us = Duration::from_micros;
    assert_eq!(
        rows,
        [
            ("1.1304".into(), 302, "4452.6".into(), us(200)),
            ("1.0238".into(), 56, "911.6".into(), us(1_100)),
            ("1.0048".into(), 12, "199.1".into(), us(5_100)),
            ("1.0013".into(), 4, "66.6".into(), us(20_075)),
        ]
    );
    assert_eq!(four(r.switch_rate_gain()), "22.3689");
}

#[test]
fn part4_free_threads_scale_to_the_cores_and_the_gil_stays_flat() {
    let cfg = Config::default();
    for (cores, speedups) in [
        (1, vec!["1.0000", "0.9974"]),
        (2, vec!["1.0000", "2.0000", "1.9976"]),
        (64, vec!["1.0000", "64.0000", "64.0000"]),
    ] {
        let r = part4_cores::simulate(&cfg, cores, cores);
        let got: Vec<String> = r.rows.iter().map(|row| four(row.speedup)).collect();
        assert_eq!(got, speedups, "{cores} cores");
    }
    // One thread per core on 1 to 64 idle cores: free threads reach the core count, the GIL
    // stays at one.
    let sweep: Vec<(usize, String, String)> = part4_cores::core_sweep(&cfg)
        .iter()
        .map(|row| (row.cores, four(row.free), four(row.gil)))
        .collect();
    let want = [
        (1, "1.0000", "1.0000"),
        (2, "2.0000", "0.9955"),
        (4, "4.0000", "0.9955"),
        (8, "8.0000", "0.9956"),
        (16, "16.0000", "0.9907"),
        (32, "32.0000", "0.9852"),
        (64, "64.0000", "0.9621"),
    ];
    let want: Vec<(usize, String, String)> = want
        .iter()
        .map(|(c, f, g)| (*c, (*f).to_owned(), (*g).to_owned()))
        .collect();
    assert_eq!(sweep, want);
}

#[test]
fn part5_the_old_gil_makes_two_threads_half_as_slow_again() {
    for (cores, old, new) in [(1, "1.5554", "1.0052"), (2, "1.5003", "1.0045")] {
        let r = part5_old_gil::simulate(&Config::default(), cores);
        assert_eq!(four(r.old_time_ratio()), old, "{cores} cores");
        assert_eq!(four(r.new_time_ratio()), new, "{cores} cores");
        assert_eq!(
            r.old_two.stats.forced_switches, 0,
            "the old GIL never forces"
        );
    }
}

#[test]
fn every_claim_holds_on_the_simulator_it_is_checked_against() {
    let mut runs = 0;
    for cores in ["1", "2", "3", "64"] {
        for interval in ["1e-9", "0.1", "0.2", "1", "5", "20", "100"] {
            for extra in [&[][..], &["--free-threaded"], &["--quick"]] {
                let mut argv = vec![
                    "cpu-bound",
                    "--simulated",
                    "--cores",
                    cores,
                    "--switch-interval",
                    interval,
                ];
                argv.extend_from_slice(extra);
                let flags = Flags::try_parse_from(&argv).expect("valid flags");
                let cfg = Config::from_args(&flags.lesson, 1.0);
                let cx = gil_core::lesson::run(&cpu_bound::LESSON, &flags.lesson, &cfg)
                    .expect("the simulated lesson runs");
                let made = cx.claims().to_vec();
                assert!(made.len() >= 5, "{argv:?}: at least one claim per part");
                for record in made {
                    assert!(record.held, "{argv:?}: {record:?}");
                    // JSON has no infinity: every bound must be written as a number.
                    assert!(
                        record.low.is_finite() && record.high.is_finite(),
                        "{record:?}"
                    );
                }
                runs += 1;
            }
        }
    }
    assert_eq!(runs, 4 * 7 * 3);
}
