//! Benchmarks of lesson 5's workarounds (`cargo bench -p workarounds`).
//!
//! * `ndarray_sum_of_squares/*`: `np.sum(arr ** 2)` over 4 arrays of 1,000,000 floats: one
//!   after another; in a pool of model threads that release the GIL (and one that does not);
//!   with rayon over the arrays; and with part 3's `prange` loop inside each array.
//! * `process_pool/*`: starting a pool of worker processes (and shutting it down), and one
//!   round trip of an empty task through a started pool.
#![allow(missing_docs)]

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use gil_core::Gil;
use rayon::prelude::*;
use workarounds::part3_nogil_prange::prange_loop;
use workarounds::pool::{ProcessPool, Task};
use workarounds::{random_array, sum_of_squares};

const ARRAYS: usize = 4;
const LEN: usize = 1_000_000;

fn ndarray_sum_of_squares(c: &mut Criterion) {
    let data: Vec<_> = (0..ARRAYS)
        .map(|i| random_array(LEN, i as u64 + 1))
        .collect();
    let gil = Gil::new();
    let mut group = c.benchmark_group("ndarray_sum_of_squares");
    group.measurement_time(Duration::from_secs(3));
    group.bench_function("sequential_4x1M", |b| {
        b.iter(|| data.iter().map(sum_of_squares).sum::<f64>())
    });
    group.bench_function("thread_pool_gil_released_4x1M", |b| {
        b.iter(|| {
            gil.run_threads(ARRAYS, |i, py| py.detach(|| sum_of_squares(&data[i])))
                .into_iter()
                .sum::<f64>()
        })
    });
    group.bench_function("thread_pool_gil_held_4x1M", |b| {
        b.iter(|| {
            gil.run_threads(ARRAYS, |i, _py| sum_of_squares(&data[i]))
                .into_iter()
                .sum::<f64>()
        })
    });
    group.bench_function("rayon_over_arrays_4x1M", |b| {
        b.iter(|| data.par_iter().map(sum_of_squares).sum::<f64>())
    });
    group.bench_function("rayon_prange_each_array_4x1M", |b| {
        b.iter(|| {
            data.iter()
                .map(|a| a.as_slice().map_or(0.0, prange_loop))
                .sum::<f64>()
        })
    });
    group.finish();
}

fn process_pool(c: &mut Criterion) {
    let exe = Path::new(env!("CARGO_BIN_EXE_workarounds"));
    let mut group = c.benchmark_group("process_pool");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(4));
    for workers in [1, 2] {
        group.bench_function(format!("start_up_and_shutdown_{workers}_workers"), |b| {
            b.iter(|| {
                let pool = ProcessPool::start(exe, workers).expect("pool starts");
                pool.shutdown().expect("workers exit cleanly")
            })
        });
    }
    let pool = ProcessPool::start(exe, 1).expect("pool starts");
    group.bench_function("round_trip_empty_task", |b| {
        b.iter(|| pool.submit(black_box(Task::SumOfSquares { n: 1 })).result())
    });
    group.finish();
    pool.shutdown().expect("workers exit cleanly");
}

criterion_group!(benches, ndarray_sum_of_squares, process_pool);
criterion_main!(benches);
