//! # A deterministic simulator of the same GIL, in virtual time
//!
//! The live model ([`Gil`](crate::Gil)) measures on the learner's machine, so its figures move
//! with whatever else that machine is doing. This module runs the same protocol on simulated
//! threads over a simulated machine, in virtual time: the same scripts give the same figures on
//! every machine, every run. Lessons print its figure beside the live one ("expected on an idle
//! machine with this many cores"), tests assert its figures exactly, and `--simulated` runs a
//! whole lesson on it.
//!
//! ## What is simulated
//!
//! Each simulated thread runs a [`Script`] of [`Step`]s: Python bytecode (CPU time with a check
//! point every [`SimConfig::bytecode`]), native code that holds or releases the GIL, blocking
//! calls, `threading.Lock` acquire and release, and echo round trips.
//!
//! The GIL is the live lock's own state machine, [`protocol`](crate::protocol) (`take_gil` /
//! `drop_gil` of CPython's `Python/ceval_gil.c`), driven here in virtual time:
//!
//! * a waiter waits one switch interval (at least 1 µs, as `take_gil` does); if the wait timed
//!   out and the GIL did not change hands meanwhile, it sets the drop request;
//! * the holder honours the request at its next check point — never inside native code or a
//!   blocking call that keeps the GIL — and, forced switching, waits until another thread has
//!   taken the GIL before it queues again;
//! * blocking calls and `detach` native code release the GIL and retake it after;
//! * [`Mode::OldGil`]: every `check_interval` ticks the holder releases and at once retakes the
//!   GIL, with no drop request and no forced switching. A woken waiter needs the wake-up latency
//!   before it runs, so the releaser wins the race and the waiter goes back to sleep;
//! * [`Mode::FreeThreaded`]: no lock at all, only cores;
//! * each interpreter ([`Script::in_interpreter`]) has its own GIL, as subinterpreters with
//!   their own GIL (PEP 684) and separate processes do.
//!
//! Under the GIL sits an OS scheduler over [`Machine::cores`] cores: threads that compute
//! (holding the GIL, native code, free-threaded bytecode, the echo server answering) each need a
//! core; with more of them than cores they take turns in [`Machine::time_slice`]s. A thread
//! woken from a wait (condition variable, timer, I/O) runs [`Machine::wake_latency`] later and
//! preempts a computing thread if no core is free, as Linux's wake-up preemption does.
//!
//! The simulator returns the live model's own types — [`GilStats`], [`ThreadStats`](crate::ThreadStats),
//! [`Timeline`] — with the same meaning for every field (one protocol fills them;
//! `tests/drivers.rs` runs one scenario through both), so a lesson prints both alike.
//!
//! ## Reading its figures
//!
//! On [`Machine::idle`], two CPU-bound threads under the 3.2+ GIL hand over like this: the
//! waiter starts waiting one wake-up after the switch, waits the interval, its timer fires one
//! timer slack late and it runs one wake-up later, sets the drop request, and the holder lets go
//! at its next check point. So a contended hold lasts *interval + timer slack + 2 wake-ups*
//! (5.10 ms at 5 ms), and each hand-off adds a wake-up and a futex wake to the total time. An
//! echo round trip beside a CPU thread costs *interval + the server's time + timer slack +
//! 3 wake-ups*: the CPU thread takes the GIL while the server answers, and the I/O thread must
//! then wait a whole interval to get it back (the convoy). Alone it costs the server's time and
//! one wake-up. The tests in `tests/sim.rs` assert these sums exactly.
//!
//! ## What it leaves out
//!
//! Caches, memory bandwidth, frequency scaling, SMT, interrupts and other programs: the
//! simulated machine is idle and its cores are identical. Check points cost nothing; system
//! calls cost only what [`Machine`] says. A holder that lets go and retakes the GIL in the same
//! instant always wins against a woken waiter: the live lock loses such races now and then, and
//! on one core CPython 2's scheduler sometimes ran the woken waiter before the releaser could
//! retake, so there the old GIL changed hands now and then while here it never does.
//! Back-to-back holds by one thread appear as one span in the timeline (the hold counts in
//! [`ThreadStats`](crate::ThreadStats) stay exact). CPython's eval breaker has more reasons to
//! stop (signals, pending calls, garbage collection) that neither model has.
//!
//! ```
//! use std::time::Duration;
//! use gil_core::Mode;
//! use gil_core::sim::{simulate, Script, SimConfig, Step};
//!
//! let second = Duration::from_secs(1);
//! let cfg = SimConfig::new(Mode::FreeThreaded, Duration::from_millis(5), 2);
//! let two = simulate(&cfg, vec![
//!     Script::new("T1", vec![Step::Bytecode(second)]),
//!     Script::new("T2", vec![Step::Bytecode(second)]),
//! ]);
//! assert_eq!(two.elapsed, second); // two threads, two cores, no lock: in parallel
//! ```

