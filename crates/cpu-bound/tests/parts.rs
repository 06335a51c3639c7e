//! Quick runs of every part, asserting what must hold on any machine: work done, who took the
//! GIL, exact counts. The one timing check lives in `parallel.rs`, so no other test shares the
//! cores with it.

use std::time::Duration;

use cpu_bound::setup::{Config, SCALE_RANGE, parse_scale, split};
use cpu_bound::{part1_countdown, part2_switching_overhead, part3_switch_interval};
use cpu_bound::{part4_cores, part5_old_gil};
use gil_core::measure::cores;
use gil_core::{Gil, Mode, OLD_GIL_CHECK_INTERVAL};

#[test]
fn split_shares_add_up_and_differ_by_at_most_one() {
    for (total, threads) in [(0, 1), (7, 1), (7, 2), (10, 3), (1, 8), (1_000_003, 8)] {
        let shares = split(total, threads);
        assert_eq!(shares.len(), threads);
        assert_eq!(shares.iter().sum::<u64>(), total, "{total} over {threads}");
        let (min, max) = (shares.iter().min().unwrap(), shares.iter().max().unwrap());
        assert!(max - min <= 1, "{shares:?}");
    }
}

#[test]
fn scale_is_parsed_inside_its_range_only() {
    assert_eq!(parse_scale("2"), Ok(2.0));
    assert_eq!(
        parse_scale(&SCALE_RANGE.start().to_string()),
        Ok(*SCALE_RANGE.start())
    );
    assert_eq!(
        parse_scale(&SCALE_RANGE.end().to_string()),
        Ok(*SCALE_RANGE.end())
    );
    for bad in ["0", "-1", "1e-9", "NaN", "inf", "1e300", "two", "", "4.01"] {
        assert!(parse_scale(bad).is_err(), "{bad:?} accepted");
    }
}

#[test]
fn threads_see_their_names_and_both_threads_alive() {
    for gil in [Gil::new(), Gil::with_mode(Mode::FreeThreaded)] {
        let seen = part1_countdown::introspect(&gil);
        assert_eq!(seen, [("T1".to_owned(), 2), ("T2".to_owned(), 2)]);
        assert_eq!(gil.active_count(), 0, "both threads have ended");
    }
}

#[test]
fn part1_gil_threads_take_turns_and_free_threads_never_switch() {
    // A 1 ms interval: the threads need to overlap for only a millisecond before a waiter
    // asks, even if the machine is busy and one thread starts late.
    let cfg = Config {
        switch_interval: Duration::from_millis(1),
        ..Config::quick()
    };
    let r = part1_countdown::measure(&cfg).unwrap();
    for trial in [&r.gil_one, &r.gil_two, &r.free_one, &r.free_two] {
        assert_eq!(trial.work_done, 2 * r.n, "every countdown step was done");
    }
    // Two threads overlapping for many switch intervals: a waiter must have asked.
    assert!(r.gil_two.stats.forced_switches > 0, "{:?}", r.gil_two.stats);
    assert!(r.gil_two.stats.drop_requests > 0);
    // Mutual exclusion: GIL holds never overlap, so together they fit in the wall time.
    assert!(r.gil_two.total_held() <= r.gil_two.wall);
    // Both threads appear in the timeline, each with holds of its own.
    let timeline = r.timeline();
    let names: Vec<&str> = timeline.threads().iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names.len(), 2);
    assert!(names.contains(&"T1") && names.contains(&"T2"), "{names:?}");
    for life in timeline.threads() {
        assert!(timeline.spans().iter().any(|s| s.thread == life.thread));
    }
    assert!(!timeline.contended_holds().is_empty());
    let chart = timeline.render(40);
    assert!(chart.contains("T1 ") && chart.contains("T2 ") && chart.contains('█'));
    // Free-threaded: nothing to hand over.
    for trial in [&r.free_one, &r.free_two] {
        assert_eq!(trial.stats.switches, 0);
        assert_eq!(trial.stats.forced_switches, 0);
        assert_eq!(trial.stats.drop_requests, 0);
    }
}

