//! Leaving no trace: scratch directories that disappear on every way out.
//!
//! * Normal exit, an error (`?`), or a panic: [`ScratchDir`]'s destructor removes the directory.
//! * Ctrl-C (SIGINT), `kill` (SIGTERM), a closed terminal (SIGHUP), and a closed output pipe
//!   (SIGPIPE, as in `io-bound | head -5`): each would end the process without running
//!   destructors, so [`install_signal_handlers`] catches them. The handler only wakes a cleaner
//!   thread (little else is safe inside a signal handler); the cleaner removes every scratch
//!   directory still registered and exits with 128 + the signal's number, the status a shell
//!   reports for it. A thread that hit the closed pipe is parked until then, so it never
//!   reports the broken pipe as an error of its own.
//! * `kill -9` cannot be caught. Each scratch directory carries its process id in its name
//!   (`io-bound-<pid>-…`), and the next run removes those whose process is gone
//!   ([`remove_stale`]).
//!
//! Servers ([`gil_core::echo`]) need nothing: the OS closes their sockets when the process ends.

use std::ffi::c_int;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard, Once};
use std::time::Duration;

use anyhow::{Context as _, bail};

/// Exit status after Ctrl-C: 128 + SIGINT, as shells report it.
pub const INTERRUPTED_EXIT_CODE: i32 = 128 + libc::SIGINT;

/// The signals after which the scratch directories are removed.
pub const CAUGHT_SIGNALS: [c_int; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGPIPE];

/// Start of every scratch directory's name; the process id follows.
const PREFIX: &str = "io-bound-";

/// Directories alive right now, for the cleaner.
static LIVE_DIRS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Write end of the pipe that wakes the cleaner thread (-1 until installed).
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);

/// `pthread_self()` of the cleaner thread, so a broken pipe there is not parked.
static CLEANER: AtomicUsize = AtomicUsize::new(0);

fn live_dirs() -> MutexGuard<'static, Vec<PathBuf>> {
    LIVE_DIRS.lock().unwrap_or_else(|p| p.into_inner())
}

/// Remove the scratch directories on SIGINT, SIGTERM, SIGHUP and SIGPIPE before the process
/// ends. Safe to call twice.
pub fn install_signal_handlers() -> anyhow::Result<()> {
    static INSTALLED: Once = Once::new();
    let mut result = Ok(());
    INSTALLED.call_once(|| result = install());
    result
}

fn install() -> anyhow::Result<()> {
    let mut fds = [0 as c_int; 2];
    // SAFETY: `fds` is a valid array of two ints for pipe2 to fill.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        bail!(
            "creating the signal pipe: {}",
            std::io::Error::last_os_error()
        );
    }
    let [read_end, write_end] = fds;
    WAKE_FD.store(write_end, Relaxed);
    std::thread::Builder::new()
        .name("cleaner".into())
        .spawn(move || clean_up_after_signal(read_end))
        .context("starting the clean-up thread")?;
    for signal in CAUGHT_SIGNALS {
        // SAFETY: a zeroed sigaction is a valid "no flags, empty mask" value; we then set a
        // handler that only calls async-signal-safe functions (write, pause, pthread_self).
        let failed = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as extern "C" fn(c_int) as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut()) != 0
        };
        if failed {
            bail!(
                "installing the handler for signal {signal}: {}",
                std::io::Error::last_os_error()
            );
        }
    }
    Ok(())
}

/// The signal handler: tell the cleaner which signal came, then (for a broken pipe) park the
/// thread that wrote, so it cannot go on to fail on the error.
extern "C" fn on_signal(signal: c_int) {
    // SAFETY: pthread_self, write and pause are async-signal-safe; the buffer is one valid byte.
    unsafe {
        if signal == libc::SIGPIPE && libc::pthread_self() as usize == CLEANER.load(Relaxed) {
            return; // the cleaner's own message met a closed stderr: just let the write fail
        }
        let byte = signal as u8;
        libc::write(
            WAKE_FD.load(Relaxed),
            (&raw const byte).cast::<libc::c_void>(),
            1,
        );
        if signal == libc::SIGPIPE {
            loop {
                libc::pause();
            }
        }
    }
}

