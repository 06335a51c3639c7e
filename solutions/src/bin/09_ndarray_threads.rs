//! # Exercise 09 · Native code in a thread pool (the tutorial's Exercise 3)
//!
//! NumPy's long loops run in C with the GIL released, so threads calling `np.sum(arr ** 2)` can
//! run at the same time. Here `ndarray` plays NumPy: compute the sum of squares of each array
//! in a pool of worker threads, like `ThreadPoolExecutor(max_workers=4).map(compute, arrays)`,
//! releasing the GIL around the native computation.
//!
//! The harness compares your pool with a sequential loop, and records when each computation ran
//! and whether the GIL was held meanwhile. Look at the speedup too: with arrays of a million
//! elements each task is short, and a pool may gain little or nothing; try `--len 10000000`.
//!
//! Run it:   `cargo run --release -p exercises --bin 09_ndarray_threads`
//! Check it: `cargo xtask check 09_ndarray_threads`

use ndarray::Array1;

use gil_core::Gil;

// TODO: write `pool_sums`. Start `workers` model Python threads on `gil` (`gil.run_threads`).
// Each worker repeatedly takes the next array that nobody has taken yet (a shared atomic index
// is enough), computes `sum_of_squares(array)` with the GIL released (`py.detach`), and
// keeps the result. Return the results in the order of `arrays`.

/// The sums of squares of `arrays`, computed by `workers` model Python threads with the GIL
/// released around each computation, in the order of `arrays`.
fn pool_sums(gil: &Gil, arrays: &[Array1<f64>], workers: usize) -> Vec<f64> {
    use std::sync::atomic::{AtomicUsize, Ordering};

    let next = AtomicUsize::new(0);
    let done: Vec<Vec<(usize, f64)>> = gil.run_threads(workers, |_, py| {
        let mut mine = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::SeqCst);
            let Some(array) = arrays.get(i) else { break };
            mine.push((i, py.detach(|| sum_of_squares(array))));
        }
        mine
    });
    let mut sums = vec![0.0; arrays.len()];
    for (i, sum) in done.into_iter().flatten() {
        sums[i] = sum;
    }
    sums
}

// ─────────────── You do not need to change anything below this line. ───────────────

use std::process::ExitCode;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use clap::Parser;
use gil_core::measure::{fmt_duration, fmt_ratio, peak_overlap, speedup, time};
use gil_core::report::{heading, kv, note};

/// Exercise 09: sum of squares of several arrays, sequentially and in a thread pool.
#[derive(Parser)]
struct Args {
    /// How many arrays
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=64))]
    arrays: u64,
    /// Elements per array
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    len: u64,
    /// Worker threads in the pool
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=64))]
    workers: u64,
    /// Varies the array contents
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// When each native computation started and ended (since the harness's clock started).
static SPANS: Mutex<Vec<(Duration, Duration)>> = Mutex::new(Vec::new());
static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

/// While the pool runs: the address of the first array, whose computation the harness holds
/// back until another one has finished (for at most [`HOLD_BACK`]), so that on every run the
/// pool's computations finish in another order than the arrays'; results must still come back
/// in the arrays' order.
static FIRST_ARRAY: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
/// Computations finished since the pool started.
static FINISHED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
const HOLD_BACK: Duration = Duration::from_secs(2);

/// `np.sum(arr ** 2)`: native code that touches no Python object. Like NumPy, it builds the
/// squared array first, then sums it.
fn sum_of_squares(array: &Array1<f64>) -> f64 {
    let epoch = *EPOCH.get_or_init(Instant::now);
    let start = epoch.elapsed();
    let sum = (array * array).sum();
    if array.as_ptr() as usize == FIRST_ARRAY.load(std::sync::atomic::Ordering::SeqCst) {
        let held = Instant::now();
        while FINISHED.load(std::sync::atomic::Ordering::SeqCst) == 0 && held.elapsed() < HOLD_BACK
        {
            std::thread::sleep(Duration::from_micros(100));
        }
    }
    let end = epoch.elapsed();
    SPANS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((start, end));
    FINISHED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    sum
}

/// Arrays of whole numbers 0..=999 stored as f64, so every sum is exact whatever the order.
fn make_arrays(args: &Args) -> Vec<Array1<f64>> {
    let mut state = args.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..args.arrays)
        .map(|_| {
            Array1::from_shape_fn(usize::try_from(args.len).unwrap_or(0), |_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state % 1000) as f64
            })
        })
        .collect()
}

fn real_main(args: Args) -> anyhow::Result<()> {
    let arrays = make_arrays(&args);
    let workers = usize::try_from(args.workers)?;

    // Sequential: one thread computes every array in turn (still releasing the GIL).
    let gil = Gil::new();
    let (sequential, seq_time) = time(|| {
        gil.attach("main", |py| {
            arrays
                .iter()
                .map(|a| py.detach(|| sum_of_squares(a)))
                .collect::<Vec<_>>()
        })
    });

    // The pool, on a fresh GIL and a fresh record of computations.
    SPANS.lock().unwrap_or_else(|e| e.into_inner()).clear();
    FINISHED.store(0, std::sync::atomic::Ordering::SeqCst);
    FIRST_ARRAY.store(
        arrays[0].as_ptr() as usize,
        std::sync::atomic::Ordering::SeqCst,
    );
    let gil = Gil::new();
    let (pooled, pool_time) = time(|| pool_sums(&gil, &arrays, workers));
    FIRST_ARRAY.store(0, std::sync::atomic::Ordering::SeqCst);
    let spans = SPANS.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let stats = gil.stats();
    let native: Duration = spans.iter().map(|&(start, end)| end - start).sum();
    let released: Duration = stats.threads.iter().map(|t| t.detached).sum();

    heading("Exercise 09 · sum of squares in a thread pool");
    kv("arrays", format!("{} × {} elements", args.arrays, args.len));
    kv(
        "total of the pool's sums",
        format!("{:.0}", pooled.iter().sum::<f64>()),
    );
    kv("pool matches sequential", pooled == sequential);
    kv("attached threads", stats.threads.len());
    kv("computations", spans.len());
    kv(
        "most computations at once",
        peak_overlap(spans.iter().copied()),
    );
    kv(
        "native work with the GIL released",
        format!(
            "{:.0} %",
            100.0 * (released.as_secs_f64() / native.as_secs_f64().max(1e-9)).min(1.0)
        ),
    );
    heading("Wall clock");
    kv("sequential", fmt_duration(seq_time));
    kv("thread pool", fmt_duration(pool_time));
    kv("speedup", fmt_ratio(speedup(seq_time, pool_time)));
    note(
        "Computations can overlap only when each runs with the GIL released. Whether that pays \
         off depends on size: a few milliseconds of work barely cover starting the threads.",
    );
    Ok(())
}

fn main() -> ExitCode {
    gil_core::cli::run(|| real_main(Args::parse()))
}
