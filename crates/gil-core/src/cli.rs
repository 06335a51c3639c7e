//! Command-line pieces every lesson and exercise shares: the GIL flags and a main that prints
//! errors as one line.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;

use crate::{Gil, Mode};

/// Flags that choose the interpreter: `--free-threaded`, `--switch-interval MS`.
#[derive(clap::Args, Clone, Debug)]
pub struct GilArgs {
    /// Run with no GIL at all, like CPython's free-threaded build (python3.13t)
    #[arg(long)]
    pub free_threaded: bool,

    /// Switch interval in milliseconds, like sys.setswitchinterval (CPython's default: 5)
    #[arg(long, value_name = "MS", default_value_t = 5.0)]
    pub switch_interval: f64,
}

impl GilArgs {
    /// The switch interval the flags ask for, checked.
    pub fn interval(&self) -> anyhow::Result<Duration> {
        parse_interval_ms(self.switch_interval)
    }

    /// Build the GIL the flags describe.
    pub fn build(&self) -> anyhow::Result<Gil> {
        self.build_with(Mode::Gil)
    }

    /// Build a GIL in `mode`, unless `--free-threaded` overrides it.
    pub fn build_with(&self, mode: Mode) -> anyhow::Result<Gil> {
        let gil = Gil::with_mode(if self.free_threaded {
            Mode::FreeThreaded
        } else {
            mode
        });
        gil.set_switch_interval(self.interval()?)?;
        Ok(gil)
    }
}

/// Milliseconds as a switch interval: finite, above zero, at most an hour.
pub fn parse_interval_ms(ms: f64) -> anyhow::Result<Duration> {
    anyhow::ensure!(
        ms.is_finite() && ms > 0.0 && ms <= 3_600_000.0,
        "switch interval must be between 0 and 3600000 ms, got {ms}"
    );
    Duration::try_from_secs_f64(ms / 1e3).context("switch interval out of range")
}

/// Run a program's real main and turn an error into one `error: …` line and exit code 1.
///
/// Returning `anyhow::Result` from `main` would print a backtrace when `RUST_BACKTRACE` is set;
/// a learner who typed a bad flag should see one sentence instead.
///
/// It also restores the default `SIGPIPE` action, so `cargo run -p cpu-bound | head` ends
/// quietly like other command-line tools instead of panicking on a closed pipe.
pub fn run(main: impl FnOnce() -> anyhow::Result<()>) -> ExitCode {
    #[cfg(unix)]
    // SAFETY: called at the start of main, before the program starts any thread; resetting a
    // signal to its default action has no other effect on the process.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    match main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_must_be_positive_and_finite() {
        assert_eq!(parse_interval_ms(5.0).unwrap(), Duration::from_millis(5));
        assert_eq!(parse_interval_ms(0.1).unwrap(), Duration::from_micros(100));
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(parse_interval_ms(bad).is_err(), "{bad} accepted");
        }
    }
}
