//! # Lesson 1 — why the GIL exists: reference counts, and what racing threads do to them
//!
//! Run it: `cargo run --release -p refcounting` (all parts, a few seconds), or one part with
//! `--part 2`. `--quick` runs small sizes; `--refs`, `--trials`, `--holders` and `--pairs`
//! change them; `--free-threaded` takes the GIL away from the runs that use it (parts 2 and 5)
//! and `--switch-interval MS` sets its switch interval. `--simulated` runs every part on the
//! deterministic model only (part 2's race on a seeded schedule, parts 3 to 5 from
//! [`cost`]), so the output is the same on every run.
//!
//! ## What the GIL is
//!
//! CPython runs Python code inside an *interpreter*, and each interpreter has one lock, the
//! Global Interpreter Lock. A thread must hold it to run Python bytecode, so in one interpreter
//! only one thread runs Python at any moment, however many cores there are. A thread that
//! wants the GIL waits for one *switch interval* (`sys.getswitchinterval()`); if the holder
//! has not let go by then, the waiter sets a *drop request*. The holder looks for requests at
//! *check points* between bytecodes (the *eval breaker*), lets go there, and the waiter takes
//! the lock. Threads also let go around blocking calls (reading a file or socket,
//! `time.sleep`), and C code may let go around long computations.
//!
//! CPython frees memory by **reference counting**. Every object's header holds a count of
//! the references to it — names, list slots, arguments on the stack. Each new reference runs
//! `Py_INCREF` (count + 1), each dropped one `Py_DECREF` (count − 1), and the decref that
//! reaches zero frees the object immediately. The model object used here,
//! [`gil_core::object::PyObject`], is that header and nothing else.
//!
//! ## Part 1 — counting references ([`part1_getrefcount`])
//!
//! `a = []`, `b = a`, `c = [a]`, `del b`, `del c`, watched through `sys.getrefcount(a)`:
//! 2, 3, 4, 3, 2. The answer is one more than the references you can name because the call's
//! own parameter holds one while it runs. `Rc::strong_count(&a)` borrows instead and says
//! 1, 2, 3, 2, 1. Immortal objects (`None`, PEP 683) report a huge fixed count.
//!
//! ## Part 2 — the race the GIL prevents ([`part2_race`])
//!
//! In the default build `Py_INCREF` is a plain `ob_refcnt++`: read the count, add one, write
//! it back. Two threads doing that to one object at once can both read the same value, and
//! one update is lost. The part first replays one lost incref and one lost decref step by
//! step, then has one thread build a list of references to a shared object while another
//! clears an old list of as many, and counts what goes wrong:
//!
//! * with no GIL, the counts **drift**. A lost decref leaves a count that never gets back to
//!   zero: a **leak**. A lost incref makes the count reach zero while references remain: a
//!   **premature free**, which in C is a use after free — a crash or silent corruption. The
//!   model marks the object freed and catches each later use instead of committing it;
//! * under the GIL the same plain updates are **exact**, every trial: only one thread runs
//!   Python at a time, and it can only be switched out between bytecodes, never halfway
//!   through an incref;
//! * atomic counts and PEP 703's biased counts are exact without any lock.
//!
//! With `--simulated` the race runs on a seeded schedule instead ([`race_sim`]): the same
//! lost updates on every run, and the GIL's hand-offs come from [`gil_core::sim`].
//!
//! ## Part 3 — why not just atomics? ([`part3_cost`])
//!
//! The part times an atomic incref+decref against a plain one on one thread (and claims "at
//! least twice", which it checks against the figure), and two threads updating one count,
//! which is slow either way because the cache line holding it moves between cores on every
//! update. CPython increfs constantly, so atomic counts everywhere would tax every
//! single-threaded program. PEP 703's **biased reference counting** gives the thread that
//! created an object a private, plain count (most objects never leave their thread) and makes
//! only other threads pay for atomics; **immortal objects** skip counting. The "biased owner"
//! pair should cost about what the plain one does. The simulator's figures come from
//! counting updates ([`cost`]).
//!
//! ## Part 4 — Rust's answer ([`part4_rust`])
//!
//! Rust has both counters: `Rc` (plain) and `Arc` (atomic). `Rc` is not `Send` (the marker
//! for values that may move to another thread), so code that would share one between threads
//! does not compile (a `compile_fail` doctest in that module proves it); `Arc` is. The compiler knows which values cross threads, so Rust needs no
//! global lock. C does not know, so CPython made every count safe with one.
//!
//! ## Part 5 — historical simplicity ([`part5_history`])
//!
//! Why one lock was right in 1992 — single-CPU machines, fast single-threaded code, easy C
//! extensions — measured against a lock per object, and what the GIL promised to every C
//! extension written since. The Python FAQ ("Can't we get rid of the Global Interpreter
//! Lock?", `Doc/faq/library.rst`) records that Greg Stein's fine-grained-locking patches for
//! Python 1.5 made single-threaded code at least 30% slower.
//!
//! ## Where the model simplifies CPython
//!
//! The model's "free" only marks the object, so a use after free is counted rather than a
//! crash; its biased counting keeps CPython's "queued" and "merged" flags in the owner-id word
//! rather than in the shared count; its "bytecodes" are the Rust statements between two check
//! points. See [`gil_core::object`] for the details.

pub mod cost;
pub mod part1_getrefcount;
pub mod part2_race;
pub mod part3_cost;
pub mod part4_rust;
pub mod part5_history;
pub mod race_sim;
pub mod setup;

use gil_core::lesson::{Lesson, Part};

pub use setup::{Config, SizeArgs};

/// What the learner reads before part 1: what the GIL is, and why this lesson starts with
/// reference counts.
pub const INTRO: &str = "\
CPython runs your code as bytecode: small instructions the compiler makes from each line. \
Each interpreter has one lock, the Global Interpreter Lock (GIL), and only the thread \
holding it runs bytecode, so one interpreter runs Python on one core at a time. The holder \
lets go only at check points between bytecodes, when another thread asks or around a \
blocking call (lesson 2 shows the hand-off). Why one lock? Reference counts.";

/// The parts, in teaching order (what `--part N` selects).
pub static PARTS: [Part<Config>; 5] = [
    Part {
        title: "counting references with sys.getrefcount",
        python: part1_getrefcount::PYTHON,
        run: |_| part1_getrefcount::run().map(drop),
    },
    Part {
        title: "the race the GIL prevents",
        python: part2_race::PYTHON,
        run: |cfg| part2_race::run(cfg).map(drop),
    },
    Part {
        title: "why not just make the counts atomic?",
        python: part3_cost::PYTHON,
        run: |cfg| part3_cost::run(cfg).map(drop),
    },
    Part {
        title: "Rust's answer: Rc and Arc",
        python: part4_rust::PYTHON,
        run: |cfg| part4_rust::run(cfg).map(drop),
    },
    Part {
        title: "historical simplicity: one lock, taken rarely",
        python: part5_history::PYTHON,
        run: |cfg| part5_history::run(cfg).map(drop),
    },
];

/// Lesson 1, as `run_lesson` runs it.
pub static LESSON: Lesson<Config> = Lesson {
    name: "refcounting",
    number: 1,
    title: "why the GIL exists: reference counts",
    shows: "CPython counts references to every object; two threads updating one count at \
            once lose updates, and the GIL is what stops them.",
    intro: INTRO,
    steadier: "",
    parts: &PARTS,
    exercises: &["01_refcounts", "02_refcount_race"],
};
