//! Every part in `--quick` mode, asserting what must hold on any machine: exact counts, the
//! lower bounds that mutual exclusion guarantees, and clean-up. Timing ratios only with generous
//! margins and retries, since the machine is shared.

use std::sync::{Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

use gil_core::echo::{Behaviour, LoopbackServer, expected_reply, fetch};
use io_bound::part6_release_table::Operation;
use io_bound::{
    Config, default_gil_args, part1_downloads, part2_real_io, part3_forgot_to_release, part4_mixed,
    part5_convoy, part6_release_table,
};

/// The experiments time themselves; running two at once would disturb both.
fn one_at_a_time() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

fn quick() -> Config {
    Config::quick(default_gil_args())
}

/// Run `attempt` up to three times; pass as soon as one returns true.
fn with_retries(what: &str, mut attempt: impl FnMut() -> bool) {
    for _ in 0..3 {
        if attempt() {
            return;
        }
    }
    panic!("{what}: failed three times in a row");
}

#[test]
fn tcp_server_answers_many_concurrent_clients_each_with_its_own_payload() {
    let server = LoopbackServer::start(Behaviour::Delayed(Duration::from_millis(30))).unwrap();
    let clients = 12;
    let replies: Vec<(String, String)> = thread::scope(|s| {
        let handles: Vec<_> = (0..clients)
            .map(|i| {
                let server = &server;
                s.spawn(move || {
                    let request = format!("GET /client-{i}");
                    let reply = fetch(server.addr(), &request).unwrap();
                    (request, reply)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (request, reply) in &replies {
        assert_eq!(reply, &expected_reply(request));
    }
    assert_eq!(server.shutdown().unwrap(), clients);
}

#[test]
fn sleeping_downloads_hold_the_gil_for_almost_none_of_the_sleep() {
    let _serial = one_at_a_time();
    let r = part1_downloads::measure(&quick()).unwrap();
    let slept = r.delay * r.downloads as u32;
    assert!(r.overlap.detached >= slept, "{:?}", r.overlap);
    // Sequential sleeps cannot be shorter than their sum.
    assert!(r.sequential >= slept);
    // A holder preempted by a busy OS can inflate its hold, hence the retries.
    with_retries("the GIL is held for a sliver of the sleep", || {
        let r = part1_downloads::measure(&quick()).unwrap();
        r.overlap.held * 10 < slept
    });
    with_retries("threaded downloads beat sequential ones", || {
        let r = part1_downloads::measure(&quick()).unwrap();
        r.speedup() > 1.5
    });
}

#[test]
fn real_io_gets_every_reply_right_and_leaves_no_files() {
    let _serial = one_at_a_time();
    let r = part2_real_io::measure(&quick()).unwrap();
    let live = r.live.unwrap();
    assert_eq!(live.requests_sent, 2 * r.tasks);
    assert_eq!(live.correct_replies, live.requests_sent);
    assert_eq!(live.served, live.requests_sent as u64);
    assert_eq!(live.file_bytes, 256 * 1024);
    assert!(!live.scratch_dir_left);
    // The waits are in detach: the GIL is held for a small part of the network run.
    with_retries("network waits are spent with the GIL released", || {
        part2_real_io::measure(&quick())
            .unwrap()
            .network
            .overlap
            .held_share()
            < 0.1
    });
}

#[test]
fn blocking_while_holding_the_gil_takes_at_least_the_sum_of_all_waits() {
    let _serial = one_at_a_time();
    let cfg = quick();
    let r = part3_forgot_to_release::measure(&cfg).unwrap();
    let calls = r.threads * part3_forgot_to_release::CALLS_PER_THREAD;
    assert_eq!(r.correct_replies, Some((2 * calls, 2 * calls)));
    // Each wait lies inside one hold and holds never overlap: a lower bound, not a timing.
    assert!(
        r.held.wall >= r.sum_of_waits,
        "{:?} < {:?}",
        r.held.wall,
        r.sum_of_waits
    );
    assert!(r.held.overlap.held >= r.sum_of_waits);
    with_retries("releasing holds the GIL briefly and beats holding", || {
        let r = part3_forgot_to_release::measure(&cfg).unwrap();
        r.released.overlap.held * 10 < r.sum_of_waits && r.released.wall * 3 < r.held.wall * 2
    });
}

#[test]
fn mixed_workload_never_runs_two_cpu_phases_at_once_but_overlaps_the_sleeps() {
    let _serial = one_at_a_time();
    let r = part4_mixed::measure(&quick()).unwrap().run;
    assert_eq!(r.phases.len(), part4_mixed::WORKERS);
    // Under the GIL the total hold cannot exceed the stretch of time the holds fell in.
    let first = r.phases.iter().map(|p| p.cpu_start).min().unwrap();
    let last = r.phases.iter().map(|p| p.io_end).max().unwrap();
    assert!(r.overlap.held <= last - first + Duration::from_millis(1));
    assert!(r.timeline.render(64).contains('█'));
    assert_eq!(r.timeline.threads().len(), 3, "one lane per worker");
    with_retries("sleeps overlap", || {
        part4_mixed::measure(&quick()).unwrap().io_overlap > 1.5
    });
}

#[test]
fn convoy_experiment_completes_every_round_trip_and_stops_its_spinner() {
    let _serial = one_at_a_time();
    let cfg = quick();
    // Returning at all proves the CPU thread was stopped (the scope joins it).
    let r = part5_convoy::measure(&cfg).unwrap();
    for m in [&r.alone, &r.beside, &r.beside_short] {
        assert_eq!(m.ops, cfg.ops);
    }
    assert_eq!(r.short_interval, Duration::from_millis(1));
    // Alone, nobody can take the GIL from the I/O thread; beside the spinner, it can lose it at
    // each of its two releases and one check point per round trip, and each loss is a switch.
    assert_eq!(r.alone.lost_share, 0.0);
    assert!(!r.switches_and_wins.is_empty());
    for &(switches, wins) in &r.switches_and_wins {
        assert!(wins <= 3 * cfg.ops as u64, "{wins}");
        assert!(switches >= wins, "{switches} < {wins}");
    }
    let names: Vec<&str> = r
        .timeline
        .threads()
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    assert!(names.contains(&"cpu") && names.contains(&"io"), "{names:?}");
}

#[test]
fn release_table_releases_exactly_for_io_and_native_code() {
    let _serial = one_at_a_time();
    with_retries("the measured table matches the tutorial's", || {
        let r = part6_release_table::measure(&quick()).unwrap();
        assert_eq!(r.rows.len(), Operation::ALL.len());
        r.rows.iter().all(|row| {
            let expected = !matches!(
                row.operation,
                Operation::PureComputation | Operation::ObjectManipulation
            );
            row.released() == expected
        })
    });
}

#[test]
fn under_the_gil_computation_never_overlaps() {
    let _serial = one_at_a_time();
    let r = part6_release_table::measure(&quick()).unwrap();
    for row in &r.rows {
        if !row.released() {
            // Busy time counts only holds here, and holds exclude each other.
            assert!(row.overlap.ratio() < 1.05, "{row:?}");
        }
    }
}

#[derive(clap::Parser)]
struct Cli {
    #[command(flatten)]
    lesson: gil_core::lesson::LessonArgs,
}

#[test]
fn the_whole_lesson_runs_simulated_through_its_part_table_and_every_claim_holds() {
    use clap::Parser as _;
    let _serial = one_at_a_time();
    let args = Cli::try_parse_from(["io-bound", "--simulated", "--quick"])
        .unwrap()
        .lesson;
    let cx =
        gil_core::lesson::run(&io_bound::LESSON, &args, &Config::quick(args.gil.clone())).unwrap();
    let made = cx.claims();
    assert_eq!(made.len(), 12);
    assert!(made.iter().all(|c| c.held), "{made:?}");
    // At least one claim per part.
    for part in 1..=6 {
        assert!(made.iter().any(|c| c.part == part), "part {part}");
    }
}
