//! # Lesson 1 — why the GIL exists: reference counts, and what racing threads do to them
//!
//! Run it: `cargo run --release -p refcounting` (all parts, a few seconds), or one part with
//! `--part 2`. `--quick` runs small sizes; `--refs`, `--trials`, `--holders` and `--pairs`
//! change them; `--free-threaded` takes the GIL away from the runs that use it (parts 2 and 5)
//! and `--switch-interval MS` sets its switch interval. `--simulated` runs every part on the
//! deterministic model only (part 2's race on a seeded schedule, parts 3 to 5 from
//! [`cost`]), so the output is the same on every run; `--svg DIR` writes the figures.
//!
//! CPython frees memory by reference counting: every object's header counts the references to
//! it, `Py_INCREF` adds one, `Py_DECREF` takes one away, and the decref that reaches zero frees
//! the object. The model object, [`gil_core::object::PyObject`], is that header and nothing
//! else.
//!
//! ## The parts
//!
//! Each part's text is a markdown file beside it, which the lesson prints and its module's
//! documentation includes:
//!
//! 1. [`part1_getrefcount`]: `sys.getrefcount` step by step; immortal objects.
//! 2. [`part2_race`]: two threads on one count, with and without the GIL, atomic and biased
//!    counts (with `--simulated`, on a seeded schedule: [`race_sim`]).
//! 3. [`part3_cost`]: what an atomic incref+decref costs beside a plain one; biased counting.
//! 4. [`part4_rust`]: `Rc` and `Arc`, and the compiler check that makes a GIL unnecessary.
//! 5. [`part5_history`]: one lock taken once per hand-off against a lock per object; why one
//!    lock was the right call in 1992.
//!
//! ## Where the model simplifies CPython
//!
//! The model's "free" only marks the object, so a use after free is counted rather than a
//! crash; its biased counting keeps CPython's "queued" and "merged" flags in the owner-id word
//! rather than in the shared count; its "bytecodes" are the Rust statements between two check
//! points. The price of an atomic update beside a plain one is the model's one assumption
//! ([`cost::ATOMIC_UPDATE`]): `--simulated` prints it as such and states no result on it; a
//! live run measures it. See [`gil_core::object`] for the details.

pub mod cost;
pub mod part1_getrefcount;
pub mod part2_race;
pub mod part3_cost;
pub mod part4_rust;
pub mod part5_history;
pub mod race_sim;
pub mod setup;

use gil_core::lesson::Lesson;
use gil_core::part::LessonPart;

pub use setup::{Config, SizeArgs};

/// What the learner reads before part 1: what the GIL is, and why this lesson starts with
/// reference counts.
pub const INTRO: &str = "\
CPython compiles your code to bytecode, small instructions. Only the thread holding the \
Global Interpreter Lock (GIL) runs bytecode, so Python runs on one core at a time. The \
holder lets go only at a check point, between bytecodes, where it looks whether another \
thread is waiting. Why one lock? Reference counts.";

/// The parts, in teaching order (what `--part N` selects).
pub static PARTS: [&dyn LessonPart<Config>; 5] = [
    &part1_getrefcount::GetRefcount,
    &part2_race::Race,
    &part3_cost::Cost,
    &part4_rust::RustAnswer,
    &part5_history::History,
];

/// Lesson 1, as `run_lesson` runs it.
pub static LESSON: Lesson<Config> = Lesson {
    name: "refcounting",
    number: 1,
    title: "why the GIL exists: reference counts",
    shows: "Two threads updating one reference count at once lose updates; the GIL is what \
            stops them.",
    intro: INTRO,
    steadier: "",
    parts: &PARTS,
    exercises: &["01_refcounts", "02_refcount_race"],
};
