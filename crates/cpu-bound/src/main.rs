//! `cargo run --release -p cpu-bound`: lesson 2, CPU-bound threads under the GIL.
//!
//! The lesson text is the library's documentation (`cargo doc --no-deps --open -p cpu-bound`).

use std::process::ExitCode;

use clap::Parser;
use cpu_bound::{Config, PARTS};
use gil_core::cli::GilArgs;

/// Lesson 2: CPU-bound threads under the GIL, free-threaded, and under the pre-3.2 GIL.
#[derive(Parser, Debug)]
#[command(name = "cpu-bound", version)]
struct Cli {
    /// Run only part N (1 countdown, 2 thread counts, 3 switch interval, 4 cores, 5 old GIL)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=i64::from(PARTS)))]
    part: Option<u8>,

    /// Multiply every workload by F (2 = twice the work, steadier figures)
    #[arg(long, value_name = "F", default_value_t = 1.0)]
    scale: f64,

    /// Small workloads, one run per figure: done in a moment, but noisy
    #[arg(long)]
    quick: bool,

    #[command(flatten)]
    gil: GilArgs,
}

fn real_main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    anyhow::ensure!(
        cli.scale.is_finite() && cli.scale > 0.0 && cli.scale <= 100.0,
        "--scale must be above 0 and at most 100, got {}",
        cli.scale
    );
    let base = if cli.quick {
        Config::quick()
    } else {
        Config::default()
    };
    let cfg = Config {
        scale: base.scale * cli.scale,
        free_threaded: cli.gil.free_threaded,
        switch_interval: cli.gil.interval(),
        ..base
    };
    cpu_bound::run(&cfg, cli.part)
}

fn main() -> ExitCode {
    gil_core::cli::run(real_main)
}
