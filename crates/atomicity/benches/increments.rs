//! Cost of one increment of a shared counter, three ways (`cargo bench -p atomicity`):
//! `AtomicU64` load then store (racy), `fetch_add`, and a `Mutex<u64>`; alone and with two
//! threads racing on the same counter. Each iteration is a batch of [`BATCH`] increments, so
//! criterion's time divided by [`BATCH`] is the cost of one.
#![allow(missing_docs)]

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

use atomicity::part5_rust::{fetch_add, load_then_store, mutex};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// Increments per benchmark iteration.
const BATCH: u64 = 1_000;

/// Threads in the racing benchmarks.
const RACERS: usize = 2;

fn alone(c: &mut Criterion) {
    let mut group = c.benchmark_group("increment x1000, one thread");
    group.throughput(Throughput::Elements(BATCH));
    let atomic = AtomicU64::new(0);
    let locked = Mutex::new(0u64);
    group.bench_function("AtomicU64 load+store", |b| {
        b.iter(|| load_then_store(&atomic, BATCH))
    });
    group.bench_function("AtomicU64 fetch_add", |b| {
        b.iter(|| fetch_add(&atomic, BATCH))
    });
    group.bench_function("Mutex<u64>", |b| b.iter(|| mutex(&locked, BATCH)));
    group.finish();
}

/// Wall time of `RACERS` threads each doing `iters` batches at once, divided among them: the
/// time per batch of the whole machine, as the lesson's "racing" figure.
fn race(iters: u64, work: impl Fn(u64) + Sync) -> Duration {
    let start = Barrier::new(RACERS + 1);
    let mut clock = None;
    std::thread::scope(|s| {
        for _ in 0..RACERS {
            s.spawn(|| {
                start.wait();
                work(iters * BATCH);
            });
        }
        start.wait();
        clock = Some(Instant::now());
        // Leaving the scope joins the racers.
    });
    clock.expect("the clock started").elapsed() / RACERS as u32
}

fn racing(c: &mut Criterion) {
    let mut group = c.benchmark_group("increment x1000, two threads racing");
    group.throughput(Throughput::Elements(BATCH));
    let atomic = AtomicU64::new(0);
    let locked = Mutex::new(0u64);
    group.bench_function("AtomicU64 load+store", |b| {
        b.iter_custom(|iters| race(iters, |n| load_then_store(&atomic, n)))
    });
    group.bench_function("AtomicU64 fetch_add", |b| {
        b.iter_custom(|iters| race(iters, |n| fetch_add(&atomic, n)))
    });
    group.bench_function("Mutex<u64>", |b| {
        b.iter_custom(|iters| race(iters, |n| mutex(&locked, n)))
    });
    group.finish();
    // Keep the counters observable so the work cannot be discarded.
    std::hint::black_box((atomic.load(Relaxed), locked.lock().map(|v| *v).ok()));
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = alone, racing
}
criterion_main!(benches);
