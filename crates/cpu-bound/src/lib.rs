//! # Lesson 2: CPU-bound threads under the GIL
//!
//! Start two threads on a pure-Python loop and the job takes as long as running the loop
//! twice in one thread. This lesson shows why, with a model of CPython's GIL that runs on your
//! machine and reports what it did: how long each thread held the lock, how often the lock
//! changed hands, and who held it when.
//!
//! ```text
//! cargo run --release -p cpu-bound                  # all five parts, a few seconds
//! cargo run --release -p cpu-bound -- --part 3      # one part
//! cargo run --release -p cpu-bound -- --scale 2     # twice the work (steadier figures)
//! cargo run --release -p cpu-bound -- --free-threaded            # parts 2 and 3 without a GIL
//! cargo run --release -p cpu-bound -- --switch-interval 1        # sys.setswitchinterval(0.001)
//! cargo run --release -p cpu-bound -- --simulated --cores 64     # what 64 cores would do
//! ```
//!
//! Every figure is measured while you watch; none is typed into the program. Beside each one
//! the lesson prints what a deterministic simulator of the same lock ([`gil_core::sim`])
//! expects on an idle machine with this many cores, and a sentence that states a result is
//! printed only when the figure beside it supports it ([`gil_core::claim`]). On a busy machine
//! a figure can miss; the lesson then says so and why, instead of teaching the wrong thing.
//! With `--simulated` every part runs on the simulator alone: the same output every time, on
//! any machine. `--scale` takes 0.01 to 4; a part whose work is too short to time (under
//! 10 ms, or under four switch intervals for the hand-off figures) says so instead of
//! printing noise. The one figure quoted from elsewhere (part 5, the old GIL) names its
//! source.
//!
//! ## Part 1: the countdown ([`part1_countdown`])
//!
//! The classic demonstration is `while n > 0: n -= 1`. Here a model "bytecode" is one step of
//! that loop followed by a **check point**: the place where CPython's evaluation loop looks at
//! its *eval breaker* to see whether anyone asked it to let go of the GIL. One thread counts
//! down 2 × N; then two threads count down N each.
//!
//! Under the GIL the two threads take turns, so the pair needs about as long as the single
//! thread, often a little longer. With no GIL (the free-threaded build, PEP 703, `python3.13t`)
//! they run on two cores at once and finish in about half the time.
//!
//! Before timing, each of the two threads asks who it is and how many threads there are: the
//! model's `threading.current_thread().name` ([`gil_core::GilGuard::name`]) and
//! `threading.active_count()` ([`gil_core::Gil::active_count`]). The part also draws who held
//! the GIL during the first few switch intervals. Read it with the protocol CPython has used
//! since 3.2 (`take_gil` and `drop_gil` in `Python/ceval_gil.c`) in mind:
//!
//! 1. The first thread takes the free GIL and counts.
//! 2. The second thread finds it taken and waits on a condition variable, for at most one
//!    **switch interval** (5 ms by default; `sys.getswitchinterval()`).
//! 3. If the interval runs out and the GIL has not changed hands meanwhile, the waiter sets
//!    the **drop request**.
//! 4. The holder notices it at its next check point, releases the GIL, and then, because of
//!    **forced switching**, waits until another thread has really taken it, so it cannot
//!    snatch it straight back.
//!
//! So every hold in the chart lasts about one interval, and the lock changes hands about 200
//! times a second. The 5 ms is not a time slice given to the holder: it is how long a
//! waiter waits before asking. A holder that never reaches a check point (a long call into C)
//! keeps the GIL however long it runs.
//!
//! ## Part 2: more threads ([`part2_switching_overhead`])
//!
//! The same total work shared by 1, 2, 4 and 8 threads. Under the GIL more threads buy nothing:
//! only one runs at a time, and the lock still changes hands about once per interval, whoever
//! is queued. Each hand-off costs a couple of thread wake-ups (microseconds), which is small
//! beside a 5 ms hold, so the overhead is modest at the default interval. The counts printed
//! are the GIL's own: *switches* (times the GIL went to a different thread than last held it,
//! CPython's `switch_number`) and *forced switches* (hand-offs made because a waiter asked).
//!
//! ## Part 3: the switch interval ([`part3_switch_interval`])
//!
//! `sys.setswitchinterval` sets how long a waiter waits before it asks, and so how often the
//! GIL changes hands: thousands of times a second at 0.1 ms, a few dozen at 20 ms. For
//! CPU-bound threads the total barely moves either way: a hand-off costs a few microseconds,
//! and the work is never done two at a time. What the interval really trades is latency: a
//! thread that needs the GIL (to handle a network reply, say) may wait a whole interval for
//! it. The default, 5 ms, is the compromise CPython chose; lesson 3 shows the cost to I/O.
//! On a busy machine the operating system may wake a waiter later than the interval asks, and
//! the hand-off rates then fall short of the simulator's; the part's claims say so.
//!
//! ## Part 4: the cores ([`part4_cores`])
//!
//! Parallel speedup needs cores. The part reports how many this process may use, runs the
//! free-threaded countdown with 1 thread, one thread per core and twice that, and compares
//! each speedup with the ideal, min(threads, cores). Threads beyond the core count add nothing,
//! and anything else running on the machine (a compiler, a test suite) takes cores away. The
//! GIL, for contrast, stays at about 1x however many cores there are. With
//! `--simulated --cores 64` the part shows what a 64-core machine would do: free-threaded
//! speedups near 64x, the GIL still at 1x.
//!
//! ## Part 5: the old GIL ([`part5_old_gil`])
//!
//! The belief that "threads make Python slower" dates from the GIL of CPython 3.1 and earlier.
//! That GIL had no switch interval: the holder released it every 100 *ticks* (roughly, bytecodes;
//! `sys.setcheckinterval`) and immediately tried to take it back. On a multi-core machine the
//! releasing thread is still running and usually wins; the waiter it woke finds the lock gone
//! and sleeps again. Both pay for a wake-up every hundred ticks, and real hand-offs are rare
//! and irregular. CPython 3.2 replaced this with the protocol of part 1; `setcheckinterval` was
//! deprecated then and removed in 3.9.
//!
//! The model runs the old policy beside the new one on the same work. Because the cost is per
//! release, it depends on how long a tick takes, so the part first calibrates a tick to about
//! 10 ns (about what CPython 2.7 spent per bytecode of this loop) and prints what it found.
//! The simulator models the same race (the releaser retakes the lock before the woken waiter
//! can run) and the wake-ups it wastes; its expectation is printed beside the live figure.
//!
//! ## What the source tutorial gets wrong
//!
//! * "The GIL is released every 100 bytecode instructions": true only up to CPython 3.1
//!   (part 5). Since 3.2 the trigger is a waiter's drop request after the switch interval.
//! * The large "two threads are slower" figures come from that old GIL (CPython 3.0 and 3.1
//!   still had it). On CPython 3.2+ two CPU-bound threads take about as long as one, not much
//!   longer: `cargo xtask fidelity` times CPython's own two-thread/one-thread ratio on your
//!   machine, beside the model's and the simulator's.
//! * "The GIL can be released every 0.005 s" reads like a time slice. It is the waiter's
//!   patience, and nothing happens at all unless someone is waiting.
//!
//! ## Where the model simplifies CPython
//!
//! * A model step costs well under a nanosecond, CPython's about twenty; with 5 ms holds the
//!   difference does not matter, but it is why part 5 states its work per tick. Each step is
//!   `n = std::hint::black_box(n) - 1`: `black_box` stops the optimiser from replacing the
//!   loop by its result, so there is something to time.
//! * The simulator charges 0.4 ns per countdown step ([`setup::SIM_STEP_PICOS`]); only its
//!   ratios and rates are compared with the live run, never its absolute times.
//! * CPython 3.10 (bpo-29988) consults the eval breaker only after calls and on backward
//!   jumps; 3.11–3.12 at `RESUME` (function entry), `JUMP_BACKWARD` and calls into C (trivial
//!   specialized calls such as `len()` skip it); 3.13+ at `_CHECK_PERIODIC` / `RESUME_CHECK`.
//!   The countdown has one backward jump per step and no calls, so on all of them one check
//!   point per step is what CPython does for this loop.
//! * The model's threads are Rust threads sharing no objects: only the GIL is modelled here,
//!   not the reference counting it protects (lesson 1 does that).
//!
//! The model itself is described in [`gil_core`]'s documentation.