#[test]
fn part2_every_thread_takes_the_gil_and_does_its_share() {
    let r = part2_switching_overhead::measure(&Config::quick()).unwrap();
    let counts: Vec<usize> = r.rows.iter().map(|t| t.threads).collect();
    assert_eq!(counts, part2_switching_overhead::THREAD_COUNTS);
    for row in &r.rows {
        assert_eq!(row.work_done, r.total);
        assert_eq!(row.stats.threads.len(), row.threads);
        // Each thread's first take moves the GIL to it: at least one switch per thread.
        assert!(row.stats.switches >= row.threads as u64, "{:?}", row.stats);
        assert!(row.stats.threads.iter().all(|t| t.acquisitions >= 1));
        assert!(row.total_held() <= row.wall);
    }
    let alone = &r.rows[0].stats;
    assert_eq!((alone.switches, alone.forced_switches), (1, 0));
}

#[test]
fn part2_free_threaded_has_no_switches() {
    let cfg = Config {
        free_threaded: true,
        ..Config::quick()
    };
    let r = part2_switching_overhead::measure(&cfg).unwrap();
    for row in &r.rows {
        assert_eq!(row.work_done, r.total);
        assert_eq!(row.stats.switches, 0);
        assert_eq!(row.stats.forced_switches, 0);
    }
}

#[test]
fn part3_a_shorter_interval_switches_more() {
    let r = part3_switch_interval::measure(&Config::quick()).unwrap();
    let intervals: Vec<Duration> = r.rows.iter().map(|row| row.interval).collect();
    assert_eq!(
        intervals,
        part3_switch_interval::INTERVALS_US.map(Duration::from_micros)
    );
    for row in &r.rows {
        assert_eq!(row.trial.work_done, r.total);
        assert_eq!(row.trial.stats.switch_interval, row.interval);
    }
    let (shortest, longest) = (&r.rows[0].trial.stats, &r.rows[3].trial.stats);
    assert!(
        shortest.switches > longest.switches,
        "0.1 ms: {} switches, 50 ms: {}",
        shortest.switches,
        longest.switches
    );
    assert!(shortest.forced_switches > 0);
}

#[test]
fn part4_thread_counts_follow_the_cores() {
    assert_eq!(part4_cores::thread_counts(1), [1, 2]);
    assert_eq!(part4_cores::thread_counts(2), [1, 2, 4]);
    assert_eq!(part4_cores::thread_counts(8), [1, 8, 16]);
    let r = part4_cores::measure(&Config::quick()).unwrap();
    assert_eq!(r.cores, cores());
    let counts: Vec<usize> = r.rows.iter().map(|row| row.trial.threads).collect();
    assert_eq!(counts, part4_cores::thread_counts(r.cores));
    for row in &r.rows {
        assert_eq!(row.trial.work_done, r.total);
        assert_eq!(row.ideal, row.trial.threads.min(r.cores) as f64);
        assert_eq!(row.trial.stats.switches, 0);
    }
}

#[test]
fn part5_old_gil_releases_every_hundred_ticks_exactly() {
    let r = part5_old_gil::measure(&Config::quick(), part5_old_gil::calibrate()).unwrap();
    assert!(r.calibration.work_per_tick >= 1);
    assert!(r.calibration.tick > Duration::ZERO);
    for trial in [&r.old_one, &r.old_two, &r.new_one, &r.new_two] {
        assert_eq!(trial.work_done, r.ticks);
    }
    // A thread releases and retakes the GIL once per 100 of its ticks, on top of its first take.
    let every = u64::from(OLD_GIL_CHECK_INTERVAL);
    for trial in [&r.old_one, &r.old_two] {
        let expected: u64 = split(r.ticks, trial.threads)
            .iter()
            .map(|s| 1 + s / every)
            .sum();
        let takes: u64 = trial.stats.threads.iter().map(|t| t.acquisitions).sum();
        assert_eq!(takes, expected);
        // The old GIL never asks and never forces.
        assert_eq!(trial.stats.drop_requests, 0);
        assert_eq!(trial.stats.forced_switches, 0);
    }
    assert_eq!(
        r.old_one.stats.switches, 1,
        "a lone thread only ever retakes"
    );
    assert_eq!(r.new_one.stats.switches, 1);
    assert_eq!(r.new_one.stats.forced_switches, 0);
}
