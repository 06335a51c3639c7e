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
//! cargo run --release -p atomicity                    # all five parts, under 10 s
//! cargo run --release -p atomicity -- --part 3        # one part
//! cargo run --release -p atomicity -- --part 3 --seed 7          # another replayed schedule
//! cargo run --release -p atomicity -- --threads 4 --iterations 1000000
//! cargo run --release -p atomicity -- --switch-interval 0.1      # more hand-offs in part 2
//! cargo run --release -p atomicity -- --free-threaded            # part 2 with no GIL at all
//! ```
//!
//! Every number is measured or computed while you watch. The model of the interpreter is
//! [`gil_core::bytecode`]; the GIL itself is [`gil_core::Gil`].
//!
//! ## Part 1: four bytecodes ([`part1_bytecode`])
//!
//! CPython 3.11+ compiles the loop body `counter += 1` to `LOAD_GLOBAL counter`,
//! `LOAD_CONST 1`, `BINARY_OP 13 (+=)` and `STORE_GLOBAL counter`: read, add, write. The
//! part prints a `dis`-style listing and marks the **check points**, the places where the
//! evaluation loop looks at its *eval breaker* and so the only places where the GIL can change
//! hands. Up to CPython 3.9 the check came after nearly every instruction (all but
//! `LOAD_FAST`, `LOAD_CONST` and `STORE_FAST`), so a switch could fall inside the
//! read-modify-write. CPython 3.10 (bpo-29988) checks only after calls and on backward jumps;
//! 3.11–3.12 at `RESUME` (function entry), `JUMP_BACKWARD` and calls into C (trivial
//! specialized calls such as `len()` skip it); 3.13+ at `_CHECK_PERIODIC` / `RESUME_CHECK`.
//! For this loop all three leave no check point inside the update, and the model's
//! `BackEdgesAndCalls` policy, labelled "3.10+" in the output, stands for them all (it uses
//! the 3.11+ instruction names).
//!
//! ## Part 2: the race ([`part2_race`])
//!
//! The source tutorial's experiment, done with real threads on the model GIL: 10 threads each
//! add 1 to a shared global 100,000 times, several times over.
//!
//! * With ≤ 3.9's check points, updates are lost in practically every run, and in bulk: a
//!   thread switched out between its read and its write comes back, much later, and writes its
//!   stale value + 1 over everything the others did meanwhile.
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
//! The Python FAQ's list, each operation hammered by several threads on model containers
//! whose internals are plain loads and stores, counting violations:
//!
//! * Atomic under the GIL, because each is one opcode whose C code reaches no check point:
//!   `L.append(x)`, `x = L.pop()`, `x = L[i]`, `D[k] = v`, and also `x = D.get(k, d)`, which
//!   the source tutorial wrongly lists as not atomic. (`D[k] = v` can run Python code — a key's
//!   `__hash__`, an old value's `__del__` — and a switch can happen there.)
//! * Not atomic: any read followed by a write, such as `L[i] = L[i] + 1`, and **check-then-act**:
//!   acting on what `D.get` or `k in D` returned, after a check point has let another thread
//!   change the dict.
//! * Free-threaded CPython (3.13t) keeps the single operations atomic with per-object locks; a
//!   column shows what they prevent.
//!
//! ## Part 5: the Rust side ([`part5_rust`])
//!
//! In safe Rust a shared `static mut` counter does not compile (the part's docs hold a
//! `compile_fail` test). `AtomicU64` makes each load and each store indivisible, yet a load
//! followed by a store still loses updates; `fetch_add` and `Mutex` do not. The part measures
//! what each costs per increment, alone and with every core racing.
//!
//! ## What the source tutorial gets wrong
//!
//! * "GIL can release between any of these" bytecodes: nearly true up to 3.9 (the eval
//!   breaker ran after most opcodes, but not after `LOAD_FAST`, `LOAD_CONST` and
//!   `STORE_FAST`). Since 3.10 the tutorial's own example usually prints 1,000,000 — which
//!   does not make it correct code.
//! * `BINARY_ADD` no longer exists (3.11+: `BINARY_OP`).
//! * `x = D.get(k, default)` is atomic for a plain dict; what follows it may not be.
//!
//! ## Where the model simplifies CPython
//!
//! * The model interprets a handful of opcodes on `u64` values; CPython's integers are objects
//!   with reference counts (lesson 1), which changes the cost of an instruction, not where the
//!   GIL can switch.
//! * Part 4's operations are Rust code with explicit check points, not interpreted bytecode;
//!   each modelled bytecode burns a few nanoseconds of "dispatch", about what CPython spends,
//!   and the GIL runs use a 50 µs switch interval so that the GIL changes hands often.
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

pub use setup::Config;

/// The number of parts; `--part` takes 1 to this.
pub const PARTS: u8 = 5;

/// Run one part (1–5), or all of them in order with `None`, printing as they go.
pub fn run(cfg: &Config, part: Option<u8>) -> anyhow::Result<()> {
    if let Some(p) = part {
        anyhow::ensure!(
            (1..=PARTS).contains(&p),
            "there is no part {p}; parts are 1 to {PARTS}"
        );
    }
    let wanted = |n: u8| part.is_none_or(|p| p == n);
    if wanted(1) {
        part1_bytecode::run()?;
    }
    if wanted(2) {
        part2_race::run(cfg)?;
    }
    if wanted(3) {
        part3_replay::run(cfg)?;
    }
    if wanted(4) {
        part4_atomic_ops::run(cfg)?;
    }
    if wanted(5) {
        part5_rust::run(cfg)?;
    }
    Ok(())
}
