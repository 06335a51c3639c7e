//! # Lesson 3 — I/O-bound work: threads overlap their waits
//!
//! Run it with `cargo run --release -p io-bound` (`-- --help` lists the flags; `--part N` runs
//! one part; `--free-threaded` and `--switch-interval MS` change the interpreter).
//!
//! Lesson 2 showed that two threads running "Python" take turns on the GIL, so CPU-bound work
//! gains nothing from threads. This lesson shows the other half of the story: a thread that is
//! *waiting* — for a timer, a disk, a socket — does not need the interpreter at all, and CPython
//! lets go of the GIL while it waits. Any number of threads can wait at the same time, so
//! programs that mostly wait get faster with threads even under a GIL. Then it looks at what
//! goes wrong: extensions that forget to let go, and the *convoy effect*, where a thread that
//! waits often is starved by one that never waits.
//!
//! ## How CPython lets go
//!
//! Around every call that may block, CPython's C code brackets the call with
//! `Py_BEGIN_ALLOW_THREADS` and `Py_END_ALLOW_THREADS`. The first drops the GIL (waking a waiter
//! if there is one), the second takes it back — waiting, like any other thread, if someone else
//! got it meanwhile. `time.sleep`, `file.read`/`write`, `socket.recv`/`send`/`connect`, `select`,
//! and `subprocess` waits all do this, as do the long loops inside NumPy. In the model the
//! bracket is [`gil_core::GilGuard::detach`]: the closure runs with the GIL released.
//!
//! Letting go is a promise made by whoever wrote the C code: the interpreter cannot tell that a
//! C function is about to block. A call made *without* the bracket keeps the GIL through the whole
//! wait, and nothing else in the process can run Python meanwhile.
//!
//! ## The parts (one module each)
//!
//! 1. [`part1_downloads`] — N "downloads" (sleeps with the GIL released), one after another
//!    and on N threads. The threaded run takes about as long as one download: speedup ≈ N.
//! 2. [`part2_real_io`] — not only sleeps: threads writing and reading temporary files, and
//!    threads fetching from a slow TCP server the lesson starts on `127.0.0.1`. The GIL is held
//!    for a sliver of each operation; the waits overlap. Everything the part creates — files,
//!    directory, server thread, sockets — is gone when it ends, also after an error, Ctrl-C,
//!    `kill`, a closed terminal or a closed output pipe ([`cleanup`], [`gil_core::echo`]).
//! 3. [`part3_forgot_to_release`] — the same fetches, made by an "extension" that never calls
//!    `detach`. Every wait now happens with the GIL held, so the threads queue: the
//!    timeline chart shows one thread at a time, and the wall time is at least the sum of all
//!    waits.
//! 4. [`part4_mixed`] — three workers, each a CPU phase (a countdown, GIL held) then an I/O phase
//!    (a sleep, GIL released). The CPU phases take turns and never run at the same instant:
//!    each hold ends about one switch interval after another worker starts waiting, when the
//!    holder honours that worker's drop request at its next check point. The I/O phases
//!    overlap completely.
//! 5. [`part5_convoy`] — an I/O thread doing many short socket round trips, alone and next to
//!    one CPU-bound thread. Each time the spinner grabs the GIL while the I/O is in flight, the
//!    I/O thread must wait about a switch interval to get it back: throughput collapses. A
//!    shorter switch interval shortens each wait in proportion.
//! 6. [`part6_release_table`] — the "when is the GIL released?" table, produced by an
//!    experiment: two threads per row, and the measured overlap decides the answer.
//!
//! ## Reading the numbers
//!
//! Every number is measured while you watch, or (with `--simulated`) computed by the
//! deterministic simulator [`gil_core::sim`]; nothing is typed in. Each sentence that states a
//! result is a [`gil_core::claim`]: printed beside the simulator's figure for an idle machine
//! with your core count, and only when this run's figure supports it — otherwise the lesson
//! says that this run did not show it, and why that probably is. Where a part compares two
//! ways of doing something, the ways take turns (A B A B …) and the figures are medians.
//! `cargo xtask fidelity` sets the same experiments beside CPython's own figures.
//!
//! **Overlap ratio** (parts 2, 6) is the threads' busy time — time holding the GIL plus time in
//! `detach`, but *not* time spent waiting for the GIL — divided by the wall time. 1.0
//! means one thread made progress at a time; 2.0 means two always did at once. Work that runs on
//! a CPU (copying file data, ndarray arithmetic) can overlap at most as many times as you have
//! cores; waiting (sleeps, a slow server) overlaps without limit. The lesson prints your core
//! count and says which rows it limits.
//!
//! ## Where the model simplifies CPython
//!
//! * Our threads are Rust threads attached to a model GIL; the "Python code" between blocking
//!   calls is a few Rust statements, so the GIL is held for microseconds where CPython would
//!   hold it for the time its bytecode takes — more, but still small next to a wait.
//! * The "ndarray" row releases the GIL only because our model extension calls `detach`
//!   around the array loop, exactly as NumPy's C code does; the array crate knows nothing of any
//!   GIL.
//! * The TCP server lives in the same process for convenience, on threads that never touch the
//!   GIL, so it behaves like a remote machine that happens to be very close.

