//! Part 2 — real I/O: files on disk and a slow server on the loopback interface.
//!
//! Sleeps are a stand-in. Here the threads do what a real program does, with every system call
//! inside [`allow_threads`](gil_core::GilGuard::allow_threads), as CPython's `io` and `socket`
//! modules do:
//!
//! * **Files.** Each thread writes a file in 64 KiB chunks into a fresh scratch directory,
//!   `fsync`s it, reads it back and checks every byte (the check is "Python", so it holds the
//!   GIL). Copying data into and out of the kernel needs a CPU, so that part speeds up at most
//!   as many times as there are cores; waiting for the disk to confirm the `fsync` needs none.
//! * **Network.** The lesson starts a server on `127.0.0.1` (port 0: the OS picks one) that
//!   answers each request after a delay ([`crate::server`]). N clients each send a request and
//!   wait for the answer; their waits overlap, so N requests take about as long as one.
//!
//! The scratch directory and the server are gone when the part ends — on success, on an error,
//! and on Ctrl-C ([`crate::cleanup`]).

use std::fs::File;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use gil_core::measure::{fmt_duration, fmt_ratio, speedup, time};
use gil_core::{Gil, GilGuard, report};

use crate::cleanup::ScratchDir;
use crate::{Config, Overlap, fmt_percent};
use gil_core::echo::{Behaviour, LoopbackServer, expected_reply, fetch};

/// Size of one `write`/`read` call.
const CHUNK: usize = 64 * 1024;

/// One workload timed one-after-another and on threads.
#[derive(Clone, Debug)]
pub struct Comparison {
    /// One thread doing every task in turn.
    pub sequential: Duration,
    /// One thread per task.
    pub threaded: Duration,
    /// How the threaded run spent its time.
    pub overlap: Overlap,
}

impl Comparison {
    /// `sequential / threaded`.
    pub fn speedup(&self) -> f64 {
        speedup(self.sequential, self.threaded)
    }
}

/// What part 2 measured.
#[derive(Clone, Debug)]
pub struct Report {
    /// Files written and read back (per run).
    pub files: usize,
    /// Bytes each file held.
    pub file_bytes: u64,
    /// File I/O, sequential vs threaded.
    pub file_io: Comparison,
    /// The scratch directory the files lived in (removed by now).
    pub scratch_dir: PathBuf,
    /// Whether the scratch directory still exists after the part (it must not).
    pub scratch_dir_left: bool,
    /// Requests sent to the server (per run).
    pub requests: usize,
    /// Replies that matched their request exactly, over both runs.
    pub correct_replies: usize,
    /// Connections the server answered, counted by the server after it shut down.
    pub served: u64,
    /// The server's answer delay.
    pub server_delay: Duration,
    /// Network I/O, sequential vs threaded.
    pub network: Comparison,
}

/// Write file `i` in chunks, fsync it, read it back, and check it. Returns its size.
pub(crate) fn file_task(
    py: &mut GilGuard<'_>,
    dir: &Path,
    i: usize,
    kib: usize,
) -> anyhow::Result<u64> {
    let path = dir.join(format!("download-{i}.dat"));
    let chunk: Vec<u8> = (0..CHUNK).map(|k| (k * 7 + i * 13) as u8).collect();
    let chunks = (kib * 1024).div_ceil(CHUNK).max(1);

    let mut file = py.allow_threads(|| File::create(&path))?;
    for _ in 0..chunks {
        py.allow_threads(|| file.write_all(&chunk))?;
        py.check_point();
    }
    py.allow_threads(|| file.sync_all())?;
    drop(file);

    let mut file = py.allow_threads(|| File::open(&path))?;
    let mut back = vec![0u8; CHUNK];
    for n in 0..chunks {
        py.allow_threads(|| file.read_exact(&mut back))?;
        anyhow::ensure!(back == chunk, "{} differs in chunk {n}", path.display());
        py.check_point();
    }
    Ok((chunks * CHUNK) as u64)
}

