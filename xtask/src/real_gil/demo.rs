//! The demonstration: a kernel that holds the GIL, one that releases it, and a buffer kernel,
//! measured in CPython beside the model's prediction for the same shape of work.

use std::path::Path;
use std::time::Duration;

use gil_core::measure::{self, fmt_duration, fmt_ratio};
use gil_core::report::{heading, kv, note, parse_kv};
use gil_core::{Gil, GilGuard};

use super::RealGilArgs;
use super::extension::{build_extension, place_module, run_driver, template_dir, work_dir};
use crate::grader::value;
use crate::python::Python;

pub(super) fn run_demo(
    python: &Python,
    root: &Path,
    args: &RealGilArgs,
    timeout: Duration,
) -> anyhow::Result<()> {
    let (iterations, buffer_mb, repeats) = if args.quick {
        (args.iterations.min(50_000_000), args.buffer_mb.min(16), 1)
    } else {
        (args.iterations, args.buffer_mb, args.repeats)
    };
    anyhow::ensure!(
        iterations > 0 && args.calls > 0 && buffer_mb > 0 && repeats > 0,
        "sizes must be at least 1"
    );
    heading("The real GIL: a Rust extension inside CPython");
    note(
        "crates/real-gil is a Python extension module written with PyO3. Its kernel,\n\
         sum(i * i for i in range(n)), is exposed twice: squares_holding keeps the GIL for the\n\
         whole call, squares_released runs it inside py.detach (Py_BEGIN_ALLOW_THREADS).",
    );
    let (library, took) = build_extension(python, root, &template_dir(root), None)?;
    let module_dir = work_dir(root).join("py");
    let module = place_module(python, &library, &module_dir, "real_gil")?;
    kv("extension built in", fmt_duration(took));
    kv("module", module.display());
    println!();
    let output = run_driver(
        python,
        root,
        &module_dir,
        &[
            "demo".into(),
            format!("--iterations={iterations}"),
            format!("--calls={}", args.calls),
            format!("--buffer-mb={buffer_mb}"),
            format!("--repeats={repeats}"),
        ],
        timeout,
    )?;
    let real = parse_kv(&output);
    let model = Prediction::run(args.calls, if args.quick { 10 } else { 25 }, repeats);
    compare(python, &real, &model);
    Ok(())
}

/// The number in the value of `label`, if the driver printed it.
pub(super) fn number(real: &[(String, String)], label: &str) -> Option<f64> {
    let text = &real.iter().find(|(l, _)| l == label)?.1;
    value::number(text).map(|number| number.value)
}

pub(super) fn compare(python: &Python, real: &[(String, String)], model: &Prediction) {
    heading(&format!(
        "Model (gil-core) beside CPython {}",
        python.version
    ));
    for (variant, predicted) in [("held", &model.held), ("released", &model.released)] {
        for &(threads, speedup) in predicted {
            let measured = number(real, &format!("{variant}, speedup x{threads}"))
                .map_or_else(|| "?".to_owned(), fmt_ratio);
            kv(
                &format!("{variant}, speedup x{threads}"),
                format!("model {}, CPython {measured}", fmt_ratio(speedup)),
            );
        }
    }
    kv(
        "model drop requests, held x2",
        format!("{} (answered only between calls)", model.held_drop_requests),
    );
    let figure = |label: &str| number(real, label).unwrap_or(f64::NAN);
    let cores = measure::cores();
    for paragraph in [
        format!(
            "Held: two threads ran at {:.2}x the speed of one. Native code never reaches an \
             eval-breaker check point, so the waiting thread's drop request (set after one switch \
             interval) is answered only when a call returns to Python: the threads queue, call \
             by call. Another Python thread got through {:.0} % of a call: nothing while the call \
             held the GIL, only the hand-overs at its two edges. (Pure-Python CPU work does a \
             little worse, because it really does switch every 5 ms: `cargo xtask fidelity` \
             measures that on this machine.)",
            figure("held, speedup x2"),
            figure("held, python kept running"),
        ),
        format!(
            "Released: {:.2}x at 2 threads, and another Python thread got through {:.0} % of a call. \
             This machine has {cores} {}, so more threads than that cannot add more.",
            figure("released, speedup x2"),
            figure("released, python kept running"),
            if cores == 1 { "core" } else { "cores" },
        ),
        format!(
            "Buffer: {:.2}x at 2 threads. This is the NumPy pattern: release the GIL for the \
             loop over the caller's buffer. It pays only when each call is long: every call \
             gives up the GIL and takes it back, and a short call's work does not outweigh \
             those two hand-offs.",
            figure("buffer, speedup x2"),
        ),
        format!(
            "The model ran the same shape of work on gil-core's lock, with {} ms calls: native \
             calls that hold the GIL and reach a check point only when they return, or that run \
             inside detach.",
            model.call_ms
        ),
    ] {
        println!();
        note(&paragraph);
    }
    let disturbed = figure("held, speedup x2") > 1.25
        || figure("released, python kept running") < 50.0
        || (cores >= 2 && figure("released, speedup x2") < 1.3);
    if disturbed {
        println!();
        note(
            "Some figures are far from what a quiet machine gives (held about 1.0x, released \
             close to 2x on two or more cores, with another thread running through nearly all of \
             a call): other programs were probably using the cores. Run it again when the \
             machine is idle.",
        );
    }
}

