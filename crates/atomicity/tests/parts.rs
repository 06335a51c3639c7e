//! Quick runs of every part, asserting what must hold on any machine: exact totals with a
//! lock or atomics, the model's check-point facts, the replayed trace for a fixed seed. The
//! two "updates are lost" assertions retry, because a real schedule decides them.

use atomicity::setup::Config;
use atomicity::{part1_bytecode, part2_race, part3_replay, part4_atomic_ops, part5_rust};
use gil_core::Gil;
use gil_core::bytecode::{CheckPolicy, Program, run_counter};

#[test]
fn part1_counts_the_switch_points_inside_the_update() {
    let r = part1_bytecode::run().unwrap();
    assert_eq!(r.window_check_points, [2, 0, 1]);
    assert!(
        r.listing_old.contains("BINARY_OP        13 (+=)"),
        "{}",
        r.listing_old
    );
    assert!(!r.listing_old.contains("BINARY_ADD"));
    assert_eq!(r.listing_old.matches("<- switch possible").count(), 5);
    assert_eq!(r.listing_new.matches("<- switch possible").count(), 1);
    assert!(r.listing_call.contains("CALL             0"));
}

#[test]
fn part2_a_lock_is_exact_and_the_modern_plain_loop_never_loses() {
    let cfg = Config::quick();
    let r = part2_race::run(&cfg).unwrap();
    let expected = cfg.threads as u64 * cfg.iterations;
    for race in r.races() {
        assert_eq!(race.runs.len(), cfg.runs);
        assert_eq!(race.expected(), expected);
        assert!(race.lowest() <= expected, "{race:?}");
    }
    // The lock makes every run exact, with a GIL or without.
    assert!(r.locked_gil.always_exact(), "{:?}", r.locked_gil);
    assert!(r.locked_free.always_exact(), "{:?}", r.locked_free);
    // Under the GIL with 3.10+'s check points no switch can fall inside `counter += 1`.
    assert!(r.back_edges.always_exact(), "{:?}", r.back_edges);
}

#[test]
fn every_instruction_check_points_really_lose_updates() {
    // The tutorial's sizes on the default 5 ms interval: a handful of hand-offs per run, each
    // with a fair chance of landing inside the update. Retry, in case a run is unlucky.
    let lost = (0..5).any(|_| {
        let run = run_counter(
            &Gil::new(),
            &Program::increment(),
            CheckPolicy::EveryInstruction,
            10,
            100_000,
        );
        assert!(run.total <= 1_000_000);
        run.lost() > 0
    });
    assert!(
        lost,
        "10 x 100,000 with <=3.9 check points never lost an update in 5 runs"
    );
}

#[test]
fn a_call_between_read_and_write_loses_updates_under_the_modern_policy() {
    let lost = (0..5).any(|_| {
        let gil = Gil::new();
        gil.set_switch_interval(std::time::Duration::from_micros(200))
            .unwrap();
        let run = run_counter(
            &gil,
            &Program::read_call_write(),
            CheckPolicy::BackEdgesAndCalls,
            4,
            100_000,
        );
        run.lost() > 0
    });
    assert!(lost, "read-call-write never lost an update in 5 runs");
}

/// The replay of seed 41, exactly as part 3 prints it (indentation aside).
const SEED_41_TRACE: &str = "\
T1    4  LOAD_GLOBAL counter -> 41
      --- GIL: T1 -> T2 ---
T2    0  FOR_ITER (to 14)
T2    2  STORE_FAST 0 (_)
T2    4  LOAD_GLOBAL counter -> 41
T2    6  LOAD_CONST (1)
T2    8  BINARY_OP 13 (+=)
      --- GIL: T2 -> T1 ---
T1    6  LOAD_CONST (1)
T1    8  BINARY_OP 13 (+=)
T1   10  STORE_GLOBAL counter = 42
T1   12  JUMP_BACKWARD (to 0)
      --- GIL: T1 -> T2 ---
T2   10  STORE_GLOBAL counter = 42
";

#[test]
fn part3_replays_the_same_trace_for_a_fixed_seed() {
    let cfg = Config {
        seed: 41,
        ..Config::quick()
    };
    let r = part3_replay::run(&cfg).unwrap();
    assert_eq!(r.every_instruction.first_lost_update_trace(), SEED_41_TRACE);
    assert_eq!(
        (r.every_instruction.total, r.every_instruction.expected),
        (68, 81)
    );
    // Same seed, same everything; a second run is identical event for event.
    let again = part3_replay::run(&cfg).unwrap();
    assert_eq!(again.every_instruction, r.every_instruction);
    assert_eq!(again.read_call_write, r.read_call_write);
    // 3.10+'s check points: the plain loop is exact, the call reopens the window.
    assert_eq!(r.back_edges.total, r.back_edges.expected);
    assert!(r.back_edges.lost_updates.is_empty());
    assert!(r.read_call_write.lost() > 0);
    assert!(
        r.read_call_write
            .first_lost_update_trace()
            .contains("CALL 0\n      --- GIL")
    );
}

#[test]
fn part4_single_operations_never_break_under_the_gil_or_with_object_locks() {
    let r = part4_atomic_ops::run(&Config::quick()).unwrap();
    assert_eq!(r.operations.len(), 8);
    for op in &r.operations {
        if op.atomic_under_gil {
            // GIL <=3.9, GIL 3.10+, free-threaded with per-object locks: never a violation.
            assert_eq!(op.violations[..3], [0, 0, 0], "{op:?}");
        }
    }
    let get = r.get("x = D.get(k, d)").unwrap();
    assert!(get.atomic_under_gil && get.tutorial_differs);
    assert!(!r.get("D[k] = D.get(k, 0) + 1").unwrap().atomic_under_gil);
}

#[test]
fn part4_read_then_write_operations_do_break() {
    // Full-size hammers: long enough for many hand-offs. Retry, in case a run is unlucky.
    let cfg = Config::default();
    let broke = (0..3).any(|_| {
        let r = part4_atomic_ops::run(&cfg).unwrap();
        let list = r.get("L[i] = L[i] + 1").unwrap();
        let get_then_store = r.get("D[k] = D.get(k, 0) + 1").unwrap();
        // 3.10+ has no check point inside `L[i] = L[i] + 1`: like counter += 1, never loses.
        assert_eq!(list.violations[1], 0, "{list:?}");
        list.violations[0] > 0 && get_then_store.violations[1] > 0
    });
    assert!(broke, "read-then-write never broke under the GIL in 3 runs");
}

#[test]
fn part5_fetch_add_and_mutex_are_exact() {
    let cfg = Config::quick();
    let r = part5_rust::run(&cfg).unwrap();
    let expected = r.threads as u64 * r.increments;
    assert!(r.threads >= 2);
    for kind in [&r.fetch_add, &r.mutex] {
        assert_eq!(kind.total, expected, "{kind:?}");
    }
    assert!(r.load_store.total <= expected);
    for kind in [&r.load_store, &r.fetch_add, &r.mutex] {
        assert!(kind.alone_ns > 0.0 && kind.contended_ns > 0.0, "{kind:?}");
    }
}
