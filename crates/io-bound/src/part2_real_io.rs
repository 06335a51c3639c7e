//! Part 2 — real I/O: files on disk and a slow server on the loopback interface.
//!
#![doc = include_str!("part2_real_io.md")]
//!
//! Sleeps are a stand-in. Here the threads do what a real program does, with every system call
//! inside [`detach`](gil_core::GilGuard::detach), as CPython's `io` and `socket`
//! modules do:
//!
//! * **Files.** Each thread writes a file in 64 KiB chunks into a fresh scratch directory,
//!   `fsync`s it, reads it back and checks every byte (the check is "Python", so it holds the
//!   GIL). Copying data into and out of the kernel needs a CPU, so that part speeds up at most
//!   as many times as there are cores; waiting for the disk to confirm the `fsync` needs none.
//! * **Network.** The lesson starts a server on `127.0.0.1` (port 0: the OS picks one) that
//!   answers each request after a delay ([`gil_core::echo`]). N clients each send a request and
//!   wait for the answer; their waits overlap, so N requests take about as long as one.
//!
//! The scratch directory and the server are gone when the part ends — on success, on an error,
//! and on Ctrl-C, `kill`, a closed terminal or a closed output pipe ([`crate::cleanup`]).
//!
//! Each workload runs one after another and on threads, taking turns; figures are medians.

use std::fs::File;
use std::io::{Read as _, Write as _};
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use gil_core::claim::{Claim, Unit};
use gil_core::context::Cx;
use gil_core::echo::{Behaviour, LoopbackServer, expected_reply, fetch};
use gil_core::measure::{fmt_duration, median_by, speedup, time};
use gil_core::part::{Part, Run as PartRun};
use gil_core::sim::{Script, Step, simulate};
use gil_core::{GilGuard, report};

use crate::cleanup::ScratchDir;
use crate::{Config, Overlap};

/// The Python this part models.
pub const PYTHON: &str = "
def save(path, data):                  # write and fsync release the GIL
    with open(path, 'wb') as f:
        f.write(data); os.fsync(f.fileno())

def fetch(n):                          # so do send and recv
    with socket.create_connection(server) as s:
        s.sendall(b'GET /%d\\n' % n)
        return s.recv(4096)";

/// Size of one `write`/`read` call.
const CHUNK: usize = 64 * 1024;

/// What the simulator assumes one 64 KiB chunk costs on an idle machine: copying it into or out
/// of the kernel (GIL released, a core busy), and comparing it (GIL held). Only their proportions
/// matter for the figures the part claims.
const SIM_COPY_CHUNK: Duration = Duration::from_micros(12);
const SIM_CHECK_CHUNK: Duration = Duration::from_micros(3);
/// What the simulator assumes one `fsync` waits for the disk.
const SIM_FSYNC: Duration = Duration::from_millis(2);

/// One workload timed one-after-another and on threads.
#[derive(Clone, Debug)]
pub struct Comparison {
    /// One thread doing every task in turn (median).
    pub sequential: Duration,
    /// One thread per task (median).
    pub threaded: Duration,
    /// How the threaded run with the median time spent it.
    pub overlap: Overlap,
}

impl Comparison {
    /// `sequential / threaded`.
    pub fn speedup(&self) -> f64 {
        speedup(self.sequential, self.threaded)
    }
}

/// What part 2 measured (or simulated).
#[derive(Clone, Debug)]
pub struct Report {
    /// Files written and read back (per run), and requests sent (per run).
    pub tasks: usize,
    /// File I/O, sequential vs threaded.
    pub file_io: Comparison,
    /// Network I/O, sequential vs threaded.
    pub network: Comparison,
    /// What only a live run has: the scratch directory, replies, the server's count.
    pub live: Option<LiveChecks>,
}

/// The checks only a live run makes.
#[derive(Clone, Debug)]
pub struct LiveChecks {
    /// Bytes each file held.
    pub file_bytes: u64,
    /// Whether the scratch directory still exists after the part (it must not).
    pub scratch_dir_left: bool,
    /// Replies that matched their request exactly, over every run.
    pub correct_replies: usize,
    /// Requests sent, over every run.
    pub requests_sent: usize,
    /// Connections the server answered, counted by the server after it shut down.
    pub served: u64,
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

    let mut file = py.detach(|| File::create(&path))?;
    for _ in 0..chunks {
        py.detach(|| file.write_all(&chunk))?;
        py.check_point();
    }
    py.detach(|| file.sync_all())?;
    drop(file);

