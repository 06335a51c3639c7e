//! # gil-core: a small, faithful model of CPython's Global Interpreter Lock
//!
//! Every lesson in this course runs on this one crate. It rebuilds, in safe Rust, the lock that
//! CPython has used since 3.2 (`Python/ceval_gil.c`), keeps CPython's vocabulary so you can
//! read the real source afterwards with the same words, and measures itself as it runs.
//!
//! ## The model in one page
//!
//! A [`Gil`] is one interpreter's lock. A model Python thread *attaches* with
//! [`Gil::acquire`] and gets a [`GilGuard`]: while the guard lives the thread holds the GIL and
//! may run "bytecode". Model code calls [`GilGuard::check_point`] between two bytecodes — that
//! is CPython's *eval breaker*.
//!
//! * **Taking the GIL** (`take_gil`). If the GIL is free, take it. If not, wait on a condition
//!   variable for at most one **switch interval** (5 ms unless you call
//!   [`Gil::set_switch_interval`], CPython's `sys.setswitchinterval`). If the wait timed out, the
//!   GIL is still held, *and it has not changed hands meanwhile*, set the **drop request**.
//!   Then keep waiting.
//! * **Honouring a drop request.** The holder sees the request at its next check point (one
//!   relaxed atomic load when nobody asked), releases the GIL, and — **forced switching** —
//!   waits until some other thread has actually taken it before queueing to take it back. So a
//!   spinning thread cannot grab the lock again the moment it let go.
//! * **Releasing around blocking work** (`Py_BEGIN_ALLOW_THREADS` / `Py_END_ALLOW_THREADS`).
//!   [`GilGuard::detach`] runs a closure with the GIL released and takes it back after.
//!   Sleeps, file and socket I/O, and "C extension" work (ndarray loops) go through it.
//! * **5 ms is not a time slice.** It is how long a *waiter* waits before it asks. A holder that
//!   never reaches a check point (a long C call) keeps the GIL as long as it likes.
//! * **Dropping the guard** releases the GIL — during a panic too, so one crashing thread never
//!   leaves the others waiting for ever.
//!
//! Two other interpreters share the API, chosen with [`Mode`]:
//!
//! * [`Mode::FreeThreaded`] — the PEP 703 build (`python3.13t`): no global lock; check points
//!   and `detach` never wait for a lock. (The real build still makes attached threads wait at
//!   stop-the-world pauses, for its garbage collector or `fork`; lesson 7 models those.) Every
//!   lesson takes `--free-threaded`.
//! * [`Mode::OldGil`] — CPython ≤ 3.1: release and immediately re-acquire every 100 "ticks",
//!   with no drop request and no forced switching. It is where the famous "two threads are
//!   slower than one" figure came from.
//!
//! ## Instrumentation
//!
//! Each guard counts its hold, wait and detached time, its acquisitions, switches in and forced
//! drops ([`ThreadStats`]); the lock counts switches, forced switches and drop requests
//! ([`GilStats`]). All of it is updated only when the GIL changes hands, never at a check point
//! that does not switch, so it stays on while timing. [`Gil::record_timeline`] additionally
//! records every hold, and [`Timeline::render`] draws the `██░░` chart — from real data, with a
//! scale line that marks the switch interval.
//!
//! [`measure`] (stopwatch, repeats, speedup, units) and [`report`] (`label: value` lines that
//! people read and the grader parses) are the lessons' shared measuring and printing kit;
//! [`work`] holds the model "Python" workloads; [`cli`] the shared flags. [`lesson`] runs a
//! lesson's [`part`]s in one frame, each in the run's [`context`]; [`claim`] checks every
//! stated result against its figure; [`probe`] says how busy the machine is; [`session`] is
//! what the running lesson asked for; [`glossary`] defines the course's terms.
//! [`waits`] keeps who waits for whom, so a deadlocked program names its cycle instead of
//! hanging.
//!
//! ## Where the model simplifies CPython
//!
//! * CPython guards the lock with two mutexes (`mutex`, `switch_mutex`); the model uses one
//!   mutex and two condition variables, which gives the same orderings with less code.
//! * The drop request is a bit in one shared atomic; in 3.13+ it lives in the holder thread's
//!   own `eval_breaker` word, which changes who is interrupted, not when.
//! * A "bytecode" is whatever model code does between two check points; the lessons say how
//!   much work that is, because the cost of a switch is only meaningful relative to it.
//! * Thread exit releases without forced switching, as CPython's thread-state teardown does;
//!   the model has no daemon threads, signals, or pending calls that also trip the eval breaker.
//! * The old GIL is modelled on a mutex and condition variable; CPython 2 on Linux used a POSIX
//!   semaphore, whose wake-ups behave alike for this purpose.

pub mod bytecode;
pub mod claim;
pub mod cli;
pub mod context;
pub mod echo;
pub mod figure;
mod gil;
pub mod glossary;
pub mod lesson;
pub mod measure;
pub mod model_check;
pub mod object;
pub mod part;
pub mod probe;
pub mod process;
pub mod protocol;
pub mod python;
pub mod report;
pub mod session;
pub mod sim;
mod stats;
pub mod sync;
mod timeline;
pub mod waits;
pub mod work;

pub use gil::{DEFAULT_SWITCH_INTERVAL, Gil, GilGuard, Mode, OLD_GIL_CHECK_INTERVAL};
pub use protocol::MIN_SWITCH_WAIT;
pub use stats::{GilStats, ThreadStats};
pub use timeline::{LaneState, Mark, MarkKind, Segment, Span, ThreadLife, Timeline};
