//! Running a learner's program safely: its own process group, a time limit that kills the whole
//! group, and a cap on how much output is kept.
//!
//! Architecture invariant: when [`run`] returns, nothing the program started is still running
//! in its process group — threads, children and grandchildren die with it.

use std::io::Read;
use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::Context as _;

/// The process group of the program running now (0: none), for the Ctrl-C handler.
static RUNNING_GROUP: AtomicI32 = AtomicI32::new(0);

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// It exited with this code.
    Exited(i32),
    /// A signal killed it (not ours).
    Signalled(i32),
    /// It ran out of time; we killed its group.
    TimedOut,
    /// It printed more than the cap; we killed its group.
    Flooded,
}

/// What one run produced.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// How it ended.
    pub ending: Ending,
    /// Standard output (at most the cap, lossily decoded).
    pub stdout: String,
    /// Standard error (at most the cap, lossily decoded).
    pub stderr: String,
}

impl Outcome {
    /// An outcome that is just this text on stdout (a "hard-coded" program).
    pub fn printed(stdout: &str) -> Outcome {
        Outcome {
            ending: Ending::Exited(0),
            stdout: stdout.to_owned(),
            stderr: String::new(),
        }
    }
}

/// Limits for one run.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Kill the group after this long.
    pub timeout: Duration,
    /// Kill the group once stdout and stderr together exceed this many bytes.
    pub max_output: usize,
}

/// What the waiting thread hears about.
enum Event {
    Exited(std::process::ExitStatus),
    Flooded,
}

/// Kill every process in group `pgid`.
fn kill_group(pgid: i32) {
    if pgid > 0 {
        // SAFETY: killpg only sends a signal; a group that is gone yields ESRCH, which we ignore.
        unsafe {
            libc::killpg(pgid, libc::SIGKILL);
        }
    }
}

/// Install the Ctrl-C handler once: kill the running program's group, then exit.
///
/// The program runs in its own process group, so the terminal's Ctrl-C would not reach it.
pub fn kill_children_on_interrupt() {
    let _ = ctrlc::set_handler(|| {
        kill_group(RUNNING_GROUP.load(Ordering::SeqCst));
        std::process::exit(130);
    });
}

/// Run `program args…` in `dir` under `limits`.
pub fn run(program: &Path, args: &[String], dir: &Path, limits: Limits) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let mut child = Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env("RUST_BACKTRACE", "0")
        .env("NO_COLOR", "1")
        .process_group(0)
        .spawn()
        .with_context(|| format!("cannot start {}", program.display()))?;
    let pgid = i32::try_from(child.id()).context("process id out of range")?;
    RUNNING_GROUP.store(pgid, Ordering::SeqCst);

    let (events, heard) = mpsc::channel();
    let total = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut readers = Vec::new();
    let pipes: [Box<dyn Read + Send>; 2] = [
        Box::new(child.stdout.take().context("no stdout pipe")?),
        Box::new(child.stderr.take().context("no stderr pipe")?),
    ];
    for mut pipe in pipes {
        let (events, total) = (events.clone(), total.clone());
        let (done, collected) = mpsc::channel();
        readers.push(collected);
        std::thread::spawn(move || {
            let mut kept = Vec::new();
            let mut buf = [0u8; 64 * 1024];
            while let Ok(n @ 1..) = pipe.read(&mut buf) {
                let before = total.fetch_add(n, Ordering::Relaxed);
                let room = limits.max_output.saturating_sub(before);
                kept.extend_from_slice(&buf[..n.min(room)]);
                if before + n > limits.max_output {
                    let _ = events.send(Event::Flooded);
                    break;
                }
            }
            let _ = done.send(kept);
        });
    }
    std::thread::spawn(move || {
        if let Ok(status) = child.wait() {
            let _ = events.send(Event::Exited(status));
        }
    });

    let left = (started + limits.timeout).saturating_duration_since(Instant::now());
    let ending = match heard.recv_timeout(left) {
        Ok(Event::Exited(status)) => match (status.code(), status.signal()) {
            (Some(code), _) => Ending::Exited(code),
            (None, signal) => Ending::Signalled(signal.unwrap_or(0)),
        },
        Ok(Event::Flooded) => Ending::Flooded,
        Err(mpsc::RecvTimeoutError::Timeout) => Ending::TimedOut,
        Err(mpsc::RecvTimeoutError::Disconnected) => Ending::Signalled(0),
    };
    // Whatever happened, nothing of the program outlives the run: leftover threads and children
    // of a program that exited, or the whole tree of one that hung or flooded.
    kill_group(pgid);
    RUNNING_GROUP.store(0, Ordering::SeqCst);
    // The pipes close once the group is dead; a process that left the group could keep them
    // open, so do not wait for ever.
    let mut texts = readers.into_iter().map(|collected| {
        let bytes = collected
            .recv_timeout(Duration::from_secs(2))
            .unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    });
    let stdout = texts.next().unwrap_or_default();
    let stderr = texts.next().unwrap_or_default();
    Ok(Outcome {
        ending,
        stdout,
        stderr,
    })
}
