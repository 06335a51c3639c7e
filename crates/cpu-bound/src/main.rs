//! `cargo run --release -p cpu-bound`: lesson 2, CPU-bound threads under the GIL.
//!
//! The lesson text is the library's documentation (`cargo doc --no-deps --open -p cpu-bound`).

use std::process::ExitCode;

use clap::Parser;
use cpu_bound::setup::parse_scale;
use cpu_bound::{Config, LESSON};
use gil_core::lesson::{self, Lesson, LessonArgs, LessonCli};

/// Lesson 2: CPU-bound threads under the GIL, free-threaded, and under the pre-3.2 GIL.
#[derive(Parser, Debug)]
#[command(name = "cpu-bound", version)]
struct Cli {
    /// Multiply every workload by F, from 0.01 to 4 (2 = twice the work, steadier figures)
    #[arg(long, value_name = "F", default_value_t = 1.0, value_parser = parse_scale)]
    scale: f64,

    #[command(flatten)]
    lesson: LessonArgs,
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
        Ok(Config::from_args(&self.lesson, self.scale))
    }
}

fn main() -> ExitCode {
    lesson::start::<Cli>()
}
