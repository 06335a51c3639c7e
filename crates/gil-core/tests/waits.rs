//! The wait-for registry on live model threads: a real deadlock is found and named, and a
//! program that only waits briefly is not called deadlocked.

use std::sync::Arc;
use std::time::{Duration, Instant};

use gil_core::Gil;
use gil_core::bytecode::PyLock;
use gil_core::waits::{self, Resource};

/// Poll for a deadlock that lasted `after`, for up to ten seconds.
fn wait_for_deadlock(after: Duration) -> Option<waits::Deadlock> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Some(found) = waits::deadlock(after) {
            return Some(found);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

// One test: the registry is process-wide, and the deadlock of one test would show in another.
#[test]
fn a_deadlock_is_named_and_taking_turns_is_not_one() {
    threads_that_take_turns_with_a_lock_are_not_deadlocked();
    a_lock_taken_while_holding_the_gil_deadlocks_and_is_named();
}

fn a_lock_taken_while_holding_the_gil_deadlocks_and_is_named() {
    let gil = Gil::new();
    let lock = Arc::new(PyLock::default());
    let (t1_has_lock, t1_has_lock_rx) = std::sync::mpsc::channel();
    // T1 takes `lock`, lets go of the GIL for a moment, and wants it back.
    let t1 = {
        let (gil, lock) = (gil.clone(), Arc::clone(&lock));
        std::thread::spawn(move || {
            let mut py = gil.acquire("T1");
            assert!(lock.try_acquire());
            t1_has_lock.send(()).unwrap();
            py.detach(|| std::thread::sleep(Duration::from_millis(100)));
            lock.release(&mut py);
        })
    };
    t1_has_lock_rx.recv().unwrap();
    // T2 takes the GIL meanwhile and waits for `lock` without letting go of it.
    let t2 = {
        let (gil, lock) = (gil.clone(), Arc::clone(&lock));
        std::thread::spawn(move || {
            let mut py = gil.acquire("T2");
            lock.acquire();
            lock.release(&mut py);
        })
    };
    let found = wait_for_deadlock(Duration::from_millis(300)).expect("no deadlock found");
    assert_eq!(
        found.cycle(),
        "T1 holds `lock` and waits for the GIL; T2 holds the GIL and waits for `lock`"
    );
    assert!(matches!(found.links[0].waits_for, Resource::Gil(_)));
    assert!(
        found.fix().contains("with the GIL released"),
        "{}",
        found.fix()
    );

    // Anyone may release a `threading.Lock`: doing so from outside ends the deadlock.
    let other = Gil::new();
    lock.release(&mut other.acquire("main"));
    t2.join().unwrap();
    t1.join().unwrap();
    assert_eq!(
        waits::deadlock(Duration::ZERO),
        None,
        "every wait was crossed out"
    );
}

fn threads_that_take_turns_with_a_lock_are_not_deadlocked() {
    let gil = Gil::new();
    let lock = PyLock::default();
    gil.run_threads(3, |_, py| {
        for _ in 0..2_000 {
            py.detach(|| lock.acquire());
            py.check_point();
            lock.release(py);
            assert_eq!(waits::deadlock(Duration::from_millis(200)), None);
        }
    });
    assert_eq!(lock.acquisitions(), 6_000);
}
