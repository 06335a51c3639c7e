//! Command-line pieces every lesson and exercise shares: the GIL flags and a main that prints
//! errors as one line.

use std::process::ExitCode;
use std::time::Duration;

use crate::{Gil, Mode};

/// The default switch interval in milliseconds, as the flags show it (CPython's 5 ms).
pub const DEFAULT_SWITCH_INTERVAL_MS: f64 = crate::DEFAULT_SWITCH_INTERVAL.as_micros() as f64 / 1e3;

/// The longest switch interval the course accepts, in milliseconds.
///
/// CPython accepts any positive value; the course stops here so that every run, whose waits
/// grow with the interval, still ends within minutes.
pub const MAX_SWITCH_INTERVAL_MS: f64 = 100.0;

/// Flags that choose the interpreter: `--free-threaded`, `--switch-interval MS`.
#[derive(clap::Args, Clone, Debug)]
pub struct GilArgs {
    /// Run with no GIL at all, like CPython's free-threaded build (python3.13t)
    #[arg(long)]
    pub free_threaded: bool,

    /// Switch interval in ms, like sys.setswitchinterval: any value above 0 and at most 100
    /// (waits of under 1 µs last 1 µs, as in CPython)
    #[arg(long, value_name = "MS", default_value_t = DEFAULT_SWITCH_INTERVAL_MS,
          value_parser = parse_switch_interval_flag)]
    pub switch_interval: f64,
}

impl GilArgs {
    /// The switch interval the flags ask for (validated when they were parsed).
    pub fn interval(&self) -> Duration {
        interval_from_ms(self.switch_interval)
    }

    /// `Mode::FreeThreaded` with `--free-threaded`, otherwise `mode`.
    pub fn mode(&self, mode: Mode) -> Mode {
        if self.free_threaded {
            Mode::FreeThreaded
        } else {
            mode
        }
    }

    /// Build the GIL the flags describe.
    pub fn build(&self) -> Gil {
        self.build_with(Mode::Gil)
    }

    /// Build a GIL in `mode`, unless `--free-threaded` overrides it.
    pub fn build_with(&self, mode: Mode) -> Gil {
        let gil = Gil::with_mode(self.mode(mode));
        set_interval(&gil, self.interval());
        gil
    }
}

/// Set a switch interval that [`interval_from_ms`] produced (always above zero).
fn set_interval(gil: &Gil, interval: Duration) {
    // Cannot fail: intervals from the flags are never zero. Keep the GIL's own default if it
    // ever did, rather than stop a lesson.
    let _ = gil.set_switch_interval(interval);
}

/// Milliseconds as a switch interval, never zero: values below a nanosecond become 1 ns (the
/// model then waits 1 µs, as CPython's `take_gil` does).
pub fn interval_from_ms(ms: f64) -> Duration {
    Duration::try_from_secs_f64(ms / 1e3)
        .unwrap_or(Duration::from_millis(5))
        .max(Duration::from_nanos(1))
}

/// Milliseconds as a switch interval: finite, above zero, at most [`MAX_SWITCH_INTERVAL_MS`].
pub fn parse_interval_ms(ms: f64) -> anyhow::Result<Duration> {
    anyhow::ensure!(
        ms.is_finite() && ms > 0.0 && ms <= MAX_SWITCH_INTERVAL_MS,
        "the switch interval must be above 0 and at most {MAX_SWITCH_INTERVAL_MS} ms, got {ms}"
    );
    Ok(interval_from_ms(ms))
}

/// clap's parser for `--switch-interval`: a number in (0, 100] ms.
fn parse_switch_interval_flag(text: &str) -> Result<f64, String> {
    let ms: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("'{text}' is not a number of milliseconds"))?;
    parse_interval_ms(ms).map_err(|e| e.to_string())?;
    Ok(ms)
}

/// Run a program's real main and turn an error into one `error: …` line and exit code 1.
///
/// Returning `anyhow::Result` from `main` would print a backtrace when `RUST_BACKTRACE` is set;
/// a learner who typed a bad flag should see one sentence instead.
///
/// It also restores the default `SIGPIPE` action, so `cargo run -p cpu-bound | head` ends
/// quietly like other command-line tools instead of panicking on a closed pipe.
///
/// And it starts the deadlock watchdog ([`crate::waits::watchdog`]): a program whose model
/// threads end up waiting for each other says which ones and why, then exits, instead of hanging.
pub fn run(main: impl FnOnce() -> anyhow::Result<()>) -> ExitCode {
    crate::waits::watchdog(crate::waits::DEADLOCK_AFTER);
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
        assert_eq!(parse_interval_ms(1e-9).unwrap(), Duration::from_nanos(1));
        assert_eq!(DEFAULT_SWITCH_INTERVAL_MS, 5.0);
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 100.5] {
            assert!(parse_interval_ms(bad).is_err(), "{bad} accepted");
        }
    }
}
