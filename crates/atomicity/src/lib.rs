//! # Lesson 4: the GIL is not thread safety
//!
//! "Only one thread runs Python at a time" sounds like "my shared variables are safe". They are
//! not: the GIL keeps CPython's *own* data (reference counts, list and dict internals) intact,
//! but it can pass from one thread to another *between* two bytecodes, and most Python
//! statements are several bytecodes. This lesson takes `counter += 1` apart, races it on a model
//! of the GIL, replays one lost update step by step, sorts the common operations into atomic
//! and not atomic, and ends on the Rust side, where the compiler refuses the race outright.
//!
//! ```text
//! cargo run --release -p atomicity                    # all five parts
//! cargo run --release -p atomicity -- --part 3        # one part
//! cargo run --release -p atomicity -- --part 3 --seed 7          # another replayed schedule
//! cargo run --release -p atomicity -- --threads 4 --iterations 1000000
//! cargo run --release -p atomicity -- --switch-interval 0.1      # more hand-offs in part 2
//! cargo run --release -p atomicity -- --free-threaded            # part 2 with no GIL at all
//! cargo run --release -p atomicity -- --simulated     # the scheduler only: same every run
//! cargo run --release -p atomicity -- --claims claims.jsonl      # every claim as JSON too
//! ```
//!
//! Every number is measured or computed while you watch. The model of the interpreter is
//! [`gil_core::bytecode`]; the GIL itself is [`gil_core::Gil`]. Every sentence that states a
//! result is a claim ([`gil_core::claim`]): it is printed only when the figure beside it
//! supports it.
//!
//! ## The parts
//!
//! Each part's text is a markdown file beside it, which the lesson prints and its module's
//! documentation includes:
//!
//! 1. [`part1_bytecode`]: `counter += 1` as bytecode, with the check points of each CPython
//!    version marked (a mark means "after this instruction"): two inside the read-modify-write
//!    under ≤ 3.9, none under 3.10+, one again with a call in between.
//! 2. [`part2_race`]: 10 threads × 100,000 increments, live on the model GIL and on the
//!    deterministic scheduler; a lock makes every run exact.
//! 3. [`part3_replay`]: one lost update, replayed instruction by instruction as two lanes.
//! 4. [`part4_atomic_ops`]: which single operations the GIL makes atomic, the Python FAQ's
//!    verdicts told apart from the course's own; check-then-act; free-threaded 3.13t.
//! 5. [`part5_rust`]: the same race refused by Rust's compiler, and atomics against a mutex.
//!
//! ## Common misconceptions
//!
//! * "The GIL can switch between any two bytecodes": nearly true up to 3.9 (the eval
//!   breaker ran after most opcodes, but not after the `FAST_DISPATCH` ones listed above).
//!   Since 3.10 the classic `counter += 1` example usually prints 1,000,000 — which does not
//!   make it correct code.
//! * `BINARY_ADD` no longer exists (3.11+: `BINARY_OP`).
//! * `x = D.get(k, default)` is atomic for a plain dict; what follows it may not be.
//!
//! ## Where the model simplifies CPython
//!
//! * The model interprets a handful of opcodes on `u64` values; CPython's integers are objects
//!   with reference counts (lesson 1), which changes the cost of an instruction, not where the
//!   GIL can switch.
//! * Part 4's operations are Rust code with explicit check points, not interpreted bytecode;
//!   on real threads each modelled bytecode burns a few nanoseconds of "dispatch", about what
//!   CPython spends. The scheduler of the GIL columns asks for a switch about every 50 µs of
//!   model time (12 ns an instruction), so that the GIL changes hands hundreds of times.
//! * The scheduler's free-threaded mode lets any thread run after any instruction, but runs
//!   each C-level call as one step, as 3.13t's per-object locks do; what happens *inside* a
//!   call without them needs real threads running at the same moment, so `--simulated` leaves
//!   that column out.
//! * Whether the free-threaded columns and part 5's racing threads lose anything depends on
//!   the threads really running at the same moment: on one core, or a busy machine, they may
//!   not, and the output says so.
//! * Model containers have fixed capacity and integer keys; real lists resize and real dicts
//!   hash, which gives free-threaded CPython more ways to go wrong without its per-object locks.

pub mod part1_bytecode;
pub mod part2_race;
pub mod part3_replay;
pub mod part4_atomic_ops;
pub mod part5_rust;
pub mod setup;

use gil_core::lesson::Lesson;
use gil_core::part::LessonPart;

pub use setup::Config;

/// The lesson's parts, in teaching order (`--part N` runs the N-th).
pub static PARTS: [&dyn LessonPart<Config>; 5] = [
    &part1_bytecode::Bytecode,
    &part2_race::RaceCounter,
    &part3_replay::Replayed,
    &part4_atomic_ops::AtomicOps,
    &part5_rust::RustSide,
];

/// Lesson 4 as the shared runner sees it.
pub static LESSON: Lesson<Config> = Lesson {
    name: "atomicity",
    number: 4,
    title: "the GIL is not thread safety",
    shows: "The GIL keeps CPython's own data whole, not yours: counter += 1 and other \
            read-then-write code can lose updates.",
    intro: "Python runs as bytecode, small instructions compiled from each line; most \
            statements are several of them, and the GIL can change hands between them.",
    steadier: "",
    parts: &PARTS,
    exercises: &["07_counter_lock", "08_compound_update"],
};
