//! Lesson 5's parts in `--quick` mode: the facts they must get right every time.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use clap::Parser;
use gil_core::context::Cx;
use gil_core::part::Part;
use gil_core::session::Session;
use workarounds::part1_processes::{process_exists, wait_until_gone};
use workarounds::part4_free_threading::FreeThreading;
use workarounds::pool::{Output, ProcessPool, Task};
use workarounds::{Cli, Config, close};

/// The lesson binary: workers are started from it (the test binary has no worker mode).
fn exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_workarounds"))
}

/// The configuration these flags give, as the binary would build it.
fn config(args: &[&str]) -> Config {
    let cli =
        Cli::try_parse_from(std::iter::once("workarounds").chain(args.iter().copied())).unwrap();
    cli.config(exe()).unwrap()
}

fn quick() -> Config {
    config(&["--quick", "--workers", "2"])
}

#[test]
fn processes_return_the_same_results_as_one_thread() {
    let r = workarounds::part1_processes::measure(&quick()).unwrap();
    assert_eq!(r.expected.len(), 4);
    assert_eq!(r.from_map, r.expected);
    assert_eq!(r.from_futures, r.expected);
    // sum(i * i for i in range(n)) = (n-1) n (2n-1) / 6, as long as it does not wrap.
    let n = u128::from(quick().items);
    let exact = (n - 1) * n * (2 * n - 1) / 6;
    assert_eq!(u128::from(r.expected[0]), exact);
    for pid in r.pids {
        assert!(
            !process_exists(pid),
            "worker {pid} still exists after the part ended"
        );
    }
}

#[test]
fn pool_map_keeps_task_order_with_any_chunk_size() {
    let pool = ProcessPool::start(&exe(), 2).unwrap();
    let tasks: Vec<Task> = (0..50).map(|n| Task::SumOfSquares { n }).collect();
    let expected: Vec<Output> = (0..50u64)
        .map(|n| Output::Int((0..n).map(|i| i * i).sum()))
        .collect();
    for chunksize in [1, 3, 7, 50, 100] {
        assert_eq!(
            pool.map(tasks.clone(), chunksize).unwrap(),
            expected,
            "chunksize {chunksize}"
        );
    }
    let shutdown = pool.shutdown().unwrap();
    assert_eq!(shutdown.exits.len(), 2);
    assert!(shutdown.exits.iter().all(|(_, status)| status.success()));
}