/// The model's prediction for the driver's shape of work: `calls` native calls split over 1, 2
/// and 4 model threads, each call either holding the model GIL or inside `detach`.
pub(super) struct Prediction {
    held: Vec<(u32, f64)>,
    released: Vec<(u32, f64)>,
    held_drop_requests: u64,
    call_ms: u64,
}

/// The thread counts the driver measures.
pub(super) const THREAD_COUNTS: [u32; 3] = [1, 2, 4];

impl Prediction {
    fn run(calls: u32, call_ms: u64, repeats: u32) -> Prediction {
        let iterations = iterations_for(Duration::from_millis(call_ms));
        let mut held_drop_requests = 0;
        let mut speedups = |release: bool| {
            let walls: Vec<(u32, Duration)> = THREAD_COUNTS
                .iter()
                .map(|&threads| {
                    let gil = Gil::new();
                    let wall = measure::repeat(repeats as usize, || {
                        model_calls(&gil, calls, threads, iterations, release);
                    })
                    .best();
                    if !release && threads == 2 {
                        held_drop_requests = gil.stats().drop_requests / u64::from(repeats);
                    }
                    (threads, wall)
                })
                .collect();
            let base = walls[0].1;
            walls
                .iter()
                .map(|&(threads, wall)| (threads, measure::speedup(base, wall)))
                .skip(1)
                .collect::<Vec<_>>()
        };
        let held = speedups(false);
        let released = speedups(true);
        Prediction {
            held,
            released,
            held_drop_requests,
            call_ms,
        }
    }
}

/// `calls` calls of the kernel spread over `threads` model Python threads.
pub(super) fn model_calls(gil: &Gil, calls: u32, threads: u32, iterations: u64, release: bool) {
    gil.run_threads(threads as usize, |i, py: &mut GilGuard<'_>| {
        let share = calls / threads + u32::from((i as u32) < calls % threads);
        for _ in 0..share {
            if release {
                py.detach(|| std::hint::black_box(squares(iterations)));
            } else {
                // A native call holding the GIL: no check point until it returns.
                std::hint::black_box(squares(iterations));
            }
            // Back in "bytecode": the eval breaker is consulted after the call.
            py.check_point();
        }
    });
}

/// How many kernel iterations take about `target` on this machine, in this build.
pub(super) fn iterations_for(target: Duration) -> u64 {
    let probe = 1 << 22;
    let (_, took) = measure::time(|| std::hint::black_box(squares(probe)));
    let per_iteration = took.as_secs_f64() / probe as f64;
    ((target.as_secs_f64() / per_iteration.max(1e-12)) as u64).max(1)
}

/// The extension's kernel, in plain Rust: `sum(i * i for i in range(n))`, wrapping at 2⁶⁴.
///
/// The same loop as `crates/real-gil/src/lib.rs` (which cannot be a dependency: it needs
/// Python to build). The model runs it as its "native call", and the tests use it as the
/// pure-Rust reference the extension's results must equal.
pub(super) fn squares(n: u64) -> u64 {
    let mut total = 0u64;
    for i in 0..n {
        total = total.wrapping_add(std::hint::black_box(i).wrapping_mul(i));
    }
    total
}
