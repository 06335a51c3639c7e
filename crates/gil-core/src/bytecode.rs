//! `counter += 1` one bytecode at a time: a tiny model of CPython's eval loop.
//!
//! The GIL lets one thread run bytecode at a time, but it may change hands *between* two
//! bytecodes — wherever the eval loop consults its *eval breaker* (a **check point**). Whether
//! `counter += 1` loses updates therefore depends on where the check points are:
//!
//! * CPython ≤ 3.9 checked after nearly every opcode (all but `LOAD_FAST`, `LOAD_CONST` and
//!   `STORE_FAST`), so a switch could fall between `LOAD_GLOBAL counter` and
//!   `STORE_GLOBAL counter`: [`CheckPolicy::EveryInstruction`].
//! * CPython 3.10 (bpo-29988) checks only after calls and on backward jumps; 3.11–3.12 at
//!   `RESUME` (function entry), `JUMP_BACKWARD` and calls into C (trivial specialized calls
//!   such as `len()` skip it); 3.13+ at `_CHECK_PERIODIC` / `RESUME_CHECK`. For a loop like
//!   this one all three put the check in the same places, and
//!   [`CheckPolicy::BackEdgesAndCalls`] stands for them all, using the 3.11+ instruction names.
//!   The read-modify-write of a plain `counter += 1` then has no check point inside it — by
//!   luck of the implementation, not by promise: put a call between the read and the write and
//!   updates are lost again.
//!
//! The pieces:
//!
//! * [`Program`] — a loop body compiled to model [`Instr`]uctions with 3.11+ names, and its
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

use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Condvar, Mutex};

use crate::measure::SplitMix64;
use crate::{Gil, GilGuard};

/// Loop steps [`dispatch`] spins: with the model's own work, one instruction of the
/// `counter += 1` loop costs roughly 10–15 ns on a 2-core VM, between CPython 3.11's ~7 ns and
/// 3.9's ~17 ns measured there.
pub const DISPATCH_STEPS: u32 = 16;

/// The interpreter's overhead for one bytecode — fetch, decode, dispatch, reference counting —
/// as a short `black_box` spin of [`DISPATCH_STEPS`] steps.
///
/// Without it the model would run a loop several times faster than CPython, and 100,000
/// iterations would finish inside one 5 ms switch interval, with no hand-off to race with.
#[inline]
pub fn dispatch() {
    let mut k = DISPATCH_STEPS;
    while k > 0 {
        k = std::hint::black_box(k) - 1;
    }
}

/// A module-level global shared by all model threads (CPython: an entry in the module dict).
///
/// Reads and writes are *separate* relaxed atomic operations, never one read-modify-write: a
/// `LOAD_GLOBAL` and the later `STORE_GLOBAL` of `counter += 1` can be interleaved with other
/// threads' accesses exactly as in CPython, and the Rust program stays free of data races.
#[derive(Debug, Default)]
pub struct Global {
    value: AtomicU64,
}

impl Global {
    /// A global holding `value`.
    pub fn new(value: u64) -> Self {
        Global {
            value: AtomicU64::new(value),
        }
    }

    /// `LOAD_GLOBAL`: read the current value.
    pub fn load(&self) -> u64 {
        self.value.load(Relaxed)
    }

    /// `STORE_GLOBAL`: overwrite the value (whatever another thread stored meanwhile is lost).
    pub fn store(&self, value: u64) {
        self.value.store(value, Relaxed);
    }
}

/// A model `threading.Lock`: not owned by a thread, released by whoever calls `release`.
#[derive(Debug, Default)]
pub struct PyLock {
    state: Mutex<LockState>,
    /// Signalled on release when somebody is blocked in `acquire`.
    freed: Condvar,
}

/// How many times [`PyLock::acquire`] retries before it parks.
const SPINS: u32 = 40;

/// What [`PyLock`] guards.
#[derive(Debug, Default)]
struct LockState {
    /// `true` while some thread holds the lock.
    locked: bool,
    /// Times the lock was taken (by `acquire` or a successful `try_acquire`).
    acquisitions: u64,
    /// Threads blocked in `acquire`; a release wakes one only if this is non-zero (a futex
    /// wake is a system call, which an uncontended release should not pay).
    waiters: u32,
}

impl PyLock {
    fn state(&self) -> std::sync::MutexGuard<'_, LockState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `lock.acquire(blocking=False)`: take the lock if it is free.
    pub fn try_acquire(&self) -> bool {
        let mut state = self.state();
        if state.locked {
            return false;
        }
        state.locked = true;
        state.acquisitions += 1;
        true
    }

    /// `lock.acquire()`: block until the lock is ours. CPython blocks with the GIL released;
    /// call this inside [`GilGuard::allow_threads`].
    pub fn acquire(&self) {
        // Like CPython's `PyMutex`, spin briefly before parking: a lock held for a few
        // instructions is usually free again before a sleep-and-wake would even start.
        for _ in 0..SPINS {
            if self.try_acquire() {
                return;
            }
            std::thread::yield_now();
        }
        let mut state = self.state();
        if state.locked {
            state.waiters += 1;
            while state.locked {
                state = self.freed.wait(state).unwrap_or_else(|p| p.into_inner());
            }
            state.waiters -= 1;
        }
        state.locked = true;
        state.acquisitions += 1;
    }

