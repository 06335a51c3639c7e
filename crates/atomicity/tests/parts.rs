//! Quick runs of every part, asserting what must hold on any machine: exact totals with a
//! lock or atomics, the model's check-point facts, the replayed trace for a fixed seed, and
//! the deterministic scheduler's exact figures. The two live "updates are lost" assertions
//! retry, because a real schedule decides them.

use atomicity::part2_race::Kind;
use atomicity::part4_atomic_ops::{Column, ROWS, Size, schedule};
use atomicity::setup::Config;
use atomicity::{part1_bytecode, part2_race, part3_replay, part4_atomic_ops, part5_rust};
use gil_core::Gil;
use gil_core::bytecode::{CheckPolicy, Program, run_counter};

#[test]
fn part1_counts_the_switch_points_inside_the_update() {
    let r = part1_bytecode::listings();
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
    let r = part2_race::measure(&cfg);
    let expected = cfg.threads as u64 * cfg.iterations;
    assert_eq!(r.races.len(), 6);
    for race in &r.races {
        assert_eq!(race.runs.len(), cfg.runs);
        assert_eq!(race.expected(), expected);
        assert!(race.lowest() <= expected, "{race:?}");
    }
    // The lock makes every run exact, with a GIL or without.
    for kind in [Kind::LockedGil, Kind::LockedFree, Kind::Modern] {
        assert!(r.race(kind).always_exact(), "{:?}", r.race(kind));
    }
}

#[test]
fn part2_threads_can_count_and_name_themselves() {
    let cfg = Config::quick();
    let (counts, names) = part2_race::introspect(&cfg);
    assert_eq!(counts, vec![cfg.threads; cfg.threads]);
    assert_eq!(names, ["T1", "T2", "T3", "T4"]);
}

#[test]
fn part2_expectations_are_the_schedulers_exact_figures() {
    // The tutorial's 10 x 100,000 on a 5 ms interval: (updates lost, GIL switches).
    let cfg = Config::default();
    let figures: Vec<(u64, u64)> = Kind::ALL
        .into_iter()
        .map(|kind| {
            let replay = part2_race::simulate(&cfg, kind);
            (replay.lost(), replay.switches)
        })
        .collect();
    assert_eq!(
        figures,
        [
            (368_362, 16),
            (0, 16),
            (862_788, 28),
            (808_340, 0),
            (0, 738_700),
            (0, 0)
        ]
    );
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
    let r = part3_replay::replays(&cfg);
    assert_eq!(r.every_instruction.first_lost_update_trace(), SEED_41_TRACE);
    assert_eq!(
        (r.every_instruction.total, r.every_instruction.expected),
        (68, 81)
    );
    // Same seed, same everything; a second run is identical event for event.
    let again = part3_replay::replays(&cfg);
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
    let r = part4_atomic_ops::measure(&Config::quick());
    assert_eq!(r.operations.len(), 8);
    for op in &r.operations {
        if op.atomic_under_gil {
            // GIL <=3.9, GIL 3.10+, free-threaded with per-object locks: never a violation.
            assert_eq!(op.violations[..3], [Some(0); 3], "{op:?}");
        }
    }
    let get = r.get("x = D.get(k, d)").unwrap();
    assert!(get.atomic_under_gil && !get.in_faq);
    assert!(r.get("D[k] = v").unwrap().in_faq);
    assert!(!r.get("D[k] = D.get(k, 0) + 1").unwrap().atomic_under_gil);
}

#[test]
fn part4_gil_columns_are_the_schedulers_exact_figures() {
    // Quick size, seed 41: violations under <=3.9 and 3.10+, and free-threaded with
    // per-object locks, for every row. Read-then-write rows break under the GIL whatever
    // the machine does; `L[i] = L[i] + 1` survives 3.10+ like `counter += 1`.
    let size = Size {
        threads: 4,
        ops: 20_000,
    };
    let figures: Vec<[u64; 3]> = ROWS
        .iter()
        .map(|row| {
            [Column::GilOld, Column::GilNew, Column::FreeThreaded]
                .map(|column| schedule(row, column, size, 41).0)
        })
        .collect();
    assert_eq!(figures, EXPECTED_PART4);
    for (row, figure) in ROWS.iter().zip(&figures) {
        if row.atomic_under_gil {
            assert_eq!(figure, &[0, 0, 0], "{}", row.code);
        } else {
            assert!(figure[0] > 0 && figure[2] > 0, "{}", row.code);
        }
    }
}

#[test]
fn part5_fetch_add_and_mutex_are_exact() {
    let cfg = Config::quick();
    let r = part5_rust::measure_all(&cfg);
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

/// [`part4_gil_columns_are_the_schedulers_exact_figures`]'s table.
const EXPECTED_PART4: [[u64; 3]; 8] = [
    [0, 0, 0],
    [0, 0, 0],
    [0, 0, 0],
    [0, 0, 0],
    [0, 0, 0],
    [47_354, 0, 54_473],
    [50_591, 38_746, 51_093],
    [2, 3, 6_183],
];