mod engine;
mod program;
mod protocol;
mod scheduler;
mod steps;
mod world;

use std::fmt;
use std::time::Duration;

use crate::gil::Mode;
use crate::measure::fmt_duration;
use crate::stats::GilStats;
use crate::timeline::Timeline;

/// The machine the simulator runs on: an OS scheduler over `cores` identical, idle cores.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Machine {
    /// Cores available to the simulated threads (at least 1).
    pub cores: usize,
    /// How long a computing thread runs before another runnable thread gets its core
    /// (at least 1 µs is used).
    pub time_slice: Duration,
    /// From a wake-up (condition variable signal, timer, I/O completion) until the woken
    /// thread runs.
    pub wake_latency: Duration,
    /// CPU time lost when a preempted thread gets its core back (context switch, cold caches).
    pub switch_cost: Duration,
    /// How late a timed wait expires: Linux defers timers of ordinary threads by up to this
    /// much to batch wake-ups.
    pub timer_slack: Duration,
    /// CPU time the releasing thread spends waking the lock's waiters (a futex wake system call),
    /// paid at every release while any thread waits.
    pub signal_cost: Duration,
}

impl Machine {
    /// An idle Linux machine with `cores` cores (0 counts as 1). Where each default comes from:
    ///
    /// * `time_slice`: Linux's scheduler base slice, 0.75 ms scaled by `1 + log2(cores)` for up
    ///   to 8 cores (`sysctl_sched_base_slice` and `update_sysctl` in `kernel/sched/fair.c`):
    ///   0.75 ms on 1 core, 1.5 ms on 2, 2.25 ms on 4 or more.
    /// * `wake_latency`: 25 µs, a futex wake-up on a 2-vCPU virtual machine; with the timer
    ///   slack it makes the live model's median contended hold at a 5 ms interval (5.10 ms,
    ///   `cargo run --release -p cpu-bound -- --part 1`) come out the same here.
    /// * `timer_slack`: 50 µs, the Linux default for ordinary threads (`timer_slack_ns`,
    ///   `prctl(PR_SET_TIMERSLACK)`).
    /// * `switch_cost`: 2 µs, the usual direct cost of a context switch on Linux.
    /// * `signal_cost`: 1 µs, a futex wake system call. On the same virtual machine, with other
    ///   builds running, a release with a waiter cost 1.3 µs to 2.3 µs more than one without;
    ///   1 µs is the quiet end of that.
    pub fn idle(cores: usize) -> Machine {
        let cores = cores.max(1);
        let scale = 1 + cores.min(8).ilog2();
        Machine {
            cores,
            time_slice: Duration::from_micros(750) * scale,
            wake_latency: Duration::from_micros(25),
            switch_cost: Duration::from_micros(2),
            timer_slack: Duration::from_micros(50),
            signal_cost: Duration::from_micros(1),
        }
    }
}

/// What the simulator assumes, for a learner: "2 idle cores; time slice 1.50 ms, wake-up
/// 25.0 µs, timer slack 50.0 µs, context switch 2.0 µs, futex wake 1.0 µs".
impl fmt::Display for Machine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cores = if self.cores == 1 { "core" } else { "cores" };
        write!(
            f,
            "{} idle {cores}; time slice {}, wake-up {}, timer slack {}, context switch {}, \
             futex wake {}",
            self.cores,
            fmt_duration(self.time_slice),
            fmt_duration(self.wake_latency),
            fmt_duration(self.timer_slack),
            fmt_duration(self.switch_cost),
            fmt_duration(self.signal_cost),
        )
    }
}