    /// `lock.release()`.
    pub fn release(&self) {
        let mut state = self.state();
        state.locked = false;
        if state.waiters > 0 {
            self.freed.notify_one();
        }
    }

    /// Whether some thread holds the lock now.
    pub fn is_locked(&self) -> bool {
        self.state().locked
    }

    /// How many times the lock has been taken so far.
    pub fn acquisitions(&self) -> u64 {
        self.state().acquisitions
    }
}

/// The module globals a [`Program`] uses: `counter` and `lock`.
#[derive(Debug, Default)]
pub struct Globals {
    /// `counter`, the shared integer that `counter += 1` updates.
    pub counter: Global,
    /// `lock = threading.Lock()`, used by [`Program::increment_locked`].
    pub lock: PyLock,
}

impl Globals {
    /// Fresh globals with `counter = start` and the lock free.
    pub fn new(start: u64) -> Self {
        Globals {
            counter: Global::new(start),
            lock: PyLock::default(),
        }
    }
}

/// A global name a program refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Name {
    /// The shared integer `counter`.
    Counter,
    /// `def noop(): pass` — a Python function that does nothing.
    Noop,
    /// The `threading.Lock` named `lock`.
    Lock,
}

impl Name {
    fn as_str(self) -> &'static str {
        match self {
            Name::Counter => "counter",
            Name::Noop => "noop",
            Name::Lock => "lock",
        }
    }
}

/// A fast local (function-local variable) slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Local {
    /// Slot 0: the loop variable `_`.
    Underscore,
    /// Slot 1: `c`, the copy of `counter` in the read-call-write variant.
    C,
}

impl Local {
    fn slot(self) -> usize {
        self as usize
    }
    fn as_str(self) -> &'static str {
        match self {
            Local::Underscore => "_",
            Local::C => "c",
        }
    }
}

/// A constant operand of `LOAD_CONST`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Const {
    /// An integer literal.
    Int(u64),
    /// `None`.
    None,
}

/// The operator of `BINARY_OP` (3.11+ folded all binary and in-place operators into it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    /// `a + b`: `BINARY_OP 0 (+)`.
    Add,
    /// `a += b`: `BINARY_OP 13 (+=)`.
    InplaceAdd,
}

impl BinOp {
    /// CPython's oparg and its `dis` rendering.
    fn oparg(self) -> (u32, &'static str) {
        match self {
            BinOp::Add => (0, "+"),
            BinOp::InplaceAdd => (13, "+="),
        }
    }
}

/// One model bytecode instruction, named as CPython 3.11+ names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Instr {
    /// `FOR_ITER`: next item of `range(n)` onto the stack, or leave the loop (`to` = the
    /// instruction after the loop, where the frame finishes).
    ForIter {
        /// Index of the first instruction after the loop.
        to: usize,
    },
    /// `STORE_FAST`: pop into a local.
    StoreFast(Local),
    /// `LOAD_FAST`: push a local.
    LoadFast(Local),
    /// `LOAD_GLOBAL`: push a global; `null` = CPython's `NULL + name` form used before a call.
    LoadGlobal {
        /// Which global.
        name: Name,
        /// Push a NULL first (the "NULL + noop" of a call site).
        null: bool,
    },
    /// `LOAD_CONST`: push a constant.
    LoadConst(Const),
    /// `BINARY_OP`: pop two, push the result.
    BinaryOp(BinOp),
    /// `STORE_GLOBAL`: pop into a global.
    StoreGlobal(Name),
    /// `CALL argc`: call a callable (`noop`, or a lock's `__exit__`).
    Call(u32),
    /// `POP_TOP`: discard the top of the stack.
    PopTop,
    /// `BEFORE_WITH`: enter `with lock:` (acquires the lock; may block).
    BeforeWith,
    /// `JUMP_BACKWARD`: the loop's back edge, to instruction `to`.
    JumpBackward {
        /// Index of the loop head.
        to: usize,
    },
}

impl Instr {
    /// The opcode name `dis` prints.
    pub fn opname(self) -> &'static str {
        match self {
            Instr::ForIter { .. } => "FOR_ITER",
            Instr::StoreFast(_) => "STORE_FAST",
            Instr::LoadFast(_) => "LOAD_FAST",
            Instr::LoadGlobal { .. } => "LOAD_GLOBAL",
            Instr::LoadConst(_) => "LOAD_CONST",
            Instr::BinaryOp(_) => "BINARY_OP",
            Instr::StoreGlobal(_) => "STORE_GLOBAL",
            Instr::Call(_) => "CALL",
            Instr::PopTop => "POP_TOP",
            Instr::BeforeWith => "BEFORE_WITH",
            Instr::JumpBackward { .. } => "JUMP_BACKWARD",
        }
    }

    /// The kind of site this instruction is for [`CheckPolicy::checks`].
    pub fn site(self) -> Site {
        match self {
            Instr::LoadFast(_) | Instr::LoadConst(_) | Instr::StoreFast(_) => Site::Fast,
            Instr::Call(_) => Site::Call,
            Instr::JumpBackward { .. } => Site::BackEdge,
            _ => Site::Opcode,
        }
    }

    /// The argument column of `dis`: `13 (+=)`, `(counter)`, `(to 0)`, or nothing.
    fn argrepr(self) -> String {
        match self {
            Instr::ForIter { to } | Instr::JumpBackward { to } => format!("(to {})", to * 2),
            Instr::StoreFast(l) | Instr::LoadFast(l) => format!("{} ({})", l.slot(), l.as_str()),
            Instr::LoadGlobal { name, null } => {
                format!("({}{})", if null { "NULL + " } else { "" }, name.as_str())
            }
            Instr::LoadConst(Const::Int(n)) => format!("({n})"),
            Instr::LoadConst(Const::None) => "(None)".into(),
            Instr::BinaryOp(op) => {
                let (arg, sym) = op.oparg();
                format!("{arg} ({sym})")
            }
            Instr::StoreGlobal(name) => format!("({})", name.as_str()),
            Instr::Call(argc) => argc.to_string(),
            Instr::PopTop | Instr::BeforeWith => String::new(),
        }
    }
}