pub mod part1_countdown;
pub mod part2_switching_overhead;
pub mod part3_switch_interval;
pub mod part4_cores;
pub mod part5_old_gil;
pub mod setup;

use gil_core::lesson::{Lesson, Part};

pub use setup::Config;

/// The lesson's parts, in teaching order; `--part N` picks one.
pub static PARTS: [Part<Config>; 5] = [
    Part {
        title: "the countdown, one thread against two",
        python: part1_countdown::PYTHON,
        run: |cfg| part1_countdown::run(cfg).map(drop),
    },
    Part {
        title: "switching overhead with more threads",
        python: part2_switching_overhead::PYTHON,
        run: |cfg| part2_switching_overhead::run(cfg).map(drop),
    },
    Part {
        title: "the switch interval",
        python: part3_switch_interval::PYTHON,
        run: |cfg| part3_switch_interval::run(cfg).map(drop),
    },
    Part {
        title: "the cores, and what free threading reaches on them",
        python: part4_cores::PYTHON,
        run: |cfg| part4_cores::run(cfg).map(drop),
    },
    Part {
        title: "where \"threads are slower\" came from, the old GIL",
        python: part5_old_gil::PYTHON,
        run: |cfg| part5_old_gil::run(cfg).map(drop),
    },
];

/// Lesson 2, as `cargo run -p cpu-bound` runs it.
pub static LESSON: Lesson<Config> = Lesson {
    name: "cpu-bound",
    number: 2,
    title: "CPU-bound threads under the GIL",
    shows: "Two threads running a pure-Python loop take as long as one under the GIL, \
            while free-threaded ones share the cores; how the lock changes hands; and where \
            \"threads make Python slower\" came from.",
    intro: "",
    steadier: "--scale 2",
    parts: &PARTS,
    exercises: &["03_countdown_threads", "04_switch_interval"],
};

/// Run the lesson (all parts, or `args.part`) with `cfg`, as the binary does.
pub fn run(args: &gil_core::lesson::LessonArgs, cfg: &Config) -> anyhow::Result<()> {
    gil_core::lesson::run_lesson(&LESSON, args, cfg)
}
