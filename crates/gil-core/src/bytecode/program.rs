//! Loop bodies compiled to model bytecode, and their `dis`-style listing.

use std::fmt::Write as _;

use super::instr::{BinOp, CheckPolicy, Const, Instr, Local, Name};

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