impl fmt::Display for Instr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let arg = self.argrepr();
        if arg.is_empty() {
            f.write_str(self.opname())
        } else {
            write!(f, "{} {arg}", self.opname())
        }
    }
}

/// Where the eval loop consults the eval breaker, i.e. where the GIL can change hands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CheckPolicy {
    /// CPython ≤ 3.9: after every instruction except `LOAD_FAST`, `LOAD_CONST` and
    /// `STORE_FAST` (those skipped the check with a fast dispatch).
    EveryInstruction,
    /// CPython 3.10 and later, in the 3.11+ instruction names: only at the loop's back edge
    /// (`JUMP_BACKWARD`) and at calls (`CALL`). 3.10 (bpo-29988) checks after calls and on
    /// backward jumps; 3.11–3.12 at `RESUME`, `JUMP_BACKWARD` and calls into C (trivial
    /// specialized calls such as `len()` skip it); 3.13+ at `_CHECK_PERIODIC` /
    /// `RESUME_CHECK`. For the model's loops the three agree.
    #[default]
    BackEdgesAndCalls,
}

impl CheckPolicy {
    /// Whether the eval breaker is consulted after `instr` under this policy.
    pub fn is_check_point(self, instr: Instr) -> bool {
        self.checks(instr.site())
    }

    /// Whether the eval breaker is consulted after an instruction of kind `site`: lets code
    /// that models other opcodes (`BINARY_SUBSCR`, `CONTAINS_OP`, …) follow the same policy.
    pub fn checks(self, site: Site) -> bool {
        match self {
            CheckPolicy::EveryInstruction => site != Site::Fast,
            CheckPolicy::BackEdgesAndCalls => matches!(site, Site::BackEdge | Site::Call),
        }
    }

    /// Which CPython versions behave like this, as a short label. `"CPython 3.10+"` covers
    /// three implementations of the check (3.10; 3.11–3.12; 3.13+) that agree for the model's
    /// loops; see [`CheckPolicy::BackEdgesAndCalls`].
    pub fn versions(self) -> &'static str {
        match self {
            CheckPolicy::EveryInstruction => "CPython <= 3.9",
            CheckPolicy::BackEdgesAndCalls => "CPython 3.10+",
        }
    }
}

/// What kind of instruction an opcode is, as far as check points are concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Site {
    /// `LOAD_FAST`, `LOAD_CONST`, `STORE_FAST`: skipped the check even in CPython ≤ 3.9.
    Fast,
    /// Any other opcode that does not call or jump back (`LOAD_GLOBAL`, `BINARY_OP`,
    /// `BINARY_SUBSCR`, `STORE_SUBSCR`, `CONTAINS_OP`, …).
    Opcode,
    /// A call (`CALL`), into Python or C.
    Call,
    /// A backward jump (`JUMP_BACKWARD`): the end of a loop iteration.
    BackEdge,
}

impl fmt::Display for CheckPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckPolicy::EveryInstruction => f.write_str("check points after every instruction"),
            CheckPolicy::BackEdgesAndCalls => f.write_str("check points at back edges and calls"),
        }
    }
}

/// `LOAD_GLOBAL (counter)`: the read of the read-modify-write.
const LOAD_COUNTER: Instr = Instr::LoadGlobal {
    name: Name::Counter,
    null: false,
};

/// `STORE_GLOBAL (counter)`: the write.
const STORE_COUNTER: Instr = Instr::StoreGlobal(Name::Counter);

/// A loop body compiled to model bytecode: `for _ in range(n): <body>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    /// The Python source it models.
    pub source: &'static str,
    /// The instructions; index 0 is the loop head (`FOR_ITER`).
    pub code: Vec<Instr>,
}

impl Program {
    /// `for _ in range(n): counter += 1` — the tutorial's racy increment.
    pub fn increment() -> Self {
        Program {
            source: "for _ in range(n):\n    counter += 1",
            code: vec![
                Instr::ForIter { to: 7 },
                Instr::StoreFast(Local::Underscore),
                LOAD_COUNTER,
                Instr::LoadConst(Const::Int(1)),
                Instr::BinaryOp(BinOp::InplaceAdd),
                STORE_COUNTER,
                Instr::JumpBackward { to: 0 },
            ],
        }
    }

