//! Unit tests of the model objects' counting.
use super::*;
use crate::Gil;

#[test]
fn getrefcount_adds_the_call_s_own_reference() {
    for counting in Counting::ALL {
        let a = PyObject::new("list", counting);
        assert_eq!(a.refcnt(), 1, "{counting}");
        assert_eq!(a.getrefcount(), 2, "{counting}");
        a.incref(); // b = a
        assert_eq!(a.getrefcount(), 3, "{counting}");
        a.decref(); // del b
        assert_eq!(a.getrefcount(), 2, "{counting}");
        assert!(!a.is_freed());
        a.decref(); // del a
        assert_eq!(a.audit().fate(), Fate::Freed, "{counting}");
    }
}

#[test]
fn a_forced_premature_free_is_detected_not_committed() {
    for counting in Counting::ALL {
        let obj = PyObject::new("list", counting);
        obj.incref(); // two real references
        obj.decref();
        obj.decref(); // one decref too many: freed while a reference remains
        assert!(obj.is_freed());
        obj.incref(); // the remaining reference is used
        obj.decref();
        assert_eq!(obj.refcnt(), 0);
        let audit = obj.audit();
        assert_eq!(audit.use_after_free, 3, "{counting}");
        assert_eq!(audit.deallocs, 1, "{counting}");
        assert_eq!(
            audit.fate(),
            Fate::PrematureFree {
                use_after_free: 3,
                deallocs: 1
            }
        );
    }
}

#[test]
fn with_refs_starts_from_that_many_references() {
    for counting in Counting::ALL {
        let obj = PyObject::with_refs("int", counting, 3);
        assert_eq!(obj.getrefcount(), 4, "{counting}");
        for _ in 0..3 {
            obj.decref();
        }
        assert_eq!(obj.audit().fate(), Fate::Freed, "{counting}");
    }
}

#[test]
fn counting_names_round_trip() {
    for counting in Counting::ALL {
        assert_eq!(counting.to_string().parse::<Counting>(), Ok(counting));
    }
    assert!("locked".parse::<Counting>().is_err());
}

#[test]
fn a_missing_decref_is_a_leak() {
    for counting in Counting::ALL {
        let obj = PyObject::new("dict", counting);
        obj.incref(); // a reference that is never given back
        obj.decref();
        assert_eq!(obj.audit().fate(), Fate::Leaked { refcnt: 1 });
    }
}

#[test]
fn immortal_objects_ignore_increfs_and_decrefs() {
    let none = PyObject::immortal("NoneType");
    for _ in 0..10 {
        none.decref();
    }
    none.incref();
    assert_eq!(none.getrefcount(), IMMORTAL_REFCNT);
    assert!(!none.is_freed());
    assert_eq!(none.audit().use_after_free, 0);
}

#[test]
fn biased_owner_counts_locally_and_others_share() {
    let obj = PyObject::new("list", Counting::Biased);
    obj.incref();
    assert_eq!(obj.local.load(Ordering::Relaxed), 2);
    std::thread::scope(|s| {
        s.spawn(|| obj.incref());
    });
    assert_eq!(obj.shared.load(Ordering::Relaxed), 1);
    assert_eq!(obj.refcnt(), 3);
    // The owner drops both its references first: it merges, the object lives on...
    obj.decref();
    obj.decref();
    assert_eq!(obj.ob_tid.load(Ordering::Relaxed), 0, "merged");
    assert!(!obj.is_freed());
    // ...until the other thread drops the last one.
    std::thread::scope(|s| {
        s.spawn(|| obj.decref());
    });
    assert_eq!(obj.audit().fate(), Fate::Freed);
}

