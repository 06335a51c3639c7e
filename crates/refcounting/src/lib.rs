//! # Lesson 1 — why the GIL exists: reference counts, and what racing threads do to them
//!
//! Run it: `cargo run --release -p refcounting` (all parts, a few seconds), or one part with
//! `--part 2`. `--quick` runs small sizes; `--refs`, `--trials`, `--holders` and `--pairs`
//! change them; `--free-threaded` takes the GIL away from the runs that use it (parts 2 and 5)
//! and `--switch-interval MS` sets its switch interval.
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
//! ## Part 3 — why not just atomics? ([`part3_cost`])
//!
//! Measured: an atomic incref+decref costs a multiple of a plain one on one thread, and two
//! threads updating one count are slow either way, because the cache line holding it moves
//! between cores on every update. CPython increfs constantly, so atomic counts everywhere
//! would tax every single-threaded program. PEP 703's **biased reference counting** gives the
//! thread that created an object a private, plain count (most objects never leave their
//! thread) and makes only other threads pay for atomics; **immortal objects** skip counting.
//! The measured "biased owner" pair costs about what the plain one does.
//!
//! ## Part 4 — Rust's answer ([`part4_rust`])
//!
//! Rust has both counters: `Rc` (plain) and `Arc` (atomic). `Rc` is not `Send`, so code that
//! would share one between threads does not compile (a `compile_fail` test in that module
//! proves it); `Arc` is. The compiler knows which values cross threads, so Rust needs no
//! global lock. C does not know, so CPython made every count safe with one.
//!
//! ## Part 5 — historical simplicity ([`part5_history`])
//!
//! Why one lock was right in 1992 — single-CPU machines, fast single-threaded code, easy C
//! extensions — measured against a lock per object, and what the GIL promised to every C
//! extension written since.
//!
//! ## Where the model simplifies CPython
//!
//! The model's "free" only marks the object, so a use after free is counted rather than a
//! crash; its biased counting keeps CPython's "queued" and "merged" flags in the owner-id word
//! rather than in the shared count; its "bytecodes" are the Rust statements between two check
//! points. See [`gil_core::object`] for the details.

pub mod part1_getrefcount;
pub mod part2_race;
pub mod part3_cost;
pub mod part4_rust;
pub mod part5_history;
pub mod setup;

pub use setup::Config;

/// How many parts the lesson has.
pub const PARTS: u8 = 5;

/// Run part `part` (1-based) with `cfg`, printing as it goes.
pub fn run_part(part: u8, cfg: &Config) -> anyhow::Result<()> {
    match part {
        1 => part1_getrefcount::run().map(drop),
        2 => part2_race::run(cfg).map(drop),
        3 => part3_cost::run(cfg).map(drop),
        4 => part4_rust::run(cfg).map(drop),
        5 => part5_history::run(cfg).map(drop),
        _ => anyhow::bail!("there is no part {part}: the lesson has parts 1 to {PARTS}"),
    }
}