    /// `for _ in range(n): with lock: counter += 1` — the fix.
    pub fn increment_locked() -> Self {
        let none = Instr::LoadConst(Const::None);
        Program {
            source: "for _ in range(n):\n    with lock:\n        counter += 1",
            code: vec![
                Instr::ForIter { to: 16 },
                Instr::StoreFast(Local::Underscore),
                Instr::LoadGlobal {
                    name: Name::Lock,
                    null: false,
                },
                Instr::BeforeWith,
                Instr::PopTop,
                LOAD_COUNTER,
                Instr::LoadConst(Const::Int(1)),
                Instr::BinaryOp(BinOp::InplaceAdd),
                STORE_COUNTER,
                none,
                none,
                none,
                Instr::Call(2),
                Instr::PopTop,
                Instr::JumpBackward { to: 0 },
            ],
        }
        .fix_exit()
    }

    /// `for _ in range(n): c = counter; noop(); counter = c + 1` — a read, a call, a write:
    /// loses updates even with 3.10+'s check points, because a call is one.
    pub fn read_call_write() -> Self {
        Program {
            source: "for _ in range(n):\n    c = counter\n    noop()\n    counter = c + 1",
            code: vec![
                Instr::ForIter { to: 12 },
                Instr::StoreFast(Local::Underscore),
                LOAD_COUNTER,
                Instr::StoreFast(Local::C),
                Instr::LoadGlobal {
                    name: Name::Noop,
                    null: true,
                },
                Instr::Call(0),
                Instr::PopTop,
                Instr::LoadFast(Local::C),
                Instr::LoadConst(Const::Int(1)),
                Instr::BinaryOp(BinOp::Add),
                STORE_COUNTER,
                Instr::JumpBackward { to: 0 },
            ],
        }
    }

    /// Point `FOR_ITER` past the end of the code (keeps the constructors readable).
    fn fix_exit(mut self) -> Self {
        let end = self.code.len();
        if let Some(Instr::ForIter { to }) = self.code.first_mut() {
            *to = end;
        }
        self
    }

    /// A `dis`-style listing; instructions after which `policy` has a check point are marked
    /// `<- switch possible`, and the read-modify-write window of `counter` is bracketed.
    pub fn listing(&self, policy: CheckPolicy) -> String {
        let mut out = String::new();
        let (load, store) = self
            .counter_window()
            .map_or((None, None), |(l, s)| (Some(l), Some(s)));
        for (index, instr) in self.code.iter().enumerate() {
            let target = if index == 0 { ">>" } else { "  " };
            let window = match (load, store) {
                (Some(l), Some(_)) if index == l => "┐",
                (Some(_), Some(s)) if index == s => "┘",
                (Some(l), Some(s)) if index > l && index < s => "│",
                _ => " ",
            };
            let mark = if policy.is_check_point(*instr) {
                "<- switch possible"
            } else {
                ""
            };
            let line = format!(
                "{window} {target} {:>4} {:<16} {:<22} {mark}",
                index * 2,
                instr.opname(),
                instr.argrepr()
            );
            let _ = writeln!(out, "{}", line.trim_end());
        }
        let _ = writeln!(
            out,
            "     {:>4} (end of loop: the frame returns)",
            self.code.len() * 2
        );
        out
    }

    /// How many check points `policy` puts strictly inside the read-modify-write of `counter`
    /// (after its `LOAD_GLOBAL`, before its `STORE_GLOBAL`). Zero means the GIL alone makes
    /// this loop's update atomic — with this policy.
    pub fn check_points_in_window(&self, policy: CheckPolicy) -> usize {
        self.counter_window().map_or(0, |(load, store)| {
            self.code[load..store]
                .iter()
                .filter(|i| policy.is_check_point(**i))
                .count()
        })
    }

    /// Indices of the `LOAD_GLOBAL counter` and the later `STORE_GLOBAL counter`.
    fn counter_window(&self) -> Option<(usize, usize)> {
        let load = self.code.iter().position(|i| {
            matches!(
                i,
                Instr::LoadGlobal {
                    name: Name::Counter,
                    ..
                }
            )
        })?;
        let store = self.code[load..]
            .iter()
            .position(|i| matches!(i, Instr::StoreGlobal(Name::Counter)))?;
        Some((load, load + store))
    }
}

/// A value on a frame's stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Value {
    Null,
    None,
    True,
    Int(u64),
    Noop,
    Lock,
    LockExit,
}

/// What one [`Frame::step`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Ran the instruction at `offset` (a byte offset, as in the listing).
    Ran {
        /// The instruction.
        instr: Instr,
        /// Its byte offset.
        offset: usize,
        /// What it did to `counter`, if anything.
        effect: Effect,
    },
    /// `BEFORE_WITH` found the lock taken. Block (GIL released) until it is yours, then call
    /// [`Frame::lock_granted`] and step again.
    Blocked,
    /// The loop is over; the frame has returned.
    Finished,
}

/// An instruction's visible effect on shared state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Nothing shared was touched.
    None,
    /// `LOAD_GLOBAL counter` read this value.
    Loaded(u64),
    /// `STORE_GLOBAL counter` wrote this value.
    Stored(u64),
    /// The lock was acquired.
    Acquired,
    /// The lock was released.
    Released,
}

