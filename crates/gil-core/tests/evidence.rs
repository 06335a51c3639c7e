//! The evidence the model records for the grader: what an object, a thread and a lock saw.

use std::time::Duration;

use gil_core::Gil;
use gil_core::bytecode::PyLock;
use gil_core::object::{Counting, Fate, PyObject};

#[test]
fn a_traced_object_tallies_its_increfs_and_decrefs_but_not_getrefcounts() {
    for counting in Counting::ALL {
        let a = PyObject::traced("list", counting);
        a.incref();
        a.incref();
        assert_eq!(a.getrefcount(), 4);
        a.decref();
        a.decref();
        a.decref();
        assert_eq!(a.audit().fate(), Fate::Freed, "{counting}");
        assert_eq!((a.increfs_received(), a.decrefs_received()), (2, 3));
    }
    let plain = PyObject::new("list", Counting::Plain);
    plain.incref();
    assert_eq!(plain.increfs_received(), 0, "only traced objects tally");
}

#[test]
fn threads_record_their_check_points_and_first_switch_interval() {
    let gil = Gil::new();
    gil.set_switch_interval(Duration::from_millis(7)).unwrap();
    gil.run_threads(3, |i, py| {
        for _ in 0..(i + 1) * 1000 {
            py.check_point();
        }
    });
    gil.set_switch_interval(Duration::from_millis(2)).unwrap();
    let stats = gil.stats();
    let mut points: Vec<u64> = stats.threads.iter().map(|t| t.check_points).collect();
    points.sort_unstable();
    assert_eq!(points, [1000, 2000, 3000]);
    for thread in &stats.threads {
        assert_eq!(thread.first_interval, Some(Duration::from_millis(7)));
    }
}

#[test]
fn a_lock_counts_its_acquisitions() {
    let lock = PyLock::default();
    let gil = gil_core::Gil::new();
    let mut py = gil.acquire("T1");
    py.detach(|| lock.acquire());
    assert!(!lock.try_acquire());
    lock.release(&mut py);
    assert!(lock.try_acquire());
    lock.release(&mut py);
    assert_eq!(lock.acquisitions(), 2);
    drop(py);
    assert_eq!(
        gil.stats().threads[0].check_points,
        2,
        "returning from `release()` is a check point"
    );
}
