//! Behaviour the lessons rely on: mutual exclusion, drop requests, forced switching, panics,
//! and real parallelism when free-threaded.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Barrier, mpsc};
use std::time::{Duration, Instant};

use gil_core::{Gil, GilGuard, Mode, measure, work};

/// Marks "this thread is running bytecode" between two check points and fails if another
/// thread already is.
struct HolderCell(AtomicU64);

impl HolderCell {
    fn enter(&self, me: u64) {
        let previous = self.0.swap(me, SeqCst);
        assert_eq!(
            previous, 0,
            "thread {me} runs bytecode while thread {previous} does"
        );
    }

    fn leave(&self, me: u64) {
        assert_eq!(self.0.swap(0, SeqCst), me);
    }
}

/// Run 8 threads that mix check points and detach until the GIL has changed hands
/// `hand_offs` times, asserting that no two of them are ever between check points at once.
fn hammer(gil: &Gil, hand_offs: u64) {
    let cell = HolderCell(AtomicU64::new(0));
    let done = AtomicBool::new(false);
    let deadline = Instant::now() + Duration::from_secs(120);
    gil.run_threads(8, |i, py| {
        let me = i as u64 + 1;
        let mut step = 0u64;
        while !done.load(SeqCst) {
            cell.enter(me);
            std::hint::black_box(step);
            cell.leave(me);
            if step % 3 == 0 {
                py.detach(std::thread::yield_now);
            } else {
                py.check_point();
            }
            step += 1;
            if step % 64 == 0 && i == 0 {
                let switches = gil.stats().switches;
                assert!(
                    Instant::now() < deadline,
                    "only {switches} hand-offs in 120 s"
                );
                if switches >= hand_offs {
                    done.store(true, SeqCst);
                }
            }
        }
    });
    assert!(gil.stats().switches >= hand_offs);
}

#[test]
fn only_one_thread_holds_the_gil_across_100k_hand_offs() {
    let gil = Gil::new();
    gil.set_switch_interval(Duration::from_micros(50)).unwrap();
    hammer(&gil, 100_000);
}

#[test]
fn the_old_gil_is_a_lock_too() {
    hammer(&Gil::old_gil(3), 20_000);
}

/// A holder that only ever reaches check points, never releasing on its own.
fn spin_until(py: &mut GilGuard<'_>, stop: &AtomicBool) {
    while !stop.load(SeqCst) {
        work::countdown(py, 1_000);
    }
}

#[test]
fn a_drop_request_lets_a_waiter_in_within_a_few_switch_intervals() {
    let gil = Gil::new();
    let interval = Duration::from_millis(5);
    gil.set_switch_interval(interval).unwrap();
    let stop = AtomicBool::new(false);
    let holder_running = Barrier::new(2);
    let waited = std::thread::scope(|s| {
        s.spawn(|| {
            let mut py = gil.acquire("spinner");
            holder_running.wait();
            spin_until(&mut py, &stop);
        });
        holder_running.wait();
        let asked = Instant::now();
        let py = gil.acquire("waiter");
        let waited = asked.elapsed();
        stop.store(true, SeqCst);
        drop(py);
        waited
    });
    // One interval to time out and ask, then the holder's next check point: generous bound.
    assert!(waited < interval * 40, "waiter waited {waited:?}");
    let stats = gil.stats();
    assert!(stats.drop_requests >= 1, "{stats:?}");
    assert!(stats.forced_switches >= 1, "{stats:?}");
}

#[test]
fn a_forced_out_holder_does_not_retake_the_gil_before_the_waiter_has_it() {
    let gil = Gil::new();
    gil.set_switch_interval(Duration::from_millis(1)).unwrap();
    let waiter_has_it = AtomicBool::new(false);
    let holder_running = Barrier::new(2);
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut py = gil.acquire("spinner");
            holder_running.wait();
            loop {
                let forced_before = py.stats().forced_drops;
                py.check_point();
                if py.stats().forced_drops > forced_before {
                    // We were forced out and are running again: the waiter must have had it.
                    assert!(waiter_has_it.load(SeqCst), "holder retook the GIL first");
                    break;
                }
            }
        });
        holder_running.wait();
        let _py = gil.acquire("waiter");
        waiter_has_it.store(true, SeqCst);
    });
}

#[test]
fn a_panicking_holder_releases_the_gil() {
    let gil = Gil::new();
    let result = std::thread::scope(|s| {
        s.spawn(|| {
            let mut py = gil.acquire("doomed");
            py.check_point();
            panic!("model thread crashed while holding the GIL");
        })
        .join()
    });
    assert!(result.is_err());
    // Another thread still gets the GIL (a deadlock would hang: bound it with a channel).
    let (tx, rx) = mpsc::channel();
    let gil2 = gil.clone();
    std::thread::spawn(move || {
        let mut py = gil2.acquire("survivor");
        work::countdown(&mut py, 10);
        tx.send(()).unwrap();
    });
    rx.recv_timeout(Duration::from_secs(10))
        .expect("the GIL stayed locked after its holder panicked");
}