pub mod cleanup;
pub mod part1_downloads;
pub mod part2_real_io;
pub mod part3_forgot_to_release;
pub mod part4_mixed;
pub mod part5_convoy;
pub mod part6_release_table;

use std::time::Duration;

use gil_core::cli::{DEFAULT_SWITCH_INTERVAL_MS, GilArgs};
use gil_core::lesson::Lesson;
use gil_core::sim::SimConfig;
use gil_core::{Gil, GilStats, Mode, report};

/// The lesson: its title, parts (with the Python each models) and exercises.
pub static LESSON: Lesson<Config> = Lesson {
    name: "io-bound",
    number: 3,
    title: "I/O-bound threads under the GIL",
    shows: "Waiting threads overlap, as a thread lets go of the GIL while it waits; what \
            goes wrong when a wait keeps it, or short waits meet a busy thread.",
    intro: "A thread detaches from the GIL around a call that may block (CPython's \
            Py_BEGIN_ALLOW_THREADS): the code inside runs without the GIL, as in \
            time.sleep, file and socket calls and NumPy's long loops. A thread waiting for \
            the GIL asks for it after one switch interval (5 ms by default, lesson 2).",
    steadier: "",
    parts: &[
        &part1_downloads::Downloads,
        &part2_real_io::RealIo,
        &part3_forgot_to_release::ForgotToDetach,
        &part4_mixed::Mixed,
        &part5_convoy::ConvoyEffect,
        &part6_release_table::ReleaseTable,
    ],
    exercises: &["05_overlap_downloads", "06_blocking_call"],
};

/// Sizes and interpreter settings for one run of the lesson.
#[derive(Clone, Debug)]
pub struct Config {
    /// `--free-threaded` and `--switch-interval`.
    pub gil: GilArgs,
    /// Small sizes and one run per figure (`--quick`).
    pub quick: bool,
    /// Downloads in part 1, files and clients in part 2, threads in part 3.
    pub downloads: usize,
    /// One simulated download (part 1) and one worker's I/O phase (part 4).
    pub delay: Duration,
    /// How long the slow server waits before answering (parts 2 and 6; part 3 uses a quarter).
    pub server_delay: Duration,
    /// Socket round trips the I/O thread makes in each batch of part 5.
    pub ops: usize,
    /// Countdown length of one worker's CPU phase (part 4) and of each computing thread (part 6).
    pub cpu_iters: u64,
    /// Size of each file written and read back in part 2, in KiB.
    pub file_kib: usize,
}

impl Config {
    /// The sizes of the default run: each wait as short as still shows its effect (a 50 ms
    /// sleep overlaps as plainly as a 500 ms one), so the whole lesson takes seconds.
    pub fn standard(gil: GilArgs) -> Self {
        Config {
            gil,
            quick: false,
            downloads: 4,
            delay: Duration::from_millis(50),
            server_delay: Duration::from_millis(40),
            ops: 40,
            cpu_iters: steps_for(CPU_PHASE, SIM_STEP_PICOS),
            file_kib: 2 * 1024,
        }
    }

    /// Small sizes: every part finishes in a fraction of a second.
    pub fn quick(gil: GilArgs) -> Self {
        Config {
            gil,
            quick: true,
            downloads: 3,
            delay: Duration::from_millis(30),
            server_delay: Duration::from_millis(30),
            ops: 20,
            cpu_iters: steps_for(CPU_PHASE / 4, SIM_STEP_PICOS),
            file_kib: 256,
        }
    }

