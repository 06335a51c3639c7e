//! How long the simulator takes for the scenarios the lessons simulate (`cargo bench -p gil-core
//! --bench sim`).
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use gil_core::Mode;
use gil_core::sim::{Script, SimConfig, Step, simulate};

fn cpu_threads(n: usize, each: Duration) -> Vec<Script> {
    (1..=n)
        .map(|i| Script::new(format!("T{i}"), vec![Step::Bytecode(each)]))
        .collect()
}

fn scenarios(c: &mut Criterion) {
    let interval = Duration::from_millis(5);
    let gil = SimConfig::new(Mode::Gil, interval, 2);
    c.bench_function("sim/gil_two_threads_one_second_each", |b| {
        b.iter(|| simulate(black_box(&gil), cpu_threads(2, Duration::from_secs(1))))
    });
    c.bench_function("sim/gil_eight_threads_two_seconds_in_all", |b| {
        b.iter(|| simulate(black_box(&gil), cpu_threads(8, Duration::from_millis(250))))
    });
    let old = SimConfig::new(
        Mode::OldGil {
            check_interval: 100,
        },
        interval,
        2,
    );
    c.bench_function("sim/old_gil_two_threads_20ms_each", |b| {
        b.iter(|| simulate(black_box(&old), cpu_threads(2, Duration::from_millis(20))))
    });
    c.bench_function("sim/convoy_200_round_trips_beside_a_cpu_thread", |b| {
        b.iter(|| {
            let io = Script::new(
                "io",
                vec![Step::Repeat(
                    200,
                    vec![Step::RoundTrip(Duration::from_micros(20))],
                )],
            );
            let cpu = Script::new("cpu", vec![Step::Bytecode(Duration::from_secs(2))]);
            simulate(black_box(&gil), vec![io, cpu])
        })
    });
}

criterion_group!(benches, scenarios);
criterion_main!(benches);
