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
//! ## The parts
//!
//! Each part's text is a markdown file beside it, printed by the lesson and included in its
//! module's documentation:
//!
//! 1. [`part1_countdown`]: one thread against two, under the GIL and free-threaded; how the
//!    GIL changes hands (check point, switch interval, drop request, forced switching).
//! 2. [`part2_switching_overhead`]: 1, 2, 4 and 8 threads; what the hand-offs cost.
//! 3. [`part3_switch_interval`]: `sys.setswitchinterval` from 0.1 ms to 20 ms.
//! 4. [`part4_cores`]: free threads over this machine's cores, and 1 to 64 simulated ones.
//! 5. [`part5_old_gil`]: the pre-3.2 GIL, where "threads make Python slower" came from.
//!
//! ## Beliefs this lesson corrects
//!
//! * "The GIL is released every 100 bytecode instructions": true only up to CPython 3.1
//!   (part 5). Since 3.2 the trigger is a waiter's drop request after the switch interval.
//! * The large "two threads are slower" figures come from that old GIL. On CPython 3.2+ two
//!   CPU-bound threads take about as long as one: `cargo xtask fidelity` times CPython's own
//!   two-thread/one-thread ratio on your machine, beside the model's and the simulator's.
//! * "The GIL can be released every 0.005 s" reads like a time slice. It is the waiter's
//!   patience, and nothing happens at all unless someone is waiting.
//!
//! ## Where the model simplifies CPython
//!
//! * A model step costs well under a nanosecond, CPython's about twenty; with 5 ms holds the
//!   difference does not matter, but it is why part 5 states its work per tick. Each step is
//!   `n = std::hint::black_box(n) - 1`: `black_box` stops the optimiser from replacing the
//!   loop by its result, so there is something to time.
//! * Parts size their work by time: a live run first times a countdown step
//!   ([`setup::Config::calibrated`]); the simulator charges 0.4 ns per step
//!   ([`setup::SIM_STEP_PICOS`]). Only ratios and rates are compared with the live run.
//! * CPython 3.10 (bpo-29988) consults the eval breaker after calls, on backward jumps, on
//!   taken `POP_JUMP_IF_*` jumps and on frame entry; 3.11–3.12 at `RESUME` (function entry), `JUMP_BACKWARD` and calls into C (trivial
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

use gil_core::lesson::Lesson;

pub use setup::Config;

/// Lesson 2, as `cargo run -p cpu-bound` runs it.
pub static LESSON: Lesson<Config> = Lesson {
    name: "cpu-bound",
    number: 2,
    title: "CPU-bound threads under the GIL",
    shows: "Why two threads running Python take as long as one under the GIL, and where \
            \"threads make Python slower\" came from.",
    intro: "",
    steadier: "--scale 2",
    parts: &[
        &part1_countdown::Countdown,
        &part2_switching_overhead::MoreThreads,
        &part3_switch_interval::SwitchInterval,
        &part4_cores::Cores,
        &part5_old_gil::OldGil,
    ],
    exercises: &["03_countdown_threads", "04_switch_interval"],
};

/// Run the lesson (all parts, or `args.part`) with `cfg`, as the binary does.
pub fn run(args: &gil_core::lesson::LessonArgs, cfg: &Config) -> anyhow::Result<()> {
    gil_core::lesson::run_lesson(&LESSON, args, cfg)
}