#[test]
fn biased_shared_count_may_go_negative_until_the_owner_merges() {
    let obj = PyObject::new("list", Counting::Biased);
    obj.incref(); // the owner takes a reference and hands it to another thread
    std::thread::scope(|s| {
        s.spawn(|| obj.decref());
    });
    assert_eq!(obj.shared.load(Ordering::Relaxed), -1);
    assert_eq!(
        obj.ob_tid.load(Ordering::Relaxed),
        current_thread_id() | QUEUED
    );
    assert_eq!(obj.refcnt(), 1);
    obj.decref(); // the owner's last reference: it merges, the total is 0, freed
    assert_eq!(obj.audit().fate(), Fate::Freed);
}

#[test]
fn biased_owner_merges_a_queued_object_at_its_next_update() {
    let obj = PyObject::new("list", Counting::Biased);
    obj.incref();
    obj.incref(); // local 3; two references handed to another thread, which drops them
    std::thread::scope(|s| {
        s.spawn(|| {
            obj.decref();
            obj.decref();
        });
    });
    assert_eq!(
        obj.ob_tid.load(Ordering::Relaxed),
        current_thread_id() | QUEUED
    );
    obj.incref(); // queued, so the owner merges first (shared = -2 + 3 = 1), then shared 2
    obj.decref(); // merged: the owner now counts in the shared count too
    assert_eq!(obj.ob_tid.load(Ordering::Relaxed), 0, "merged");
    assert_eq!(obj.refcnt(), 1);
    assert!(!obj.is_freed());
    obj.decref();
    assert_eq!(obj.audit().fate(), Fate::Freed);
}

#[test]
fn biased_owner_racing_another_thread_frees_exactly_once() {
    // Owner and another thread each hold a reference, update concurrently, then both let
    // go at about the same time: whoever is last frees, exactly once, in every order.
    for _ in 0..200 {
        let obj = PyObject::new("list", Counting::Biased);
        obj.incref(); // the reference handed to the other thread
        std::thread::scope(|s| {
            s.spawn(|| {
                for _ in 0..1_000 {
                    obj.incref();
                    obj.decref();
                }
                obj.decref();
            });
            for _ in 0..1_000 {
                obj.incref();
                obj.decref();
            }
            obj.decref();
        });
        assert_eq!(obj.audit().fate(), Fate::Freed);
    }
}

fn hammer(obj: &PyObject, gil: &Gil, threads: usize, pairs: u64) {
    gil.run_threads(threads, |_, py| {
        for _ in 0..pairs {
            obj.incref();
            py.check_point();
            obj.decref();
            py.check_point();
        }
    });
}

#[test]
fn atomic_and_biased_counts_are_exact_without_a_gil() {
    for counting in [Counting::Atomic, Counting::Biased] {
        let obj = PyObject::new("list", counting);
        hammer(&obj, &Gil::free_threaded(), 2, 100_000);
        assert_eq!(obj.refcnt(), 1, "{counting}");
        obj.decref();
        assert_eq!(obj.audit().fate(), Fate::Freed, "{counting}");
    }
}

#[test]
fn plain_counts_are_exact_under_the_gil() {
    let obj = PyObject::new("list", Counting::Plain);
    let gil = Gil::new();
    gil.set_switch_interval(std::time::Duration::from_micros(100))
        .unwrap();
    hammer(&obj, &gil, 4, 50_000);
    assert!(
        gil.stats().switches > 1,
        "the threads should have taken turns"
    );
    assert_eq!(obj.refcnt(), 1);
    obj.decref();
    assert_eq!(obj.audit().fate(), Fate::Freed);
}

#[test]
fn racing_plain_counts_never_corrupt_the_model_itself() {
    // Whatever the race does, the audit stays self-consistent (no UB, no panic).
    let obj = PyObject::new("list", Counting::Plain);
    hammer(&obj, &Gil::free_threaded(), 2, 100_000);
    obj.decref();
    let audit = obj.audit();
    match audit.fate() {
        Fate::Freed => assert_eq!(audit.deallocs, 1),
        Fate::Leaked { .. } => assert!(!audit.freed),
        Fate::PrematureFree { .. } => assert!(audit.freed),
    }
}
