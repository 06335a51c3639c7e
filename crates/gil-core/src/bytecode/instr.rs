//! The model instruction set, named as CPython 3.11+ names it, and the policies that say
//! after which instructions the eval breaker is consulted.

use std::fmt;

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
    pub(super) fn slot(self) -> usize {
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
    /// `BEFORE_WITH`: enter `with lock:` (acquires the lock; may block). The 3.11–3.13 name:
    /// 3.14 removed `BEFORE_WITH` and enters a `with` block with `LOAD_SPECIAL` and a call.
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
            Instr::LoadFast(_) | Instr::LoadConst(_) | Instr::StoreFast(_) | Instr::PopTop => {
                Site::Fast
            }
            Instr::Call(_) => Site::Call,
            Instr::JumpBackward { .. } => Site::BackEdge,
            _ => Site::Opcode,
        }
    }

    /// The argument column of `dis`: `13 (+=)`, `(counter)`, `(to 0)`, or nothing.
    pub(super) fn argrepr(self) -> String {
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
    /// CPython ≤ 3.9: after every instruction except those of [`Site::Fast`], which ended
    /// with `FAST_DISPATCH()` in `Python/ceval.c` and so skipped the check.
    EveryInstruction,
    /// CPython 3.10 and later, in the 3.11–3.13 instruction names: only at the loop's back
    /// edge (`JUMP_BACKWARD`) and at calls (`CALL`). 3.10 (bpo-29988) checks after calls, on
    /// backward jumps, on taken `POP_JUMP_IF_*` jumps (forward ones too) and on frame entry;
    /// 3.11–3.12 at `RESUME`, `JUMP_BACKWARD` and calls into C (trivial specialized calls
    /// such as `len()` skip it); 3.13+ at `_CHECK_PERIODIC` / `RESUME_CHECK`. For the model's
    /// loops, which take no conditional jump inside the read-modify-write, the three agree.
    #[default]
    BackEdgesAndCalls,
}

impl CheckPolicy {
    /// Whether the eval breaker is consulted after `instr` under this policy.
    pub fn is_check_point(self, instr: Instr) -> bool {
        self.checks(instr.site())
    }

    /// Whether the eval breaker is consulted after an instruction of kind `site`: lets code
    /// that models other opcodes (`BINARY_SUBSCR`, `STORE_SUBSCR`, `CONTAINS_OP`, …) follow
    /// the same policy, each with the [`Site`] its 3.9 handler had.
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
    /// An opcode that skipped the check even in CPython ≤ 3.9: in 3.9's `Python/ceval.c`
    /// (`_PyEval_EvalFrameDefault`) these end with `FAST_DISPATCH()`, which jumps straight
    /// to the next opcode instead of back to the eval-breaker test at the top of the loop.
    /// They are `NOP`, `LOAD_FAST`, `LOAD_CONST`, `STORE_FAST`, `POP_TOP`, `ROT_TWO`,
    /// `ROT_THREE`, `ROT_FOUR`, `DUP_TOP`, `DUP_TOP_TWO`, `IS_OP`, `CONTAINS_OP`,
    /// `JUMP_FORWARD`, and the conditional jumps (`POP_JUMP_IF_*`, `JUMP_IF_*_OR_POP`) when
    /// the condition is exactly `True` or `False`. (3.9 also skips the test just before
    /// `SETUP_FINALLY`, `SETUP_WITH`, `BEFORE_ASYNC_WITH` and `YIELD_FROM`.)
    Fast,
    /// Any other opcode that does not call or jump back (`LOAD_GLOBAL`, `BINARY_OP`,
    /// `BINARY_SUBSCR`, `STORE_SUBSCR`, …). `CONTAINS_OP` is not one: it is [`Site::Fast`].
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_dispatch_opcodes_skip_the_old_check() {
        let old = CheckPolicy::EveryInstruction;
        assert!(!old.is_check_point(Instr::PopTop));
        assert!(!old.is_check_point(Instr::LoadConst(Const::None)));
        assert!(old.is_check_point(Instr::BinaryOp(BinOp::Add)));
        assert!(old.is_check_point(Instr::Call(0)));
    }
}
