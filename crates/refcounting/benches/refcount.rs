//! Cost of one incref+decref pair on a model object, by kind of counting, with one thread and
//! with two threads on the same object (`cargo bench -p refcounting`).
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use gil_core::object::{Counting, PyObject};

/// One pair: `y = x; del y`.
#[inline]
fn pair(obj: &PyObject) {
    let obj = black_box(obj);
    obj.incref();
    obj.decref();
}

fn uncontended(c: &mut Criterion) {
    // Made on this thread, so the biased object takes the owner's fast path here.
    let cases = [
        ("plain", PyObject::new("list", Counting::Plain)),
        ("atomic", PyObject::new("list", Counting::Atomic)),
        ("biased_owner", PyObject::new("list", Counting::Biased)),
        (
            "biased_other",
            std::thread::spawn(|| PyObject::new("list", Counting::Biased))
                .join()
                .expect("a thread that makes one object"),
        ),
        ("immortal", PyObject::immortal("NoneType")),
    ];
    for (name, obj) in &cases {
        c.bench_function(&format!("refcount/{name}_uncontended"), |b| {
            b.iter(|| pair(obj))
        });
    }
}

/// Each sample: this thread and one more both do `iters` pairs on one object, started by a
/// barrier; the time is this thread's. For biased counting this thread is the owner.
fn contended(c: &mut Criterion) {
    for (name, counting) in [
        ("plain", Counting::Plain),
        ("atomic", Counting::Atomic),
        ("biased", Counting::Biased),
    ] {
        // Plenty of references, so a racing plain count never reaches zero (a freed object's
        // updates are skipped, which would time the wrong thing).
        let obj = PyObject::with_refs("list", counting, 1 << 40);
        c.bench_function(&format!("refcount/{name}_contended_2_threads"), |b| {
            b.iter_custom(|iters| {
                let start = Barrier::new(2);
                std::thread::scope(|s| {
                    s.spawn(|| {
                        start.wait();
                        for _ in 0..iters {
                            pair(&obj);
                        }
                    });
                    start.wait();
                    let clock = Instant::now();
                    for _ in 0..iters {
                        pair(&obj);
                    }
                    clock.elapsed().max(Duration::from_nanos(1))
                })
            })
        });
    }
}

criterion_group!(benches, uncontended, contended);
criterion_main!(benches);
