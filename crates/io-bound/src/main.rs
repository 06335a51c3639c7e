//! `cargo run --release -p io-bound`: lesson 3, blocking I/O under the GIL. The lesson text is in
//! the crate docs (`cargo doc --no-deps --open -p io-bound`).

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use gil_core::cli::GilArgs;
use gil_core::measure::{Stopwatch, cores, fmt_duration};
use gil_core::report;
use io_bound::{
    Config, cleanup, part1_downloads, part2_real_io, part3_forgot_to_release, part4_mixed,
    part5_convoy, part6_release_table,
};

/// Lesson 3: threads overlap their waits, because blocking I/O releases the GIL.
#[derive(Parser, Debug)]
#[command(name = "io-bound", version, about)]
struct Args {
    /// Run only this part (1-6); all parts by default
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=6))]
    part: Option<u8>,

    /// Small sizes so every part finishes in a fraction of a second
    #[arg(long)]
    quick: bool,

    /// Downloads (part 1), files and clients (part 2), threads (part 3)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=64))]
    downloads: Option<u64>,

    /// One simulated download and each worker's I/O phase in part 4, in ms [default: 500]
    #[arg(long, value_name = "MS")]
    delay_ms: Option<u64>,

    /// How long the test server waits before answering, in ms [default: 100]
    #[arg(long, value_name = "MS")]
    server_delay_ms: Option<u64>,

    /// Echo round trips in the convoy experiment (part 5) [default: 200]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    ops: Option<u64>,

    /// Countdown length of each CPU phase (parts 4 and 6) [default: 150000000]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    cpu_iters: Option<u64>,

    /// Size of each file in part 2, in KiB [default: 8192]
    #[arg(long, value_name = "KIB", value_parser = clap::value_parser!(u64).range(1..=1_048_576))]
    file_kib: Option<u64>,

    #[command(flatten)]
    gil: GilArgs,
}

impl Args {
    fn config(&self) -> anyhow::Result<Config> {
        self.gil.interval();
        let mut cfg = if self.quick {
            Config::quick(self.gil.clone())
        } else {
            Config::standard(self.gil.clone())
        };
        let ms = Duration::from_millis;
        if let Some(n) = self.downloads {
            cfg.downloads = usize::try_from(n)?;
        }
        if let Some(d) = self.delay_ms {
            cfg.delay = ms(d);
        }
        if let Some(d) = self.server_delay_ms {
            cfg.server_delay = ms(d);
        }
        if let Some(n) = self.ops {
            cfg.ops = usize::try_from(n)?;
        }
        if let Some(n) = self.cpu_iters {
            cfg.cpu_iters = n;
        }
        if let Some(k) = self.file_kib {
            cfg.file_kib = usize::try_from(k)?;
        }
        Ok(cfg)
    }
}

fn real_main() -> anyhow::Result<()> {
    let args = Args::parse();
    let cfg = args.config()?;
    cleanup::install_signal_handlers()?;
    cleanup::remove_stale();

    let clock = Stopwatch::start();
    report::heading("Lesson 3 - I/O-bound work under the GIL");
    report::kv("interpreter", cfg.gil()?.mode());
    report::kv("switch interval", fmt_duration(cfg.gil.interval()));
    report::kv("cores", cores());
    let parts: [fn(&Config) -> anyhow::Result<()>; 6] = [
        |cfg| part1_downloads::run(cfg).map(drop),
        |cfg| part2_real_io::run(cfg).map(drop),
        |cfg| part3_forgot_to_release::run(cfg).map(drop),
        |cfg| part4_mixed::run(cfg).map(drop),
        |cfg| part5_convoy::run(cfg).map(drop),
        |cfg| part6_release_table::run(cfg).map(drop),
    ];
    for (n, part) in (1..).zip(parts) {
        if args.part.is_none_or(|p| p == n) {
            part(&cfg)?;
        }
    }
    println!();
    report::kv("lesson time", fmt_duration(clock.elapsed()));
    Ok(())
}

fn main() -> ExitCode {
    gil_core::cli::run(real_main)
}
