//! # Exercise 13 · A Rust lock that waits holding the GIL
//!
//! An extension keeps a lookup table behind a Rust lock. The first call builds it, and
//! building it imports a Python module: the import reads files with the GIL released, so
//! another thread can take the GIL and call `lookup` meanwhile. As shipped, `lookup` takes
//! the lock with `table.lock()`, attached:
//!
//! ```text
//! let mut table = cache.table.lock();          // waits holding the GIL
//! if table.is_none() { *table = Some(build_table(py, ctx)); }
//! table.as_ref().unwrap().value(key)
//! ```
//!
//! A thread that finds the lock taken then waits for it holding the GIL, while the builder
//! needs the GIL back to finish: neither can go on. (The model's deadlock watchdog then ends
//! the program after two seconds and prints who holds what.)
//!
//! Run it:   `cargo run --release -p exercises --bin 13_lock_order`
//! Check it: `cargo xtask check 13_lock_order`

use gil_core::GilGuard;

// TODO: write `lookup` so that no thread ever waits for the table while holding the GIL. Two
// ways, both PyO3's: wait for the Rust lock detached (`cache.table.lock_py_attached(py)`, from
// `pyo3::sync::MutexExt`), or keep the table in `cache.once`, a `PyOnceLock` whose
// `get_or_init(py, |py| ..)` makes every other caller wait detached. Build it with
// `build_table(py, ctx)`, and only once.

/// `ext.lookup(key)`: the table's value for `key`, building the table on the first call.
fn lookup(py: &mut GilGuard<'_>, cache: &Cache, ctx: &Context, key: u64) -> u64 {
    let mut table = cache.table.lock_py_attached(py);
    if table.is_none() {
        *table = Some(build_table(py, ctx));
    }
    table.as_ref().map_or(0, |t| t.value(key))
}

// ─────────────── You do not need to change anything below this line. ───────────────

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use gil_core::Gil;
use gil_core::report::{heading, kv, note};
use gil_core::sync::{PyOnceLock, RustMutex};

/// Exercise 13: a lookup table behind a Rust lock, built by a call into Python.
#[derive(Parser)]
struct Args {
    /// Threads calling lookup at once
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(2..=8))]
    threads: u64,
    /// Entries in the table
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    entries: u64,
    /// How long the import takes, in ms
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=1000))]
    import_ms: u64,
    /// Varies the table
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// The table: `entries` values fixed by the seed.
#[allow(dead_code)] // your lookup uses it
struct Table {
    values: Vec<u64>,
}

#[allow(dead_code)] // your lookup uses it
impl Table {
    /// The value stored for `key`.
    fn value(&self, key: u64) -> u64 {
        self.values[(key % self.values.len() as u64) as usize]
    }
}

/// Where the extension keeps its table: a Rust lock, or a once-cell that knows the GIL.
#[allow(dead_code)] // your lookup uses one of the two
struct Cache {
    table: RustMutex<Option<Table>>,
    once: PyOnceLock<Table>,
}

/// What the harness tracks while the threads run.
struct Context {
    args: Args,
    /// Times the table was built.
    builds: AtomicU64,
    /// Threads whose import is over and that wait to re-attach.
    reattaching: AtomicUsize,
    /// Set once the first import has started, so the other threads call in meanwhile.
    importing: std::sync::Mutex<bool>,
    importing_cv: std::sync::Condvar,
}

/// Build the table. The import in it runs detached, as `py.import` reading files does.
#[allow(dead_code)] // your lookup calls it
fn build_table(py: &mut GilGuard<'_>, ctx: &Context) -> Table {
    ctx.builds.fetch_add(1, Ordering::SeqCst);
    py.detach(|| {
        *ctx.importing.lock().unwrap_or_else(|p| p.into_inner()) = true;
        ctx.importing_cv.notify_all();
        std::thread::sleep(Duration::from_millis(ctx.args.import_ms));
        ctx.reattaching.fetch_add(1, Ordering::SeqCst);
    });
    ctx.reattaching.fetch_sub(1, Ordering::SeqCst);
    let mut h = ctx.args.seed;
    let values = (0..ctx.args.entries)
        .map(|_| {
            h = (h ^ (h >> 31))
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                .wrapping_add(1);
            h % 1000
        })
        .collect();
    Table { values }
}

/// Wait (at most a second) until the first import has begun.
fn wait_for_import(ctx: &Context) {
    let started = ctx.importing.lock().unwrap_or_else(|p| p.into_inner());
    let _ = ctx
        .importing_cv
        .wait_timeout_while(started, Duration::from_secs(1), |started| !*started);
}