#[test]
fn a_panic_inside_detach_leaves_the_gil_free() {
    let gil = Gil::new();
    let result = std::thread::scope(|s| {
        s.spawn(|| {
            let mut py = gil.acquire("doomed");
            py.detach(|| panic!("blocking call failed"));
        })
        .join()
    });
    assert!(result.is_err());
    let (tx, rx) = mpsc::channel();
    let gil2 = gil.clone();
    std::thread::spawn(move || {
        gil2.attach("next", |py| py.check_point());
        tx.send(()).unwrap();
    });
    rx.recv_timeout(Duration::from_secs(10))
        .expect("GIL left locked");
}

#[test]
fn detach_really_releases_the_gil() {
    let gil = Gil::new();
    let sleep = Duration::from_millis(100);
    let (_, wall) =
        measure::time(|| gil.run_threads(4, |_, py| py.detach(|| std::thread::sleep(sleep))));
    // Four sleeps overlap: far less than their sum even on a loaded machine.
    assert!(wall < sleep * 3, "4 x {sleep:?} took {wall:?}");
    for thread in gil.stats().threads {
        assert!(thread.held < sleep / 2, "{thread:?}");
        assert!(thread.detached >= sleep, "{thread:?}");
    }
}

#[test]
fn free_threaded_runs_two_cpu_bound_threads_at_once() {
    let n = 50_000_000;
    let mut best = f64::MAX;
    for _attempt in 0..3 {
        let gil = Gil::free_threaded();
        let (_, wall) = measure::time(|| gil.run_threads(2, |_, py| work::countdown(py, n)));
        let stats = gil.stats();
        assert_eq!(
            stats.switches, 0,
            "a free-threaded build never hands a GIL over"
        );
        let busy: Duration = stats.threads.iter().map(|t| t.held).sum();
        best = best.min(wall.as_secs_f64() / busy.as_secs_f64());
        if measure::cores() < 2 || best < 0.8 {
            break;
        }
    }
    if measure::cores() >= 2 {
        assert!(
            best < 0.8,
            "wall / summed busy time = {best:.2}: the threads did not overlap"
        );
    }
}

#[test]
fn two_gil_threads_take_turns() {
    let gil = Gil::new();
    gil.set_switch_interval(Duration::from_millis(1)).unwrap();
    gil.record_timeline();
    gil.run_threads(2, |_, py| work::countdown(py, 20_000_000));
    let timeline = gil.take_timeline();
    let stats = gil.stats();
    assert!(stats.switches >= 2, "{stats:?}");
    assert_eq!(timeline.threads().len(), 2);
    // Holds never overlap under a GIL.
    for pair in timeline.spans().windows(2) {
        assert!(pair[0].end <= pair[1].start, "overlapping holds {pair:?}");
    }
}

#[test]
fn switch_interval_is_settable_and_zero_is_refused() {
    let gil = Gil::new();
    assert_eq!(gil.switch_interval(), Duration::from_millis(5));
    gil.set_switch_interval(Duration::from_micros(100)).unwrap();
    assert_eq!(gil.switch_interval(), Duration::from_micros(100));
    assert!(gil.set_switch_interval(Duration::ZERO).is_err());
    assert_eq!(gil.mode(), Mode::Gil);
}

#[test]
fn attaching_in_a_loop_keeps_statistics_bounded_and_complete() {
    let gil = Gil::new();
    for _ in 0..10_000 {
        gil.attach("loop", |py| py.check_point());
    }
    let stats = gil.stats();
    assert!(
        stats.threads.len() <= 4096,
        "{} entries",
        stats.threads.len()
    );
    let acquisitions: u64 = stats.threads.iter().map(|t| t.acquisitions).sum();
    assert_eq!(acquisitions, 10_000, "no guard's figures are lost");
}

/// `threading.active_count()`: guards alive now, holding the GIL or not.
#[test]
fn active_count_counts_attached_threads() {
    let gil = gil_core::Gil::new();
    assert_eq!(gil.active_count(), 0);
    let barrier = std::sync::Barrier::new(3);
    std::thread::scope(|s| {
        for name in ["T1", "T2"] {
            let (gil, barrier) = (&gil, &barrier);
            s.spawn(move || {
                let mut py = gil.acquire(name);
                // Wait with the GIL released, so both can be attached at once.
                py.detach(|| {
                    barrier.wait();
                    barrier.wait();
                });
            });
        }
        barrier.wait();
        assert_eq!(gil.active_count(), 2);
        barrier.wait();
    });
    assert_eq!(gil.active_count(), 0);
}