/// What to simulate: which interpreter, its switch interval, the machine, and the size of a
/// bytecode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimConfig {
    /// The interpreter: CPython 3.2+, the old GIL, or free-threaded.
    pub mode: Mode,
    /// `sys.setswitchinterval`; any value, waits last at least 1 µs.
    pub switch_interval: Duration,
    /// The machine under the interpreter.
    pub machine: Machine,
    /// CPU time between two check points of a [`Step::Bytecode`] (also the old GIL's tick).
    pub bytecode: Duration,
}

impl SimConfig {
    /// The default size of a bytecode: 10 ns, about what CPython 2.7 spent per bytecode of a
    /// countdown loop (and the tick the cpu-bound lesson calibrates for the old GIL).
    pub const DEFAULT_BYTECODE: Duration = Duration::from_nanos(10);

    /// `mode` at `switch_interval` on an idle machine with `cores` cores ([`Machine::idle`]),
    /// with bytecodes of [`SimConfig::DEFAULT_BYTECODE`].
    pub fn new(mode: Mode, switch_interval: Duration, cores: usize) -> SimConfig {
        SimConfig {
            mode,
            switch_interval,
            machine: Machine::idle(cores),
            bytecode: Self::DEFAULT_BYTECODE,
        }
    }
}

/// One step of a simulated thread's script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Python code: this much CPU time holding the GIL, with a check point every
    /// [`SimConfig::bytecode`] (the last bytecode may be shorter).
    Bytecode(Duration),
    /// C code that keeps the GIL: uses a core, reaches no check point.
    NativeHolding(Duration),
    /// C code inside `Py_BEGIN_ALLOW_THREADS`: uses a core with the GIL released.
    NativeReleased(Duration),
    /// A blocking call with the GIL released (I/O, `time.sleep`): uses no core.
    Blocking(Duration),
    /// A blocking call that forgot to release the GIL: nobody else runs Python meanwhile.
    BlockingHolding(Duration),
    /// `lock.acquire()` on model `threading.Lock` number N: if it is taken, release the GIL
    /// and block until it is free, as CPython's lock does.
    Acquire(usize),
    /// A Rust lock (`std::sync::Mutex`, `OnceLock`) number N taken by native code that keeps
    /// the GIL: if it is taken, block *holding the GIL* until it is free. Locks share numbers
    /// with [`Step::Acquire`]; [`Step::Release`] frees either.
    AcquireHolding(usize),
    /// `lock.release()` on model lock N (ignored unless this thread holds it).
    Release(usize),
    /// An echo round trip: release the GIL, the server answers after computing this long on a
    /// core of its own, then retake the GIL. Each round trip's time is recorded.
    RoundTrip(Duration),
    /// A stop-the-world pause of this length (the free-threaded build's garbage collector,
    /// `fork`, `sys.settrace`): the thread asks every other thread of its interpreter to
    /// stop, waits until each attached one has reached a check point (detached ones are
    /// parked at once, and wait if they try to attach), then works alone and restarts them.
    /// Under a GIL the collector simply runs holding it, like [`Step::NativeHolding`].
    StopTheWorld(Duration),
    /// These steps, this many times.
    Repeat(u32, Vec<Step>),
}

/// What one simulated thread does, in order, holding the GIL between steps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Script {
    /// The thread's name in statistics and timelines.
    pub name: String,
    /// Which interpreter (and so which GIL) it belongs to; 0 is the main one.
    pub interpreter: usize,
    /// Its steps.
    pub steps: Vec<Step>,
}

impl Script {
    /// A thread of interpreter 0 running `steps`.
    pub fn new(name: impl Into<String>, steps: Vec<Step>) -> Script {
        Script {
            name: name.into(),
            interpreter: 0,
            steps,
        }
    }