#[test]
fn a_worker_killed_mid_task_is_reported_and_no_process_is_left() {
    let pool = ProcessPool::start(&exe(), 2).unwrap();
    let pids = pool.pids().to_vec();
    let future = pool.submit(Task::Sleep { ms: 30_000 });
    let worker = loop {
        if let Some(worker) = future.running_on() {
            break worker;
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    std::thread::sleep(Duration::from_millis(20));
    pool.kill_worker(worker).unwrap();
    let error = format!("{:#}", future.result().unwrap_err());
    assert!(error.contains("broken process pool"), "{error}");
    assert!(error.contains(&pids[worker].to_string()), "{error}");
    assert!(error.contains("signal: 9"), "{error}");
    // The pool is broken: further work is refused, not hung.
    let refused = pool.submit(Task::SumOfSquares { n: 3 }).result();
    assert!(refused.is_err());
    // Another worker is still busy for 30 s; dropping the pool must not wait for it.
    let busy = pool.submit(Task::Sleep { ms: 30_000 });
    drop(pool);
    assert!(busy.result().is_err());
    wait_until_gone(&pids, Duration::from_secs(2)).unwrap();
}

#[test]
fn a_panicking_worker_is_reported() {
    let pool = ProcessPool::start(&exe(), 1).unwrap();
    let pids = pool.pids().to_vec();
    let error = format!("{:#}", pool.submit(Task::Panic).result().unwrap_err());
    assert!(error.contains("exit status: 101"), "{error}");
    drop(pool);
    wait_until_gone(&pids, Duration::from_secs(2)).unwrap();
}

/// The binary itself: a killed worker makes the lesson report it and exit non-zero, and the
/// pids it printed are gone afterwards.
#[test]
fn the_lesson_exits_non_zero_when_a_worker_is_killed_and_leaves_no_orphans() {
    let output = Command::new(exe())
        .args(["--quick", "--part", "1", "--inject-failure", "kill"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stdout}\n{stderr}");
    assert!(stderr.contains("a worker died"), "{stderr}");
    let kv = gil_core::report::parse_kv(&stdout);
    let get = |label: &str| {
        kv.iter()
            .find(|(l, _)| l == label)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no '{label}' line in\n{stdout}"))
    };
    assert!(
        stdout.contains("The pool reports: broken process pool"),
        "{stdout}"
    );
    assert!(stdout.contains("signal: 9"), "{stdout}");
    assert!(gil_core::report::widest_line(&stdout) <= gil_core::report::WIDTH);
    assert_eq!(get("workers left running"), "none");
    let pids: Vec<u32> = get("worker pids")
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    assert!(!pids.is_empty());
    wait_until_gone(&pids, Duration::from_secs(2)).unwrap();
}

#[test]
fn gil_released_pool_sums_match_and_hold_the_gil_almost_never() {
    // Hold times are timings: a thread preempted by the OS while it briefly holds the GIL
    // looks like a long hold, so allow three attempts with a generous margin.
    let mut last = String::new();
    for _ in 0..3 {
        let r = workarounds::part2_numpy::measure(&quick()).unwrap();
        for size in &r.sizes {
            for sums in [&size.released_sums, &size.holding_sums] {
                assert_eq!(sums.len(), size.sums.len());
                for (a, b) in sums.iter().zip(&size.sums) {
                    assert!(close(*a, *b, 1e-12), "{a} vs {b}");
                }
            }
        }
        let size = r.sizes.iter().find(|s| s.name == "long").unwrap();
        // Released: the threads hold the GIL only around each call, never during it.
        // Not released: they hold it through the work.
        if size.released_held * 5 < size.released_detached
            && size.holding_held > size.released_held * 5
        {
            return;
        }
        last = format!("{size:?}");
    }
    panic!("the GIL-released pool held the GIL too long: {last}");
}

#[test]
fn prange_sum_equals_the_sequential_sum_and_frees_other_threads() {
    let cfg = quick();
    let r = workarounds::part3_nogil_prange::measure(&cfg, cfg.array_len).unwrap();
    assert!(close(r.prange.total, r.with_gil.total, 1e-9));
    assert_eq!(r.nogil.total, r.with_gil.total);
    // Holding the GIL through a loop with no check point starves the other Python thread.
    assert_eq!(r.with_gil.other_thread_steps, 0);
    assert_eq!(r.with_gil.other_thread_share, 0.0);
}

#[test]
fn prange_passes_add_up_every_pass() {
    use workarounds::part3_nogil_prange::{hot_pool, prange_passes, typed_loop};
    let values = workarounds::random_array(300_000, 5).to_vec();
    let one = typed_loop(&values);
    assert!(close(prange_passes(&values, 3), 3.0 * one, 1e-9));
    assert!(close(prange_passes(&values, 1), one, 1e-9));
    // With the pool's other threads held spinning, the timed work still runs and returns.
    let hot = hot_pool(|| prange_passes(&values, 2));
    assert!(close(hot, 2.0 * one, 1e-9));
}

#[test]
fn free_threading_part_runs_and_shares_the_work() {
    let cx = Cx::new(Session::default());
    let f = FreeThreading.live(&cx, &quick()).unwrap();
    assert_eq!(f.total, quick().items * 2);
    assert!(f.threads >= 2);
    let (one, many) = f.live.unwrap();
    assert!(one > Duration::ZERO && many > Duration::ZERO);
}

#[test]
fn subinterpreters_receive_what_was_sent() {
    let r = workarounds::part5_subinterpreters::measure(&quick(), 2).unwrap();
    assert_eq!(r.received_sum, r.expected_sum);
    let n = quick().array_len as u64;
    assert_eq!(r.received_sum, n * (n - 1) / 2);
}

#[test]
fn graalpy_has_a_gil() {
    let table = workarounds::part6_decision_guide::IMPLEMENTATIONS;
    let graal = table.iter().find(|i| i.name == "GraalPy").unwrap();
    assert_eq!(graal.has_gil, "yes");
}

#[test]
fn every_part_runs_quickly_from_the_command_line() {
    let output = Command::new(exe()).arg("--quick").output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for part in 1..=6 {
        assert!(
            stdout.contains(&format!("Part {part}: ")),
            "part {part} missing:\n{stdout}"
        );
    }
}