    let mut file = py.detach(|| File::open(&path))?;
    let mut back = vec![0u8; CHUNK];
    for n in 0..chunks {
        py.detach(|| file.read_exact(&mut back))?;
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
    let reply = py.detach(|| fetch(server.addr(), &request))?;
    Ok(reply == expected_reply(&request))
}

/// Run `task` for every index on one thread, then on one thread per index, `rounds` times in
/// turns. Returns the medians and every result.
fn compare<R: Send>(
    cfg: &Config,
    n: usize,
    rounds: usize,
    task: impl Fn(&mut GilGuard<'_>, usize) -> anyhow::Result<R> + Sync,
) -> anyhow::Result<(Comparison, Vec<R>)> {
    let (mut sequential, mut threaded, mut results) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let gil = cfg.gil();
        let (seq, took) =
            time(|| gil.attach("main", |py| (0..n).map(|i| task(py, i)).collect::<Vec<_>>()));
        sequential.push(took);
        results.extend(seq);
        let gil = cfg.gil();
        let (par, took) = time(|| gil.run_threads(n, |i, py| task(py, i)));
        threaded.push((took, Overlap::from_stats(&gil.stats(), took)));
        results.extend(par);
    }
    let results = results.into_iter().collect::<anyhow::Result<Vec<R>>>()?;
    threaded.sort_by_key(|(took, _)| *took);
    let (threaded, overlap) = threaded[threaded.len() / 2];
    Ok((
        Comparison {
            sequential: median_by(sequential, |d| *d).unwrap_or_default(),
            threaded,
            overlap,
        },
        results,
    ))
}

/// Refuse, in one line, files that would not fit on the scratch directory's disk.
fn ensure_disk_space(dir: &Path, bytes: u64) -> anyhow::Result<()> {
    let Ok(path) = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()) else {
        return Ok(());
    };
    // SAFETY: statvfs fills the zeroed struct it is given for a valid NUL-terminated path.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(path.as_ptr(), &mut stat) } != 0 {
        return Ok(()); // unknown: let the writes fail on their own if they must
    }
    // The field types differ between platforms; on some they are u64 already.
    #[allow(clippy::useless_conversion)]
    let free = u64::from(stat.f_bavail).saturating_mul(u64::from(stat.f_frsize));
    anyhow::ensure!(
        bytes.saturating_mul(2) <= free,
        "part 2 would write {} MiB into {}, which has {} MiB free; lower --file-kib or \
         --downloads",
        bytes >> 20,
        dir.display(),
        free >> 20
    );
    Ok(())
}

/// Time the files and the network live, each one after another and on threads, in turns.
pub fn measure(cfg: &Config) -> anyhow::Result<Report> {
    let n = cfg.downloads;
    let scratch = ScratchDir::new()?;
    let dir = scratch.path().to_owned();
    report::kv("scratch directory", dir.display());
    ensure_disk_space(&dir, (n * cfg.file_kib * 1024) as u64)?;
    let (file_io, sizes) = compare(cfg, n, cfg.rounds(Duration::ZERO), |py, i| {
        file_task(py, &dir, i, cfg.file_kib)
    })
    .context("writing and reading the scratch files")?;
    let server = LoopbackServer::start(Behaviour::Delayed(cfg.server_delay))?;
    report::kv("local server", server.addr());
    let rounds = cfg.rounds(cfg.server_delay * (n + 1) as u32);
    let (network, replies) = compare(cfg, n, rounds, |py, i| request_task(py, &server, i))?;
    let served = server.shutdown()?;
    drop(scratch);
    let scratch_dir_left = dir.exists();
    anyhow::ensure!(!scratch_dir_left, "{} was not removed", dir.display());
    Ok(Report {
        tasks: n,
        file_io,
        network,
        live: Some(LiveChecks {
            file_bytes: sizes.first().copied().unwrap_or(0),
            scratch_dir_left,
            correct_replies: replies.iter().filter(|&&ok| ok).count(),
            requests_sent: replies.len(),
            served,
        }),
    })
}