    /// The same thread in interpreter `interpreter`, which has a GIL of its own.
    pub fn in_interpreter(self, interpreter: usize) -> Script {
        Script {
            interpreter,
            ..self
        }
    }
}

/// One stretch during which a script held a model `threading.Lock`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockHold {
    /// The lock's number ([`Step::Acquire`]).
    pub lock: usize,
    /// The holder's index in the scripts given to [`simulate`].
    pub script: usize,
    /// When it took the lock.
    pub start: Duration,
    /// When it released it.
    pub end: Duration,
}

/// What a simulation produced.
#[derive(Clone, Debug)]
pub struct SimRun {
    /// Virtual time until the last script finished.
    pub elapsed: Duration,
    /// One per interpreter, numbered as in [`Script::interpreter`] (same type as
    /// [`Gil::stats`](crate::Gil::stats)).
    pub gils: Vec<GilStats>,
    /// Who held interpreter 0's GIL when (same type as
    /// [`Gil::take_timeline`](crate::Gil::take_timeline)).
    pub timeline: Timeline,
    /// When each script finished, in script order.
    pub finished: Vec<Duration>,
    /// Every [`Step::RoundTrip`]'s time, from its start until the GIL was back, in the order
    /// they completed.
    pub round_trips: Vec<Duration>,
    /// Times a thread woken because the GIL was released found it taken again when it ran,
    /// and went back to sleep: the old GIL's wasted wake-ups (every interpreter).
    pub futile_wakeups: u64,
    /// Every completed hold of a model lock, in the order they ended.
    pub lock_holds: Vec<LockHold>,
    /// Names of scripts that never finished because every thread left was blocked (a
    /// deadlock); their `finished` entry is when the simulation stopped. Empty normally.
    pub stuck: Vec<String>,
    /// For each stuck script, in script order: what it holds and what it waits for.
    pub blocked: Vec<Blocked>,
    /// Every free-threaded [`Step::StopTheWorld`], in order.
    pub pauses: Vec<Pause>,
}

/// One stop-the-world pause of a free-threaded run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pause {
    /// The requester's index in the scripts.
    pub script: usize,
    /// When it asked the others to stop.
    pub requested: Duration,
    /// When the last attached thread had stopped (the pause's work began).
    pub stopped: Duration,
    /// When it restarted them.
    pub restarted: Duration,
}

impl Pause {
    /// How long the requester waited for the others to stop.
    pub fn time_to_stop(&self) -> Duration {
        self.stopped - self.requested
    }
}

/// Something a simulated thread can hold and wait for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Held {
    /// The GIL of the thread's interpreter.
    Gil,
    /// Model lock N ([`Step::Acquire`], [`Step::AcquireHolding`]).
    Lock(usize),
}

/// A thread a deadlocked simulation left blocked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blocked {
    /// The script's name.
    pub thread: String,
    /// What it holds: the GIL first, then its locks by number.
    pub holds: Vec<Held>,
    /// What it waits for.
    pub waits_for: Held,
    /// Who holds that, if anyone.
    pub held_by: Option<String>,
}

impl SimRun {
    /// Interpreter 0's GIL statistics.
    pub fn stats(&self) -> &GilStats {
        &self.gils[0]
    }

    /// Interpreter 0's GIL hand-offs per second of virtual time.
    pub fn switches_per_second(&self) -> f64 {
        self.stats().switches_per_second(self.elapsed)
    }

    /// Median length of an interpreter-0 hold that ended with another thread taking over
    /// (zero when the GIL never changed hands under contention).
    pub fn middle_contended_hold(&self) -> Duration {
        crate::measure::Samples(self.timeline.contended_holds()).middle()
    }
}

/// Run `scripts` on `cfg`'s interpreter and machine, all starting at time zero, until every
/// script has finished or every thread left is blocked for good (see [`SimRun::blocked`]). Pure and deterministic: no clocks, no threads, no randomness.
///
/// The first script takes the GIL first. With no scripts the run is empty.
pub fn simulate(cfg: &SimConfig, scripts: Vec<Script>) -> SimRun {
    engine::Sim::new(cfg, scripts).run()
}