/// One client request with the GIL released while it waits. Returns true if the reply matched.
pub(crate) fn request_task(
    py: &mut GilGuard<'_>,
    server: &LoopbackServer,
    i: usize,
) -> anyhow::Result<bool> {
    let request = format!("GET /file-{i}");
    let reply = py.allow_threads(|| fetch(server.addr(), &request))?;
    Ok(reply == expected_reply(&request))
}

/// Run `task` for every index on one thread, then on one thread per index.
fn compare<R: Send>(
    cfg: &Config,
    n: usize,
    task: impl Fn(&mut GilGuard<'_>, usize) -> anyhow::Result<R> + Sync,
) -> anyhow::Result<(Comparison, Vec<R>)> {
    let gil = cfg.gil()?;
    let (seq, sequential) =
        time(|| gil.attach("main", |py| (0..n).map(|i| task(py, i)).collect::<Vec<_>>()));
    let gil: Gil = cfg.gil()?;
    let (par, threaded) = time(|| gil.run_threads(n, |i, py| task(py, i)));
    let overlap = Overlap::from_stats(&gil.stats(), threaded);
    let results = seq
        .into_iter()
        .chain(par)
        .collect::<anyhow::Result<Vec<R>>>()?;
    Ok((
        Comparison {
            sequential,
            threaded,
            overlap,
        },
        results,
    ))
}

fn print_comparison(what: &str, n: usize, c: &Comparison) {
    report::kv(&format!("{what} sequential"), fmt_duration(c.sequential));
    report::kv(&format!("{what} on {n} threads"), fmt_duration(c.threaded));
    report::kv(&format!("{what} speedup"), fmt_ratio(c.speedup()));
    report::kv(
        &format!("{what} overlap ratio"),
        fmt_ratio(c.overlap.ratio()),
    );
    report::kv(
        &format!("{what} GIL held"),
        fmt_percent(c.overlap.held_share()),
    );
}

/// Run part 2 and print it.
pub fn run(cfg: &Config) -> anyhow::Result<Report> {
    report::heading("Part 2 - real I/O: temp files and a slow TCP server");
    let n = cfg.downloads;

    let scratch = ScratchDir::new()?;
    let scratch_dir = scratch.path().to_owned();
    report::kv("scratch dir", scratch_dir.display());
    report::note(&format!(
        "{n} threads each write {} KiB in {} KiB chunks, fsync, read it back and check it.",
        cfg.file_kib,
        CHUNK / 1024
    ));
    let (file_io, sizes) = compare(cfg, n, |py, i| file_task(py, &scratch_dir, i, cfg.file_kib))?;
    let file_bytes = sizes.first().copied().unwrap_or(0);
    print_comparison("files", n, &file_io);
    report::note(
        "Copying bytes to and from the kernel needs a CPU; waiting for the disk to confirm an fsync\n\
         does not, and those waits overlap freely. The speedup mixes both, so it can beat your core\n\
         count or fall short of it. Either way the GIL is not the limit: see how little it was held.",
    );
    let server = LoopbackServer::start(Behaviour::Delayed(cfg.server_delay))?;
    report::kv("server", server.addr());
    report::note(&format!(
        "The server answers each request after {}; {n} clients ask at once.",
        fmt_duration(cfg.server_delay)
    ));
    let (network, replies) = compare(cfg, n, |py, i| request_task(py, &server, i))?;
    let correct_replies = replies.iter().filter(|&&ok| ok).count();
    print_comparison("network", n, &network);
    report::kv("correct replies", format!("{correct_replies} of {}", 2 * n));

    let served = server.shutdown()?;
    drop(scratch);
    let scratch_dir_left = scratch_dir.exists();
    report::kv("connections served", served);
    report::kv("server thread", "stopped");
    report::kv(
        "scratch dir after cleanup",
        if scratch_dir_left {
            "STILL THERE"
        } else {
            "removed"
        },
    );
    anyhow::ensure!(
        !scratch_dir_left,
        "{} was not removed",
        scratch_dir.display()
    );
    Ok(Report {
        files: n,
        file_bytes,
        file_io,
        scratch_dir,
        scratch_dir_left,
        requests: n,
        correct_replies,
        served,
        server_delay: cfg.server_delay,
        network,
    })
}