/// The cleaner thread: wait for a signal, remove every scratch directory, end the process.
fn clean_up_after_signal(read_end: c_int) {
    // SAFETY: pthread_self has no preconditions.
    CLEANER.store(unsafe { libc::pthread_self() } as usize, Relaxed);
    let mut byte = 0u8;
    loop {
        // SAFETY: reading one byte into a valid one-byte buffer.
        let n = unsafe { libc::read(read_end, (&raw mut byte).cast::<libc::c_void>(), 1) };
        if n == 1 {
            break;
        }
        if n == 0 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return; // the pipe is gone: nobody can wake us any more
        }
    }
    let signal = c_int::from(byte);
    // Holding the lock until exit keeps a ScratchDir from being created meanwhile.
    let dirs = live_dirs();
    let removed = dirs.iter().filter(|dir| remove_dir_retrying(dir)).count();
    if signal != libc::SIGPIPE {
        let _ = writeln!(
            std::io::stderr(),
            "\n{}: removed {removed} scratch director{}; the server threads end with the process",
            signal_name(signal),
            if removed == 1 { "y" } else { "ies" }
        );
    }
    std::process::exit(128 + signal);
}

/// Remove `dir`, retrying briefly while threads of the lesson may still be writing into it.
fn remove_dir_retrying(dir: &Path) -> bool {
    for _ in 0..20 {
        if std::fs::remove_dir_all(dir).is_ok() || !dir.exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

fn signal_name(signal: c_int) -> &'static str {
    match signal {
        libc::SIGINT => "interrupted",
        libc::SIGTERM => "terminated",
        libc::SIGHUP => "hung up",
        _ => "stopped by a signal",
    }
}

/// Remove scratch directories left in the temp dir by earlier runs that were killed outright
/// (`kill -9`): ours by name and owner, and whose process no longer exists. Returns how many.
pub fn remove_stale() -> usize {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return 0;
    };
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    entries
        .flatten()
        .filter(|entry| {
            let name = entry.file_name();
            let Some(pid) = name.to_str().and_then(owner_pid) else {
                return false;
            };
            let Ok(meta) = entry.path().symlink_metadata() else {
                return false;
            };
            use std::os::unix::fs::MetadataExt as _;
            meta.is_dir() && meta.uid() == me && !process_exists(pid)
        })
        .filter(|entry| std::fs::remove_dir_all(entry.path()).is_ok())
        .count()
}

/// The process id in a scratch directory's name, `io-bound-<pid>-<random>`.
fn owner_pid(name: &str) -> Option<libc::pid_t> {
    let (pid, rest) = name.strip_prefix(PREFIX)?.split_once('-')?;
    if rest.is_empty() {
        return None;
    }
    pid.parse().ok().filter(|&pid| pid > 0)
}

fn process_exists(pid: libc::pid_t) -> bool {
    // SAFETY: signal 0 only checks whether the process exists; nothing is sent.
    let found = unsafe { libc::kill(pid, 0) } == 0;
    found || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// A temporary directory (from the `tempfile` crate) that is also removed after a signal, and
/// by the next run after `kill -9`.
#[derive(Debug)]
pub struct ScratchDir {
    dir: tempfile::TempDir,
}

impl ScratchDir {
    /// Create a fresh, empty directory under the system's temp dir.
    pub fn new() -> anyhow::Result<Self> {
        let mut live = live_dirs();
        let dir = tempfile::Builder::new()
            .prefix(&format!("{PREFIX}{}-", std::process::id()))
            .tempdir()
            .context("creating a scratch directory")?;
        live.push(dir.path().to_owned());
        Ok(ScratchDir { dir })
    }

    /// Where the directory is.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        live_dirs().retain(|d| d != self.dir.path());
        // TempDir's own destructor removes the directory right after this.
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_with_a_pid_and_a_suffix_are_ours() {
        assert_eq!(owner_pid("io-bound-1234-abc"), Some(1234));
        assert_eq!(owner_pid("io-bound-abc"), None);
        assert_eq!(owner_pid("io-bound-1234-"), None);
        assert_eq!(owner_pid("io-bound-0-x"), None);
        assert_eq!(owner_pid("io-bound--5-x"), None);
        assert_eq!(owner_pid("cpu-bound-1234-abc"), None);
    }

    #[test]
    fn a_live_process_keeps_its_scratch_dir() {
        let scratch = ScratchDir::new().unwrap();
        remove_stale();
        assert!(scratch.path().exists());
    }

    #[test]
    fn a_dead_process_loses_its_scratch_dir() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        let stale = std::env::temp_dir().join(format!("{PREFIX}{pid}-unit-test"));
        std::fs::create_dir_all(stale.join("inner")).unwrap();
        remove_stale();
        assert!(!stale.exists(), "{} survived", stale.display());
    }
}
