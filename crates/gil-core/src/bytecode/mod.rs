//! `counter += 1` one bytecode at a time: a tiny model of CPython's eval loop.
//!
//! The GIL lets one thread run bytecode at a time, but it may change hands *between* two
//! bytecodes — wherever the eval loop consults its *eval breaker* (a **check point**). Whether
//! `counter += 1` loses updates therefore depends on where the check points are:
//!
//! * CPython ≤ 3.9 checked after most opcodes, so a switch could fall between
//!   `LOAD_GLOBAL counter` and `STORE_GLOBAL counter`: [`CheckPolicy::EveryInstruction`].
//!   The exceptions ended with `FAST_DISPATCH()` in 3.9's `Python/ceval.c` — `LOAD_FAST`,
//!   `LOAD_CONST`, `STORE_FAST`, `POP_TOP`, the `ROT_*` and `DUP_TOP*` stack shuffles, `NOP`,
//!   `IS_OP`, `CONTAINS_OP`, `JUMP_FORWARD` and the conditional jumps on a plain bool
//!   ([`Site::Fast`] lists them).
//! * CPython 3.10 (bpo-29988) checks after calls, on backward jumps, on taken
//!   `POP_JUMP_IF_*` jumps and on frame entry; 3.11–3.12 at
//!   `RESUME` (function entry), `JUMP_BACKWARD` and calls into C (trivial specialized calls
//!   such as `len()` skip it); 3.13+ at `_CHECK_PERIODIC` / `RESUME_CHECK`. For a loop like
//!   this one all three put the check in the same places, and
//!   [`CheckPolicy::BackEdgesAndCalls`] stands for them all, using the 3.11–3.13 instruction
//!   names (3.14 loads small ints with `LOAD_SMALL_INT` and has no `BEFORE_WITH`).
//!   The read-modify-write of a plain `counter += 1` then has no check point inside it — by
//!   luck of the implementation, not by promise: put a call between the read and the write and
//!   updates are lost again.
//!
//! The pieces:
//!
//! * [`Program`] — a loop body compiled to model [`Instr`]uctions with 3.11–3.13 names, and its
//!   [`Program::listing`], a `dis`-style listing that marks the check points of a policy.
//! * [`Globals`] — the module globals the threads share: a [`Global`] `counter`, read and written
//!   with *separate* relaxed atomic loads and stores (so races are visible and never undefined
//!   behaviour), and a model `threading.Lock` ([`PyLock`]).
//! * [`Frame`] — one thread's interpreter state: [`Frame::step`] runs one instruction.
//! * [`run_counter`] — N real OS threads on a [`Gil`], each running the program M times and
//!   calling [`GilGuard::check_point`] wherever the policy puts one.
//! * [`Scheduler`] — no OS threads at all: a seeded, deterministic scheduler that steps model
//!   threads instruction by instruction and records the exact interleaving ([`Replay`]).
//!   Same seed, same trace, on every machine.
//!
//! ```
//! use gil_core::bytecode::{run_counter, CheckPolicy, Program};
//! use gil_core::Gil;
//!
//! // The tutorial's Exercise 1, with a lock: exact, whatever the policy.
//! let run = run_counter(&Gil::new(), &Program::increment_locked(), CheckPolicy::EveryInstruction, 4, 1000);
//! assert_eq!(run.total, 4000);
//! assert_eq!(run.lost(), 0);
//! ```
//!
//! Where the model simplifies CPython: offsets count two bytes per instruction (CPython's also
//! skip inline cache entries), `LOAD_GLOBAL (NULL + f)` pushes the NULL but the call protocol is
//! reduced to what `noop()` and `lock.__exit__` need, and the loop's set-up (`range(n)`,
//! `GET_ITER`) and tear-down are not modelled — each frame simply iterates M times.
//!
//! One file per job: [`instr`] (the instruction set and check-point policies), [`program`]
//! (loop bodies and their listing), [`globals`] (the shared module state), [`frame`] (the
//! interpreter that runs one instruction), [`thread`] (real OS threads on a [`Gil`]),
//! [`replay`] and [`scheduler`] (the deterministic scheduler and what it records).

pub mod explore;
pub mod frame;
pub mod globals;
pub mod instr;
pub mod program;
pub mod replay;
pub mod scheduler;
pub mod thread;

pub use frame::{DISPATCH_STEPS, Effect, Frame, INSTRUCTION_TIME, Step, dispatch};
pub use globals::{Global, Globals, PyLock};
pub use instr::{BinOp, CheckPolicy, Const, Instr, Local, Name, Site};
pub use program::Program;
pub use replay::{Event, LostUpdate, Replay};
pub use scheduler::{ModelThread, Scheduler};
pub use thread::{CounterRun, run_counter, run_frame};

#[cfg(doc)]
use crate::{Gil, GilGuard};