    /// This configuration with its CPU phases sized for this machine: `cpu_iters` scaled by
    /// what a countdown step really costs here ([`gil_core::work::countdown_step_picos`], a
    /// few milliseconds to find), so a CPU phase lasts about as long as the simulator's.
    pub fn calibrated(self) -> Self {
        let picos = gil_core::work::countdown_step_picos();
        let iters = (self.cpu_iters as f64 * SIM_STEP_PICOS as f64 / picos as f64).round();
        Config {
            cpu_iters: (iters as u64).max(1),
            ..self
        }
    }

    /// A fresh GIL as the flags describe (each experiment gets its own, so statistics are clean).
    pub fn gil(&self) -> Gil {
        self.gil.build()
    }

    /// Whether `--free-threaded` was given.
    pub fn free_threaded(&self) -> bool {
        self.gil.free_threaded
    }

    /// How many times each comparison runs, its variants taking turns (A B A B …); figures are
    /// medians. One with `--quick`, and one when a single run of the comparison already takes
    /// `one_run` of more than 5 s (large flag values), so every part ends within a minute; two
    /// when a run takes over 100 ms, three for shorter ones.
    pub fn rounds(&self, one_run: Duration) -> usize {
        if self.quick || one_run > Duration::from_secs(5) {
            1
        } else if one_run > Duration::from_millis(100) {
            2
        } else {
            3
        }
    }

    /// The simulator set up like this run: same interpreter and interval, the simulated machine's cores,
    /// bytecodes of 1 µs (check points that often are plenty for these scenarios, and keep
    /// long computations cheap to simulate).
    pub fn sim(&self, cores: usize) -> SimConfig {
        let mut sim = SimConfig::new(self.gil.mode(Mode::Gil), self.gil.interval(), cores);
        sim.bytecode = Duration::from_micros(1);
        sim
    }
}

/// What one countdown step costs in the simulator, in picoseconds (1 ns, about what the
/// model's countdown takes on a recent x86 core). A live run rescales the step counts by what
/// a step costs there ([`Config::calibrated`]); the claims compare ratios, which do not
/// depend on it.
pub const SIM_STEP_PICOS: u64 = 1000;

/// How long one CPU phase (part 4) and each computing thread (part 6, half of it) counts.
pub const CPU_PHASE: Duration = Duration::from_millis(25);

/// Countdown steps that last `phase` at `step_picos` each.
fn steps_for(phase: Duration, step_picos: u64) -> u64 {
    let picos = phase.as_nanos() * 1000 / u128::from(step_picos.max(1));
    u64::try_from(picos).unwrap_or(u64::MAX).max(1)
}

/// The default interpreter flags: a CPython 3.2+ GIL with CPython's default switch interval.
pub fn default_gil_args() -> GilArgs {
    GilArgs {
        free_threaded: false,
        switch_interval: DEFAULT_SWITCH_INTERVAL_MS,
    }
}

/// How much the threads of one experiment ran at the same time, from the model's accounting.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Overlap {
    /// Wall-clock time of the whole experiment.
    pub wall: Duration,
    /// Sum over threads of time holding the GIL (running "Python").
    pub held: Duration,
    /// Sum over threads of time inside `detach` (GIL released: waiting on I/O, or native
    /// code).
    pub detached: Duration,
    /// Sum over threads of time spent waiting to take the GIL.
    pub waited: Duration,
}

impl Overlap {
    /// Add up the finished threads in `stats`.
    pub fn from_stats(stats: &GilStats, wall: Duration) -> Self {
        Overlap {
            wall,
            held: stats.total_held(),
            detached: stats.threads.iter().map(|t| t.detached).sum(),
            waited: stats.total_waited(),
        }
    }

    /// Busy time (held + detached) over wall time: on average, how many threads were making
    /// progress at once.
    pub fn ratio(&self) -> f64 {
        (self.held + self.detached).as_secs_f64() / self.wall.as_secs_f64().max(1e-9)
    }

    /// Which share of the busy time was spent holding the GIL (0.0 to 1.0).
    pub fn held_share(&self) -> f64 {
        let busy = (self.held + self.detached).as_secs_f64();
        if busy == 0.0 {
            0.0
        } else {
            self.held.as_secs_f64() / busy
        }
    }
}

/// Width of the timeline charts, in characters.
pub const CHART_CELLS: usize = 64;

/// Print a timeline chart, indented like the notes around it; its scale line is wrapped to
/// the page width.
pub fn print_chart(chart: &str) {
    for line in chart.lines() {
        if line.chars().count() + 4 <= report::WIDTH {
            println!("    {line}");
        } else {
            report::indented(line, "    ", "      ");
        }
    }
}