/// One model thread's interpreter frame: program counter, value stack, fast locals.
#[derive(Clone, Debug)]
pub struct Frame<'p> {
    program: &'p Program,
    /// Index of the next instruction.
    pc: usize,
    stack: Vec<Value>,
    locals: [Value; 2],
    /// Items `range(n)` still has to yield.
    remaining: u64,
    /// True once a blocked `BEFORE_WITH` was granted the lock from outside.
    granted: bool,
    finished: bool,
}

impl<'p> Frame<'p> {
    /// A frame about to run `program`'s loop `iterations` times.
    pub fn new(program: &'p Program, iterations: u64) -> Self {
        Frame {
            program,
            pc: 0,
            stack: Vec::with_capacity(8),
            locals: [Value::None; 2],
            remaining: iterations,
            granted: false,
            finished: false,
        }
    }

    /// Whether the frame has returned.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// The instruction that runs next (`None` once finished).
    pub fn next_instr(&self) -> Option<Instr> {
        (!self.finished).then(|| self.program.code[self.pc])
    }

    /// Tell a frame that got [`Step::Blocked`] that the lock is now held on its behalf.
    pub fn lock_granted(&mut self) {
        self.granted = true;
    }

    fn pop(&mut self) -> Value {
        self.stack
            .pop()
            .expect("model bytecode popped an empty stack")
    }

    fn pop_int(&mut self) -> u64 {
        match self.pop() {
            Value::Int(n) => n,
            other => panic!("model bytecode expected an int, found {other:?}"),
        }
    }

    /// Run one instruction against `globals`.
    ///
    /// Each step first pays [`dispatch`], the interpreter's own cost of one instruction.
    pub fn step(&mut self, globals: &Globals) -> Step {
        if self.finished {
            return Step::Finished;
        }
        dispatch();
        let instr = self.program.code[self.pc];
        let offset = self.pc * 2;
        let mut effect = Effect::None;
        let mut next = self.pc + 1;
        match instr {
            Instr::ForIter { to } => {
                if self.remaining == 0 {
                    self.finished = true;
                    self.pc = to;
                    return Step::Finished;
                }
                self.remaining -= 1;
                self.stack.push(Value::Int(self.remaining));
            }
            Instr::StoreFast(local) => self.locals[local.slot()] = self.pop(),
            Instr::LoadFast(local) => self.stack.push(self.locals[local.slot()]),
            Instr::LoadGlobal { name, null } => {
                if null {
                    self.stack.push(Value::Null);
                }
                let value = match name {
                    Name::Counter => {
                        let v = globals.counter.load();
                        effect = Effect::Loaded(v);
                        Value::Int(v)
                    }
                    Name::Noop => Value::Noop,
                    Name::Lock => Value::Lock,
                };
                self.stack.push(value);
            }
            Instr::LoadConst(Const::Int(n)) => self.stack.push(Value::Int(n)),
            Instr::LoadConst(Const::None) => self.stack.push(Value::None),
            Instr::BinaryOp(_) => {
                let b = self.pop_int();
                let a = self.pop_int();
                self.stack.push(Value::Int(a.wrapping_add(b)));
            }
            Instr::StoreGlobal(name) => {
                assert_eq!(name, Name::Counter, "only counter can be stored to");
                let v = self.pop_int();
                globals.counter.store(v);
                effect = Effect::Stored(v);
            }
            Instr::Call(argc) => {
                for _ in 0..argc {
                    self.pop();
                }
                // CPython 3.12's protocol: [NULL, callable] or [callable, self] under the args.
                let upper = self.pop();
                let lower = self.pop();
                let callable = if lower == Value::Null { upper } else { lower };
                match callable {
                    Value::Noop => {}
                    Value::LockExit => {
                        globals.lock.release();
                        effect = Effect::Released;
                    }
                    other => panic!("model bytecode cannot call {other:?}"),
                }
                self.stack.push(Value::None);
            }
            Instr::PopTop => {
                self.pop();
            }
            Instr::BeforeWith => {
                if !std::mem::take(&mut self.granted) && !globals.lock.try_acquire() {
                    return Step::Blocked;
                }
                let lock = self.pop();
                assert_eq!(lock, Value::Lock, "`with` needs the lock");
                self.stack.push(Value::LockExit);
                self.stack.push(Value::True);
                effect = Effect::Acquired;
            }
            Instr::JumpBackward { to } => next = to,
        }
        self.pc = next;
        Step::Ran {
            instr,
            offset,
            effect,
        }
    }
}

/// Outcome of [`run_counter`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CounterRun {
    /// `counter` at the end.
    pub total: u64,
    /// threads × iterations: what it would be if no update were lost.
    pub expected: u64,
}

impl CounterRun {
    /// Updates lost to the race (`expected - total`).
    pub fn lost(&self) -> u64 {
        self.expected.saturating_sub(self.total)
    }
}

/// Run `program` on `threads` real threads of `gil`, `iterations` loop iterations each, with
/// `counter` starting at 0, calling the eval breaker wherever `policy` has a check point.
///
/// A thread whose `BEFORE_WITH` finds the lock taken blocks with the GIL released, like
/// CPython's `lock.acquire()`. In free-threaded mode check points never wait and threads truly
/// run at once.
pub fn run_counter(
    gil: &Gil,
    program: &Program,
    policy: CheckPolicy,
    threads: usize,
    iterations: u64,
) -> CounterRun {
    let globals = Globals::new(0);
    gil.run_threads(threads, |_, py| {
        run_frame(py, &globals, program, policy, iterations)
    });
    CounterRun {
        total: globals.counter.load(),
        expected: threads as u64 * iterations,
    }
}

