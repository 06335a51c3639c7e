//! Benchmarks of the model's hot paths (`cargo bench -p gil-core`).
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use gil_core::Gil;

fn check_point(c: &mut Criterion) {
    let gil = Gil::new();
    let mut py = gil.acquire("bench");
    c.bench_function("gil/check_point_uncontended", |b| {
        b.iter(|| {
            py.check_point();
            black_box(&mut py);
        })
    });
}

fn acquire_release(c: &mut Criterion) {
    let gil = Gil::new();
    c.bench_function("gil/acquire_release_uncontended", |b| {
        b.iter(|| drop(black_box(gil.acquire("bench"))))
    });
}

fn detach(c: &mut Criterion) {
    let gil = Gil::new();
    let mut py = gil.acquire("bench");
    c.bench_function("gil/detach_round_trip", |b| {
        b.iter(|| py.detach(|| black_box(1)))
    });
}

/// Latency of one hand-off: T1 releases via detach while T2 waits to take the GIL.
fn contended_hand_off(c: &mut Criterion) {
    c.bench_function("gil/contended_hand_off_two_threads", |b| {
        b.iter_custom(|iters| {
            let gil = Gil::new();
            let barrier = Barrier::new(2);
            let per_thread = iters.div_ceil(2);
            let started = Instant::now();
            std::thread::scope(|s| {
                for name in ["A", "B"] {
                    let (gil, barrier) = (&gil, &barrier);
                    s.spawn(move || {
                        barrier.wait();
                        let mut py = gil.acquire(name);
                        for _ in 0..per_thread {
                            // Release and re-take: each round trip hands the GIL to the other
                            // thread when it is waiting.
                            py.detach(std::thread::yield_now);
                        }
                    });
                }
            });
            started.elapsed().max(Duration::from_nanos(1))
        })
    });
}

criterion_group!(
    benches,
    check_point,
    acquire_release,
    detach,
    contended_hand_off
);
criterion_main!(benches);
