//! Leaving no trace: scratch directories that disappear on every way out.
//!
//! * Normal exit, an error (`?`), or a panic: [`ScratchDir`]'s destructor removes the directory.
//! * Ctrl-C: the default SIGINT action would kill the process without running destructors, so
//!   [`install_ctrlc_handler`] replaces it. The handler removes every scratch directory still
//!   registered, says so on stderr, and exits with status 130 (the shell's code for SIGINT).
//!   Servers ([`gil_core::echo`]) need nothing: the OS closes their sockets when the process ends.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, Once};

use anyhow::Context as _;

/// Exit status after Ctrl-C: 128 + SIGINT, as shells report it.
pub const INTERRUPTED_EXIT_CODE: i32 = 130;

/// Directories alive right now, for the Ctrl-C handler.
static LIVE_DIRS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn live_dirs() -> MutexGuard<'static, Vec<PathBuf>> {
    LIVE_DIRS.lock().unwrap_or_else(|p| p.into_inner())
}

/// Make Ctrl-C remove the scratch directories before the process ends. Safe to call twice.
pub fn install_ctrlc_handler() -> anyhow::Result<()> {
    static INSTALLED: Once = Once::new();
    let mut result = Ok(());
    INSTALLED.call_once(|| {
        result = ctrlc::set_handler(|| {
            // Holding the lock until exit keeps a ScratchDir from being created meanwhile.
            let dirs = live_dirs();
            for dir in dirs.iter() {
                let _ = std::fs::remove_dir_all(dir);
            }
            eprintln!(
                "\ninterrupted: removed {} scratch director{}; the server threads end with the process",
                dirs.len(),
                if dirs.len() == 1 { "y" } else { "ies" }
            );
            std::process::exit(INTERRUPTED_EXIT_CODE);
        })
        .context("installing the Ctrl-C handler");
    });
    result
}

/// A temporary directory (from the `tempfile` crate) that is also removed on Ctrl-C.
#[derive(Debug)]
pub struct ScratchDir {
    dir: tempfile::TempDir,
}

impl ScratchDir {
    /// Create a fresh, empty directory under the system's temp dir.
    pub fn new() -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("io-bound-")
            .tempdir()
            .context("creating a scratch directory")?;
        live_dirs().push(dir.path().to_owned());
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
