//! # Exercise 07 · Ten threads, one counter (the tutorial's Exercise 1)
//!
//! Ten threads each run `counter += 1` a hundred thousand times. Without a lock the total comes
//! out short on CPython 3.9 and older; with `with lock:` it is always exactly 1,000,000.
//!
//! The model compiles both loops to bytecode (`gil_core::bytecode`): `LOAD_GLOBAL counter`,
//! `LOAD_CONST 1`, `BINARY_OP +=`, `STORE_GLOBAL counter`, and for the locked one `BEFORE_WITH`
//! and a call to the lock's `__exit__`. Your part is the interpreter's inner loop: run a frame
//! instruction by instruction, consult the eval breaker where the check-point policy says — that
//! is where the GIL can change hands — and wait for the lock the way CPython's `lock.acquire()`
//! waits. The harness runs both loops under CPython ≤ 3.9's check points, 3.10+'s, and
//! free-threaded, and prints the totals.
//!
//! Run it:   `cargo run --release -p exercises --bin 07_counter_lock`
//! Check it: `cargo xtask check 07_counter_lock`

use gil_core::GilGuard;
use gil_core::bytecode::{CheckPolicy, Frame, Globals};

// TODO: write `run_to_end`, the eval loop. Repeatedly call `frame.step(globals)` and act on the
// `gil_core::bytecode::Step` it returns:
//   * `Step::Ran { instr, .. }`: if `policy.is_check_point(instr)`, call `py.check_point()`;
//   * `Step::Blocked`: the frame's `with lock:` found `globals.lock` taken. Acquire it — and think
//     about what the thread that holds the lock needs in order to get to its release — then
//     call `frame.lock_granted()` and go on stepping;
//   * `Step::Finished`: return.

/// Run `frame` to its end on this thread, which holds the GIL through `py`.
fn run_to_end(
    py: &mut GilGuard<'_>,
    frame: &mut Frame<'_>,
    globals: &Globals,
    policy: CheckPolicy,
) {
    use gil_core::bytecode::Step;

    loop {
        match frame.step(globals) {
            Step::Ran { instr, .. } => {
                if policy.is_check_point(instr) {
                    py.check_point();
                }
            }
            Step::Blocked => {
                // lock.acquire() blocks with the GIL released, or the holder could never run.
                py.detach(|| globals.lock.acquire());
                frame.lock_granted();
            }
            Step::Finished => return,
        }
    }
}

// ─────────────── You do not need to change anything below this line. ───────────────

use std::process::ExitCode;

use clap::Parser;
use gil_core::Gil;
use gil_core::bytecode::Program;
use gil_core::cli::GilArgs;
use gil_core::measure::{fmt_count, fmt_duration, time};
use gil_core::report::{heading, kv, note};

/// Exercise 07: `counter += 1` from many threads, without and with a lock.
#[derive(Parser)]
struct Args {
    /// Threads incrementing the counter
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=64))]
    threads: u64,
    /// Increments per thread
    #[arg(long, default_value_t = 100_000)]
    iterations: u64,
    #[command(flatten)]
    gil: GilArgs,
}

/// What one run of a program on many threads left behind.
struct Counted {
    total: u64,
    /// Times `lock` was taken (the frame's own tries and the eval loop's waits).
    lock_acquisitions: u64,
    forced_switches: u64,
    threads: usize,
}

/// Run `program` on `threads` model Python threads sharing one set of globals.
fn count(gil: &Gil, program: &Program, policy: CheckPolicy, args: &Args) -> Counted {
    gil.reset_stats();
    let globals = Globals::new(0);
    let threads = usize::try_from(args.threads).unwrap_or(1);
    gil.run_threads(threads, |_, py| {
        let mut frame = Frame::new(program, args.iterations);
        run_to_end(py, &mut frame, &globals, policy);
    });
    let stats = gil.stats();
    Counted {
        total: globals.counter.load(),
        lock_acquisitions: globals.lock.acquisitions(),
        forced_switches: stats.forced_switches,
        threads: stats.threads.len(),
    }
}

fn real_main(args: Args) -> anyhow::Result<()> {
    let expected = args.threads * args.iterations;
    let with_gil = args.gil.build();
    let free = Gil::free_threaded();
    heading("Exercise 07 · ten threads, one counter");
    kv("threads", args.threads);
    kv("iterations per thread", fmt_count(args.iterations));
    kv("expected", fmt_count(expected));
    kv("switch interval", fmt_duration(with_gil.switch_interval()));

    let runs = [
        (
            "3.9 check points",
            "CPython <= 3.9",
            &with_gil,
            CheckPolicy::EveryInstruction,
        ),
        (
            "3.10+ check points",
            "CPython 3.10+",
            &with_gil,
            CheckPolicy::BackEdgesAndCalls,
        ),
        (
            "free-threaded",
            "CPython 3.13t+",
            &free,
            CheckPolicy::BackEdgesAndCalls,
        ),
    ];
    for (name, versions, gil, policy) in runs {
        heading(&format!("{name} ({versions})"));
        let (unlocked, took_unlocked) = time(|| count(gil, &Program::increment(), policy, &args));
        let (locked, took_locked) =
            time(|| count(gil, &Program::increment_locked(), policy, &args));
        kv(&format!("without lock, {name}"), fmt_count(unlocked.total));
        kv(
            &format!("lost without lock, {name}"),
            fmt_count(expected.saturating_sub(unlocked.total)),
        );
        kv(&format!("with lock, {name}"), fmt_count(locked.total));
        kv(
            &format!("lock acquisitions, {name}"),
            fmt_count(locked.lock_acquisitions),
        );
        kv(
            &format!("forced switches without lock, {name}"),
            fmt_count(unlocked.forced_switches),
        );
        kv(&format!("attached threads, {name}"), locked.threads);
        kv(
            &format!("time without and with lock, {name}"),
            format!(
                "{} / {}",
                fmt_duration(took_unlocked),
                fmt_duration(took_locked)
            ),
        );
    }
    note(
        "With 3.9's check points the GIL can change hands between LOAD_GLOBAL and STORE_GLOBAL, \
         and the paused thread later stores a stale value. 3.10+ has no check point inside \
         `counter += 1`, which hides the race without fixing it; free-threaded, nothing hides it. \
         The lock makes the read-modify-write one step for every other thread that takes it.",
    );
    Ok(())
}

fn main() -> ExitCode {
    gil_core::cli::run(|| real_main(Args::parse()))
}
