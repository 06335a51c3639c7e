//! `cargo run --release -p io-bound`: lesson 3, blocking I/O under the GIL. The lesson text is in
//! the crate docs (`cargo doc --no-deps --open -p io-bound`).

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use gil_core::lesson::{self, Lesson, LessonArgs, LessonCli, Start};
use io_bound::{Config, LESSON, cleanup};

/// Lesson 3: threads overlap their waits, because blocking I/O releases the GIL.
///
/// Every range below keeps a run with any one of them at its largest within about a minute.
#[derive(Parser, Debug)]
#[command(name = "io-bound", version, about)]
struct Args {
    #[command(flatten)]
    lesson: LessonArgs,

    /// Downloads (part 1), files and clients (part 2), threads (part 3): 2 to 16
    /// [default: 4]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(2..=16))]
    downloads: Option<u16>,

    /// One simulated download, and each worker's I/O phase in part 4, in ms: 1 to 1000
    /// [default: 50]
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u16).range(1..=1000))]
    delay_ms: Option<u16>,

    /// How long the test server waits before answering, in ms: 4 to 1000 [default: 40]
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u16).range(4..=1000))]
    server_delay_ms: Option<u16>,

    /// Echo round trips per batch in the convoy experiment (part 5): 10 to 10000; a batch also
    /// stops after 15 s [default: 40]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(10..=10_000))]
    ops: Option<u16>,

    /// Countdown length of each CPU phase (parts 4 and 6): 100000 to 2000000000
    /// [default: what lasts 25 ms here]
    #[arg(long, value_name = "N",
          value_parser = clap::value_parser!(u64).range(100_000..=2_000_000_000))]
    cpu_iters: Option<u64>,

    /// Size of each file in part 2, in KiB: 64 to 32768 [default: 2048]
    #[arg(long, value_name = "KIB", value_parser = clap::value_parser!(u16).range(64..=32_768))]
    file_kib: Option<u16>,
}

impl Args {
    fn config(&self) -> Config {
        let gil = self.lesson.gil.clone();
        let mut cfg = if self.lesson.quick {
            Config::quick(gil)
        } else {
            Config::standard(gil)
        };
        let ms = |ms: u16| Duration::from_millis(u64::from(ms));
        if let Some(n) = self.downloads {
            cfg.downloads = usize::from(n);
        }
        if let Some(d) = self.delay_ms {
            cfg.delay = ms(d);
        }
        if let Some(d) = self.server_delay_ms {
            cfg.server_delay = ms(d);
        }
        if let Some(n) = self.ops {
            cfg.ops = usize::from(n);
        }
        if !self.lesson.simulated {
            cfg = cfg.calibrated();
        }
        if let Some(n) = self.cpu_iters {
            cfg.cpu_iters = n;
        }
        if let Some(k) = self.file_kib {
            cfg.file_kib = usize::from(k);
        }
        cfg
    }
}

impl LessonCli for Args {
    type Config = Config;

    fn lesson() -> &'static Lesson<Config> {
        &LESSON
    }

    fn lesson_args(&self) -> &LessonArgs {
        &self.lesson
    }

    fn config(&self) -> anyhow::Result<Config> {
        Ok(Args::config(self))
    }

    fn prepare(&self) -> anyhow::Result<Start> {
        cleanup::install_signal_handlers()?;
        cleanup::remove_stale();
        Ok(Start::Lesson)
    }
}

fn main() -> ExitCode {
    lesson::start::<Args>()
}
