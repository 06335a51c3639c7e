//! Running a program safely (a learner's exercise, a python3 for fidelity, real-gil or a lesson):
//! its own process group, a time limit, a cap on how much output is kept, and nothing left
//! behind.
//!
//! Every process a run starts carries a mark in its environment (`GIL_LESSONS_RUN=<run id>`),
//! inherited through `fork`, `exec` and `setsid`, so a child that left the process group is
//! still found: when the run ends, every process with its mark is killed, however it ended.
//! On Linux the grader is also a child subreaper, so orphans of the program become its
//! children and are reaped, not left as zombies.
//!
//! Architecture invariant: when [`run`] returns, nothing the program started is still running —
//! threads, children, grandchildren and `setsid` daemons die with it. A program that installs
//! [`stop_every_run`] as its SIGINT/SIGTERM/SIGHUP handler (xtask does) kills them too before it
//! exits.

use std::io::Read;
use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

use anyhow::Context as _;

/// The environment variable that marks the processes of one run.
const MARK: &str = "GIL_LESSONS_RUN";

/// Runs in progress (process group, mark), for the signal handler.
static RUNNING: Mutex<Vec<(i32, String)>> = Mutex::new(Vec::new());

/// Numbers the runs of this process, to make each run's mark unique.
static RUNS: AtomicU64 = AtomicU64::new(0);

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

/// Every process (but this one) whose environment carries `MARK=mark`.
fn marked(mark: &str) -> Vec<i32> {
    let needle = format!("{MARK}={mark}");
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|environ| {
                environ
                    .split(|&byte| byte == 0)
                    .any(|entry| entry == needle.as_bytes())
            })
        })
        .filter_map(|pid| i32::try_from(pid).ok())
        .collect()
}

/// Kill every process of group `pgid` and every process marked `mark`, until none is left
/// (a dying parent's children may still be forking); reap those that became our children.
/// `spare` is the run's own child, which its waiting thread reaps.
fn kill_run(pgid: i32, mark: &str, spare: i32) {
    kill_group(pgid);
    let mut killed = Vec::new();
    for _ in 0..100 {
        let left = marked(mark);
        if left.is_empty() {
            break;
        }
        for &pid in &left {
            // SAFETY: kill only sends a signal; a process that is gone yields ESRCH.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
        killed.extend(left);
        std::thread::sleep(Duration::from_millis(5));
    }
    killed.sort_unstable();
    killed.dedup();
    for pid in killed.into_iter().filter(|&pid| pid != spare) {
        // Orphans of the program were handed to us (the subreaper): reap them. WNOHANG: one
        // that is not our child, or not dead yet, is none of our business.
        // SAFETY: waitpid on a specific pid with a valid status pointer.
        unsafe {
            let mut status = 0;
            libc::waitpid(pid, &mut status, libc::WNOHANG);
        }
    }
}

/// Kill every program a [`run`] is running now, and whatever each started (for a signal
/// handler: the programs run in their own process groups, so the terminal's Ctrl-C would not
/// reach them).
pub fn stop_every_run() {
    let running = RUNNING.lock().map(|r| r.clone()).unwrap_or_default();
    for (pgid, mark) in running {
        kill_run(pgid, &mark, 0);
    }
}

/// Become a child subreaper (Linux): orphans of the programs this process runs become its
/// children, so [`run`] reaps them instead of leaving zombies.
pub fn adopt_orphans() {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl with PR_SET_CHILD_SUBREAPER only changes who inherits our orphans.
    unsafe {
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    }
}

/// Run `program args…` in `dir` under `limits`.
pub fn run(program: &Path, args: &[String], dir: &Path, limits: Limits) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let mark = format!(
        "{}-{}",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::Relaxed)
    );
    let mut running = RUNNING.lock().unwrap_or_else(|p| p.into_inner());
    let mut child = Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env("RUST_BACKTRACE", "0")
        .env("NO_COLOR", "1")
        .env(MARK, &mark)
        .process_group(0)
        .spawn()
        .with_context(|| format!("cannot start {}", program.display()))?;
    let pgid = i32::try_from(child.id()).context("process id out of range")?;
    // Registered before the signal handler can look (it waits for this lock).
    running.push((pgid, mark.clone()));
    drop(running);

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
    // of a program that exited, the whole tree of one that hung or flooded, and any process that
    // left the group (`setsid`) but still carries the run's mark.
    kill_run(pgid, &mark, pgid);
    RUNNING
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .retain(|(group, _)| *group != pgid);
    // The pipes close once every marked process is dead; one that scrubbed its environment could
    // keep them open, so do not wait for ever.
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
