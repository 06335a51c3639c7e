//! The frame interpreter: one model thread's program counter, value stack and locals, and
//! [`Frame::step`], which runs one instruction against the shared [`Globals`].

use super::globals::Globals;
use super::instr::{Const, Instr, Name};
use super::program::Program;
#[cfg(doc)]
use super::scheduler::Scheduler;

/// Loop steps [`dispatch`] spins: with the model's own work, one instruction of the
/// `counter += 1` loop costs roughly 10–15 ns on a 2-core VM, between CPython 3.11's ~7 ns and
/// 3.9's ~17 ns measured there.
pub const DISPATCH_STEPS: u32 = 16;

/// What one model instruction costs when the deterministic [`Scheduler`] turns a switch
/// interval into instructions: the middle of the 10–15 ns that one instruction of the
/// `counter += 1` loop takes with [`dispatch`]'s spin (see [`DISPATCH_STEPS`]).
pub const INSTRUCTION_TIME: std::time::Duration = std::time::Duration::from_nanos(12);

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

/// A value on a frame's stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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

/// Two frames of the same program are equal when their interpreter states are (the explorer
/// in [`explore`](super::explore) tells states apart with this).
impl PartialEq for Frame<'_> {
    fn eq(&self, other: &Self) -> bool {
        (
            self.pc,
            &self.stack,
            self.locals,
            self.remaining,
            self.granted,
            self.finished,
        ) == (
            other.pc,
            &other.stack,
            other.locals,
            other.remaining,
            other.granted,
            other.finished,
        )
    }
}

impl Eq for Frame<'_> {}

impl std::hash::Hash for Frame<'_> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (
            self.pc,
            &self.stack,
            self.locals,
            self.remaining,
            self.granted,
            self.finished,
        )
            .hash(state);
    }
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
        if !self.finished {
            dispatch();
        }
        self.execute(globals)
    }

    /// [`Frame::step`] without the dispatch cost: for the deterministic scheduler, where time
    /// is counted in instructions rather than spent.
    pub(super) fn execute(&mut self, globals: &Globals) -> Step {
        if self.finished {
            return Step::Finished;
        }
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
                        globals.lock.unlock();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bytecode::Globals;

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
}
