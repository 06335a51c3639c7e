//! # Exercise 08 · A dict update that is not one step
//!
//! `counts.get(word, 0)` is atomic under the GIL, and so is `counts[word] = n`: each runs in C
//! from start to end. But `counts[word] = counts.get(word, 0) + 1` is a read and then a write,
//! and the eval loop may switch threads between them — when the `get` call returns, a check
//! point on 3.10+ as on older versions. Another thread can run in between, count the same word,
//! and have its update overwritten.
//!
//! Several threads count the words of a text into one shared dict. The shipped `count_word`
//! loses counts; write one that does not, by making the read and the write one step for every
//! other thread: hold `lock` (a model `threading.Lock`) across both.
//!
//! Run it:   `cargo run --release -p exercises --bin 08_compound_update`
//! Check it: `cargo xtask check 08_compound_update`

use gil_core::GilGuard;
use gil_core::bytecode::PyLock;

/// The shipped version: `counts[word] = counts.get(word, 0) + 1`.
fn count_word_as_shipped(py: &mut GilGuard<'_>, counts: &Dict, _lock: &PyLock, word: &'static str) {
    let n = counts.get(py, word);
    counts.set(py, word, n + 1);
}

// TODO: write `count_word` like `count_word_as_shipped`, but holding `lock` from before the read
// until after the write (`lock.acquire()` … `lock.release(py)`). One more thing: CPython's
// `lock.acquire()` waits with the GIL released. What happens if yours does not, when the thread
// holding the lock is switched out between its read and its write?

/// `with lock: counts[word] = counts.get(word, 0) + 1`.
#[allow(unused_variables)] // delete this line once you use the parameters
fn count_word(py: &mut GilGuard<'_>, counts: &Dict, lock: &PyLock, word: &'static str) {
    todo!("hold lock across counts.get and counts.set")
}

// ─────────────── You do not need to change anything below this line. ───────────────

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use clap::Parser;
use gil_core::Gil;
use gil_core::cli::GilArgs;
use gil_core::measure::{fmt_count, fmt_duration, time};
use gil_core::report::{heading, kv, note};

/// Exercise 08: word counts in a shared dict, the compound update made atomic.
#[derive(Parser)]
struct Args {
    /// Threads counting words
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=64))]
    threads: u64,
    /// Words each thread counts
    #[arg(long, default_value_t = 100_000)]
    words: u64,
    /// Varies the text
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[command(flatten)]
    gil: GilArgs,
}

/// A model `dict[str, int]`. Each method runs whole while holding the GIL, like the C code of
/// a dict operation. `get` is a method call, and the eval breaker is consulted when a call
/// returns; `d[key] = value` (`STORE_SUBSCR`) is not a check point on 3.10+.
///
/// It also notes every write made by a thread that does not hold `lock` at that moment: the
/// evidence that a read and its write were one step, whether or not a switch happened to land
/// between them in this run.
struct Dict {
    items: Mutex<HashMap<&'static str, u64>>,
    lock: PyLock,
    writes_outside_lock: AtomicU64,
}

impl Dict {
    /// `d.get(key, 0)`.
    fn get(&self, py: &mut GilGuard<'_>, key: &'static str) -> u64 {
        let value = self.lock().get(key).copied().unwrap_or(0);
        py.check_point();
        value
    }

    /// `d[key] = value`.
    ///
    /// Taking the guard says it must run holding the GIL; no check point follows a store.
    fn set(&self, _py: &mut GilGuard<'_>, key: &'static str, value: u64) {
        if !self.lock.held_by_me() {
            self.writes_outside_lock.fetch_add(1, Relaxed);
        }
        self.lock().insert(key, value);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<&'static str, u64>> {
        self.items.lock().unwrap_or_else(|e| e.into_inner())
    }
}

const VOCABULARY: [&str; 8] = [
    "the", "gil", "lock", "thread", "switch", "count", "byte", "code",
];

