//! The lesson's deterministic facts, in quick mode: exact totals with the GIL and with atomic
//! or biased counts, premature frees and leaks detected, and the printed output parseable.

use std::process::Command;

use gil_core::object::{Fate, IMMORTAL_REFCNT};
use gil_core::report::parse_kv;
use refcounting::{Config, part1_getrefcount, part2_race, part3_cost, part4_rust, part5_history};

#[test]
fn getrefcount_walk_through_is_two_three_four_three_two() {
    let report = part1_getrefcount::run().unwrap();
    let getrefcount: Vec<_> = report.steps.iter().map(|s| s.getrefcount).collect();
    let refcnt: Vec<_> = report.steps.iter().map(|s| s.refcnt).collect();
    let rc: Vec<_> = report.steps.iter().map(|s| s.rc_strong_count).collect();
    assert_eq!(getrefcount, [2, 3, 4, 3, 2]);
    assert_eq!(refcnt, [1, 2, 3, 2, 1]);
    assert_eq!(rc, [1, 2, 3, 2, 1]);
    assert_eq!(report.immortal_getrefcount, IMMORTAL_REFCNT);
    assert_eq!(report.verdict, Fate::Freed);
}

#[test]
fn forced_lost_updates_are_caught() {
    let (lost_incref, lost_decref) = part2_race::forced();
    assert_eq!(
        lost_incref,
        Fate::PrematureFree {
            use_after_free: 1,
            deallocs: 1
        }
    );
    assert_eq!(lost_decref, Fate::Leaked { refcnt: 1 });
}

#[test]
fn gil_atomic_and_biased_counts_are_exact_every_trial() {
    let report = part2_race::run(&Config::quick()).unwrap();
    for s in [&report.with_gil, &report.atomic, &report.biased] {
        assert_eq!(s.exact(), s.trials.len(), "{}: {:?}", s.label, s.trials);
        assert!(s.trials.iter().all(|t| t.drift() == 0), "{}", s.label);
    }
    assert!(report.with_gil.gil, "the GIL row runs under a GIL");
    // The racing row is a matter of luck; it must at least account for every trial.
    let race = &report.no_gil;
    assert_eq!(
        race.exact() + race.leaks() + race.premature_frees(),
        race.trials.len()
    );
}

#[test]
fn free_threaded_flag_takes_the_gil_away_from_part_two() {
    let mut cfg = Config {
        trials: 1,
        refs: 1_000,
        ..Config::quick()
    };
    cfg.gil.free_threaded = true;
    let report = part2_race::run(&cfg).unwrap();
    assert!(!report.with_gil.gil);
    assert_eq!(report.with_gil.trials[0].switches, 0);
}

/// Timing: the biased owner's fast path costs about what a plain update does. Generous margin
/// (3x) and three attempts, as the machine may be busy.
#[test]
fn biased_owner_fast_path_costs_about_a_plain_update() {
    let mut last = None;
    for _ in 0..3 {
        let report = part3_cost::run(&Config::quick()).unwrap();
        if report.biased_over_plain() < 3.0 {
            return;
        }
        last = Some(report);
    }
    panic!("biased owner pair much slower than plain in 3 tries: {last:?}");
}

#[test]
fn timing_parts_run_in_quick_mode() {
    let cfg = Config::quick();
    let rust = part4_rust::run(&cfg).unwrap();
    assert!(rust.rc > 0.0 && rust.arc > 0.0 && rust.arc_contended > 0.0);
    let history = part5_history::run(&cfg).unwrap();
    assert_eq!(history.updates_under_gil, 2 * cfg.refs);
    assert!(history.gil_switches >= 1);
}

#[test]
fn quick_run_prints_parseable_exact_totals() {
    let out = Command::new(env!("CARGO_BIN_EXE_refcounting"))
        .args(["--quick", "--part", "2", "--trials", "2"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let kv = parse_kv(&stdout);
    let value = |label: &str| {
        kv.iter()
            .find(|(l, _)| l == label)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no {label:?} line in:\n{stdout}"))
    };
    assert_eq!(value("GIL, plain counts exact"), "2 of 2");
    assert_eq!(value("no GIL, atomic counts exact"), "2 of 2");
    assert_eq!(value("no GIL, biased counts exact"), "2 of 2");
    assert!(value("lost incref gives").starts_with("freed too early"));
}

#[test]
fn a_part_that_does_not_exist_is_one_line_of_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_refcounting"))
        .args(["--part", "9"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--part"));
}
