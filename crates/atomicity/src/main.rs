//! `cargo run --release -p atomicity`: lesson 4, the GIL is not thread safety.
//!
//! The lesson text is the library's documentation (`cargo doc --no-deps --open -p atomicity`).

use std::process::ExitCode;

use atomicity::{Config, PARTS};
use clap::Parser;
use gil_core::cli::GilArgs;

/// Lesson 4: the GIL is not thread safety — counter += 1, its bytecodes, and what is atomic.
#[derive(Parser, Debug)]
#[command(name = "atomicity", version)]
struct Cli {
    /// Run only part N (1 bytecode, 2 race, 3 replay, 4 atomic operations, 5 Rust)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=i64::from(PARTS)))]
    part: Option<u8>,

    /// Small sizes, one run per race: done in a moment
    #[arg(long)]
    quick: bool,

    /// Seed of the deterministic scheduler in part 3 (same seed, same trace)
    #[arg(long, value_name = "S")]
    seed: Option<u64>,

    /// Threads racing on the counter in part 2 [default: 10; --quick: 4]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=256))]
    threads: Option<u64>,

    /// Increments per thread in part 2 [default: 100000; --quick: 20000]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    iterations: Option<u64>,

    /// Runs of each race in part 2 [default: 2; --quick: 1]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=100))]
    runs: Option<u64>,

    #[command(flatten)]
    gil: GilArgs,
}

fn real_main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let base = if cli.quick {
        Config::quick()
    } else {
        Config::default()
    };
    let cfg = Config {
        threads: cli.threads.map_or(base.threads, |n| n as usize),
        iterations: cli.iterations.unwrap_or(base.iterations),
        runs: cli.runs.map_or(base.runs, |n| n as usize),
        seed: cli.seed.unwrap_or(base.seed),
        free_threaded: cli.gil.free_threaded,
        switch_interval: cli.gil.interval(),
        ..base
    };
    atomicity::run(&cfg, cli.part)
}

fn main() -> ExitCode {
    gil_core::cli::run(real_main)
}