/// Run one frame of `program` to completion on the calling thread, which holds the GIL `py`.
///
/// The building block of [`run_counter`], for exercises that start their own threads.
pub fn run_frame(
    py: &mut GilGuard<'_>,
    globals: &Globals,
    program: &Program,
    policy: CheckPolicy,
    iterations: u64,
) {
    let mut frame = Frame::new(program, iterations);
    loop {
        match frame.step(globals) {
            Step::Ran { instr, .. } => {
                if policy.is_check_point(instr) {
                    py.check_point();
                }
            }
            Step::Blocked => {
                py.allow_threads(|| globals.lock.acquire());
                frame.lock_granted();
            }
            Step::Finished => break,
        }
    }
}

/// One line of a [`Replay`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// Thread `thread` (0-based) ran an instruction.
    Ran {
        /// Which thread.
        thread: usize,
        /// Its byte offset.
        offset: usize,
        /// The instruction.
        instr: Instr,
        /// What it did to shared state.
        effect: Effect,
    },
    /// The GIL changed hands at a check point (a drop request was pending).
    Switch {
        /// Who let go.
        from: usize,
        /// Who took it.
        to: usize,
    },
    /// `thread` blocked on the lock and released the GIL.
    Blocked {
        /// Which thread.
        thread: usize,
    },
    /// `thread`'s frame returned.
    Finished {
        /// Which thread.
        thread: usize,
    },
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Event::Ran {
                thread,
                offset,
                instr,
                effect,
            } => {
                let t = format!("T{}", thread + 1);
                let what = match (instr, effect) {
                    (Instr::LoadGlobal { .. }, Effect::Loaded(v)) => {
                        format!("LOAD_GLOBAL counter -> {v}")
                    }
                    (Instr::StoreGlobal(_), Effect::Stored(v)) => {
                        format!("STORE_GLOBAL counter = {v}")
                    }
                    (_, Effect::Acquired) => format!("{instr} (lock acquired)"),
                    (_, Effect::Released) => format!("{instr} (lock released)"),
                    _ => instr.to_string(),
                };
                write!(f, "{t:<4}{offset:>3}  {what}")
            }
            Event::Switch { from, to } => {
                write!(f, "      --- GIL: T{} -> T{} ---", from + 1, to + 1)
            }
            Event::Blocked { thread } => {
                write!(
                    f,
                    "T{:<3}     waits for the lock (GIL released)",
                    thread + 1
                )
            }
            Event::Finished { thread } => write!(f, "T{:<3}     returns", thread + 1),
        }
    }
}

/// One lost update found in a [`Replay`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LostUpdate {
    /// Index in [`Replay::events`] where the story starts: the earliest `LOAD_GLOBAL counter`
    /// among the victim's and those of the stores it overwrote.
    pub first: usize,
    /// Index in [`Replay::events`] of the victim's `LOAD_GLOBAL counter`.
    pub load: usize,
    /// Index of its `STORE_GLOBAL counter`, which overwrote other threads' updates.
    pub store: usize,
    /// Thread (0-based) that stored a stale value.
    pub thread: usize,
    /// How many other threads' stores it overwrote.
    pub overwritten: u64,
}

/// What a [`Scheduler`] run did, instruction by instruction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replay {
    /// Every instruction, switch, block and return, in order.
    pub events: Vec<Event>,
    /// Stores that overwrote other threads' updates, in order.
    pub lost_updates: Vec<LostUpdate>,
    /// `counter` at the start.
    pub start: u64,
    /// `counter` at the end.
    pub total: u64,
    /// What `counter` would be with no update lost.
    pub expected: u64,
}

impl Replay {
    /// Updates lost (`expected - total`).
    pub fn lost(&self) -> u64 {
        self.expected.saturating_sub(self.total)
    }

    /// The events of the first lost update, one per line: from the first `LOAD_GLOBAL` of
    /// the threads involved to the stale `STORE_GLOBAL` — the interleaving that loses an
    /// update. Empty if none was lost.
    pub fn first_lost_update_trace(&self) -> String {
        self.lost_updates
            .first()
            .map(|lost| self.render(lost.first, lost.store + 1))
            .unwrap_or_default()
    }

    /// Events `from..to` (clamped), one per line.
    pub fn render(&self, from: usize, to: usize) -> String {
        let to = to.min(self.events.len());
        let mut out = String::new();
        for event in &self.events[from.min(to)..to] {
            let _ = writeln!(out, "{event}");
        }
        out
    }
}

