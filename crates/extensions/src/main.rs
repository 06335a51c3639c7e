//! `cargo run --release -p extensions`: lesson 7, the GIL from a PyO3 extension's side.
//!
//! The lesson text is the library's documentation (`cargo doc --no-deps --open -p extensions`).

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use extensions::{Config, LESSON};
use gil_core::lesson::{self, Lesson, LessonArgs, LessonCli};

/// Lesson 7: the GIL from a PyO3 extension's side — Rust locks, worker threads, shared
/// objects without a GIL, stop-the-world pauses.
#[derive(Parser, Debug)]
#[command(name = "extensions", version)]
struct Cli {
    #[command(flatten)]
    lesson: LessonArgs,

    /// How long the lesson lets a stuck thread wait before it ends the deadlock, in ms,
    /// 50 to 1500 (the model's deadlock watchdog ends a program stuck for 2 s)
    /// [default: 300; --quick: 150]
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(50..=1500))]
    patience: Option<u64>,

    /// Worker threads in part 2, 1 to 16 [default: this machine's cores, 2 to 4]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=16))]
    workers: Option<u64>,

    /// Calls per thread on the shared object in part 3, 100 to 1000000
    /// [default: 50000; --quick: 10000]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(100..=1_000_000))]
    calls: Option<u64>,
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
        Ok(Config {
            patience: self.patience.map_or(base.patience, Duration::from_millis),
            workers: self.workers.map_or(base.workers, |n| n as usize),
            calls: self.calls.unwrap_or(base.calls),
            gil: self.lesson.gil.clone(),
            ..base
        })
    }
}

fn main() -> ExitCode {
    lesson::start::<Cli>()
}