/// The word thread `t` counts at position `i`: fixed by the seed, the same for every run.
fn word(seed: u64, t: u64, i: u64) -> &'static str {
    let mut h = seed ^ (t << 32) ^ i;
    h = (h ^ (h >> 31)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    h ^= h >> 29;
    VOCABULARY[(h % VOCABULARY.len() as u64) as usize]
}

/// What counting with one version of `count_word` produced.
struct Tally {
    counts: HashMap<&'static str, u64>,
    /// Times `lock` was taken.
    lock_acquisitions: u64,
    /// Writes made while the writing thread did not hold `lock`.
    writes_outside_lock: u64,
    threads: usize,
    took: std::time::Duration,
}

type Counter = fn(&mut GilGuard<'_>, &Dict, &PyLock, &'static str);

fn tally(gil: &Gil, counter: Counter, args: &Args) -> Tally {
    gil.reset_stats();
    let counts = Dict {
        items: Mutex::new(HashMap::new()),
        lock: PyLock::default(),
        writes_outside_lock: AtomicU64::new(0),
    };
    let ((), took) = time(|| {
        gil.run_threads(usize::try_from(args.threads).unwrap_or(1), |t, py| {
            for i in 0..args.words {
                counter(py, &counts, &counts.lock, word(args.seed, t as u64, i));
            }
        });
    });
    Tally {
        lock_acquisitions: counts.lock.acquisitions(),
        writes_outside_lock: counts.writes_outside_lock.load(Relaxed),
        counts: counts.items.into_inner().unwrap_or_else(|e| e.into_inner()),
        threads: gil.stats().threads.len(),
        took,
    }
}

fn real_main(args: Args) -> anyhow::Result<()> {
    let gil = args.gil.build();
    let mut truth: HashMap<&'static str, u64> = HashMap::new();
    for t in 0..args.threads {
        for i in 0..args.words {
            *truth.entry(word(args.seed, t, i)).or_default() += 1;
        }
    }
    let expected = args.threads * args.words;
    let free = Gil::free_threaded();

    heading("Exercise 08 · a dict update that is not one step");
    kv("words counted", fmt_count(expected));
    kv("times `the` occurs", fmt_count(truth["the"]));
    let versions: [(&str, &Gil, Counter); 3] = [
        ("shipped", &gil, count_word_as_shipped),
        ("yours", &gil, count_word),
        ("yours, free-threaded", &free, count_word),
    ];
    for (who, gil, counter) in versions {
        heading(&format!("count_word {who}"));
        let t = tally(gil, counter, &args);
        let total: u64 = t.counts.values().sum();
        let wrong = VOCABULARY
            .iter()
            .filter(|w| t.counts.get(*w).copied().unwrap_or(0) != truth[*w])
            .count();
        kv(&format!("total in the dict ({who})"), fmt_count(total));
        kv(
            &format!("lost counts ({who})"),
            fmt_count(expected.saturating_sub(total)),
        );
        kv(
            &format!("count of `the` ({who})"),
            fmt_count(t.counts.get("the").copied().unwrap_or(0)),
        );
        kv(&format!("words with a wrong count ({who})"), wrong);
        kv(
            &format!("lock acquisitions ({who})"),
            fmt_count(t.lock_acquisitions),
        );
        kv(
            &format!("writes outside the lock ({who})"),
            fmt_count(t.writes_outside_lock),
        );
        kv(&format!("attached threads ({who})"), t.threads);
        kv(&format!("time ({who})"), fmt_duration(t.took));
    }
    note(
        "Each dict call is atomic; the pair is not. The lock turns the pair into one step for \
         every thread that also takes the lock — and it must be waited for with the GIL \
         released, or the thread that holds it can never run to release it.",
    );
    Ok(())
}

fn main() -> ExitCode {
    gil_core::cli::run(|| real_main(Args::parse()))
}
