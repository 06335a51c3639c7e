//! `cargo run --release -p refcounting`: lesson 1, why the GIL exists.
//!
//! The lesson text is the library's documentation (`cargo doc --no-deps --open -p refcounting`).

use std::process::ExitCode;

use clap::Parser;
use gil_core::lesson::{self, LessonArgs};
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

fn real_main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let cfg = Config::from_flags(cli.lesson.quick, &cli.sizes, &cli.lesson.gil);
    lesson::run_lesson(&LESSON, &cli.lesson, &cfg)
}

fn main() -> ExitCode {
    lesson::main(real_main)
}
