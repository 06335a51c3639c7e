//! `cargo run --release -p cpu-bound`: lesson 2, CPU-bound threads under the GIL.
//!
//! The lesson text is the library's documentation (`cargo doc --no-deps --open -p cpu-bound`).

use std::process::ExitCode;

use clap::Parser;
use cpu_bound::Config;
use cpu_bound::setup::parse_scale;
use gil_core::lesson::LessonArgs;

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

fn real_main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let cfg = Config::from_args(&cli.lesson, cli.scale);
    cpu_bound::run(&cli.lesson, &cfg)
}

fn main() -> ExitCode {
    gil_core::lesson::main(real_main)
}
