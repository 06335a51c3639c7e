//! # Exercise 10 · One GIL per process
//!
//! Threads share one interpreter and so one GIL; processes each have their own. This is why
//! `multiprocessing.Pool(4).map(cpu_bound, …)` speeds up pure-Python loops that threads cannot.
//!
//! Split the sum of squares `sum(i * i for i in range(n))` over worker *processes*. This program
//! is its own worker: started with `--worker --from A --to B`, it runs the loop over `A..B` in
//! its own model interpreter and prints a report. Start the workers, let them run at the same
//! time, and collect their reports. The harness compares with one process doing all the work.
//!
//! Run it:   `cargo run --release -p exercises --bin 10_worker_processes`
//! Check it: `cargo xtask check 10_worker_processes`

// TODO: write `run_workers`. Split `0..n` into `workers` contiguous ranges that cover it. For
// each, start a worker process with `worker_command(from, to).spawn()` — it must have its
// stdout piped, which `worker_command` already arranges. Start all of them before waiting for
// any (otherwise they run one after another), then wait for each with `wait_with_output()` and
// turn its stdout into a report with `WorkerReport::parse`.

/// Run the sum of squares over `0..n` in `workers` worker processes running at the same time,
/// and return their reports.
#[allow(unused_variables)] // delete this line once you use the parameters
fn run_workers(n: u64, workers: u64) -> anyhow::Result<Vec<WorkerReport>> {
    todo!("start one worker process per range, all at once, then collect their reports")
}

// ─────────────── You do not need to change anything below this line. ───────────────

use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use clap::Parser;
use gil_core::Gil;
use gil_core::measure::{fmt_count, fmt_duration, fmt_ratio, peak_overlap, speedup, time};
use gil_core::report::{heading, kv, kv_line, note, parse_kv};

/// Exercise 10: the sum of squares split over worker processes.
#[derive(Parser)]
struct Args {
    /// Sum i * i for i in 0..n (the tutorial's Pool(4) example: 4 tasks of 10,000,000)
    #[arg(long, default_value_t = 40_000_000)]
    n: u64,
    /// Worker processes to split the work over
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=64))]
    workers: u64,
    /// Run as a worker: sum over --from..--to and print a report (used by `worker_command`)
    #[arg(long, hide = true)]
    worker: bool,
    /// The worker's first i
    #[arg(long, hide = true, default_value_t = 0)]
    from: u64,
    /// One past the worker's last i
    #[arg(long, hide = true, default_value_t = 0)]
    to: u64,
}

/// What one worker process reports.
#[derive(Debug)]
struct WorkerReport {
    pid: u32,
    from: u64,
    to: u64,
    /// Its part of the sum (wrapping, like the model loop).
    sum: u64,
    /// Start and end of its work, in nanoseconds since the Unix epoch.
    started: u128,
    finished: u128,
}

impl WorkerReport {
    /// Read a worker's report from its standard output.
    fn parse(stdout: &[u8]) -> anyhow::Result<WorkerReport> {
        let text = String::from_utf8_lossy(stdout);
        let fields = parse_kv(&text);
        let field = |name: &str| -> anyhow::Result<&str> {
            fields
                .iter()
                .find(|(label, _)| label == name)
                .map(|(_, value)| value.as_str())
                .with_context(|| format!("worker output has no `{name}` line: {text:?}"))
        };
        Ok(WorkerReport {
            pid: field("pid")?.parse()?,
            from: field("from")?.parse()?,
            to: field("to")?.parse()?,
            sum: field("sum")?.parse()?,
            started: field("started")?.parse()?,
            finished: field("finished")?.parse()?,
        })
    }
}

/// The command that starts this program as a worker over `from..to`, stdout piped.
fn worker_command(from: u64, to: u64) -> Command {
    let exe = std::env::current_exe().expect("the path of this program");
    let mut command = Command::new(exe);
    command
        .args([
            "--worker",
            "--from",
            &from.to_string(),
            "--to",
            &to.to_string(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    command
}

fn unix_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// Worker mode: `sum(i * i for i in range(from, to))` in this process's own interpreter.
fn worker_main(from: u64, to: u64) {
    let started = unix_nanos();
    let sum = Gil::new().attach("worker", |py| {
        let mut total = 0u64;
        for i in from..to {
            total = total.wrapping_add(std::hint::black_box(i).wrapping_mul(i));
            py.check_point();
        }
        total
    });
    let finished = unix_nanos();
    // The usual `label: value` lines; the parent reads them back with `WorkerReport::parse`.
    for (label, value) in [
        ("pid", u128::from(std::process::id())),
        ("from", u128::from(from)),
        ("to", u128::from(to)),
        ("sum", u128::from(sum)),
        ("started", started),
        ("finished", finished),
    ] {
        println!("{}", kv_line(label, value));
    }
}

fn real_main(args: Args) -> anyhow::Result<()> {
    if args.worker {
        worker_main(args.from, args.to);
        return Ok(());
    }
    // The yardstick: one worker process doing everything.
    let (single, one_process) = time(|| -> anyhow::Result<WorkerReport> {
        let output = worker_command(0, args.n).output()?;
        WorkerReport::parse(&output.stdout)
    });
    let single = single?;
    let (reports, parallel) = time(|| run_workers(args.n, args.workers));
    let reports = reports?;

    let total = reports.iter().fold(0u64, |acc, r| acc.wrapping_add(r.sum));
    let mut pids: Vec<u32> = reports.iter().map(|r| r.pid).collect();
    pids.sort_unstable();
    pids.dedup();
    pids.retain(|&pid| pid != std::process::id());
    let covered: u64 = reports.iter().map(|r| r.to.saturating_sub(r.from)).sum();
    let busy: Duration = reports
        .iter()
        .map(|r| Duration::from_nanos(u64::try_from(r.finished - r.started).unwrap_or(0)))
        .sum();

    heading("Exercise 10 · one GIL per process");
    kv("n", fmt_count(args.n));
    kv("checksum", total % 1_000_000_007);
    kv("matches one process", total == single.sum);
    kv("worker processes", pids.len());
    kv("numbers summed", fmt_count(covered));
    kv(
        "most workers at once",
        peak_overlap(reports.iter().map(|r| (r.started, r.finished))),
    );
    kv("work time summed over workers", fmt_duration(busy));
    heading("Wall clock");
    kv("one process", fmt_duration(one_process));
    kv("split over workers", fmt_duration(parallel));
    kv("speedup", fmt_ratio(speedup(one_process, parallel)));
    note(&format!(
        "Each worker has its own interpreter and GIL, so the workers ran at once, up to this \
         machine's {} cores. Starting a process and sending results back has a price, paid \
         here in milliseconds; Python's pickling of arguments and results adds more.",
        gil_core::measure::cores()
    ));
    Ok(())
}

fn main() -> ExitCode {
    gil_core::cli::run(|| real_main(Args::parse()))
}