/// The same workloads on the simulator.
pub fn simulated(cfg: &Config, cores: usize) -> Report {
    let n = cfg.downloads;
    let chunks = (cfg.file_kib * 1024).div_ceil(CHUNK).max(1) as u32;
    let file = vec![
        Step::Repeat(chunks, vec![Step::NativeReleased(SIM_COPY_CHUNK)]),
        Step::Blocking(SIM_FSYNC),
        Step::Repeat(
            chunks,
            vec![
                Step::NativeReleased(SIM_COPY_CHUNK),
                Step::Bytecode(SIM_CHECK_CHUNK),
            ],
        ),
    ];
    let request = vec![Step::Blocking(cfg.server_delay)];
    let compare = |steps: Vec<Step>| {
        let one = simulate(
            &cfg.sim(cores),
            vec![Script::new(
                "main",
                vec![Step::Repeat(n as u32, steps.clone())],
            )],
        );
        let threads = simulate(
            &cfg.sim(cores),
            (1..=n)
                .map(|i| Script::new(format!("T{i}"), steps.clone()))
                .collect(),
        );
        Comparison {
            sequential: one.elapsed,
            threaded: threads.elapsed,
            overlap: Overlap::from_stats(threads.stats(), threads.elapsed),
        }
    };
    Report {
        tasks: n,
        file_io: compare(file),
        network: compare(request),
        live: None,
    }
}

/// Part 2 in the lesson's table.
pub struct RealIo;

impl Part<Config> for RealIo {
    type Figures = Report;

    fn title(&self) -> &'static str {
        "real files and a slow server"
    }

    fn python(&self) -> &'static str {
        PYTHON
    }

    fn text(&self) -> &'static str {
        TEXT
    }

    fn cores_needed(&self, _cfg: &Config) -> usize {
        2
    }

    fn live(&self, _cx: &Cx, cfg: &Config) -> anyhow::Result<Report> {
        measure(cfg)
    }

    fn simulate(&self, cx: &Cx, cfg: &Config) -> anyhow::Result<Report> {
        Ok(simulated(cfg, cx.sim_cores()))
    }

    fn show(&self, cx: &mut Cx, cfg: &Config, run: PartRun<'_, Report>) -> anyhow::Result<()> {
        show(cx, cfg, run.figures, run.expected)
    }
}

/// The part's prose (also its documentation, and the book's page).
pub const TEXT: &str = include_str!("part2_real_io.md");

fn print_comparison(what: &str, n: usize, c: &Comparison) {
    report::kv(&format!("{what}, one by one"), fmt_duration(c.sequential));
    report::kv(&format!("on {n} threads"), fmt_duration(c.threaded));
}

/// Print the figures of `r` and the claims they support, beside the simulator's `expected`.
pub fn show(cx: &mut Cx, cfg: &Config, r: &Report, expected: &Report) -> anyhow::Result<()> {
    let n = r.tasks;
    print_comparison(&format!("{n} files of {} KiB", cfg.file_kib), n, &r.file_io);
    let held = expected.file_io.overlap.held_share() * 100.0;
    cx.claim(Claim {
        figure: "share of the file threads' time holding the GIL",
        unit: Unit::Percent,
        measured: r.file_io.overlap.held_share() * 100.0,
        expected: held,
        low: 0.0,
        high: (held * 2.0).max(25.0),
        text: "The file threads seldom held the GIL: it was not what limited them.",
    });
    println!();
    print_comparison(
        &format!("{n} requests of {}", fmt_duration(cfg.server_delay)),
        n,
        &r.network,
    );
    let speedup = expected.network.speedup();
    cx.claim(Claim {
        figure: "network speedup on threads",
        unit: Unit::Ratio,
        measured: r.network.speedup(),
        expected: speedup,
        low: speedup * 0.85,
        high: speedup * 1.1 + 0.05,
        text: &format!("{n} requests on {n} threads took about as long as one."),
    });
    if let Some(live) = &r.live {
        report::kv(
            "replies that matched",
            format!("{} of {}", live.correct_replies, live.requests_sent),
        );
        report::kv("connections the server answered", live.served);
        report::kv(
            "scratch directory afterwards",
            if live.scratch_dir_left {
                "still there"
            } else {
                "removed"
            },
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulated_requests_overlap_and_files_hold_the_gil_little() {
        let cfg = Config::quick(crate::default_gil_args());
        let r = simulated(&cfg, 2);
        assert!(r.live.is_none());
        assert!(r.network.speedup() > 2.9 && r.network.speedup() <= 3.0);
        assert!(r.file_io.overlap.held_share() < 0.25, "{r:?}");
        assert_eq!(simulated(&cfg, 2).file_io.threaded, r.file_io.threaded);
    }
}
