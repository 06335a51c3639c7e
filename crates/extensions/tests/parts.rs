//! Each part's figures: exact on the simulator, and the live deadlocks found as deadlocks.

use extensions::part3_shared_object::{WAYS, Way, interleave};
use extensions::{Config, part1_lock_order, part2_workers, part4_stop_the_world};
use gil_core::sim::Held;

/// Cores the simulator assumes in these tests.
const CORES: usize = 2;

#[test]
fn part1_simulated_the_attached_wait_is_a_cycle_and_detached_waits_are_not() {
    let f = part1_lock_order::simulated(&Config::quick(), CORES);
    assert_eq!(f.attached.stuck, 2);
    let cycle: Vec<_> = f
        .attached
        .blocked
        .iter()
        .map(|b| (b.thread.as_str(), b.waits_for, b.held_by.as_deref()))
        .collect();
    assert_eq!(
        cycle,
        [
            ("T1", Held::Gil, Some("T2")),
            ("T2", Held::Lock(0), Some("T1"))
        ]
    );
    assert_eq!(f.detached.stuck, 0);
    assert!(f.detached.t2_done.is_some());
}

#[test]
fn part1_live_attached_is_stuck_and_both_fixes_are_not() {
    let f = part1_lock_order::live(&Config::quick());
    assert_eq!(
        f.attached.stuck, 2,
        "T2 timed out and T1 resumed only after"
    );
    assert_eq!(f.attached.t2_done, None);
    assert_eq!((f.detached.stuck, f.once_lock.stuck), (0, 0));
    assert!(f.detached.t2_done.is_some() && f.once_lock.t2_done.is_some());
}

#[test]
fn part1_without_a_gil_nobody_is_stuck() {
    let mut cfg = Config::quick();
    cfg.gil.free_threaded = true;
    assert_eq!(part1_lock_order::simulated(&cfg, CORES).attached.stuck, 0);
    assert_eq!(part1_lock_order::live(&cfg).attached.stuck, 0);
}

#[test]
fn part2_joining_attached_strands_every_worker() {
    let cfg = Config {
        workers: 3,
        ..Config::quick()
    };
    let sim = part2_workers::simulated(&cfg, CORES);
    assert_eq!(sim.attached.stuck_workers, 3);
    assert!(sim.attached.caller_stuck);
    assert_eq!(sim.detached.stuck_workers, 0);
    let live = part2_workers::live(&cfg);
    assert_eq!(live.attached.stuck_workers, 3);
    assert!(live.attached.caller_stuck);
    assert_eq!(live.detached.stuck_workers, 0);
}

#[test]
fn part3_interleaving_loses_with_borrows_and_never_with_frozen_ways() {
    for seed in 1..=5 {
        let get_set = interleave(Way::GetSet, 2, 2000, seed);
        assert!(get_set.refused > 0 && get_set.lost > 0, "{get_set:?}");
        let mut_self = interleave(Way::MutSelf, 2, 2000, seed);
        assert!(mut_self.refused > 0 && mut_self.lost == 0, "{mut_self:?}");
        for way in [Way::FrozenAtomic, Way::FrozenMutex] {
            let t = interleave(way, 3, 2000, seed);
            assert_eq!((t.count, t.refused, t.lost), (6000, 0, 0), "{way:?}");
        }
    }
    assert_eq!(WAYS.len(), 4);
}

#[test]
fn part3_live_frozen_ways_are_exact() {
    let f = extensions::part3_shared_object::live(&Config::quick());
    let total = Config::quick().calls * 2;
    assert_eq!(f.tallies[2].count, total);
    assert_eq!(f.tallies[3].count, total);
    for t in &f.tallies {
        assert_eq!(t.count + t.refused + t.lost, total, "{t:?}");
    }
}

#[test]
fn part4_simulated_pause_waits_for_the_attached_call_only() {
    let cfg = Config::quick();
    let f = part4_stop_the_world::simulated(&cfg, CORES);
    // Most of the call's rest after the request (the requester may start a slice late).
    let rest = (cfg.long_call - cfg.long_call / 5) * 9 / 10;
    assert!(f.attached.time_to_stop >= rest, "{:?}", f.attached);
    assert!(f.attached.python_stalled >= rest, "{:?}", f.attached);
    assert!(f.detached.time_to_stop < std::time::Duration::from_micros(50));
}

#[derive(clap::Parser)]
struct Cli {
    #[command(flatten)]
    lesson: gil_core::lesson::LessonArgs,
}

#[test]
fn the_whole_lesson_runs_simulated_through_its_table_and_every_part_states_what_held() {
    use clap::Parser as _;
    let args = Cli::try_parse_from(["extensions", "--simulated", "--cores", "2"])
        .unwrap()
        .lesson;
    let cx = gil_core::lesson::run(&extensions::LESSON, &args, &Config::quick()).unwrap();
    let made = cx.claims();
    assert_eq!(made.len(), 9, "{made:?}");
    assert!(made.iter().all(|c| c.held), "{made:?}");
    for part in 1..=4 {
        assert!(made.iter().any(|c| c.part == part), "part {part}");
    }
}
