//! `cargo run --release -p refcounting`: lesson 1, why the GIL exists.

use std::process::ExitCode;

use clap::Parser;
use gil_core::cli::GilArgs;
use gil_core::measure;
use gil_core::report::{kv, note};
use refcounting::{Config, PARTS, run_part};

/// Why the GIL exists: reference counts, and what racing threads do to them.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
    /// Run only this part (1-5)
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=i64::from(PARTS)))]
    part: Option<u8>,

    /// Small sizes and one timing per figure (well under 2 s)
    #[arg(long)]
    quick: bool,

    /// Parts 2 and 5: references each racing thread takes or drops per trial
    #[arg(long, value_name = "N")]
    refs: Option<u64>,

    /// Part 2: trials of each way of counting
    #[arg(long, value_name = "N")]
    trials: Option<usize>,

    /// Part 2: references the shared object has from other holders
    #[arg(long, value_name = "N")]
    holders: Option<u64>,

    /// Parts 3-5: incref+decref pairs per timing (two-thread timings do a tenth)
    #[arg(long, value_name = "N")]
    pairs: Option<u64>,

    #[command(flatten)]
    gil: GilArgs,
}

fn real_main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut cfg = if cli.quick {
        Config::quick()
    } else {
        Config::default()
    };
    cfg.refs = cli.refs.unwrap_or(cfg.refs);
    cfg.trials = cli.trials.unwrap_or(cfg.trials).max(1);
    cfg.holders = cli.holders.unwrap_or(cfg.holders).max(1);
    cfg.pairs = cli.pairs.unwrap_or(cfg.pairs).max(1);
    cfg.gil = cli.gil;

    kv("cores", measure::cores());
    if measure::cores() < 2 {
        note("One core: threads interleave but never run at the same time; races are rarer.");
    }
    match cli.part {
        Some(part) => run_part(part, &cfg),
        None => (1..=PARTS).try_for_each(|part| run_part(part, &cfg)),
    }
}

fn main() -> ExitCode {
    gil_core::cli::run(real_main)
}
