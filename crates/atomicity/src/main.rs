//! `cargo run --release -p atomicity`: lesson 4, the GIL is not thread safety.
//!
//! The lesson text is the library's documentation (`cargo doc --no-deps --open -p atomicity`).

use std::process::ExitCode;

use atomicity::{Config, LESSON};
use clap::Parser;
use gil_core::lesson::{self, Lesson, LessonArgs, LessonCli};

/// Lesson 4: the GIL is not thread safety — counter += 1, its bytecodes, and what is atomic.
#[derive(Parser, Debug)]
#[command(name = "atomicity", version)]
struct Cli {
    #[command(flatten)]
    lesson: LessonArgs,

    /// Seed of the deterministic scheduler, any whole number (same seed, same trace)
    /// [default: 41]
    #[arg(long, value_name = "S")]
    seed: Option<u64>,

    /// Threads racing on the counter in part 2, 1 to 64 [default: 10; --quick: 4]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=64))]
    threads: Option<u64>,

    /// Increments per thread in part 2, 1 to 1000000; threads x iterations at most 4000000
    /// [default: 100000, fewer with many --threads; --quick: 20000]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    iterations: Option<u64>,

    /// Runs of each race in part 2, 1 to 3 [default: 2; --quick: 1]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=3))]
    runs: Option<u64>,
}

impl LessonCli for Cli {
    type Config = Config;

    fn lesson() -> &'static Lesson<Config> {
        &LESSON
    }

    fn lesson_args(&self) -> &LessonArgs {
        &self.lesson
    }

    fn config(&self) -> anyhow::Result<Config> {
        let base = if self.lesson.quick {
            Config::quick()
        } else {
            Config::default()
        };
        let threads = self.threads.map_or(base.threads, |n| n as usize);
        // Many threads and no --iterations: fewer iterations each, so the race stays in bounds.
        let iterations = self.iterations.unwrap_or_else(|| {
            base.iterations
                .min(atomicity::setup::MAX_INCREMENTS / threads as u64)
        });
        let cfg = Config {
            threads,
            iterations,
            runs: self.runs.map_or(base.runs, |n| n as usize),
            seed: self.seed.unwrap_or(base.seed),
            gil: self.lesson.gil.clone(),
            ..base
        };
        cfg.check()?;
        Ok(cfg)
    }
}

fn main() -> ExitCode {
    lesson::start::<Cli>()
}
