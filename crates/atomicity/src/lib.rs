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
//! supports it, and otherwise the lesson says that this run did not show it, and why.
//!
//! ## Part 1: four bytecodes ([`part1_bytecode`])
//!
//! CPython 3.11–3.13 compile the loop body `counter += 1` to `LOAD_GLOBAL counter`,
//! `LOAD_CONST 1`, `BINARY_OP 13 (+=)` and `STORE_GLOBAL counter`: read, add, write (3.14
//! loads the 1 with `LOAD_SMALL_INT`; before 3.11 the add was `INPLACE_ADD`). The part prints
//! a `dis`-style listing in the 3.11–3.13 names with one column per version, `yes` after each
//! instruction after which the evaluation loop looks at its *eval breaker*: the **check
//! points**, the only places where the GIL can change hands. A mark means "after this
//! instruction has run", so the switch points inside the read-modify-write are the marks
//! after `LOAD_GLOBAL` and `BINARY_OP` (two, under ≤ 3.9); the mark on `STORE_GLOBAL` comes
//! after the write. Up to CPython 3.9 the check came after most instructions. The
//! exceptions were the opcodes that 3.9's `Python/ceval.c` ends with `FAST_DISPATCH()`:
//! `LOAD_FAST`, `LOAD_CONST`, `STORE_FAST`, `POP_TOP`, `ROT_TWO`/`THREE`/`FOUR`, `DUP_TOP`,
//! `DUP_TOP_TWO`, `NOP`, `IS_OP`, `CONTAINS_OP`, `JUMP_FORWARD`, and the conditional jumps
//! when the condition is a plain bool ([`gil_core::bytecode::Site::Fast`]). CPython 3.10
//! (bpo-29988) checks after calls, on backward jumps, on taken `POP_JUMP_IF_*` jumps and on
//! frame entry; 3.11–3.12 at `RESUME` (function entry), `JUMP_BACKWARD` and calls into C
//! (trivial specialized calls such as `len()` skip it); 3.13+ at `_CHECK_PERIODIC` /
//! `RESUME_CHECK`. For this loop all three leave no check point inside the update, and the
//! model's `BackEdgesAndCalls` policy, labelled "3.10+" in the output, stands for them all.
//!
//! ## Part 2: the race ([`part2_race`])
//!
//! The classic experiment, done with real threads on the model GIL: 10 threads each
//! add 1 to a shared global 100,000 times, each race run twice, in turns. Beside each live
//! figure stands the deterministic scheduler's (part 3's) at the same size, which is what an
//! idle machine should show.
//!
//! * With ≤ 3.9's check points, updates are lost whenever a hand-off lands inside the
//!   update, and then in bulk: a thread switched out between its read and its write comes
//!   back, much later, and writes its stale value + 1 over everything the others did
//!   meanwhile. (A race shorter than one switch interval may see no hand-off at all.)
//! * With 3.10+'s check points, the loop usually comes out exact. That is an accident of where
//!   the interpreter happens to check, not a promise: the same code loses updates on 3.9, on a
//!   future interpreter that checks elsewhere, or as soon as a call sits between the read and
//!   the write (`c = counter; noop(); counter = c + 1`, run in the same part).
//! * Free-threaded (PEP 703), threads really run at the same time and loss is the rule.
//! * With `with lock:` around the increment, the total is exact on every run, GIL or not.
//!
//! ## Part 3: one lost update, replayed ([`part3_replay`])
//!
//! Real threads give a different schedule each run. Here a deterministic scheduler steps model
//! threads one instruction at a time, with drop requests drawn from a seeded generator and
//! honoured at check points, and prints the interleaving that lost an update: both threads
//! read 41, both store 42. The same seed prints the same trace on every machine; `--seed`
//! chooses another.
//!
//! ## Part 4: what is atomic ([`part4_atomic_ops`])
//!
//! Common operations, each hammered by several threads on model containers
//! whose internals are plain loads and stores, counting violations. Whether an operation can
//! break under the GIL is a question of ordering, so the GIL columns come from the
//! deterministic scheduler: a read-then-write row that can lose updates always shows it. The
//! free-threaded columns are real threads running at once.
//!
//! * Atomic under the GIL, because each is one opcode whose C code reaches no check point:
//!   `L.append(x)`, `x = L.pop()`, `x = L[i]`, `D[k] = v` (the Python FAQ's verdicts), and
//!   also `x = D.get(k, d)` — the FAQ does not list it; that verdict is the course's own
//!   reasoning from the same rule. (`D[k] = v` can run Python code — a key's `__hash__`, an
//!   old value's `__del__` — and a switch can happen there.) The table's "atomic?" column
//!   says for each row whether the verdict is the FAQ's or ours.
//! * Not atomic: any read followed by a write, such as `L[i] = L[i] + 1`, and **check-then-act**:
//!   acting on what `D.get` or `k in D` returned, after a check point has let another thread
//!   change the dict.
//! * Free-threaded CPython (3.13t) currently keeps the single operations whole with
//!   per-object locks (a column shows what they prevent); the free-threading HOWTO calls
//!   that the current implementation, not a guarantee, and recommends `threading.Lock`.
//!
//! ## Part 5: the Rust side ([`part5_rust`])
//!
//! In safe Rust a shared `static mut` counter (a global variable anyone may change) does not
//! compile: error E0133, "use of mutable static is unsafe". The part's docs hold a
//! `compile_fail` test, a doc test that passes only if its code fails to compile. `AtomicU64`
//! (an integer whose single loads and stores are indivisible) makes each load and each store
//! indivisible, yet a load followed by a store still loses updates; `fetch_add` (one
//! indivisible read-add-write) and `Mutex` (a lock that owns the value) do not. The part
//! measures what each costs per increment, alone and with every core racing.
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

use gil_core::lesson::{Lesson, Part};

pub use setup::Config;

/// The lesson's parts, in teaching order (`--part N` runs the N-th).
pub static PARTS: [Part<Config>; 5] = [
    Part {
        title: "counter += 1 is four bytecodes",
        python: part1_bytecode::PYTHON,
        run: |cfg| part1_bytecode::run(cfg).map(drop),
    },
    Part {
        title: "the race: many threads, one counter",
        python: part2_race::PYTHON,
        run: |cfg| part2_race::run(cfg).map(drop),
    },
    Part {
        title: "one lost update, replayed",
        python: part3_replay::PYTHON,
        run: |cfg| part3_replay::run(cfg).map(drop),
    },
    Part {
        title: "what the GIL makes atomic, and what it does not",
        python: part4_atomic_ops::PYTHON,
        run: |cfg| part4_atomic_ops::run(cfg).map(drop),
    },
    Part {
        title: "the Rust side",
        python: part5_rust::PYTHON,
        run: |cfg| part5_rust::run(cfg).map(drop),
    },
];

/// Lesson 4 as the shared runner sees it.
pub static LESSON: Lesson<Config> = Lesson {
    name: "atomicity",
    number: 4,
    title: "the GIL is not thread safety",
    shows: "The GIL keeps CPython's own data whole, but it can change hands between two \
            bytecodes, so counter += 1 and other read-then-write code can lose updates.",
    intro: "Python runs as bytecode (small instructions compiled from each line), and most \
            statements are several bytecodes: where the GIL may change hands between them \
            decides whether an update survives.",
    steadier: "",
    parts: &PARTS,
    exercises: &["07_counter_lock", "08_compound_update"],
};