/// A deterministic GIL: steps model threads one instruction at a time on the calling thread.
///
/// Like the real GIL, one thread runs until a *drop request* arrives and it reaches a check
/// point of the [`CheckPolicy`]; then the GIL passes to another runnable thread. Drop requests
/// arrive after a pseudo-random number of instructions (the model's stand-in for the 5 ms
/// timer), drawn from a PRNG seeded by you: the same seed gives the same [`Replay`] on every
/// machine. With [`Scheduler::free_threaded`], there is no GIL: any thread may run next after
/// any instruction.
///
/// ```
/// use gil_core::bytecode::{CheckPolicy, Program, Scheduler};
///
/// let program = Program::increment();
/// let replay = Scheduler::new(7, CheckPolicy::EveryInstruction).run(&program, 2, 50);
/// assert!(replay.lost() > 0);
/// // 3.10+'s check points leave no switch inside `counter += 1`:
/// let replay = Scheduler::new(7, CheckPolicy::BackEdgesAndCalls).run(&program, 2, 50);
/// assert_eq!(replay.total, 100);
/// ```
#[derive(Clone, Debug)]
pub struct Scheduler {
    rng: SplitMix64,
    policy: CheckPolicy,
    free_threaded: bool,
    mean_interval: u64,
    start: u64,
}

/// A model thread's scheduling state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RunState {
    /// Wants or holds the GIL.
    Runnable,
    /// Waiting for the lock with the GIL released.
    Blocked,
    /// Returned.
    Finished,
}

impl Scheduler {
    /// A scheduler with a seed and a check-point policy; drop requests every ~4 instructions.
    pub fn new(seed: u64, policy: CheckPolicy) -> Self {
        Scheduler {
            rng: SplitMix64(seed),
            policy,
            free_threaded: false,
            mean_interval: 4,
            start: 0,
        }
    }

    /// Model the free-threaded build: no GIL, a switch may follow any instruction.
    pub fn free_threaded(mut self, yes: bool) -> Self {
        self.free_threaded = yes;
        self
    }

    /// Mean number of instructions between drop requests (at least 1).
    pub fn mean_interval(mut self, instructions: u64) -> Self {
        self.mean_interval = instructions.max(1);
        self
    }

    /// The value `counter` starts at.
    pub fn start_at(mut self, value: u64) -> Self {
        self.start = value;
        self
    }

    fn next_drop_request(&mut self) -> u64 {
        1 + self.rng.below(2 * self.mean_interval)
    }

    /// Pick a runnable thread other than `not` (or `not` itself if it is the only one).
    fn pick(&mut self, states: &[RunState], not: usize) -> Option<usize> {
        let others: Vec<usize> = (0..states.len())
            .filter(|&t| t != not && states[t] == RunState::Runnable)
            .collect();
        if others.is_empty() {
            (states.get(not) == Some(&RunState::Runnable)).then_some(not)
        } else {
            Some(others[self.rng.below(others.len() as u64) as usize])
        }
    }

