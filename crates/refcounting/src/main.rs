//! `cargo run --release -p refcounting`: lesson 1, why the GIL exists.
//!
//! The lesson text is the library's documentation (`cargo doc --no-deps --open -p refcounting`).

use std::process::ExitCode;

use clap::Parser;
use gil_core::lesson::{self, Lesson, LessonArgs, LessonCli};
use refcounting::{Config, LESSON, SizeArgs};

/// Lesson 1: why the GIL exists — reference counts, and what racing threads do to them.
#[derive(Parser, Debug)]
#[command(name = "refcounting", version)]
struct Cli {
    #[command(flatten)]
    sizes: SizeArgs,

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
        Ok(Config::from_flags(
            self.lesson.quick,
            &self.sizes,
            &self.lesson.gil,
        ))
    }
}

fn main() -> ExitCode {
    lesson::start::<Cli>()
}
