//! `cargo run --release -p workarounds`: lesson 5, getting around the GIL.
//!
//! The lesson text is in the crate docs (`cargo doc -p workarounds --open`).

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use gil_core::cli::GilArgs;
use gil_core::report::note;
use workarounds::{Config, Failure, Summary, pool};

/// Lesson 5: processes, GIL-releasing native code, nogil loops, free threading, subinterpreters.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
    /// Run only this part (1 processes, 2 NumPy-style, 3 nogil+prange, 4 free threading,
    /// 5 subinterpreters, 6 decision guide)
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=6))]
    part: Option<u8>,

    /// Small sizes: a first look in well under two seconds
    #[arg(long)]
    quick: bool,

    /// Tasks (and arrays) per comparison; the tutorial uses 4
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=64))]
    tasks: Option<u64>,

    /// Items per CPU-bound task, sum(i * i for i in range(ITEMS))
    #[arg(long, value_name = "ITEMS", value_parser = clap::value_parser!(u64).range(1..))]
    items: Option<u64>,

    /// Floats per array in parts 2 and 3 (the tutorial: 1,000,000)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    array_len: Option<u64>,

    /// Also run this array length in part 2 (default 4,000,000; 0 to skip)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(0..=100_000_000))]
    big_array_len: Option<u64>,

    /// Worker processes in part 1 (default: the number of CPUs)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=64))]
    workers: Option<u64>,

    /// Make a worker die mid-task in part 1, to see how the pool reports it
    #[arg(long, value_enum, value_name = "HOW")]
    inject_failure: Option<Failure>,

    /// Internal: run as a worker process for part 1's pool (the parent's pid follows)
    #[arg(long = "worker", hide = true, value_name = "PARENT_PID")]
    worker: Option<u32>,

    #[command(flatten)]
    gil: GilArgs,
}

fn main() -> ExitCode {
    gil_core::cli::run(real_main)
}

fn real_main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(parent) = cli.worker {
        return pool::worker_main(parent);
    }
    let exe = std::env::current_exe().context("cannot find this program to start workers")?;
    let mut cfg = Config::new(cli.quick, exe);
    if let Some(tasks) = cli.tasks {
        cfg.tasks = tasks as usize;
    }
    if let Some(items) = cli.items {
        cfg.items = items;
    }
    if let Some(len) = cli.array_len {
        cfg.array_len = len as usize;
    }
    if let Some(len) = cli.big_array_len {
        cfg.big_array_len = (len > 0).then_some(len as usize);
    }
    if let Some(workers) = cli.workers {
        cfg.workers = workers as usize;
    }
    cfg.gil = cli.gil;
    cfg.inject_failure = cli.inject_failure;
    cfg.gil.interval();

    warn_if_busy();
    let wants = |n: u8| cli.part.is_none_or(|p| p == n);
    let mut summary = Summary::default();
    if cfg.inject_failure.is_some() && !wants(1) {
        anyhow::bail!("--inject-failure needs part 1");
    }
    if wants(1) {
        let r = workarounds::part1_processes::run(&cfg)?;
        summary.processes_speedup = Some(gil_core::measure::speedup(
            r.sequential,
            r.pool_map + r.start_up,
        ));
        summary.gil_threads_speedup = Some(gil_core::measure::speedup(r.sequential, r.gil_threads));
        summary.break_even = Some(r.round_trip);
    }
    if wants(2) {
        let r = workarounds::part2_numpy::run(&cfg)?;
        summary.released_speedups = r
            .sizes
            .iter()
            .map(|s| (s.len, gil_core::measure::speedup(s.sequential, s.released)))
            .collect();
    }
    if wants(3) {
        let r = workarounds::part3_nogil_prange::run(&cfg)?;
        summary.prange_speedup = Some(gil_core::measure::speedup(r.with_gil.time, r.prange.time));
    }
    if wants(4) {
        let r = workarounds::part4_free_threading::run(&cfg)?;
        summary.free_threaded_speedup = Some(gil_core::measure::speedup(
            r.countdown.one_free,
            r.countdown.many_free,
        ));
    }
    if wants(5) {
        let r = workarounds::part5_subinterpreters::run(&cfg)?;
        summary.subinterpreters_speedup = Some(gil_core::measure::speedup(
            r.one_interpreter,
            r.many_interpreters,
        ));
    }
    if wants(6) {
        workarounds::part6_decision_guide::run(&summary);
    }
    if cli.part.is_none() {
        note("\nMachine noise matters: rerun a part (--part N) to see how much its figures move.");
    }
    Ok(())
}

/// Parallel speed-ups need idle CPUs: say so when other programs are using them.
fn warn_if_busy() {
    let Some(load) = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse::<f64>().ok())
    else {
        return;
    };
    let cores = gil_core::measure::cores();
    gil_core::report::kv(
        "load average, 1 minute",
        format!("{load:.2} on {cores} CPUs"),
    );
    if load > 0.5 * cores as f64 {
        note(
            "Other programs are busy on this machine: the parallel speed-ups below will come out\n\
             lower than the hardware allows, and vary from run to run.",
        );
    }
}
