//! A script's steps flattened into a program with loops, so a simulated thread needs only a
//! program counter and a stack of loop counts, however large a `Repeat` is.

use std::time::Duration;

use super::Step;

/// Virtual time and durations, in nanoseconds.
pub(super) type Nanos = u64;

/// `d` in nanoseconds, saturating (a simulation of 584 years is long enough).
pub(super) fn nanos(d: Duration) -> Nanos {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// A step that is not a loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Leaf {
    Bytecode(Nanos),
    NativeHolding(Nanos),
    NativeReleased(Nanos),
    Blocking(Nanos),
    BlockingHolding(Nanos),
    Acquire(usize),
    AcquireHolding(usize),
    Release(usize),
    RoundTrip(Nanos),
    StopTheWorld(Nanos),
}

/// One instruction of a flattened script.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Op {
    Leaf(Leaf),
    /// Start of a `Repeat`: run the body `count` times; `end` is the index of its `EndLoop`.
    Loop {
        count: u32,
        end: usize,
    },
    /// End of a `Repeat` body whose first instruction is at `start`.
    EndLoop {
        start: usize,
    },
}

/// Flatten `steps` into a program.
pub(super) fn compile(steps: &[Step]) -> Vec<Op> {
    let mut ops = Vec::new();
    emit(steps, &mut ops);
    ops
}

fn emit(steps: &[Step], ops: &mut Vec<Op>) {
    for step in steps {
        let leaf = match step {
            Step::Repeat(count, body) => {
                let at = ops.len();
                ops.push(Op::Loop {
                    count: *count,
                    end: at,
                });
                emit(body, ops);
                let end = ops.len();
                ops.push(Op::EndLoop { start: at + 1 });
                ops[at] = Op::Loop { count: *count, end };
                continue;
            }
            Step::Bytecode(d) => Leaf::Bytecode(nanos(*d)),
            Step::NativeHolding(d) => Leaf::NativeHolding(nanos(*d)),
            Step::NativeReleased(d) => Leaf::NativeReleased(nanos(*d)),
            Step::Blocking(d) => Leaf::Blocking(nanos(*d)),
            Step::BlockingHolding(d) => Leaf::BlockingHolding(nanos(*d)),
            Step::Acquire(lock) => Leaf::Acquire(*lock),
            Step::AcquireHolding(lock) => Leaf::AcquireHolding(*lock),
            Step::Release(lock) => Leaf::Release(*lock),
            Step::RoundTrip(d) => Leaf::RoundTrip(nanos(*d)),
            Step::StopTheWorld(d) => Leaf::StopTheWorld(nanos(*d)),
        };
        ops.push(Op::Leaf(leaf));
    }
}

/// Where a thread is in its program.
#[derive(Clone, Debug, Default)]
pub(super) struct Cursor {
    pc: usize,
    /// Iterations left of each enclosing loop, innermost last.
    loops: Vec<u32>,
}

impl Cursor {
    /// The next leaf to run, stepping through loop bookkeeping; `None` at the end.
    pub(super) fn current(&mut self, ops: &[Op]) -> Option<Leaf> {
        loop {
            match *ops.get(self.pc)? {
                Op::Leaf(leaf) => return Some(leaf),
                Op::Loop { count: 0, end } => self.pc = end + 1,
                Op::Loop { count, .. } => {
                    self.loops.push(count);
                    self.pc += 1;
                }
                Op::EndLoop { start } => match self.loops.last_mut() {
                    Some(left) if *left > 1 => {
                        *left -= 1;
                        self.pc = start;
                    }
                    _ => {
                        self.loops.pop();
                        self.pc += 1;
                    }
                },
            }
        }
    }

    /// Move past the current leaf.
    pub(super) fn advance(&mut self) {
        self.pc += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(steps: &[Step]) -> Vec<Leaf> {
        let ops = compile(steps);
        let mut cursor = Cursor::default();
        let mut out = Vec::new();
        while let Some(leaf) = cursor.current(&ops) {
            out.push(leaf);
            cursor.advance();
        }
        out
    }

    #[test]
    fn nested_repeats_unroll_in_order() {
        let ns = Duration::from_nanos;
        let steps = vec![
            Step::Repeat(
                2,
                vec![
                    Step::Bytecode(ns(1)),
                    Step::Repeat(3, vec![Step::Blocking(ns(2))]),
                ],
            ),
            Step::Repeat(0, vec![Step::Bytecode(ns(9))]),
            Step::Release(4),
        ];
        let one_round = [
            Leaf::Bytecode(1),
            Leaf::Blocking(2),
            Leaf::Blocking(2),
            Leaf::Blocking(2),
        ];
        let mut expected = [one_round, one_round].concat();
        expected.push(Leaf::Release(4));
        assert_eq!(leaves(&steps), expected);
    }
}