    /// Run `threads` model threads, `iterations` loop iterations each, to completion.
    pub fn run(mut self, program: &Program, threads: usize, iterations: u64) -> Replay {
        let globals = Globals::new(self.start);
        let mut frames: Vec<Frame<'_>> = (0..threads)
            .map(|_| Frame::new(program, iterations))
            .collect();
        let mut states = vec![RunState::Runnable; threads];
        // Per thread: (event index, store count) of its last `LOAD_GLOBAL counter`.
        let mut last_load: Vec<Option<(usize, u64)>> = vec![None; threads];
        let mut stores = 0u64;
        // For every store so far, the event index of the load its value came from.
        let mut store_loads: Vec<usize> = Vec::new();
        let mut events = Vec::new();
        let mut lost_updates = Vec::new();
        let mut current = 0;
        let mut countdown = self.next_drop_request();
        loop {
            if states[current] != RunState::Runnable {
                // The holder blocked or returned: the GIL goes to someone else.
                match self.pick(&states, current) {
                    Some(next) => {
                        if !self.free_threaded {
                            events.push(Event::Switch {
                                from: current,
                                to: next,
                            });
                        }
                        current = next;
                    }
                    None => break,
                }
            }
            let now = current;
            let (instr, offset, effect) = match frames[now].step(&globals) {
                Step::Finished => {
                    states[now] = RunState::Finished;
                    events.push(Event::Finished { thread: now });
                    continue;
                }
                Step::Blocked => {
                    states[now] = RunState::Blocked;
                    events.push(Event::Blocked { thread: now });
                    continue;
                }
                Step::Ran {
                    instr,
                    offset,
                    effect,
                } => (instr, offset, effect),
            };
            match effect {
                Effect::Loaded(_) => last_load[now] = Some((events.len(), stores)),
                Effect::Stored(_) => {
                    let loaded = last_load[now].take();
                    if let Some((load, seen)) = loaded {
                        if seen != stores {
                            let overwritten = &store_loads[seen as usize..];
                            lost_updates.push(LostUpdate {
                                first: overwritten.iter().copied().fold(load, usize::min),
                                load,
                                store: events.len(),
                                thread: now,
                                overwritten: stores - seen,
                            });
                        }
                    }
                    store_loads.push(loaded.map_or(events.len(), |(load, _)| load));
                    stores += 1;
                }
                Effect::Released => {
                    // A blocked acquirer gets the lock while it waits without the GIL.
                    let blocked: Vec<usize> = (0..threads)
                        .filter(|&t| states[t] == RunState::Blocked)
                        .collect();
                    if !blocked.is_empty() {
                        let t = blocked[self.rng.below(blocked.len() as u64) as usize];
                        assert!(globals.lock.try_acquire(), "lock was just released");
                        frames[t].lock_granted();
                        states[t] = RunState::Runnable;
                    }
                }
                Effect::None | Effect::Acquired => {}
            }
            events.push(Event::Ran {
                thread: now,
                offset,
                instr,
                effect,
            });
            if self.free_threaded {
                // No GIL: every runnable thread is running; any of them takes the next step.
                let runnable: Vec<usize> = (0..threads)
                    .filter(|&t| states[t] == RunState::Runnable)
                    .collect();
                if !runnable.is_empty() {
                    current = runnable[self.rng.below(runnable.len() as u64) as usize];
                }
                continue;
            }
            countdown = countdown.saturating_sub(1);
            if countdown == 0 && self.policy.is_check_point(instr) {
                // The drop request is honoured here; forced switching hands the GIL to another
                // thread that wants it (if nobody does, there was nobody to ask).
                countdown = self.next_drop_request();
                if let Some(next) = self.pick(&states, now).filter(|&next| next != now) {
                    events.push(Event::Switch {
                        from: now,
                        to: next,
                    });
                    current = next;
                }
            }
        }
        Replay {
            events,
            lost_updates,
            start: self.start,
            total: globals.counter.load(),
            expected: self.start + threads as u64 * iterations,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_frame_counts_exactly() {
        for program in [
            Program::increment(),
            Program::increment_locked(),
            Program::read_call_write(),
        ] {
            let globals = Globals::new(5);
            let mut frame = Frame::new(&program, 10);
            while frame.step(&globals) != Step::Finished {}
            assert_eq!(globals.counter.load(), 15, "{}", program.source);
            assert!(!globals.lock.is_locked());
        }
    }

    #[test]
    fn policies_put_check_points_where_cpython_does() {
        let inc = Program::increment();
        assert_eq!(inc.check_points_in_window(CheckPolicy::EveryInstruction), 2);
        assert_eq!(
            inc.check_points_in_window(CheckPolicy::BackEdgesAndCalls),
            0
        );
        let rcw = Program::read_call_write();
        assert_eq!(
            rcw.check_points_in_window(CheckPolicy::BackEdgesAndCalls),
            1
        );
    }

    #[test]
    fn listing_uses_modern_names_and_marks_check_points() {
        let text = Program::increment().listing(CheckPolicy::EveryInstruction);
        assert!(text.contains("BINARY_OP        13 (+=)"), "{text}");
        assert!(text.contains("STORE_GLOBAL     (counter)"), "{text}");
        assert!(text.contains("JUMP_BACKWARD    (to 0)"), "{text}");
        assert_eq!(text.matches("<- switch possible").count(), 5, "{text}");
        let modern = Program::increment().listing(CheckPolicy::BackEdgesAndCalls);
        assert_eq!(modern.matches("<- switch possible").count(), 1, "{modern}");
    }

    #[test]
    fn same_seed_same_trace() {
        let program = Program::increment();
        let a = Scheduler::new(42, CheckPolicy::EveryInstruction).run(&program, 3, 20);
        let b = Scheduler::new(42, CheckPolicy::EveryInstruction).run(&program, 3, 20);
        assert_eq!(a, b);
        let c = Scheduler::new(43, CheckPolicy::EveryInstruction).run(&program, 3, 20);
        assert_ne!(a.events, c.events);
    }

    #[test]
    fn lost_updates_are_found_and_add_up() {
        let program = Program::increment();
        let replay = Scheduler::new(1, CheckPolicy::EveryInstruction).run(&program, 2, 100);
        assert!(replay.lost() > 0);
        assert!(
            replay
                .lost_updates
                .iter()
                .all(|l| l.overwritten > 0 && l.first <= l.load && l.load < l.store)
        );
        let trace = replay.first_lost_update_trace();
        assert!(trace.contains("LOAD_GLOBAL counter"), "{trace}");
        assert!(trace.contains("--- GIL"), "{trace}");
    }

    #[test]
    fn modern_policy_hides_the_plain_race_but_not_the_call() {
        for seed in 0..20 {
            let modern = Scheduler::new(seed, CheckPolicy::BackEdgesAndCalls);
            let plain = modern.clone().run(&Program::increment(), 3, 50);
            assert_eq!(plain.total, 150);
            let with_call = modern.run(&Program::read_call_write(), 3, 50);
            assert!(with_call.lost() > 0, "seed {seed}");
        }
    }

    #[test]
    fn lock_makes_every_schedule_exact() {
        for seed in 0..20 {
            for free in [false, true] {
                let replay = Scheduler::new(seed, CheckPolicy::EveryInstruction)
                    .free_threaded(free)
                    .run(&Program::increment_locked(), 4, 30);
                assert_eq!(replay.total, 120, "seed {seed} free {free}");
                assert!(replay.lost_updates.is_empty());
            }
        }
    }

    #[test]
    fn free_threaded_schedules_lose_updates() {
        let replay = Scheduler::new(3, CheckPolicy::BackEdgesAndCalls)
            .free_threaded(true)
            .run(&Program::increment(), 2, 100);
        assert!(replay.lost() > 0);
    }

    #[test]
    fn real_threads_with_a_lock_are_exact() {
        for gil in [Gil::new(), Gil::free_threaded()] {
            let run = run_counter(
                &gil,
                &Program::increment_locked(),
                CheckPolicy::EveryInstruction,
                4,
                5_000,
            );
            assert_eq!(run.total, 20_000);
        }
    }
}