/// One thread's call, and whether it waited detached at some point.
struct Call {
    value: u64,
    detached: Duration,
}

fn real_main(args: Args) -> anyhow::Result<()> {
    let n = usize::try_from(args.threads).unwrap_or(2);
    let gil = Gil::new();
    let cache = Cache {
        table: RustMutex::new("the table's Mutex", None),
        once: PyOnceLock::new(),
    };
    let ctx = Context {
        args,
        builds: AtomicU64::new(0),
        reattaching: AtomicUsize::new(0),
        importing: std::sync::Mutex::new(false),
        importing_cv: std::sync::Condvar::new(),
    };
    let keys: Vec<u64> = (0..n as u64).map(|i| ctx.args.seed + 7 * i).collect();
    heading("Exercise 13 · a Rust lock that waits holding the GIL");
    kv("threads", n);
    let (done_tx, done_rx) = std::sync::mpsc::channel::<(usize, Call)>();
    // A cycle of waits is ended sooner by the model's deadlock watchdog, which says who holds
    // what; this catches any other hang.
    let patience = Duration::from_secs(10);
    let started = Instant::now();
    let calls = std::thread::scope(|s| {
        for (i, &key) in keys.iter().enumerate() {
            let (gil, cache, ctx, done_tx) = (&gil, &cache, &ctx, done_tx.clone());
            std::thread::Builder::new()
                .name(format!("T{}", i + 1))
                .spawn_scoped(s, move || {
                    if i > 0 {
                        wait_for_import(ctx);
                    }
                    let call = gil.attach(&format!("T{}", i + 1), |py| {
                        let value = lookup(py, cache, ctx, key);
                        Call {
                            value,
                            detached: py.stats().detached,
                        }
                    });
                    let _ = done_tx.send((i, call));
                })
                .expect("a thread starts");
        }
        drop(done_tx);
        let mut calls: Vec<Option<Call>> = (0..n).map(|_| None).collect();
        while calls.iter().any(Option::is_none) {
            let left = patience.saturating_sub(started.elapsed());
            match done_rx.recv_timeout(left) {
                Ok((i, call)) => calls[i] = Some(call),
                // A thread panicked: the scope passes its panic on when it ends.
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    explain_deadlock(&cache, &ctx, &calls);
                    // The stuck threads can never be joined: end the program here.
                    std::process::exit(0);
                }
            }
        }
        calls.into_iter().flatten().collect::<Vec<_>>()
    });
    let expected: u64 = {
        let mut h = ctx.args.seed;
        let values: Vec<u64> = (0..ctx.args.entries)
            .map(|_| {
                h = (h ^ (h >> 31))
                    .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                    .wrapping_add(1);
                h % 1000
            })
            .collect();
        keys.iter()
            .map(|k| values[(k % ctx.args.entries) as usize])
            .sum()
    };
    kv("threads stuck", 0);
    kv(
        "sum of the values looked up",
        calls.iter().map(|c| c.value).sum::<u64>(),
    );
    kv("sum expected", expected);
    kv("table builds", ctx.builds.load(Ordering::SeqCst));
    kv(
        "callers that waited detached",
        calls[1..]
            .iter()
            .filter(|c| c.detached >= Duration::from_millis(ctx.args.import_ms) / 2)
            .count(),
    );
    note(
        "A Rust lock knows nothing of the GIL. Waiting for it detached lets its holder take the \
         GIL back and finish, as CPython's own threading.Lock does.",
    );
    Ok(())
}

/// Print who holds what and who waits for what, from what the lock and the harness saw.
fn explain_deadlock(cache: &Cache, ctx: &Context, calls: &[Option<Call>]) {
    let stuck = calls.iter().filter(|c| c.is_none()).count();
    kv("threads stuck", stuck);
    let holder = cache.table.holder().unwrap_or_else(|| "nobody".into());
    let waiting = cache.table.waiting();
    if ctx.reattaching.load(Ordering::SeqCst) > 0 {
        kv(
            "who waits for what",
            format!(
                "{holder} holds {} and waits for the GIL (its import is over); {} wait for {} \
                 attached, so one of them holds the GIL",
                cache.table.name(),
                waiting.join(", "),
                cache.table.name()
            ),
        );
    } else {
        kv(
            "who waits for what",
            format!("{stuck} threads never finished; {holder} holds the table's lock"),
        );
    }
    note(
        "Deadlock: a thread waited for the Rust lock while holding the GIL, and the lock's \
         holder needs the GIL to finish. Wait for it detached.",
    );
}

fn main() -> ExitCode {
    gil_core::cli::run(|| real_main(Args::parse()))
}
