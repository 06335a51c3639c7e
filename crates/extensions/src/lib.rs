//! # Lesson 7: the GIL from a PyO3 extension's side
//!
//! Lessons 1 to 5 show what the GIL does to Python code; lesson 6 (`practice`) takes that to
//! a Python programmer's own interpreter. This lesson is for the other side: Rust developers
//! who write extensions with PyO3. Wrapping long work in `py.detach` is where most advice
//! stops; what fills PyO3's issue tracker is what comes next. Four experiments, each on the
//! model GIL, live and on the simulator:
//!
//! ```text
//! cargo run --release -p extensions                 # all four parts
//! cargo run --release -p extensions -- --part 1     # one part
//! cargo run --release -p extensions -- --simulated  # the simulator only: same every run
//! cargo run --release -p extensions -- --free-threaded   # parts 1 and 2 without a GIL
//! ```
//!
//! The model speaks PyO3's current names: [`gil_core::Gil::attach`] is `Python::attach`
//! (formerly `with_gil`) and [`gil_core::GilGuard::detach`] is `Python::detach` (formerly
//! `allow_threads`, renamed in PyO3 0.26), CPython's `Py_BEGIN_ALLOW_THREADS`.
//!
//! ## Part 1: a Rust lock and the GIL ([`part1_lock_order`])
//!
//! A `Mutex`, `OnceLock` or `LazyLock` whose initialiser calls into Python: another thread
//! takes the GIL meanwhile and waits for the Rust lock while attached, and the initialiser
//! cannot get the GIL back to finish. The simulator prints the cycle. The fixes wait detached:
//! `MutexExt::lock_py_attached`, `PyOnceLock`.
//!
//! ## Part 2: worker threads that attach ([`part2_workers`])
//!
//! A function called from Python spawns workers that attach to build their results, and joins
//! them attached: every worker waits for the GIL its caller holds. Detaching around the join
//! is the fix PyO3's guide gives (`parallelism.md`).
//!
//! ## Part 3: one object, several threads, no GIL ([`part3_shared_object`])
//!
//! A `#[pyclass]` counter on a free-threaded build: `count += 1` through a getter and a
//! setter loses updates, and `&mut self` methods raise `RuntimeError: Already borrowed` when
//! calls overlap. `#[pyclass(frozen)]` with an atomic or a `Mutex` is exact.
//!
//! ## Part 4: stop-the-world pauses ([`part4_stop_the_world`])
//!
//! Free-threaded CPython stops every thread for its garbage collector, `fork` and
//! `sys.settrace`, and waits for attached threads to reach a check point. One long attached
//! call stalls every thread; detached, it stalls none.
//!
//! ## Declaring free-threaded support
//!
//! `#[pymodule(gil_used = false)]` tells a free-threaded CPython that the module is safe
//! without the GIL. It is the default from PyO3 0.28; PyO3 0.23 to 0.27 defaulted to `true`,
//! and importing such a module on 3.13t switches the GIL back on for the whole process with a
//! `RuntimeWarning`. `abi3` wheels do not cover free-threaded builds: each needs its own wheel.
//! `crates/real-gil` (`cargo xtask real-gil`) is a real PyO3 module built this way.
//!
//! ## Where the model simplifies
//!
//! * Live, a stuck thread is let go after `--patience` so the lesson ends; real code would
//!   wait for ever. The simulator stops when every thread left is blocked and prints who holds
//!   what.
//! * Part 2's simulated workers hold their "done" lock from their first instant (taking the
//!   GIL once, briefly, to do so); real rayon workers start detached.
//! * Part 3's simulator is a seeded interleaving of the calls' steps, not real threads; part
//!   4's live pause is a small model ([`part4_stop_the_world::World`]) beside the model GIL.

pub mod part1_lock_order;
pub mod part2_workers;
pub mod part3_shared_object;
pub mod part4_stop_the_world;
pub mod setup;

use gil_core::context::Cx;
use gil_core::figure::TimelineChart;
use gil_core::lesson::Lesson;
use gil_core::{Timeline, report};

pub use setup::Config;

/// Width of the timeline charts, in cells.
pub const CHART_CELLS: usize = 60;

/// Print a timeline chart indented under the figures, and hand it to `--svg` and `--trace`
/// as `name` (unique within its part) with `title`.
pub fn show_timeline(cx: &Cx, name: &str, title: &str, timeline: &Timeline) -> anyhow::Result<()> {
    for line in timeline.render(CHART_CELLS).lines() {
        if line.chars().count() + 4 <= report::WIDTH {
            println!("    {line}");
        } else {
            report::indented(line, "    ", "      ");
        }
    }
    cx.figure(&TimelineChart::new(name, title, timeline))
}

/// Lesson 7 as the shared runner sees it.
pub static LESSON: Lesson<Config> = Lesson {
    name: "extensions",
    number: 7,
    title: "the GIL from a PyO3 extension's side",
    shows: "A Rust lock or a join that waits attached can deadlock with the GIL; without a \
            GIL, shared #[pyclass] state and long attached calls are the new traps.",
    intro: "For Rust developers of PyO3 extensions (lesson 6 is for Python programmers on \
            their own interpreter). The model's attach and detach are PyO3's \
            Python::attach and Python::detach (allow_threads before PyO3 0.26), CPython's \
            Py_BEGIN_ALLOW_THREADS.",
    steadier: "",
    parts: &[
        &part1_lock_order::LockOrder,
        &part2_workers::Workers,
        &part3_shared_object::SharedObject,
        &part4_stop_the_world::StopTheWorld,
    ],
    exercises: &[
        "13_lock_order",
        "14_worker_join",
        "15_shared_counter",
        "16_pyo3_deadlocks",
    ],
};
